//! Test support: a sandbox with a real git repository, a deployment root on the real filesystem,
//! a config and a history DB, and helpers to run the real `flipdeck` binary against it.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod counting;
pub mod faults;
pub mod git;
pub mod latency;
pub mod pause;
pub mod sshd;
pub mod tmux;
pub mod web;

pub use self::git::git;

pub const DOMAIN: &str = "example.com";

/// How the sandbox's server is reached.
pub enum TransportKind {
    Local,
    /// A real OpenSSH server on loopback, logged into as the current user.
    Ssh(sshd::TestSshd),
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub repo: PathBuf,
    pub config: PathBuf,
    pub db: PathBuf,
    pub transport: TransportKind,
}

/// A test that cannot run here: a failure in CI (where the test command installs everything and
/// runs as root), a printed skip elsewhere.
pub fn cannot_run(ci_needs: &str, skipping: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{ci_needs}");
    println!("skipping: {skipping}");
}

/// The release name of a `list --json` record (the last part of its `deployment_path`).
pub fn release_of(d: &Value) -> String {
    let path = d["deployment_path"]
        .as_str()
        .expect("a deployment with a directory");
    path.rsplit('/').next().unwrap().to_string()
}

impl Harness {
    pub fn local() -> Harness {
        Harness::new(TransportKind::Local)
    }

    /// The same sandbox behind a real sshd; `None` (after printing why) outside CI without sshd.
    pub fn ssh() -> Option<Harness> {
        sshd::TestSshd::start().map(|s| Harness::new(TransportKind::Ssh(s)))
    }

    pub fn new(transport: TransportKind) -> Harness {
        let dir = tempfile::Builder::new()
            .prefix("flipdeck-test-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("srv");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(repo.join("public")).unwrap();
        std::fs::create_dir_all(repo.join("storage/framework")).unwrap();
        std::fs::write(repo.join("storage/framework/.gitkeep"), "").unwrap();
        std::fs::write(repo.join("public/index.php"), "<?php echo 'v1';\n").unwrap();
        git(&repo, &["init", "-q"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-qm", "v1"]);
        let h = Harness {
            config: dir.path().join("config.toml"),
            db: dir.path().join("history.db"),
            dir,
            root,
            repo,
            transport,
        };
        h.write_config("");
        h
    }

    /// The server block for this transport.
    fn server_block(&self) -> String {
        match &self.transport {
            TransportKind::Local => format!(
                "[[servers]]\nname = \"web1\"\ntransport = \"local\"\nroot = \"{}\"\n",
                self.root.display()
            ),
            TransportKind::Ssh(s) => {
                let known = self.dir.path().join("known_hosts");
                if !known.exists() {
                    std::fs::write(&known, format!("{}\n", s.known_hosts_line)).unwrap();
                }
                s.server_block("web1", &known, &self.root)
            }
        }
    }

    /// Writes the config: one server, one site; `site_extra` adds/overrides site keys, and lines
    /// starting with `server:` go into the server block.
    pub fn write_config(&self, extra: &str) {
        let (server_extra, site_extra): (Vec<&str>, Vec<&str>) =
            extra.lines().partition(|l| l.starts_with("server:"));
        let server_extra: Vec<&str> = server_extra.iter().map(|l| &l["server:".len()..]).collect();
        let has = |k: &str| site_extra.iter().any(|l| l.trim_start().starts_with(k));
        let mut site = format!("[[servers.sites]]\ndomain = \"{DOMAIN}\"\n");
        if !has("repository") {
            site.push_str(&format!("repository = \"{}\"\n", self.repo.display()));
        }
        if !has("keep") {
            site.push_str("keep = 14\n");
        }
        for l in &site_extra {
            site.push_str(l);
            site.push('\n');
        }
        let text = format!("{}{}\n{site}", self.server_block(), server_extra.join("\n"));
        std::fs::write(&self.config, text).unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flipdeck"));
        c.args(args)
            .env_remove("SSH_AUTH_SOCK")
            .env("FLIPDECK_CONFIG", &self.config)
            .env("FLIPDECK_DB", &self.db)
            .env_remove("XDG_CONFIG_HOME")
            .current_dir(self.dir.path());
        if matches!(self.transport, TransportKind::Local) {
            let path = std::env::var("PATH").unwrap_or_default();
            c.env("PATH", format!("{}:{path}", self.pause_bin().display()));
        }
        c
    }

    /// Where `pause::Pause` wrappers go: first on the PATH of the server's shell.
    pub fn pause_bin(&self) -> PathBuf {
        match &self.transport {
            TransportKind::Local => pause::dir(self.dir.path()),
            TransportKind::Ssh(s) => pause::dir(s.dir()),
        }
    }

    /// Holds the first call of `command` whose arguments match `pattern` (see `pause`).
    pub fn pause_at(&self, command: &str, pattern: &str) -> pause::Pause {
        pause::Pause::install(&self.pause_bin(), command, pattern)
    }

    /// Starts flipdeck in the background, its output captured.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.cmd(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("flipdeck starts")
    }

    /// Starts a deploy and SIGKILLs flipdeck once it is building (see `wait_building`): what a
    /// crash leaves behind.
    pub fn deploy_killed_while_building(&self, releases_before: usize) {
        let mut child = self.spawn(&["deploy", DOMAIN]);
        self.wait_building(releases_before);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }

    /// Waits until a deploy holds the lock and its release directory exists (its script is running).
    /// Deploys once, then starts a deploy whose script sleeps, and returns the live release and
    /// that deploy once its script runs (it has touched `in-script`).
    pub fn deploy_held_in_script(&self) -> (String, std::process::Child) {
        self.write_config("deployment_script = \"true\"");
        self.ok(&["deploy", DOMAIN]);
        let live = self.live_release().unwrap();
        let mark = self.dir.path().join("in-script");
        let _ = std::fs::remove_file(&mark);
        self.write_config(&format!(
            "deployment_script = \"\"\"\necho started\ntouch '{}'\nsleep 30\n\"\"\"",
            mark.display()
        ));
        let child = self.spawn(&["deploy", DOMAIN]);
        self.wait_building(1);
        // In the script itself, not still cloning or linking.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !mark.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the deploy script did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        (live, child)
    }

    pub fn wait_building(&self, releases_before: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.releases().len() <= releases_before || !self.lock_dir().exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the deploy did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits until no process of this sandbox is left (an orphaned script finishing or dying):
    /// every script names the sandbox's paths on its command line.
    pub fn wait_quiet(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let out = Command::new("pgrep")
                .arg("-f")
                .arg(self.dir.path())
                .output()
                .expect("pgrep runs");
            if out.stdout.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "processes outlived the fault: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("flipdeck runs")
    }

    /// Runs and asserts the exit code, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(args, 0)
    }

    pub fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "flipdeck {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn commit(&self, file: &str, content: &str) -> String {
        let p = self.repo.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        git(&self.repo, &["add", "-A"]);
        git(&self.repo, &["commit", "-qm", &format!("change {file}")]);
        git(&self.repo, &["rev-parse", "HEAD"])
    }

    pub fn base(&self) -> PathBuf {
        self.root.join("deployments").join(DOMAIN)
    }

    pub fn live(&self) -> PathBuf {
        self.root.join(DOMAIN)
    }

    /// The release the live symlink names, asserting it is a symlink to an existing directory.
    pub fn live_release(&self) -> Option<String> {
        let link = std::fs::read_link(self.live()).ok()?;
        assert!(link.is_relative(), "live link should be relative: {link:?}");
        assert!(
            self.live().join("public/index.php").is_file(),
            "live release is complete"
        );
        Some(link.file_name().unwrap().to_string_lossy().into_owned())
    }

    /// Release directories on disk (not shared, not hidden).
    pub fn releases(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.base()) else {
            return vec![];
        };
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "shared" && !n.starts_with('.'))
            .collect();
        v.sort();
        v
    }

    pub fn list(&self) -> Vec<Value> {
        self.list_in(&self.db, &[])
    }

    /// `list --json` as the history `db` has it (another operator's, say), with `extra` flags.
    pub fn list_in(&self, db: &Path, extra: &[&str]) -> Vec<Value> {
        let mut c = self.cmd(&["list", DOMAIN, "--json"]);
        let out = succeeded(c.args(extra).env("FLIPDECK_DB", db).output().unwrap());
        serde_json::from_slice::<Value>(&out.stdout)
            .expect("list --json is JSON")
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn active(&self) -> Option<Value> {
        self.list().into_iter().find(|d| d["is_active"] == true)
    }

    pub fn lock_dir(&self) -> PathBuf {
        self.base().join(".flipdeck/lock")
    }
}

/// Tests that run once per transport: `both!(a, b)` makes `local::a` and `ssh::a` (the latter
/// only where sshd can run; see `Harness::ssh`) for each body `fn a(h: Harness)` in scope.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[test] fn $name() { super::$name($crate::support::Harness::local()) })*
        }
        mod ssh {
            $(#[test] fn $name() {
                if let Some(h) = $crate::support::Harness::ssh() { super::$name(h) }
            })*
        }
    };
}
pub(crate) use both;

/// `out`, after checking that its command succeeded (else its stderr is the failure).
pub fn succeeded(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Two sshd servers on 127.0.0.2 and 127.0.0.3, named `web1` and `web2`, each with its own root
/// under the harness's directory; `None` where sshd cannot start (outside CI: the skip is said).
pub fn two_servers(h: &Harness) -> Option<Vec<(String, sshd::TestSshd, PathBuf)>> {
    servers(h, 2)
}

/// `n` sshd servers on 127.0.0.2 onwards, named `web1` to `webN`, as `two_servers` makes two.
pub fn servers(h: &Harness, n: usize) -> Option<Vec<(String, sshd::TestSshd, PathBuf)>> {
    let mut servers = Vec::new();
    for i in 0..n {
        let addr = format!("127.0.0.{}", i + 2);
        let sshd = sshd::TestSshd::start_on(&addr)?;
        let root = h.dir.path().join(format!("srv{}", i + 1));
        std::fs::create_dir_all(&root).unwrap();
        servers.push((format!("web{}", i + 1), sshd, root));
    }
    Some(servers)
}

/// Writes a `known_hosts` trusting every one of `servers` and returns a config naming them all
/// (`parallel` first), each server's block followed by `sites(name)`.
pub fn servers_config(
    h: &Harness,
    servers: &[(String, sshd::TestSshd, PathBuf)],
    parallel: usize,
    sites: impl Fn(&str) -> String,
) -> String {
    let known: String = servers
        .iter()
        .map(|(_, s, _)| format!("{}\n", s.known_hosts_line))
        .collect();
    let known_path = h.dir.path().join("known_hosts");
    std::fs::write(&known_path, known).unwrap();
    let mut config = format!("parallel = {parallel}\n");
    for (name, s, root) in servers {
        config.push_str(&s.server_block(name, &known_path, root));
        config.push_str(&sites(name));
    }
    config
}
