//! Capistrano 3.17 on the same repository and server, when `cap` is installed. A minimal
//! Capfile and deploy.rb with the settings a Laravel site uses (keep 14 releases, the same shared
//! paths), and the test key and known_hosts.

use crate::sshd::TestSshd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Cap {
    dir: PathBuf,
    pub deploy_to: PathBuf,
}

/// `cap --version`'s first line, or `None` when it is not installed.
pub fn version() -> Option<String> {
    let out = Command::new("cap").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn rb(s: &Path) -> String {
    format!("{:?}", s.display().to_string())
}

impl Cap {
    /// Writes the project into `dir`; `deploy_to` starts empty but for `shared/.env` (Capistrano
    /// refuses to deploy with a linked file missing; provisioning would have created it).
    pub fn new(
        dir: PathBuf,
        deploy_to: PathBuf,
        sshd: &TestSshd,
        repo: &Path,
        known: &Path,
    ) -> Cap {
        Self::new_at(dir, deploy_to, sshd, sshd.port, repo, known)
    }

    /// The same, reaching the server at `port` (a latency proxy in front of it).
    pub fn new_at(
        dir: PathBuf,
        deploy_to: PathBuf,
        sshd: &TestSshd,
        port: u16,
        repo: &Path,
        known: &Path,
    ) -> Cap {
        std::fs::create_dir_all(dir.join("config/deploy")).unwrap();
        std::fs::write(
            dir.join("Capfile"),
            "require \"capistrano/setup\"\nrequire \"capistrano/deploy\"\n\
             require \"capistrano/scm/git\"\ninstall_plugin Capistrano::SCM::Git\n",
        )
        .unwrap();
        let deploy_rb = format!(
            r#"lock "~> 3.17"
set :application, "bench"
set :repo_url, {repo}
set :branch, "main"
set :deploy_to, {deploy_to}
set :keep_releases, 14
append :linked_dirs, "storage", "vendor", "node_modules"
append :linked_files, ".env"
set :ssh_options, {{
  port: {port},
  user: {user:?},
  keys: [{key}],
  keys_only: true,
  auth_methods: ["publickey"],
  user_known_hosts_file: {known},
  global_known_hosts_file: "/dev/null",
  verify_host_key: :always,
  use_agent: false,
  config: false,
}}
"#,
            repo = rb(repo),
            deploy_to = rb(&deploy_to),
            user = sshd.user,
            key = rb(&sshd.client_key),
            known = rb(known),
        );
        std::fs::write(dir.join("config/deploy.rb"), deploy_rb).unwrap();
        std::fs::write(
            dir.join("config/deploy/bench.rb"),
            format!(
                "server {:?}, user: {:?}, roles: %w{{app web}}\n",
                sshd.address, sshd.user
            ),
        )
        .unwrap();
        Cap::reset(&deploy_to);
        Cap { dir, deploy_to }
    }

    /// Back to a server Capistrano has never deployed to.
    pub fn reset(deploy_to: &Path) {
        let _ = std::fs::remove_dir_all(deploy_to);
        std::fs::create_dir_all(deploy_to.join("shared")).unwrap();
        std::fs::write(deploy_to.join("shared/.env"), "").unwrap();
    }

    /// `cap bench TASK`, timed; its output goes to `cap.log` in the project.
    pub fn time(&self, task: &str) -> Duration {
        let log = std::fs::File::create(self.dir.join("cap.log")).unwrap();
        let t = Instant::now();
        let status = Command::new("cap")
            .args(["bench", task])
            .current_dir(&self.dir)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .expect("cap runs");
        let took = t.elapsed();
        assert!(
            status.success(),
            "cap {task} failed; see {}",
            self.dir.join("cap.log").display()
        );
        took
    }
}
