# shellcheck shell=sh
# Removes a half-built release (rel_name, empty for none) and our lock after an interrupted
# build (cancel, lost connection). Whatever flipdeck believes, a live release is never removed.
# In between, still under the lock, the site's on_failure hook (hook_on_failure, may be empty)
# for the failed release failed_rel, if the deploy's own script did not run it (see
# on_failure_once), told the step that was interrupted (failed_step; the exit code is empty: the
# deploy's script did not exit on its own).
: "${rel_name?}" "${failed_rel?}" "${failed_step?}"
# From lib.sh.
: "${token?}" "${live?}"

# Only a release this job made (see made_by in lib.sh).
if [ -n "$rel_name" ]; then remove_made "$rel_name" "$token"; fi
# FLIPDECK_PREVIOUS_RELEASE: what is live now, the release before the deploy put back.
[ -z "$failed_rel" ] || on_failure_once "$failed_rel" "$(release_of "$(readlink "$live" 2>/dev/null)")" FLIPDECK_FAILED_STEP="$failed_step" FLIPDECK_EXIT_CODE=
unlock
