# shellcheck shell=sh
# Points the live symlink at another release (after an interruption: back to the one before),
# with the same way back as a deploy's switch. Then, for a deploy's switch back, the site's
# after_rollback hook (hook_after_rollback, may be empty) for the release live again, told the
# release switched away from (from_rel); its failure is reported and changes nothing.
#
# Parameters: link (the live link's new target), hook_after_rollback, from_rel.
: "${link?}" "${from_rel?}"

switch "$link"
: "${back?}" # the way back, made by switch
rm -f "$back"
# Run as after a failure: its commands are never taken for what failed (see run_hook).
# shellcheck disable=SC2034 # read by run_hook
failed_step=interrupted
run_hook after_rollback "$(release_of "$link")" "$from_rel" FLIPDECK_SWITCHED_BACK=1 || true
