# shellcheck shell=sh
# Removes a half-built release (rel_name, empty for none) and our lock after an interrupted
# build (cancel, lost connection). Whatever flipdeck believes, a live release is never removed.
: "${rel_name?}"
# From lib.sh.
: "${base?}" "${live?}"

if [ -n "$rel_name" ]; then
  live_now=$(readlink "$live" 2>/dev/null)
  [ "${live_now##*/}" = "$rel_name" ] || rm -rf "${base:?}/$rel_name"
fi
unlock
