//! The shell scripts the engine sends to a target. Each is plain POSIX sh; every value in them is
//! quoted. Progress is reported with marker lines (`<marker> step NAME`, `<marker> set KEY VALUE`)
//! that the engine turns into events, so one exec can carry several steps (fewer round trips).

use super::layout::Layout;
use crate::config::{HealthCheck, SiteConfig};
use crate::shell::quote;

/// The pieces every script starts with.
pub struct Prelude<'a> {
    pub marker: &'a str,
    pub layout: &'a Layout,
    /// Identifies our lock: only a lock holding this token is ever removed by us automatically.
    pub token: &'a str,
    /// One line describing the lock holder: who, where, since when, what.
    pub owner: &'a str,
    /// `user@machine`, as written in the server's release log.
    pub who: &'a str,
}

impl Prelude<'_> {
    pub fn render(&self) -> String {
        format!(
            r#"M={marker}
token={token}
step() {{ printf '%s step %s\n' "$M" "$1"; }}
setv() {{ printf '%s set %s %s\n' "$M" "$1" "$2"; }}
{vars}{relog}unlock() {{ if grep -qF "token=$token" "$lock/owner" 2>/dev/null; then rm -rf "$lock"; fi; }}
# Stops every process of the job whose token is $1 (see JOB_ENV) except our own process group:
# what a dead flipdeck or a lost connection left running must not carry on after recovery.
stop_job() {{
  [ -n "$1" ] && [ -r /proc/self/stat ] || return 0
  me=$(sed 's/.*) //' /proc/self/stat | cut -d' ' -f3)
  n=0
  while [ $n -lt 50 ]; do
    left=
    for f in $(grep -lzxF "{job_env}=$1" /proc/[0-9]*/environ 2>/dev/null); do
      p=${{f#/proc/}}; p=${{p%/environ}}
      g=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f3)
      [ -n "$g" ] && [ "$g" != "$me" ] || continue
      kill -9 "$p" 2>/dev/null && left=1
    done
    [ -z "$left" ] && return 0
    n=$((n+1))
  done
}}
# The same for the job holding the lock.
stop_holder() {{
  stop_job "$(sed -n 's/.* token=\([^ ]*\).*/\1/p' "$lock/owner" 2>/dev/null | head -n 1)"
  clear_switch_links
}}
# Removes the links a switch makes beside the live one (`.DOMAIN.flipdeck-PID`, and
# `.DOMAIN.flipdeck-back-PID`): only a lock holder switches, so under the lock they are stale.
clear_switch_links() {{
  for f in "$root/.$domain.flipdeck-"*; do
    n=${{f#"$root/.$domain.flipdeck-"}}; n=${{n#back-}}
    case $n in ''|*[!0-9]*) ;; *) rm -f "$f" ;; esac
  done
}}
take_lock() {{
  mkdir -p "$meta" || exit 1
  if mkdir "$lock" 2>/dev/null; then
    # A failed write (disk full) may leave an empty owner file: the lock is ours, remove it whole.
    printf '%s\n' {owner} > "$lock/owner" || {{ rm -rf "$lock"; exit 1; }}
    clear_switch_links
  elif [ -d "$lock" ]; then
    holder=$(head -n 1 "$lock/owner" 2>/dev/null)
    setv holder "${{holder:-unknown (the lock has no owner file yet)}}"
    exit 75
  else
    # Not held: the lock cannot be made at all (permission, full disk); say why.
    mkdir "$lock" && rmdir "$lock"
    exit 1
  fi
}}
"#,
            marker = quote(self.marker),
            vars = self.layout.shell_vars(),
            relog = super::release_log::SHELL_FN,
            token = quote(self.token),
            owner = quote(self.owner),
            job_env = super::job::JOB_ENV,
        )
    }
}

/// Exit code a script uses when the site's lock is held by someone else.
pub const LOCK_HELD: i32 = 75;

/// Where the code of a new release comes from.
pub enum Source<'a> {
    Git {
        repository: &'a str,
        branch: &'a str,
    },
    /// The spec's provisioning without a repository: a placeholder `public/index.php`.
    Placeholder,
}

/// What a deploy script prints, on stdout and on stderr, once the switch is done: then it reads the
/// deployment's log from stdin.
pub const READY: &str = "ready";

/// What a fleet member's deploy script prints once built: then it reads `go` or `abort`.
pub const GATE: &str = "gate";

/// What runs right after the switch: the reload, then the health check (either failing switches
/// back).
#[derive(Clone, Copy, Default)]
pub struct AfterSwitch<'a> {
    pub reload: Option<&'a str>,
    pub health: Option<&'a HealthCheck>,
}

/// What a successful deploy does last: prune these releases, and complete this release-log line.
#[derive(Clone, Copy)]
pub struct Finish<'a> {
    pub prune: &'a [String],
    /// The deploy's line in the server's release log, as made by `release_log::prefix`.
    pub relog: &'a str,
    /// One server of a fleet: wait for `go` before the switch, and for `commit` or `revert` after
    /// it (the other servers' outcome decides).
    pub gated: bool,
}

/// A whole deploy in one exec: lock, build, switch and reload; then, once the engine has recorded
/// the success and sent the log (see `READY`), write it into the release, prune and unlock. Only a
/// built release is switched to; what follows a failed switch or reload is the engine's.
pub fn deploy(
    prelude: &Prelude<'_>,
    site: &SiteConfig,
    release: &str,
    source: &Source<'_>,
    run_script: bool,
    after: AfterSwitch<'_>,
    finish: Finish<'_>,
) -> String {
    let AfterSwitch { reload, health } = after;
    let Finish {
        prune,
        relog,
        gated,
    } = finish;
    let link = prelude.layout.link_target(release);
    // Stdin is kept for the log; nothing before may read it.
    let mut s = prelude.render() + "exec 3<&0 </dev/null\n";
    s.push_str(&format!("relog_deploy={}\n", quote(relog)));
    s.push_str(&build(site, release, source, run_script));
    if gated {
        // Built: wait until every server of the fleet is, then all switch together. An abort
        // makes this a failed build (the exit trap removes the release and unlocks).
        s.push_str(&format!(
            r#"printf '%s {GATE}\n' "$M"; printf '%s {GATE}\n' "$M" >&2
IFS= read -r go <&3 || go=abort
if [ "$go" != go ]; then
  echo "another server of the fleet failed to build: this one does not switch" >&2
  setv aborted 1
  built=0
  exit 3
fi
"#
        ));
    }
    s.push_str(&switch_body(&link, reload, health.map(|h| (h, true))));
    s.push_str(&format!(
        "printf '%s {READY}\\n' \"$M\"; printf '%s {READY}\\n' \"$M\" >&2\n"
    ));
    if gated {
        // Switched: commit, or revert because another server failed to switch.
        let reload_again = reload
            .map(|c| format!("  (cd \"$root\" && eval {}) </dev/null || echo \"reload after switching back failed\" >&2\n", quote(c)))
            .unwrap_or_default();
        s.push_str(&format!(
            r#"IFS= read -r verdict <&3 || verdict=revert
if [ "$verdict" != commit ]; then
  echo "another server of the fleet failed to switch: switching back" >&2
  switch_back || {{ echo "switching back failed: the new release stays live" >&2; unlock; exit 5; }}
{reload_again}  setv reverted 1
  built=0
  exit 4
fi
"#
        ));
    }
    s.push_str(
        "rm -f \"$back\"\n\
         cat <&3 > \"$rel/deployment.log\" || echo 'could not write deployment.log' >&2\n\
         finished=1\nrelog \"$relog_deploy\" success \"${sha:-}\"\n",
    );
    s.push_str(&prune_body(prune, prelude.who));
    s.push_str("unlock\n");
    s
}

/// Lock, then build the release: directory, repository cache, clone, shared links, deploy script,
/// commit. On any failure the half release is removed and the lock released before exiting.
fn build(site: &SiteConfig, release: &str, source: &Source<'_>, run_script: bool) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        r#"rel="$base"/{name}
created=0
built=0
locked=0
finished=0
on_exit() {{
  rc=$?
  # Every deployment that got the lock leaves a line in the server's release log.
  if [ "$locked" = 1 ] && [ "$finished" != 1 ] && [ $rc -ne 0 ]; then
    relog "$relog_deploy" failed "${{sha:-}}"
  fi
  if [ "$built" != 1 ]; then
    [ "$created" = 1 ] && rm -rf "$rel"
    unlock
  fi
  exit $rc
}}
step lock
take_lock
locked=1
trap on_exit EXIT
trap 'exit 130' INT TERM HUP
step mkdir
mkdir -p "$base" "$shared" || exit 1
mkdir "$rel" || {{ echo "cannot create release directory $rel" >&2; exit 1; }}
created=1
"#,
        name = quote(release)
    ));
    match source {
        Source::Git { repository, branch } => {
            s.push_str(&format!(
                r#"repo={repo}
branch={branch}
cache="$meta/repo.git"
step fetch
if [ -d "$cache" ] && [ "$(git --git-dir="$cache" config --get remote.origin.url)" = "$repo" ]; then
  git --git-dir="$cache" fetch --prune --quiet origin || exit 1
else
  rm -rf "$cache.new" && git clone --mirror --quiet -- "$repo" "$cache.new" || {{ rm -rf "$cache.new"; exit 1; }}
  rm -rf "$cache" && mv "$cache.new" "$cache" || exit 1
fi
step clone
git clone --quiet --local --branch "$branch" -- "$cache" "$rel" || exit 1
git -C "$rel" remote set-url origin "$repo" || exit 1
"#,
                repo = quote(repository),
                branch = quote(branch),
            ));
        }
        Source::Placeholder => {
            s.push_str(
                r#"step placeholder
mkdir -p "$rel/public" && printf '%s\n' '<?php echo "Provisioned by flipdeck. Configure a repository and deploy.";' > "$rel/public/index.php" || exit 1
"#,
            );
        }
    }
    s.push_str("step links\n");
    for entry in &site.shared {
        s.push_str(&link_shared(entry));
    }
    if run_script {
        s.push_str(&format!(
            "cd \"$rel\" || exit 1\nexport FLIPDECK_RELEASE={r} FLIPDECK_RELEASE_PATH=\"$rel\" FLIPDECK_DOMAIN=\"$domain\" FLIPDECK_SHARED_PATH=\"$shared\"\n",
            r = quote(release)
        ));
        let lines = script_lines(&site.deployment_script);
        for (i, line) in lines.iter().enumerate() {
            s.push_str(&format!(
                "step {}\neval {} </dev/null\nrc=$?; [ $rc -eq 0 ] || exit $rc\ncd \"$rel\" || exit 1\n",
                quote(&format!("script {}/{}: {}", i + 1, lines.len(), line)),
                quote(line)
            ));
        }
    }
    if matches!(source, Source::Git { .. }) {
        s.push_str(
            "step commit\nsha=$(git -C \"$rel\" rev-parse HEAD) || exit 1\nsetv commit \"$sha\"\n",
        );
    }
    s.push_str("built=1\nsetv built 1\n");
    s
}

/// The lines of a deploy script that run: blank lines and comments are skipped.
pub fn script_lines(script: &str) -> Vec<&str> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Link one shared entry into the release. A missing shared entry is seeded from the release's own
/// copy when the repository has one (e.g. Laravel's `storage/` skeleton), else created empty.
fn link_shared(entry: &str) -> String {
    let is_file = SiteConfig::shared_is_file(entry);
    let e = entry.trim_end_matches('/');
    let depth = e.matches('/').count();
    let target = format!("{}shared/{e}", "../".repeat(depth + 1));
    // Nested entries need their parent directories; top-level ones (the usual) spare the processes.
    let parent = |dir: &str| {
        if depth == 0 {
            String::new()
        } else {
            format!("mkdir -p \"$(dirname \"{dir}/$e\")\" && ")
        }
    };
    let create = if is_file {
        format!("{}touch \"$shared/$e\"", parent("$shared"))
    } else {
        "mkdir -p \"$shared/$e\"".to_string()
    };
    format!(
        r#"e={e}
if [ ! -e "$shared/$e" ] && [ ! -L "$shared/$e" ]; then
  if [ -e "$rel/$e" ] && [ ! -L "$rel/$e" ]; then
    {seed_parent}cp -a "$rel/$e" "$shared/$e" || exit 1
  else
    {create} || exit 1
  fi
fi
if [ -e "$rel/$e" ] || [ -L "$rel/$e" ]; then rm -rf "$rel/$e" || exit 1; fi
{rel_parent}ln -s {target} "$rel/$e" || exit 1
"#,
        e = quote(e),
        target = quote(&target),
        seed_parent = parent("$shared"),
        rel_parent = parent("$rel"),
    )
}

/// Point the live symlink at `link`: a new link under a temporary name beside the live one, then
/// rename(2) over it (decisions 2). Never `ln -sfn`, which is not atomic everywhere.
const SWITCH_FN: &str = r#"switch_to() {
  tmp="$root/.$domain.flipdeck-$$"
  if [ -e "$live" ] && [ ! -L "$live" ]; then
    echo "$live exists and is not a symlink; move it away so flipdeck can manage it" >&2
    return 1
  fi
  rm -f "$tmp" && ln -s "$1" "$tmp" && mv -T "$tmp" "$live" || { rm -f "$tmp"; return 1; }
}
# Back to $prev through the link made before the switch: a rename only, so it needs no free
# inode or byte (a full disk cannot keep a failed release live).
switch_back() {
  if [ -n "$prev" ]; then mv -T "$back" "$live"; else rm -f "$live"; fi
}
"#;

/// Switch to the new release, reload, then run the health check. A failing reload or health check
/// switches back to what was live before (or removes the link if nothing was), so a failed
/// deployment is never left live.
pub fn switch(
    prelude: &Prelude<'_>,
    link: &str,
    reload: Option<&str>,
    health: Option<&HealthCheck>,
) -> String {
    prelude.render() + &switch_body(link, reload, health.map(|h| (h, true))) + "rm -f \"$back\"\n"
}

/// The switch and what follows it; `health` carries whether a failing check switches back.
fn switch_body(link: &str, reload: Option<&str>, health: Option<(&HealthCheck, bool)>) -> String {
    let mut s = String::from(SWITCH_FN);
    s.push_str(&format!(
        r#"new={link}
step switch
prev=$(readlink "$live" 2>/dev/null)
setv prev "$prev"
back="$root/.$domain.flipdeck-back-$$"
if [ -n "$prev" ]; then
  rm -f "$back" && ln -s "$prev" "$back" || {{ rm -f "$back"; echo "cannot prepare the way back to $prev, so not switching" >&2; exit 1; }}
fi
switch_to "$new" || {{ rm -f "$back"; exit 1; }}
setv switched 1
"#,
        link = quote(link)
    ));
    if let Some(cmd) = reload {
        s.push_str(&format!(
            r#"step reload
(cd "$root" && eval {cmd}) </dev/null
rc=$?
if [ $rc -ne 0 ]; then
  echo "reload failed (exit $rc); switching back" >&2
  switch_back || exit 1
  setv switched_back 1
  exit $rc
fi
"#,
            cmd = quote(cmd)
        ));
    }
    if let Some((hc, switch_back)) = health {
        s.push_str(&super::health::check_fn(hc));
        if switch_back {
            s.push_str(
                r#"if ! health_check; then
  echo "health check failed; switching back" >&2
  switch_back || exit 1
  setv switched_back 1
"#,
            );
            if let Some(cmd) = reload {
                // The release now live again gets the same reload the new one got.
                s.push_str(&format!(
                    "  (cd \"$root\" && eval {}) </dev/null || echo \"reload after switching back failed\" >&2\n",
                    quote(cmd)
                ));
            }
            s.push_str("  exit 1\nfi\n");
        } else {
            s.push_str("health_check || echo \"health check failed; the switch is kept\" >&2\n");
        }
    }
    s
}

/// Delete releases, re-reading the live symlink first: the server is the truth, so a release that
/// is live there is kept whatever the DB believes (decisions 4).
fn prune_body(names: &[String], who: &str) -> String {
    if names.is_empty() {
        return String::new();
    }
    // A release is first renamed into `.flipdeck/` (atomic), then deleted: an interrupted prune
    // leaves hidden trash, never a half-deleted release that could be rolled back to. Trash from
    // an earlier interrupted prune goes first.
    let mut s = String::from(
        "step prune\nrm -rf \"$meta\"/.trash-* 2>/dev/null\n\
         live_now=$(readlink \"$live\" 2>/dev/null)\nlive_now=${live_now##*/}\n",
    );
    for n in names {
        s.push_str(&format!(
            r#"r={n}
if [ "$r" = "$live_now" ]; then
  setv kept_live "$r"
elif [ ! -e "$base/$r" ] || mv "$base/$r" "$meta/.trash-$r-$$"; then
  setv pruned "$r"
  relog {p} pruned ""
  rm -rf "$meta/.trash-$r-$$"
else
  setv prune_failed "$r"
fi
"#,
            n = quote(n),
            p = quote(&super::release_log::prefix(
                "prune", n, None, who, None, None
            ))
        ));
    }
    s
}

/// The prune command: lock, delete, unlock.
pub fn prune(prelude: &Prelude<'_>, names: &[String]) -> String {
    let mut s = prelude.render();
    s.push_str("step lock\ntake_lock\ntrap unlock EXIT\n");
    s.push_str(&prune_body(names, prelude.who));
    s
}

/// Rollback in one exec: lock, verify the target directory, switch, reload, health check (its
/// result is reported, the rollback kept), unlock.
pub fn rollback(
    prelude: &Prelude<'_>,
    release: &str,
    link: &str,
    after: AfterSwitch<'_>,
    relog: (&str, &str),
) -> String {
    let AfterSwitch { reload, health } = after;
    let mut s = prelude.render();
    s.push_str(&format!(
        r#"step lock
take_lock
trap unlock EXIT
step verify
if [ ! -d "$base"/{name} ]; then
  setv missing 1
  echo "release directory $base/"{name}" is gone" >&2
  exit 1
fi
"#,
        name = quote(release)
    ));
    s.push_str(&switch_body(link, reload, health.map(|h| (h, false))));
    s.push_str("rm -f \"$back\"\n");
    let (prefix, commit) = relog;
    s.push_str(&format!(
        "relog {} success {}\n",
        quote(prefix),
        quote(commit)
    ));
    s
}

/// Stops what is left of this job on the target (after a lost connection, before looking at the
/// live link: a held-up command must not switch it afterwards).
/// Reports the live link then; with `unlock`, our lock is released too.
pub fn stop_own(prelude: &Prelude<'_>, unlock: bool) -> String {
    prelude.render()
        + r#"stop_job "$token"
if grep -qF "token=$token" "$lock/owner" 2>/dev/null; then clear_switch_links; fi
setv live "$(readlink "$live" 2>/dev/null)"
"# + if unlock { "unlock\n" } else { "" }
}

/// Removes a half-built release and our lock after an interrupted build (cancel, lost connection).
pub fn cleanup(prelude: &Prelude<'_>, release: Option<&str>) -> String {
    let mut s = prelude.render();
    if let Some(r) = release {
        // Whatever the caller believes, a live release is never removed.
        s.push_str(&format!(
            "r={}\nlive_now=$(readlink \"$live\" 2>/dev/null)\n[ \"${{live_now##*/}}\" = \"$r\" ] || rm -rf \"$base/$r\"\n",
            quote(r)
        ));
    }
    s.push_str("unlock\n");
    s
}

/// Read-only look at the server: the live link, the release directories, the lock holder.
pub fn inspect(prelude: &Prelude<'_>) -> String {
    let mut s = prelude.render();
    s.push_str(
        r#"if [ -L "$live" ]; then setv live "$(readlink "$live")"; elif [ -e "$live" ]; then setv live_not_link 1; fi
if [ -d "$base" ]; then
  for d in "$base"/*/; do
    [ -d "$d" ] || continue
    d=${d%/}; d=${d##*/}
    [ "$d" = shared ] || setv release "$d"
  done
fi
if [ -d "$lock" ]; then setv lock "$(head -n 1 "$lock/owner" 2>/dev/null)"; fi
"#,
    );
    s.push_str(&super::release_log::read_script());
    s
}

/// Crash recovery for a deployment whose flipdeck died: what its job (`token`, when the history
/// knows it) and the lock holder left running is stopped; its lock (only if it still names that
/// deployment) is removed, and its release too unless it went live (then its commit is reported).
pub fn recover(
    prelude: &Prelude<'_>,
    deployment_id: i64,
    release: &str,
    token: Option<&str>,
) -> String {
    let mut s = prelude.render();
    if let Some(t) = token {
        s.push_str(&format!("stop_job {}\n", quote(t)));
    }
    s.push_str(&format!(
        r#"r={r}
if grep -qw {owner} "$lock/owner" 2>/dev/null; then stop_holder; fi
live_now=$(readlink "$live" 2>/dev/null)
if [ "${{live_now##*/}}" = "$r" ]; then
  setv went_live 1
  setv commit "$(git -C "$base/$r" rev-parse HEAD 2>/dev/null)"
else
  rm -rf "$base/$r" || exit 1
fi
if grep -qw {owner} "$lock/owner" 2>/dev/null; then rm -rf "$lock"; fi
"#,
        r = quote(release),
        owner = quote(&format!("deployment={deployment_id}")),
    ));
    s
}

/// Removes the directories of failed deployments, under the lock; a live one is kept.
pub fn remove_leftovers(prelude: &Prelude<'_>, names: &[String]) -> String {
    let mut s = prelude.render();
    s.push_str(
        "take_lock
trap unlock EXIT
live_now=$(readlink \"$live\" 2>/dev/null)
",
    );
    for n in names {
        s.push_str(&format!(
            "r={}
if [ \"${{live_now##*/}}\" != \"$r\" ] && [ -d \"$base/$r\" ]; then rm -rf \"$base/$r\" && setv removed \"$r\"; fi
",
            quote(n)
        ));
    }
    s
}

/// `flipdeck unlock`: read the holder, remove the lock.
pub fn force_unlock(prelude: &Prelude<'_>) -> String {
    let mut s = prelude.render();
    s.push_str(
        r#"if [ ! -d "$lock" ]; then setv nolock 1; exit 0; fi
setv holder "$(head -n 1 "$lock/owner" 2>/dev/null)"
stop_holder
rm -rf "$lock" || exit 1
"#,
    );
    s
}

/// Provisioning's layout step: base, shared entries, and a look at what is live.
pub fn provision_layout(prelude: &Prelude<'_>, site: &SiteConfig) -> String {
    let mut s = prelude.render();
    s.push_str("step layout\nmkdir -p \"$base\" \"$shared\" \"$meta\" || exit 1\n");
    for entry in &site.shared {
        let e = entry.trim_end_matches('/');
        if SiteConfig::shared_is_file(entry) {
            s.push_str(&format!(
                "e={}\nmkdir -p \"$(dirname \"$shared/$e\")\" && {{ [ -e \"$shared/$e\" ] || touch \"$shared/$e\"; }} || exit 1\n",
                quote(e)
            ));
        } else {
            s.push_str(&format!("mkdir -p \"$shared\"/{} || exit 1\n", quote(e)));
        }
    }
    s.push_str(
        r#"if [ -L "$live" ]; then
  setv live "$(readlink "$live")"
  [ -d "$live/" ] && setv live_ok 1
elif [ -e "$live" ]; then
  echo "$live exists and is not a symlink; move it away so flipdeck can manage it" >&2
  exit 1
fi
"#,
    );
    s
}
