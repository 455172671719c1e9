//! Files checked as OpenSSH checks its own: a config others can change and a private key others
//! can read are refused with the fix, before anything runs; the history and the folders flipdeck
//! makes are private.

use crate::support::sshd::TestSshd;
use crate::support::{DOMAIN, Harness, TransportKind};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn a_config_others_can_change_is_refused_with_the_fix() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    chmod(&h.config, 0o666);
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("writable by others") && err.contains("chmod go-w"),
        "{err}"
    );
    assert!(!h.root.join("deployments").exists(), "nothing ran");
    chmod(&h.config, 0o644);
    // In a folder anyone can write (not sticky), anyone could swap the file.
    let dir = h.config.parent().unwrap();
    let was = mode(dir);
    chmod(dir, 0o777);
    let out = h.run(&["deploy", DOMAIN]);
    chmod(dir, was);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a folder anyone can write"), "{err}");
    assert!(!h.root.join("deployments").exists(), "nothing ran");
    h.ok(&["deploy", DOMAIN]);
}

#[test]
fn a_private_key_others_can_read_is_refused_with_the_fix() {
    let Some(h) = Harness::ssh() else { return };
    let TransportKind::Ssh(s) = &h.transport else {
        unreachable!()
    };
    let s: &TestSshd = s;
    chmod(&s.client_key, 0o644);
    let out = h.run(&["deploy", DOMAIN]);
    chmod(&s.client_key, 0o600);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0644 are too open")
            && err.contains(&format!("chmod 600 {}", s.client_key.display())),
        "{err}"
    );
    assert!(!h.root.join("deployments").exists(), "nothing ran");
    h.ok(&["deploy", DOMAIN]);
}

#[test]
fn the_history_and_the_folders_flipdeck_makes_are_private() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    // A database an older flipdeck (or a wide umask) left readable by everyone.
    h.ok(&["deploy", DOMAIN]);
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", h.db.display());
        if Path::new(&p).exists() {
            chmod(Path::new(&p), 0o644);
        }
    }
    h.ok(&["list", DOMAIN]);
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", h.db.display());
        if Path::new(&p).exists() {
            assert_eq!(mode(Path::new(&p)), 0o600, "{p}");
        }
    }
    // A new database in folders that do not exist yet: each folder 0700, the files 0600.
    let nested = h.dir.path().join("data/flipdeck/history.db");
    let db = nested.to_str().unwrap();
    h.ok(&["--db", db, "status"]);
    assert_eq!(mode(&h.dir.path().join("data")), 0o700);
    assert_eq!(mode(nested.parent().unwrap()), 0o700);
    assert_eq!(mode(&nested), 0o600);
    let wal = format!("{db}-wal");
    if Path::new(&wal).exists() {
        assert_eq!(mode(Path::new(&wal)), 0o600);
    }
}
