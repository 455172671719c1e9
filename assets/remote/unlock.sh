# shellcheck shell=sh
# `flipdeck unlock`: reports the holder, stops its processes, removes the lock.
# From lib.sh.
: "${lock?}"

if [ ! -d "$lock" ]; then setv nolock 1; exit 0; fi
setv holder "$(head -n 1 "$lock/owner" 2>/dev/null)"
stop_holder
rm -rf "$lock" || exit 1
