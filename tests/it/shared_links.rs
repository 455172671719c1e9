//! Shared paths are linked into every release: top-level and nested ones, files and directories,
//! seeded from the release's own copy at every deploy. Dependency folders (`cached`) are each
//! release's own, started as a copy of the live release's. Over both transports.

use crate::support::{DOMAIN, Harness, both, git};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn nested_and_top_level_shared_paths_are_linked(h: Harness) {
    h.commit("config/app.php", "<?php return [];\n");
    h.write_config(
        "deployment_script = \"true\"\nshared = [\"storage\", \".env\", \"config/app.php\", \"public/uploads/\"]",
    );
    for _ in 0..2 {
        h.ok(&["deploy", DOMAIN]);
        let rel = h.base().join(h.live_release().unwrap());
        let link = |p: &str| std::fs::read_link(rel.join(p)).unwrap();
        assert_eq!(link("storage"), Path::new("../shared/storage"));
        assert_eq!(link(".env"), Path::new("../shared/.env"));
        assert_eq!(
            link("config/app.php"),
            Path::new("../../shared/config/app.php")
        );
        assert_eq!(
            link("public/uploads"),
            Path::new("../../shared/public/uploads")
        );
        // Seeded from the repository's copies, created empty where it has none.
        let shared = h.base().join("shared");
        assert!(shared.join("storage/framework/.gitkeep").is_file());
        assert_eq!(
            std::fs::read_to_string(shared.join("config/app.php")).unwrap(),
            "<?php return [];\n"
        );
        assert!(shared.join("public/uploads").is_dir());
        assert!(shared.join(".env").is_file());
        assert!(
            rel.join("public/index.php").is_file(),
            "the rest of public/ is the release's"
        );
    }
}

/// Laravel's `.gitignore` of a storage folder.
const IGNORE_ALL: &str = "*\n!.gitignore\n";

/// What a version adds under a shared path reaches shared/ at its deploy; what shared/ has is
/// never overwritten, and a symlink in shared/ is never written through.
fn every_deploy_seeds_what_shared_lacks(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["provision", DOMAIN]);
    let shared = h.base().join("shared");
    std::fs::write(shared.join("storage/framework/.gitkeep"), "the server's\n").unwrap();
    // The operator keeps logs elsewhere.
    let outside = h.dir.path().join("outside-logs");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, shared.join("storage/logs")).unwrap();
    h.commit("storage/framework/testing/.gitignore", IGNORE_ALL);
    h.commit("storage/framework/.gitkeep", "the repository's\n");
    h.commit("storage/logs/.gitignore", IGNORE_ALL);
    h.ok(&["deploy", DOMAIN]);
    assert_eq!(
        std::fs::read_to_string(shared.join("storage/framework/testing/.gitignore")).unwrap(),
        IGNORE_ALL,
        "a new folder of the skeleton reaches shared/"
    );
    assert_eq!(
        std::fs::read_to_string(shared.join("storage/framework/.gitkeep")).unwrap(),
        "the server's\n",
        "never overwritten"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

/// The deploy script's composer: an incremental install into the release's vendor/.
const INSTALL: &str = "test -f vendor/installed && echo incremental; mkdir -p vendor; echo \"$FLIPDECK_RELEASE\" >> vendor/installed";

fn installed(rel: &Path) -> String {
    std::fs::read_to_string(rel.join("vendor/installed")).unwrap()
}

fn dependency_folders_are_per_release_copies_of_the_live_ones(h: Harness) {
    h.write_config(&format!("deployment_script = '{INSTALL}'"));
    h.ok(&["deploy", DOMAIN]);
    let first = h.base().join(h.live_release().unwrap());
    let out = h.ok(&["deploy", DOMAIN]);
    let second = h.base().join(h.live_release().unwrap());
    assert!(
        out.contains("vendor: copied from the live release"),
        "{out}"
    );
    assert!(out.contains("incremental"), "{out}");
    let meta = std::fs::symlink_metadata(second.join("vendor")).unwrap();
    assert!(meta.is_dir(), "a real directory, not a link");
    assert_eq!(
        installed(&first).lines().count(),
        1,
        "the old release's own"
    );
    assert_eq!(installed(&second).lines().count(), 2);
    let (a, b) = (
        std::fs::metadata(first.join("vendor/installed")).unwrap(),
        std::fs::metadata(second.join("vendor/installed")).unwrap(),
    );
    assert!(
        a.ino() != b.ino() && b.nlink() == 1,
        "a copy, not a hard link"
    );
    assert!(!h.base().join("shared/vendor").exists());

    // A build that changes vendor/ and then fails leaves the live release's alone.
    h.write_config(&format!(
        "deployment_script = '''{INSTALL}\necho broken > vendor/installed\nexit 3'''"
    ));
    h.expect(&["deploy", DOMAIN], 1);
    assert_eq!(h.base().join(h.live_release().unwrap()), second);
    assert_eq!(installed(&second).lines().count(), 2);
}

/// A server laid out the old way (vendor linked into shared/) keeps working: the next deploy
/// gives the new release a real copy of shared/vendor, which stays for the older releases.
fn an_old_layout_is_migrated_on_the_next_deploy(h: Harness) {
    h.write_config(&format!(
        "deployment_script = '{INSTALL}'\nshared = [\"storage\", \".env\", \"vendor\", \"node_modules\"]"
    ));
    h.ok(&["deploy", DOMAIN]);
    let old = h.base().join(h.live_release().unwrap());
    assert_eq!(
        std::fs::read_link(old.join("vendor")).unwrap(),
        Path::new("../shared/vendor")
    );
    h.write_config(&format!("deployment_script = '{INSTALL}'"));
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains("incremental"), "{out}");
    let new = h.base().join(h.live_release().unwrap());
    assert!(
        std::fs::symlink_metadata(new.join("vendor"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(installed(&new).lines().count(), 2);
    assert_eq!(
        installed(&h.base().join("shared")).lines().count(),
        1,
        "shared/vendor left alone"
    );
    assert_eq!(
        installed(&old).lines().count(),
        1,
        "the old release still works"
    );
    assert!(
        std::fs::symlink_metadata(new.join("node_modules"))
            .unwrap()
            .is_dir()
    );
}

fn a_cached_path_through_a_repository_symlink_is_refused(h: Harness) {
    h.write_config("deployment_script = \"mkdir -p lib/vendor\"\ncached = [\"lib/vendor\"]");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    let outside = h.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, h.repo.join("lib")).unwrap();
    git(&h.repo, &["add", "-A"]);
    git(&h.repo, &["commit", "-qm", "lib is a symlink"]);
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("cached path lib/vendor goes through lib, a symlink in the repository"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(h.live_release(), Some(live));
}

both!(
    nested_and_top_level_shared_paths_are_linked,
    every_deploy_seeds_what_shared_lacks,
    dependency_folders_are_per_release_copies_of_the_live_ones,
    an_old_layout_is_migrated_on_the_next_deploy,
    a_cached_path_through_a_repository_symlink_is_refused,
);
