# shellcheck shell=sh
# `flipdeck diff`: what goes out between the live release and a target, read in one exec and
# changing nothing of the site. The repository cache ($meta/repo.git) is written only under the
# deploy lock (deploy.sh's fetch), so this script never writes it: it fetches into a private
# repository of its own that borrows the objects of the cache and of the releases compared
# (git's alternates), so only what the cache lacks is downloaded, a deploy running meanwhile is
# neither blocked nor disturbed, and the private repository is removed on every exit.
#
# Parameters: repo, target_kind (branch, ref or release), target (the branch, the ref, or the
# release's name), target_commit (a release's commit as the history has it; may be empty),
# migrations (the repository's folder of migrations), max_commits and max_files (how many of
# each are listed), fetch_timeout (seconds a fetch may take, where the server has `timeout`),
# server_fetch (1: the server fetches repo; empty: `source = push`, the repository is on the
# operator's machine and the cache holds what the last deploy pushed), env_check (1: compare the target's .env.example with the shared .env),
# scratch_out (1: the private repository is a temporary directory outside the site's tree, so
# nothing in the tree changes, not even a directory's mtime: `deploy --dry-run`).
# Lists are sent as hex (`SIZE`-less: od's bytes), NUL-separated, so nothing a commit or a
# path holds can break a marker line.
: "${repo?}" "${target_kind?}" "${target?}" "${target_commit?}" "${migrations?}" "${max_commits?}" "${max_files?}" "${fetch_timeout?}" "${server_fetch?}" "${env_check?}" "${scratch_out?}"
# From lib.sh.
: "${M?}" "${base?}" "${shared?}" "${meta?}" "${live?}"

exec </dev/null
export GIT_TERMINAL_PROMPT=0

hexof() { od -An -v -tx1 | tr -d ' \n'; }
# first_records N: the first N NUL-terminated records of stdin (NUL and newline swapped around head).
first_records() { tr '\n\000' '\000\n' | head -n "$1" | tr '\n\000' '\000\n'; }

if [ ! -d "$base" ]; then setv diff_no_site 1; exit 0; fi
cache="$meta/repo.git"
work=
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP

# The live release: its commit is its own HEAD (the server is the truth).
live_link=$(readlink "$live" 2>/dev/null) || live_link=
setv diff_live "$(release_of "$live_link")"
live_git=
live_commit=
if [ -n "$live_link" ] && [ -d "$live/" ]; then
  live_git="$(cd -P "$live/" && pwd)/.git"
  if live_commit=$(git --git-dir="$live_git" rev-parse --verify --quiet 'HEAD^{commit}' 2>/dev/null); then
    setv diff_live_commit "$live_commit"
  else
    live_commit=
    setv diff_live_not_git 1
  fi
fi

step prepare
if [ "$scratch_out" = 1 ]; then
  tmp_dir=${TMPDIR:-/tmp}
  # This user's private repositories of killed runs, an hour old.
  find "$tmp_dir" -maxdepth 1 -name 'flipdeck-diff.*' -user "$(id -u)" -mmin +60 -exec rm -rf {} + 2>/dev/null
  work=$(mktemp -d "$tmp_dir/flipdeck-diff.XXXXXX") || exit 1
else
  mkdir -p "$meta" || exit 1
  # Private repositories of killed runs, an hour old.
  find "$meta" -maxdepth 1 -name '.diff-*' -mmin +60 -exec rm -rf {} + 2>/dev/null
  work="$meta/.diff-$$"
fi
git init --quiet --bare "$work" || exit 1
if [ -d "$cache/objects" ]; then
  printf '%s\n' "$cache/objects" >>"$work/objects/info/alternates"
else
  setv diff_no_cache 1
fi
[ -z "$live_commit" ] || printf '%s\n' "$live_git/objects" >>"$work/objects/info/alternates"
g() { git --git-dir="$work" "$@"; }

if [ "$target_kind" = release ]; then
  # A release of the history: its own HEAD when its directory is still there, else the commit
  # the history recorded. Nothing to fetch.
  t_git="$base/$target/.git"
  if [ -d "$t_git" ] && t_c=$(git --git-dir="$t_git" rev-parse --verify --quiet 'HEAD^{commit}' 2>/dev/null); then
    printf '%s\n' "$t_git/objects" >>"$work/objects/info/alternates"
    target_commit=$t_c
  fi
  if [ -z "$target_commit" ] || ! g cat-file -e "$target_commit^{commit}" 2>/dev/null; then
    setv diff_no_target "release $target: its directory is gone and its commit is not in the repository cache"
    exit 0
  fi
else
  step fetch
  # Bounded: a repository with no route to it must not keep the answer waiting.
  bounded() { if command -v timeout >/dev/null 2>&1; then timeout "$fetch_timeout" "$@"; else "$@"; fi; }
  if [ "$server_fetch" != 1 ]; then
    if [ ! -d "$cache/objects" ] || ! g fetch --quiet --no-tags "$cache" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' 2>/dev/null; then
      exit 0
    fi
    setv diff_stale 1
  elif ! f_err=$(bounded git --git-dir="$work" fetch --quiet --no-tags "$repo" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' 2>&1); then
    [ -n "$f_err" ] || f_err="no answer from the repository within ${fetch_timeout}s"
    setv diff_fetch_failed "$(printf '%s\n' "$f_err" | grep . | tail -n 1 | hexof)"
    # Not reachable now: the cache as of its last fetch, if there is one.
    if [ ! -d "$cache/objects" ] || ! g fetch --quiet --no-tags "$cache" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' 2>/dev/null; then
      exit 0
    fi
    setv diff_stale 1
  fi
  if [ "$target_kind" = branch ]; then t_spec="refs/heads/$target"; else t_spec=$target; fi
  if ! target_commit=$(g rev-parse --verify --quiet "$t_spec^{commit}" 2>/dev/null); then
    setv diff_no_target "$target_kind $target does not exist in the repository"
    exit 0
  fi
fi
setv diff_target "$target_commit"

step compare
# Nothing live (or not a checkout): everything of the target goes out, against the empty tree.
if [ -n "$live_commit" ]; then from=$live_commit; out="$live_commit..$target_commit"
else from=$(g hash-object -t tree /dev/null) || exit 1; out=$target_commit; fi
commits() { g log -z --no-color --format='%h%x00%an%x00%s' -n "$max_commits" "$1" | hexof; }
n=$(g rev-list --count "$out") || exit 1
setv diff_ahead "$n"
setv diff_commits_out "$(commits "$out")"
if [ -n "$live_commit" ]; then
  n=$(g rev-list --count "$target_commit..$live_commit") || exit 1
  setv diff_behind "$n"
  setv diff_commits_back "$(commits "$target_commit..$live_commit")"
fi
changes() { g diff --no-renames --no-ext-diff --name-status -z "$from" "$target_commit" -- "$@"; }
setv diff_files "$(g diff --no-renames --no-ext-diff --name-only -z "$from" "$target_commit" | tr -cd '\000' | wc -c | tr -d ' ')"
setv diff_file_list "$(changes | first_records $((max_files * 2)) | hexof)"
setv diff_migrations "$(changes "$migrations" | hexof)"
setv diff_locks "$(changes ':(glob)**/composer.lock' ':(glob)**/package-lock.json' ':(glob)**/yarn.lock' ':(glob)**/pnpm-lock.yaml' ':(glob)**/Gemfile.lock' ':(glob)**/poetry.lock' ':(glob)**/Cargo.lock' ':(glob)**/go.sum' | hexof)"

# The keys the target's .env.example names that the shared .env lacks: names only (env_lacking,
# lib.sh).
[ "$env_check" = 1 ] || exit 0
g cat-file -e "$target_commit:.env.example" 2>/dev/null || exit 0
setv diff_env_example 1
e_env="$shared/.env"
if [ ! -e "$e_env" ]; then setv diff_env_none 1; e_env=/dev/null
elif [ ! -r "$e_env" ]; then setv diff_env_unreadable 1; exit 0; fi
g show "$target_commit:.env.example" | env_lacking "$e_env" - | while IFS= read -r k; do setv diff_env_lacks "$k"; done
