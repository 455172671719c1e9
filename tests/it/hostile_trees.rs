//! A repository controls its tree, not where flipdeck writes: a `deployment.log` that is a symlink
//! out of the root, and a directory of a nested shared path that is one, cannot make flipdeck write
//! or delete outside the release. Canary files outside the root show it. Over both transports.

use crate::support::{DOMAIN, Harness, both, git};
use std::path::Path;

/// Commits a symlink `name -> target` into the site's repository.
fn commit_symlink(h: &Harness, name: &str, target: &Path) {
    let link = h.repo.join(name);
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(target, &link).unwrap();
    git(&h.repo, &["add", "-A"]);
    git(&h.repo, &["commit", "-qm", &format!("{name} is a symlink")]);
}

fn a_deployment_log_symlink_is_replaced_not_written_through(h: Harness) {
    // The operator's authorized_keys, say: outside the root.
    let canary = h.dir.path().join("outside/authorized_keys");
    std::fs::create_dir_all(canary.parent().unwrap()).unwrap();
    std::fs::write(&canary, "ssh-ed25519 AAAA operator\n").unwrap();
    commit_symlink(&h, "deployment.log", &canary);
    h.write_config("deployment_script = \"echo built\"");
    h.ok(&["deploy", DOMAIN]);
    assert_eq!(
        std::fs::read_to_string(&canary).unwrap(),
        "ssh-ed25519 AAAA operator\n",
        "written through the link"
    );
    let log = h
        .base()
        .join(h.live_release().unwrap())
        .join("deployment.log");
    let meta = std::fs::symlink_metadata(&log).unwrap();
    assert!(
        meta.file_type().is_file(),
        "deployment.log is flipdeck's own file"
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains("built"));
}

fn a_shared_path_through_a_repository_symlink_is_refused(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    // Another app's config, outside the root.
    let outside = h.dir.path().join("other-app/config");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("app.php"),
        "<?php return ['canary' => true];\n",
    )
    .unwrap();
    commit_symlink(&h, "config", &outside);
    h.write_config(
        "deployment_script = \"true\"\nshared = [\"storage/\", \".env\", \"config/app.php\"]",
    );
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("shared path config/app.php goes through config, a symlink in the repository"),
        "{all}"
    );
    let canary = outside.join("app.php");
    let meta = std::fs::symlink_metadata(&canary).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the other app's file was replaced"
    );
    assert_eq!(
        std::fs::read_to_string(&canary).unwrap(),
        "<?php return ['canary' => true];\n"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "nothing added there"
    );
    assert_eq!(h.live_release(), Some(live.clone()));
    assert_eq!(h.releases(), vec![live], "no half release");
    assert!(!h.lock_dir().exists());
}

fn a_release_replaced_by_a_symlink_is_drift_and_never_rolled_back_to(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let old = h.live_release().unwrap();
    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    // Someone swaps the older release for a link to a tree outside the root.
    let outside = h.dir.path().join("elsewhere");
    std::fs::create_dir_all(outside.join("public")).unwrap();
    let rel = h.base().join(&old);
    std::fs::rename(&rel, h.dir.path().join("moved-away")).unwrap();
    std::os::unix::fs::symlink(&outside, &rel).unwrap();
    let out = h.ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let drift = v[0]["drift"].as_str().unwrap_or_default();
    assert!(
        drift.contains("not a release") && drift.contains(&old),
        "{out}"
    );
    let out = h.run(&["rollback", DOMAIN, "--to", &old]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        h.live_release(),
        Some(live.clone()),
        "still the real release"
    );
    // A live link pointing out of the root, at a name that looks like a release, is drift too.
    let tmp = h.root.join("tmp-link");
    std::os::unix::fs::symlink(outside.join("..").join(&live), &tmp).unwrap();
    std::fs::rename(&tmp, h.live()).unwrap();
    let out = h.ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v[0]["drift"]
            .as_str()
            .unwrap_or_default()
            .contains("history said"),
        "{out}"
    );
    assert!(v[0]["active_deployment_id"].is_null(), "{out}");
}

both!(
    a_release_replaced_by_a_symlink_is_drift_and_never_rolled_back_to,
    a_deployment_log_symlink_is_replaced_not_written_through,
    a_shared_path_through_a_repository_symlink_is_refused,
);
