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

impl TestSshd {
    /// A server on 127.0.0.1, or `None` (after printing why) when sshd is not installed.
    pub fn start() -> Option<TestSshd> {
        Self::start_on("127.0.0.1")
    }

    /// A server on another loopback address (all of 127.0.0.0/8 is local on Linux).
    pub fn start_on(address: &str) -> Option<TestSshd> {
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
        std::fs::write(dir.path().join("authorized_keys"), pub_key).unwrap();
        let (child, port) = launch(dir.path(), address);
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
fn launch(dir: &Path, address: &str) -> (Child, u16) {
    let ip: IpAddr = address.parse().unwrap();
    for _ in 0..5 {
        let port = free_port(ip);
        write_config(dir, address, port);
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let mut child = Command::new(SSHD)
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

fn write_config(dir: &Path, address: &str, port: u16) {
    let d = dir.display();
    let config = format!(
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
         SetEnv PATH={d}/pause-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
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
