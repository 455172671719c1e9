# shellcheck shell=sh
# Removes the directories of failed deployments (the list `leftover`, with the token of each one's
# job in the list `leftover_job`), under the lock: only a release the failed job made itself (see
# made_by in lib.sh), and never a live one.
: "${leftover_n?}"
# From lib.sh.
: "${base?}" "${live?}" "${meta?}"

take_lock
trap unlock EXIT
live_now=$(readlink "$live" 2>/dev/null)
fd_i=1
while [ "$fd_i" -le "$leftover_n" ]; do
  r=$(item leftover "$fd_i")
  if [ "${live_now##*/}" != "$r" ] && [ -d "$base/$r" ] && made_by "$r" "$(item leftover_job "$fd_i")"; then
    rm -rf "${base:?}/$r" && rm -f "$meta/made/$r" && setv removed "$r"
  fi
  fd_i=$((fd_i + 1))
done
