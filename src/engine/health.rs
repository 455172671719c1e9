//! The health check as shell: it runs on the server, inside the switch script, so a failing check
//! switches back in the same exec (no extra round trip while a bad release is live).

use crate::config::{HealthCheck, Probe};
use crate::shell::quote;
use crate::validate;

/// Defines `health_check`: up to `retries` attempts with a pause between them. It returns 0 when
/// healthy; otherwise it reports `health_failed` with the last attempt's result and returns 1.
pub fn check_fn(hc: &HealthCheck) -> String {
    let mut s = format!(
        "hc_timeout={}\nhc_tries={}\nhc_pause={}\n",
        hc.timeout_s, hc.retries, hc.interval_s
    );
    match &hc.probe {
        Probe::Url { url, expect_status } => {
            // A URL naming an address rather than the site reaches nginx's default server unless
            // the request names the site.
            let host = match validate::url_host(url) {
                Some(h) if is_address(h) => "$domain".to_string(),
                _ => String::new(),
            };
            s.push_str(&format!(
                "hc_url={}\nhc_expect={}\nhc_host=\"{host}\"\n",
                quote(url),
                expect_status
            ));
            s.push_str(URL_PROBE);
        }
        Probe::Command(cmd) => {
            s.push_str(&format!("hc_cmd={}\n", quote(cmd)));
            s.push_str(COMMAND_PROBE);
        }
    }
    s.push_str(LOOP);
    s
}

fn is_address(host: &str) -> bool {
    host == "localhost" || host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// One HTTP request with curl, else wget; sets `hc_detail` when it fails (2: cannot check at all).
const URL_PROBE: &str = r#"health_probe() {
  set -- 
  [ -n "$hc_host" ] && set -- "Host: $hc_host"
  if command -v curl >/dev/null 2>&1; then
    hc_code=$(curl -gsS -o /dev/null -w '%{http_code}' --max-time "$hc_timeout" ${1:+-H "$1"} "$hc_url")
  elif command -v wget >/dev/null 2>&1; then
    hc_opts=
    wget --help 2>&1 | grep -q -e '--tries' && hc_opts='--tries=1 --max-redirect=0'
    hc_code=$(wget $hc_opts -S -q -O /dev/null -T "$hc_timeout" ${1:+--header="$1"} "$hc_url" 2>&1 | awk '$1 ~ /^HTTP\// { c = $2 } END { print c }')
  else
    hc_detail="neither curl nor wget is installed on the server; install one, or use health_check.command"
    return 2
  fi
  [ "$hc_code" = "$hc_expect" ] && return 0
  case $hc_code in
    ''|000) hc_detail="no HTTP response from $hc_url within ${hc_timeout}s (expected $hc_expect)" ;;
    *) hc_detail="HTTP $hc_code from $hc_url (expected $hc_expect)" ;;
  esac
  return 1
}
"#;

/// The user's command, in the live release, bounded by `timeout` where the server has it.
const COMMAND_PROBE: &str = r#"health_probe() {
  if command -v timeout >/dev/null 2>&1; then
    (cd "$live/" && timeout "$hc_timeout" sh -c "$hc_cmd") </dev/null
  else
    (cd "$live/" && sh -c "$hc_cmd") </dev/null
  fi
  hc_rc=$?
  [ $hc_rc -eq 0 ] && return 0
  if [ $hc_rc -eq 124 ]; then hc_detail="command timed out after ${hc_timeout}s"
  else hc_detail="command exited with code $hc_rc"; fi
  return 1
}
"#;

const LOOP: &str = r#"health_check() {
  step health
  hc_i=1
  while :; do
    health_probe
    hc_rc=$?
    if [ $hc_rc -eq 0 ]; then
      echo "health check passed (attempt $hc_i of $hc_tries)"
      return 0
    fi
    echo "health check attempt $hc_i of $hc_tries: $hc_detail" >&2
    [ $hc_rc -eq 2 ] || [ $hc_i -ge "$hc_tries" ] && break
    hc_i=$((hc_i + 1))
    sleep "$hc_pause"
  done
  setv health_failed "$hc_detail"
  return 1
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
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
        let script = format!(
            "M=::m::\ndomain=example.com\nlive={}\nstep() {{ printf '%s step %s\\n' \"$M\" \"$1\"; }}\n\
             setv() {{ printf '%s set %s %s\\n' \"$M\" \"$1\" \"$2\"; }}\n{}health_check\n",
            quote(&dir.display().to_string()),
            check_fn(h)
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
            check_fn(&hc(
                Probe::Url {
                    url: u.into(),
                    expect_status: 200,
                },
                1,
            ))
        };
        assert!(url("http://127.0.0.1/h").contains("hc_host=\"$domain\""));
        assert!(url("http://[::1]:8080/h").contains("hc_host=\"$domain\""));
        assert!(url("https://example.com/h").contains("hc_host=\"\""));
        assert!(url("http://a/x'y").contains(r#"hc_url='http://a/x'\''y'"#));
    }
}
