//! One webhook POST, tried again after a failure that may pass (a 5xx, 429, 408, no answer, a
//! refused connection), waiting longer each time, all within one deadline. Blocking: it runs
//! on a thread of its own, which the caller stops waiting for at the deadline.

use std::time::{Duration, Instant};

/// How many times a notification is tried at most.
pub const MAX_ATTEMPTS: u32 = 4;
/// The pause before the first retry; doubled before each next one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// How the attempts ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub attempts: u32,
    /// `None`: delivered (a 2xx); else why not, the last attempt's reason.
    pub error: Option<String>,
}

/// POSTs `body` (JSON) to `url` with `headers`, until a 2xx, a failure no retry can cure (a
/// 4xx other than 408 and 429, a bad address), `MAX_ATTEMPTS`, or `deadline`.
pub fn post(url: &str, headers: &[(String, String)], body: &[u8], deadline: Instant) -> Sent {
    let mut attempts = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Sent {
                attempts,
                error: Some("no answer in time".into()),
            };
        }
        attempts += 1;
        let (error, retry) = match once(url, headers, body, left) {
            Ok(()) => {
                return Sent {
                    attempts,
                    error: None,
                };
            }
            Err(e) => e,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if !retry || attempts >= MAX_ATTEMPTS || left <= backoff {
            return Sent {
                attempts,
                error: Some(error),
            };
        }
        std::thread::sleep(backoff);
        backoff *= 2;
    }
}

/// One attempt within `left`; the error says why and whether another attempt may do better.
fn once(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    left: Duration,
) -> Result<(), (String, bool)> {
    // The environment's proxy (ALL_PROXY, HTTPS_PROXY, HTTP_PROXY, less NO_PROXY) is used, but
    // never for this machine's own addresses.
    let proxy = ureq::Proxy::try_from_env().filter(|_| !loopback(url));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(proxy)
        .timeout_global(Some(left))
        .http_status_as_error(false)
        // A webhook that moved answers 3xx: reported, not followed (a POST would become a GET).
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!("flipdeck/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut req = agent.post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    match req.send(body) {
        Ok(resp) => {
            let code = resp.status().as_u16();
            match code {
                200..=299 => Ok(()),
                408 | 429 | 500..=599 => Err((format!("HTTP {code}"), true)),
                _ => Err((format!("HTTP {code}"), false)),
            }
        }
        Err(ureq::Error::Timeout(_)) => Err((
            format!("no answer within {:.1} s", left.as_secs_f64()),
            true,
        )),
        Err(e @ (ureq::Error::BadUri(_) | ureq::Error::Http(_))) => Err((e.to_string(), false)),
        Err(e) => Err((e.to_string(), true)),
    }
}

/// Whether `url` names this machine (`localhost`, `127.0.0.0/8`, `[::1]`).
fn loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return false;
    };
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
