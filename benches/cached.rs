//! What a per-release `vendor` costs: a warm deploy whose `vendor` holds 20,000 files, as a cached
//! path (each release starts from a copy of the live release's) against the same deploy with
//! `vendor` shared (linked from `shared/`, the spec's way, which lets a failed build change the
//! live site). The same repository, the local transport, the real binary, one run.
//! Run: `cargo bench --bench cached` (FLIPDECK_BENCH_ITERATIONS=N, default 5).

#[path = "../tests/it/support/git.rs"]
mod git;
#[path = "common/util.rs"]
mod util;
use git::git;
use util::{iterations, median};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DOMAIN: &str = "example.com";
const FILES: usize = 20_000;

/// Warm deploys of a site whose install step makes `vendor` (20,000 files in 200 packages) once,
/// then finds it there.
fn deploys(dir: &Path, repo: &Path, name: &str, dependencies: &str, n: usize) -> Duration {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[[servers]]\nname = \"here\"\ntransport = \"local\"\nroot = \"{}\"\n\n\
             [[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\nkeep = 3\n\
             deployment_script = \"sh install.sh\"\n{dependencies}\n",
            root.display(),
            repo.display()
        ),
    )
    .unwrap();
    let run = || {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
            .args(["deploy", DOMAIN])
            .env("FLIPDECK_CONFIG", &config)
            .env("FLIPDECK_DB", dir.join(format!("{name}.db")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        t.elapsed()
    };
    run(); // cold: the install makes vendor
    median((0..n).map(|_| run()).collect())
}

fn main() {
    let n = iterations(5);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("public")).unwrap();
    std::fs::write(repo.join("public/index.php"), "<?php echo 'ok';\n").unwrap();
    // A composer-like install: nothing to do when vendor is complete.
    std::fs::write(
        repo.join("install.sh"),
        format!(
            "[ -f vendor/p199/f99.php ] && exit 0\n\
             i=0; while [ $i -lt 200 ]; do mkdir -p vendor/p$i; j=0; \
             while [ $j -lt {} ]; do echo '<?php' > vendor/p$i/f$j.php; j=$((j+1)); done; \
             i=$((i+1)); done\n",
            FILES / 200
        ),
    )
    .unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "app"]);
    let cached = deploys(dir.path(), &repo, "cached", "", n);
    let shared = deploys(
        dir.path(),
        &repo,
        "shared",
        "shared = [\"storage/\", \".env\", \"vendor\"]",
        n,
    );
    println!("warm deploy with a {FILES}-file vendor, median of {n} (same run):");
    println!("  vendor per release (cached, copied from the live release): {cached:.3?}");
    println!("  vendor shared (linked):                                    {shared:.3?}");
    println!(
        "  ratio: {:.2}x",
        cached.as_secs_f64() / shared.as_secs_f64()
    );
}
