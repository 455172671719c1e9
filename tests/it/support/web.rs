//! A throw-away nginx + PHP-FPM on 127.0.0.1, for the zero-downtime tests.
//!
//! Everything lives in a temp dir: PHP-FPM runs one pool on a unix socket there, in the foreground,
//! with opcache on and `validate_timestamps=0` (so a cache keyed on the symlinked path would keep
//! serving the old release). nginx includes the temp dir's `sites/`, where `flipdeck provision`
//! writes the site's server block from its own template. Both are killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct WebStack {
    pub dir: tempfile::TempDir,
    pub sites_dir: PathBuf,
    pub fpm_socket: PathBuf,
    pub nginx_conf: PathBuf,
    /// Every `nginx_reload_command` run appends a line here.
    pub reloads: PathBuf,
    nginx_bin: PathBuf,
    fpm: Child,
    nginx: Child,
}

/// nginx and a php-fpm binary, or `None` (after printing what to install) outside CI.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| which("nginx"));
    let mut fpms: Vec<PathBuf> = std::fs::read_dir("/usr/sbin")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("php-fpm"))
        })
        .collect();
    fpms.sort();
    let fpm = fpms.pop().or_else(|| which("php-fpm"));
    match (nginx, fpm) {
        (Some(n), Some(f)) => Some((n, f)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("nginx or php-fpm is missing in CI: apt-get install -y nginx php-fpm")
        }
        _ => {
            println!("skipping: install nginx and php-fpm (apt-get install -y nginx php-fpm)");
            None
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !p.is_empty()).then(|| PathBuf::from(p))
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid never fails.
    unsafe { libc::geteuid() == 0 }
}

impl WebStack {
    /// Starts PHP-FPM and an nginx with no site yet; `None` when the tools are missing (not CI).
    pub fn start() -> Option<WebStack> {
        WebStack::start_as(None)
    }

    /// The same, with PHP-FPM's workers running as `fpm_user` (as on a real server: not the
    /// user that deploys), which needs root.
    pub fn start_as(fpm_user: Option<&str>) -> Option<WebStack> {
        if fpm_user.is_some() && !is_root() {
            super::cannot_run(
                "root",
                "PHP-FPM can only run as another user when started by root",
            );
            return None;
        }
        let (nginx_bin, fpm_bin) = tools()?;
        let dir = tempfile::Builder::new()
            .prefix("flipdeck-web-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let sites_dir = d.join("sites");
        std::fs::create_dir_all(&sites_dir).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        let fpm_socket = d.join("fpm.sock");
        let fpm_conf = d.join("php-fpm.conf");
        // Running as root (CI containers) needs an explicit user and `-R`.
        let user = match fpm_user {
            Some(u) => format!("user = {u}\ngroup = {u}\n"),
            None if is_root() => "user = root\ngroup = root\n".to_string(),
            None => String::new(),
        };
        std::fs::write(
            &fpm_conf,
            format!(
                "[global]\npid = {d}/fpm.pid\nerror_log = {d}/fpm.log\nprocess_control_timeout = 10s\n\
                 [site]\n{user}listen = {sock}\nlisten.mode = 0666\npm = static\npm.max_children = 6\n",
                d = d.display(),
                sock = fpm_socket.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(&fpm_bin);
        cmd.process_group(0);
        cmd.arg("-F").arg("-y").arg(&fpm_conf);
        if is_root() {
            cmd.arg("-R");
        }
        let fpm = cmd
            .args([
                "-d",
                "opcache.enable=1",
                "-d",
                "opcache.validate_timestamps=0",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("fpm.out")).unwrap())
            .spawn()
            .expect("php-fpm starts");
        let params = Path::new("/etc/nginx/fastcgi_params");
        if params.exists() {
            std::fs::copy(params, d.join("fastcgi_params")).unwrap();
        } else {
            std::fs::write(d.join("fastcgi_params"), FASTCGI_PARAMS).unwrap();
        }
        let nginx_conf = d.join("nginx.conf");
        let temp = |n: &str| format!("  {n}_temp_path {}/tmp/{n};\n", d.display());
        std::fs::write(
            &nginx_conf,
            format!(
                "{user}worker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
                 events {{ worker_connections 1024; }}\nhttp {{\n  default_type text/plain;\n  access_log off;\n\
                 {temps}  include {d}/sites/*;\n}}\n",
                user = if is_root() { "user root;\n" } else { "" },
                d = d.display(),
                temps = ["client_body", "fastcgi", "proxy", "uwsgi", "scgi"]
                    .map(temp)
                    .concat()
            ),
        )
        .unwrap();
        let nginx = Command::new(&nginx_bin)
            .arg("-e")
            .arg(d.join("nginx-error.log"))
            .arg("-c")
            .arg(&nginx_conf)
            .args(["-g", "daemon off;"])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("nginx.out")).unwrap())
            .spawn()
            .expect("nginx starts");
        let stack = WebStack {
            reloads: d.join("reloads"),
            dir,
            sites_dir,
            fpm_socket,
            nginx_conf,
            nginx_bin,
            fpm,
            nginx,
        };
        stack.wait_for(|| stack.fpm_socket.exists() && stack.dir.path().join("nginx.pid").exists());
        Some(stack)
    }

    fn nginx_cmd(&self, args: &str) -> String {
        format!(
            "{} -e {} -c {} {args}",
            self.nginx_bin.display(),
            self.dir.path().join("nginx-error.log").display(),
            self.nginx_conf.display()
        )
    }

    /// Server and site keys (for `Harness::write_config`) that make flipdeck manage this nginx
    /// for a PHP site.
    pub fn config(&self, port: u16) -> String {
        format!(
            "{}php_fpm_socket = \"{}\"\n",
            self.nginx_config(port),
            self.fpm_socket.display()
        )
    }

    /// The same without the PHP-FPM socket, for the other kinds of site.
    pub fn nginx_config(&self, port: u16) -> String {
        format!(
            "server:nginx_sites_dir = \"{sites}\"\nserver:nginx_test_command = \"{test}\"\n\
             server:nginx_reload_command = \"echo reload >> {reloads} && {reload}\"\n\
             nginx = true\nlisten = \"127.0.0.1:{port}\"\n",
            sites = self.sites_dir.display(),
            test = self.nginx_cmd("-t"),
            reloads = self.reloads.display(),
            reload = self.nginx_cmd("-s reload"),
        )
    }

    pub fn reload_count(&self) -> usize {
        std::fs::read_to_string(&self.reloads)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Polls for up to 10 s; panics with the servers' logs when it never holds.
    pub fn wait_for(&self, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok() {
            if Instant::now() > deadline {
                panic!("nginx/php-fpm did not get ready:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn logs(&self) -> String {
        ["fpm.out", "fpm.log", "nginx.out", "nginx-error.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
                format!("--- {f}\n{text}")
            })
            .collect()
    }
}

impl Drop for WebStack {
    /// Each server runs in its own process group: TERM lets the master stop its workers, and the
    /// group is killed after that, so no worker outlives the test (a killed master leaves them).
    fn drop(&mut self) {
        for c in [&mut self.nginx, &mut self.fpm] {
            let pid = c.id() as i32;
            // SAFETY: plain syscalls on our own child and its process group.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What nginx answered: status 0 means no HTTP answer at all (`error` says why).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    #[allow(dead_code)] // read through `Debug` when a test prints the failed requests
    pub error: Option<String>,
}

/// One HTTP/1.1 request on a fresh connection to 127.0.0.1:`port`.
pub fn get(port: u16, path: &str, host: &str) -> Response {
    let fail = |e: String| Response {
        status: 0,
        body: String::new(),
        error: Some(e),
    };
    let mut s = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) => return fail(format!("connect: {e}")),
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if let Err(e) = s.write_all(req.as_bytes()) {
        return fail(format!("write: {e}"));
    }
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw) {
        return fail(format!("read: {e}"));
    }
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return fail(format!("malformed response: {text:?}"));
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        body,
        error: None,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// One request as a load client saw it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub start: Instant,
    pub end: Instant,
    pub response: Response,
}

/// `threads` clients requesting `path` back to back until stopped (or `limit` elapses).
pub struct Load {
    stop: Arc<AtomicBool>,
    completed: Arc<AtomicUsize>,
    threads: usize,
    handles: Vec<std::thread::JoinHandle<Vec<Sample>>>,
}

impl Load {
    pub fn start(port: u16, path: &str, threads: usize, limit: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let completed = Arc::new(AtomicUsize::new(0));
        let handles = (0..threads)
            .map(|_| {
                let (stop, completed) = (stop.clone(), completed.clone());
                let path = path.to_string();
                std::thread::spawn(move || {
                    let until = Instant::now() + limit;
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        let start = Instant::now();
                        let response = get(port, &path, super::DOMAIN);
                        samples.push(Sample {
                            start,
                            end: Instant::now(),
                            response,
                        });
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                    samples
                })
            })
            .collect();
        Load {
            stop,
            completed,
            threads,
            handles,
        }
    }

    /// Returns once `after` has passed and at least `n` requests that started later have
    /// completed: at most one request per client was in flight when `after` passed.
    pub fn wait_past(&self, after: Duration, n: usize) {
        std::thread::sleep(after);
        let target = self.completed.load(Ordering::Relaxed) + self.threads + n;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.completed.load(Ordering::Relaxed) < target {
            assert!(Instant::now() < deadline, "the load clients stalled");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops the clients and returns every sample, in start order.
    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: Vec<Sample> = self
            .handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_by_key(|s| s.start);
        all
    }
}

/// A minimal fastcgi_params for systems without nginx's own (the same lines Debian ships).
const FASTCGI_PARAMS: &str = "fastcgi_param QUERY_STRING $query_string;
fastcgi_param REQUEST_METHOD $request_method;
fastcgi_param CONTENT_TYPE $content_type;
fastcgi_param CONTENT_LENGTH $content_length;
fastcgi_param SCRIPT_NAME $fastcgi_script_name;
fastcgi_param REQUEST_URI $request_uri;
fastcgi_param DOCUMENT_URI $document_uri;
fastcgi_param DOCUMENT_ROOT $document_root;
fastcgi_param SERVER_PROTOCOL $server_protocol;
fastcgi_param GATEWAY_INTERFACE CGI/1.1;
fastcgi_param SERVER_SOFTWARE nginx;
fastcgi_param REMOTE_ADDR $remote_addr;
fastcgi_param REMOTE_PORT $remote_port;
fastcgi_param SERVER_ADDR $server_addr;
fastcgi_param SERVER_PORT $server_port;
fastcgi_param SERVER_NAME $server_name;
fastcgi_param REDIRECT_STATUS 200;
";
