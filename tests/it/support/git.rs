//! git with a fixed identity and `main` as the first branch, for the tests and the benches (which
//! include this file by path): the repositories they make are the same everywhere.

use std::path::Path;
use std::process::Command;

/// Runs git in `dir` and returns its trimmed stdout; a failing git fails the caller.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=flipdeck-test",
            "-c",
            "user.email=test@flipdeck.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
