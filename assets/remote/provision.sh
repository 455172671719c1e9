# shellcheck shell=sh
# Provisioning's layout step: base, shared entries (the list `shared`, with shared_kind_I file or
# dir), and a look at what is live. With fpm_conf set, also reads PHP-FPM's
# process_control_timeout (see fpm.sh).
: "${shared_n?}" "${fpm_conf?}"
# From lib.sh.
: "${base?}" "${shared?}" "${meta?}" "${live?}"

step layout
mkdir -p "$base" "$shared" "$meta" || exit 1
fd_i=1
while [ "$fd_i" -le "$shared_n" ]; do
  e=$(item shared "$fd_i")
  if [ "$(item shared_kind "$fd_i")" = file ]; then
    mkdir -p "$(dirname "$shared/$e")" && { [ -e "$shared/$e" ] || touch "$shared/$e"; } || exit 1
  else
    mkdir -p "$shared/$e" || exit 1
  fi
  fd_i=$((fd_i + 1))
done
if [ -L "$live" ]; then
  setv live "$(readlink "$live")"
  [ -d "$live/" ] && setv live_ok 1
elif [ -e "$live" ]; then
  echo "$live exists and is not a symlink; move it away so flipdeck can manage it" >&2
  exit 1
fi
if [ -n "$fpm_conf" ]; then read_fpm_timeout "$fpm_conf"; fi
