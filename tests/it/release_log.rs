//! The server's release log: every deploy, rollback and prune leaves a JSON line, and a second
//! operator (another history DB) learns the first one's deployments from it on `status`.

use crate::support::{DOMAIN, Harness};
use serde_json::Value;
use std::time::Duration;

fn log_lines(h: &Harness) -> Vec<Value> {
    let text = std::fs::read_to_string(h.base().join(".flipdeck/releases.log")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// The same server and config, seen through another operator's history.
fn other_operator(h: &Harness) -> std::process::Command {
    let mut c = h.cmd(&[]);
    c.env("FLIPDECK_DB", h.dir.path().join("operator-b.db"));
    c
}

fn run_b(h: &Harness, args: &[&str]) -> std::process::Output {
    other_operator(h).args(args).output().unwrap()
}

fn list_b(h: &Harness) -> Vec<Value> {
    h.list_in(&h.dir.path().join("operator-b.db"), &[])
}

#[test]
fn every_action_is_logged_on_the_server() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"\nkeep = 2");
    h.ok(&["deploy", DOMAIN]);
    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    h.write_config("deployment_script = \"false\"\nkeep = 2");
    h.expect(&["deploy", DOMAIN], 1);
    h.ok(&["rollback", DOMAIN]);
    h.write_config("deployment_script = \"true\"\nkeep = 2");
    h.ok(&["deploy", DOMAIN]);
    let lines = log_lines(&h);
    let summary: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap().to_string(),
                l["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |a: &str, s: &str| (a.to_string(), s.to_string());
    assert_eq!(
        summary,
        [
            expect("deploy", "success"),
            expect("deploy", "success"),
            expect("deploy", "failed"),
            expect("rollback", "success"),
            expect("deploy", "success"),
            expect("prune", "pruned"),
        ],
        "{lines:#?}"
    );
    let list = h.list();
    let newest = &lines[4];
    assert_eq!(newest["commit"], list[0]["commit_sha"]);
    assert_eq!(newest["branch"], "main");
    assert_eq!(newest["deployment_id"], list[0]["id"]);
    assert!(newest["who"].as_str().unwrap().contains('@'));
    for t in ["started", "completed"] {
        chrono::DateTime::parse_from_rfc3339(newest[t].as_str().unwrap()).expect("RFC 3339");
    }
    assert!(
        list[0]["deployment_path"]
            .as_str()
            .unwrap()
            .ends_with(newest["release"].as_str().unwrap())
    );
}

#[test]
fn a_second_operator_sees_the_first_ones_deployments_after_status() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    h.write_config("deployment_script = \"false\"");
    h.expect(&["deploy", DOMAIN], 1);
    assert!(list_b(&h).is_empty(), "operator B has seen nothing yet");
    let out = run_b(&h, &["status", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let a = h.list();
    let b = list_b(&h);
    assert_eq!(b.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        for field in [
            "status",
            "commit_sha",
            "branch",
            "deployment_path",
            "is_active",
            "can_rollback",
        ] {
            assert_eq!(x[field], y[field], "{field}: {x} vs {y}");
        }
    }
    // B can act on A's releases: roll back to the first one.
    let out = run_b(&h, &["rollback", DOMAIN]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        h.live_release().as_deref(),
        Some(crate::support::release_of(&a[2]).as_str())
    );
    // And A learns about B's rollback from the server: the live link is the truth.
    h.ok(&["status"]);
    assert_eq!(h.active().unwrap()["id"], a[2]["id"]);
    // A second status adds nothing twice.
    assert!(run_b(&h, &["status"]).status.success());
    assert_eq!(list_b(&h).len(), 3);
}

#[test]
fn a_deploy_whose_flipdeck_was_killed_is_recovered_by_the_next_status() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    h.write_config("deployment_script = \"sleep 2\"");
    h.deploy_killed_while_building(1);
    assert_eq!(
        h.list()[0]["status"],
        "updating",
        "the record is left mid-flight"
    );
    // The script dies too once it writes to its dead reader; the lock names a dead process.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        h.lock_dir().exists(),
        "the dead deploy's lock is still there"
    );
    // (A deploy, rollback or prune would recover it first too: see tests/it/faults.rs.)
    let live = h.live_release();
    h.ok(&["status"]);
    let d = h
        .list()
        .into_iter()
        .find(|d| d["id"] == 2)
        .expect("the killed deploy (#2)");
    let d = &d;
    assert_eq!(d["status"], "failed", "{d}");
    let log = h.ok(&["log", &d["id"].to_string()]);
    assert!(log.contains("interrupted"), "{log}");
    assert!(h.list().iter().all(|d| d["status"] != "updating"));
    assert!(!h.lock_dir().exists(), "lock released");
    assert_eq!(h.releases().len(), 1, "half release removed");
    assert_eq!(h.live_release(), live, "live site untouched");
    // And the next deploy works.
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
}

#[test]
fn a_lock_held_by_a_live_process_is_left_alone_by_recovery() {
    let h = Harness::local();
    // The build goes on once `status` has ended (at most 60 s).
    let gate = h.dir.path().join("status-done");
    h.write_config(&format!(
        "deployment_script = \"i=0; while [ ! -e '{}' ] && [ $i -lt 1200 ]; do i=$((i + 1)); sleep 0.05; done\"",
        gate.display()
    ));
    std::fs::write(&gate, "").unwrap();
    h.ok(&["deploy", DOMAIN]);
    std::fs::remove_file(&gate).unwrap();
    let child = h.spawn(&["deploy", DOMAIN]);
    h.wait_building(1);
    // Another flipdeck (same DB) refreshes while the deploy runs: nothing is touched.
    h.ok(&["status"]);
    assert!(h.lock_dir().exists());
    std::fs::write(&gate, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(h.list()[0]["status"], "success");
}
