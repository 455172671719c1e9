# shellcheck shell=sh
# Rollback in one exec: lock, verify the target directory on the server (the history alone is
# not trusted), switch, reload, the after_rollback hook, health check (the hook's and the check's
# results are reported and the rollback kept: a rollback is usually the way out of trouble), log,
# unlock.
#
# Parameters: rel_name (the release rolled back to), release_link (the live link's target for
# it), reload_cmd (may be empty), hook_after_rollback (may be empty; see run_hook), hc_kind
# (empty: no health check), relog_prefix and relog_commit (its release-log line).
: "${rel_name?}" "${release_link?}" "${reload_cmd?}" "${hc_kind?}" "${relog_prefix?}" "${relog_commit?}"
# From lib.sh.
: "${base?}" "${domain?}" "${meta?}" "${live?}"

step lock
take_lock
trap 'rm -f "$meta/.hook-$$"; unlock' EXIT
prev_release=$(release_of "$(readlink "$live" 2>/dev/null)")
step verify
if [ ! -d "$base/$rel_name" ]; then
  setv missing 1
  echo "release directory $base/$rel_name is gone" >&2
  exit 1
fi
if [ -L "$base/$rel_name" ]; then
  setv missing 1
  echo "$base/$rel_name is a symlink (to $(readlink "$base/$rel_name")), not a release: flipdeck does not roll back to it" >&2
  exit 1
fi
switch "$release_link"
: "${back?}" # the way back, made by switch
reload_or_back "$reload_cmd"
run_hook after_rollback "$rel_name" "$prev_release" || echo "after_rollback failed (exit ${hk_rc:-1}); the rollback is kept" >&2
if [ -n "$hc_kind" ]; then
  health_check || echo "health check failed; the switch is kept" >&2
fi
rm -f "$back"
relog "$relog_prefix" success "$relog_commit"
