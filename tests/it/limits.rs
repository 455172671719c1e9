//! No limit hit by a long list: every list flipdeck sends to a server travels with the script on
//! stdin, never in the one SSH request, so 5,000 releases to prune (once too many for the
//! packet: "Bad packet length … Connection corrupted") are one exec like five.

use crate::support::{DOMAIN, Harness};
use chrono::{Duration, TimeZone, Utc};

#[test]
fn five_thousand_releases_are_imported_and_pruned_over_ssh() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config("deployment_script = \"true\"\nkeep = 2");
    h.ok(&["deploy", DOMAIN]);
    // 5,000 older releases another operator made, in this history too (`status` reads only the
    // newest lines of the server's release log).
    let base = h.base();
    let store = flipdeck::store::Store::open(&h.db).unwrap();
    let row = store.ensure_site("web1", DOMAIN).unwrap();
    let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    for i in 0..5000 {
        let t = t0 + Duration::seconds(i * 7);
        let name = t.format("%d%m%Y-%H%M%S").to_string();
        let dir = base.join(&name);
        std::fs::create_dir(&dir).unwrap();
        let at = t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let entry = flipdeck::release_log::Entry {
            action: "deploy".into(),
            release: name,
            branch: Some("main".into()),
            who: "ops@elsewhere".into(),
            started: Some(at.clone()),
            deployment_id: None,
            status: "success".into(),
            commit: None,
            completed: Some(at),
        };
        let log = dir.join("deployment.log");
        let paths = (dir.display().to_string(), log.display().to_string());
        store
            .import_deployment(&row, &entry, Some((&paths.0, &paths.1)))
            .unwrap();
    }
    drop(store);
    let all = h.ok(&["list", DOMAIN, "--json", "--all"]);
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 5001, "all imported");
    // A page says how many more there are, below the table (counted, not guessed).
    let page = h.ok(&["list", DOMAIN, "--limit", "3"]);
    assert_eq!(page.lines().count(), 1 + 3 + 1, "{page}");
    assert!(
        page.contains("(the newest 3 of 5001 deployments; `--limit N` or `--all` shows more)"),
        "{page}"
    );
    // The dry run lists them all; the prune removes them in one exec.
    let plan = h.ok(&["prune", "--dry-run"]);
    assert!(
        plan.lines().filter(|l| l.contains("delete")).count() >= 4999,
        "{}",
        &plan[..plan.len().min(2000)]
    );
    h.ok(&["prune"]);
    assert_eq!(h.releases().len(), 2, "the live release and one more kept");
    // Every later operation still works on that connection path.
    h.commit("public/index.php", "<?php echo 'after';\n");
    h.ok(&["deploy", DOMAIN]);
    h.ok(&["rollback", DOMAIN]);
    assert!(!h.lock_dir().exists());
}

/// 20 servers of 25 sites each behind stock sshd (MaxStartups 10:30:100): `status` uses one
/// connection per server, at most `parallel` at once, and reads all 500 sites.
#[test]
fn status_over_500_sites_opens_one_connection_per_server() {
    let h = Harness::local();
    let mut servers = Vec::new();
    for i in 0..20 {
        let Some(sshd) = crate::support::sshd::TestSshd::start_on("127.0.0.1") else {
            return;
        };
        let root = h.dir.path().join(format!("srv{i}"));
        std::fs::create_dir_all(&root).unwrap();
        servers.push((format!("web{i}"), sshd, root));
    }
    let config = crate::support::servers_config(&h, &servers, 10, |_| {
        (0..25)
            .map(|j| {
                format!(
                    "\n[[servers.sites]]\ndomain = \"site{j}.example.test\"\nrepository = \"{}\"\n",
                    h.repo.display()
                )
            })
            .collect::<String>()
            + "\n"
    });
    std::fs::write(&h.config, config).unwrap();
    let out = h.ok(&["status", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 500);
    assert!(rows.iter().all(|r| r["error"].is_null()), "{out}");
    for (name, s, _) in &servers {
        let logins = s.log().matches("Accepted publickey").count();
        assert_eq!(logins, 1, "{name}: one connection for its 25 sites");
    }
}
