# shellcheck shell=sh
# `flipdeck env show/edit/set/history`: reads the site's shared .env, hex-encoded into one
# report value (never on the output, which is shown and kept), what it is if it is not a regular
# file, and with env_version the saved version of that number; with env_list, the saved
# versions' records (number, time, who, which keys changed: never a value). Changes nothing.
#
# Parameters: env_version (empty: none), env_list (1: the records too), env_max (bytes).
: "${env_version?}" "${env_list?}" "${env_max?}"
# From lib.sh.
: "${shared?}" "${meta?}" "${base?}"

env_file="$shared/.env"
env_hist="$meta/env-history"

# env_ok FILE: whether FILE can be sent (readable, at most env_max bytes); reports why not.
env_ok() {
  if [ ! -r "$1" ]; then setv env_unreadable "$1"; return 1; fi
  eo_size=$(wc -c <"$1" | tr -d ' ') || return 1
  if [ "$eo_size" -gt "$env_max" ]; then setv env_too_big "$1 ($eo_size bytes)"; return 1; fi
}

# env_hex FILE: `SIZE HEX`, FILE's size and bytes as hex: one line whatever the file holds.
env_hex() { printf '%s %s' "$(wc -c <"$1" | tr -d ' ')" "$(od -An -v -tx1 <"$1" | tr -d ' \n')"; }

[ -d "$base" ] || setv env_no_site 1
if [ -L "$env_file" ]; then setv env_link "$(readlink "$env_file")"; fi
if [ -f "$env_file" ]; then
  if env_ok "$env_file"; then setv env_data "$(env_hex "$env_file")"; fi
elif [ -e "$env_file" ]; then
  setv env_not_file 1
else
  setv env_absent 1
fi
if [ -n "$env_version" ]; then
  if [ -f "$env_hist/$env_version" ]; then
    if env_ok "$env_hist/$env_version"; then setv env_old "$(env_hex "$env_hist/$env_version")"; fi
  else
    setv env_no_version "$env_version"
  fi
fi
if [ "$env_list" = 1 ] && [ -f "$env_hist/log" ]; then
  while IFS= read -r l; do
    n=${l%%"	"*}
    if [ -f "$env_hist/$n" ]; then setv env_saved "$l"; fi
  done <"$env_hist/log"
fi
