//! The SSH target against a real OpenSSH server on loopback (see `support/sshd.rs`).

use crate::support::sshd::{TestAgent, TestSshd, ssh_keygen_fingerprint};
use flipdeck::transport::ssh::{
    self, HostKeyPolicy, HostKeyStatus, SshError, SshParams, SshTransport, TrustOutcome,
};
use flipdeck::transport::{ExitStatus, OutputLine, Stream, Transport, TransportError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// A test server, or return early (outside CI only) when sshd is not installed.
macro_rules! sshd {
    () => {
        sshd!("127.0.0.1")
    };
    ($addr:expr) => {
        match TestSshd::start_on($addr) {
            Some(s) => s,
            None => return,
        }
    };
}

/// Parameters that trust the server and use only its client key (no agent, no ~/.ssh keys).
fn params(sshd: &TestSshd) -> SshParams {
    let mut p = SshParams::new(&sshd.address, sshd.port, &sshd.user);
    p.identity_file = Some(sshd.client_key.clone());
    p.known_hosts_file = sshd.known_hosts_file();
    p.agent_socket = None;
    p.default_identity_files = Vec::new();
    p
}

async fn connect(sshd: &TestSshd) -> SshTransport {
    SshTransport::connect(&params(sshd)).await.expect("connect")
}

fn lines(rx: &mut UnboundedReceiver<OutputLine>) -> Vec<(Stream, String)> {
    let mut all = Vec::new();
    while let Ok(l) = rx.try_recv() {
        all.push((l.stream, l.line));
    }
    all
}

async fn run(
    target: &impl Transport,
    script: &str,
    stdin: Option<&[u8]>,
) -> (ExitStatus, Vec<String>) {
    let (tx, mut rx) = unbounded_channel();
    let status = target
        .exec(script, stdin.map(<[u8]>::to_vec), tx)
        .await
        .expect("exec");
    let out = lines(&mut rx).into_iter().map(|(_, l)| l).collect();
    (status, out)
}

fn error_of(result: Result<SshTransport, SshError>) -> SshError {
    match result {
        Ok(_) => panic!("connected, but it should have been refused"),
        Err(e) => e,
    }
}

fn home_of(user: &str) -> String {
    let out = Command::new("getent")
        .args(["passwd", user])
        .output()
        .unwrap();
    let entry = String::from_utf8(out.stdout).unwrap();
    entry.trim().split(':').nth(5).unwrap().to_string()
}

/// Whether a process whose command line contains `pattern` exists (on this machine = the server).
fn process_running(pattern: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", pattern])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn exec_returns_output_and_exit_status() {
    let sshd = sshd!();
    let target = connect(&sshd).await;
    assert_eq!(
        target.describe(),
        format!("{}@127.0.0.1:{}", sshd.user, sshd.port)
    );
    let (status, out) = run(&target, "echo hello; printf 'no newline'", None).await;
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(out, ["hello", "no newline"]);
    assert_eq!(run(&target, "exit 3", None).await.0, ExitStatus::Code(3));
    assert_eq!(
        run(&target, "kill -TERM $$", None).await.0,
        ExitStatus::Signal("TERM".into())
    );
    assert_eq!(target.home_dir().await.unwrap(), home_of(&sshd.user));
}

#[tokio::test]
async fn stdout_stderr_stdin_and_posix_quoting() {
    let sshd = sshd!();
    let target = connect(&sshd).await;
    let (tx, mut rx) = unbounded_channel();
    let status = target
        .exec("echo out; echo err >&2", None, tx)
        .await
        .unwrap();
    assert!(status.success());
    let got = lines(&mut rx);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&(Stream::Stdout, "out".into())), "{got:?}");
    assert!(got.contains(&(Stream::Stderr, "err".into())), "{got:?}");

    let (_, out) = run(&target, "tr a-z A-Z", Some(b"one\ntwo\n")).await;
    assert_eq!(out, ["ONE", "TWO"]);
    // No stdin still means EOF, not a hang.
    let (_, out) = run(&target, "cat; echo done", None).await;
    assert_eq!(out, ["done"]);
    // Quotes, $ and newlines reach sh untouched, and it is sh that runs them.
    let script = "x='it'\"'\"'s $HOME'\necho \"$x\"\necho $0";
    let (_, out) = run(&target, script, None).await;
    assert_eq!(out, ["it's $HOME", "sh"]);
}

#[tokio::test]
async fn output_is_streamed_as_produced() {
    let sshd = sshd!();
    let target = Arc::new(connect(&sshd).await);
    let (tx, mut rx) = unbounded_channel();
    let start = Instant::now();
    let job = tokio::spawn({
        let target = target.clone();
        async move {
            target
                .exec("echo first; sleep 4; echo second", None, tx)
                .await
        }
    });
    let first = rx.recv().await.unwrap();
    assert_eq!(first.line, "first");
    let first_at = start.elapsed();
    assert_eq!(rx.recv().await.unwrap().line, "second");
    // Streamed: the first line came while the command still slept, not with the second (a
    // loaded machine may be slow to start the command or deliver a line, never to end the 4 s
    // sleep early).
    assert!(
        start.elapsed() - first_at >= Duration::from_millis(2000),
        "first at {first_at:?}, second at {:?}",
        start.elapsed()
    );
    assert!(job.await.unwrap().unwrap().success());
}

#[tokio::test]
async fn unknown_host_is_refused_before_authentication() {
    let sshd = sshd!();
    let mut p = params(&sshd);
    p.known_hosts_file = sshd.dir().join("empty_known_hosts");
    let err = error_of(SshTransport::connect(&p).await);
    let expected = ssh_keygen_fingerprint(&sshd.host_pub_key);
    match &err {
        SshError::HostKeyUnknown {
            key_type,
            fingerprint,
            ..
        } => {
            assert_eq!(fingerprint, &expected);
            assert_eq!(key_type, "ssh-ed25519");
        }
        other => panic!("unexpected error: {other}"),
    }
    let message = err.to_string();
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains("flipdeck trust 127.0.0.1"), "{message}");
    assert!(!p.known_hosts_file.exists());
    // sshd logs every public key offered (LogLevel VERBOSE): none was.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!sshd.log().contains("publickey"), "{}", sshd.log());
}

#[tokio::test]
async fn accept_new_records_the_key_then_strict_connects() {
    let sshd = sshd!();
    let mut p = params(&sshd);
    p.known_hosts_file = sshd.dir().join("new/known_hosts");
    p.host_key_policy = HostKeyPolicy::AcceptNew;
    let target = SshTransport::connect(&p)
        .await
        .expect("accept-new connects");
    assert!(run(&target, "true", None).await.0.success());
    let recorded = std::fs::read_to_string(&p.known_hosts_file).unwrap();
    assert_eq!(recorded, format!("{}\n", sshd.known_hosts_line));

    p.host_key_policy = HostKeyPolicy::Strict;
    SshTransport::connect(&p)
        .await
        .expect("strict connects once known");
    assert_eq!(
        std::fs::read_to_string(&p.known_hosts_file).unwrap(),
        recorded
    );
}

/// A known_hosts file holding another key for this server on its third line.
fn changed_known_hosts(sshd: &TestSshd) -> PathBuf {
    let other = sshd.new_key("other_host_key", "");
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_key: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    let path = sshd.dir().join("changed_known_hosts");
    let text = format!(
        "# managed by hand\n[127.0.0.9]:{port} {key}\n[127.0.0.1]:{port} {key}\n",
        port = sshd.port,
        key = other_key.join(" ")
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn changed_key_is_refused_and_the_file_left_alone() {
    let sshd = sshd!();
    let mut p = params(&sshd);
    p.known_hosts_file = changed_known_hosts(&sshd);
    let before = std::fs::read(&p.known_hosts_file).unwrap();
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        p.host_key_policy = policy;
        let err = error_of(SshTransport::connect(&p).await);
        assert!(
            matches!(err, SshError::HostKeyChanged { line: 3, .. }),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("line 3"), "{message}");
        assert!(
            message.contains(&p.known_hosts_file.display().to_string()),
            "{message}"
        );
    }
    assert_eq!(std::fs::read(&p.known_hosts_file).unwrap(), before);
}

#[tokio::test]
async fn hashed_known_hosts_entries_are_recognised() {
    let sshd = sshd!();
    let p = params(&sshd);
    let status = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&p.known_hosts_file)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let text = std::fs::read_to_string(&p.known_hosts_file).unwrap();
    assert!(text.starts_with("|1|"), "{text}");
    SshTransport::connect(&p)
        .await
        .expect("hashed entry accepted");
    // The same entry does not vouch for another address.
    let key = ssh::fetch_host_key(&p).await.unwrap().key;
    let other = ssh::check_known_host(&p.known_hosts_file, "127.0.0.2", p.port, &key).unwrap();
    assert_eq!(other, HostKeyStatus::Unknown);
}

#[tokio::test]
async fn trust_flow_fetches_records_and_refuses_changes() {
    let sshd = sshd!();
    let mut p = params(&sshd);
    p.known_hosts_file = sshd.dir().join("trust_known_hosts");
    let info = ssh::fetch_host_key(&p).await.expect("fetch host key");
    assert_eq!(
        info.fingerprint_sha256,
        ssh_keygen_fingerprint(&sshd.host_pub_key)
    );
    assert_eq!(info.key_type, "ssh-ed25519");
    assert_eq!(info.openssh_line, sshd.known_hosts_line);
    assert_eq!(ssh::trust_host_key(&p, &info).unwrap(), TrustOutcome::Added);
    assert_eq!(
        ssh::trust_host_key(&p, &info).unwrap(),
        TrustOutcome::AlreadyKnown
    );
    SshTransport::connect(&p)
        .await
        .expect("trusted host connects");

    p.known_hosts_file = changed_known_hosts(&sshd);
    let status = ssh::check_known_host(&p.known_hosts_file, &p.host, p.port, &info.key).unwrap();
    assert_eq!(status, HostKeyStatus::Changed { line: 3 });
    let err = ssh::trust_host_key(&p, &info).unwrap_err();
    assert!(matches!(err, SshError::HostKeyChanged { .. }), "{err}");
}

#[tokio::test]
async fn wrong_key_is_refused_naming_user_host_and_methods() {
    let sshd = sshd!();
    let mut p = params(&sshd);
    let wrong = sshd.new_key("wrong_key", "");
    p.identity_file = Some(wrong.clone());
    let err = error_of(SshTransport::connect(&p).await);
    assert!(matches!(err, SshError::Auth { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}@127.0.0.1", sshd.user)),
        "{message}"
    );
    assert!(message.contains(&wrong.display().to_string()), "{message}");
}

#[tokio::test]
async fn encrypted_key_without_agent_says_to_ssh_add_it() {
    let sshd = sshd!();
    let mut p = params(&sshd);
    let key = sshd.new_key("locked_key", "secret passphrase");
    sshd.authorize(&key.with_extension("pub"));
    p.identity_file = Some(key.clone());
    let err = error_of(SshTransport::connect(&p).await);
    assert!(matches!(err, SshError::EncryptedKeyNoAgent { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("ssh-add {}", key.display())),
        "{err}"
    );
}

#[tokio::test]
async fn agent_keys_are_used() {
    let sshd = sshd!();
    let agent = TestAgent::start();
    let decoy = sshd.new_key("decoy_key", "");
    agent.add(&decoy);
    agent.add(&sshd.client_key);
    let mut p = params(&sshd);
    p.identity_file = None;
    p.agent_socket = Some(agent.socket.clone());
    let target = SshTransport::connect(&p).await.expect("agent auth");
    assert!(run(&target, "true", None).await.0.success());
}

#[tokio::test]
async fn default_key_files_are_tried() {
    let sshd = sshd!();
    let mut p = params(&sshd);
    p.identity_file = None;
    p.default_identity_files = vec![sshd.dir().join("id_missing"), sshd.client_key.clone()];
    SshTransport::connect(&p).await.expect("default key auth");
}

#[tokio::test]
async fn twenty_megabytes_of_output_stream_completely() {
    let sshd = sshd!();
    let target = connect(&sshd).await;
    let (tx, mut rx) = unbounded_channel::<OutputLine>();
    let counter = tokio::spawn(async move {
        let (mut count, mut bad) = (0usize, 0usize);
        while let Some(l) = rx.recv().await {
            count += 1;
            if l.line.len() != 100 || l.stream != Stream::Stdout {
                bad += 1;
            }
        }
        (count, bad)
    });
    let script = r"head -c 20000000 /dev/zero | tr '\0' 'a' | fold -w 100";
    let exec = target.exec(script, None, tx);
    let status = tokio::time::timeout(Duration::from_secs(120), exec)
        .await
        .expect("stalled")
        .unwrap();
    assert!(status.success());
    assert_eq!(counter.await.unwrap(), (200_000, 0));
}

#[tokio::test]
async fn large_stdin_is_fed_completely() {
    let sshd = sshd!();
    let target = connect(&sshd).await;
    let data = vec![b'x'; 5_000_000];
    let (status, out) = run(&target, "wc -c", Some(&data)).await;
    assert!(status.success());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].trim(), "5000000");
}

#[tokio::test]
async fn many_execs_share_one_connection() {
    let sshd = sshd!();
    let target = Arc::new(connect(&sshd).await);
    for i in 0..40 {
        let (_, out) = run(&*target, &format!("echo {i}"), None).await;
        assert_eq!(out, [i.to_string()]);
    }
    // OpenSSH allows 10 sessions per connection by default (MaxSessions).
    let mut jobs = tokio::task::JoinSet::new();
    for i in 0..8 {
        let target = target.clone();
        jobs.spawn(async move { run(&*target, &format!("sleep 0.3; echo {i}"), None).await });
    }
    let mut seen: Vec<String> = jobs
        .join_all()
        .await
        .into_iter()
        .flat_map(|r| r.1)
        .collect();
    seen.sort();
    assert_eq!(seen, (0..8).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(sshd.log().matches("Accepted publickey").count(), 1);
}

/// Waits until no process on this machine (the server) has `pattern` in its command line.
async fn wait_gone(sshd: &TestSshd, pattern: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while process_running(pattern) {
        assert!(
            Instant::now() < deadline,
            "{pattern} still running:\n{}",
            sshd.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn dropping_exec_kills_the_remote_command() {
    let sshd = sshd!();
    let target = connect(&sshd).await;
    let marker = "sleep 30.0417";
    let (tx, _rx) = unbounded_channel();
    let start = Instant::now();
    let script = format!("{marker}; echo not killed");
    let exec = target.exec(&script, None, tx);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), exec)
            .await
            .is_err()
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    wait_gone(&sshd, marker).await;
    // The connection itself is still good.
    assert_eq!(run(&target, "echo ok", None).await.1, ["ok"]);

    // Dropped right after the request went out, before the remote pid is known.
    for delay_ms in [1, 5, 20] {
        let marker = format!("sleep 30.04{delay_ms}");
        let (tx, _rx) = unbounded_channel();
        let exec = target.exec(&marker, None, tx);
        let _ = tokio::time::timeout(Duration::from_millis(delay_ms), exec).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        wait_gone(&sshd, &marker).await;
    }
}

/// Starts a long command and waits until it has printed "started".
async fn start_long_command(
    target: &Arc<SshTransport>,
) -> tokio::task::JoinHandle<Result<ExitStatus, TransportError>> {
    let (tx, mut rx) = unbounded_channel();
    let job = tokio::spawn({
        let target = target.clone();
        async move { target.exec("echo started; sleep 60", None, tx).await }
    });
    assert_eq!(rx.recv().await.unwrap().line, "started");
    job
}

async fn expect_connection_lost(
    job: tokio::task::JoinHandle<Result<ExitStatus, TransportError>>,
    within: Duration,
) {
    let start = Instant::now();
    let result = tokio::time::timeout(within, job)
        .await
        .expect("connection loss not detected in time")
        .unwrap();
    assert!(
        matches!(result, Err(TransportError::ConnectionLost(_))),
        "{result:?} after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn killed_session_yields_connection_lost() {
    let sshd = sshd!();
    let target = Arc::new(connect(&sshd).await);
    let job = start_long_command(&target).await;
    assert!(sshd.signal_connections(libc::SIGKILL) > 0);
    expect_connection_lost(job, Duration::from_secs(30)).await;
    assert!(!target.is_connected());
    let (tx, _rx) = unbounded_channel();
    let next = target.exec("true", None, tx).await;
    assert!(
        matches!(next, Err(TransportError::ConnectionLost(_))),
        "{next:?}"
    );
}

#[tokio::test]
async fn frozen_server_is_detected_by_keepalives() {
    let sshd = sshd!();
    let target = Arc::new(connect(&sshd).await);
    let job = start_long_command(&target).await;
    // Stopped processes keep the TCP connection open but never answer: only keepalives tell.
    assert!(sshd.signal_connections(libc::SIGSTOP) > 0);
    expect_connection_lost(job, Duration::from_secs(30)).await;
}

#[tokio::test]
async fn ssh_config_alias_resolves_and_connects() {
    let sshd = sshd!();
    let config = sshd.dir().join("ssh_config");
    let text = format!(
        "Host deploy-target\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n\nHost *\n  User somebody-else\n  Port 1\n",
        sshd.port,
        sshd.user,
        sshd.client_key.display()
    );
    std::fs::write(&config, text).unwrap();
    let r = ssh::resolve_alias("deploy-target", None, None, None, &config).unwrap();
    assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", sshd.port));
    assert_eq!(r.user.as_deref(), Some(sshd.user.as_str()));
    assert_eq!(r.identity_file.as_deref(), Some(sshd.client_key.as_path()));

    let mut p = params(&sshd);
    p.host = r.host;
    p.port = r.port;
    p.user = r.user.unwrap();
    p.identity_file = r.identity_file;
    let target = SshTransport::connect(&p).await.expect("connect via alias");
    assert!(run(&target, "true", None).await.0.success());
}

#[tokio::test]
async fn other_loopback_address_is_its_own_host() {
    let sshd = sshd!("127.0.0.2");
    let target = connect(&sshd).await;
    assert!(target.describe().contains("127.0.0.2"));
    // A known_hosts line for 127.0.0.1 on the same port does not vouch for 127.0.0.2.
    let mut p = params(&sshd);
    let line = sshd.known_hosts_line.replace("127.0.0.2", "127.0.0.1");
    std::fs::write(&p.known_hosts_file, format!("{line}\n")).unwrap();
    let err = error_of(SshTransport::connect(&p).await);
    assert!(matches!(err, SshError::HostKeyUnknown { .. }), "{err}");
    p.known_hosts_file = Path::new("/nonexistent/known_hosts").to_path_buf();
    assert!(matches!(
        error_of(SshTransport::connect(&p).await),
        SshError::HostKeyUnknown { .. }
    ));
}

#[tokio::test]
async fn silent_server_times_out_and_closed_port_fails_fast() {
    // A listener that accepts but never speaks SSH.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut p = SshParams::new("127.0.0.1", port, "nobody");
    p.connect_timeout = Duration::from_millis(500);
    let start = Instant::now();
    let err = error_of(SshTransport::connect(&p).await);
    assert!(matches!(err, SshError::Timeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    drop(listener);
    let err = error_of(SshTransport::connect(&p).await);
    assert!(matches!(err, SshError::Connect { .. }), "{err}");
}
