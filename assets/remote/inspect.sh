# shellcheck shell=sh
# A read-only look at the server: the live link, the release directories, the lock holder, and
# the newest relog_tail lines of the server's release log.
: "${relog_tail?}"
# From lib.sh.
: "${base?}" "${live?}" "${lock?}" "${meta?}"

if [ -L "$live" ]; then setv live "$(readlink "$live")"; elif [ -e "$live" ]; then setv live_not_link 1; fi
if [ -d "$base" ]; then
  for d in "$base"/*/; do
    [ -d "$d" ] || continue
    d=${d%/}; d=${d##*/}
    [ "$d" = shared ] && continue
    # A release replaced by a symlink (into another site, out of the root) is not a release.
    if [ -L "$base/$d" ]; then
      setv release_link "$d -> $(readlink "$base/$d")"
    else
      setv release "$d"
    fi
  done
fi
if [ -d "$lock" ]; then setv lock "$(head -n 1 "$lock/owner" 2>/dev/null)"; fi
if [ -f "$meta/releases.log" ]; then
  tail -n "$relog_tail" "$meta/releases.log" | while IFS= read -r l; do setv relog "$l"; done
fi
