//! Secrets printed by a deploy script are hidden everywhere the output goes: the live stream, the
//! history, `flipdeck log` and the release's deployment.log.

use crate::support::{DOMAIN, Harness};

fn everything_seen(h: &Harness, stdout: &str) -> String {
    let d = &h.list()[0];
    let log = h.ok(&["log", &d["id"].to_string()]);
    let file = std::fs::read_to_string(format!(
        "{}/deployment.log",
        d["deployment_path"].as_str().unwrap()
    ))
    .unwrap();
    format!("{stdout}\n{log}\n{file}")
}

#[test]
fn built_in_patterns_hide_passwords_and_url_credentials() {
    let h = Harness::local();
    h.write_config("deployment_script = \"\"\"\necho DB_PASSWORD=hunter2\necho fetching https://deploy:s3cr3t@git.example.test/app.git\necho public line\n\"\"\"");
    let out = h.ok(&["deploy", DOMAIN]);
    let all = everything_seen(&h, &out);
    assert!(!all.contains("hunter2") && !all.contains("s3cr3t"), "{all}");
    assert!(
        all.contains("DB_PASSWORD=[redacted]")
            && all.contains("https://[redacted]@git.example.test"),
        "{all}"
    );
    assert!(all.contains("public line"));
}

#[test]
fn own_patterns_replace_the_built_in_ones() {
    let h = Harness::local();
    h.write_config("deployment_script = \"echo key sk_live_abc123 and password=visible\"");
    let text = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(
        &h.config,
        format!("redact = [\"sk_live_[a-z0-9]+\"]\n{text}"),
    )
    .unwrap();
    let out = h.ok(&["deploy", DOMAIN]);
    let all = everything_seen(&h, &out);
    assert!(
        !all.contains("sk_live_abc123") && all.contains("key [redacted] and"),
        "{all}"
    );
    assert!(
        all.contains("password=visible"),
        "the list replaces the defaults: {all}"
    );
    // An invalid pattern is a config error naming it.
    std::fs::write(&h.config, format!("redact = [\"(\"]\n{text}")).unwrap();
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("redact"));
}

/// JSON, bearer tokens and MySQL's `-pSECRET`, over real sshd: hidden in the stream, the history,
/// `flipdeck log` and deployment.log (the trace of the script's commands included).
#[test]
fn json_bearer_and_mysql_passwords_are_hidden_over_ssh() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config(
        r#"deployment_script = '''
echo '{"user": "app", "password": "jsonsecret1"}'
echo 'Authorization: Bearer beareraaaa1234567890'
echo mysqldump -u root -pmysqlsecret9 app
'''"#,
    );
    let out = h.ok(&["deploy", DOMAIN]);
    let all = everything_seen(&h, &out);
    for secret in ["jsonsecret1", "beareraaaa1234567890", "mysqlsecret9"] {
        assert!(!all.contains(secret), "{secret} shown:\n{all}");
    }
    assert!(all.contains(r#""password": [redacted]"#), "{all}");
    assert!(
        all.contains("Bearer [redacted]") && all.contains("-p[redacted]"),
        "{all}"
    );
    // The history's files, its write-ahead log included.
    let mut db = Vec::new();
    for suffix in ["", "-wal"] {
        db.extend(std::fs::read(format!("{}{suffix}", h.db.display())).unwrap_or_default());
    }
    let db = String::from_utf8_lossy(&db);
    for secret in ["jsonsecret1", "beareraaaa1234567890", "mysqlsecret9"] {
        assert!(!db.contains(secret), "{secret} in the history database");
    }
}
