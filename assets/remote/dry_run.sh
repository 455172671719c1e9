# shellcheck shell=sh
# `deploy --dry-run`: what a deploy would meet on the server, read without writing anything in the
# site's tree: the live link, the release directories and the lock holder (inspect_site), how each
# shared entry stands in shared/ and whether the live release has each cached one. diff.sh follows
# in the same exec (for what goes out) when the site's code comes from git.
#
# Parameters: the lists `shared` and `cached` (entries without a trailing `/`).
: "${shared_n?}" "${cached_n?}"
# From lib.sh.
: "${M?}" "${base?}" "${shared?}" "${live?}"

inspect_site 0 0
dr_i=1
while [ "$dr_i" -le "$shared_n" ]; do
  dr_e=$(item shared "$dr_i")
  # A link on the way (not the entry itself) is what link_shared refuses.
  if through_link "$shared" "$dr_e" >/dev/null; then setv dry_shared "$dr_i link"
  elif [ -e "$shared/$dr_e" ] || [ -L "$shared/$dr_e" ]; then setv dry_shared "$dr_i present"
  else setv dry_shared "$dr_i missing"; fi
  dr_i=$((dr_i + 1))
done
dr_i=1
while [ "$dr_i" -le "$cached_n" ]; do
  dr_e=$(item cached "$dr_i")
  if [ -d "$live/" ] && { [ -e "$live/$dr_e" ] || [ -L "$live/$dr_e" ]; }; then setv dry_cached "$dr_i present"
  else setv dry_cached "$dr_i missing"; fi
  dr_i=$((dr_i + 1))
done
