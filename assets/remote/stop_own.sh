# shellcheck shell=sh
# After a lost connection: stops what is left of this job (our token) before looking at the live
# link, so a held-up command cannot switch it afterwards; reports the live link then. With
# and_unlock=1 our lock is released too.
: "${and_unlock?}" "${token?}"
# From lib.sh.
: "${lock?}" "${live?}"

stop_job "$token"
if grep -qF "token=$token" "$lock/owner" 2>/dev/null; then clear_switch_links; fi
setv live "$(readlink "$live" 2>/dev/null)"
if [ "$and_unlock" = 1 ]; then unlock; fi
