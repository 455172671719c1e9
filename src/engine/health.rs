//! The health check's parameters. The check itself is `health_check` in `assets/remote/lib.sh`: it
//! runs on the server, inside the switch script, so a failing check switches back in the same exec
//! (no extra round trip while a bad release is live).

use super::protocol::Params;
use crate::config::{HealthCheck, Probe};
use crate::validate;

/// The health check's parameters for `health_check` in `lib.sh`: up to `retries` attempts with a
/// pause between them. Without a check, `hc_kind` is empty and the scripts skip it.
pub fn params(p: Params, hc: Option<&HealthCheck>, domain: &str) -> Params {
    let Some(hc) = hc else {
        return p.set("hc_kind", "");
    };
    let p = p
        .set("hc_timeout", &hc.timeout_s.to_string())
        .set("hc_tries", &hc.retries.to_string())
        .set("hc_pause", &hc.interval_s.to_string());
    match &hc.probe {
        Probe::Url { url, expect_status } => {
            // A URL naming an address rather than the site reaches nginx's default server unless
            // the request names the site.
            let host = match validate::url_host(url) {
                Some(h) if is_address(h) => domain,
                _ => "",
            };
            p.set("hc_kind", "url")
                .set("hc_url", url)
                .set("hc_expect", &expect_status.to_string())
                .set("hc_host", host)
        }
        Probe::Command(cmd) => p.set("hc_kind", "command").set("hc_cmd", cmd),
    }
}

fn is_address(host: &str) -> bool {
    host == "localhost" || host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::quote;
    use std::process::Command;

    fn hc(probe: Probe, retries: u32) -> HealthCheck {
        HealthCheck {
            probe,
            timeout_s: 2,
            retries,
            interval_s: 0,
        }
    }

    /// Runs `health_check` in sh with `live` = `dir`; returns (exit code, stdout, stderr).
    fn run(h: &HealthCheck, dir: &std::path::Path) -> (i32, String, String) {
        let script = super::super::protocol::tests::lib_script(
            params(Params::new(), Some(h), "example.com"),
            &format!("live={}\nhealth_check\n", quote(&dir.display().to_string())),
        );
        let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn command_probe_retries_then_reports() {
        let dir = tempfile::tempdir().unwrap();
        let ok = hc(Probe::Command("test -f marker".into()), 1);
        std::fs::write(dir.path().join("marker"), "").unwrap();
        let (code, out, _) = run(&ok, dir.path());
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("::m:: step health") && out.contains("passed (attempt 1 of 1)"));
        // Each attempt appends a line; the third one succeeds.
        let counting = hc(
            Probe::Command("echo x >> n; [ $(wc -l < n) -ge 3 ]".into()),
            3,
        );
        let (code, out, err) = run(&counting, dir.path());
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("attempt 3 of 3"), "{out}");
        assert_eq!(err.matches("exited with code 1").count(), 2, "{err}");
        let failing = hc(Probe::Command("exit 4".into()), 2);
        let (code, out, _) = run(&failing, dir.path());
        assert_eq!(code, 1);
        assert!(
            out.contains("::m:: set health_failed command exited with code 4"),
            "{out}"
        );
    }

    #[test]
    fn url_probe_with_nothing_listening_fails_clearly() {
        // A port nothing listens on (bound, then closed): no HTTP response, one attempt each.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let h = hc(
            Probe::Url {
                url: format!("http://127.0.0.1:{port}/health"),
                expect_status: 200,
            },
            2,
        );
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = run(&h, dir.path());
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("set health_failed "), "{out}");
        assert!(
            out.contains("no HTTP response") || out.contains("neither curl nor wget"),
            "{out}"
        );
    }

    #[test]
    fn host_header_only_for_addresses() {
        let url = |u: &str| {
            let h = hc(
                Probe::Url {
                    url: u.into(),
                    expect_status: 200,
                },
                1,
            );
            params(Params::new(), Some(&h), "example.com")
                .as_str()
                .to_string()
        };
        assert!(url("http://127.0.0.1/h").contains("hc_host='example.com'"));
        assert!(url("http://[::1]:8080/h").contains("hc_host='example.com'"));
        assert!(url("https://example.com/h").contains("hc_host=''"));
        assert!(url("http://a/x'y").contains(r#"hc_url='http://a/x'\''y'"#));
    }
}
