# shellcheck shell=sh
# Points the live symlink at another release (after an interruption: back to the one before),
# with the same way back as a deploy's switch.
#
# Parameters: link (the live link's new target).
: "${link?}"

switch "$link"
: "${back?}" # the way back, made by switch
rm -f "$back"
