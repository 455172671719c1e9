//! Reach (#16): bastions, agent forwarding, deploy keys and certificates, against real OpenSSH
//! servers on loopback addresses (see `support/sshd.rs`).

use crate::support::sshd::{
    SshdOptions, TestAgent, TestSshd, make_ca, sign_key, ssh_keygen_fingerprint,
};
use crate::support::{DOMAIN, Harness, TransportKind, git};
use flipdeck::transport::ssh::{Hop, SshError, SshParams, SshTransport};
use flipdeck::transport::{OutputLine, Transport};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::sync::mpsc::unbounded_channel;

fn start(address: &str, options: &SshdOptions) -> Option<TestSshd> {
    TestSshd::start_with(address, options)
}

/// A bastion on `address` whose onward connections come from `address` too.
fn bastion(address: &str) -> Option<TestSshd> {
    start(
        address,
        &SshdOptions {
            bind_from: Some(address.into()),
            ..SshdOptions::default()
        },
    )
}

/// A server on `address` that lets the test user in only from `from`.
fn behind(address: &str, from: &str) -> Option<TestSshd> {
    let user = whoami();
    start(
        address,
        &SshdOptions {
            extra_config: format!("AllowUsers {user}@{from}\n"),
            ..SshdOptions::default()
        },
    )
}

fn whoami() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Parameters that trust `sshd` (through `known_hosts`) and use only its client key.
fn params(sshd: &TestSshd, known_hosts: &Path) -> SshParams {
    let mut p = SshParams::new(&sshd.address, sshd.port, &sshd.user);
    p.name = format!("srv-{}", sshd.address);
    p.identity_file = Some(sshd.client_key.clone());
    p.known_hosts_file = known_hosts.to_path_buf();
    p.agent_socket = None;
    p.default_identity_files = Vec::new();
    p
}

fn known_hosts_of(dir: &Path, servers: &[&TestSshd]) -> PathBuf {
    let path = dir.join("known_hosts");
    let text: String = servers
        .iter()
        .map(|s| format!("{}\n", s.known_hosts_line))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn hop(label: &str, p: SshParams) -> Hop {
    Hop {
        label: label.into(),
        params: p,
    }
}

async fn output(target: &impl Transport, script: &str) -> String {
    let (tx, mut rx) = unbounded_channel::<OutputLine>();
    let status = target.exec(script, None, tx).await.expect("exec");
    assert!(status.success(), "{script}: {status}");
    let mut all = String::new();
    while let Ok(l) = rx.try_recv() {
        all.push_str(&l.line);
        all.push('\n');
    }
    all
}

fn error_of(r: Result<SshTransport, SshError>) -> SshError {
    match r {
        Ok(_) => panic!("connected, but it should have been refused"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_server_reachable_only_through_its_bastion() {
    let (Some(b), Some(t)) = (bastion("127.0.0.2"), behind("127.0.0.3", "127.0.0.2")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let kh = known_hosts_of(dir.path(), &[&b, &t]);
    // Directly, the target refuses us (we come from 127.0.0.1).
    let e = error_of(SshTransport::connect(&params(&t, &kh)).await);
    assert!(matches!(e, SshError::Auth { .. }), "{e}");
    let mut p = params(&t, &kh);
    p.jump = vec![hop("bastion", params(&b, &kh))];
    let started = Instant::now();
    let target = SshTransport::connect(&p)
        .await
        .expect("through the bastion");
    let through = started.elapsed();
    let conn = output(&target, "echo \"$SSH_CONNECTION\"").await;
    assert!(conn.starts_with("127.0.0.2 "), "the target saw {conn}");
    assert!(
        target.describe().ends_with("via bastion"),
        "{}",
        target.describe()
    );
    // The same run: one direct connection (to the bastion) for comparison.
    let started = Instant::now();
    let direct = SshTransport::connect(&params(&b, &kh))
        .await
        .expect("direct");
    let direct_time = started.elapsed();
    drop(direct);
    println!("connect + auth: direct {direct_time:?}, through one bastion {through:?}");
}

#[tokio::test]
async fn a_chain_of_two_bastions() {
    let (Some(outer), Some(inner), Some(t)) = (
        start("127.0.0.2", &SshdOptions::default()),
        bastion("127.0.0.4"),
        behind("127.0.0.5", "127.0.0.4"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let kh = known_hosts_of(dir.path(), &[&outer, &inner, &t]);
    let mut p = params(&t, &kh);
    p.jump = vec![
        hop("outer", params(&outer, &kh)),
        hop("inner", params(&inner, &kh)),
    ];
    let target = SshTransport::connect(&p).await.expect("through both");
    let conn = output(&target, "echo \"$SSH_CONNECTION\"").await;
    assert!(conn.starts_with("127.0.0.4 "), "{conn}");
    // The inner bastion's key wrong: refused, naming that hop, and nothing reaches the target.
    let impostor = outer.new_key("impostor", "");
    let key = std::fs::read_to_string(impostor.with_extension("pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let text = format!(
        "{}\n[127.0.0.4]:{} {}\n{}\n",
        outer.known_hosts_line,
        inner.port,
        key.join(" "),
        t.known_hosts_line
    );
    std::fs::write(&kh, text).unwrap();
    let seen = t.log().len();
    let e = error_of(SshTransport::connect(&p).await);
    let text = e.to_string();
    assert!(
        text.starts_with("bastion inner: ") && text.contains("CHANGED"),
        "{text}"
    );
    assert!(
        !t.log()[seen..].contains("Connection from"),
        "nothing reached the target"
    );
}

#[test]
fn deploy_rollback_and_status_through_a_bastion() {
    let (Some(b), Some(t)) = (bastion("127.0.0.2"), behind("127.0.0.3", "127.0.0.2")) else {
        return;
    };
    let h = Harness::new(TransportKind::Ssh(t));
    let known = h.dir.path().join("known_hosts");
    let mut kh = std::fs::read_to_string(&known).unwrap();
    kh.push_str(&format!("{}\n", b.known_hosts_line));
    std::fs::write(&known, kh).unwrap();
    let add_bastion = |h: &Harness| {
        let mut config = std::fs::read_to_string(&h.config).unwrap();
        config.push_str(&b.server_block("bastion", &known, &h.root.join("bastion")));
        std::fs::write(&h.config, config).unwrap();
    };
    // Without the bastion the server refuses us.
    assert_eq!(h.run(&["deploy", DOMAIN]).status.code(), Some(1));
    h.write_config("server:jump = \"bastion\"");
    add_bastion(&h);
    h.ok(&["provision", DOMAIN]);
    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    assert_eq!(h.releases().len(), 2);
    h.ok(&["rollback", DOMAIN]);
    let status = h.ok(&["status"]);
    assert!(status.contains(DOMAIN), "{status}");
    let TransportKind::Ssh(t) = &h.transport else {
        unreachable!()
    };
    assert!(
        t.log().contains("Connection from 127.0.0.2 "),
        "came through the bastion:\n{}",
        t.log()
    );
    // A wrong bastion host key: refused, and the error names the hop.
    let impostor = b.new_key("impostor", "");
    let key = std::fs::read_to_string(impostor.with_extension("pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let TransportKind::Ssh(t) = &h.transport else {
        unreachable!()
    };
    std::fs::write(
        &known,
        format!(
            "{}\n[127.0.0.2]:{} {}\n",
            t.known_hosts_line,
            b.port,
            key.join(" ")
        ),
    )
    .unwrap();
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bastion bastion: ") && err.contains("CHANGED"),
        "{err}"
    );
}

/// The dashboard through a bastion (tmux, the real binary): it connects to a server that admits
/// only the bastion, deploys and rolls back by keys, and the server saw only the bastion.
#[test]
fn the_dashboard_deploys_and_rolls_back_through_a_bastion() {
    use crate::support::tmux::{self, WAIT, exit_code};
    if !tmux::available() {
        return;
    }
    let (Some(b), Some(t)) = (bastion("127.0.0.2"), behind("127.0.0.3", "127.0.0.2")) else {
        return;
    };
    let h = Harness::new(TransportKind::Ssh(t));
    let known = h.dir.path().join("known_hosts");
    let mut kh = std::fs::read_to_string(&known).unwrap();
    kh.push_str(&format!("{}\n", b.known_hosts_line));
    std::fs::write(&known, kh).unwrap();
    h.write_config("deployment_script = \"true\"\nserver:jump = \"bastion\"");
    let mut config = std::fs::read_to_string(&h.config).unwrap();
    config.push_str(&b.server_block("bastion", &known, &h.root.join("bastion")));
    std::fs::write(&h.config, config).unwrap();
    h.ok(&["deploy", DOMAIN]);
    let first = h.live_release().unwrap();
    h.commit("public/index.php", "<?php echo 'v2';\n");

    let d = tmux::dashboard(&h, "LANG=C.UTF-8", "", 110, 30);
    d.wait_for("● connected", WAIT);
    d.wait_for("#1", WAIT);
    d.keys(&["d"]);
    d.wait_for("Deploy example.com on web1", WAIT);
    d.keys(&["y"]);
    d.wait_for("deployed web1/example.com", WAIT);
    let second = h.live_release().unwrap();
    assert_ne!(second, first);
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v2';\n"
    );
    d.keys(&["Tab", "j", "r"]);
    d.wait_for("Roll back example.com on web1", WAIT);
    d.keys(&["y"]);
    d.wait_for("rolled back web1/example.com to #1", WAIT);
    assert_eq!(h.live_release().unwrap(), first);
    d.keys(&["q"]);
    assert_eq!(exit_code(&h).as_deref(), Some("0"));
    let TransportKind::Ssh(t) = &h.transport else {
        unreachable!()
    };
    let log = t.log();
    assert!(log.contains("Connection from 127.0.0.2 "), "{log}");
    assert!(
        !log.contains("Connection from 127.0.0.1 "),
        "only the bastion reached it: {log}"
    );
}

/// `jump = "outer"`, an alias whose own `ProxyJump inner` (in ~/.ssh/config) is followed first,
/// as OpenSSH does; a `ProxyJump` loop is refused and named.
#[test]
fn a_hops_own_proxy_jump_is_followed_and_a_loop_refused() {
    let user = whoami();
    let (Some(b1), Some(b2), Some(t)) = (
        bastion("127.0.0.2"),
        start(
            "127.0.0.3",
            &SshdOptions {
                extra_config: format!("AllowUsers {user}@127.0.0.2\n"),
                bind_from: Some("127.0.0.3".into()),
                ..SshdOptions::default()
            },
        ),
        behind("127.0.0.4", "127.0.0.3"),
    ) else {
        return;
    };
    let h = Harness::new(TransportKind::Ssh(t));
    let known = h.dir.path().join("known_hosts");
    let mut kh = std::fs::read_to_string(&known).unwrap();
    kh.push_str(&format!(
        "{}\n{}\n",
        b1.known_hosts_line, b2.known_hosts_line
    ));
    std::fs::write(&known, kh).unwrap();
    let home = h.dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let ssh_config = |inner_jump: &str| {
        let text = format!(
            "Host outer\n    HostName 127.0.0.3\n    Port {}\n    IdentityFile {}\n    ProxyJump inner\n\
             Host inner\n    HostName 127.0.0.2\n    Port {}\n    IdentityFile {}\n{inner_jump}",
            b2.port,
            b2.client_key.display(),
            b1.port,
            b1.client_key.display()
        );
        std::fs::write(home.join(".ssh/config"), text).unwrap();
    };
    let run = |args: &[&str]| h.cmd(args).env("HOME", &home).output().unwrap();
    ssh_config("");
    h.write_config("deployment_script = \"true\"\nserver:jump = \"outer\"");
    for args in [
        &["provision", DOMAIN][..],
        &["deploy", DOMAIN],
        &["rollback", DOMAIN],
    ] {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let TransportKind::Ssh(t) = &h.transport else {
        unreachable!()
    };
    assert!(
        t.log().contains("Connection from 127.0.0.3 "),
        "{}",
        t.log()
    );
    assert!(
        b2.log().contains("Connection from 127.0.0.2 "),
        "{}",
        b2.log()
    );
    // inner -> outer -> inner ...: refused before connecting, with the way it loops.
    ssh_config("    ProxyJump outer\n");
    let seen = b1.log().len();
    let out = run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the bastions form a loop") && err.contains("outer -> inner -> outer"),
        "{err}"
    );
    assert!(
        !b1.log()[seen..].contains("Connection from"),
        "nothing was reached"
    );
}

#[tokio::test]
async fn user_certificates_from_a_file_and_from_the_agent() {
    let cas = tempfile::tempdir().unwrap();
    let ca = cas.path().join("user_ca");
    make_ca(&ca);
    let Some(s) = start(
        "127.0.0.1",
        &SshdOptions {
            user_ca: Some(ca.clone()),
            ..SshdOptions::default()
        },
    ) else {
        return;
    };
    let kh = s.known_hosts_file();
    // KEY-cert.pub beside the key.
    let target = SshTransport::connect(&params(&s, &kh))
        .await
        .expect("certificate login");
    assert_eq!(output(&target, "echo ok").await, "ok\n");
    // A plain key alone is not enough there.
    let cert = PathBuf::from(format!("{}-cert.pub", s.client_key.display()));
    let moved = cas.path().join("elsewhere-cert.pub");
    std::fs::rename(&cert, &moved).unwrap();
    let e = error_of(SshTransport::connect(&params(&s, &kh)).await);
    assert!(matches!(e, SshError::Auth { .. }), "{e}");
    // certificate_file names it.
    let mut p = params(&s, &kh);
    p.certificate_file = Some(moved.clone());
    SshTransport::connect(&p).await.expect("certificate_file");
    // From the agent (ssh-add loads KEY-cert.pub with the key).
    std::fs::rename(&moved, &cert).unwrap();
    let agent = TestAgent::start();
    agent.add(&s.client_key);
    let mut p = params(&s, &kh);
    p.identity_file = None;
    p.agent_socket = Some(agent.socket.clone());
    SshTransport::connect(&p).await.expect("agent certificate");
    // A certificate for another user is refused.
    let other = s.new_key("other", "");
    sign_key(&ca, &other.with_extension("pub"), "somebody-else", false);
    let mut p = params(&s, &kh);
    p.identity_file = Some(other);
    assert!(SshTransport::connect(&p).await.is_err());
}

#[tokio::test]
async fn host_certificates_through_cert_authority_lines() {
    let cas = tempfile::tempdir().unwrap();
    let ca = cas.path().join("host_ca");
    make_ca(&ca);
    let ca_pub = std::fs::read_to_string(ca.with_extension("pub")).unwrap();
    let ca_key: Vec<&str> = ca_pub.split_whitespace().take(2).collect();
    let ca_key = ca_key.join(" ");
    let Some(s) = start(
        "127.0.0.1",
        &SshdOptions {
            host_ca: Some((ca.clone(), "127.0.0.1".into())),
            ..SshdOptions::default()
        },
    ) else {
        return;
    };
    let kh = cas.path().join("known_hosts");
    // Only the CA is known: the host's certificate is accepted.
    std::fs::write(
        &kh,
        format!("@cert-authority [127.0.0.1]:{} {ca_key}\n", s.port),
    )
    .unwrap();
    SshTransport::connect(&params(&s, &kh))
        .await
        .expect("host certificate");
    // The CA revoked: refused.
    std::fs::write(
        &kh,
        format!("@cert-authority * {ca_key}\n@revoked * {ca_key}\n"),
    )
    .unwrap();
    let e = error_of(SshTransport::connect(&params(&s, &kh)).await);
    assert!(matches!(e, SshError::HostKeyRevoked { line: 2, .. }), "{e}");
    // The certificate's key revoked: refused.
    let host_pub = std::fs::read_to_string(&s.host_pub_key).unwrap();
    let host_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
    std::fs::write(
        &kh,
        format!(
            "@cert-authority * {ca_key}\n@revoked * {}\n",
            host_key.join(" ")
        ),
    )
    .unwrap();
    let e = error_of(SshTransport::connect(&params(&s, &kh)).await);
    assert!(matches!(e, SshError::HostKeyRevoked { .. }), "{e}");
    // A CA trusted for other hosts only: the plain key is unknown.
    std::fs::write(&kh, format!("@cert-authority *.example.org {ca_key}\n")).unwrap();
    let e = error_of(SshTransport::connect(&params(&s, &kh)).await);
    assert!(matches!(e, SshError::HostKeyUnknown { .. }), "{e}");
    // A certificate for another name is refused.
    let Some(wrong) = start(
        "127.0.0.1",
        &SshdOptions {
            host_ca: Some((ca.clone(), "db.example.org".into())),
            ..SshdOptions::default()
        },
    ) else {
        return;
    };
    std::fs::write(&kh, format!("@cert-authority * {ca_key}\n")).unwrap();
    let e = error_of(SshTransport::connect(&params(&wrong, &kh)).await);
    assert!(e.to_string().contains("it is for db.example.org"), "{e}");
}

/// A "git host": an sshd holding a bare repository only its client key (the operator's) may
/// read, and a site deploying from it over `ssh://`.
struct GitHost {
    sshd: TestSshd,
    url: String,
    bare: PathBuf,
}

fn git_host(h: &Harness) -> Option<GitHost> {
    let sshd = start("127.0.0.6", &SshdOptions::default())?;
    let bare = sshd.dir().join("app.git");
    git(
        h.dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            &h.repo.display().to_string(),
            &bare.display().to_string(),
        ],
    );
    let url = format!(
        "ssh://{}@127.0.0.6:{}{}",
        sshd.user,
        sshd.port,
        bare.display()
    );
    Some(GitHost { sshd, url, bare })
}

fn pin_on_server(h: &Harness, g: &GitHost) {
    let meta = h.base().join(".flipdeck");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("known_hosts"),
        format!("{}\n", g.sshd.known_hosts_line),
    )
    .unwrap();
}

#[test]
fn private_repository_with_a_forwarded_agent_or_a_deploy_key() {
    let Some(h) = Harness::ssh() else { return };
    let Some(g) = git_host(&h) else { return };
    let repo = format!("repository = \"{}\"", g.url);
    h.write_config(&repo);
    pin_on_server(&h, &g);
    // No agent, no key: the clone fails and the error says what to do.
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not read the repository")
            && err.contains("forward_agent = true")
            && err.contains(&format!("flipdeck keygen web1/{DOMAIN}")),
        "{err}"
    );
    // With the operator's agent forwarded for the job.
    let agent = TestAgent::start();
    agent.add(&g.sshd.client_key);
    h.write_config(&format!("{repo}\nserver:forward_agent = true"));
    let out = h
        .cmd(&["deploy", DOMAIN])
        .env("SSH_AUTH_SOCK", &agent.socket)
        .output()
        .unwrap();
    crate::support::succeeded(out);
    // keygen: a deploy key on the server, the git host's key pinned after confirmation.
    std::fs::remove_file(h.base().join(".flipdeck/known_hosts")).unwrap();
    h.write_config(&repo);
    assert_eq!(
        h.run(&["keygen", &format!("web1/{DOMAIN}"), "--yes"])
            .status
            .code(),
        Some(2)
    );
    let wrong = h.run(&[
        "keygen",
        &format!("web1/{DOMAIN}"),
        "--yes",
        "--git-host-key",
        "SHA256:AAAA",
    ]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        !h.base().join(".flipdeck/known_hosts").exists(),
        "nothing pinned on a wrong fingerprint"
    );
    let fp = ssh_keygen_fingerprint(&g.sshd.host_pub_key);
    let out = h.ok(&[
        "keygen",
        &format!("web1/{DOMAIN}"),
        "--yes",
        "--git-host-key",
        &fp,
    ]);
    let public = out
        .lines()
        .find(|l| l.starts_with("ssh-ed25519 "))
        .unwrap_or_else(|| panic!("{out}"));
    let pub_file = h.dir.path().join("deploy_key.pub");
    std::fs::write(&pub_file, format!("{public}\n")).unwrap();
    g.sshd.authorize(&pub_file);
    let pinned = std::fs::read_to_string(h.base().join(".flipdeck/known_hosts")).unwrap();
    assert!(
        pinned.contains(&format!("[127.0.0.6]:{}", g.sshd.port)),
        "{pinned}"
    );
    h.commit("public/index.php", "<?php echo 'v3';\n");
    git(
        &h.repo,
        &["push", "-q", &g.bare.display().to_string(), "main"],
    );
    let out = h.run(&["deploy", DOMAIN]);
    assert!(
        out.status.success(),
        "deploy key, no agent: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v3';\n"
    );
    // A second keygen keeps the key and the pin.
    let again = h.ok(&["keygen", &format!("web1/{DOMAIN}")]);
    assert!(
        again.contains("already pinned") && again.contains(public),
        "{again}"
    );
}
