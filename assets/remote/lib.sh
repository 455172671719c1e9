# shellcheck shell=sh
# The functions every remote operation shares. flipdeck runs one script per exec, made of three
# parts joined in this order: a block of quoted parameters (`name='value'` lines, written by
# src/engine/scripts.rs), this file, and the operation's own file. Progress is reported on stdout
# with marker lines (`$M step NAME`, `$M set KEY VALUE`) that src/engine/protocol.rs parses.
#
# A list parameter LIST is given as LIST_n (how many) and LIST_1 ... LIST_n; `item` reads one.
# Exit codes: 75 the lock is held by someone else, 78 the login user's home cannot be the root,
# 130 interrupted (INT, TERM, HUP); the deploy's fleet gate and held switch add 3, 4 and 5 (see deploy.sh).

# The parameters of every operation; root is empty for `/`, and unused when home_root is 1 (the
# root is then the login user's home, checked and reported below).
: "${M?}" "${token?}" "${owner?}" "${job_env?}" "${root?}" "${home_root?}" "${domain?}"

step() { cur_step=$1; printf '%s step %s\n' "$M" "$1"; }
setv() { printf '%s set %s %s\n' "$M" "$1" "$2"; }

# failed [STEP]: reports STEP (default: the step running now) as the one that failed
# (`failed_step`), once: what runs after it (switching back, hooks) is not what failed.
failed() {
  [ -z "${failed_step:-}" ] || return 0
  failed_step=${1:-${cur_step:-start}}
  setv failed_step "$failed_step"
}

# item LIST I: prints the I-th item of the list parameter LIST.
item() { eval "printf '%s' \"\${$1_$2}\""; }

# relog PREFIX STATUS COMMIT [COMPLETED]: appends a line to the server's release log (COMPLETED
# defaults to now). PREFIX is the line's
# known part (a JSON object without its closing brace); the rest are values safe in JSON as they
# are (a word, a hex SHA, a timestamp). Never fails the script: the log is a record of what
# happened, not a step of it.
relog() {
  mkdir -p "$meta" 2>/dev/null
  printf '%s"status":"%s","commit":"%s","completed":"%s"}\n' "$1" "$2" "$3" "${4:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" >> "$meta/releases.log" 2>/dev/null || true
}

# Releases the lock, but only a lock holding our token: another job's lock is never removed here.
unlock() { if grep -qF "token=$token" "$lock/owner" 2>/dev/null; then rm -rf "$lock"; fi; }

# stop_job TOKEN: stops every process of the job whose token is TOKEN (each carries it in the
# environment variable $job_env) except our own process group: what a dead flipdeck or a lost
# connection left running must not carry on after recovery.
stop_job() {
  [ -n "$1" ] && [ -r /proc/self/stat ] || return 0
  me=$(sed 's/.*) //' /proc/self/stat | cut -d' ' -f3)
  n=0
  while [ $n -lt 50 ]; do
    left=
    found=$(grep -lzxF "$job_env=$1" /proc/[0-9]*/environ 2>/dev/null)
    for f in $found; do
      p=${f#/proc/}; p=${p%/environ}
      g=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f3)
      if [ -z "$g" ] || [ "$g" = "$me" ]; then continue; fi
      kill -9 "$p" 2>/dev/null && left=1
    done
    [ -z "$left" ] && return 0
    n=$((n+1))
  done
}

# The same for the job holding the lock (its owner line says `token=TOKEN`).
stop_holder() {
  stop_job "$(sed -n 's/.* token=\([^ ]*\).*/\1/p' "$lock/owner" 2>/dev/null | head -n 1)"
  clear_switch_links
}

# Removes the links a switch makes beside the live one (`.DOMAIN.flipdeck-PID`, and
# `.DOMAIN.flipdeck-back-PID`): only a lock holder switches, so under the lock they are stale.
clear_switch_links() {
  for f in "$root/.$domain.flipdeck-"*; do
    n=${f#"$root/.$domain.flipdeck-"}; n=${n#back-}
    case $n in ''|*[!0-9]*) ;; *) rm -f "$f" ;; esac
  done
}

# Takes the site's lock with an atomic mkdir and writes our owner line into it; exits 75 when
# another job holds it (reporting the holder), 1 when it cannot be made at all.
take_lock() {
  mkdir -p "$meta" || exit 1
  if mkdir "$lock" 2>/dev/null; then
    # A failed write (disk full) may leave an empty owner file: the lock is ours, remove it whole.
    printf '%s\n' "$owner" > "$lock/owner" || { rm -rf "$lock"; exit 1; }
    clear_switch_links
  elif [ -d "$lock" ]; then
    holder=$(head -n 1 "$lock/owner" 2>/dev/null)
    setv holder "${holder:-unknown (the lock has no owner file yet)}"
    exit 75
  else
    # Not held: the lock cannot be made at all (permission, full disk); say why.
    mkdir "$lock" && rmdir "$lock"
    exit 1
  fi
}

# switch_to LINK: points the live symlink at LINK. A new link under a temporary name beside the
# live one, then rename(2) over it: a rename within one directory is atomic everywhere, while
# `ln -sfn` unlinks first on some systems (POSIX ln, BusyBox, BSD), leaving a moment with no site.
switch_to() {
  tmp="$root/.$domain.flipdeck-$$"
  if [ -e "$live" ] && [ ! -L "$live" ]; then
    echo "$live exists and is not a symlink; move it away so flipdeck can manage it" >&2
    return 1
  fi
  if ! { rm -f "$tmp" && ln -s "$1" "$tmp" && mv -T "$tmp" "$live"; }; then
    rm -f "$tmp"
    return 1
  fi
}

# Back to $prev through the link made before the switch ($back): a rename only, so it needs no
# free inode or byte (a full disk cannot keep a failed release live).
switch_back() {
  : "${prev?}" "${back?}"
  if [ -n "$prev" ]; then mv -T "$back" "$live"; else rm -f "$live"; fi
}

# switch LINK: the step `switch`. Makes the way back first (a link to the live release, in
# $back), then switches; reports what was live before (`prev`) and `switched`.
switch() {
  step switch
  prev=$(readlink "$live" 2>/dev/null)
  setv prev "$prev"
  back="$root/.$domain.flipdeck-back-$$"
  if [ -n "$prev" ]; then
    if ! { rm -f "$back" && ln -s "$prev" "$back"; }; then
      rm -f "$back"
      echo "cannot prepare the way back to $prev, so not switching" >&2
      exit 1
    fi
  fi
  switch_to "$1" || { rm -f "$back"; exit 1; }
  setv switched 1
}

# reload_or_back COMMAND: the step `reload` after a switch (nothing when COMMAND is empty). A
# failing reload switches back to what was live before and exits with the reload's code.
reload_or_back() {
  [ -n "$1" ] || return 0
  step reload
  (cd "$root" && eval "$1") </dev/null
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "reload failed (exit $rc); switching back" >&2
    switch_back || exit 1
    setv switched_back 1
    exit $rc
  fi
}

# reload_again COMMAND: after switching back, the release live again gets the same reload.
reload_again() {
  [ -n "$1" ] || return 0
  (cd "$root" && eval "$1") </dev/null || echo "reload after switching back failed" >&2
}

# run_hook NAME RELEASE PREVIOUS [VAR=VALUE...]: the step NAME, running the site's hook NAME (the
# parameter hook_NAME; nothing at all when it is empty) as the deploy script runs: its own
# `sh -ex` file, traced (see below), in a shell of its own that sees the exported FLIPDECK_*
# variables (FLIPDECK_RELEASE is RELEASE, FLIPDECK_PREVIOUS_RELEASE is PREVIOUS, FLIPDECK_HOOK is
# NAME, and the VAR=VALUE words) and nothing of this script's. It runs in the live release (the
# directory the live link resolves to), or in the root when nothing is live. Returns the hook's
# exit code (also in hk_rc), a failure reported as `hook_failed NAME CODE`.
run_hook() {
  hk_rc=0
  eval "hk_text=\${hook_$1:-}"
  [ -n "$hk_text" ] || return 0
  : "${trace?}"
  hk_name=$1 hk_rel=$2 hk_prev=$3
  shift 3
  step "$hk_name"
  # A hook that runs after a failure traces behind `${trace% }~ `: flipdeck shows its commands
  # but never names one as what failed. Any other starts by making flipdeck forget the command
  # it remembers (the bare prefix), so a failure names the hook's own.
  if [ -n "${failed_step:-}" ]; then hk_ps4="${trace% }~ "; else hk_ps4=$trace; printf '%s\n' "${trace% }" >&2; fi
  hk_file="$meta/.hook-$$"
  if ! (umask 077 && printf '%s\n' "$hk_text" > "$hk_file"); then
    rm -f "$hk_file"
    hk_rc=1
  else
    (
      if [ -d "$live/" ]; then cd -P "$live/" || exit 1; else cd "${root:-/}" || exit 1; fi
      export FLIPDECK_HOOK="$hk_name" FLIPDECK_RELEASE="$hk_rel" FLIPDECK_RELEASE_PATH="$base/$hk_rel"
      export FLIPDECK_PREVIOUS_RELEASE="$hk_prev" FLIPDECK_DOMAIN="$domain" FLIPDECK_SHARED_PATH="$shared"
      for hk_v in "$@"; do export "${hk_v?}"; done
      export PS4="$hk_ps4"
      exec sh -ex "$hk_file" </dev/null
    )
    hk_rc=$?
    rm -f "$hk_file"
  fi
  [ $hk_rc -eq 0 ] || setv hook_failed "$hk_name $hk_rc"
  return $hk_rc
}

# on_failure_once RELEASE PREVIOUS [VAR=VALUE...]: the on_failure hook (see run_hook), at most once per
# job, and only while the lock is ours: a mark in the lock (gone with it) says it has run, so the
# deploy's exit trap and flipdeck's clean-up after an interruption never both run it. Where the
# mark cannot be made (a read-only file system), it runs anyway.
on_failure_once() {
  [ -n "${hook_on_failure:-}" ] || return 0
  grep -qF "token=$token" "$lock/owner" 2>/dev/null || return 0
  mkdir "$lock/on_failure" 2>/dev/null || [ ! -d "$lock/on_failure" ] || return 0
  run_hook on_failure "$@"
}

# The release NAME a live-link target LINK names (its last part), empty for none.
release_of() { printf '%s' "${1##*/}"; }

# env_lacking ENV EXAMPLE: the keys EXAMPLE assigns and ENV does not, one per line, each once, in
# EXAMPLE's order. Keys are read as Laravel's parser (phpdotenv) reads them, `[export ]NAME=` at
# the start of a line; only names are ever printed, never a value. Fails when a file is unreadable.
env_lacking() {
  # shellcheck disable=SC2016 # awk's own $0
  awk '
    function key(l) {
      sub(/^[ \t]+/, "", l)
      if (l ~ /^export[ \t]/) sub(/^export[ \t]+/, "", l)
      if (!match(l, /^[A-Za-z0-9_.]+[ \t]*=/)) return ""
      l = substr(l, 1, RLENGTH - 1)
      sub(/[ \t]+$/, "", l)
      return l
    }
    FILENAME == ARGV[1] { k = key($0); if (k != "") have[k] = 1; next }
    { k = key($0); if (k != "" && !(k in have) && !(k in told)) { told[k] = 1; print k } }
  ' "$1" "$2"
}

# env_check: the step `env`, when the release has a `.env.example`: the keys it names (`KEY=`
# lines, `export KEY=` too) that the release's `.env` (the shared one, linked in) lacks, by name
# only: no value is ever printed. Reported as `env_missing KEYS`, a warning; with require_env,
# as `env_required KEYS` and a failed build (before the switch, so the half release goes).
env_check() {
  : "${rel?}" "${require_env?}"
  [ -f "$rel/.env.example" ] || return 0
  step env
  ec_env="$rel/.env"
  [ -f "$ec_env" ] || ec_env=/dev/null
  ec_missing=$(env_lacking "$ec_env" "$rel/.env.example") || {
    # Unreadable: not checked (a failure only when the keys are required).
    echo "cannot compare .env with .env.example: not checked" >&2
    [ "$require_env" = 1 ] && { setv why "cannot read .env or .env.example (require_env = true)"; exit 1; }
    return 0
  }
  ec_missing=$(printf '%s' "$ec_missing" | tr '\n' ' ')
  if [ -z "$ec_missing" ]; then
    echo ".env has every key of .env.example"
  elif [ "$require_env" = 1 ]; then
    setv env_required "$ec_missing"
    setv why ".env lacks keys that .env.example has: $ec_missing (require_env = true)"
    exit 1
  else
    setv env_missing "$ec_missing"
  fi
}

# The health check, run on the server right after the switch (no round trip while a bad release
# is live). Parameters: hc_kind (url or command), hc_timeout, hc_tries, hc_pause, and hc_url,
# hc_expect, hc_host (the Host header, empty for none) or hc_cmd. Up to hc_tries attempts; returns
# 0 when healthy, otherwise reports `health_failed` with the last attempt's result and returns 1.
health_check() {
  : "${hc_kind?}" "${hc_tries?}" "${hc_pause?}"
  step health
  hc_i=1
  while :; do
    if [ "$hc_kind" = url ]; then health_probe_url; else health_probe_command; fi
    hc_rc=$?
    if [ $hc_rc -eq 0 ]; then
      echo "health check passed (attempt $hc_i of $hc_tries)"
      return 0
    fi
    echo "health check attempt $hc_i of $hc_tries: $hc_detail" >&2
    [ $hc_rc -eq 2 ] || [ $hc_i -ge "$hc_tries" ] && break
    hc_i=$((hc_i + 1))
    sleep "$hc_pause"
  done
  setv health_failed "$hc_detail"
  return 1
}

# One HTTP request with curl, else wget; sets hc_detail when it fails (2: cannot check at all).
health_probe_url() {
  : "${hc_timeout?}" "${hc_url?}" "${hc_expect?}" "${hc_host?}"
  set --
  [ -n "$hc_host" ] && set -- "Host: $hc_host"
  if command -v curl >/dev/null 2>&1; then
    hc_code=$(curl -gsS -o /dev/null -w '%{http_code}' --max-time "$hc_timeout" ${1:+-H "$1"} "$hc_url")
  elif command -v wget >/dev/null 2>&1; then
    hc_opts=
    wget --help 2>&1 | grep -q -e '--tries' && hc_opts='--tries=1 --max-redirect=0'
    # shellcheck disable=SC2086 # hc_opts is zero or two options, split on purpose
    hc_code=$(wget $hc_opts -S -q -O /dev/null -T "$hc_timeout" ${1:+--header="$1"} "$hc_url" 2>&1 | awk '$1 ~ /^HTTP\// { c = $2 } END { print c }')
  else
    hc_detail="neither curl nor wget is installed on the server; install one, or use health_check.command"
    return 2
  fi
  [ "$hc_code" = "$hc_expect" ] && return 0
  case $hc_code in
    ''|000) hc_detail="no HTTP response from $hc_url within ${hc_timeout}s (expected $hc_expect)" ;;
    *) hc_detail="HTTP $hc_code from $hc_url (expected $hc_expect)" ;;
  esac
  return 1
}

# The user's command, in the live release, bounded by `timeout` where the server has it.
health_probe_command() {
  : "${hc_timeout?}" "${hc_cmd?}"
  if command -v timeout >/dev/null 2>&1; then
    (cd "$live/" && timeout "$hc_timeout" sh -c "$hc_cmd") </dev/null
  else
    (cd "$live/" && sh -c "$hc_cmd") </dev/null
  fi
  hc_rc=$?
  [ $hc_rc -eq 0 ] && return 0
  if [ $hc_rc -eq 124 ]; then hc_detail="command timed out after ${hc_timeout}s"
  else hc_detail="command exited with code $hc_rc"; fi
  return 1
}

# mkdir_parent DIR ENTRY: creates DIR/ENTRY's parent directories when ENTRY is nested (top-level
# entries, the usual, spare the process).
mkdir_parent() {
  case $2 in */*) mkdir -p "$1/${2%/*}" ;; esac
}

# through_link DIR ENTRY: prints the first directory on ENTRY's way under DIR (ENTRY itself not
# counted) that is a symlink, and succeeds, if there is one: writing DIR/ENTRY would then write
# wherever that link points, outside the release (a repository controls its tree).
through_link() {
  tl_path=$1 tl_rest=$2
  while :; do
    case $tl_rest in
      */*)
        tl_path="$tl_path/${tl_rest%%/*}"
        tl_rest=${tl_rest#*/}
        if [ -L "$tl_path" ]; then printf '%s' "${tl_path#"$1"/}"; return 0; fi
        ;;
      *) return 1 ;;
    esac
  done
}

# up_of ENTRY: prints the `../` steps from ENTRY's directory up to the release (`../` for a
# top-level entry), so a link at ENTRY reaches `${up}shared/ENTRY`.
up_of() {
  uo_up=../ uo_rest=$1
  while :; do
    case $uo_rest in */*) uo_rest=${uo_rest#*/}; uo_up=../$uo_up ;; *) break ;; esac
  done
  printf '%s' "$uo_up"
}

# seed_shared ENTRY: copies into shared/ENTRY whatever directories and files the release's own
# copy ($rel/ENTRY, from the repository) has and shared/ENTRY lacks, so a folder a new version
# adds (storage/framework/testing) appears in shared/ too. Never overwrites what is there, never
# copies a symlink, and never writes through one (a link already in shared/ is skipped with all
# it holds). Names with a newline are left out.
seed_shared() {
  : "${rel?}"
  ss_src="$rel/$1"
  if [ -L "$ss_src" ] || [ ! -e "$ss_src" ]; then return 0; fi
  if [ ! -d "$ss_src" ]; then
    [ -f "$ss_src" ] || return 0
    if [ ! -e "$shared/$1" ] && [ ! -L "$shared/$1" ]; then
      mkdir_parent "$shared" "$1" && cp -p "$ss_src" "$shared/$1" || exit 1
    fi
    return 0
  fi
  ss_nl='
'
  if ! (cd "$ss_src" && find . -path "*$ss_nl*" -prune -o \( -type d -o -type f \) -print) | {
    while IFS= read -r ss_p; do
      ss_r=${ss_p#.}; ss_r=${ss_r#/}
      ss_t="$shared/$1${ss_r:+/$ss_r}"
      if [ -e "$ss_t" ] || [ -L "$ss_t" ]; then continue; fi
      if [ -n "$ss_r" ]; then
        through_link "$shared" "$1/$ss_r" >/dev/null && continue
        [ -d "${ss_t%/*}" ] || continue
      else
        mkdir_parent "$shared" "$1" || exit 1
      fi
      if [ -d "$ss_src/$ss_r" ]; then mkdir "$ss_t" || exit 1
      else cp -p "$ss_src/$ss_r" "$ss_t" || exit 1; fi
    done
  }; then
    echo "cannot seed $shared/$1 from the release" >&2
    exit 1
  fi
}

# refuse_repo_link LIST ENTRY: exits when ENTRY (of the config's list LIST) lies, in the release
# $rel, beyond a symlink of the repository: writing there would write wherever it points.
refuse_repo_link() {
  if rr_link=$(through_link "$rel" "$2"); then
    echo "$1 path $2 goes through $rr_link, a symlink in the repository: flipdeck does not write through it (remove the link from the repository, or change the $1 list)" >&2
    exit 1
  fi
}

# link_shared ENTRY KIND: links shared/ENTRY into the release $rel with a relative link; KIND is
# `file` or `dir`. shared/ENTRY is first seeded from the release's own copy (see seed_shared);
# what the repository does not have either is created empty.
link_shared() {
  : "${rel?}"
  e=$1
  refuse_repo_link shared "$e"
  if ls_link=$(through_link "$shared" "$e"); then
    echo "shared path $e goes through $ls_link, a symlink in $shared: flipdeck does not write through it" >&2
    exit 1
  fi
  seed_shared "$e"
  if [ ! -e "$shared/$e" ] && [ ! -L "$shared/$e" ]; then
    if [ "$2" = file ]; then
      mkdir_parent "$shared" "$e" && touch "$shared/$e" || exit 1
    else
      mkdir -p "$shared/$e" || exit 1
    fi
  fi
  if [ -e "$rel/$e" ] || [ -L "$rel/$e" ]; then rm -rf "${rel:?}/$e" || exit 1; fi
  mkdir_parent "$rel" "$e" && ln -s "$(up_of "$e")shared/$e" "$rel/$e" || exit 1
}

# copy_cached ENTRY FROM: the release's ENTRY (a dependency folder: vendor, node_modules) starts
# as a copy of release FROM's (the live one; empty: none), so an install is incremental and
# writes only into this release: a failed build never changes what the live site runs. A copy,
# never hard links (package managers rewrite files in place), with reflinks where the file
# system has them. A release of the old layout, whose ENTRY links into shared/, gives shared/'s
# content (shared/ENTRY itself is left alone: older releases still use it). The repository's own
# ENTRY, if it has one, is kept; nothing is copied through a symlink.
copy_cached() {
  : "${rel?}"
  e=$1
  refuse_repo_link cached "$e"
  if [ -e "$rel/$e" ] || [ -L "$rel/$e" ] || [ -z "$2" ]; then return 0; fi
  through_link "$2" "$e" >/dev/null && return 0
  cc_src="$2/$e"
  if [ -L "$cc_src" ]; then
    [ "$(readlink "$cc_src")" = "$(up_of "$e")shared/$e" ] || return 0
    through_link "$shared" "$e" >/dev/null && return 0
    cc_src="$shared/$e"
    [ -L "$cc_src" ] && return 0
  fi
  [ -e "$cc_src" ] || return 0
  if [ -z "${cp_reflink+set}" ]; then
    cp_reflink=
    cp --help 2>&1 | grep -q -e '--reflink' && cp_reflink=--reflink=auto
  fi
  if ! { mkdir_parent "$rel" "$e" && cp -a ${cp_reflink:+"$cp_reflink"} "$cc_src" "$rel/$e"; }; then
    rm -rf "${rel:?}/$e"
    echo "cannot copy $e from the live release into the new one" >&2
    exit 1
  fi
  echo "$e: copied from the live release"
}

# make_writable RELEASE: the step `writable` (nothing when writable_mode is empty). Makes each
# path of the list `writable` writable for $web_user by $writable_mode: `acl` (rwX for the web
# user and the login user, also as the default ACL of every folder, so what is created later
# inherits it), `group` (the web user's group, g+rwX, folders setgid) or `chmod` (a+rwX).
# writable_at_I says where path I lives: `shared` (in shared/, as the release links it) or
# `release`, where a missing path is created. Never through a symlink; the walk does not follow
# the links it meets.
make_writable() {
  : "${writable_n?}" "${writable_mode?}" "${web_user?}"
  [ -n "$writable_mode" ] && [ "$writable_n" -gt 0 ] || return 0
  step writable
  if ! id "$web_user" >/dev/null 2>&1; then
    echo "web_user $web_user does not exist on this server: set web_user to the user PHP-FPM runs as" >&2
    exit 1
  fi
  case $writable_mode in
    acl)
      if ! command -v setfacl >/dev/null 2>&1; then
        echo 'setfacl not found: install acl, or use writable_mode = "group"' >&2
        exit 1
      fi
      ;;
    group) mw_group=$(id -gn "$web_user") || exit 1 ;;
  esac
  mw_me=$(id -un) || exit 1
  mw_i=1
  while [ "$mw_i" -le "$writable_n" ]; do
    w=$(item writable "$mw_i")
    if [ "$(item writable_at "$mw_i")" = shared ]; then mw_dir=$shared; else mw_dir=$1; fi
    mw_link=
    if mw_link=$(through_link "$mw_dir" "$w") || [ -L "$mw_dir/$w" ]; then
      echo "writable path $w goes through ${mw_link:-$w}, a symlink: flipdeck does not change permissions through it" >&2
      exit 1
    fi
    mw_t="$mw_dir/$w"
    mkdir -p "$mw_t" || exit 1
    case $writable_mode in
      acl)
        setfacl -R -m "u:$web_user:rwX,u:$mw_me:rwX" "$mw_t" &&
          find "$mw_t" -type d -exec setfacl -d -m "u:$web_user:rwX,u:$mw_me:rwX" {} +
        ;;
      group)
        chgrp -R "$mw_group" "$mw_t" && chmod -R g+rwX "$mw_t" &&
          find "$mw_t" -type d -exec chmod g+s {} +
        ;;
      *) chmod -R a+rwX "$mw_t" ;;
    esac || {
      echo "could not make $w writable for $web_user (writable_mode = \"$writable_mode\")" >&2
      exit 1
    }
    echo "$w: writable for $web_user ($writable_mode)"
    mw_i=$((mw_i + 1))
  done
}

# Deletes the releases of the list parameter `prune`, re-reading the live symlink first: the
# server is the truth, so a release live there is kept whatever the history believes. Each is
# first renamed into .flipdeck/ (atomic), then deleted: an interrupted prune leaves hidden trash,
# never a half-deleted release that could be rolled back to. Trash from an earlier interrupted
# prune goes first. `prune_relog_I` is release I's line prefix for the release log.
prune_releases() {
  : "${prune_n?}"
  [ "$prune_n" -gt 0 ] || return 0
  step prune
  rm -rf "$meta"/.trash-* 2>/dev/null
  live_now=$(readlink "$live" 2>/dev/null)
  live_now=${live_now##*/}
  pr_now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  pr_i=1 r='' pr_relog=''
  # Thousands of releases may go at once: the loop reads its items without a subshell, and the
  # renamed releases are deleted together at the end.
  while [ "$pr_i" -le "$prune_n" ]; do
    eval "r=\${prune_$pr_i} pr_relog=\${prune_relog_$pr_i}"
    if [ "$r" = "$live_now" ]; then
      setv kept_live "$r"
    elif [ ! -e "$base/$r" ] || mv "$base/$r" "$meta/.trash-$r-$$"; then
      setv pruned "$r"
      relog "$pr_relog" pruned "" "$pr_now"
      if [ -e "$meta/made/$r" ]; then rm -f "$meta/made/$r"; fi
    else
      setv prune_failed "$r"
    fi
    pr_i=$((pr_i + 1))
  done
  rm -rf "$meta"/.trash-*-$$
}

# Who made a release: `$meta/made/NAME` holds the token of the job that reserved the name, written
# under the lock before the release's directory exists. A clean-up removes a release only when
# the job it cleans up after made it, so it can never remove another operator's release (or one a
# person put there), whatever a history believes.
made_by() { [ -f "$meta/made/$1" ] && [ "$(cat "$meta/made/$1" 2>/dev/null)" = "$2" ]; }

# remove_made NAME TOKEN: removes release NAME if job TOKEN made it and it is not live; fails
# only when it should remove it and cannot.
remove_made() {
  rm_live=$(readlink "$live" 2>/dev/null)
  [ "${rm_live##*/}" = "$1" ] && return 0
  made_by "$1" "$2" || return 0
  rm -rf "${base:?}/$1" && rm -f "$meta/made/$1"
}

# reserve NAME: makes NAME this job's (see made_by), if no release, file or release-log line has
# it yet. Under the lock, so two operators can never build under one name.
reserve() {
  mkdir -p "$meta/made" || return 1
  if [ -e "$base/$1" ] || [ -L "$base/$1" ]; then return 1; fi
  if grep -qF "\"release\":\"$1\"" "$meta/releases.log" 2>/dev/null; then return 1; fi
  (set -C; printf '%s\n' "$token" > "$meta/made/$1") 2>/dev/null
}

# site_paths DOMAIN: the layout's paths of the site DOMAIN under $root.
site_paths() {
  base="$root/deployments/$1"
  live="$root/$1"
  shared="$base/shared"
  meta="$base/.flipdeck"
  lock="$meta/lock"
}

# inspect_site OFFSET TAIL: a read-only look at the site whose paths are set (site_paths): the
# live link, the release directories, the lock holder, and the release log (its size, then the
# lines after byte OFFSET, or its newest TAIL lines when OFFSET is 0 or past its end, as after a
# rotation).
inspect_site() {
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
  [ -f "$meta/releases.log" ] || return 0
  size=$(wc -c < "$meta/releases.log" | tr -d ' ')
  setv relog_size "$size"
  if [ "$1" -gt 0 ] && [ "$1" -le "$size" ]; then
    tail -c +"$(($1 + 1))" "$meta/releases.log"
  else
    tail -n "$2" "$meta/releases.log"
  fi | while IFS= read -r l; do setv relog "$l"; done
}

# The layout's paths. Without a configured root it is the login user's home, checked as a
# configured root is (absolute, no `..`, no control characters) and reported (`root`).
if [ "$home_root" = 1 ]; then
  case $HOME in
    /*) case $HOME in *[[:cntrl:]]*|*/../*|*/..) home_ok=0 ;; *) home_ok=1 ;; esac ;;
    *) home_ok=0 ;;
  esac
  if [ "$home_ok" != 1 ] || [ ${#HOME} -gt 1024 ]; then
    echo "the login user's home \"$HOME\" cannot be the root: it must be an absolute path without '..' or control characters; set root in the config" >&2
    exit 78
  fi
  root=${HOME%/}
  setv root "$HOME"
fi
site_paths "$domain"
