//! The wire between the engine and the scripts it runs on a target (`assets/remote/*.sh`): the
//! marker lines a script prints, the values it reports, the lock's owner line, the exit codes and
//! the words of a conversation over its stdin. Everything that both sides must spell the same is
//! here, once.

use crate::shell::quote;
use std::fmt;
use std::str::FromStr;

/// The environment variable naming a job's token in each of its processes on the target.
pub const JOB_ENV: &str = "FLIPDECK_JOB";

/// What a deploy script prints, on stdout and on stderr, once the switch is done: then it reads the
/// deployment's log from stdin.
pub const READY: &str = "ready";

/// What a fleet member's deploy script prints once built: then it reads `go` or `abort`.
pub const GATE: &str = "gate";

/// What a push's deploy script prints on stdout once it has reported the commits its cache has
/// (`have`): then it reads one frame, the pack of what the cache lacks.
pub const NEED: &str = "need";

/// A job's stdin, in order (the script reads it as fd 3 after its first line of work):
///
/// 1. the script itself, exactly `N` bytes (`scripts::launch` reads them with `head -c N`);
/// 2. for `source = "artifact"`: one frame holding the tar, sent at once;
///    for `source = "push"`: one frame holding the pack, sent once the script printed `need`;
/// 3. for a fleet member: `go` or `abort` (after `gate`), then `commit` or `revert` (after `ready`);
///    for a deploy that holds its switch (a watch, `hold_switch`): `commit` or `revert` after
///    `ready`. A revert may say whose it is and why, on its line: `revert fleet WHY` (the
///    fleet's coordinator: another server failed, a rollout stopped) or `revert watch WHY` (the
///    watch after the switch, the operator during it), WHY one line of words with no control
///    characters (see `verdict_line`), which the script prints and reports as `revert_why`;
/// 4. the deployment's log (after `ready`, or after `commit`), up to end of file.
///
/// Each part is read only once the one before it is, so nothing needs escaping. A frame is a
/// header line, then a body: `LENGTH\n` (decimal) and exactly that many bytes, or `abort\n` and
/// none (this side could not make the body; the script fails that step). `read_frame` in
/// `deploy.sh` reads one, and drains what its reader leaves, so the parts after it stay whole.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = format!("{}\n", body.len()).into_bytes();
    f.extend_from_slice(body);
    f
}

/// The frame that says no body comes (see `frame`).
pub const ABORT_FRAME: &[u8] = b"abort\n";

/// A site's deploy key in its `.flipdeck/` folder (made by `flipdeck keygen`; the public half
/// beside it as `.pub`), and the git host keys pinned for it. Every git fetch of a deploy uses
/// them (`GIT_SSH_COMMAND`, see `scripts::git_ssh_command`).
pub const DEPLOY_KEY: &str = "deploy_key";
pub const GIT_KNOWN_HOSTS: &str = "known_hosts";

/// Exit code of a script that found the site's lock held by someone else (it reports `holder`).
pub const LOCK_HELD: i32 = 75;
/// Exit code of a script that found an unusable `$HOME` to use as the root.
pub const BAD_HOME: i32 = 78;
/// A fleet member that did not switch because another server failed to build.
pub const FLEET_ABORTED: i32 = 3;
/// A fleet member that switched back because another server failed to switch, or a held switch
/// the watch after it reverted (`revert_why` says which).
pub const FLEET_REVERTED: i32 = 4;
/// Who reverts a held switch: the step the script records as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevertBy {
    /// The fleet's coordinator (another server failed, a stepped rollout stopped).
    Fleet,
    /// The watch after the switch (its threshold, the operator during it).
    Watch,
}

/// The verdict line for a held switch (see `frame`'s stdin item 3): `commit`, or `revert` with
/// whose revert it is and why in words (made one line of printable text, so it cannot end the
/// line early); a bare `revert` when nobody said why.
pub fn verdict_line(revert: Option<(RevertBy, &str)>) -> Vec<u8> {
    match revert {
        None => b"commit\n".to_vec(),
        Some((by, why)) => match one_line(why).as_str() {
            "" => b"revert\n".to_vec(),
            w => {
                let by = match by {
                    RevertBy::Fleet => "fleet",
                    RevertBy::Watch => "watch",
                };
                format!("revert {by} {w}\n").into_bytes()
            }
        },
    }
}

/// The answer at a fleet's gate (see `frame`'s stdin item 3): `go`, or `abort` with why in
/// words when the coordinator said (a stepped rollout stopping), one line of printable text.
pub fn go_line(abort_why: Option<&str>) -> Vec<u8> {
    match abort_why.map(one_line) {
        None => b"abort\n".to_vec(),
        Some(w) if w.is_empty() => b"abort\n".to_vec(),
        Some(w) => format!("abort {w}\n").into_bytes(),
    }
}

/// Words made one line of printable text, so they cannot end a stdin line early.
fn one_line(why: &str) -> String {
    why.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A fleet member that could not switch back: its new release stays live.
pub const FLEET_REVERT_FAILED: i32 = 5;
/// A script stopped by INT, TERM or HUP.
pub const INTERRUPTED: i32 = 130;

/// The parameter block a script starts with: `name='value'` lines, every value through
/// `shell::quote`, so nothing reaches the shell unquoted. Optional parts of an operation are
/// parameters its file tests; lists are numbered parameters (`item` in `lib.sh`).
#[derive(Debug, Clone, Default)]
pub struct Params(String);

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    /// `name=value`, quoted. Names are the scripts' own (letters, digits, `_`), never the user's.
    pub fn set(mut self, name: &str, value: &str) -> Params {
        debug_assert!(
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "parameter name {name:?}"
        );
        self.0.push_str(name);
        self.0.push('=');
        self.0.push_str(&quote(value));
        self.0.push('\n');
        self
    }

    /// `export name=value`, quoted: in the environment of what the script runs too.
    pub fn export(mut self, name: &str, value: &str) -> Params {
        self.0.push_str("export ");
        self.set(name, value)
    }

    /// `1` when on, empty when off (the scripts test `[ "$name" = 1 ]`).
    pub fn flag(self, name: &str, on: bool) -> Params {
        self.set(name, if on { "1" } else { "" })
    }

    /// A list: `name_n` (how many) and `name_1` ... `name_n` (`item name I` in `lib.sh`).
    pub fn list<S: AsRef<str>>(self, name: &str, items: &[S]) -> Params {
        let mut p = self.set(&format!("{name}_n"), &items.len().to_string());
        for (i, v) in items.iter().enumerate() {
            p = p.set(&format!("{name}_{}", i + 1), v.as_ref());
        }
        p
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One line of a script's output that is meant for the engine: `{marker} step NAME`,
/// `{marker} set KEY VALUE`, `{marker} ready`, `{marker} gate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker<'a> {
    Step(&'a str),
    Set {
        key: Key,
        value: &'a str,
    },
    Ready,
    Gate,
    /// A push waits for its pack (see `NEED`).
    Need,
    /// A marker line of no known kind (or a value of an unknown key): ignored.
    Other,
}

impl<'a> Marker<'a> {
    /// The marker line `line` is, if it is one. `Ready` and `Gate` are whole lines, on either
    /// stream; the rest only count on stdout (the caller's business).
    pub fn parse(marker: &str, line: &'a str) -> Option<Marker<'a>> {
        let rest = line.strip_prefix(marker)?;
        if let Some(word) = rest.strip_prefix(' ') {
            if word == READY {
                return Some(Marker::Ready);
            }
            if word == GATE {
                return Some(Marker::Gate);
            }
            if word == NEED {
                return Some(Marker::Need);
            }
        }
        let rest = rest.trim_start();
        if let Some(name) = rest.strip_prefix("step ") {
            return Some(Marker::Step(name));
        }
        if let Some(kv) = rest.strip_prefix("set ") {
            let (k, value) = kv.split_once(' ').unwrap_or((kv, ""));
            return Some(match Key::parse(k) {
                Some(key) => Marker::Set { key, value },
                None => Marker::Other,
            });
        }
        Some(Marker::Other)
    }
}

macro_rules! keys {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// The keys a script reports with `setv KEY VALUE`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Key {
            $($(#[$doc])* $variant,)*
        }

        impl Key {
            pub const ALL: &[Key] = &[$(Key::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Key::$variant => $name,)*
                }
            }

            pub fn parse(s: &str) -> Option<Key> {
                match s {
                    $($name => Some(Key::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

keys! {
    /// The login user's home, when it is the root.
    Root = "root",
    /// The first line of the lock's owner file when the lock is held by someone else.
    Holder = "holder",
    Built = "built",
    /// An entry beside the releases that is a symlink, `NAME -> TARGET` (inspect.sh).
    ReleaseLink = "release_link",
    /// The release name the deploy reserved on the server (another deploy may have had the one
    /// this machine chose).
    Reserved = "reserved",
    Commit = "commit",
    /// A fleet member that did not switch.
    Aborted = "aborted",
    /// A fleet member that switched back.
    Reverted = "reverted",
    /// Why a held switch was reverted, in words (the verdict's, see `verdict_line`).
    RevertWhy = "revert_why",
    /// What the live link pointed at before a switch ("" for nothing).
    Prev = "prev",
    Switched = "switched",
    SwitchedBack = "switched_back",
    HealthFailed = "health_failed",
    /// Why a step failed, in words (a missing branch, git's own last line).
    Why = "why",
    Missing = "missing",
    Pruned = "pruned",
    KeptLive = "kept_live",
    PruneFailed = "prune_failed",
    Live = "live",
    LiveNotLink = "live_not_link",
    LiveOk = "live_ok",
    Release = "release",
    Lock = "lock",
    /// A line of the server's release log.
    Relog = "relog",
    /// The release log's size in bytes (where the next read of it starts).
    RelogSize = "relog_size",
    /// `inspect_server.sh`: the site whose keys follow.
    Site = "site",
    WentLive = "went_live",
    Removed = "removed",
    NoLock = "nolock",
    FpmTimeout = "fpm_timeout",
    FpmUnreadable = "fpm_unreadable",
    /// `provision.sh`: the reload php_version implies needs sudo, which the server lacks.
    SudoMissing = "sudo_missing",
    /// `provision.sh`: `sudo -n` cannot run that reload (it would ask for a password).
    SudoRefused = "sudo_refused",
    Nginx = "nginx",
    NginxInvalid = "nginx_invalid",
    NginxReloadFailed = "nginx_reload_failed",
    /// `nginx.sh`, for a TLS server block: how http2 was turned on (`directive`, `listen` or
    /// `off`) and the nginx version it went by.
    NginxHttp2 = "nginx_http2",
    /// One check of `doctor.sh`: `NAME STATUS DETAIL`.
    Check = "check",
    /// The server's clock, `SECONDS[.NANOS]` since the epoch (UTC).
    Clock = "clock",
    /// The site's deploy key (`keygen.sh`): its public half, whether it was made just now.
    DeployKey = "deploy_key",
    KeyCreated = "key_created",
    /// A push: a commit (or tag) a ref of the server's cache points at, newest first.
    Have = "have",
    /// The git host's key is pinned for the site.
    Pinned = "pinned",
    /// A key the git host presented: `SHA256:… TYPE`.
    GitHostKey = "git_host_key",
    /// A site's hook that failed: `NAME CODE` (see `HookFailure`).
    HookFailed = "hook_failed",
    /// The step that failed, when other steps (switching back, hooks) ran after it.
    FailedStep = "failed_step",
    /// Keys the new release's `.env.example` has and its `.env` lacks, space-separated: a
    /// warning (`env_missing`), or a failed build under `require_env` (`env_required`).
    EnvMissing = "env_missing",
    EnvRequired = "env_required",
    /// `env_read.sh`: the shared .env as `SIZE HEX` (a report value, never output).
    EnvData = "env_data",
    /// `env_read.sh`: the saved version asked for, as `SIZE HEX`.
    EnvOld = "env_old",
    /// `env_read.sh`: the site has no shared .env.
    EnvAbsent = "env_absent",
    EnvNotFile = "env_not_file",
    /// What the shared .env links to, when it is a symlink.
    EnvLink = "env_link",
    EnvUnreadable = "env_unreadable",
    EnvTooBig = "env_too_big",
    EnvNoSite = "env_no_site",
    EnvNoVersion = "env_no_version",
    /// A saved version's record: `N<TAB>TIME<TAB>WHO<TAB>KEYS CHANGED`.
    EnvSaved = "env_saved",
    /// `env_write.sh`: the file changed on the server since it was read; nothing written.
    EnvChanged = "env_changed",
    /// `env_write.sh`: the number the replaced file was saved as.
    EnvSavedAs = "env_saved_as",
    EnvWritten = "env_written",
    /// `env_status.sh` (the dashboard's read): the site has no shared .env.
    EnvNone = "env_none",
    /// The live release has a `.env.example` (the keys below are checked against it).
    EnvExample = "env_example",
    /// A key the live release's `.env.example` has and the shared .env lacks.
    EnvLacks = "env_lacks",
    /// `diff.sh`: the site has no layout on the server.
    DiffNoSite = "diff_no_site",
    /// The live release's name ("" for none), its commit, or that it is no git checkout.
    DiffLive = "diff_live",
    DiffLiveCommit = "diff_live_commit",
    DiffLiveNotGit = "diff_live_not_git",
    /// The server has no repository cache yet.
    DiffNoCache = "diff_no_cache",
    /// The fetch failed: git's last line, hex; `diff_stale`: the cache's refs were used instead.
    DiffFetchFailed = "diff_fetch_failed",
    DiffStale = "diff_stale",
    /// Why the target cannot be known, in words.
    DiffNoTarget = "diff_no_target",
    DiffTarget = "diff_target",
    /// Commits the target has and the live release lacks (`ahead`), and the reverse (`behind`):
    /// counts, and the newest of each as hex of NUL-separated `SHORT`, `AUTHOR`, `SUBJECT`.
    DiffAhead = "diff_ahead",
    DiffCommitsOut = "diff_commits_out",
    DiffBehind = "diff_behind",
    DiffCommitsBack = "diff_commits_back",
    /// How many files differ, and the first of them as hex of git's `--name-status -z`; the
    /// same for the migrations and the lock files, whole.
    DiffFiles = "diff_files",
    DiffFileList = "diff_file_list",
    DiffMigrations = "diff_migrations",
    DiffLocks = "diff_locks",
    /// The target has a `.env.example`; the shared .env is missing or unreadable; a key of the
    /// former the latter lacks (names only).
    DiffEnvExample = "diff_env_example",
    DiffEnvNone = "diff_env_none",
    DiffEnvUnreadable = "diff_env_unreadable",
    DiffEnvLacks = "diff_env_lacks",
    /// `dry_run.sh`: shared entry I as a deploy would find it in `shared/`: `I present`, `I
    /// missing` (it would be seeded from the release, or created empty) or `I link` (a
    /// symlink on its way: refused).
    DryShared = "dry_shared",
    /// Cached entry I in the live release: `I present` (copied) or `I missing` (not copied).
    DryCached = "dry_cached",
    /// `signals.sh`, once a second: `N C2 C3 C4 C5 MS`, the responses of each class in the
    /// sample and the milliseconds it covers (see `SignalCounts`); it closes the sample.
    Sig = "sig",
    /// A new line of the application's log in that second, and how many more the cap left out.
    SigApp = "sig_app",
    SigAppMore = "sig_app_more",
    /// The access log is not there, or the login user may not read it (said once).
    SigAccessMissing = "sig_access_missing",
    SigAccessUnreadable = "sig_access_unreadable",
    /// The application's log is not there or not readable (`missing` or `unreadable`, once).
    SigAppMissing = "sig_app_missing",
}

/// One sample of `signals.sh` (`sig N C2 C3 C4 C5 MS`), about a second long: its number (from
/// 1), the responses with a 2xx, 3xx, 4xx and 5xx status the access log gained in it, and the
/// milliseconds it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalCounts {
    pub second: u32,
    pub by_class: [u32; 4],
    pub ms: u32,
}

impl SignalCounts {
    pub fn parse(v: &str) -> Option<SignalCounts> {
        let mut n = v.split_whitespace().map(|w| w.parse::<u32>().ok());
        let second = n.next()??;
        let mut by_class = [0; 4];
        for c in &mut by_class {
            *c = n.next()??;
        }
        // A sample of no measurable length counts as one second.
        let ms = n.next()??.max(1);
        Some(SignalCounts {
            second,
            by_class,
            ms,
        })
    }

    pub fn ok_2xx(&self) -> u32 {
        self.by_class[0]
    }

    pub fn errors_5xx(&self) -> u32 {
        self.by_class[3]
    }
}

/// A hook that failed (`hook_failed NAME CODE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    /// `after_switch`, `after_rollback` or `on_failure`.
    pub hook: String,
    pub code: i32,
}

impl HookFailure {
    fn parse(v: &str) -> HookFailure {
        let (hook, code) = v.split_once(' ').unwrap_or((v, ""));
        HookFailure {
            hook: hook.to_string(),
            code: code.trim().parse().unwrap_or(1),
        }
    }
}

/// The values a script reported, in order.
#[derive(Debug, Clone, Default)]
pub struct Vars(Vec<(Key, String)>);

impl Vars {
    pub fn push(&mut self, key: Key, value: &str) {
        self.0.push((key, value.to_string()));
    }

    /// The values read as one operation's report.
    pub fn report<T: Report>(&self) -> T {
        let mut r = T::default();
        for (k, v) in &self.0 {
            r.take(*k, v);
        }
        r
    }
}

/// What one operation's script reports, typed. A later value of a key replaces an earlier one;
/// list fields collect every value.
pub trait Report: Default {
    fn take(&mut self, key: Key, value: &str);
}

/// What a switch reports (deploy, rollback).
#[derive(Debug, Clone, Default)]
pub struct SwitchReport {
    pub prev: Option<String>,
    pub switched: bool,
    pub switched_back: bool,
    pub health_failed: Option<String>,
    /// The site's hooks that failed, in order.
    pub hooks_failed: Vec<HookFailure>,
    /// The step that failed, when more steps ran after it (see `lib.sh`'s `failed`).
    pub failed_step: Option<String>,
}

impl SwitchReport {
    /// How hook `name` failed, if it did.
    pub fn hook_failed(&self, name: &str) -> Option<&HookFailure> {
        self.hooks_failed.iter().find(|h| h.hook == name)
    }
}

impl Report for SwitchReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Prev => self.prev = Some(v.into()),
            Key::Switched => self.switched = true,
            Key::SwitchedBack => self.switched_back = true,
            Key::HealthFailed => self.health_failed = Some(v.into()),
            Key::HookFailed => self.hooks_failed.push(HookFailure::parse(v)),
            Key::FailedStep => self.failed_step = Some(v.into()),
            _ => {}
        }
    }
}

/// What pruning reports (the prune command, and the end of a deploy).
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub holder: Option<String>,
    pub pruned: Vec<String>,
    pub kept_live: Vec<String>,
    pub prune_failed: Vec<String>,
}

impl Report for PruneReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Holder => self.holder = Some(v.into()),
            Key::Pruned => self.pruned.push(v.into()),
            Key::KeptLive => self.kept_live.push(v.into()),
            Key::PruneFailed => self.prune_failed.push(v.into()),
            _ => {}
        }
    }
}

/// `deploy.sh`.
#[derive(Debug, Clone, Default)]
pub struct DeployReport {
    pub holder: Option<String>,
    pub reserved: Option<String>,
    pub built: bool,
    pub commit: Option<String>,
    pub aborted: bool,
    pub reverted: bool,
    /// Why it was reverted (see `Key::RevertWhy`).
    pub revert_why: Option<String>,
    /// Why the failing step failed, when the script could say.
    pub why: Option<String>,
    /// Keys `.env.example` has and `.env` lacks (see `Key::EnvMissing`).
    pub env_missing: Vec<String>,
    /// They failed the build (`require_env`).
    pub env_required: bool,
    pub switch: SwitchReport,
    pub prune: PruneReport,
    /// A push: what the server's cache has (see `Key::Have`).
    pub haves: Vec<String>,
}

/// The key names of an `env_missing` / `env_required` value.
pub fn env_keys(v: &str) -> Vec<String> {
    v.split_whitespace().map(str::to_string).collect()
}

impl Report for DeployReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Holder => self.holder = Some(v.into()),
            Key::Reserved => self.reserved = Some(v.into()),
            Key::Built => self.built = true,
            Key::Commit => self.commit = Some(v.into()),
            Key::Aborted => self.aborted = true,
            Key::Reverted => self.reverted = true,
            Key::RevertWhy => self.revert_why = Some(v.into()),
            Key::Why => self.why = Some(v.into()),
            Key::Have => self.haves.push(v.into()),
            Key::EnvMissing => self.env_missing = env_keys(v),
            Key::EnvRequired => {
                self.env_missing = env_keys(v);
                self.env_required = true;
            }
            _ => {}
        }
        self.switch.take(key, v);
        self.prune.take(key, v);
    }
}

/// `rollback.sh`.
#[derive(Debug, Clone, Default)]
pub struct RollbackReport {
    pub holder: Option<String>,
    pub missing: bool,
    pub switch: SwitchReport,
}

impl Report for RollbackReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Holder => self.holder = Some(v.into()),
            Key::Missing => self.missing = true,
            _ => {}
        }
        self.switch.take(key, v);
    }
}

/// `inspect.sh` (and the live link `stop_own.sh` reports).
#[derive(Debug, Clone, Default)]
pub struct InspectReport {
    pub live: Option<String>,
    pub live_not_link: bool,
    pub releases: Vec<String>,
    /// Entries beside the releases that are symlinks (`NAME -> TARGET`): never a release.
    pub linked: Vec<String>,
    pub lock: Option<String>,
    /// The newest lines of the server's release log, oldest first.
    pub relog: Vec<String>,
}

impl Report for InspectReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Live => self.live = Some(v.into()),
            Key::LiveNotLink => self.live_not_link = true,
            Key::Release => self.releases.push(v.into()),
            Key::ReleaseLink => self.linked.push(v.into()),
            Key::Lock => self.lock = Some(v.into()),
            Key::Relog => self.relog.push(v.into()),
            _ => {}
        }
    }
}

/// `inspect_server.sh`: every site of a server, each one's keys after its `site` key.
#[derive(Debug, Clone, Default)]
pub struct ServerReport {
    /// Each site: domain, what `inspect_site` read, the release log's size, the .env's status.
    pub sites: Vec<(String, InspectReport, u64, EnvStatus)>,
}

impl Report for ServerReport {
    fn take(&mut self, key: Key, v: &str) {
        match (key, self.sites.last_mut()) {
            (Key::Site, _) => {
                self.sites
                    .push((v.into(), InspectReport::default(), 0, EnvStatus::default()))
            }
            (Key::RelogSize, Some(site)) => site.2 = v.parse().unwrap_or(0),
            (_, Some(site)) => {
                site.1.take(key, v);
                site.3.take(key, v);
            }
            (_, None) => {}
        }
    }
}

/// `recover.sh`.
#[derive(Debug, Clone, Default)]
pub struct RecoverReport {
    pub went_live: bool,
    pub commit: Option<String>,
}

impl Report for RecoverReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::WentLive => self.went_live = true,
            Key::Commit => self.commit = Some(v.into()),
            _ => {}
        }
    }
}

/// `remove_leftovers.sh`.
#[derive(Debug, Clone, Default)]
pub struct LeftoversReport {
    pub holder: Option<String>,
    pub removed: Vec<String>,
}

impl Report for LeftoversReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Holder => self.holder = Some(v.into()),
            Key::Removed => self.removed.push(v.into()),
            _ => {}
        }
    }
}

/// `unlock.sh`.
#[derive(Debug, Clone, Default)]
pub struct UnlockReport {
    pub no_lock: bool,
    pub holder: Option<String>,
}

impl Report for UnlockReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::NoLock => self.no_lock = true,
            Key::Holder => self.holder = Some(v.into()),
            _ => {}
        }
    }
}

/// `keygen.sh`.
#[derive(Debug, Clone, Default)]
pub struct KeygenReport {
    /// The public key, in OpenSSH's one-line form.
    pub public_key: Option<String>,
    pub created: bool,
    pub pinned: bool,
    /// What the git host presented, `(fingerprint, type)`, in the order scanned.
    pub git_host_keys: Vec<(String, String)>,
}

impl Report for KeygenReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::DeployKey => self.public_key = Some(v.into()),
            Key::KeyCreated => self.created = true,
            Key::Pinned => self.pinned = true,
            Key::GitHostKey => {
                let (fp, kind) = v.split_once(' ').unwrap_or((v, ""));
                self.git_host_keys.push((fp.into(), kind.into()));
            }
            _ => {}
        }
    }
}

/// `env_read.sh` and `env_write.sh`: hex-encoded file contents and what the server said of them.
#[derive(Debug, Clone, Default)]
pub struct EnvReport {
    pub data: Option<String>,
    pub old: Option<String>,
    pub missing: bool,
    pub not_file: bool,
    pub link: Option<String>,
    pub unreadable: Option<String>,
    pub too_big: Option<String>,
    pub no_site: bool,
    pub no_version: bool,
    pub saved: Vec<String>,
    pub holder: Option<String>,
    pub changed: bool,
    pub saved_as: Option<u32>,
    pub written: bool,
}

impl Report for EnvReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::EnvData => self.data = Some(v.into()),
            Key::EnvOld => self.old = Some(v.into()),
            Key::EnvAbsent => self.missing = true,
            Key::EnvNotFile => self.not_file = true,
            Key::EnvLink => self.link = Some(v.into()),
            Key::EnvUnreadable => self.unreadable = Some(v.into()),
            Key::EnvTooBig => self.too_big = Some(v.into()),
            Key::EnvNoSite => self.no_site = true,
            Key::EnvNoVersion => self.no_version = true,
            Key::EnvSaved => self.saved.push(v.into()),
            Key::Holder => self.holder = Some(v.into()),
            Key::EnvChanged => self.changed = true,
            Key::EnvSavedAs => self.saved_as = v.parse().ok(),
            Key::EnvWritten => self.written = true,
            _ => {}
        }
    }
}

/// The dashboard's look at a site's .env (`env_status.sh`): key names only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvStatus {
    /// No shared .env at all.
    pub none: bool,
    pub unreadable: bool,
    /// The live release has a `.env.example`.
    pub example: bool,
    /// Its keys that the shared .env lacks.
    pub lacks: Vec<String>,
}

impl Report for EnvStatus {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::EnvNone => self.none = true,
            Key::EnvUnreadable => self.unreadable = true,
            Key::EnvExample => self.example = true,
            Key::EnvLacks => self.lacks.push(v.into()),
            _ => {}
        }
    }
}

/// `diff.sh`, as sent (hex values still encoded; see `engine::diff`).
#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    pub no_site: bool,
    pub live: Option<String>,
    pub live_commit: Option<String>,
    pub live_not_git: bool,
    pub no_cache: bool,
    pub fetch_failed: Option<String>,
    pub stale: bool,
    pub no_target: Option<String>,
    pub target: Option<String>,
    pub ahead: Option<u64>,
    pub commits_out: String,
    pub behind: Option<u64>,
    pub commits_back: String,
    pub files: Option<u64>,
    pub file_list: String,
    pub migrations: String,
    pub locks: String,
    pub env_example: bool,
    pub env_none: bool,
    pub env_unreadable: bool,
    pub env_lacks: Vec<String>,
}

impl Report for DiffReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::DiffNoSite => self.no_site = true,
            Key::DiffLive => self.live = Some(v.into()),
            Key::DiffLiveCommit => self.live_commit = Some(v.into()),
            Key::DiffLiveNotGit => self.live_not_git = true,
            Key::DiffNoCache => self.no_cache = true,
            Key::DiffFetchFailed => self.fetch_failed = Some(v.into()),
            Key::DiffStale => self.stale = true,
            Key::DiffNoTarget => self.no_target = Some(v.into()),
            Key::DiffTarget => self.target = Some(v.into()),
            Key::DiffAhead => self.ahead = v.trim().parse().ok(),
            Key::DiffCommitsOut => self.commits_out = v.into(),
            Key::DiffBehind => self.behind = v.trim().parse().ok(),
            Key::DiffCommitsBack => self.commits_back = v.into(),
            Key::DiffFiles => self.files = v.trim().parse().ok(),
            Key::DiffFileList => self.file_list = v.into(),
            Key::DiffMigrations => self.migrations = v.into(),
            Key::DiffLocks => self.locks = v.into(),
            Key::DiffEnvExample => self.env_example = true,
            Key::DiffEnvNone => self.env_none = true,
            Key::DiffEnvUnreadable => self.env_unreadable = true,
            Key::DiffEnvLacks => self.env_lacks.push(v.into()),
            _ => {}
        }
    }
}

/// `provision.sh` (with `fpm.sh`).
#[derive(Debug, Clone, Default)]
pub struct ProvisionReport {
    pub live: Option<String>,
    pub live_ok: bool,
    pub fpm_timeout: Option<String>,
    pub fpm_unreadable: bool,
    pub sudo_missing: bool,
    pub sudo_refused: bool,
}

impl Report for ProvisionReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Live => self.live = Some(v.into()),
            Key::LiveOk => self.live_ok = true,
            Key::FpmTimeout => self.fpm_timeout = Some(v.into()),
            Key::FpmUnreadable => self.fpm_unreadable = true,
            Key::SudoMissing => self.sudo_missing = true,
            Key::SudoRefused => self.sudo_refused = true,
            _ => {}
        }
    }
}

/// `nginx.sh`.
#[derive(Debug, Clone, Default)]
pub struct NginxReport {
    /// `unchanged`, `written` or `reloaded`.
    pub nginx: Option<String>,
    pub invalid: bool,
    pub reload_failed: bool,
    /// `MODE VERSION`, with TLS.
    pub http2: Option<String>,
}

impl Report for NginxReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Nginx => self.nginx = Some(v.into()),
            Key::NginxInvalid => self.invalid = true,
            Key::NginxReloadFailed => self.reload_failed = true,
            Key::NginxHttp2 => self.http2 = Some(v.into()),
            _ => {}
        }
    }
}

/// `doctor.sh`: each check as `(name, status, detail)`, and the server's clock.
#[derive(Debug, Clone, Default)]
pub struct DoctorReport {
    pub checks: Vec<(String, String, String)>,
    pub clock: Option<f64>,
}

impl Report for DoctorReport {
    fn take(&mut self, key: Key, v: &str) {
        match key {
            Key::Check => {
                let mut w = v.splitn(3, ' ');
                let (name, status) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
                self.checks
                    .push((name.into(), status.into(), w.next().unwrap_or("").into()));
            }
            Key::Clock => self.clock = v.trim().parse().ok(),
            _ => {}
        }
    }
}

/// The first line of a lock's `owner` file: who holds the lock, from where, since when, for what.
/// `user@host pid=PID action=ACTION [deployment=ID ]since=TIME token=TOKEN`. Servers keep locks
/// written by older flipdecks, and the scripts find words of it (`token=`, `deployment=`), so the
/// format stays exactly this. Reading is lenient: only the first word is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOwner {
    /// `user@host`.
    pub who: String,
    pub pid: Option<i32>,
    pub action: Option<String>,
    pub deployment: Option<i64>,
    pub since: Option<String>,
    pub token: Option<String>,
}

impl LockOwner {
    /// The host part of `who`, if it has one.
    pub fn host(&self) -> Option<&str> {
        self.who.rsplit_once('@').map(|(_, h)| h)
    }

    /// The word naming deployment `id` in an owner line (what `recover.sh` looks for).
    pub fn deployment_word(id: i64) -> String {
        format!("deployment={id}")
    }
}

impl fmt::Display for LockOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.who)?;
        if let Some(p) = self.pid {
            write!(f, " pid={p}")?;
        }
        if let Some(a) = &self.action {
            write!(f, " action={a}")?;
        }
        if let Some(d) = self.deployment {
            write!(f, " {}", LockOwner::deployment_word(d))?;
        }
        if let Some(s) = &self.since {
            write!(f, " since={s}")?;
        }
        if let Some(t) = &self.token {
            write!(f, " token={t}")?;
        }
        Ok(())
    }
}

impl FromStr for LockOwner {
    type Err = ();

    fn from_str(s: &str) -> Result<LockOwner, ()> {
        let mut words = s.split_whitespace();
        let who = words.next().ok_or(())?.to_string();
        let mut o = LockOwner {
            who,
            pid: None,
            action: None,
            deployment: None,
            since: None,
            token: None,
        };
        for w in words {
            let Some((k, v)) = w.split_once('=') else {
                continue;
            };
            match k {
                "pid" if o.pid.is_none() => o.pid = v.parse().ok(),
                "action" if o.action.is_none() => o.action = Some(v.into()),
                "deployment" if o.deployment.is_none() => o.deployment = v.parse().ok(),
                "since" if o.since.is_none() => o.since = Some(v.into()),
                "token" if o.token.is_none() => o.token = Some(v.into()),
                _ => {}
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
pub(crate) mod tests;
