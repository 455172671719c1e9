//! `deploy --dry-run`: on a site with several releases (so the prune has something to delete),
//! hooks, a reload and a health check configured, and new commits with a migration, it names
//! exactly the commits, migrations, releases to prune and hooks; it leaves the server's whole
//! tree byte for byte unchanged (directory mtimes included) and the history without a new row;
//! then a real deploy prunes exactly the releases it named. Refusals (a held lock, require_env,
//! an unknown ref) exit 1 and still print everything; a fleet gets one object per server.

use crate::support::{DOMAIN, Harness, both, git};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const MIGRATION: &str = "database/migrations/2026_03_01_000000_add_orders.php";
const HOOKS: &str = "after_switch = \"echo switched-to-$FLIPDECK_RELEASE\"\n\
after_rollback = \"echo back\"\n\
on_failure = \"echo failed-at-$FLIPDECK_FAILED_STEP\"\n\
health_check = { command = \"test -f public/index.php\", retries = 2 }\n\
server:reload_command = \"true\"";

fn commit_as(h: &Harness, file: &str, content: &str, subject: &str) {
    let p = h.repo.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
    git(&h.repo, &["add", "-A"]);
    git(&h.repo, &["commit", "-qm", subject]);
}

/// Every entry under `dir`: its type, mode, size, mtime (directories and files), and link
/// target or content hash.
fn listing(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    let top = std::fs::symlink_metadata(dir).unwrap();
    out.insert(
        ".".into(),
        format!(
            "dir {:o} {}.{:09}",
            top.mode(),
            top.mtime(),
            top.mtime_nsec()
        ),
    );
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let stamp = format!("{}.{:09}", m.mtime(), m.mtime_nsec());
            let what = if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                todo.push(p.clone());
                format!("dir {:o} {stamp}", m.mode())
            } else {
                let sum: String = Sha256::digest(std::fs::read(&p).unwrap())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("file {:o} {} {stamp} {sum}", m.mode(), m.len())
            };
            out.insert(p.strip_prefix(dir).unwrap().display().to_string(), what);
        }
    }
    out
}

/// How many rows each table of the history has.
fn rows(db: &Path) -> BTreeMap<String, i64> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let n = c
                .query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

fn dry_json(h: &Harness, extra: &[&str], code: i32) -> Vec<Value> {
    let mut args = vec!["deploy", DOMAIN, "--dry-run", "--json"];
    args.extend_from_slice(extra);
    h.expect(&args, code)
        .lines()
        .map(|l| serde_json::from_str(l).expect("--dry-run --json is JSON lines"))
        .collect()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["release"].as_str().unwrap().to_string())
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// Three releases deployed with keep = 3, a directory the history does not know, then two new
/// commits (one adds a migration). Returns the releases oldest first.
fn setup(h: &Harness) -> Vec<String> {
    h.write_config(&format!("deployment_script = \"true\"\nkeep = 3\n{HOOKS}"));
    let mut releases = Vec::new();
    for i in 1..=3 {
        if i > 1 {
            commit_as(
                h,
                "public/index.php",
                &format!("<?php echo 'v{i}';\n"),
                &format!("v{i}"),
            );
        }
        h.ok(&["deploy", DOMAIN]);
        releases.push(h.live_release().unwrap());
    }
    std::fs::create_dir_all(h.base().join("01012020-000000/public")).unwrap();
    commit_as(h, MIGRATION, "<?php // orders\n", "add orders");
    commit_as(h, "public/index.php", "<?php echo 'v4';\n", "show orders");
    releases
}

fn names_exactly_what_would_happen_and_changes_nothing(h: Harness) {
    let rel = setup(&h);
    let before = listing(&h.root);
    let db_before = rows(&h.db);

    let each = dry_json(&h, &[], 0);
    assert_eq!(each.len(), 1, "one object for one server");
    let d = &each[0];
    assert_eq!(d["site"], format!("web1/{DOMAIN}"));
    assert_eq!(d["would_deploy"], true, "{d}");
    assert!(d["refused"].as_array().unwrap().is_empty());
    assert_eq!(d["source"], "server");
    assert_eq!(d["target"], "branch main");
    assert_eq!(
        d["target_commit"].as_str().unwrap(),
        git(&h.repo, &["rev-parse", "HEAD"])
    );
    assert_eq!(d["live_release"].as_str(), Some(rel[2].as_str()));
    assert!(d["lock"].is_null());
    assert_eq!(d["release_pattern"], "ddMMYYYY-HHMMSS");
    let new = d["release"].as_str().unwrap().to_string();
    assert_eq!(
        d["release_path"].as_str().unwrap(),
        h.base().join(&new).display().to_string()
    );
    // What goes out: the diff engine's object, whole.
    let diff = &d["diff"];
    assert_eq!(diff["known"], true, "{diff}");
    let subjects: Vec<&str> = diff["commits_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["show orders", "add orders"]);
    assert_eq!(strs(&diff["migrations_added"]), [MIGRATION]);
    // The prune after it: keep 3 counting the new one, so the oldest goes; the stranger stays.
    let p = &d["prune"];
    assert_eq!(p["keep"], 3);
    assert_eq!(names(&p["delete"]), [rel[0].clone()]);
    assert_eq!(
        names(&p["kept"]),
        [new.clone(), rel[2].clone(), rel[1].clone()]
    );
    assert_eq!(p["kept"][1]["live_now"], true);
    assert_eq!(names(&p["untouched"]), ["01012020-000000"]);
    assert!(
        p["untouched"][0]["why"]
            .as_str()
            .unwrap()
            .contains("not in this machine's history")
    );
    // The steps and hooks, in order, with the user's own commands.
    let steps: Vec<&str> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "lock",
            "mkdir",
            "fetch",
            "clone",
            "links",
            "cached",
            "script",
            "commit",
            "switch",
            "reload",
            "after_switch",
            "health",
            "(finish)"
        ]
    );
    let step = |name: &str| {
        d["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        step("after_switch")["command"],
        "echo switched-to-$FLIPDECK_RELEASE"
    );
    assert_eq!(step("health")["command"], "test -f public/index.php");
    assert_eq!(step("reload")["command"], "true");
    assert!(
        step("(finish)")["does"]
            .as_str()
            .unwrap()
            .contains("prunes 1 release(s)")
    );
    let failure: Vec<&str> = d["on_failure"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(failure, ["after_rollback", "on_failure"]);
    let links: Vec<(String, String, String)> = d["shared_links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["path"].as_str().unwrap().into(),
                l["link"].as_str().unwrap().into(),
                l["shared"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        links,
        [
            (
                "storage".into(),
                "../shared/storage".into(),
                "present".into()
            ),
            (".env".into(), "../shared/.env".into(), "present".into())
        ]
    );

    // The summary says the same.
    let human = h.ok(&["deploy", DOMAIN, "--dry-run"]);
    for want in [
        "deploy --dry-run of branch main".to_string(),
        "2 commit(s) go out".into(),
        "show orders".into(),
        format!("migrations added: {MIGRATION}"),
        format!("deletes {}", rel[0]),
        "echo switched-to-$FLIPDECK_RELEASE".into(),
        "echo failed-at-$FLIPDECK_FAILED_STEP".into(),
        "lock: free".into(),
        format!("OK  web1/{DOMAIN}: the deploy would go ahead"),
    ] {
        assert!(human.contains(&want), "{want:?} in\n{human}");
    }
    // With --watch, the watch after the switch is a step of its own, before the finish.
    let watched = h.ok(&["deploy", DOMAIN, "--dry-run", "--watch=7"]);
    assert!(
        watched.contains("watch: holds the switch (the lock, the way back) for 7 s, reading /var/log/nginx/example.com.access.log; reverts only when told"),
        "{watched}"
    );
    assert!(!human.contains("holds the switch"), "{human}");

    // Nothing changed: the whole tree (mtimes of directories included) and the history.
    assert_eq!(listing(&h.root), before, "the dry run changed the server");
    assert_eq!(rows(&h.db), db_before, "the dry run recorded something");
    // The real deploy prunes exactly what the dry run named, and leaves the stranger.
    h.ok(&["deploy", DOMAIN]);
    let mut expect = vec![rel[1].clone(), rel[2].clone(), h.live_release().unwrap()];
    expect.push("01012020-000000".into());
    expect.sort();
    assert_eq!(h.releases(), expect);
    assert!(!h.base().join(&rel[0]).exists());
}

/// Refused: a lock held by another operator (exit 1, the holder named, everything still
/// printed); require_env with a key missing; a ref that does not exist; a ref that is no ref
/// name (exit 2, nothing read).
fn says_why_it_would_be_refused(h: Harness) {
    h.write_config(
        "deployment_script = \"true\"\nrequire_env = true\n\
         on_failure = \"curl -H 'Authorization: Bearer sekret-value-123' https://chat.example.com\"",
    );
    h.ok(&["deploy", DOMAIN]);
    std::fs::create_dir_all(h.lock_dir()).unwrap();
    let holder = "ops@elsewhere pid=4242 deployment=9 since=2026-01-01T00:00:00.000Z token=x";
    std::fs::write(h.lock_dir().join("owner"), format!("{holder}\n")).unwrap();
    let before = listing(&h.root);
    let out = h.run(&["deploy", DOMAIN, "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains(&format!("lock: held by {holder}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("steps, in order:"),
        "still printed: {stdout}"
    );
    assert!(
        stderr.contains("is locked by ops@elsewhere") && stderr.contains("would be refused"),
        "{stderr}"
    );
    assert_eq!(listing(&h.root), before, "the lock and the tree untouched");
    let d = &dry_json(&h, &[], 1)[0];
    assert_eq!(d["would_deploy"], false);
    assert_eq!(d["lock"]["holder"], holder);
    assert_eq!(d["lock"]["stale"], false);
    // A hook's secret is redacted, as the history's copy of the script is.
    let hook = d["on_failure"][0]["command"].as_str().unwrap();
    assert!(hook.starts_with("curl -H 'Authorization: "), "{hook}");
    assert!(!d.to_string().contains("sekret-value-123") && !stdout.contains("sekret-value-123"));
    // A lock a killed flipdeck of this machine left: the deploy would recover it first, so it
    // would go ahead; the dry run recovers nothing.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let stale = format!(
        "me@{} pid={pid} deployment=9 since=2026-01-01T00:00:00.000Z token=y",
        host.trim()
    );
    std::fs::write(h.lock_dir().join("owner"), format!("{stale}\n")).unwrap();
    let before = listing(&h.root);
    let d = &dry_json(&h, &[], 0)[0];
    assert_eq!(d["lock"]["stale"], true, "{d}");
    assert_eq!(d["would_deploy"], true, "{d}");
    assert!(
        strs(&d["warnings"])[0].contains("would first recover"),
        "{d}"
    );
    assert_eq!(listing(&h.root), before, "the dry run recovered nothing");
    std::fs::remove_dir_all(h.lock_dir()).unwrap();

    // require_env: the target's .env.example names a key the shared .env lacks.
    commit_as(&h, ".env.example", "APP_KEY=\nSTRIPE_KEY=\n", "need stripe");
    std::fs::write(h.base().join("shared/.env"), "APP_KEY=x\n").unwrap();
    let d = &dry_json(&h, &[], 1)[0];
    assert_eq!(strs(&d["env"]["missing"]), ["STRIPE_KEY"]);
    assert_eq!(d["env"]["checked"], true);
    assert!(
        d["refused"][0]
            .as_str()
            .unwrap()
            .contains("STRIPE_KEY (require_env = true)"),
        "{d}"
    );
    assert!(
        d["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "env")
    );
    std::fs::write(h.base().join("shared/.env"), "APP_KEY=x\nSTRIPE_KEY=y\n").unwrap();
    assert_eq!(dry_json(&h, &[], 0)[0]["would_deploy"], true);

    // An unknown ref: the deploy would fail; a bad one is refused before anything is read.
    let out = h.run(&["deploy", DOMAIN, "--dry-run", "--ref", "no-such-tag"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ref no-such-tag does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = h.run(&["deploy", DOMAIN, "--dry-run", "--ref", "a..b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(h.list().len(), 1, "nothing recorded");
}

/// `source = "push"`: the commit is this machine's; `source = "artifact"` with `--artifact`:
/// nothing to compare, the artifact's hash named, the tar unpacked instead of a fetch.
fn push_and_artifact_sources(h: Harness) {
    h.write_config("deployment_script = \"true\"\nsource = \"push\"");
    h.ok(&["deploy", DOMAIN]);
    let head = h.commit("public/index.php", "<?php echo 'v2';\n");
    let d = &dry_json(&h, &[], 0)[0];
    assert_eq!(d["source"], "push");
    assert_eq!(d["target_commit"].as_str(), Some(head.as_str()), "{d}");
    let steps: Vec<&str> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(&steps[2..4], ["push", "clone"]);

    let tree = h.dir.path().join("built");
    std::fs::create_dir_all(tree.join("public")).unwrap();
    std::fs::write(tree.join("public/index.php"), "<?php echo 'built';\n").unwrap();
    let tar = h.dir.path().join("app.tar");
    let ok = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&tree)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    h.write_config("deployment_script = \"true\"\nsource = \"artifact\"");
    let before = listing(&h.root);
    let d = &dry_json(&h, &["--artifact", tar.to_str().unwrap()], 0)[0];
    assert!(d["diff"].is_null());
    assert!(d["diff_unknown"].as_str().unwrap().contains("artifact"));
    assert!(
        d["target"]
            .as_str()
            .unwrap()
            .starts_with("artifact sha256:"),
        "{d}"
    );
    let steps: Vec<&str> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        &steps[..4],
        ["lock", "mkdir", "unpack", "links"],
        "{steps:?}"
    );
    assert!(!steps.contains(&"fetch"));
    assert_eq!(listing(&h.root), before);
}

both!(
    names_exactly_what_would_happen_and_changes_nothing,
    push_and_artifact_sources,
    says_why_it_would_be_refused
);

/// A fleet domain: one object per server, the same release name on each, the fleet's gate and
/// verdict among the steps; each server's own prune.
#[test]
fn each_server_of_a_fleet() {
    let h = Harness::local();
    let Some(servers) = crate::support::two_servers(&h) else {
        return;
    };
    let config = crate::support::servers_config(&h, &servers, 2, |_| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\nkeep = 1\n\n",
            h.repo.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    h.ok(&["deploy", DOMAIN]);
    commit_as(&h, "public/index.php", "<?php echo 'v2';\n", "v2");
    let trees: Vec<_> = servers.iter().map(|(_, _, r)| listing(r)).collect();
    let each = dry_json(&h, &[], 0);
    assert_eq!(each.len(), 2);
    let sites: Vec<&str> = each.iter().map(|d| d["site"].as_str().unwrap()).collect();
    assert_eq!(sites, [format!("web1/{DOMAIN}"), format!("web2/{DOMAIN}")]);
    assert_eq!(
        each[0]["release"], each[1]["release"],
        "one name everywhere"
    );
    for d in &each {
        assert_eq!(d["diff"]["commits_out_count"], 1, "{d}");
        assert_eq!(d["prune"]["delete"].as_array().unwrap().len(), 1, "{d}");
        let steps: Vec<&str> = d["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert!(
            steps.contains(&"(fleet gate)") && steps.contains(&"(fleet verdict)"),
            "{steps:?}"
        );
    }
    for ((_, _, r), before) in servers.iter().zip(&trees) {
        assert_eq!(&listing(r), before, "the dry run changed {}", r.display());
    }
    let human = h.ok(&["deploy", DOMAIN, "--dry-run"]);
    assert!(human.contains(&format!("OK  web1/{DOMAIN}")), "{human}");
    assert!(human.contains(&format!("OK  web2/{DOMAIN}")), "{human}");
    // One server locked: the whole fleet deploy would be refused (all or none), both printed.
    let lock = servers[1]
        .2
        .join(format!("deployments/{DOMAIN}/.flipdeck/lock"));
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(lock.join("owner"), "ops@elsewhere pid=7 token=z\n").unwrap();
    let out = h.run(&["deploy", DOMAIN, "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains(&format!("OK  web1/{DOMAIN}")), "{stdout}");
    assert!(stdout.contains(&format!("NO  web2/{DOMAIN}")), "{stdout}");
    assert!(
        stderr.contains("(all or none)") && stderr.contains("locked by ops@elsewhere"),
        "{stderr}"
    );
}

/// The engine's cost: one connection and one exec per server, on both transports.
mod cost {
    use crate::support::counting::CountingConnector;
    use crate::support::{DOMAIN, Harness};
    use flipdeck::config::Config;
    use flipdeck::engine::{DeployOptions, Engine};
    use flipdeck::store::Store;
    use flipdeck::transport::{Connector, LocalConnector};
    use std::sync::Arc;

    async fn one_connection_one_exec(h: &Harness, connector: Option<Arc<dyn Connector>>) {
        h.write_config("deployment_script = \"true\"\nkeep = 1");
        h.ok(&["deploy", DOMAIN]);
        h.commit("public/index.php", "<?php echo 'v2';\n");
        let config = Config::load(&h.config).unwrap();
        let site = config.find_site(DOMAIN).unwrap();
        let connector = connector
            .unwrap_or_else(|| flipdeck::transport::connect::connector_for(site.server).unwrap());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let engine = Engine::new(
            Arc::new(Store::open(&h.db).unwrap()),
            tx,
            flipdeck::transport::connect::direct(),
        );
        let c = CountingConnector::new(connector);
        let d = engine
            .dry_run(
                &site,
                &c,
                &DeployOptions::default(),
                false,
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(c.take(), (1, 1), "one connection, one exec");
        assert!(d.would_deploy, "{:?}", d.refused);
        assert_eq!(d.diff.as_ref().unwrap().commits_out_count, 1);
        assert_eq!(d.prune.delete.len(), 1, "keep = 1: the live one goes");
    }

    #[tokio::test]
    async fn local() {
        one_connection_one_exec(&Harness::local(), Some(Arc::new(LocalConnector))).await;
    }

    #[tokio::test]
    async fn ssh() {
        let Some(h) = Harness::ssh() else { return };
        one_connection_one_exec(&h, None).await;
    }
}

/// Through the latency proxy (`support/latency.rs`) at 20 ms RTT: a dry run costs what a
/// rollback does, one connection and 6 data round trips (`round_trips.rs`'s `CLI_ROLLBACK`: no
/// log is sent after it, unlike a deploy's 7), as `flipdeck diff` does.
#[test]
fn round_trips_through_the_proxy() {
    use crate::support::TransportKind;
    use crate::support::latency::LatencyProxy;
    use crate::support::sshd::TestSshd;
    use std::time::Duration;
    let Some(sshd) = TestSshd::start() else {
        return;
    };
    let proxy = LatencyProxy::start(
        &format!("{}:{}", sshd.address, sshd.port),
        Duration::from_millis(20),
    );
    let (port, key) = (sshd.port, sshd.known_hosts_line.clone());
    let h = Harness::new(TransportKind::Ssh(sshd));
    let line = key.replace(&format!(":{port} "), &format!(":{} ", proxy.port));
    std::fs::write(h.dir.path().join("known_hosts"), format!("{line}\n")).unwrap();
    h.write_config("deployment_script = \"true\"\nkeep = 1");
    let text = std::fs::read_to_string(&h.config).unwrap();
    let from = format!("port = {port}\n");
    assert!(text.contains(&from));
    std::fs::write(
        &h.config,
        text.replace(&from, &format!("port = {}\n", proxy.port)),
    )
    .unwrap();
    h.ok(&["deploy", DOMAIN]);
    h.commit("public/index.php", "<?php echo 'v2';\n");
    let cost = |args: &[&str]| {
        assert!(proxy.wait_closed(Duration::from_secs(10)));
        let before = proxy.tally();
        h.ok(args);
        assert!(
            proxy.wait_closed(Duration::from_secs(10)),
            "{args:?} left a connection open"
        );
        let t = proxy.tally() - before;
        (t.connections, t.round_trips)
    };
    // The fewest of three runs: on a loaded machine, a flow-control message sent while output
    // streams can count as one more exchange; it only ever adds.
    let fewest = |args: &[&str]| (0..3).map(|_| cost(args)).min().unwrap();
    let diff = fewest(&["diff", DOMAIN, "--json"]);
    let dry = fewest(&["deploy", DOMAIN, "--dry-run", "--json"]);
    println!("20 ms RTT: diff {diff:?}, deploy --dry-run {dry:?} (connections, round trips)");
    assert_eq!(dry, (1, 6), "deploy --dry-run");
    assert_eq!(dry, diff, "as many as flipdeck diff");
}
