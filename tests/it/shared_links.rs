//! Shared paths are linked into every release: top-level and nested ones, files and directories,
//! seeded from the release's own copy the first time.

use crate::support::{DOMAIN, Harness};
use std::path::Path;

#[test]
fn nested_and_top_level_shared_paths_are_linked() {
    let h = Harness::local();
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
