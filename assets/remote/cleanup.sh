# shellcheck shell=sh
# Removes a half-built release (rel_name, empty for none) and our lock after an interrupted
# build (cancel, lost connection). Whatever flipdeck believes, a live release is never removed.
: "${rel_name?}"
# From lib.sh.
: "${token?}"

# Only a release this job made (see made_by in lib.sh).
if [ -n "$rel_name" ]; then remove_made "$rel_name" "$token"; fi
unlock
