//! Stepped fleet rollouts on four real sshd servers (127.0.0.2 to .5): the canary, then the
//! batches, pausing between them; an abort or a failed health check anywhere puts every server
//! back on the release it had. Every check reads the servers' live links, not only the output.

use crate::support::sshd::TestSshd;
use crate::support::{DOMAIN, Harness};
use flipdeck::store::{Deployment, Status};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub struct Fleet {
    pub h: Harness,
    pub servers: Vec<(String, TestSshd, PathBuf)>,
}

/// Four servers with the domain; `site` is added to each site table.
pub fn fleet(site: &str) -> Option<Fleet> {
    let h = Harness::local();
    let servers = crate::support::servers(&h, 4)?;
    let config = crate::support::servers_config(&h, &servers, 4, |_| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n{site}\n\n",
            h.repo.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    Some(Fleet { h, servers })
}

pub fn live(root: &Path) -> Option<String> {
    std::fs::read_link(root.join(DOMAIN))
        .ok()
        .map(|l| l.file_name().unwrap().to_string_lossy().into_owned())
}

impl Fleet {
    /// Each server's live release.
    pub fn lives(&self) -> Vec<Option<String>> {
        self.servers.iter().map(|(_, _, r)| live(r)).collect()
    }

    /// Provisions every server and returns the release each has live.
    pub fn provisioned(&self) -> Vec<Option<String>> {
        self.h.ok(&["provision", DOMAIN]);
        let lives = self.lives();
        assert!(lives.iter().all(Option::is_some), "{lives:?}");
        self.h.commit("public/index.php", "<?php echo 'v2';\n");
        lives
    }

    /// The newest deployment of each server, from the history.
    pub fn newest(&self) -> Vec<Deployment> {
        let store = flipdeck::store::Store::open(&self.h.db).unwrap();
        self.servers
            .iter()
            .map(|(name, _, _)| {
                let site = store.find_site(name, DOMAIN).unwrap().unwrap();
                store.list(site.id, Some(1)).unwrap().remove(0)
            })
            .collect()
    }

    pub fn no_locks(&self) -> bool {
        self.servers.iter().all(|(_, _, root)| {
            !root
                .join("deployments")
                .join(DOMAIN)
                .join(".flipdeck/lock")
                .exists()
        })
    }

    /// Waits (at most 60 s) until every server's newest deployment ended failed and no lock is left.
    pub fn wait_all_failed(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.newest().iter().any(|d| d.status != Status::Failed) || !self.no_locks() {
            assert!(Instant::now() < deadline, "{:?}", self.newest());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The servers after the canary (the first) never switched: their reasons say so.
    pub fn only_the_canary_switched(&self) {
        let newest = self.newest();
        assert!(
            newest[1..].iter().all(|d| d
                .error
                .as_deref()
                .unwrap_or_default()
                .starts_with("not switched: ")),
            "{newest:?}"
        );
    }

    /// Every server back on `before`, its newest deployment failed with `why` in its reason,
    /// no new release left and no lock.
    pub fn all_back(&self, before: &[Option<String>], why: &str) {
        assert_eq!(self.lives(), before, "every server on the release it had");
        for (d, (name, _, root)) in self.newest().iter().zip(&self.servers) {
            assert_eq!(d.status, Status::Failed, "{name}: {d:?}");
            let reason = d.error.as_deref().unwrap_or_default();
            assert!(reason.contains(why), "{name}: {reason:?} lacks {why:?}");
            let rel = d.release_name.as_deref().unwrap();
            assert!(
                !root.join("deployments").join(DOMAIN).join(rel).exists(),
                "{name}: the new release {rel} is removed"
            );
        }
        assert!(self.no_locks());
    }
}

/// A flipdeck run in the background whose `--json` lines arrive on a channel.
pub struct Running {
    pub child: Child,
    lines: Receiver<Value>,
    pub seen: Vec<Value>,
}

impl Running {
    pub fn start(h: &Harness, args: &[&str]) -> Running {
        let mut child = h
            .cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        // The human log goes to stderr with --json: read, or a long one would fill the pipe
        // and stop flipdeck.
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || std::io::copy(&mut { err }, &mut std::io::sink()));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).expect("a JSON line");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one matches (it is returned); panics after `secs`.
    pub fn until(&mut self, secs: u64, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if f(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no {what} in {secs}s: {:#?}", self.seen),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("flipdeck ended before {what}: {:#?}", self.seen)
                }
            }
        }
    }

    /// The rest of the lines, and the exit code.
    pub fn finish(mut self) -> (Vec<Value>, Option<i32>) {
        let status = self.child.wait().unwrap();
        while let Ok(v) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(v);
        }
        (self.seen, status.code())
    }
}

/// Sends `sig` (`-KILL`, `-INT`...) to `pid` with kill(1), which must succeed.
pub fn signal(pid: &dyn std::fmt::Display, sig: &str) {
    let pid = pid.to_string();
    assert!(
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success(),
        "kill {sig} {pid}"
    );
}

pub fn step_event(v: &Value, phase: &str, step: u64) -> bool {
    v["event"] == "rollout_step" && v["phase"] == phase && v["step"] == step
}

/// The documented fields of the rollout events (README "JSON events"), exactly.
fn check_fields(v: &Value) {
    let kind = v["event"].as_str().unwrap();
    let Some((_, fields)) = flipdeck::cli::json_events::FIELDS
        .iter()
        .find(|(k, _)| *k == kind)
    else {
        panic!("undocumented event {kind}");
    };
    let extra = if kind == "result" { 2 } else { 4 };
    assert_eq!(v.as_object().unwrap().len(), fields.len() + extra, "{v}");
    for f in *fields {
        assert!(v.get(*f).is_some(), "{kind} lacks {f}: {v}");
    }
}

#[test]
fn a_timed_rollout_switches_the_canary_then_each_batch() {
    let Some(f) = fleet("") else { return };
    let before = f.provisioned();
    // A plain fleet deploy first, for the time its switch takes in this run: from the first
    // server's `switch` step to the last one recorded a success (the commit).
    let plain = Instant::now();
    let out = f.h.ok(&["deploy", DOMAIN, "--json"]);
    let plain = plain.elapsed();
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let go = lines
        .iter()
        .filter(|v| v["event"] == "step_started" && v["step"] == "switch")
        .map(at)
        .min()
        .unwrap();
    let committed = lines
        .iter()
        .filter(|v| v["event"] == "status" && v["status"] == "success")
        .map(at)
        .max()
        .unwrap();
    let plain_switch = committed - go;
    let plain_live = f.lives();
    assert!(plain_live.iter().all(|l| l.is_some() && *l != before[0]));
    f.h.commit("public/index.php", "<?php echo 'v3';\n");

    let mut run = Running::start(
        &f.h,
        &[
            "deploy", DOMAIN, "--canary", "1", "--batch", "50%", "--batch", "100%", "--pause",
            "4s", "--json",
        ],
    );
    // After the canary: web1 alone is on the new release; the rollout pauses before step 2.
    let sw = run.until(120, "step 1 switching", |v| step_event(v, "switching", 1));
    assert_eq!(sw["servers"], serde_json::json!(["web1"]));
    assert_eq!(sw["steps"], 3);
    let paused = run.until(120, "the pause before step 2", |v| {
        step_event(v, "paused", 2)
    });
    // Long enough that a loaded machine reads the links before the pause ends.
    assert_eq!(paused["pause_ms"], 4000);
    let lives = f.lives();
    let new = lives[0].clone();
    assert_ne!(new, plain_live[0], "web1 switched");
    assert_eq!(lives[1..], plain_live[1..], "the others wait: {lives:?}");
    // After batch 1 (50%): web1 and web2.
    let sw = run.until(60, "step 2 switching", |v| step_event(v, "switching", 2));
    assert_eq!(sw["servers"], serde_json::json!(["web2"]));
    run.until(60, "the pause before step 3", |v| {
        step_event(v, "paused", 3)
    });
    let lives = f.lives();
    assert_eq!(lives[..2], [new.clone(), new.clone()], "{lives:?}");
    assert_eq!(lives[2..], plain_live[2..], "{lives:?}");
    let sw = run.until(60, "step 3 switching", |v| step_event(v, "switching", 3));
    assert_eq!(sw["servers"], serde_json::json!(["web3", "web4"]));
    let (seen, code) = run.finish();
    assert_eq!(code, Some(0), "{seen:#?}");
    for v in &seen {
        check_fields(v);
    }
    assert_eq!(
        f.lives(),
        vec![new.clone(); 4],
        "all four on the new release"
    );
    for d in f.newest() {
        assert_eq!(d.status, Status::Success, "{d:?}");
        assert!(d.is_active);
    }
    assert!(f.no_locks());
    // Each server went built → (waiting) → switching → live → committed, in its step.
    for (i, (name, ..)) in f.servers.iter().enumerate() {
        let states: Vec<&str> = seen
            .iter()
            .filter(|v| v["event"] == "rollout_server" && v["site"] == format!("{name}/{DOMAIN}"))
            .map(|v| v["state"].as_str().unwrap())
            .collect();
        let want: &[&str] = if i == 0 {
            &["built", "switching", "live", "committed"]
        } else {
            &["built", "waiting", "switching", "live", "committed"]
        };
        assert_eq!(states, want, "{name}");
    }
    // What a step's switch takes (go → every server of it switched), next to the plain fleet
    // deploy's whole run in this same test.
    let steps: Vec<u64> = seen
        .iter()
        .filter(|v| v["event"] == "rollout_step" && v["phase"] == "switched")
        .map(|v| v["elapsed_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(steps.len(), 3);
    eprintln!(
        "rollout: go → switched per step {steps:?} ms; a plain fleet deploy of the four: its switch {plain_switch} ms, {} ms in all",
        plain.as_millis()
    );
}

#[test]
fn a_signal_after_the_first_batch_puts_all_four_back() {
    let Some(f) = fleet("") else { return };
    let before = f.provisioned();
    let mut run = Running::start(
        &f.h,
        &[
            "deploy", DOMAIN, "--canary", "1", "--batch", "50%,100%", "--pause", "1s", "--pause",
            "10m", "--json",
        ],
    );
    // Paused before step 3: the canary and batch 1 are live.
    run.until(180, "the pause before step 3", |v| {
        step_event(v, "paused", 3)
    });
    let lives = f.lives();
    assert_ne!(lives[0], before[0]);
    assert_eq!(lives[0], lives[1]);
    assert_eq!(lives[2..], before[2..]);
    let signalled = Instant::now();
    let pid = run.child.id().to_string();
    signal(&pid, "-TERM");
    let rev = run.until(60, "the revert", |v| {
        v["event"] == "rollout_step" && v["phase"] == "reverting"
    });
    assert!(
        rev["why"]
            .as_str()
            .unwrap()
            .contains("cancelled after batch 1 (step 2 of 3)"),
        "{rev}"
    );
    let done = run.until(60, "the end of the revert", |v| {
        v["event"] == "rollout_step" && v["phase"] == "reverted"
    });
    let (seen, code) = run.finish();
    assert_eq!(code, Some(1), "{seen:#?}");
    eprintln!(
        "rollout: the fleet of four reverted in {} ms (flipdeck's count), {} ms from the signal to exit",
        done["elapsed_ms"],
        signalled.elapsed().as_millis()
    );
    f.all_back(&before, "rollout cancelled after batch 1 (step 2 of 3)");
    let states: Vec<(String, String)> = seen
        .iter()
        .filter(|v| {
            v["event"] == "rollout_server"
                && ["reverted", "not switched"].contains(&v["state"].as_str().unwrap())
        })
        .map(|v| {
            (
                v["site"].as_str().unwrap().to_string(),
                v["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (i, (name, ..)) in f.servers.iter().enumerate() {
        let want = if i < 2 { "reverted" } else { "not switched" };
        assert!(
            states.contains(&(format!("{name}/{DOMAIN}"), want.to_string())),
            "{name} {want}: {states:?}"
        );
    }
}

#[test]
fn a_health_check_failing_in_the_second_batch_puts_all_four_back() {
    let Some(f) = fleet(
        "health_check = { command = \"test ! -e ../shared/unhealthy\", retries = 1 }\nrollout = { canary = 1, batches = [\"50%\", \"100%\"], pause = \"0s\" }",
    ) else {
        return;
    };
    let before = f.provisioned();
    // web4 (in batch 2, the last step) fails its health check.
    let shared = f.servers[3]
        .2
        .join("deployments")
        .join(DOMAIN)
        .join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("unhealthy"), "").unwrap();
    let out = f.h.run(&["deploy", DOMAIN]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("[example.com] rollout step 3/3: web4 failed to switch"),
        "{stdout}"
    );
    // web4 says its own failure; the others the rollout's.
    let newest = f.newest();
    assert!(
        newest[3]
            .error
            .as_deref()
            .unwrap()
            .contains("health check failed"),
        "{:?}",
        newest[3]
    );
    assert_eq!(f.lives(), before);
    let why = "web4 failed to switch (its reload, after_switch hook or health check) during batch 2 (step 3 of 3)";
    for (d, (name, ..)) in newest.iter().zip(&f.servers).take(3) {
        let reason = d.error.as_deref().unwrap_or_default();
        assert!(reason.contains(why), "{name}: {reason}");
    }
    assert!(f.no_locks());
}

#[test]
fn a_manual_pause_needs_a_terminal_or_a_timer() {
    let Some(f) = fleet("rollout = { canary = 1, batches = [\"100%\"], pause = \"manual\" }")
    else {
        return;
    };
    let before = f.provisioned();
    let out = f.h.expect(&["deploy", DOMAIN], 2);
    let _ = out;
    let err = String::from_utf8_lossy(&f.h.run(&["deploy", DOMAIN]).stderr).into_owned();
    assert!(err.contains("--pause 30s"), "{err}");
    assert_eq!(f.lives(), before, "nothing switched");
    // A dry run needs no terminal: it shows the steps and switches nothing.
    let plan =
        f.h.ok(&["deploy", DOMAIN, "--dry-run", "--batch", "50%,100%"]);
    for line in [
        "rollout: every server builds first, then 3 step(s):\n",
        "  the canary: web1\n",
        "  batch 1 after the operator says so: web2\n",
        "  batch 2 after the operator says so: web3, web4\n",
    ] {
        assert!(plan.contains(line), "{line:?} in {plan}");
    }
    assert_eq!(f.lives(), before, "nothing switched");
    let bad =
        f.h.expect(&["deploy", DOMAIN, "--dry-run", "--batch", "50%"], 2);
    let _ = bad;
    // The flags override the site's rollout.
    f.h.ok(&["deploy", DOMAIN, "--pause", "0s"]);
    let lives = f.lives();
    assert!(lives.iter().all(|l| *l == lives[0] && *l != before[0]));
}

/// The dashboard on a fleet whose rollout pauses for the operator, its deploy confirmed, shown
/// paused after the canary.
fn dashboard_paused(f: &Fleet) -> crate::support::tmux::Tmux {
    use crate::support::tmux;
    let t = tmux::dashboard(&f.h, "LANG=C.UTF-8", "", 110, 32);
    t.wait_for("● connected", tmux::WAIT);
    t.keys(&["d"]);
    t.wait_for("Deploy (y)", tmux::WAIT);
    t.keys(&["y"]);
    t.wait_for(
        "step 2/3 · paused (manual) · 1/4 live · n next · a all · x revert",
        Duration::from_secs(180),
    );
    t
}

const MANUAL: &str = "rollout = { canary = 1, batches = [\"50%\", \"100%\"], pause = \"manual\" }";

#[test]
fn the_dashboard_steps_a_rollout_with_n_and_a() {
    if !crate::support::tmux::available() {
        return;
    }
    let Some(f) = fleet(MANUAL) else { return };
    let before = f.provisioned();
    let t = dashboard_paused(&f);
    let s = t.screen();
    t.screenshot("rollout");
    let lives = f.lives();
    assert_ne!(lives[0], before[0], "the canary switched");
    assert_eq!(lives[1..], before[1..], "the others wait: {lives:?}");
    assert_eq!(s.matches("[live]").count(), 1, "{s}");
    assert_eq!(s.matches("[waiting]").count(), 3, "{s}");
    let new = lives[0].clone();
    t.keys(&["n"]);
    let s = t.wait_for(
        "step 3/3 · paused (manual) · 2/4 live",
        Duration::from_secs(60),
    );
    assert_eq!(s.matches("[live]").count(), 2, "{s}");
    let lives = f.lives();
    assert_eq!(lives[..2], [new.clone(), new.clone()]);
    assert_eq!(lives[2..], before[2..]);
    t.keys(&["a"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while f.newest().iter().any(|d| d.status != Status::Success) {
        assert!(Instant::now() < deadline, "{:?}", f.newest());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(f.lives(), vec![new; 4], "all four on the new release");
    t.wait_until("the job's end", Duration::from_secs(30), |s| {
        !s.contains("rollout step") && !s.contains("[live]")
    });
    t.keys(&["q"]);
}

#[test]
fn x_in_the_dashboard_after_the_first_batch_puts_all_four_back() {
    if !crate::support::tmux::available() {
        return;
    }
    let Some(f) = fleet(MANUAL) else { return };
    let before = f.provisioned();
    let t = dashboard_paused(&f);
    t.keys(&["n"]);
    t.wait_for(
        "step 3/3 · paused (manual) · 2/4 live",
        Duration::from_secs(60),
    );
    t.keys(&["x"]);
    f.wait_all_failed();
    f.all_back(
        &before,
        "rollout reverted by the operator after batch 1 (step 2 of 3)",
    );
    t.keys(&["q"]);
}

/// The pid of the deploy's shell on `sshd` (its session's SSH_CONNECTION names the server's
/// address and port), found by its environment.
pub(crate) fn deploy_shell_on(sshd: &TestSshd) -> Option<i32> {
    // This test's server only (other tests' servers share the address at other ports), and of
    // its flipdeck shells the deploy's: the one that read the longest script (a watch's
    // signals.sh is shorter).
    let at = format!(" {} {}", sshd.address, sshd.port);
    let mut best: Option<(u64, i32)> = None;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let env = String::from_utf8_lossy(&env);
        let vars: Vec<&str> = env.split('\0').collect();
        let ours = vars.iter().any(|v| v.starts_with("FLIPDECK_JOB="))
            && vars
                .iter()
                .any(|v| v.starts_with("SSH_CONNECTION=") && v.ends_with(&at));
        let cmd = String::from_utf8_lossy(&cmd);
        let len = cmd
            .split("head -c ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
        if let (true, Some(len)) = (ours, len)
            && best.is_none_or(|(l, _)| len > l)
        {
            best = Some((len, pid));
        }
    }
    best.map(|(_, pid)| pid)
}

#[test]
fn a_server_lost_while_live_puts_all_four_back() {
    let Some(f) = fleet("") else { return };
    let before = f.provisioned();
    let mut run = Running::start(
        &f.h,
        &[
            "deploy", DOMAIN, "--batch", "50%,100%", "--pause", "10m", "--json",
        ],
    );
    run.until(180, "the pause before step 2", |v| {
        step_event(v, "paused", 2)
    });
    assert_ne!(f.lives()[0], before[0], "the canary is live");
    // web1's deploy dies on the server while it is live and not committed.
    let pid = deploy_shell_on(&f.servers[0].1).expect("web1's deploy shell");
    signal(&pid, "-KILL");
    let rev = run.until(60, "the revert", |v| {
        v["event"] == "rollout_step" && v["phase"] == "reverting"
    });
    let why = "web1's deploy ended while live";
    assert!(rev["why"].as_str().unwrap().contains(why), "{rev}");
    let (seen, code) = run.finish();
    assert_eq!(code, Some(1), "{seen:#?}");
    assert_eq!(f.lives(), before, "every server on the release it had");
    let newest = f.newest();
    assert!(
        newest.iter().all(|d| d.status == Status::Failed),
        "{newest:?}"
    );
    // web1 says its own end.
    let own = newest[0].error.as_deref().unwrap_or_default();
    assert!(own.contains("killed by signal KILL"), "{own}");
    // flipdeck put it back, and the record says so.
    let back = before[0].as_deref().unwrap_or("?");
    assert!(own.contains(&format!("; switched back to {back}")), "{own}");
    for d in &newest[1..] {
        let reason = d.error.as_deref().unwrap_or_default();
        assert!(reason.contains(why), "{reason}");
    }
    assert!(f.no_locks());
}

#[test]
fn the_cli_on_a_terminal_goes_on_with_enter_and_a() {
    if !crate::support::tmux::available() {
        return;
    }
    let Some(f) = fleet(MANUAL) else { return };
    let before = f.provisioned();
    let t = deploy_on_a_terminal(&f, "");
    t.wait_for(
        "rollout step 2/3: paused (manual) before this step: Enter = next batch, a = all the rest, x = revert every server",
        Duration::from_secs(180),
    );
    let lives = f.lives();
    assert_ne!(lives[0], before[0]);
    assert_eq!(lives[1..], before[1..]);
    let new = lives[0].clone();
    t.keys(&["Enter"]);
    t.wait_for("rollout step 3/3: paused (manual)", Duration::from_secs(60));
    assert_eq!(f.lives()[..2], [new.clone(), new.clone()]);
    assert_eq!(f.lives()[2..], before[2..]);
    t.keys(&["a", "Enter"]);
    let s = t.wait_for("exit=", Duration::from_secs(60));
    assert!(
        s.contains("fleet deployed to 4 servers") && s.contains("exit=0"),
        "{s}"
    );
    assert_eq!(f.lives(), vec![new; 4]);
}

/// The dashboard's state alone: while the selected site's rollout holds, `n`, `a` and `x` go to
/// it (`x` before the site commands' picker); `n` while a step switches is refused with a toast;
/// once it is over the keys are the panes' again.
#[test]
fn holding_keys_go_to_the_rollout_only_while_it_holds() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use flipdeck::engine::events::{RolloutPhase, RolloutState};
    use flipdeck::engine::hold::Hold;
    use flipdeck::engine::{Event, EventKind};
    use flipdeck::ui::app::{App, Effect};
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let sites = ["web1", "web2"]
        .iter()
        .map(|s| crate::dashboard::site(s, DOMAIN, vec![]))
        .collect();
    let mut app = App::new(sites, "/c.toml".into());
    app.commands.insert(
        format!("web1/{DOMAIN}"),
        vec![("cache".into(), "true".into())],
    );
    let ev = |site: &str, kind| Event {
        job: 1,
        site: site.to_string(),
        kind,
    };
    for s in &mut app.sites {
        s.running = Some(flipdeck::engine::Action::Deploy);
    }
    app.on_engine(ev(
        &format!("web1/{DOMAIN}"),
        EventKind::RolloutServer {
            state: RolloutState::Live,
            step: 1,
        },
    ));
    app.on_engine(ev(
        DOMAIN,
        EventKind::RolloutStep {
            step: 2,
            steps: 2,
            phase: RolloutPhase::Switching {
                servers: vec!["web2".into()],
            },
        },
    ));
    assert_eq!(app.on_key(key('n')), vec![], "not paused: nothing sent");
    assert!(app.toasts.last().unwrap().error);
    app.on_engine(ev(
        DOMAIN,
        EventKind::RolloutStep {
            step: 2,
            steps: 2,
            phase: RolloutPhase::Paused { pause: None },
        },
    ));
    let hold = |h| {
        vec![Effect::Hold {
            site: format!("web1/{DOMAIN}"),
            hold: h,
        }]
    };
    assert_eq!(app.on_key(key('n')), hold(Hold::Next));
    assert_eq!(app.on_key(key('a')), hold(Hold::All));
    assert_eq!(app.on_key(key('x')), hold(Hold::Revert));
    assert!(app.modal.is_none(), "x reverted; no picker opened");
    // Over: `x` is the site commands' picker again.
    app.on_engine(ev(
        DOMAIN,
        EventKind::RolloutStep {
            step: 2,
            steps: 2,
            phase: RolloutPhase::Committing,
        },
    ));
    for s in &mut app.sites {
        s.running = None;
    }
    assert_eq!(app.on_key(key('x')), vec![]);
    assert!(app.modal.is_some(), "the picker opened");
}

/// A watched rollout: once the last batch has switched (the canary was watched after its own
/// step), every server is watched before anything is committed; a signal during that last
/// watch puts all four back, the reason naming the step.
#[test]
fn a_signal_during_a_watched_rollouts_watch_puts_all_four_back() {
    let Some(f) = fleet("") else { return };
    let before = f.provisioned();
    let mut run = Running::start(
        &f.h,
        &[
            "deploy",
            DOMAIN,
            "--canary",
            "1",
            "--batch",
            "100%",
            "--pause",
            "0s",
            "--watch=15",
            "--json",
        ],
    );
    // The canary's watch passes, then the last step's watch begins.
    run.until(180, "the last step's watch", |v| {
        v["event"] == "watch_started" && v["after"] == "batch 1 (step 2 of 2)"
    });
    let switched: Vec<&Value> = run
        .seen
        .iter()
        .filter(|v| step_event(v, "switched", 2))
        .collect();
    assert_eq!(
        switched.len(),
        1,
        "the watch starts after step 2 switched: {:#?}",
        run.seen
    );
    assert!(
        run.seen
            .iter()
            .any(|v| v["event"] == "watch_ended" && v["kept"] == true),
        "the canary's watch passed first: {:#?}",
        run.seen
    );
    let lives = f.lives();
    assert!(
        lives.iter().all(|l| *l == lives[0] && *l != before[0]),
        "all four live: {lives:?}"
    );
    assert!(
        f.newest().iter().all(|d| d.status != Status::Success),
        "nothing committed yet"
    );
    let pid = run.child.id().to_string();
    signal(&pid, "-INT");
    let (seen, code) = run.finish();
    assert_eq!(code, Some(3), "a revert during the watch: {seen:#?}");
    assert!(
        seen.iter()
            .any(|v| v["event"] == "watch_ended" && v["kept"] == false),
        "{seen:#?}"
    );
    assert_eq!(f.lives(), before, "every server on the release it had");
    assert!(f.no_locks());
    for d in f.newest() {
        assert_eq!(d.status, Status::Failed, "{d:?}");
        assert!(
            d.error.as_deref().unwrap_or_default().contains(
                "reverted by the operator (interrupted during the watch after batch 1 (step 2 of 2))"
            ),
            "{d:?}"
        );
    }
}

/// On a terminal, `x` then Enter during a watched rollout's last watch (after its last batch;
/// the canary's watch passed) puts all four back: the watch hears the operator through the
/// rollout's own keys.
#[test]
fn x_during_a_watched_rollouts_watch_puts_all_four_back() {
    if !crate::support::tmux::available() {
        return;
    }
    let Some(f) = fleet("") else { return };
    let before = f.provisioned();
    let t = deploy_on_a_terminal(&f, "--canary 1 --batch 100% --pause 0s --watch=20");
    t.wait_for(
        "watching for 20 s after the switch of batch 1 (step 2 of 2)",
        Duration::from_secs(180),
    );
    let lives = f.lives();
    assert!(
        lives.iter().all(|l| *l == lives[0] && *l != before[0]),
        "all four live: {lives:?}"
    );
    t.keys(&["x", "Enter"]);
    let s = t.wait_for("exit=", Duration::from_secs(60));
    assert!(!s.contains("exit=0"), "{s}");
    f.all_back(
        &before,
        "reverted by the operator during the watch after batch 1 (step 2 of 2)",
    );
}

/// A plain fleet watched after its switch: a server whose deploy dies during the watch (it is
/// then put back on its own) makes every other server go back too, so the fleet never splits.
#[test]
fn a_server_lost_during_a_fleets_watch_puts_all_four_back() {
    let Some(f) = fleet("") else { return };
    let before = f.provisioned();
    let mut run = Running::start(&f.h, &["deploy", DOMAIN, "--watch=120", "--json"]);
    run.until(180, "the watch", |v| v["event"] == "watch_started");
    assert!(f.lives().iter().all(|l| *l != before[0]), "all four live");
    // web1's deploy dies on the server while held (its watch's exec goes on).
    let pid = deploy_shell_on(&f.servers[0].1).expect("web1's deploy shell");
    signal(&pid, "-KILL");
    let (seen, code) = run.finish();
    assert_eq!(code, Some(1), "a server lost is a failure: {seen:#?}");
    assert_eq!(
        f.lives(),
        before,
        "every server on the release it had: {seen:#?}"
    );
    assert!(f.no_locks());
    let newest = f.newest();
    assert!(
        newest.iter().all(|d| d.status == Status::Failed),
        "{newest:?}"
    );
    let others = newest[1].error.as_deref().unwrap_or_default();
    assert!(
        others.contains("web1/example.com's deploy ended during the watch"),
        "{others}"
    );
}

/// `flipdeck deploy DOMAIN ARGS` on a terminal (tmux), its exit code printed as `exit=N`.
fn deploy_on_a_terminal(f: &Fleet, args: &str) -> crate::support::tmux::Tmux {
    let cmd = format!(
        "FLIPDECK_CONFIG='{}' FLIPDECK_DB='{}' '{}' deploy {DOMAIN} {args}; echo \"exit=$?\"; sleep 60",
        f.h.config.display(),
        f.h.db.display(),
        env!("CARGO_BIN_EXE_flipdeck"),
    );
    crate::support::tmux::Tmux::start(&cmd, 200, 50)
}

/// web2's connection drops during a fleet's watch while web2 cannot be reached again for a while
/// (its sshd frozen: a reconnect waits for its timeout): the watch sends every server back at
/// once, without waiting for web2's own deploy to notice, and web2's script, which gets no
/// verdict, switches back by itself. Never committed around a server that is gone.
#[test]
fn a_connection_lost_during_a_fleets_watch_sends_every_server_back_at_once() {
    let Some(f) = fleet("") else { return };
    let before = f.provisioned();
    let mut run = Running::start(&f.h, &["deploy", DOMAIN, "--watch=120", "--json"]);
    run.until(180, "the watch", |v| v["event"] == "watch_second");
    let sshd = &f.servers[1].1;
    // Its listener frozen first (no new connection gets an answer), then its connections' sshd
    // processes killed: the commands they ran (the deploy's script) live on without them.
    unsafe { libc::kill(sshd.pid() as i32, libc::SIGSTOP) };
    let sessions: Vec<u32> = sshd
        .connection_pids()
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sshd")
        })
        .collect();
    assert!(!sessions.is_empty(), "web2's connection processes");
    for p in &sessions {
        unsafe { libc::kill(*p as i32, libc::SIGKILL) };
    }
    let rev = run.until(60, "the watch's end", |v| v["event"] == "watch_ended");
    let why = rev["reverted"].as_str().unwrap_or_default().to_string();
    assert!(
        why.starts_with("the connection to web2 was lost during the watch"),
        "{rev}"
    );
    unsafe { libc::kill(sshd.pid() as i32, libc::SIGCONT) };
    let (seen, code) = run.finish();
    assert_eq!(code, Some(1), "a server lost is a failure: {seen:#?}");
    // web2 switched back by itself (no verdict), the others were told to.
    let deadline = Instant::now() + Duration::from_secs(30);
    while f.lives() != before || !f.no_locks() {
        assert!(
            Instant::now() < deadline,
            "not all back: {:?} (before {before:?}), locks gone: {}",
            f.lives(),
            f.no_locks()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let newest = f.newest();
    for (i, d) in newest.iter().enumerate().filter(|(i, _)| *i != 1) {
        let reason = d.error.as_deref().unwrap_or_default();
        assert!(reason.starts_with(&why), "web{}: {reason}", i + 1);
    }
}
