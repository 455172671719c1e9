//! The CLI over a real OpenSSH server: host-key trust and a connection lost mid-deploy.

use crate::support::sshd::{TestSshd, ssh_keygen_fingerprint};
use crate::support::{DOMAIN, Harness, TransportKind};
use std::time::{Duration, Instant};

fn sshd(h: &Harness) -> &TestSshd {
    match &h.transport {
        TransportKind::Ssh(s) => s,
        TransportKind::Local => unreachable!(),
    }
}

fn known_hosts(h: &Harness) -> std::path::PathBuf {
    h.dir.path().join("known_hosts")
}

#[test]
fn unknown_host_is_refused_with_its_fingerprint_until_trusted() {
    let Some(h) = Harness::ssh() else { return };
    std::fs::write(known_hosts(&h), "").unwrap();
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let fp = ssh_keygen_fingerprint(&sshd(&h).host_pub_key);
    assert!(
        err.contains(&fp) && err.contains("ssh-ed25519") && err.contains("flipdeck trust web1"),
        "{err}"
    );
    assert!(
        !h.root.join("deployments").exists(),
        "nothing ran on an unverified host"
    );
    // Not a terminal and no --yes: refused.
    assert_eq!(h.run(&["trust", "web1"]).status.code(), Some(1));
    let out = h.ok(&["trust", "web1", "--yes"]);
    assert!(out.contains(&fp) && out.contains("added"), "{out}");
    let recorded = std::fs::read_to_string(known_hosts(&h)).unwrap();
    assert!(
        recorded.contains(&format!("[127.0.0.1]:{}", sshd(&h).port)),
        "{recorded}"
    );
    h.ok(&["deploy", DOMAIN]);
    assert!(
        h.ok(&["trust", "web1", "--yes"])
            .contains("already trusted")
    );
}

#[test]
fn changed_host_key_is_refused_and_not_overwritten() {
    let Some(h) = Harness::ssh() else { return };
    let s = sshd(&h);
    let other = s.new_key("impostor", "");
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key_part: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    let line = format!("[127.0.0.1]:{} {}\n", s.port, key_part.join(" "));
    std::fs::write(known_hosts(&h), &line).unwrap();
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CHANGED") && err.contains("line 1"), "{err}");
    assert_eq!(h.run(&["trust", "web1", "--yes"]).status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(known_hosts(&h)).unwrap(),
        line,
        "known_hosts untouched"
    );
    // accept-new does not accept a changed key either.
    h.write_config("server:host_key_policy = \"accept-new\"");
    assert_eq!(h.run(&["deploy", DOMAIN]).status.code(), Some(1));
    assert!(!h.root.join("deployments").exists());
}

/// `@revoked` wins wherever it stands, as in OpenSSH: after a plain line for the same key, and
/// as `@revoked *`.
#[test]
fn revoked_host_key_is_refused_after_a_plain_line_for_it() {
    let Some(h) = Harness::ssh() else { return };
    let s = sshd(&h);
    let key = std::fs::read_to_string(&s.host_pub_key).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let key = key.join(" ");
    for revoked in [format!("[127.0.0.1]:{}", s.port), "*".to_string()] {
        let text = format!("[127.0.0.1]:{} {key}\n@revoked {revoked} {key}\n", s.port);
        std::fs::write(known_hosts(&h), &text).unwrap();
        let out = h.run(&["deploy", DOMAIN]);
        assert_eq!(out.status.code(), Some(1), "@revoked {revoked}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("revoked at line 2"), "{err}");
        assert!(!h.root.join("deployments").exists(), "nothing ran");
        let out = h.run(&["trust", "web1", "--yes"]);
        assert_eq!(out.status.code(), Some(1), "trust refuses a revoked key");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("already trusted"));
        assert_eq!(std::fs::read_to_string(known_hosts(&h)).unwrap(), text);
    }
}

#[test]
fn accept_new_records_an_unknown_host() {
    let Some(h) = Harness::ssh() else { return };
    std::fs::write(known_hosts(&h), "").unwrap();
    h.write_config("server:host_key_policy = \"accept-new\"");
    h.ok(&["deploy", DOMAIN]);
    assert!(
        std::fs::read_to_string(known_hosts(&h))
            .unwrap()
            .contains("ssh-ed25519")
    );
}

#[test]
fn wrong_key_fails_naming_user_host_and_methods() {
    let Some(h) = Harness::ssh() else { return };
    let stranger = sshd(&h).new_key("stranger", "");
    let text = std::fs::read_to_string(&h.config).unwrap();
    let text = text.replace(
        &sshd(&h).client_key.display().to_string(),
        &stranger.display().to_string(),
    );
    std::fs::write(&h.config, text).unwrap();
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("authentication failed")
            && err.contains("@127.0.0.1")
            && err.contains("stranger"),
        "{err}"
    );
}

#[test]
fn connection_killed_mid_deploy_fails_safely_and_the_next_deploy_works() {
    let Some(h) = Harness::ssh() else { return };
    let (live, child) = h.deploy_held_in_script();
    let killed = sshd(&h).signal_connections(libc::SIGKILL);
    assert!(killed > 0);
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "detected within 30 s"
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(h.live_release(), Some(live.clone()), "live site unchanged");
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    let log = h.ok(&["log", &d["id"].to_string()]);
    assert!(log.contains("connection lost during script"), "{log}");
    // flipdeck reconnected and cleaned up: no half release, no lock.
    assert_eq!(h.releases(), vec![live]);
    assert!(!h.lock_dir().exists());
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
}
