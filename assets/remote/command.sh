# shellcheck shell=sh
# One of the site's named commands (`flipdeck run SITE NAME`), run in the live release, without
# the lock: a command reads or maintains the running application, and a deploy building its next
# release beside it is no reason to wait. The release it runs in is resolved once, before it
# starts, and reported (`release`), so the history says where it ran even if a deploy switches
# meanwhile; a lock held at that moment is reported too (`holder`).
#
# Parameters: cmd_name (the command's name, for the step), cmd_text (its shell code, run as
# written, like the deploy script), trace (what the command's shell puts before each traced line).
: "${cmd_name?}" "${cmd_text?}" "${trace?}"
# From lib.sh.
: "${M?}" "${base?}" "${shared?}" "${meta?}" "${live?}" "${domain?}" "${lock?}"

exec </dev/null
# Why the command cannot run, said once (flipdeck makes it the error).
refuse() { setv why "$1"; exit 1; }
if [ ! -L "$live" ]; then
  if [ -e "$live" ]; then
    refuse "$live exists and is not a symlink: there is no live release to run $cmd_name in"
  fi
  refuse "$live does not exist: the site has no live release yet (provision or deploy it first)"
fi
target=$(readlink "$live")
rel_name=${target#"deployments/$domain/"}
case $rel_name in
  "$target"|''|*/*|.*)
    refuse "the live link points at $target, not at a release of $domain: see \`flipdeck status\`" ;;
esac
rel="$base/$rel_name"
if [ -L "$rel" ] || [ ! -d "$rel" ]; then
  refuse "the live release $rel_name has no directory (deleted by hand?): see \`flipdeck status\`"
fi
setv release "$rel_name"
if [ -d "$lock" ]; then setv holder "$(head -n 1 "$lock/owner" 2>/dev/null)"; fi

step "$cmd_name"
# As the deploy script: a shell of its own in the release, seeing the FLIPDECK_* variables and
# nothing of this script's (the marker key included); the first failing command ends it (-e);
# every command is traced (-x) behind $trace. The code is a private file, never an argument that
# `ps` would show.
script_file="$meta/.command-$$"
trap 'rm -f "$script_file"' EXIT
trap 'exit 130' INT TERM HUP
(umask 077 && mkdir -p "$meta" && printf '%s\n' "$cmd_text" > "$script_file") || exit 1
(
  cd "$rel" || exit 1
  export FLIPDECK_RELEASE="$rel_name" FLIPDECK_RELEASE_PATH="$rel" FLIPDECK_DOMAIN="$domain" FLIPDECK_SHARED_PATH="$shared"
  export PS4="$trace"
  exec sh -ex "$script_file"
)
