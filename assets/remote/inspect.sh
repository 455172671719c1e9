# shellcheck shell=sh
# A read-only look at the server: the live link, the release directories, the lock holder, and
# the newest relog_tail lines of the server's release log (inspect_site in lib.sh).
: "${relog_tail?}"
inspect_site 0 "$relog_tail"
