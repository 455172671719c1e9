# shellcheck shell=sh
# env_status: the dashboard's look at the .env of the site whose paths are set (site_paths in
# lib.sh): `env_none` when shared/.env does not exist, else each key that the live release's
# .env.example has and shared/.env lacks (`env_lacks`, names only: never a value is read out).
# Keys are read as env_lacking (lib.sh) reads them.
# From lib.sh (site_paths).
: "${shared?}" "${live?}"

env_status() {
  if [ ! -e "$shared/.env" ] && [ ! -L "$shared/.env" ]; then setv env_none 1; return 0; fi
  if [ ! -r "$shared/.env" ]; then setv env_unreadable 1; return 0; fi
  [ -f "$live/.env.example" ] || return 0
  setv env_example 1
  env_lacking "$shared/.env" "$live/.env.example" 2>/dev/null | while IFS= read -r k; do setv env_lacks "$k"; done
}
