//! The repository cache on the server (`.flipdeck/repo.git`): fetched, not cloned again; cloned
//! again when the URL changes; and never needed by a release once it is built.

use crate::support::{DOMAIN, Harness, git};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cache(h: &Harness) -> PathBuf {
    h.base().join(".flipdeck/repo.git")
}

fn live_dir(h: &Harness) -> PathBuf {
    h.base().join(h.live_release().expect("a live release"))
}

/// A shell command in a release, as a user logged into the server would run it.
fn sh(dir: &Path, cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_cache_is_fetched_not_cloned_again() {
    let h = Harness::local();
    h.ok(&["deploy", DOMAIN]);
    let inode = std::fs::metadata(cache(&h)).unwrap().ino();
    // A clone would start from an empty directory: this file would be gone.
    std::fs::write(cache(&h).join("flipdeck-test-marker"), "").unwrap();
    let sha = h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    assert_eq!(std::fs::metadata(cache(&h)).unwrap().ino(), inode);
    assert!(cache(&h).join("flipdeck-test-marker").exists(), "re-cloned");
    let cached = git(&cache(&h), &["rev-parse", "refs/heads/main"]);
    assert_eq!(cached, sha, "the cache fetched the new commit");
    assert_eq!(git(&live_dir(&h), &["rev-parse", "HEAD"]), sha);
}

#[test]
fn a_new_repository_url_clones_the_cache_again() {
    let h = Harness::local();
    h.ok(&["deploy", DOMAIN]);
    std::fs::write(cache(&h).join("flipdeck-test-marker"), "").unwrap();
    // Another repository: a copy of the first with a commit of its own.
    let other = h.dir.path().join("other");
    let out = Command::new("git")
        .args(["clone", "-q"])
        .arg(&h.repo)
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(other.join("public/index.php"), "<?php echo 'other';\n").unwrap();
    git(&other, &["commit", "-qam", "other"]);
    let sha = git(&other, &["rev-parse", "HEAD"]);
    h.write_config(&format!("repository = \"{}\"", other.display()));
    h.ok(&["deploy", DOMAIN]);
    assert!(
        !cache(&h).join("flipdeck-test-marker").exists(),
        "kept the old cache"
    );
    assert_eq!(
        git(&cache(&h), &["config", "--get", "remote.origin.url"]),
        other.display().to_string()
    );
    let live = live_dir(&h);
    assert_eq!(git(&live, &["rev-parse", "HEAD"]), sha);
    assert_eq!(
        std::fs::read_to_string(live.join("public/index.php")).unwrap(),
        "<?php echo 'other';\n"
    );
}

#[test]
fn releases_do_not_need_the_cache() {
    let h = Harness::local();
    h.ok(&["deploy", DOMAIN]);
    let live = live_dir(&h);
    let sha = git(&live, &["rev-parse", "HEAD"]);
    // No borrowed objects: a local clone hard-links them, it does not point at the cache.
    assert!(!live.join(".git/objects/info/alternates").exists());
    std::fs::remove_dir_all(cache(&h)).unwrap();
    assert_eq!(sh(&live, "git log -1 --format=%H"), sha);
    sh(&live, "git status --porcelain");
    sh(&live, "git fsck --no-progress");
    // The default deploy script still works in the release.
    let next = h.commit("public/index.php", "<?php echo 'v2';\n");
    sh(&live, "git fetch && git pull");
    assert_eq!(sh(&live, "git rev-parse HEAD"), next);
    // And the next deploy builds the cache again.
    h.ok(&["deploy", DOMAIN]);
    assert!(cache(&h).join("HEAD").is_file());
}

#[test]
fn a_release_fetches_from_the_real_repository() {
    let h = Harness::local();
    h.ok(&["deploy", DOMAIN]);
    let live = live_dir(&h);
    assert_eq!(
        sh(&live, "git remote get-url origin"),
        h.repo.display().to_string()
    );
    // A commit the cache has never seen: only the real repository can provide it.
    let next = h.commit("public/index.php", "<?php echo 'v2';\n");
    sh(&live, "git fetch");
    assert_eq!(sh(&live, "git rev-parse origin/main"), next);
    assert_ne!(git(&cache(&h), &["rev-parse", "refs/heads/main"]), next);
}
