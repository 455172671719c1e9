//! The scripts the engine sends to a target. The shell itself lives in `assets/remote/`: `lib.sh`
//! (shared functions) and one file per operation. A script is a block of parameters, one
//! `name='value'` line each (every value through `shell::quote`, so nothing reaches the shell
//! unquoted), then `lib.sh`, then the operation's file. Optional parts are parameters the shell
//! tests; lists are numbered parameters (`LIST_n`, `LIST_1` ...) it iterates. One script is one
//! exec, however many steps it reports (see `protocol`).

use super::layout::Layout;
use super::protocol::{DEPLOY_KEY, GIT_KNOWN_HOSTS, JOB_ENV, LockOwner, Params};
use crate::config::{HealthCheck, Hooks, SiteConfig};
use crate::shell::quote;

pub const LIB: &str = include_str!("../../assets/remote/lib.sh");
pub const DEPLOY: &str = include_str!("../../assets/remote/deploy.sh");
pub const ROLLBACK: &str = include_str!("../../assets/remote/rollback.sh");
pub const SWITCH: &str = include_str!("../../assets/remote/switch.sh");
pub const PRUNE: &str = include_str!("../../assets/remote/prune.sh");
pub const INSPECT: &str = include_str!("../../assets/remote/inspect.sh");
pub const INSPECT_SERVER: &str = include_str!("../../assets/remote/inspect_server.sh");
pub const STOP_OWN: &str = include_str!("../../assets/remote/stop_own.sh");
pub const CLEANUP: &str = include_str!("../../assets/remote/cleanup.sh");
pub const RECOVER: &str = include_str!("../../assets/remote/recover.sh");
pub const REMOVE_LEFTOVERS: &str = include_str!("../../assets/remote/remove_leftovers.sh");
pub const UNLOCK: &str = include_str!("../../assets/remote/unlock.sh");
pub const PROVISION: &str = include_str!("../../assets/remote/provision.sh");
pub const FPM: &str = include_str!("../../assets/remote/fpm.sh");
pub const NGINX: &str = include_str!("../../assets/remote/nginx.sh");
pub const READ_LOG: &str = include_str!("../../assets/remote/read_log.sh");
pub const DOCTOR: &str = include_str!("../../assets/remote/doctor.sh");
pub const KEYGEN: &str = include_str!("../../assets/remote/keygen.sh");
pub const ENV_READ: &str = include_str!("../../assets/remote/env_read.sh");
pub const ENV_WRITE: &str = include_str!("../../assets/remote/env_write.sh");
pub const ENV_STATUS: &str = include_str!("../../assets/remote/env_status.sh");
pub const COMMAND: &str = include_str!("../../assets/remote/command.sh");
pub const DIFF: &str = include_str!("../../assets/remote/diff.sh");
pub const DRY_RUN: &str = include_str!("../../assets/remote/dry_run.sh");
pub const SIGNALS: &str = include_str!("../../assets/remote/signals.sh");

/// Every file of `assets/remote`, by name (for the tests that read them).
pub const FILES: &[(&str, &str)] = &[
    ("lib.sh", LIB),
    ("deploy.sh", DEPLOY),
    ("rollback.sh", ROLLBACK),
    ("switch.sh", SWITCH),
    ("prune.sh", PRUNE),
    ("inspect.sh", INSPECT),
    ("inspect_server.sh", INSPECT_SERVER),
    ("stop_own.sh", STOP_OWN),
    ("cleanup.sh", CLEANUP),
    ("recover.sh", RECOVER),
    ("remove_leftovers.sh", REMOVE_LEFTOVERS),
    ("unlock.sh", UNLOCK),
    ("provision.sh", PROVISION),
    ("fpm.sh", FPM),
    ("nginx.sh", NGINX),
    ("read_log.sh", READ_LOG),
    ("doctor.sh", DOCTOR),
    ("keygen.sh", KEYGEN),
    ("env_read.sh", ENV_READ),
    ("env_write.sh", ENV_WRITE),
    ("env_status.sh", ENV_STATUS),
    ("command.sh", COMMAND),
    ("diff.sh", DIFF),
    ("dry_run.sh", DRY_RUN),
    ("signals.sh", SIGNALS),
];

/// At most this many lines, and bytes, of the application's log per second of a watch.
pub const APP_LINES_PER_S: u32 = 20;
pub const APP_BYTES_PER_S: u32 = 4096;

/// The watch after a deploy's switch (`signals.sh`): `seconds` seconds of the site's signals.
pub fn signals(prelude: &Prelude<'_>, watch: &crate::config::Watch, seconds: u32) -> String {
    let p = Params::new()
        .set("watch_s", &seconds.to_string())
        .set("access_log", &watch.access_log)
        .set("app_log", watch.app_log.as_deref().unwrap_or(""))
        .set("app_lines", &APP_LINES_PER_S.to_string())
        .set("app_bytes", &APP_BYTES_PER_S.to_string());
    prelude.script(p, &[SIGNALS])
}

/// What every script is told first.
pub struct Prelude<'a> {
    /// Starts every marker line (see `protocol::Marker`); unguessable by a deploy script.
    pub marker: &'a str,
    /// Starts every line the deploy script's shell traces (its `PS4`): not secret, since a trace
    /// line only shows which command runs.
    pub trace: &'a str,
    pub layout: &'a Layout,
    /// Identifies our lock: only a lock holding this token is ever removed by us automatically.
    pub token: &'a str,
    /// Written into the lock we take.
    pub owner: &'a LockOwner,
    /// `user@machine`, as written in the server's release log.
    pub who: &'a str,
}

impl Prelude<'_> {
    /// The parameters `lib.sh` needs.
    pub fn params(&self) -> Params {
        let (root, from_home) = match &self.layout.root {
            Some(r) => (r.as_str(), false),
            None => ("", true),
        };
        Params::new()
            .set("M", self.marker)
            .set("token", self.token)
            .set("owner", &self.owner.to_string())
            .set("job_env", JOB_ENV)
            .set("root", root)
            .flag("home_root", from_home)
            .set("domain", &self.layout.domain)
    }

    /// The whole script: our parameters and the operation's, `lib.sh`, then `parts`.
    pub fn script(&self, op: Params, parts: &[&str]) -> String {
        assemble(&(self.params().as_str().to_string() + op.as_str()), parts)
    }
}

/// Parameters, then `lib.sh`, then `parts`.
pub fn assemble(params: &str, parts: &[&str]) -> String {
    let mut s = String::with_capacity(
        params.len() + LIB.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>(),
    );
    s.push_str(params);
    s.push_str(LIB);
    for p in parts {
        s.push_str(p);
    }
    s
}

/// How a job's script is started: the command (what `ps` shows on the server) and what is sent
/// first on its stdin (the script itself). The command only reads the script's bytes from stdin
/// and runs it, so no other user of the server can read the script (values, paths, the marker
/// key) in the process list, and no list is too long for one SSH request. `head -c` reads exactly
/// that many bytes, so whatever the job sends on stdin later (the log, the fleet's answers, a file
/// to install) stays for the script. Every process of the job carries its token in its
/// environment (`protocol::JOB_ENV`), so whoever recovers after flipdeck or the connection died
/// can find and stop what is still running.
pub fn launch(token: &str, script: &str) -> (String, Vec<u8>) {
    let command = format!(
        "exec env {JOB_ENV}={} sh -c 's=$(head -c {}) && eval \"$s\"'",
        quote(token),
        script.len()
    );
    (command, script.as_bytes().to_vec())
}

/// Prints a file of the server (`read_log.sh`: a deployment's log); needs no job.
pub fn read_log(path: &str) -> String {
    Params::new().set("log_path", path).as_str().to_string() + READ_LOG
}

/// Where the code of a new release comes from (see `deploy.sh`'s source block).
pub enum Source<'a> {
    /// The server fetches `repository` into its cache and checks out `rev` (a validated ref or
    /// commit id), or the branch when there is none.
    Git {
        repository: &'a str,
        branch: &'a str,
        rev: Option<&'a str>,
    },
    /// The server's cache is sent a pack of `commit` (see `protocol::NEED`), which `push_ref`
    /// then names; the release checks out the branch, or `commit` itself for a `--ref` deploy.
    Push {
        branch: &'a str,
        commit: &'a str,
        push_ref: &'a str,
        detached: bool,
    },
    /// The release is the tar sent as the first frame (gzipped or not), built from `commit`.
    Artifact { gzip: bool, commit: Option<&'a str> },
    /// The spec's provisioning without a repository: a placeholder `public/index.php`.
    Placeholder,
}

/// What runs right after the switch: the reload, the site's hooks, then the health check (a
/// failure of the reload, of after_switch or of the check switches a deploy back).
#[derive(Clone, Copy, Default)]
pub struct AfterSwitch<'a> {
    pub reload: Option<&'a str>,
    pub health: Option<&'a HealthCheck>,
    /// None: no hook runs (provisioning's initial deployment).
    pub hooks: Option<&'a Hooks>,
}

impl AfterSwitch<'_> {
    fn params(&self, p: Params, domain: &str) -> Params {
        let hook = |h: fn(&Hooks) -> &Option<String>| {
            self.hooks.and_then(|x| h(x).as_deref()).unwrap_or("")
        };
        let p = p
            .set("reload_cmd", self.reload.unwrap_or(""))
            .set("hook_after_switch", hook(|h| &h.after_switch))
            .set("hook_after_rollback", hook(|h| &h.after_rollback))
            .set("hook_on_failure", hook(|h| &h.on_failure));
        super::health::params(p, self.health, domain)
    }
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
    /// Once switched, wait for `commit` or `revert` (the watch after the switch decides).
    pub hold: bool,
}

/// A whole deploy in one exec (`deploy.sh`): lock, build, switch and reload; then, once the engine
/// has recorded the success and sent the log (see `protocol::READY`), write it into the release,
/// prune and unlock.
pub fn deploy(
    prelude: &Prelude<'_>,
    site: &SiteConfig,
    release: &str,
    source: &Source<'_>,
    run_script: bool,
    after: AfterSwitch<'_>,
    finish: Finish<'_>,
) -> String {
    let p = deploy_params(prelude, site, release, source, run_script, after, finish);
    prelude.script(p, &[DEPLOY])
}

/// What provisioning checks besides the layout: PHP-FPM's config (`fpm_conf`, see `fpm.sh`) and
/// the reload `php_version` implies (`php_reload`, checked against `sudo -n`).
#[derive(Clone, Copy, Default)]
pub struct LayoutChecks<'a> {
    pub fpm_conf: Option<&'a str>,
    pub php_reload: Option<&'a str>,
}

/// Provisioning in one exec: the layout step (`provision.sh`: base, shared entries, a look at
/// what is live), which ends the script when a release is live already; else the initial deploy
/// (`deploy.sh`) follows in the same shell.
pub fn provision_deploy(
    prelude: &Prelude<'_>,
    site: &SiteConfig,
    checks: LayoutChecks<'_>,
    release: &str,
    source: &Source<'_>,
    after: AfterSwitch<'_>,
    finish: Finish<'_>,
) -> String {
    let p = deploy_params(prelude, site, release, source, false, after, finish)
        .set("fpm_conf", checks.fpm_conf.unwrap_or(""))
        .set("php_reload", checks.php_reload.unwrap_or(""));
    prelude.script(p, &[FPM, PROVISION, DEPLOY])
}

fn deploy_params(
    prelude: &Prelude<'_>,
    site: &SiteConfig,
    release: &str,
    source: &Source<'_>,
    run_script: bool,
    after: AfterSwitch<'_>,
    finish: Finish<'_>,
) -> Params {
    let (mut want, mut push_ref, mut art_z, mut src_commit) = ("", "", "", "");
    let (kind, repo, branch) = match source {
        Source::Git {
            repository,
            branch,
            rev,
        } => {
            want = rev.unwrap_or("");
            ("git", *repository, *branch)
        }
        Source::Push {
            branch,
            commit,
            push_ref: r,
            detached,
        } => {
            push_ref = r;
            src_commit = commit;
            want = if *detached { commit } else { "" };
            ("push", "", *branch)
        }
        Source::Artifact { gzip, commit } => {
            art_z = if *gzip { "z" } else { "" };
            src_commit = commit.unwrap_or("");
            ("artifact", "", "")
        }
        Source::Placeholder => ("placeholder", "", ""),
    };
    // The release-log line names the release, which the script may change (see deploy.sh).
    const KEY: &str = "\"release\":\"";
    let at = finish
        .relog
        .find(&format!("{KEY}{release}\""))
        .expect("the release-log prefix names the release")
        + KEY.len();
    let (relog_before, rest) = finish.relog.split_at(at);
    let relog_after = &rest[release.len()..];
    let p = Params::new()
        .set("rel_name", release)
        .set("release_link", &prelude.layout.link_target(release))
        .set("relog_before_name", relog_before)
        .set("relog_after_name", relog_after)
        .set("source", kind)
        .set("repo", repo)
        .set("branch", branch)
        .set("want", want)
        .set("push_ref", push_ref)
        .set("src_commit", src_commit)
        .set("art_z", art_z)
        .flag("run_script", run_script)
        .set("deploy_script", &site.deployment_script)
        .flag("require_env", site.require_env)
        .set("trace", prelude.trace)
        .export("GIT_SSH_COMMAND", &git_ssh_command(prelude.layout))
        .export("GIT_SSH_VARIANT", "ssh");
    let p = writable_params(cached_params(shared_params(p, site), site), site);
    let p = after.params(p, &prelude.layout.domain);
    prune_params(p, finish.prune, prelude.who)
        .flag("fleet_gate", finish.gated)
        .flag("hold_switch", finish.hold)
}

/// How git reaches a repository over SSH during a deploy: with the site's deploy key and only
/// that key when `flipdeck keygen` made one (else the login user's keys and a forwarded agent),
/// checking the git host against the keys pinned for the site and then `~/.ssh/known_hosts`,
/// never asking (BatchMode: an unknown host fails). Git runs it through `sh` with its arguments.
pub fn git_ssh_command(layout: &Layout) -> String {
    let meta = match &layout.root {
        Some(r) => quote(&format!("{r}/deployments/{}/.flipdeck", layout.domain)),
        None => format!(
            "\"${{HOME%/}}\"/deployments/{}/.flipdeck",
            quote(&layout.domain)
        ),
    };
    format!(
        "d={meta}; if [ -f \"$d/{DEPLOY_KEY}\" ]; then set -- -i \"$d/{DEPLOY_KEY}\" -o IdentitiesOnly=yes \"$@\"; fi; exec ssh -o BatchMode=yes -o UserKnownHostsFile=\"$d/{GIT_KNOWN_HOSTS} ~/.ssh/known_hosts\""
    )
}

/// The shared entries: the list `shared` (without a trailing `/`) and `shared_kind_I`.
fn shared_params(p: Params, site: &SiteConfig) -> Params {
    let entries: Vec<&str> = site
        .shared
        .iter()
        .map(|e| e.trim_end_matches('/'))
        .collect();
    let kinds: Vec<&str> = site
        .shared
        .iter()
        .map(|e| {
            if SiteConfig::shared_is_file(e) {
                "file"
            } else {
                "dir"
            }
        })
        .collect();
    p.list("shared", &entries).list("shared_kind", &kinds)
}

/// The writable paths (the list `writable`, each `writable_at_I` `shared` when it lives under a
/// shared path, else `release`), `writable_mode` (empty: none) and `web_user`.
fn writable_params(p: Params, site: &SiteConfig) -> Params {
    let Some(w) = &site.writable else {
        return p
            .list("writable", &[] as &[&str])
            .set("writable_mode", "")
            .set("web_user", "");
    };
    let at: Vec<&str> = w
        .paths
        .iter()
        .map(|e| {
            let shared = site.shared.iter().any(|s| {
                let s = s.trim_end_matches('/');
                e == s || e.starts_with(&format!("{s}/"))
            });
            if shared { "shared" } else { "release" }
        })
        .collect();
    p.list("writable", &w.paths)
        .list("writable_at", &at)
        .set("writable_mode", w.mode.as_str())
        .set("web_user", &w.user)
}

/// The dependency folders copied from the live release (the list `cached`).
fn cached_params(p: Params, site: &SiteConfig) -> Params {
    let entries: Vec<&str> = site
        .cached
        .iter()
        .map(|e| e.trim_end_matches('/'))
        .collect();
    p.list("cached", &entries)
}

/// The releases to prune (the list `prune`) and each one's release-log prefix (`prune_relog`).
fn prune_params(p: Params, names: &[String], who: &str) -> Params {
    let relogs: Vec<String> = names
        .iter()
        .map(|n| crate::release_log::prefix("prune", n, None, who, None, None))
        .collect();
    p.list("prune", names).list("prune_relog", &relogs)
}

/// Points the live symlink at `link`, with the way back made first (`switch.sh`). `back`: a
/// deploy's switch back after an interruption, which runs the site's `after_rollback` (its text)
/// for the release live again; the second item is the release switched away from.
pub fn switch(prelude: &Prelude<'_>, link: &str, back: Option<(&str, &str)>) -> String {
    let (hook, from) = back.unwrap_or(("", ""));
    prelude.script(
        Params::new()
            .set("link", link)
            .set("hook_after_rollback", hook)
            .set("from_rel", from)
            .set("trace", prelude.trace),
        &[SWITCH],
    )
}

/// The prune command (`prune.sh`): lock, delete, unlock.
pub fn prune(prelude: &Prelude<'_>, names: &[String]) -> String {
    prelude.script(prune_params(Params::new(), names, prelude.who), &[PRUNE])
}

/// Rollback in one exec (`rollback.sh`): lock, verify the target directory, switch, reload,
/// health check (its result is reported, the rollback kept), unlock. `relog` is the release-log
/// prefix and the commit.
pub fn rollback(
    prelude: &Prelude<'_>,
    release: &str,
    link: &str,
    after: AfterSwitch<'_>,
    relog: (&str, &str),
) -> String {
    let p = Params::new()
        .set("rel_name", release)
        .set("release_link", link)
        .set("trace", prelude.trace)
        .set("relog_prefix", relog.0)
        .set("relog_commit", relog.1);
    let p = after.params(p, &prelude.layout.domain);
    prelude.script(p, &[ROLLBACK])
}

/// Stops what is left of this job on the target (after a lost connection, before looking at the
/// live link: a held-up command must not switch it afterwards), then reports the live link; with
/// `unlock`, our lock is released too (`stop_own.sh`).
pub fn stop_own(prelude: &Prelude<'_>, unlock: bool) -> String {
    prelude.script(Params::new().flag("and_unlock", unlock), &[STOP_OWN])
}

/// The `on_failure` hook a clean-up runs (unless the deploy's own script did): its text, the
/// failed deploy's release and the step that failed.
pub struct OnFailure<'a> {
    pub hook: &'a str,
    pub release: &'a str,
    pub step: &'a str,
}

/// Removes a half-built release and our lock after an interrupted build (`cleanup.sh`), running
/// `on_failure` in between.
pub fn cleanup(
    prelude: &Prelude<'_>,
    release: Option<&str>,
    on_failure: Option<OnFailure<'_>>,
) -> String {
    let f = on_failure.unwrap_or(OnFailure {
        hook: "",
        release: "",
        step: "",
    });
    prelude.script(
        Params::new()
            .set("rel_name", release.unwrap_or(""))
            .set("hook_on_failure", f.hook)
            .set("failed_rel", f.release)
            .set("failed_step", f.step)
            .set("trace", prelude.trace),
        &[CLEANUP],
    )
}

/// Read-only look at the server (`inspect.sh`): the live link, the release directories, the lock
/// holder, the newest lines of the release log.
pub fn inspect(prelude: &Prelude<'_>) -> String {
    prelude.script(
        Params::new().set("relog_tail", &crate::release_log::TAIL.to_string()),
        &[INSPECT],
    )
}

/// Read-only look at every site of a server in one exec (`inspect_server.sh`): for each of
/// `sites` (domain, the release log's size at the last read, whether it shares `.env`), what
/// `inspect` reads, the release log from that offset on, and the .env's status
/// (`env_status.sh`: key names only).
pub fn inspect_server(prelude: &Prelude<'_>, sites: &[(String, u64, bool)]) -> String {
    let domains: Vec<&str> = sites.iter().map(|(d, _, _)| d.as_str()).collect();
    let offsets: Vec<String> = sites.iter().map(|(_, o, _)| o.to_string()).collect();
    let envs: Vec<&str> = sites
        .iter()
        .map(|(_, _, e)| if *e { "1" } else { "" })
        .collect();
    prelude.script(
        Params::new()
            .set("relog_tail", &crate::release_log::TAIL.to_string())
            .list("domains", &domains)
            .list("offsets", &offsets)
            .list("envs", &envs),
        &[ENV_STATUS, INSPECT_SERVER],
    )
}

/// Reads the shared .env (`env_read.sh`), hex-encoded into a report value: never output. With
/// `version`, that saved version too; with `list`, the saved versions' records.
pub fn env_read(prelude: &Prelude<'_>, version: Option<u32>, list: bool, max: usize) -> String {
    let version = version.map(|v| v.to_string()).unwrap_or_default();
    let p = Params::new()
        .set("env_version", &version)
        .flag("env_list", list)
        .set("env_max", &max.to_string());
    prelude.script(p, &[ENV_READ])
}

/// What `env_write.sh` is told besides the two files it reads from stdin.
pub struct EnvWrite<'a> {
    /// Whether there was a file when it was read (else none may have appeared since).
    pub existed: bool,
    pub old_len: usize,
    pub new_len: usize,
    pub keep: u32,
    /// The saved version's record: the keys changed, never a value.
    pub change: &'a str,
}

/// Replaces the shared .env under the lock (`env_write.sh`), saving the replaced one.
pub fn env_write(prelude: &Prelude<'_>, w: &EnvWrite<'_>) -> String {
    let p = Params::new()
        .set("env_expect", if w.existed { "file" } else { "missing" })
        .set("env_old_len", &w.old_len.to_string())
        .set("env_new_len", &w.new_len.to_string())
        .set("env_keep", &w.keep.to_string())
        .set("env_who", prelude.who)
        .set("env_change", w.change);
    prelude.script(p, &[ENV_WRITE])
}

/// Crash recovery for a deployment whose flipdeck died (`recover.sh`): what its job (`token`, when
/// the history knows it) and the lock holder left running is stopped; its lock (only if it still
/// names that deployment) is removed, and its release too unless it went live.
pub fn recover(
    prelude: &Prelude<'_>,
    deployment_id: i64,
    release: &str,
    token: Option<&str>,
) -> String {
    let p = Params::new()
        .set("job_token", token.unwrap_or(""))
        .set("owner_word", &LockOwner::deployment_word(deployment_id))
        .set("rel_name", release);
    prelude.script(p, &[RECOVER])
}

/// Removes the directories of failed deployments, under the lock; a live one is kept.
/// Removes failed deployments' releases (`remove_leftovers.sh`), each given with its job's token:
/// only what that job made is removed.
pub fn remove_leftovers(prelude: &Prelude<'_>, leftovers: &[(String, String)]) -> String {
    let names: Vec<&str> = leftovers.iter().map(|(n, _)| n.as_str()).collect();
    let jobs: Vec<&str> = leftovers.iter().map(|(_, j)| j.as_str()).collect();
    prelude.script(
        Params::new()
            .list("leftover", &names)
            .list("leftover_job", &jobs),
        &[REMOVE_LEFTOVERS],
    )
}

/// `flipdeck unlock` (`unlock.sh`): read the holder, stop its processes, remove the lock.
pub fn force_unlock(prelude: &Prelude<'_>) -> String {
    prelude.script(Params::new(), &[UNLOCK])
}

/// `flipdeck keygen` (`keygen.sh`): the site's deploy key, and the git host `host:port` looked up
/// among the pinned keys; scanned and reported when it is not there, pinned when `pin_fp` names
/// the key the operator confirmed.
pub fn keygen(prelude: &Prelude<'_>, host: &str, port: u16, comment: &str, pin_fp: &str) -> String {
    let p = Params::new()
        .set("key_name", DEPLOY_KEY)
        .set("hosts_name", GIT_KNOWN_HOSTS)
        .set("key_comment", comment)
        .set("git_host", host)
        .set("git_port", &port.to_string())
        .set("pin_fp", pin_fp);
    prelude.script(p, &[KEYGEN])
}

/// A site command in the live release (`command.sh`), traced like the deploy script.
pub fn command(prelude: &Prelude<'_>, name: &str, text: &str) -> String {
    let p = Params::new()
        .set("cmd_name", name)
        .set("cmd_text", text)
        .set("trace", prelude.trace);
    prelude.script(p, &[COMMAND])
}
