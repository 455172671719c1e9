//! `flipdeck diff`: what goes out between the live release and a target, on a repository with
//! known commits (a migration added, composer.lock changed, a key added to .env.example, a
//! hostile subject), on both transports; and that it changes nothing on the server.

use crate::support::{DOMAIN, Harness, both, git};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const MIGRATION: &str = "database/migrations/2026_02_01_000000_add_flags.php";
/// Quotes, a command substitution, an escape sequence and a bell: shown, never run or obeyed.
fn hostile_subject(h: &Harness) -> String {
    format!(
        "evil \"q\" 'x' $(touch {}/pwned) `id` \x1b[31mred\x07 end",
        h.dir.path().display()
    )
}

fn commit_as(h: &Harness, file: &str, content: &str, subject: &str) {
    let p = h.repo.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
    git(&h.repo, &["add", "-A"]);
    git(&h.repo, &["commit", "-qm", subject]);
}

/// Deploys a first release (with a migration, composer.lock and .env.example), sets the shared
/// .env, then commits four changes on top. Returns the first deploy's commit.
fn setup(h: &Harness) -> String {
    commit_as(
        h,
        "database/migrations/2026_01_01_000000_create_users.php",
        "<?php // users\n",
        "create users",
    );
    commit_as(h, "composer.lock", "{\"v\":1}\n", "lock deps");
    commit_as(h, ".env.example", "APP_KEY=\nDB_HOST=\n", "env example");
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    std::fs::write(
        h.base().join("shared/.env"),
        "APP_KEY=secret-value\nDB_HOST=db\n",
    )
    .unwrap();
    let first = git(&h.repo, &["rev-parse", "HEAD"]);
    commit_as(h, MIGRATION, "<?php // flags\n", "add flags");
    commit_as(h, "composer.lock", "{\"v\":2}\n", "bump deps");
    commit_as(
        h,
        ".env.example",
        "APP_KEY=\nDB_HOST=\nexport NEW_KEY=\n",
        "need NEW_KEY",
    );
    commit_as(
        h,
        "public/index.php",
        "<?php echo 'v2';\n",
        &hostile_subject(h),
    );
    first
}

fn diff_json(h: &Harness, extra: &[&str]) -> Value {
    let mut args = vec!["diff", DOMAIN, "--json"];
    args.extend_from_slice(extra);
    let out = h.ok(&args);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one object for one server: {out}");
    serde_json::from_str(lines[0]).expect("diff --json is JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// Every entry under `dir`: its kind, mode, link target or content (the whole tree, the
/// repository cache and the live link included).
fn listing(dir: &Path) -> BTreeMap<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                todo.push(p.clone());
                format!("dir {:o}", m.permissions().mode())
            } else {
                format!(
                    "file {:o} {:?}",
                    m.permissions().mode(),
                    std::fs::read(&p).unwrap()
                )
            };
            out.insert(p.strip_prefix(dir).unwrap().display().to_string(), what);
        }
    }
    out
}

fn lists_exactly_what_goes_out(h: Harness) {
    let first = setup(&h);
    let before = listing(&h.root);
    let d = diff_json(&h, &[]);
    assert_eq!(d["known"], true, "{d}");
    assert_eq!(d["live_commit"].as_str(), Some(first.as_str()));
    assert_eq!(
        d["target_commit"].as_str().unwrap(),
        git(&h.repo, &["rev-parse", "HEAD"])
    );
    assert_eq!(d["target"], "branch main");
    assert_eq!(d["commits_out_count"], 4);
    let subjects: Vec<&str> = d["commits_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    let evil = hostile_subject(&h);
    assert_eq!(
        subjects,
        [evil.as_str(), "need NEW_KEY", "bump deps", "add flags"],
        "newest first, the hostile subject byte for byte"
    );
    for c in d["commits_out"].as_array().unwrap() {
        assert_eq!(c["author"], "flipdeck-test");
        assert_eq!(c["sha"].as_str().unwrap().len(), 7);
    }
    assert_eq!(d["commits_back_count"], 0);
    assert_eq!(d["files_count"], 4);
    let mut files: Vec<(String, String)> = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    files.sort();
    let expected: Vec<(String, String)> = [
        (".env.example", "modified"),
        ("composer.lock", "modified"),
        (MIGRATION, "added"),
        ("public/index.php", "modified"),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .collect();
    assert_eq!(files, expected);
    assert_eq!(strings(&d["migrations_added"]), [MIGRATION]);
    assert!(strings(&d["migrations_removed"]).is_empty());
    assert_eq!(
        d["lock_files"],
        serde_json::json!([{"status": "modified", "path": "composer.lock"}])
    );
    assert_eq!(strings(&d["env_missing"]), ["NEW_KEY"]);
    assert!(d["warnings"].as_array().unwrap().is_empty(), "{d}");
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains("secret-value"), "no value of the .env");

    // The human summary: the subject's escape sequence and bell shown, never sent.
    let human = h.ok(&["diff", DOMAIN]);
    assert!(human.contains("4 commit(s) go out"), "{human}");
    assert!(
        human.contains("\\e[31mred\\a end") || human.contains("\\e[31mred\\x07 end"),
        "{human}"
    );
    assert!(
        !human.contains('\x1b') && !human.contains('\x07'),
        "{human:?}"
    );
    assert!(
        human.contains(&format!("migrations added: {MIGRATION}")),
        "{human}"
    );
    assert!(
        human.contains("lock files changed: composer.lock"),
        "{human}"
    );
    assert!(
        human.contains("keys the shared .env lacks: NEW_KEY"),
        "{human}"
    );
    assert!(!h.dir.path().join("pwned").exists(), "the subject ran");

    // Nothing of the site changed: releases, live link, shared files, the repository cache.
    assert_eq!(listing(&h.root), before, "diff changed the server");
    assert_eq!(h.list().len(), 1, "diff recorded nothing");
}

fn to_an_older_deployment_warns_of_migrations(h: Harness) {
    setup(&h);
    let first_id = h.active().unwrap()["id"].as_i64().unwrap();
    h.ok(&["deploy", DOMAIN]);
    let before = listing(&h.root);
    let id = first_id.to_string();
    let d = diff_json(&h, &["--to", &id]);
    assert_eq!(d["known"], true, "{d}");
    assert!(
        d["target"]
            .as_str()
            .unwrap()
            .starts_with(&format!("deployment #{id} (release "))
    );
    assert_eq!(d["commits_out_count"], 0);
    assert_eq!(d["commits_back_count"], 4);
    assert_eq!(strings(&d["migrations_removed"]), [MIGRATION]);
    assert!(strings(&d["migrations_added"]).is_empty());
    let warnings = strings(&d["warnings"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("schema is ahead of the code") && warnings[0].contains(MIGRATION),
        "{warnings:?}"
    );
    let human = h.ok(&["diff", DOMAIN, "--to", &id]);
    assert!(human.contains("WARN the target lacks 1 migration(s) the live release has (the schema is ahead of the code): database/migrations/2026_02_01_000000_add_flags.php"), "{human}");
    assert!(human.contains("4 commit(s) taken back"), "{human}");
    assert_eq!(listing(&h.root), before, "diff changed the server");
    // The live release against itself: nothing goes out.
    let live_id = h.active().unwrap()["id"].as_i64().unwrap().to_string();
    let same = h.ok(&["diff", DOMAIN, "--to", &live_id]);
    assert!(same.contains("nothing goes out"), "{same}");
}

fn says_when_it_cannot_be_known(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    // A per-site migrations folder.
    commit_as(&h, "db/migrate/001_x.rb", "x\n", "migrate");
    h.write_config("deployment_script = \"true\"\nmigrations = \"db/migrate\"");
    let d = diff_json(&h, &[]);
    assert_eq!(strings(&d["migrations_added"]), ["db/migrate/001_x.rb"]);
    // A ref (the live release's own commit): nothing either way.
    let live = git(&h.repo, &["rev-parse", "HEAD~1"]);
    let d = diff_json(&h, &["--ref", &live]);
    assert_eq!(
        (
            d["commits_out_count"].as_u64(),
            d["commits_back_count"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let out = h.run(&["diff", DOMAIN, "--ref", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ref no-such-branch does not exist"));

    // The repository unreachable: the cache as of its last fetch, said so.
    let gone = h.dir.path().join("gone.git");
    std::fs::rename(&h.repo, &gone).unwrap();
    let d = diff_json(&h, &[]);
    assert_eq!(
        (d["known"].as_bool(), d["stale"].as_bool()),
        (Some(true), Some(true)),
        "{d}"
    );
    assert!(
        strings(&d["warnings"])[0]
            .contains("compared with the server's cache as of its last fetch")
    );
    // ... and without a cache either: cannot be known, exit 1, said once.
    std::fs::remove_dir_all(h.base().join(".flipdeck/repo.git")).unwrap();
    let out = h.run(&["diff", DOMAIN, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["known"], false);
    assert_eq!(d["no_cache"], true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot be known") && err.contains("no repository cache yet"),
        "{err}"
    );
    std::fs::rename(&gone, &h.repo).unwrap();
}

/// A deploy holds the lock and is about to fetch into the cache: a diff neither waits for it nor
/// touches its lock or cache, and the deploy then finishes as if no diff had run.
fn never_waits_for_or_disturbs_a_deploy(h: Harness) {
    setup(&h);
    let pause = h.pause_at("git", "*fetch --prune*");
    let mut deploy = h.spawn(&["deploy", DOMAIN]);
    pause.wait_reached(&mut deploy);
    let owner = std::fs::read_to_string(h.lock_dir().join("owner")).unwrap();
    let cache = listing(&h.base().join(".flipdeck/repo.git"));
    let d = diff_json(&h, &[]);
    assert_eq!(d["commits_out_count"], 4, "{d}");
    assert_eq!(
        std::fs::read_to_string(h.lock_dir().join("owner")).unwrap(),
        owner,
        "the deploy's lock is untouched"
    );
    assert_eq!(listing(&h.base().join(".flipdeck/repo.git")), cache);
    pause.release();
    let out = deploy.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = diff_json(&h, &[]);
    assert_eq!(
        (d["commits_out_count"].as_u64(), d["files_count"].as_u64()),
        (Some(0), Some(0))
    );
    let left: Vec<String> = std::fs::read_dir(h.base().join(".flipdeck"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".diff-"))
        .collect();
    assert!(left.is_empty(), "private repositories left: {left:?}");
}

/// A fleet domain: one exec per server, each server compared with its own live release.
#[test]
fn each_server_of_a_fleet() {
    let h = Harness::local();
    let Some(servers) = crate::support::two_servers(&h) else {
        return;
    };
    let config = crate::support::servers_config(&h, &servers, 2, |_| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n\n",
            h.repo.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    h.ok(&["deploy", DOMAIN]);
    commit_as(&h, "public/index.php", "<?php echo 'v2';\n", "v2");
    h.ok(&["deploy", &format!("web2/{DOMAIN}")]);
    let out = h.ok(&["diff", DOMAIN, "--json"]);
    let each: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let counts: Vec<(String, u64)> = each
        .iter()
        .map(|d| {
            (
                d["site"].as_str().unwrap().to_string(),
                d["commits_out_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [(format!("web1/{DOMAIN}"), 1), (format!("web2/{DOMAIN}"), 0)]
    );
    let human = h.ok(&["diff", DOMAIN]);
    assert!(human.contains(&format!("web1/{DOMAIN}: live ")), "{human}");
    assert!(human.contains("1 commit(s) go out"), "{human}");
    assert!(human.contains("nothing goes out"), "{human}");
}

/// `source = "push"`: the server cannot reach the repository, so the cache's copy (what the last
/// deploy pushed) is compared, said so; `source = "artifact"`: refused, nothing to compare.
fn push_and_artifact_sources(h: Harness) {
    h.write_config("deployment_script = \"true\"\nsource = \"push\"");
    h.ok(&["deploy", DOMAIN]);
    commit_as(&h, MIGRATION, "<?php\n", "add flags");
    let d = diff_json(&h, &[]);
    assert_eq!(
        (d["known"].as_bool(), d["stale"].as_bool()),
        (Some(true), Some(true)),
        "{d}"
    );
    assert_eq!(
        d["commits_out_count"], 0,
        "the cache has not got the new commit yet"
    );
    assert!(
        strings(&d["warnings"])[0].contains("source = \"push\""),
        "{d}"
    );
    h.ok(&["deploy", DOMAIN]);
    let d = diff_json(&h, &["--to", "1"]);
    assert_eq!(strings(&d["migrations_removed"]), [MIGRATION]);
    h.write_config("deployment_script = \"true\"\nsource = \"artifact\"");
    let out = h.run(&["diff", DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("what goes out cannot be known"));
    assert!(out.stdout.is_empty());
}

both!(
    push_and_artifact_sources,
    never_waits_for_or_disturbs_a_deploy,
    lists_exactly_what_goes_out,
    to_an_older_deployment_warns_of_migrations,
    says_when_it_cannot_be_known
);
