//! The floor (docs/design.md §11): the least any tool can do for each operation, as one OpenSSH exec.
//! A deploy is one exec doing repository cache fetch + local clone + shared links + rename; a
//! rollback is one exec doing `test -d` + rename; `ssh host true` is the connection alone.

use crate::sshd::TestSshd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The OpenSSH client, set up for the test server only (no user config, no agent).
pub struct Ssh {
    args: Vec<String>,
}

impl Ssh {
    pub fn new(sshd: &TestSshd, known_hosts: &Path) -> Ssh {
        Self::new_at(sshd, sshd.port, known_hosts)
    }

    /// The same, reaching the server at `port` (a latency proxy in front of it).
    pub fn new_at(sshd: &TestSshd, port: u16, known_hosts: &Path) -> Ssh {
        let args = [
            "-F",
            "/dev/null",
            "-i",
            &sshd.client_key.display().to_string(),
            "-o",
            &format!("UserKnownHostsFile={}", known_hosts.display()),
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-p",
            &port.to_string(),
            "-l",
            &sshd.user,
            &sshd.address,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Ssh { args }
    }

    /// Runs `script` in one ssh exec and returns how long the whole client took.
    pub fn time(&self, script: &str) -> Duration {
        let t = Instant::now();
        let out = Command::new("ssh")
            .args(&self.args)
            .arg(script)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs");
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "ssh {script:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }
}

/// A minimal layout like flipdeck's (base with cache, shared, releases; live link beside it).
pub struct Floor {
    pub dir: PathBuf,
    pub repo: String,
    n: usize,
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

impl Floor {
    /// Creates the layout and its cache (not timed: it is the cold floor's job, measured apart).
    pub fn new(dir: PathBuf, repo: &Path) -> Floor {
        let base = dir.join("base");
        for d in ["shared/storage", "shared/vendor", "shared/node_modules"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        std::fs::write(base.join("shared/.env"), "").unwrap();
        let status = Command::new("git")
            .args(["clone", "--mirror", "--quiet"])
            .arg(repo)
            .arg(base.join(".cache/repo.git"))
            .status()
            .unwrap();
        assert!(status.success());
        Floor {
            dir,
            repo: repo.display().to_string(),
            n: 0,
        }
    }

    pub fn base(&self) -> PathBuf {
        self.dir.join("base")
    }

    /// The next release name and the script that builds it and makes it live.
    pub fn deploy_script(&mut self) -> (String, String) {
        self.n += 1;
        let r = format!("r{:03}", self.n);
        let base = q(&self.base());
        let script = format!(
            r#"set -e
cd {base}
git --git-dir=.cache/repo.git fetch --prune --quiet origin
git clone --quiet --local --branch main .cache/repo.git {r}
git -C {r} remote set-url origin '{repo}'
for e in storage vendor node_modules .env; do rm -rf "{r}/$e"; ln -s "../shared/$e" "{r}/$e"; done
ln -s base/{r} ../.live-tmp && mv -T ../.live-tmp ../live"#,
            repo = self.repo,
        );
        (r, script)
    }

    pub fn rollback_script(&self, release: &str) -> String {
        format!(
            "cd {} && test -d base/{release} && ln -s base/{release} .live-tmp && mv -T .live-tmp live",
            q(&self.dir)
        )
    }

    /// One exec deleting the given releases.
    pub fn prune_script(&self, releases: &[String]) -> String {
        format!("cd {} && rm -rf {}", q(&self.base()), releases.join(" "))
    }

    /// The cold floor: one connection and a `git clone` of the repository on the server.
    pub fn clone_script(repo: &Path, into: &Path) -> String {
        format!("git clone --quiet {} {}", q(repo), q(into))
    }
}
