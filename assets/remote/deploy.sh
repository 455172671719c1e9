# shellcheck shell=sh
# A whole deploy in one exec: lock, build, switch, reload and health check; then, once flipdeck
# has recorded the success and sent the log (after the `ready` marker), write it into the
# release, prune and unlock. Only a built release is switched to; on any failure before the
# switch the half release is removed and the lock released (the exit trap).
#
# Parameters: rel_name (the release's name as this machine chose it; the name is reserved on the
# server under the lock, and changed when another deploy has taken it: see below), release_link
# (the live link's target), relog_before_name and relog_after_name (its release-log prefix is
# relog_before_name NAME relog_after_name), source (git, push, artifact or placeholder; see the source block) with repo,
# branch, want (an exact ref to check out, else the branch), push_ref, src_commit and art_z,
# run_script (1: run the deploy script, `deploy_script`, its commands traced behind `trace`), the
# list `shared` with shared_kind_I (file or dir), the list `cached` (see copy_cached), the writable paths (see make_writable), reload_cmd (may be empty), hc_kind (empty: no
# health check; see health_check in lib.sh), the list `prune` (see prune_releases),
# fleet_gate (1: one server of a fleet, which waits at the gate, see below), hold_switch (1: once
# switched, hold the lock and the way back until the verdict, see below), the hooks
# hook_after_switch, hook_after_rollback and hook_on_failure (each may be empty; see run_hook)
# and require_env (1: keys .env lacks fail the build; see env_check).
: "${rel_name?}" "${release_link?}" "${relog_before_name?}" "${relog_after_name?}" "${source?}" "${repo?}" "${branch?}" "${run_script?}"
: "${want?}" "${push_ref?}" "${src_commit?}" "${art_z?}"
: "${shared_n?}" "${cached_n?}" "${deploy_script?}" "${trace?}" "${reload_cmd?}" "${hc_kind?}" "${fleet_gate?}" "${hold_switch?}" "${require_env?}"
# From lib.sh.
: "${M?}" "${base?}" "${shared?}" "${meta?}" "${live?}" "${domain?}" "${root?}" "${token?}"

# Stdin is kept for the source's frame, the fleet's answers and the log, in that order (see
# protocol.rs); nothing before may read it.
exec 3<&0 </dev/null
relog_deploy="$relog_before_name$rel_name$relog_after_name"
rel="$base/$rel_name"
reserved=0
created=0
built=0
locked=0
finished=0
script_file="$meta/.script-$$"
release_lock=0
on_exit() {
  rc=$?
  rm -f "$script_file" "$meta/.log-$$" "$meta/.hook-$$"
  failing=0
  [ "$locked" = 1 ] && [ "$finished" != 1 ] && [ $rc -ne 0 ] && failing=1
  [ "$failing" = 1 ] && failed
  # Every deployment that got the lock leaves a line in the server's release log.
  [ "$failing" = 1 ] && relog "$relog_deploy" failed "${sha:-}"
  if [ "$built" != 1 ]; then
    if [ "$created" = 1 ]; then
      rm -rf "$rel" && rm -f "$meta/made/$rel_name"
    elif [ "$reserved" = 1 ]; then
      rm -f "$meta/made/$rel_name"
    fi
    release_lock=1
  elif [ "$failing" = 1 ]; then
    # Built and switched back (or never switched): removed now unless it is live (flipdeck's
    # clean-up deals with a release it could not take down).
    remove_made "$rel_name" "$token"
  fi
  # Once cleaned up, and still under the lock: the on_failure hook, once. Its failure is
  # reported; the exit code stays the deploy's.
  if [ "$failing" = 1 ]; then
    on_failure_once "$rel_name" "$prev_release" FLIPDECK_FAILED_STEP="${failed_step:-}" FLIPDECK_EXIT_CODE="$rc"
  fi
  [ "$release_lock" = 1 ] && unlock
  exit $rc
}
step lock
take_lock
locked=1
# What was live before this deploy (its hooks' FLIPDECK_PREVIOUS_RELEASE).
prev_release=$(release_of "$(readlink "$live" 2>/dev/null)")
trap on_exit EXIT
trap 'exit 130' INT TERM HUP
step mkdir
mkdir -p "$base" "$shared" || exit 1
# The name this machine chose is free in its own history; another operator (or this machine with
# another history) may have used it in the same second. Then the next free `-N` is taken, and
# reported. A fleet's release has one name on every server, so a fleet member refuses instead.
if ! reserve "$rel_name"; then
  if [ "$fleet_gate" = 1 ]; then
    echo "release $rel_name already exists on this server (another deploy in the same second); a fleet's release has one name everywhere, so this fleet does not deploy" >&2
    exit 1
  fi
  rn_stem=$(printf '%s' "$rel_name" | cut -c1-15)
  rn_n=2
  until reserve "$rn_stem-$rn_n"; do
    rn_n=$((rn_n + 1))
    [ "$rn_n" -le 1000 ] || { echo "no free release name after $rel_name" >&2; exit 1; }
  done
  rel_name="$rn_stem-$rn_n"
  rel="$base/$rel_name"
  release_link="${release_link%/*}/$rel_name"
  relog_deploy="$relog_before_name$rel_name$relog_after_name"
fi
reserved=1
setv reserved "$rel_name"
mkdir "$rel" || { echo "cannot create release directory $rel" >&2; exit 1; }
created=1

# One frame of stdin (see protocol::frame): its header, then its body piped to "$@" (a length of
# 0 runs nothing). Whatever the reader leaves of the body is drained, so the parts after it (the
# fleet's answers, the log) stay whole. The status is the reader's.
read_frame() {
  IFS= read -r fr_len <&3 || fr_len=
  case $fr_len in
    abort) echo "flipdeck could not send the $fr_what (see its message)" >&2; setv why "flipdeck could not send the $fr_what"; return 1 ;;
    ''|*[!0-9]*) echo "flipdeck sent no $fr_what" >&2; return 1 ;;
    0) return 0 ;;
  esac
  head -c "$fr_len" <&3 | { "$@"; fr_rc=$?; cat >/dev/null; exit $fr_rc; }
}

case $source in
git|push)
  cache="$meta/repo.git"
  if [ "$source" = git ]; then
    step fetch
    if [ -d "$cache" ] && [ "$(git --git-dir="$cache" config --get remote.origin.url)" = "$repo" ]; then
      git --git-dir="$cache" fetch --prune --quiet origin || exit 1
    else
      if ! { rm -rf "$cache.new" && git clone --mirror --quiet -- "$repo" "$cache.new"; }; then
        rm -rf "$cache.new"
        exit 1
      fi
      rm -rf "$cache" && mv "$cache.new" "$cache" || exit 1
    fi
  else
    # The operator's machine has the repository: the cache reports what it has (its newest
    # refs), is sent a thin pack of only what it lacks, and names the commit with push_ref. No
    # credentials, no route to a git host.
    step push
    if [ ! -d "$cache" ]; then
      { rm -rf "$cache.new" && git init --bare --quiet "$cache.new" && mv "$cache.new" "$cache"; } || exit 1
    fi
    git --git-dir="$cache" for-each-ref --sort=-committerdate --count=64 --format='%(objectname)' refs/heads refs/tags refs/flipdeck |
      while IFS= read -r ph; do setv have "$ph"; done
    printf '%s need\n' "$M"
    fr_what=pack
    read_frame git --git-dir="$cache" index-pack --stdin --fix-thin >/dev/null || exit 1
    if ! git --git-dir="$cache" cat-file -e "$src_commit^{commit}" 2>/dev/null; then
      setv why "the server's cache did not receive commit $src_commit"
      echo "the server's cache did not receive commit $src_commit" >&2
      exit 1
    fi
    git --git-dir="$cache" update-ref "$push_ref" "$src_commit" || exit 1
  fi
  step clone
  if [ -n "$want" ]; then
    # An exact ref (tag, branch or commit id, validated): checked out detached.
    if ! cl_sha=$(git --git-dir="$cache" rev-parse --verify --quiet "$want^{commit}"); then
      cl_why="$want names no commit in ${repo:-the pushed repository}"
      echo "$cl_why" >&2
      setv why "$cl_why"
      exit 1
    fi
    if ! cl_err=$({ git clone --quiet --local --no-checkout -- "$cache" "$rel" && git -C "$rel" checkout --quiet --detach "$cl_sha"; } 2>&1); then
      [ -z "$cl_err" ] || printf '%s\n' "$cl_err" >&2
      setv why "$(printf '%s\n' "$cl_err" | grep . | tail -n 1)"
      exit 1
    fi
  else
    # A missing branch is named with the branches there are; any other failure reports git's own
    # last line (`why`), so the failure says more than an exit code.
    if ! git --git-dir="$cache" rev-parse --verify --quiet "refs/heads/$branch^{commit}" >/dev/null; then
      cl_heads=$(git --git-dir="$cache" ls-remote --heads "$cache" | awk '{ sub("^refs/heads/", "", $2); printf "%s%s", (NR > 1 ? ", " : ""), $2 }')
      cl_why="branch $branch does not exist in $repo; ${cl_heads:+its branches: }${cl_heads:-it has no branches}"
      echo "$cl_why" >&2
      setv why "$cl_why"
      exit 1
    fi
    # Its messages through a pipe, not a file: nothing is held open for writing on the server's
    # file system while git runs.
    if ! cl_err=$(git clone --quiet --local --branch "$branch" -- "$cache" "$rel" 2>&1); then
      [ -z "$cl_err" ] || printf '%s\n' "$cl_err" >&2
      setv why "$(printf '%s\n' "$cl_err" | grep . | tail -n 1)"
      exit 1
    fi
  fi
  [ -z "$cl_err" ] || printf '%s\n' "$cl_err" >&2
  if [ "$source" = git ]; then
    git -C "$rel" remote set-url origin "$repo" || exit 1
  fi
  ;;
artifact)
  # The tree flipdeck built (or CI did) on the operator's machine: no git here. GNU tar keeps
  # what it extracts inside the release (no absolute or `..` names, symlinks made last); the
  # files are owned by the login user (-o).
  step unpack
  fr_what=artifact
  read_frame tar -x"${art_z}"of - -C "$rel" || exit 1
  ;;
*)
  step placeholder
  mkdir -p "$rel/public" && printf '%s\n' '<?php echo "Provisioned by flipdeck. Configure a repository and deploy.";' > "$rel/public/index.php" || exit 1
  ;;
esac

step links
fd_i=1
while [ "$fd_i" -le "$shared_n" ]; do
  link_shared "$(item shared "$fd_i")" "$(item shared_kind "$fd_i")"
  fd_i=$((fd_i + 1))
done

if [ "$cached_n" -gt 0 ]; then
  step cached
  # The live release, as a directory of this layout (its link is relative to the root).
  cc_from=$(readlink "$live" 2>/dev/null) || cc_from=
  case $cc_from in ''|/*) ;; *) cc_from="$root/$cc_from" ;; esac
  case $cc_from in "$base"/*) [ -d "$cc_from" ] || cc_from= ;; *) cc_from= ;; esac
  fd_i=1
  while [ "$fd_i" -le "$cached_n" ]; do
    copy_cached "$(item cached "$fd_i")" "$cc_from"
    fd_i=$((fd_i + 1))
  done
fi

if [ "$run_script" = 1 ]; then
  step script
  # The deploy script runs as one POSIX sh script (if/fi, loops, continuations and heredocs all
  # work) in a shell of its own, in the release: it sees the exported FLIPDECK_* variables and
  # nothing of this script's (the marker key included), so nothing it prints can pass for a
  # marker, and nothing it sets changes what flipdeck does next. The first failing command fails
  # the deploy (-e); every command is traced (-x) behind $trace, so the log shows each one and a
  # failure names it. The script is a private file, never an argument that `ps` would show.
  (umask 077 && printf '%s\n' "$deploy_script" > "$script_file") || exit 1
  (
    cd "$rel" || exit 1
    export FLIPDECK_RELEASE="$rel_name" FLIPDECK_RELEASE_PATH="$rel" FLIPDECK_DOMAIN="$domain" FLIPDECK_SHARED_PATH="$shared"
    export FLIPDECK_PREVIOUS_RELEASE="$prev_release"
    export PS4="$trace"
    exec sh -ex "$script_file" </dev/null
  )
  rc=$?
  rm -f "$script_file"
  [ $rc -eq 0 ] || exit $rc
fi

make_writable "$rel"
env_check

case $source in
git|push)
  step commit
  sha=$(git -C "$rel" rev-parse HEAD) || exit 1
  setv commit "$sha"
  ;;
artifact)
  sha=$src_commit
  [ -z "$sha" ] || setv commit "$sha"
  ;;
esac
built=1
setv built 1

# go_back: once after_switch has run, back to what was live before: the switch back, the same
# reload again, and the after_rollback hook (the site's way to point its services back at the
# release live again; its failure is reported, and changes nothing). Fails only when the switch
# back fails.
go_back() {
  switch_back || return 1
  setv switched_back 1
  reload_again "$reload_cmd"
  if [ -n "$prev_release" ]; then
    run_hook after_rollback "$prev_release" "$rel_name" FLIPDECK_SWITCHED_BACK=1 || true
  fi
}

if [ "$fleet_gate" = 1 ]; then
  # Built: wait until every server of the fleet is, then all switch together. An abort makes
  # this a failed build (exit 3; the exit trap removes the release and unlocks).
  printf '%s gate\n' "$M"; printf '%s gate\n' "$M" >&2
  # No line at all: flipdeck or its connection is gone, and so are the pipes it read. Output goes
  # nowhere from here on, or the first write would kill this script (SIGPIPE) before its clean-up.
  IFS= read -r go <&3 || { go=abort; exec >/dev/null 2>&1; }
  if [ "$go" != go ]; then
    # A stepped rollout says why it stops (`abort WHY`).
    case $go in
    'abort '?*) printf '%s: this server does not switch\n' "${go#abort }" >&2 ;;
    *) echo "another server of the fleet failed to build: this one does not switch" >&2 ;;
    esac
    failed fleet
    setv aborted 1
    built=0
    exit 3
  fi
fi

switch "$release_link"
: "${back?}" # the way back, made by switch
reload_or_back "$reload_cmd"
# After the switch and the reload, the site's after_switch hook (workers, caches, services); a
# failure is a failed reload's: back to what was live before.
if ! run_hook after_switch "$rel_name" "$prev_release"; then
  failed
  echo "after_switch failed (exit ${hk_rc:-1}); switching back" >&2
  go_back || exit 1
  exit 1
fi
if [ -n "$hc_kind" ] && ! health_check; then
  failed
  echo "health check failed; switching back" >&2
  go_back || exit 1
  exit 1
fi
printf '%s ready\n' "$M"; printf '%s ready\n' "$M" >&2

if [ "$fleet_gate" = 1 ] || [ "$hold_switch" = 1 ]; then
  # Switched, and held (a fleet waits for its other servers, a watch for its verdict; the lock
  # and the way back are kept meanwhile): commit, or revert (exit 4; exit 5 when switching back
  # failed too). `revert WHY` says why in words (the watch's, the operator's); a bare `revert` is
  # a fleet's other server that failed to switch; no line at all, flipdeck gone.
  # No line at all: flipdeck or its connection is gone, and so are the pipes it read. Output goes
  # nowhere from here on, or the first write would kill this script (SIGPIPE) before it switched
  # back, leaving live a release nobody kept.
  IFS= read -r verdict <&3 || { verdict=; exec >/dev/null 2>&1; }
  if [ "$verdict" != commit ]; then
    # The step that failed: whose revert it is (a watch's, the fleet's); a bare one, the fleet's.
    rv_step=fleet
    [ "$fleet_gate" = 1 ] || rv_step=watch
    case $verdict in
    'revert watch '?*) rv_step=watch rv_why=${verdict#revert watch } ;;
    'revert fleet '?*) rv_step=fleet rv_why=${verdict#revert fleet } ;;
    revert) rv_why="another server of the fleet failed to switch" ;;
    *) rv_why="flipdeck ended the hold without a verdict (flipdeck or its connection is gone)" ;;
    esac
    printf '%s: switching back\n' "$rv_why" >&2
    setv revert_why "$rv_why"
    failed "$rv_step"
    go_back || { echo "switching back failed: the new release stays live" >&2; release_lock=1; exit 5; }
    setv reverted 1
    built=0
    exit 4
  fi
fi
rm -f "$back"
# Written beside, then renamed over whatever the repository has at that name (a symlink to a file
# elsewhere, say): never written through a path the repository controls.
log_tmp="$meta/.log-$$"
if ! { cat <&3 > "$log_tmp" && mv -fT "$log_tmp" "$rel/deployment.log"; }; then
  rm -f "$log_tmp"
  echo 'could not write deployment.log' >&2
fi
finished=1
relog "$relog_deploy" success "${sha:-}"
prune_releases
unlock
