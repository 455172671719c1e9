# shellcheck shell=sh
# Crash recovery for a deployment whose flipdeck died: what its job (job_token, empty when the
# history does not know it) and the lock holder left running is stopped; its lock (only if the
# owner line still names that deployment: the word owner_word) is removed, and its release
# rel_name too unless it went live (then its commit is reported).
: "${job_token?}" "${owner_word?}" "${rel_name?}"
# From lib.sh.
: "${base?}" "${live?}" "${lock?}"

if [ -n "$job_token" ]; then stop_job "$job_token"; fi
if grep -qw "$owner_word" "$lock/owner" 2>/dev/null; then stop_holder; fi
live_now=$(readlink "$live" 2>/dev/null)
if [ "${live_now##*/}" = "$rel_name" ]; then
  setv went_live 1
  setv commit "$(git -C "$base/$rel_name" rev-parse HEAD 2>/dev/null)"
elif [ -n "$job_token" ]; then
  # Only the release that job made (see made_by in lib.sh).
  remove_made "$rel_name" "$job_token" || exit 1
else
  # A deployment recorded before jobs were: its release, as before.
  rm -rf "${base:?}/$rel_name" || exit 1
fi
if grep -qw "$owner_word" "$lock/owner" 2>/dev/null; then rm -rf "$lock"; fi
