//! Two operators (two history databases, one config) deploying one site at the same instant, 20
//! times in a row over real sshd: names cannot collide, the loser of the lock leaves no record and
//! deletes nothing, every successful release keeps its directory until pruned, and after `status`
//! both histories tell the same story.

use crate::support::{DOMAIN, Harness};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

fn as_operator(h: &Harness, db: &str, args: &[&str]) -> Command {
    let mut c = h.cmd(args);
    c.env("FLIPDECK_DB", h.dir.path().join(db));
    c
}

fn list(h: &Harness, db: &str) -> Vec<Value> {
    h.list_in(&h.dir.path().join(db), &["--all"])
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Successful releases `db` knows of that should still have a directory.
fn kept(h: &Harness, db: &str) -> BTreeSet<String> {
    list(h, db)
        .iter()
        .filter(|d| d["status"] == "success" && !d["deployment_path"].is_null())
        .map(crate::support::release_of)
        .collect()
}

#[test]
fn two_operators_in_the_same_second_never_delete_each_others_releases() {
    let Some(h) = Harness::ssh() else { return };
    // Long enough for the two deploys to overlap; the keep is above the number of rounds, so no
    // release may go missing at all.
    h.write_config("deployment_script = \"sleep 0.3\"\nkeep = 100");
    h.ok(&["provision", DOMAIN]);
    let (mut successes, mut refused) = (0, 0);
    for round in 0..20 {
        h.commit(
            "public/index.php",
            &format!("<?php echo 'round {round}';\n"),
        );
        let spawn = |db| {
            as_operator(&h, db, &["deploy", DOMAIN])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("a.db"), spawn("b.db"));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
        assert!(
            ok >= 1,
            "round {round}: no winner\n{}\n{}",
            text(&a),
            text(&b)
        );
        for o in [&a, &b].iter().filter(|o| !o.status.success()) {
            let t = text(o);
            assert!(
                t.contains("is locked by"),
                "round {round}: not a lock refusal\n{t}"
            );
            assert!(!t.contains("File exists"), "round {round}: {t}");
        }
        successes += ok;
        refused += 2 - ok;
        // Each operator's next command recovers and cleans up as it does after any refusal.
        for db in ["a.db", "b.db"] {
            let o = as_operator(&h, db, &["status"]).output().unwrap();
            assert!(o.status.success(), "round {round}: {}", text(&o));
        }
        let on_disk: BTreeSet<String> = h.releases().into_iter().collect();
        for db in ["a.db", "b.db"] {
            let missing: Vec<_> = kept(&h, db).difference(&on_disk).cloned().collect();
            assert!(missing.is_empty(), "round {round}: {db} lost {missing:?}");
            assert!(
                list(&h, db)
                    .iter()
                    .all(|d| d["status"] == "success" || d["status"] == "failed"),
                "round {round}: {db} has a record left pending"
            );
        }
    }
    // The two really met at the lock (the deploys overlap by far more than they start apart).
    assert!(
        refused > 0,
        "the deploys never overlapped: the race was not run"
    );
    // Every success (and the provision) is a release on disk, each under its own name.
    assert_eq!(h.releases().len(), successes + 1);
    // Both histories converged: the same releases, the same one active.
    let (a, b) = (list(&h, "a.db"), list(&h, "b.db"));
    assert_eq!(kept(&h, "a.db"), kept(&h, "b.db"));
    let active = |l: &[Value]| {
        l.iter()
            .find(|d| d["is_active"] == true)
            .map(crate::support::release_of)
    };
    assert_eq!(active(&a), active(&b));
    assert_eq!(active(&a), h.live_release());
    assert!(!h.lock_dir().exists());
}
