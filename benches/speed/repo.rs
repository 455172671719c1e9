//! The reference repository: about 1,900 PHP files, about 10 MB of history, 60 commits. Content
//! comes from a seeded generator and commits have fixed authors and dates, so every run (and every
//! machine) builds the same repository, down to the commit ids.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const FILES: usize = 1_900;
pub const COMMITS: usize = 60;
/// Files rewritten by each commit after the first.
const CHURN: usize = 60;
/// Bump when the generator changes, so a stale cached copy is not reused.
const VERSION: u32 = 1;

/// SplitMix64: tiny, seeded, good enough for fake source code.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "user", "order", "invoice", "payment", "account", "session", "token", "cache", "queue",
    "event", "listener", "request", "response", "route", "policy", "model", "record", "item",
    "price", "total", "amount", "status", "config", "service", "provider", "handler", "report",
];

fn ident(rng: &mut Rng) -> String {
    let a = WORDS[rng.below(WORDS.len())];
    let b = WORDS[rng.below(WORDS.len())];
    format!("{a}{}{}", b[..1].to_uppercase(), &b[1..])
}

/// One PHP class: methods of plausible code plus an embedded fixture string (the part that does
/// not compress, which is what makes a real history weigh megabytes).
fn php_file(rng: &mut Rng, namespace: &str, class: &str, revision: usize) -> String {
    let mut s = format!(
        "<?php\n\ndeclare(strict_types=1);\n\nnamespace App\\{namespace};\n\n/** Revision {revision}. */\nfinal class {class}\n{{\n"
    );
    for _ in 0..3 + rng.below(5) {
        let (m, v, w) = (ident(rng), ident(rng), ident(rng));
        s.push_str(&format!(
            "    public function {m}(array ${v}): ?array\n    {{\n        if (empty(${v}['{w}'])) {{\n            return null;\n        }}\n        ${w} = array_map(fn ($x) => $x * {n}, ${v}['{w}']);\n        return ['{m}' => ${w}, 'count' => count(${w})];\n    }}\n\n",
            n = rng.below(1000)
        ));
    }
    s.push_str("    private const FIXTURE = '");
    for _ in 0..(800 + rng.below(1200)) {
        s.push(char::from(
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"[rng.below(64)],
        ));
    }
    s.push_str("';\n}\n");
    s
}

fn path_of(i: usize) -> (String, String, String) {
    let dirs = [
        "Http/Controllers",
        "Models",
        "Services",
        "Jobs",
        "Listeners",
        "Policies",
        "Support",
    ];
    let dir = dirs[i % dirs.len()];
    let class = format!("Class{i:04}");
    (
        format!("app/{dir}/{class}.php"),
        dir.replace('/', "\\"),
        class,
    )
}

/// git with a fixed identity and no user or system config, so commits are the same everywhere.
fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench Author")
        .env("GIT_AUTHOR_EMAIL", "bench@flipdeck.invalid")
        .env("GIT_COMMITTER_NAME", "Bench Author")
        .env("GIT_COMMITTER_EMAIL", "bench@flipdeck.invalid")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    c
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Commits everything with a fixed date: commit `n` is n hours after 2025-01-01.
pub fn commit_all(dir: &Path, n: usize, message: &str) {
    git(dir, &["add", "-A"]);
    // Git's internal format (seconds since the epoch, zone): unambiguous everywhere.
    let date = format!("{} +0000", 1_735_689_600 + n * 3600);
    let status = git_cmd(dir)
        .args(["-c", "commit.gpgsign=false", "commit", "-qm", message])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .status()
        .expect("git commit runs");
    assert!(status.success(), "git commit in {}", dir.display());
}

/// Rewrites `CHURN` files (chosen by `seed`) as the next revision, and commits it as commit `n`.
pub fn add_commit(dir: &Path, n: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    for _ in 0..CHURN {
        let i = rng.below(FILES);
        let (path, ns, class) = path_of(i);
        std::fs::write(dir.join(&path), php_file(&mut rng, &ns, &class, n)).unwrap();
    }
    commit_all(dir, n, &format!("Change {CHURN} classes (revision {n})"));
}

/// Builds the repository at `dir` (which must not exist).
fn build(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    let mut rng = Rng::new(0x5EED_F11D_DEC0);
    for i in 0..FILES {
        let (path, ns, class) = path_of(i);
        let p = dir.join(&path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, php_file(&mut rng, &ns, &class, 0)).unwrap();
    }
    // A Laravel-like skeleton: the shared paths exist in the repository too.
    for d in ["public", "storage/framework", "storage/logs"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("public/index.php"), "<?php echo 'bench';\n").unwrap();
    std::fs::write(dir.join("storage/framework/.gitkeep"), "").unwrap();
    std::fs::write(dir.join("storage/logs/.gitkeep"), "").unwrap();
    std::fs::write(dir.join(".env.example"), "APP_ENV=production\n").unwrap();
    commit_all(dir, 0, "Initial import");
    for n in 1..COMMITS {
        add_commit(dir, n, 1000 + n as u64);
    }
    git(dir, &["gc", "-q", "--prune=now"]);
}

/// The reference repository, built once and cached under `cache_dir`; returns its path and HEAD.
pub fn reference(cache_dir: &Path) -> (PathBuf, String) {
    let dir = cache_dir.join(format!("reference-repo-v{VERSION}"));
    let done = dir.join(".git/flipdeck-bench-complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        build(&dir);
        std::fs::write(&done, "").unwrap();
    }
    let head = git(&dir, &["rev-parse", "HEAD"]);
    (dir, head)
}

/// Size of a directory tree in bytes (for the repository's description).
pub fn du(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            total += if m.is_dir() { du(&e.path()) } else { m.len() };
        }
    }
    total
}
