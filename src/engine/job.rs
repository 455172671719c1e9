//! One job on one site: runs scripts on the target, turns marker lines into step events, keeps the
//! job's log and mirrors it into the history DB as it goes.

use super::Engine;
use super::events::{Action, EventKind};
use super::layout::Layout;
use super::protocol::{Key, LockOwner, Marker, Report, Vars};
use super::scripts::Prelude;
use crate::error::Result;
use crate::transport::{ExitStatus, OutputLine, Stream, Transport, TransportError};
use chrono::Utc;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// How a script run ended, with the values it reported.
pub struct RunResult {
    pub status: ExitStatus,
    pub vars: Vars,
    /// The step that was running when the script ended.
    pub last_step: Option<String>,
}

impl RunResult {
    /// What the script reported, read as the report of its operation.
    pub fn report<T: Report>(&self) -> T {
        self.vars.report()
    }
}

/// What a conversing script gets sent once it is ready, given the values it has set so far.
pub type Reply<'a, 'e> = Box<dyn FnOnce(&mut Job<'e>, &Vars) -> Vec<u8> + Send + 'a>;

/// Called as each step of the script starts, with the values set so far: the notices it returns
/// are said before the step (provisioning's warnings, once its layout step has reported).
pub type StepHook = Box<dyn FnMut(&str, &Vars) -> Vec<String> + Send>;

/// What a script that prints `need` (see `protocol::NEED`) is sent, made from what it has
/// reported so far while it waits: the frame's body and a line for the log, or why it could not
/// be made (then the script is sent the abort frame).
pub type Feed = Box<dyn FnOnce(&Vars) -> Feeding + Send>;

/// A feed being made: the body and its log line, or why not.
pub type Feeding = futures_util::future::BoxFuture<'static, Result<(Vec<u8>, String), String>>;

/// Waits on an optional feed; never ready without one.
async fn fed(f: &mut Option<Feeding>) -> Result<(Vec<u8>, String), String> {
    match f.as_mut() {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// A fleet deploy's two meeting points inside one exec: once built, the script waits for go or
/// abort; once switched, for commit or revert. The fleet coordinator holds the other ends.
#[derive(Default)]
pub struct Gate {
    pub built: Option<tokio::sync::oneshot::Sender<()>>,
    pub go: Option<tokio::sync::oneshot::Receiver<bool>>,
    pub switched: Option<tokio::sync::oneshot::Sender<()>>,
    pub commit: Option<tokio::sync::oneshot::Receiver<bool>>,
    /// A build slot (`parallel`), given back once built: waiting at the gate takes no slot.
    pub permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Why the fleet stops, when the coordinator says (a stepped rollout): sent with the abort
    /// or the revert, so the server's log says it (`protocol::go_line`, `verdict_line`).
    pub why: Option<std::sync::Arc<std::sync::Mutex<Option<String>>>>,
    /// The fleet is watched after its switch: this server's part of the watch, for the
    /// coordinator's `Engine::aftercare` (which then decides the verdict). Not the job's business.
    pub watch: Option<tokio::sync::oneshot::Sender<super::aftercare::Watched>>,
}

/// What a shared reason holds now (`None`: nobody said why).
fn said(why: Option<&std::sync::Arc<std::sync::Mutex<Option<String>>>>) -> Option<String> {
    why.and_then(|w| w.lock().unwrap_or_else(|p| p.into_inner()).clone())
}

/// Waits on an optional receiver; a missing or dropped sender counts as "no".
async fn decision(rx: &mut Option<tokio::sync::oneshot::Receiver<bool>>) -> bool {
    match rx.as_mut() {
        Some(rx) => rx.await.unwrap_or(false),
        None => std::future::pending().await,
    }
}

pub enum RunError {
    Cancelled {
        step: Option<String>,
    },
    Transport {
        step: Option<String>,
        error: TransportError,
    },
}

impl RunError {
    /// The error of a read-only run (nothing to clean up): `doing` says what was under way,
    /// e.g. "comparing web1/example.com".
    pub fn read_failed(self, doing: impl std::fmt::Display) -> crate::error::Error {
        use crate::error::Error;
        match self {
            RunError::Transport { error, .. } => Error::failed(format!("{doing}: {error}")),
            RunError::Cancelled { .. } => Error::failed("cancelled"),
        }
    }
}

pub struct Job<'e> {
    pub engine: &'e Engine,
    pub id: u64,
    pub site: String,
    pub target: Arc<dyn Transport>,
    pub layout: Layout,
    marker: String,
    /// What the deploy script's shell puts before each command it traces (see `Prelude::trace`).
    trace: String,
    /// The deploy script's (or a hook's) command that ran last, from its trace: what a failure
    /// names. A stderr line that is the bare trace prefix (`sh -x` never prints one) forgets it:
    /// a hook starts so. What runs after a failure traces behind `{trace}~ ` instead (see
    /// `run_hook` in `lib.sh`): shown, never taken for what failed.
    pub last_command: Option<String>,
    /// The release name the server reserved for this deploy, once it has said.
    pub reserved: Option<String>,
    /// A deploy's hooks, for what the engine runs after an interruption: `after_rollback` when
    /// it switches back (`switch.sh`), `on_failure` in the clean-up (`cleanup.sh`).
    pub hooks: crate::config::Hooks,
    pub token: String,
    pub owner: LockOwner,
    /// `user@machine`, for the server's release log.
    pub who: String,
    /// The whole output so far, as written to deployment.log.
    pub log: String,
    /// Where in `log` the DB copy ends.
    flushed: usize,
    pub deployment_id: Option<i64>,
    pub before_step: Option<StepHook>,
    /// Sent right after the next script (a frame of `protocol`'s stdin layout).
    pub payload: Option<Vec<u8>>,
    /// What the next script is sent when it prints `need`.
    pub feed: Option<Feed>,
    /// Why the feed could not be made, when it could not.
    pub feed_error: Option<String>,
    /// Why a held switch is reverted, set by whoever decides (the watch after the switch) before
    /// it sends the gate's `commit` receiver `false`: said on the verdict line (see
    /// `protocol::verdict_line`). Shared, since the job is busy running the script meanwhile.
    pub revert_why: Arc<std::sync::Mutex<Option<String>>>,
}

impl<'e> Job<'e> {
    pub fn new(
        engine: &'e Engine,
        site: String,
        target: Arc<dyn Transport>,
        layout: Layout,
        action: Action,
    ) -> Job<'e> {
        let id = engine.new_job_id();
        // The token is in the environment of everything the job starts (to find it again after a
        // crash); the marker key is not, and is never sent where a deploy script can read it, so
        // no output of the script can pass for one of the engine's markers.
        let token = format!("{}-{}-{}", engine.identity.pid, id, nonce());
        let owner = LockOwner {
            who: engine.identity.to_string(),
            pid: Some(engine.identity.pid as i32),
            action: Some(action.as_str().to_string()),
            deployment: None,
            since: Some(crate::store::ts(Utc::now())),
            token: Some(token.clone()),
        };
        let job = Job {
            engine,
            id,
            site,
            target,
            layout,
            marker: format!("::flipdeck-{}{}::", nonce(), nonce()),
            trace: format!("::flipdeck-trace-{}:: ", nonce()),
            last_command: None,
            reserved: None,
            hooks: Default::default(),
            token,
            owner,
            who: engine.identity.to_string(),
            log: String::new(),
            flushed: 0,
            deployment_id: None,
            before_step: None,
            payload: None,
            feed: None,
            feed_error: None,
            revert_why: Default::default(),
        };
        job.emit(EventKind::JobStarted {
            action,
            target: job.target.describe(),
        });
        job
    }

    /// The key every marker line of this job's scripts starts with (see `protocol::Marker`).
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// Ties the job to a deployment record: the lock names it and the output is mirrored to it.
    pub fn attach_deployment(&mut self, id: i64) {
        self.deployment_id = Some(id);
        self.engine
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        self.owner.deployment = Some(id);
    }

    /// This job as the history records it (see `JobRef`).
    pub fn reference(&self) -> String {
        super::identity::JobRef {
            host: &self.engine.identity.host,
            pid: self.engine.identity.pid as i32,
            token: &self.token,
        }
        .to_string()
    }

    pub fn prelude(&self) -> Prelude<'_> {
        Prelude {
            marker: &self.marker,
            trace: &self.trace,
            layout: &self.layout,
            token: &self.token,
            owner: &self.owner,
            who: &self.who,
        }
    }

    pub fn emit(&self, kind: EventKind) {
        self.engine.emit(self.id, &self.site, kind);
    }

    /// A message from flipdeck itself, kept in the log too.
    pub fn notice(&mut self, message: impl Into<String>) {
        let message = message.into();
        self.log.push_str(&format!("flipdeck: {message}\n"));
        self.emit(EventKind::Notice { message });
    }

    /// Runs a script, streaming its output as events. With a cancel token, cancelling stops the
    /// command at once (the caller then cleans up).
    pub async fn run(
        &mut self,
        script: &str,
        stdin: Option<Vec<u8>>,
        cancel: Option<&CancellationToken>,
    ) -> Result<RunResult, RunError> {
        self.run_inner(script, stdin, cancel, None, None).await
    }

    /// Runs a script that reports `ready` (see `protocol::READY`) and then reads its stdin: at that
    /// point `reply` is called with what the script has set so far, and what it returns is sent.
    /// Cancelling works until the reply is sent (a deploy's success is recorded then): a deploy
    /// cancelled after its switch is switched back by the caller.
    pub async fn converse(
        &mut self,
        script: &str,
        cancel: &CancellationToken,
        reply: Reply<'_, 'e>,
    ) -> Result<RunResult, RunError> {
        self.run_inner(script, None, Some(cancel), Some(reply), None)
            .await
    }

    /// `converse` for one server of a fleet: the script also waits at the gate (see `Gate`).
    pub async fn converse_gated(
        &mut self,
        script: &str,
        cancel: &CancellationToken,
        reply: Reply<'_, 'e>,
        gate: Gate,
    ) -> Result<RunResult, RunError> {
        self.run_inner(script, None, Some(cancel), Some(reply), Some(gate))
            .await
    }

    async fn run_inner(
        &mut self,
        script: &str,
        stdin: Option<Vec<u8>>,
        cancel: Option<&CancellationToken>,
        mut reply: Option<Reply<'_, 'e>>,
        gate: Option<Gate>,
    ) -> Result<RunResult, RunError> {
        let gated = gate.is_some();
        let Gate {
            mut built,
            mut go,
            mut switched,
            mut commit,
            mut permit,
            why,
            watch: _,
        } = gate.unwrap_or_default();
        let mut gate_on = (false, false);
        let (mut waiting_go, mut waiting_commit) = (false, false);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<OutputLine>();
        let (in_tx, in_rx) = tokio::sync::mpsc::unbounded_channel();
        let (command, script) = super::scripts::launch(&self.token, script);
        let _ = in_tx.send(script);
        if let Some(data) = stdin {
            let _ = in_tx.send(data);
        }
        if let Some(data) = self.payload.take() {
            let _ = in_tx.send(data);
        }
        let mut feed = self.feed.take();
        let mut feeding = None;
        // Stdin stays open only for a script that waits for the reply (or its feed).
        let mut in_tx = (reply.is_some() || feed.is_some()).then_some(in_tx);
        let mut ready_on = (false, false);
        let target = self.target.clone();
        let exec = target.exec_fed(&command, in_rx, tx);
        tokio::pin!(exec);
        let never = CancellationToken::new();
        let cancel = cancel.unwrap_or(&never);
        let mut step: Option<(String, Instant)> = None;
        let mut vars = Vars::default();
        // Once the reply is sent (a deploy recorded as a success) the script only finishes up.
        let mut cancellable = true;
        let outcome = loop {
            tokio::select! {
                biased;
                Some(raw) = rx.recv() => {
                    for line in split_at_marker(&self.marker, raw) {
                        let marker = Marker::parse(&self.marker, &line.line);
                        if marker == Some(Marker::Need) && line.stream == Stream::Stdout {
                            match feed.take() {
                                Some(f) => feeding = Some(f(&vars)),
                                None => if let Some(in_tx) = &in_tx {
                                    let _ = in_tx.send(super::protocol::ABORT_FRAME.to_vec());
                                },
                            }
                            continue;
                        }
                        if gated && marker == Some(Marker::Gate) {
                            match line.stream {
                                Stream::Stdout => gate_on.0 = true,
                                Stream::Stderr => gate_on.1 = true,
                            }
                            if gate_on == (true, true) && let Some(tx) = built.take() {
                                permit.take();
                                let _ = tx.send(());
                                waiting_go = true;
                            }
                            continue;
                        }
                        if marker != Some(Marker::Ready) {
                            self.on_line(line, &mut step, &mut vars);
                            continue;
                        }
                        match line.stream {
                            Stream::Stdout => ready_on.0 = true,
                            Stream::Stderr => ready_on.1 = true,
                        }
                        // Ready on both streams: every line printed before is in (each stream keeps
                        // its order, the two may not keep theirs).
                        if ready_on != (true, true) {
                            continue;
                        }
                        if let Some(tx) = switched.take() {
                            let _ = tx.send(());
                            waiting_commit = true;
                        } else if let (Some(reply), Some(in_tx)) = (reply.take(), in_tx.take()) {
                            let _ = in_tx.send(reply(self, &vars));
                            cancellable = false;
                        }
                    }
                }
                made = fed(&mut feeding), if feeding.is_some() => {
                    feeding = None;
                    let data = match made {
                        Ok((body, note)) => {
                            self.notice(note);
                            super::protocol::frame(&body)
                        }
                        Err(e) => {
                            self.feed_error = Some(e);
                            super::protocol::ABORT_FRAME.to_vec()
                        }
                    };
                    if let Some(in_tx) = &in_tx {
                        let _ = in_tx.send(data);
                    }
                }
                go_on = decision(&mut go), if waiting_go => {
                    waiting_go = false;
                    go = None;
                    if let Some(in_tx) = &in_tx {
                        let _ = in_tx.send(if go_on { b"go\n".to_vec() } else { super::protocol::go_line(said(why.as_ref()).as_deref()) });
                    }
                }
                commit_on = decision(&mut commit), if waiting_commit => {
                    waiting_commit = false;
                    commit = None;
                    if let (Some(reply), Some(in_tx)) = (reply.take(), in_tx.take()) {
                        cancellable = !commit_on;
                        let data = if commit_on {
                            let mut d = b"commit\n".to_vec();
                            d.extend(reply(self, &vars));
                            d
                        } else {
                            // The watch's reason (it reverted), else the coordinator's (a
                            // rollout's, a failed server's).
                            use super::protocol::{RevertBy, verdict_line};
                            let (by, why) = match said(Some(&self.revert_why)) {
                                Some(w) => (RevertBy::Watch, Some(w)),
                                None => (RevertBy::Fleet, said(why.as_ref())),
                            };
                            verdict_line(Some((by, why.as_deref().unwrap_or(""))))
                        };
                        let _ = in_tx.send(data);
                    }
                }
                res = &mut exec => break Some(res),
                _ = cancel.cancelled(), if cancellable => break None,
            }
        };
        drop(in_tx);
        // Lines already produced belong to this run even if they arrived after the exit status.
        while let Ok(raw) = rx.try_recv() {
            for line in split_at_marker(&self.marker, raw) {
                self.on_line(line, &mut step, &mut vars);
            }
        }
        let step_name = step.as_ref().map(|(s, _)| s.clone());
        let result = match outcome {
            None => {
                self.end_step(&mut step, false);
                Err(RunError::Cancelled { step: step_name })
            }
            Some(Err(error)) => {
                self.end_step(&mut step, false);
                Err(RunError::Transport {
                    step: step_name,
                    error,
                })
            }
            Some(Ok(status)) => {
                self.end_step(&mut step, status.success());
                Ok(RunResult {
                    status,
                    vars,
                    last_step: step_name,
                })
            }
        };
        self.flush();
        result
    }

    fn on_line(&mut self, l: OutputLine, step: &mut Option<(String, Instant)>, vars: &mut Vars) {
        if l.stream == Stream::Stdout
            && let Some(marker) = Marker::parse(&self.marker, &l.line)
        {
            match marker {
                Marker::Step(name) => {
                    // Step names quote the deploy script's lines, which may hold a secret too.
                    let name = self.engine.redactor.apply(name).into_owned();
                    self.end_step(step, true);
                    let notes = self.before_step.as_mut().map(|h| h(&name, vars));
                    for n in notes.unwrap_or_default() {
                        self.notice(n);
                    }
                    self.log.push_str(&format!("==> {name}\n"));
                    self.emit(EventKind::StepStarted { step: name.clone() });
                    *step = Some((name, Instant::now()));
                }
                Marker::Set { key, value } => {
                    if key == Key::Root {
                        self.layout.learn_root(value);
                    }
                    if key == Key::Reserved {
                        self.reserved = Some(value.to_string());
                    }
                    if matches!(key, Key::EnvMissing | Key::EnvRequired) {
                        self.env_missing(value, key == Key::EnvRequired);
                    }
                    if key == Key::FailedStep {
                        // The step that failed ends here, as failed; what follows is clean-up.
                        if step.as_ref().is_some_and(|(s, _)| s == value) {
                            self.end_step(step, false);
                        }
                    }
                    vars.push(key, value);
                }
                Marker::Ready | Marker::Gate | Marker::Need | Marker::Other => {}
            }
            return;
        }
        // A traced command of the deploy script: shown as `sh -x` shows it, and remembered.
        let prefix = self.trace.trim_end();
        let l = if l.stream != Stream::Stderr || !l.line.starts_with(prefix) {
            l
        } else if l.line == prefix {
            self.last_command = None;
            return;
        } else if let Some(cmd) = l.line.strip_prefix(self.trace.as_str()) {
            let cmd = self.engine.redactor.apply(cmd).into_owned();
            self.last_command = Some(cmd.clone());
            OutputLine {
                stream: l.stream,
                line: format!("+ {cmd}"),
            }
        } else if let Some(cmd) = l.line[prefix.len()..].strip_prefix("~ ") {
            OutputLine {
                stream: l.stream,
                line: format!("+ {cmd}"),
            }
        } else {
            l
        };
        let l = match self.engine.redactor.apply(&l.line) {
            std::borrow::Cow::Owned(line) => OutputLine {
                stream: l.stream,
                line,
            },
            std::borrow::Cow::Borrowed(_) => l,
        };
        self.log.push_str(&l.line);
        self.log.push('\n');
        if l.line.contains("detected dubious ownership") {
            self.notice(
                "git refuses a repository owned by another user; on the server run \
                 `git config --global --add safe.directory <path>` for the path git names, \
                 or fix the ownership",
            );
        }
        self.emit(EventKind::Log {
            stream: l.stream,
            line: l.line,
        });
    }

    /// The release's `.env` lacks keys of its `.env.example` (`env_check` in `lib.sh`): the typed
    /// event, and, when it is only a warning, the warning (a failure says it in its error).
    fn env_missing(&mut self, value: &str, required: bool) {
        let keys = super::protocol::env_keys(value);
        if !required {
            self.notice(format!(
                "warning: the shared .env lacks keys that the new release's .env.example has: {} \
                 (add them to the shared .env; `require_env = true` makes this fail the deploy)",
                keys.join(", ")
            ));
        }
        self.emit(EventKind::EnvMissing { keys, required });
    }

    fn end_step(&self, step: &mut Option<(String, Instant)>, ok: bool) {
        if let Some((name, started)) = step.take() {
            self.emit(EventKind::StepFinished {
                step: name,
                ok,
                elapsed: started.elapsed(),
            });
        }
    }

    /// A line of what this machine ran for the job (an artifact's build): redacted, logged, told.
    pub fn local_line(&mut self, stream: Stream, line: String) {
        let line = self.engine.redactor.apply(&line).into_owned();
        self.log.push_str(&line);
        self.log.push('\n');
        self.emit(EventKind::Log { stream, line });
    }

    /// Mirrors the new part of the log into the DB, so a crash loses at most the current script.
    pub fn flush(&mut self) {
        if let Some(id) = self.deployment_id
            && self.flushed < self.log.len()
        {
            if let Err(e) = self
                .engine
                .store
                .append_output(id, &self.log[self.flushed..])
            {
                self.emit(EventKind::Notice {
                    message: format!("could not store output: {e}"),
                });
                return;
            }
            self.flushed = self.log.len();
        }
    }

    pub fn finish(&self, ok: bool, summary: impl Into<String>) {
        self.emit(EventKind::JobFinished {
            ok,
            summary: summary.into(),
        });
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.deployment_id {
            self.engine
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
    }
}

/// A line with a marker after other text (output that did not end with a newline, then the
/// marker) is two lines: the text, then the marker. The marker key is unguessable, so finding it
/// anywhere in a line is finding a marker.
fn split_at_marker(marker: &str, line: OutputLine) -> Vec<OutputLine> {
    match line.line.find(marker) {
        Some(at) if at > 0 => {
            let OutputLine { stream, line } = line;
            vec![
                OutputLine {
                    stream,
                    line: line[..at].to_string(),
                },
                OutputLine {
                    stream,
                    line: line[at..].to_string(),
                },
            ]
        }
        _ => vec![line],
    }
}

/// 64 random bits, as hex: from the kernel's generator, or (where it cannot be read) from the
/// standard library's randomly keyed hasher over the time and the pid.
fn nonce() -> String {
    use std::io::Read;
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return format!("{:016x}", u64::from_le_bytes(b));
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
