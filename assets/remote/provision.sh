# shellcheck shell=sh
# Provisioning's layout step: base, a look at what is live, and (when a release is live) the
# shared entries (the list `shared`, with shared_kind_I file or dir). With fpm_conf set, also
# reads PHP-FPM's process_control_timeout (see fpm.sh); with php_reload (the reload php_version
# implies, `sudo service phpV-fpm reload`), checks that `sudo -n` may run it; with writable_mode
# set, makes the live release's writable paths writable (see make_writable).
# Provisioning is one exec: deploy.sh follows this file in the same shell and makes the initial
# release, unless a release is live, where this step ends the script. Nothing here reads stdin
# (deploy.sh keeps it for the log).
: "${shared_n?}" "${fpm_conf?}" "${php_reload?}"
# From lib.sh.
: "${base?}" "${shared?}" "${meta?}" "${live?}" "${root?}"

step layout
mkdir -p "$base" "$shared" "$meta" || exit 1
if [ -L "$live" ]; then
  setv live "$(readlink "$live")"
  [ -d "$live/" ] && setv live_ok 1
elif [ -e "$live" ]; then
  echo "$live exists and is not a symlink; move it away so flipdeck can manage it" >&2
  exit 1
fi
# Without a live release the initial deployment creates the shared entries, seeded from its
# release (a repository's storage/ skeleton, its .env.example-like files); with one, a missing
# entry is created empty here and seeded by the next deploy.
fd_i=1
while [ -L "$live" ] && [ "$fd_i" -le "$shared_n" ]; do
  e=$(item shared "$fd_i")
  if [ "$(item shared_kind "$fd_i")" = file ]; then
    mkdir -p "$(dirname "$shared/$e")" && { [ -e "$shared/$e" ] || touch "$shared/$e"; } || exit 1
  else
    mkdir -p "$shared/$e" || exit 1
  fi
  fd_i=$((fd_i + 1))
done
# A live release's writable paths (the initial deployment does its own).
if [ -L "$live" ] && [ -d "$live/" ]; then
  pv_rel=$(readlink "$live")
  case $pv_rel in /*) ;; *) pv_rel="$root/$pv_rel" ;; esac
  make_writable "$pv_rel"
fi
if [ -n "$fpm_conf" ]; then read_fpm_timeout "$fpm_conf"; fi
if [ -n "$php_reload" ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    setv sudo_missing 1
  else
    # shellcheck disable=SC2086 # the command's words, split on purpose (php_version is digits and dots)
    sudo -n -l ${php_reload#sudo } </dev/null >/dev/null 2>&1 || setv sudo_refused 1
  fi
fi
# Already provisioned: a release is live, so there is no initial deployment to make.
if [ -L "$live" ] && [ -d "$live/" ]; then exit 0; fi
