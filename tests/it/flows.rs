//! End-to-end flows of the engine through the real binary, on real git and the real filesystem.
//! Every body runs once per transport (see the `flows!` invocation at the bottom).

use crate::support::{DOMAIN, Harness, both};
use serde_json::Value;

fn provision_creates_layout_and_initial_deployment(h: Harness) {
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("initial deployment #1"), "{out}");
    // Data is shared (storage seeded from the repository's skeleton); dependency folders are
    // the release's own, so none is in shared/.
    assert!(h.base().join("shared/storage/framework/.gitkeep").is_file());
    assert!(h.base().join("shared/.env").is_file());
    for d in ["vendor", "node_modules"] {
        assert!(!h.base().join("shared").join(d).exists(), "shared/{d}");
    }
    let live = h.live_release().expect("live link");
    let rel = h.base().join(&live);
    for l in ["storage", ".env"] {
        let target = std::fs::read_link(rel.join(l)).unwrap();
        assert_eq!(target.to_str().unwrap(), format!("../shared/{l}"));
    }
    assert!(
        rel.join(".git").is_dir(),
        "a release is a full git repository"
    );
    let list = h.list();
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(d["status"], "success");
    assert_eq!(d["is_active"], true);
    assert_eq!(
        d["commit_sha"].as_str().unwrap(),
        crate::support::git(&h.repo, &["rev-parse", "HEAD"])
    );
    // Provisioning again changes nothing.
    let out = h.ok(&["provision", DOMAIN]);
    assert!(out.contains("already provisioned"), "{out}");
    assert_eq!(h.list().len(), 1);
}

fn sixteen_deploys_keep_fourteen_releases_and_every_record(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    let mut shas = Vec::new();
    for i in 0..16 {
        shas.push(h.commit("public/index.php", &format!("<?php echo 'v{i}';\n")));
        h.ok(&["deploy", DOMAIN]);
    }
    assert_eq!(h.releases().len(), 14, "{:?}", h.releases());
    let list = h.list();
    assert_eq!(list.len(), 16, "records are never deleted");
    assert_eq!(
        list.iter()
            .filter(|d| d["deployment_path"].is_null())
            .count(),
        2
    );
    // The two oldest were pruned, newest first order.
    assert!(list[14]["deployment_path"].is_null() && list[15]["deployment_path"].is_null());
    assert_eq!(list[0]["commit_sha"].as_str().unwrap(), shas[15]);
    let live = h.live_release().unwrap();
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v15';\n"
    );
    assert!(
        list[0]["deployment_path"]
            .as_str()
            .unwrap()
            .ends_with(&live)
    );
    // Every kept release has its log.
    assert!(h.base().join(&live).join("deployment.log").is_file());
}

fn rollback_and_forward_again(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    let list = h.list();
    let (newest, older) = (
        list[0]["id"].as_i64().unwrap(),
        list[1]["id"].as_i64().unwrap(),
    );
    assert_eq!(list[1]["can_rollback"], true);
    // Default target: the newest eligible one older than the active.
    h.ok(&["rollback", DOMAIN]);
    assert_eq!(h.active().unwrap()["id"].as_i64(), Some(older));
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v1';\n"
    );
    assert_eq!(h.releases().len(), 2, "rollback keeps releases");
    // Forward again.
    h.ok(&["rollback", DOMAIN, "--to", &newest.to_string()]);
    assert_eq!(h.active().unwrap()["id"].as_i64(), Some(newest));
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v2';\n"
    );
    // Refused: the active one.
    let out = h.run(&["rollback", DOMAIN, "--to", &newest.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already the active"));
    // Refused: unknown ID.
    assert_eq!(
        h.run(&["rollback", DOMAIN, "--to", "999"]).status.code(),
        Some(1)
    );
}

fn rollback_refuses_failed_and_missing_releases(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let first = h.list()[0]["id"].as_i64().unwrap();
    h.ok(&["deploy", DOMAIN]);
    h.write_config("deployment_script = \"false\"");
    h.expect(&["deploy", DOMAIN], 1);
    let failed = h.list()[0]["id"].as_i64().unwrap();
    let out = h.run(&["rollback", DOMAIN, "--to", &failed.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failed"),
        "{out:?}"
    );
    // The directory is removed behind flipdeck's back: checked on the target, not trusted from the DB.
    let release = h.list().into_iter().find(|d| d["id"] == first).unwrap()["deployment_path"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_dir_all(&release).unwrap();
    let live_before = h.live_release();
    let out = h.run(&["rollback", DOMAIN, "--to", &first.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is gone"),
        "{out:?}"
    );
    assert_eq!(h.live_release(), live_before);
    let d = h.list().into_iter().find(|d| d["id"] == first).unwrap();
    assert_eq!(d["can_rollback"], false);
    assert!(h.run(&["rollback", DOMAIN]).status.code() == Some(1));
}

fn prune_dry_run_changes_nothing_and_prune_keeps_an_old_active_release(h: Harness) {
    h.write_config("deployment_script = \"true\"\nkeep = 30");
    for _ in 0..5 {
        h.ok(&["deploy", DOMAIN]);
    }
    let list = h.list();
    let oldest = list[4]["id"].as_i64().unwrap();
    h.ok(&["rollback", DOMAIN, "--to", &oldest.to_string()]);
    let before = h.releases();
    let out = h.ok(&["prune", "--keep", "2", "--dry-run", "--site", DOMAIN]);
    assert!(out.contains("would delete 2 release(s)"), "{out}");
    assert_eq!(h.releases(), before, "dry run deletes nothing");
    assert!(h.list().iter().all(|d| !d["deployment_path"].is_null()));
    h.ok(&["prune", "--keep", "2"]);
    let after = h.releases();
    assert_eq!(after.len(), 3, "2 newest + the old active one: {after:?}");
    let live = h.live_release().unwrap();
    assert!(after.contains(&live));
    assert_eq!(h.active().unwrap()["id"].as_i64(), Some(oldest));
    assert_eq!(h.list().len(), 5, "records kept");
    assert_eq!(
        h.list()
            .iter()
            .filter(|d| d["deployment_path"].is_null())
            .count(),
        2
    );
    // By history ID of the site too.
    h.ok(&["prune", "--keep", "1", "--site-id", "1"]);
    assert_eq!(h.releases().len(), 2);
}

fn failing_script_leaves_live_site_and_no_half_release(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    h.commit("public/index.php", "<?php echo 'broken';\n");
    h.write_config("deployment_script = \"\"\"\necho step-one\nexit 3\necho never\n\"\"\"");
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(out.contains("step-one") && !out.contains("never"), "{out}");
    assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
    assert_eq!(h.releases(), vec![live.clone()], "no half release");
    assert!(!h.lock_dir().exists(), "lock released");
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    assert!(d["deployment_path"].is_null());
    // Its output is kept.
    let log = h.ok(&["log", &d["id"].to_string()]);
    assert!(log.contains("step-one") && log.contains("failed"), "{log}");
    // And the next deploy works.
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
}

fn reload_failure_switches_back(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    h.write_config(
        "server:reload_command = \"echo reloading; exit 7\"\ndeployment_script = \"true\"",
    );
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(out.contains("reloading"), "{out}");
    assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
    assert_eq!(h.releases(), vec![live]);
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    assert_eq!(
        h.active().unwrap()["id"],
        h.list()[1]["id"],
        "the active record is never a failed one"
    );
    assert!(!h.lock_dir().exists());
}

fn failing_health_check_switches_back(h: Harness) {
    let hc = "health_check = { command = \"test ! -e unhealthy\", retries = 2, interval_s = 0 }";
    h.write_config(&format!("deployment_script = \"true\"\n{hc}"));
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(
        out.contains("health check passed (attempt 1 of 2)"),
        "{out}"
    );
    let live = h.live_release().unwrap();
    h.write_config(&format!("deployment_script = \"touch unhealthy\"\n{hc}"));
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("attempt 2 of 2: command exited with code 1"),
        "{stdout}"
    );
    assert!(
        stderr.contains("health check failed: command exited with code 1; switched back to"),
        "{stderr}"
    );
    assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
    assert_eq!(
        h.releases(),
        vec![live.clone()],
        "the failed release is removed"
    );
    let list = h.list();
    assert_eq!(list[0]["status"], "failed");
    assert_eq!(h.active().unwrap()["id"], list[1]["id"]);
    assert!(!h.lock_dir().exists());
    // A rollback runs the check too: a failure is reported, the rollback kept.
    h.write_config(&format!("deployment_script = \"true\"\n{hc}"));
    h.ok(&["deploy", DOMAIN]);
    h.write_config(
        "deployment_script = \"true\"\nhealth_check = { command = \"exit 3\", retries = 1 }",
    );
    let out = h.ok(&["rollback", DOMAIN]);
    assert!(
        out.contains("health check failed: command exited with code 3 (the rollback is kept)"),
        "{out}"
    );
    assert_eq!(h.live_release().as_deref(), Some(live.as_str()));
}

fn quick_succession_gets_distinct_releases(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    for _ in 0..3 {
        h.ok(&["deploy", DOMAIN]);
    }
    let rel = h.releases();
    assert_eq!(rel.len(), 3, "{rel:?}");
    let names: Vec<String> = h
        .list()
        .iter()
        .map(|d| d["deployment_path"].as_str().unwrap().to_string())
        .collect();
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(unique.len(), 3);
}

fn concurrent_deploys_exactly_one_runs(h: Harness) {
    // A's script waits (at most 60 s) until B has been refused.
    let gate = h.dir.path().join("b-refused");
    h.write_config(&format!(
        "deployment_script = \"i=0; while [ ! -e '{}' ] && [ $i -lt 1200 ]; do i=$((i + 1)); sleep 0.05; done\"",
        gate.display()
    ));
    let a = h.spawn(&["deploy", DOMAIN]);
    h.wait_building(0);
    let b = h.run(&["deploy", DOMAIN]);
    std::fs::write(&gate, "").unwrap();
    let a = a.wait_with_output().unwrap();
    assert_eq!(a.status.code(), Some(0), "{a:?}");
    assert_eq!(b.status.code(), Some(1), "{b:?}");
    let err = String::from_utf8_lossy(&b.stderr);
    assert!(
        err.contains("is locked by") && err.contains("pid="),
        "{err}"
    );
    assert_eq!(h.releases().len(), 1);
    assert!(!h.lock_dir().exists());
    let list = h.list();
    assert_eq!(list.iter().filter(|d| d["status"] == "success").count(), 1);
}

fn hostile_values_run_nothing(h: Harness) {
    let canary = h.dir.path().join("canary");
    let c = canary.display().to_string();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    // Refused outright: exit 2, nothing run.
    for b in [
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("-x;touch {c}"),
        "a..b".into(),
    ] {
        h.expect(&["deploy", DOMAIN, "--branch", &b], 2);
    }
    // Valid git branch names that are shell code: used literally, so the deploy fails (no such
    // branch) and the live site stays.
    for b in [
        format!("x$(touch${{IFS}}{c})"),
        format!("x;touch${{IFS}}{c}"),
        format!("x`touch${{IFS}}{c}`"),
    ] {
        h.expect(&["deploy", DOMAIN, "--branch", &b], 1);
    }
    for (key, value) in [
        ("domain", format!("x.com; touch {c}")),
        ("domain", "../etc".to_string()),
        ("repository", format!("/tmp/r; touch {c}")),
        ("repository", format!("--upload-pack=touch {c}")),
        ("branch", format!("$(touch {c})")),
        ("shared", format!("[\"../../{c}\"]")),
    ] {
        let text = std::fs::read_to_string(&h.config).unwrap();
        let line = if key == "shared" {
            format!("shared = {value}")
        } else {
            format!("{key} = {}", toml_str(&value))
        };
        let bad = if key == "domain" {
            text.replace(&format!("domain = \"{DOMAIN}\""), &line)
        } else {
            format!("{text}{line}\n")
        };
        let cfg = h.dir.path().join("bad.toml");
        std::fs::write(&cfg, &bad).unwrap();
        let out = h
            .cmd(&["--config", cfg.to_str().unwrap(), "deploy", DOMAIN])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key) && err.contains("line"), "{err}");
    }
    // A repository that is a valid URL but not reachable: plain failure, nothing executed.
    assert!(!canary.exists(), "a hostile value was executed");
    assert!(h.live_release().is_some());
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn config_errors_exit_2(h: Harness) {
    let cases = [
        (
            "[[servers]]\nname = \"a\"\ntransport = \"local\"\nroot = \"/x\"\nbogus = 1\n",
            "bogus",
        ),
        (
            "[[servers]]\nname = \"a\"\ntransport = \"local\"\n",
            "root is required",
        ),
        (
            "[[servers]]\nname = \"a\"\ntransport = \"local\"\nroot = \"/x\"\n[[servers.sites]]\nrepository = \"/r\"\n",
            "domain",
        ),
        (
            "[[servers]]\nname = \"a\"\ntransport = \"carrier-pigeon\"\nroot = \"/x\"\n",
            "transport",
        ),
        ("[[servers]\n", "line 1"),
    ];
    for (text, expect) in cases {
        std::fs::write(&h.config, text).unwrap();
        let out = h.run(&["status"]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect) && err.contains("config.toml"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one clear sentence: {err}");
    }
    // A missing config file and an unknown site are usage errors too.
    let out = h
        .cmd(&["--config", "/nonexistent/flipdeck.toml", "list", DOMAIN])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    h.write_config("");
    h.expect(&["deploy", "nosuch.example"], 2);
    h.expect(&["deploy"], 2);
}

fn list_json_has_exactly_the_spec_fields(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    h.write_config("deployment_script = \"false\"");
    h.expect(&["deploy", DOMAIN], 1);
    let list = h.list();
    let mut keys: Vec<&str> = list[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    keys.retain(|k| !["source", "requested_ref", "artifact_sha256"].contains(k));
    assert_eq!(
        keys,
        [
            "branch",
            "can_rollback",
            "commit_sha",
            "completed_at",
            "deployment_path",
            "duration_ms",
            "id",
            "is_active",
            "log_file_path",
            "started_at",
            "status"
        ]
    );
    // Beyond the spec's fields, after them: where the code came from (issue 16).
    let mut keys: Vec<&str> = list[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.retain(|k| ["source", "requested_ref", "artifact_sha256"].contains(k));
    keys.sort();
    assert_eq!(keys, ["artifact_sha256", "requested_ref", "source"]);
    assert_eq!(list[1]["source"], "server");
    let ok = &list[1];
    assert_eq!(ok["status"], "success");
    assert_eq!(ok["branch"], "main");
    assert_eq!(ok["commit_sha"].as_str().unwrap().len(), 40);
    for t in ["started_at", "completed_at"] {
        chrono::DateTime::parse_from_rfc3339(ok[t].as_str().unwrap()).expect("RFC 3339");
    }
    assert!(
        ok["log_file_path"]
            .as_str()
            .unwrap()
            .ends_with("/deployment.log")
    );
    assert!(ok["duration_ms"].as_i64().unwrap() >= 0);
    assert_eq!(list[0]["status"], "failed");
    assert_eq!(list[0]["deployment_path"], Value::Null);
    assert_eq!(list[0]["can_rollback"], false);
}

fn cancel_releases_lock_and_removes_half_release(h: Harness) {
    // Interrupted while its script runs.
    let (live, child) = h.deploy_held_in_script();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(h.releases(), vec![live.clone()]);
    assert!(!h.lock_dir().exists());
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    let log = h.ok(&["log", &d["id"].to_string()]);
    assert!(log.contains("cancelled"), "{log}");
    assert_eq!(h.live_release(), Some(live));
}

fn stale_lock_is_reported_and_unlock_removes_it(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    std::fs::create_dir_all(h.lock_dir()).unwrap();
    std::fs::write(
        h.lock_dir().join("owner"),
        "ops@elsewhere pid=4242 deployment=9 since=2026-01-01T00:00:00.000Z token=x\n",
    )
    .unwrap();
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ops@elsewhere") && err.contains("flipdeck unlock"),
        "{err}"
    );
    let status = h.ok(&["status"]);
    assert!(status.contains("locked by ops@elsewhere"), "{status}");
    let out = h.ok(&["unlock", DOMAIN]);
    assert!(
        out.contains("ops@elsewhere") && out.contains("2026-01-01"),
        "{out}"
    );
    assert!(!h.lock_dir().exists());
    h.ok(&["deploy", DOMAIN]);
    assert!(h.ok(&["unlock", DOMAIN]).contains("was not locked"));
}

fn status_reads_the_server_and_follows_it(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    h.ok(&["deploy", DOMAIN]);
    let list = h.list();
    let older = crate::support::release_of(&list[1]);
    // Someone switches the live link by hand: the server is the truth.
    let tmp = h.root.join("tmp-link");
    std::os::unix::fs::symlink(format!("deployments/{DOMAIN}/{older}"), &tmp).unwrap();
    std::fs::rename(&tmp, h.live()).unwrap();
    let out = h.ok(&["status", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v[0]["drift"].as_str().unwrap().contains(&older), "{out}");
    assert_eq!(h.active().unwrap()["id"], list[1]["id"]);
    let again: Value = serde_json::from_str(&h.ok(&["status", "--json"])).unwrap();
    assert!(again[0]["drift"].is_null());
    assert_eq!(again[0]["release"].as_str(), Some(older.as_str()));
}

both!(
    provision_creates_layout_and_initial_deployment,
    sixteen_deploys_keep_fourteen_releases_and_every_record,
    rollback_and_forward_again,
    rollback_refuses_failed_and_missing_releases,
    prune_dry_run_changes_nothing_and_prune_keeps_an_old_active_release,
    failing_script_leaves_live_site_and_no_half_release,
    reload_failure_switches_back,
    failing_health_check_switches_back,
    quick_succession_gets_distinct_releases,
    concurrent_deploys_exactly_one_runs,
    hostile_values_run_nothing,
    config_errors_exit_2,
    list_json_has_exactly_the_spec_fields,
    cancel_releases_lock_and_removes_half_release,
    stale_lock_is_reported_and_unlock_removes_it,
    status_reads_the_server_and_follows_it,
);
