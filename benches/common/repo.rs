//! The repository the `diff`, `dry_run` and `dialog` benches compare: 2,000 files under
//! `app/m0` … `app/m19` and a public index, one first commit; `change(i)` is the i-th commit of
//! one file. Included with `#[path]` beside `tests/it/support/git.rs` as `git`.

use super::git::git;
use std::path::Path;

/// Creates the repository with its first commit.
pub fn create(repo: &Path) {
    for d in 0..20 {
        std::fs::create_dir_all(repo.join(format!("app/m{d}"))).unwrap();
        for f in 0..100 {
            std::fs::write(
                repo.join(format!("app/m{d}/f{f}.php")),
                format!("<?php // {d} {f}\n"),
            )
            .unwrap();
        }
    }
    std::fs::create_dir_all(repo.join("public")).unwrap();
    std::fs::write(repo.join("public/index.php"), "<?php echo 'ok';\n").unwrap();
    git(repo, &["init", "-q"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "app"]);
}

/// Commit `i`: one file of module `i % 20` changed.
pub fn change(repo: &Path, i: usize) {
    std::fs::write(
        repo.join(format!("app/m{}/f{i}.php", i % 20)),
        format!("<?php // v{i}\n"),
    )
    .unwrap();
    git(repo, &["commit", "-qam", &format!("change {i}")]);
}
