//! PHP-FPM's `process_control_timeout`: how long a reload waits for in-flight requests. Unset
//! means 0 (PHP's default), and then every reload cuts the requests being served (nginx answers
//! 502), so `provision` warns about it.
//!
//! The reading itself is `read_fpm_timeout` in `assets/remote/fpm.sh`, run by provisioning.

/// Seconds from an ini value such as `10s`, `2m`, `"0"`, `10 ; comment`; `None` if unreadable.
pub fn seconds(raw: &str) -> Option<u64> {
    let v = raw
        .split(';')
        .next()?
        .trim()
        .trim_matches(['"', '\''])
        .trim();
    let (num, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&v[..i], v[i..].trim()),
        None => (v, ""),
    };
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// The warning `provision` prints for what the script reported, if any.
pub fn warning(
    conf: &str,
    reported: Option<&str>,
    unreadable: bool,
    our_nginx: bool,
) -> Option<String> {
    // Without flipdeck's nginx config, nothing says the web server passes the resolved release
    // path, so turning the reload off is no advice to give.
    let why = if our_nginx {
        "a PHP-FPM reload then stops the requests in flight (nginx answers 502). \
         Set e.g. `process_control_timeout = 10s` in its [global] section, or, since the nginx \
         config flipdeck writes passes $realpath_root, turn the reload off with reload_command = \"\""
    } else {
        "a PHP-FPM reload then stops the requests in flight (the web server answers 502). \
         Set e.g. `process_control_timeout = 10s` in its [global] section"
    };

    if unreadable {
        return Some(format!(
            "warning: cannot read the PHP-FPM config {conf} to check process_control_timeout; \
             if it is 0 (the default), {why}"
        ));
    }
    let raw = reported?;
    match (raw, seconds(raw)) {
        ("unset", _) => Some(format!(
            "warning: process_control_timeout is not set in {conf} (so it is 0): {why}"
        )),
        (_, Some(0)) => Some(format!(
            "warning: process_control_timeout = {raw} in {conf}: {why}"
        )),
        (_, Some(_)) => None,
        (_, None) => Some(format!(
            "warning: cannot understand process_control_timeout = {raw} in {conf}; if it is 0, {why}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_seconds() {
        assert_eq!(seconds("10s"), Some(10));
        assert_eq!(seconds("10"), Some(10));
        assert_eq!(seconds("0"), Some(0));
        assert_eq!(seconds("\"2m\""), Some(120));
        assert_eq!(seconds("1h ; an hour"), Some(3600));
        assert_eq!(seconds("1d"), Some(86400));
        assert_eq!(seconds("ten"), None);
        assert_eq!(seconds("5x"), None);
        assert_eq!(seconds(""), None);
    }

    #[test]
    fn warnings() {
        assert!(
            warning("/c", Some("unset"), false, true)
                .unwrap()
                .contains("not set in /c")
        );
        assert!(
            warning("/c", Some("0s"), false, true)
                .unwrap()
                .contains("= 0s")
        );
        assert_eq!(warning("/c", Some("10s"), false, true), None);
        assert!(
            warning("/c", None, true, true)
                .unwrap()
                .contains("cannot read")
        );
        assert!(
            warning("/c", Some("soon"), false, true)
                .unwrap()
                .contains("cannot understand")
        );
        assert_eq!(warning("/c", None, false, true), None);
    }

    /// The script against real files: the main config includes a pool directory, later wins.
    #[test]
    fn reads_main_config_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("pool.d")).unwrap();
        let main = d.join("php-fpm.conf");
        // The script's `setv` lines, as KEY=VALUE.
        let read = || {
            let script = format!(
                "setv() {{ printf '%s=%s\\n' \"$1\" \"$2\"; }}\n{}read_fpm_timeout {}\n",
                super::super::scripts::FPM,
                crate::shell::quote(&main.display().to_string())
            );
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let run = |main_text: &str, pool_text: &str| {
            std::fs::write(&main, main_text.replace("DIR", &d.display().to_string())).unwrap();
            std::fs::write(d.join("pool.d/www.conf"), pool_text).unwrap();
            read()
        };
        assert_eq!(
            run(
                "[global]\n;process_control_timeout = 0\ninclude=DIR/pool.d/*.conf\n",
                "[www]\n"
            ),
            "fpm_timeout=unset"
        );
        assert_eq!(
            run("[global]\nprocess_control_timeout = 10s\n", "[www]\n"),
            "fpm_timeout=10s"
        );
        assert_eq!(
            run(
                "[global]\nprocess_control_timeout = 10s\ninclude = \"DIR/pool.d/*.conf\"\n",
                "process_control_timeout=0"
            ),
            "fpm_timeout=0"
        );
        std::fs::remove_file(&main).unwrap();
        assert_eq!(read(), "fpm_unreadable=1");
    }
}
