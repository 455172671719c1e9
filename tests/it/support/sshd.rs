//! A throw-away OpenSSH server (and ssh-agent) on a loopback address, for integration tests.
//!
//! Each `TestSshd` gets its own temp dir with a fresh ed25519 host key, a client key authorised for
//! the current user, and a generated `sshd_config`; sshd runs in the foreground (`-D -e`) and is
//! killed, with every process it started, on drop.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestSshd {
    dir: tempfile::TempDir,
    child: Child,
    /// The loopback address sshd listens on, e.g. "127.0.0.1".
    pub address: String,
    pub port: u16,
    /// The user tests log in as: the one running them.
    pub user: String,
    /// Private key (no passphrase) authorised for `user`.
    pub client_key: PathBuf,
    /// sshd's public host key (`ssh-keygen -lf` it for the fingerprint).
    pub host_pub_key: PathBuf,
    /// The known_hosts line for this server: `[address]:port ssh-ed25519 AAAA...`.
    pub known_hosts_line: String,
}

/// Whether the tests can run at all; in CI a missing sshd is a failure, never a skip.
fn sshd_available() -> bool {
    let present = Path::new(SSHD).exists() && which("ssh-keygen");
    if !present && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{SSHD} or ssh-keygen is missing in CI: install openssh-server");
    }
    if !present {
        println!("skipping: install openssh-server");
    }
    present
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What a test server does beyond the default (`Default`: nothing).
#[derive(Debug, Clone, Default)]
pub struct SshdOptions {
    /// Lines appended to `sshd_config` (`AllowUsers user@127.0.0.2`, `Match Address ...`, a
    /// `ForceCommand`); `{dir}` in them is the server's temp dir.
    pub extra_config: String,
    /// Make the connections this server opens (a bastion's direct-tcpip) from this loopback
    /// address, through an LD_PRELOAD shim built with `cc`.
    pub bind_from: Option<String>,
    /// A CA private key: sshd trusts it for users (`TrustedUserCAKeys`), the client key is
    /// certified by it (`client_key-cert.pub`) and is not in authorized_keys.
    pub user_ca: Option<PathBuf>,
    /// A CA private key and the principal: the host key is certified by it (`HostCertificate`).
    pub host_ca: Option<(PathBuf, String)>,
}

impl TestSshd {
    /// A server on 127.0.0.1, or `None` (after printing why) when sshd is not installed.
    pub fn start() -> Option<TestSshd> {
        Self::start_on("127.0.0.1")
    }

    /// A server on another loopback address (all of 127.0.0.0/8 is local on Linux).
    pub fn start_on(address: &str) -> Option<TestSshd> {
        Self::start_with(address, &SshdOptions::default())
    }

    /// A server on `address` with `options`.
    pub fn start_with(address: &str, options: &SshdOptions) -> Option<TestSshd> {
        let ip: IpAddr = address.parse().expect("an IP address");
        assert!(ip.is_loopback(), "test servers only listen on loopback");
        if !sshd_available() {
            return None;
        }
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().expect("temp dir");
        let host_key = dir.path().join("host_key");
        let client_key = dir.path().join("client_key");
        keygen(&host_key, "");
        keygen(&client_key, "");
        let pub_key = std::fs::read_to_string(client_key.with_extension("pub")).unwrap();
        let mut extra = options
            .extra_config
            .replace("{dir}", &dir.path().display().to_string());
        if let Some(ca) = &options.user_ca {
            sign_key(
                ca,
                &client_key.with_extension("pub"),
                &current_user(),
                false,
            );
            extra.push_str(&format!("TrustedUserCAKeys {}.pub\n", ca.display()));
            std::fs::write(dir.path().join("authorized_keys"), "").unwrap();
        } else {
            std::fs::write(dir.path().join("authorized_keys"), pub_key).unwrap();
        }
        if let Some((ca, principal)) = &options.host_ca {
            sign_key(ca, &host_key.with_extension("pub"), principal, true);
            extra.push_str(&format!(
                "HostCertificate {}/host_key-cert.pub\n",
                dir.path().display()
            ));
        }
        let preload = options
            .bind_from
            .as_deref()
            .map(|from| (bind_shim(dir.path()), from.to_string()));
        let (child, port) = launch(dir.path(), address, &extra, preload.as_ref());
        let host_pub_key = dir.path().join("host_key.pub");
        let host_pub = std::fs::read_to_string(&host_pub_key).unwrap();
        let key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        Some(TestSshd {
            child,
            address: address.to_string(),
            port,
            user: current_user(),
            client_key,
            host_pub_key,
            known_hosts_line: format!("[{address}]:{port} {}", key.join(" ")),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What sshd logged so far (LogLevel VERBOSE).
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// A `[[servers]]` block for flipdeck's config reaching this server as `name`.
    pub fn server_block(&self, name: &str, known_hosts: &Path, root: &Path) -> String {
        format!(
            "[[servers]]\nname = \"{name}\"\nhost = \"{}\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts_file = \"{}\"\nroot = \"{}\"\n",
            self.address,
            self.port,
            self.user,
            self.client_key.display(),
            known_hosts.display(),
            root.display()
        )
    }

    /// Writes a known_hosts file trusting this server and returns its path.
    pub fn known_hosts_file(&self) -> PathBuf {
        let path = self.dir.path().join("known_hosts");
        std::fs::write(&path, format!("{}\n", self.known_hosts_line)).unwrap();
        path
    }

    /// Makes a new key pair in the temp dir (not authorised); `passphrase` may be empty.
    pub fn new_key(&self, name: &str, passphrase: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        keygen(&path, passphrase);
        path
    }

    /// Adds a public key file to the authorised keys.
    pub fn authorize(&self, pub_key: &Path) {
        let key = std::fs::read_to_string(pub_key).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .unwrap();
        f.write_all(key.as_bytes()).unwrap();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every process under the listening sshd: the per-connection sshd processes and the commands
    /// they run.
    pub fn connection_pids(&self) -> Vec<u32> {
        descendants(self.pid())
    }

    /// Sends `signal` to every connection process (SIGKILL drops the connections, SIGSTOP freezes
    /// them with the TCP connection still open).
    pub fn signal_connections(&self, signal: i32) -> usize {
        let pids = self.connection_pids();
        for &pid in &pids {
            // SAFETY: plain syscall on processes this test started.
            unsafe {
                libc::kill(pid as i32, signal);
            }
        }
        pids.len()
    }
}

impl TestSshd {
    /// Stops the server: its connections and the listener (nothing answers on its port).
    pub fn stop(&mut self) {
        self.signal_connections(libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same address and port, with the same keys.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("sshd.log")).unwrap();
        self.child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sshd");
        assert!(
            wait_listening(self.dir.path(), &mut self.child),
            "sshd did not start again; its log:\n{}",
            read_log(self.dir.path())
        );
    }

    /// Drops every connection the way a network failure does: only sshd's own per-connection
    /// processes are SIGKILLed, so the commands they ran live on, orphaned, on the server.
    pub fn drop_connections(&self) -> usize {
        let sshd: Vec<u32> = self
            .connection_pids()
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sshd")
            })
            .collect();
        for &pid in &sshd {
            // SAFETY: plain syscall on processes this test started.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
        sshd.len()
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        // SIGKILL also ends stopped processes; connections first so none is left orphaned.
        self.signal_connections(libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `ssh-agent` on a socket in its own temp dir, killed on drop.
pub struct TestAgent {
    _dir: tempfile::TempDir,
    child: Child,
    pub socket: PathBuf,
}

impl TestAgent {
    pub fn start() -> TestAgent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn ssh-agent");
        let deadline = Instant::now() + START_TIMEOUT;
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        TestAgent {
            _dir: dir,
            child,
            socket,
        }
    }

    /// `ssh-add`s a key without a passphrase.
    pub fn add(&self, key: &Path) {
        let status = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "ssh-add {}", key.display());
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `SHA256:...` of a public key file, as `ssh-keygen -lf` prints it.
pub fn ssh_keygen_fingerprint(pub_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_key)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_string()
}

/// Picks a free port and starts sshd on it; retried since another test may grab the port first.
fn launch(
    dir: &Path,
    address: &str,
    extra: &str,
    preload: Option<&(PathBuf, String)>,
) -> (Child, u16) {
    let ip: IpAddr = address.parse().unwrap();
    for _ in 0..5 {
        let port = free_port(ip);
        write_config(dir, address, port, extra);
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let mut command = Command::new(SSHD);
        if let Some((shim, from)) = preload {
            command
                .env("LD_PRELOAD", shim)
                .env("FLIPDECK_TEST_BIND_FROM", from);
        }
        let mut child = command
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sshd");
        if wait_listening(dir, &mut child) {
            return (child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("sshd did not start; its log:\n{}", read_log(dir));
}

fn write_config(dir: &Path, address: &str, port: u16, extra: &str) {
    let d = dir.display();
    // SHLVL=1: bash, the test user's login shell, then counts itself a nested shell and does not
    // read ~/.bashrc for sshd's commands. This machine's root .bashrc runs `pyenv init`, whose
    // rehash waits up to 60 s for a lock when many logins run at once: a test's time and output
    // must not depend on it. (A login that prints or stalls is `doctor`'s business; its tests
    // make one on purpose.)
    let mut config = format!(
        "ListenAddress {address}:{port}\n\
         HostKey {d}/host_key\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         UsePAM no\n\
         StrictModes no\n\
         PermitRootLogin yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PrintMotd no\n\
         LogLevel VERBOSE\n\
         SetEnv PATH={d}/pause-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SHLVL=1\n\
         {extra}"
    );
    // `Match` blocks run to the end of the file, so the extra lines go last.
    config.push_str(extra);
    std::fs::write(dir.join("sshd_config"), config).unwrap();
}

/// sshd prints "Server listening on ..." once bound; probing the port instead would leave
/// connection noise in the log that tests read.
fn wait_listening(dir: &Path, child: &mut Child) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if read_log(dir).contains("Server listening on") {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
}

fn keygen(path: &Path, passphrase: &str) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "flipdeck-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen for {}", path.display());
}

/// Makes a CA key pair at `path` (for `SshdOptions::user_ca` / `host_ca`).
pub fn make_ca(path: &Path) {
    keygen(path, "");
}

/// `ssh-keygen -s CA` over `pub_key` (writes `NAME-cert.pub` beside it), valid from 5 minutes
/// ago for an hour, for `principal`; `host`: a host certificate.
pub fn sign_key(ca: &Path, pub_key: &Path, principal: &str, host: bool) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-s"])
        .arg(ca)
        .args(["-I", "flipdeck-test", "-n", principal, "-V", "-5m:+1h"]);
    if host {
        cmd.arg("-h");
    }
    let status = cmd
        .arg(pub_key)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen -s");
    assert!(status.success(), "ssh-keygen -s for {}", pub_key.display());
}

/// Builds the `bind_from.c` shim into `dir` with the C compiler (the one that builds flipdeck).
fn bind_shim(dir: &Path) -> PathBuf {
    let out = dir.join("libbindfrom.so");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/support/bind_from.c");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(src)
        .arg("-ldl")
        .status()
        .expect("run cc (needed to build flipdeck too)");
    assert!(status.success(), "cc {src}");
    out
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn free_port(ip: IpAddr) -> u16 {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).expect("bind a free port");
    listener.local_addr().unwrap().port()
}

fn descendants(pid: u32) -> Vec<u32> {
    let out = Command::new("pgrep")
        .arg("-P")
        .arg(pid.to_string())
        .output()
        .expect("run pgrep");
    let children: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut all = children.clone();
    for child in children {
        all.extend(descendants(child));
    }
    all
}
