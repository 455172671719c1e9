# shellcheck shell=sh
# Removes the directories of failed deployments (the list `leftover`), under the lock; a live one
# is kept.
: "${leftover_n?}"
# From lib.sh.
: "${base?}" "${live?}"

take_lock
trap unlock EXIT
live_now=$(readlink "$live" 2>/dev/null)
fd_i=1
while [ "$fd_i" -le "$leftover_n" ]; do
  r=$(item leftover "$fd_i")
  if [ "${live_now##*/}" != "$r" ] && [ -d "$base/$r" ]; then rm -rf "${base:?}/$r" && setv removed "$r"; fi
  fd_i=$((fd_i + 1))
done
