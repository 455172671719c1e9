//! `flipdeck doctor`: one exec per server (`assets/remote/doctor.sh`) looking at what a deploy
//! relies on, each finding with the fix for a failure. The list of checks is `CHECKS`: a new
//! setting that needs something on the server (say `writable_mode = "acl"` and `setfacl`) adds a
//! row here, a block in `doctor.sh` and a fix in `fix`; a check whose setting is not configured
//! reports `skip`.

use super::protocol::{DoctorReport, JOB_ENV, Marker, Params, Vars};
use super::scripts;
use crate::config::{Probe, ServerConfig};
use crate::shell::quote;
use crate::transport::{Connector, OutputLine, Stream};
use std::time::{Duration, SystemTime};

/// How a check came out. `Fail` means a deploy would break; `Warn` that it may, or soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Outcome {
    fn parse(s: &str) -> Outcome {
        match s {
            "ok" => Outcome::Ok,
            "warn" => Outcome::Warn,
            "skip" => Outcome::Skip,
            _ => Outcome::Fail,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        }
    }
}

/// One check's result on one server.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    /// What to do about a failure or a warning.
    pub fix: Option<String>,
}

/// Every check, in the order they are reported, with what it looks at (the README's table).
pub const CHECKS: &[(&str, &str)] = &[
    (
        "connect",
        "flipdeck can connect and log in (host key, key, user)",
    ),
    (
        "login_shell",
        "the login shell starts without printing anything or asking",
    ),
    ("root", "`root` exists and is writable, or can be created"),
    (
        "git",
        "git is on the PATH of a non-interactive session, and its version",
    ),
    (
        "http_client",
        "curl or wget, when a site has a URL health check",
    ),
    (
        "rename",
        "`mv -T` renames a symlink over another in `root` (the atomic switch)",
    ),
    (
        "sudo",
        "`sudo -n` allows each configured command that uses sudo (reload, nginx test and reload)",
    ),
    ("fpm_socket", "the PHP-FPM socket of each nginx site exists"),
    (
        "nginx_dir",
        "`nginx_sites_dir` is writable, when a site has `nginx = true`",
    ),
    (
        "acl",
        "`setfacl` is installed and the web user exists, when a site has `writable_mode = \"acl\"`",
    ),
    (
        "disk",
        "free space and inodes under `root` against the size of the newest release",
    ),
    (
        "clock",
        "the server's clock against this machine's (release names are times)",
    ),
    (
        "repository",
        "each site's repository and branch are reachable from the server, without a prompt",
    ),
];

/// How far the clocks may differ before `clock` warns.
pub const CLOCK_WARN: Duration = Duration::from_secs(2);
/// How long the whole exec may take (a prompt waiting for input, a hanging fetch).
const DEADLINE: Duration = Duration::from_secs(90);

/// The fix for a check that did not pass on `server`.
fn fix(check: &str, server: &ServerConfig, detail: &str) -> String {
    let user = server.ssh.user.as_deref().unwrap_or("USER");
    let root = server.root.as_deref().unwrap_or("the login user's home");
    match check {
        "connect" => "check `host`, `port`, `user` and `identity_file` (`ssh -v` shows what the \
             server says)"
            .into(),
        "login_shell" => "make the shell quiet when it is not interactive: start ~/.bashrc with \
             `case $- in *i*) ;; *) return ;; esac`, and print banners only from ~/.bash_profile \
             or on a terminal (`[ -t 1 ]`)"
            .into(),
        "root" => format!(
            "create it for the login user (`sudo install -d -o {user} {root}`), or set `root` to a \
             folder it owns"
        ),
        "git" => "install git on the server (`sudo apt-get install git`), or put it on the PATH \
             non-interactive SSH sessions get"
            .into(),
        "http_client" => "install curl on the server (`sudo apt-get install curl`), or use \
             `health_check = { command = \"...\" }`"
            .into(),
        "rename" => "install GNU coreutils (or a BusyBox with `mv -T`): the switch renames a \
             link over the live one"
            .into(),
        "sudo" if detail.contains("not installed") => {
            "install sudo (`apt-get install sudo`) and allow the command, or change the command"
                .into()
        }
        "sudo" => format!(
            "allow it without a password: `{user} ALL=(root) NOPASSWD: /full/path/of/command args` \
             in `sudo visudo -f /etc/sudoers.d/flipdeck`, or change `reload_command` \
             (`\"\"` turns it off)"
        ),
        "fpm_socket" => "start PHP-FPM (`sudo service php8.3-fpm start`), or set \
             `php_fpm_socket` to the pool's `listen` path"
            .into(),
        "nginx_dir" => format!(
            "let the login user write it (`sudo setfacl -m u:{user}:rwx DIR`), or set \
             `nginx_sites_dir`"
        ),
        "acl" if detail.contains("no user") => {
            "create the web user (PHP-FPM's), or set `web_user` \
             to the user PHP-FPM runs as"
                .into()
        }
        "acl" => "install acl on the server (`sudo apt-get install acl`), or use \
             `writable_mode = \"group\"`"
            .into(),
        "disk" => format!(
            "free space under {root}: lower `keep` and run `flipdeck prune`, or grow the filesystem"
        ),
        "clock" => "turn on time synchronisation on the server and here \
             (`sudo timedatectl set-ntp true`)"
            .into(),
        "repository" if detail.contains("has no branch") => {
            "push the branch, or set `branch` to one the repository has".into()
        }
        "repository" => "give the server read access: a deploy key at the repository's host, and \
             its host key in the login user's ~/.ssh/known_hosts (run `git ls-remote URL` once on \
             the server); check `repository`"
            .into(),
        _ => "see the detail".into(),
    }
}

/// The name in `CHECKS` for a name a script reported (an unknown one is kept as `?`).
fn known(name: &str) -> &'static str {
    CHECKS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("?", |(n, _)| n)
}

fn finding(
    server: &ServerConfig,
    check: &'static str,
    outcome: Outcome,
    detail: String,
) -> Finding {
    let fix = matches!(outcome, Outcome::Fail | Outcome::Warn).then(|| fix(check, server, &detail));
    Finding {
        check,
        outcome,
        detail,
        fix,
    }
}

/// The commands of `server` that run through sudo: the reload, and nginx's test and reload when a
/// site has nginx.
fn sudo_commands(server: &ServerConfig) -> Vec<String> {
    let mut cmds: Vec<String> = Vec::new();
    let nginx = server.sites.iter().any(|s| s.nginx.is_some());
    let mut all: Vec<&str> = server.reload_command.iter().map(String::as_str).collect();
    if nginx {
        all.push(&server.nginx.test_command);
        all.extend(server.nginx.reload_command.as_deref());
    }
    for c in all {
        if c.split_whitespace().any(|w| w == "sudo") && !cmds.iter().any(|o| o == c) {
            cmds.push(c.to_string());
        }
    }
    cmds
}

/// The parameters of `doctor.sh` for `server`.
fn params(server: &ServerConfig, marker: &str) -> Params {
    let (root, from_home) = match &server.root {
        Some(r) => (r.as_str(), false),
        None => ("", true),
    };
    let mut sockets: Vec<&str> = Vec::new();
    let mut repos: Vec<&str> = Vec::new();
    let mut branches: Vec<&str> = Vec::new();
    for s in &server.sites {
        if let Some(sock) = s.nginx.as_ref().and_then(|n| n.php_fpm_socket())
            && !sockets.contains(&sock)
        {
            sockets.push(sock);
        }
        // Only the server fetches a `server` source; a push or an artifact comes from this machine.
        if let Some(r) = &s.repository
            && s.source == crate::config::CodeSource::Server
        {
            repos.push(r);
            branches.push(&s.branch);
        }
    }
    // An artifact needs no git on the server; a push's cache and release do.
    let need_git = server.sites.iter().any(|s| {
        s.repository.is_some() && !matches!(s.source, crate::config::CodeSource::Artifact { .. })
    });
    let need_http = server.sites.iter().any(|s| {
        s.health_check
            .as_ref()
            .is_some_and(|h| matches!(h.probe, Probe::Url { .. }))
    });
    let nginx_dir = if server.sites.iter().any(|s| s.nginx.is_some()) {
        server.nginx.sites_dir.as_str()
    } else {
        ""
    };
    Params::new()
        .set("M", marker)
        .set("token", "doctor")
        .set("owner", "")
        .set("job_env", JOB_ENV)
        .set("root", root)
        .flag("home_root", from_home)
        .set("domain", "")
        .flag("need_git", need_git)
        .flag("need_http", need_http)
        .set("nginx_dir", nginx_dir)
        .list("acl_user", &acl_users(server))
        .list("sudo_cmd", &sudo_commands(server))
        .list("fpm_socket", &sockets)
        .list("repo", &repos)
        .list("repo_branch", &branches)
}

/// The web users of the sites with `writable_mode = "acl"` (each once).
fn acl_users(server: &ServerConfig) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    for w in server.sites.iter().filter_map(|s| s.writable.as_ref()) {
        if w.mode == crate::config::WritableMode::Acl && !users.contains(&w.user) {
            users.push(w.user.clone());
        }
    }
    users
}

/// What the exec printed, each line with when it arrived.
struct Printed {
    lines: Vec<(OutputLine, SystemTime)>,
}

impl Printed {
    /// The lines before `begin` on each stream: what the login shell printed.
    fn before_begin(&self, marker: &str) -> Vec<String> {
        let begin = format!("{marker} begin");
        let mut out = Vec::new();
        for stream in [Stream::Stdout, Stream::Stderr] {
            for (l, _) in self.lines.iter().filter(|(l, _)| l.stream == stream) {
                if l.line == begin {
                    break;
                }
                out.push(l.line.clone());
            }
        }
        out
    }

    /// The values reported on stdout, and when the clock's arrived.
    fn report(&self, marker: &str) -> (DoctorReport, Option<SystemTime>) {
        let mut vars = Vars::default();
        let mut clock_at = None;
        for (l, at) in self
            .lines
            .iter()
            .filter(|(l, _)| l.stream == Stream::Stdout)
        {
            if let Some(Marker::Set { key, value }) = Marker::parse(marker, &l.line) {
                if key == super::protocol::Key::Clock {
                    clock_at = Some(*at);
                }
                vars.push(key, value);
            }
        }
        (vars.report(), clock_at)
    }
}

/// Runs every check on `server`. Never fails: a server that cannot be reached is a failed
/// `connect` finding.
pub async fn examine(server: &ServerConfig, connector: &dyn Connector) -> Vec<Finding> {
    let target = match connector.connect().await {
        Ok(t) => t,
        Err(e) => {
            let mut f = finding(server, "connect", Outcome::Fail, e.to_string());
            if let Some(s) = e.suggestion() {
                f.fix = Some(s);
            }
            return vec![f];
        }
    };
    let mut findings = vec![finding(server, "connect", Outcome::Ok, target.describe())];
    let marker = format!("::flipdeck-doctor-{}::", std::process::id());
    let script = scripts::assemble(params(server, &marker).as_str(), &[scripts::DOCTOR]);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let command = format!("exec sh -c {}", quote(&script));
    let exec = target.exec(&command, None, tx);
    tokio::pin!(exec);
    let mut printed = Printed { lines: Vec::new() };
    let deadline = tokio::time::sleep(DEADLINE);
    tokio::pin!(deadline);
    let status = loop {
        tokio::select! {
            Some(l) = rx.recv() => printed.lines.push((l, SystemTime::now())),
            r = &mut exec => break Some(r),
            _ = &mut deadline => break None,
        }
    };
    while let Ok(l) = rx.try_recv() {
        printed.lines.push((l, SystemTime::now()));
    }
    let noise = printed.before_begin(&marker);
    let begun = printed
        .lines
        .iter()
        .any(|(l, _)| l.line == format!("{marker} begin"));
    let login = match (&status, begun) {
        (None, false) => finding(
            server,
            "login_shell",
            Outcome::Fail,
            format!(
                "the login shell did not start the checks within {}s (is it waiting for input?)",
                DEADLINE.as_secs()
            ),
        ),
        _ if !noise.is_empty() => finding(
            server,
            "login_shell",
            Outcome::Fail,
            format!(
                "it printed {} line(s) before the command ran: {}",
                noise.len(),
                crate::visible::visible(&noise.join(" / "), false)
            ),
        ),
        _ => finding(server, "login_shell", Outcome::Ok, "starts quietly".into()),
    };
    findings.push(login);
    let (report, clock_at) = printed.report(&marker);
    for (name, outcome, detail) in report.checks {
        findings.push(finding(
            server,
            known(&name),
            Outcome::parse(&outcome),
            detail,
        ));
    }
    findings.push(match (report.clock, clock_at) {
        (Some(theirs), Some(at)) => {
            let ours = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let skew = theirs - ours;
            let outcome = if skew.abs() > CLOCK_WARN.as_secs_f64() {
                Outcome::Warn
            } else {
                Outcome::Ok
            };
            let side = if skew >= 0.0 { "ahead of" } else { "behind" };
            finding(
                server,
                "clock",
                outcome,
                format!("{:.1}s {side} this machine", skew.abs()),
            )
        }
        _ => finding(
            server,
            "clock",
            Outcome::Warn,
            "the server did not report its time".into(),
        ),
    });
    match status {
        None => findings.push(finding(
            server,
            "repository",
            Outcome::Fail,
            format!("the checks did not finish within {}s", DEADLINE.as_secs()),
        )),
        Some(Err(e)) => findings.push(finding(
            server,
            "connect",
            Outcome::Fail,
            format!("the connection failed during the checks: {e}"),
        )),
        Some(Ok(s)) if !s.success() && !begun => findings.push(finding(
            server,
            "login_shell",
            Outcome::Fail,
            format!("the checks could not start ({s})"),
        )),
        Some(Ok(_)) => {}
    }
    // Report in CHECKS' order.
    findings.sort_by_key(|f| CHECKS.iter().position(|(n, _)| *n == f.check));
    findings
}

/// Whether a deploy would break on a server with these findings.
pub fn any_failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.outcome == Outcome::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every check the script reports is in `CHECKS` (so it has a fix and a README row).
    #[test]
    fn the_script_reports_only_known_checks() {
        for line in scripts::DOCTOR.lines() {
            let line = line.trim_start();
            for part in line.split("check ").skip(1) {
                let name = part.split_whitespace().next().unwrap_or("");
                if name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !name.is_empty()
                    && line.contains(&format!("check {name} "))
                    && (part.contains(" ok ")
                        || part.contains(" fail ")
                        || part.contains(" warn ")
                        || part.contains(" skip "))
                {
                    assert_ne!(known(name), "?", "doctor.sh reports unknown check {name}");
                }
            }
        }
        for (name, _) in CHECKS {
            assert_ne!(
                fix(name, &dummy(), ""),
                "see the detail",
                "{name} has a fix"
            );
        }
    }

    fn dummy() -> ServerConfig {
        crate::config::Config::parse(
            "[[servers]]\nname = \"w\"\ntransport = \"local\"\nroot = \"/srv\"\n",
            std::path::Path::new("/c.toml"),
        )
        .unwrap()
        .servers
        .remove(0)
    }
}
