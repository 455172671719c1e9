//! One domain on several servers (real sshd instances on distinct loopback addresses): commands
//! given the bare domain act on every server.

use crate::support::sshd::TestSshd;
use crate::support::{DOMAIN, Harness, git};
use serde_json::Value;

struct Fleet {
    h: Harness,
    servers: Vec<(String, TestSshd, std::path::PathBuf)>,
}

fn fleet() -> Option<Fleet> {
    let h = Harness::local();
    let servers = crate::support::two_servers(&h)?;
    let config = crate::support::servers_config(&h, &servers, 2, |_| {
        format!(
            "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\nkeep = 14\n\n",
            h.repo.display()
        )
    });
    std::fs::write(&h.config, config).unwrap();
    Some(Fleet { h, servers })
}

fn live(root: &std::path::Path) -> Option<String> {
    std::fs::read_link(root.join(DOMAIN))
        .ok()
        .map(|l| l.file_name().unwrap().to_string_lossy().into_owned())
}

fn releases(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("deployments").join(DOMAIN))
        .map(|r| {
            r.flatten()
                .filter(|e| {
                    e.path().is_dir()
                        && !e.file_name().to_string_lossy().starts_with('.')
                        && e.file_name() != "shared"
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_bare_domain_provisions_and_prunes_every_server() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    let out = h.ok(&["provision", DOMAIN]);
    for (name, _, root) in &f.servers {
        assert!(
            out.contains(&format!("provisioned {name}/{DOMAIN}")),
            "{out}"
        );
        assert!(
            out.contains(&format!("[{name}/{DOMAIN}] ")),
            "lines are tagged with their server: {out}"
        );
        assert!(live(root).is_some(), "{name} has a live release");
    }
    // Deploy each server a few times, then prune the fleet by its bare domain.
    for _ in 0..3 {
        h.commit(
            "public/index.php",
            &format!("<?php echo '{}';\n", git(&h.repo, &["rev-parse", "HEAD"])),
        );
        for (name, _, _) in &f.servers {
            h.ok(&["deploy", &format!("{name}/{DOMAIN}")]);
        }
    }
    h.ok(&["prune", "--keep", "1", "--site", DOMAIN]);
    for (name, _, root) in &f.servers {
        assert_eq!(releases(root), 1, "{name} pruned to one release");
        assert!(live(root).is_some());
    }
    // status reads every server.
    let v: Value = serde_json::from_str(&h.ok(&["status", "--json"])).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["error"].is_null() && r["live"].is_string()),
        "{v}"
    );
}

fn list(h: &Harness, server: &str) -> Vec<Value> {
    let out = h.ok(&["list", &format!("{server}/{DOMAIN}"), "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Each server's live release and how many release directories it has.
fn state(f: &Fleet) -> Vec<(Option<String>, usize)> {
    f.servers
        .iter()
        .map(|(_, _, r)| (live(r), releases(r)))
        .collect()
}

/// A fleet deploy that must fail with `why`, leaving every server as it was.
fn deploy_fails_everywhere(f: &Fleet, why: &str) {
    let before = state(f);
    let out = f.h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(why), "{stdout}");
    assert_eq!(
        state(f),
        before,
        "every server on its release, no new release kept anywhere"
    );
    for (name, _, _) in &f.servers {
        assert_eq!(list(&f.h, name)[0]["status"], "failed", "{name}");
        assert_eq!(
            list(&f.h, name)
                .iter()
                .filter(|d| d["is_active"] == true)
                .count(),
            1
        );
    }
    assert!(no_locks(f));
}

fn no_locks(f: &Fleet) -> bool {
    f.servers.iter().all(|(_, _, root)| {
        !root
            .join("deployments")
            .join(DOMAIN)
            .join(".flipdeck/lock")
            .exists()
    })
}

#[test]
fn a_fleet_deploy_switches_every_server_to_one_release() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    h.ok(&["provision", DOMAIN]);
    h.commit("public/index.php", "<?php echo 'v2';\n");
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains("fleet deployed to 2 servers"), "{out}");
    let lives: Vec<String> = f
        .servers
        .iter()
        .map(|(_, _, root)| live(root).unwrap())
        .collect();
    assert_eq!(lives[0], lives[1], "the same release name everywhere");
    for (name, _, root) in &f.servers {
        assert_eq!(
            std::fs::read_to_string(root.join(DOMAIN).join("public/index.php")).unwrap(),
            "<?php echo 'v2';\n"
        );
        let d = &list(h, name)[0];
        assert_eq!(d["status"], "success");
        assert_eq!(d["is_active"], true);
    }
    assert!(no_locks(&f));
}

#[test]
fn a_build_failing_on_one_server_switches_none() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    let text = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(
        &h.config,
        text.replace(
            "deployment_script = \"true\"",
            "deployment_script = \"test ! -e \\\"$FLIPDECK_SHARED_PATH/fail-here\\\"\"",
        ),
    )
    .unwrap();
    h.ok(&["provision", DOMAIN]);
    std::fs::write(
        f.servers[1]
            .2
            .join("deployments")
            .join(DOMAIN)
            .join("shared/fail-here"),
        "",
    )
    .unwrap();
    deploy_fails_everywhere(&f, "not switched: web2/example.com failed to build");
}

#[test]
fn a_switch_failing_on_one_server_switches_the_others_back() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    h.ok(&["provision", DOMAIN]);
    // web2's reload fails after its switch: it switches itself back, and web1 is switched back too.
    let text = std::fs::read_to_string(&h.config).unwrap();
    let at = text.rfind("[[servers.sites]]").unwrap();
    let (a, b) = text.split_at(at);
    std::fs::write(&h.config, format!("{a}reload_command = \"exit 1\"\n\n{b}")).unwrap();
    h.commit("public/index.php", "<?php echo 'v3';\n");
    deploy_fails_everywhere(&f, "web2/example.com failed to switch");
}

#[test]
fn a_failing_server_is_named_and_the_others_still_provision() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    // web2's root exists as a file: its layout cannot be created.
    let root2 = &f.servers[1].2;
    std::fs::remove_dir_all(root2).unwrap();
    std::fs::write(root2, "in the way").unwrap();
    let out = h.run(&["provision", DOMAIN]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("web2/example.com") && !err.contains("web1/example.com:"),
        "{err}"
    );
    assert!(live(&f.servers[0].2).is_some(), "web1 was provisioned");
}

#[test]
fn a_fleet_rollback_lands_every_server_on_the_same_release() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    h.ok(&["deploy", DOMAIN]);
    let first = live(&f.servers[0].2).unwrap();
    h.commit("public/index.php", "<?php echo 'v2';\n");
    h.ok(&["deploy", DOMAIN]);
    assert_ne!(live(&f.servers[0].2).unwrap(), first);
    // Default: the newest release every server can go back to.
    let out = h.ok(&["rollback", DOMAIN]);
    assert!(out.contains(&first), "{out}");
    for (_, _, root) in &f.servers {
        assert_eq!(live(root).as_deref(), Some(first.as_str()));
    }
    // By name, forward again.
    let second = crate::support::release_of(&list(h, "web1")[0]);
    h.ok(&["rollback", DOMAIN, "--to", &second]);
    for (_, _, root) in &f.servers {
        assert_eq!(live(root).as_deref(), Some(second.as_str()));
    }
    // A name one server lacks: refused there, and the other is put back.
    std::fs::remove_dir_all(f.servers[1].2.join("deployments").join(DOMAIN).join(&first)).unwrap();
    let out = h.run(&["rollback", DOMAIN, "--to", &first]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    for (_, _, root) in &f.servers {
        assert_eq!(
            live(root).as_deref(),
            Some(second.as_str()),
            "nobody stays on a split release"
        );
    }
    assert!(no_locks(&f));
}

#[test]
fn list_groups_a_fleets_records_by_its_fleet_id() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    h.ok(&["deploy", DOMAIN]);
    let fleet_ids: Vec<String> = f
        .servers
        .iter()
        .map(|(name, _, _)| {
            let table = h.ok(&["list", &format!("{name}/{DOMAIN}")]);
            assert!(table.lines().next().unwrap().contains("FLEET"), "{table}");
            let row = table.lines().nth(1).unwrap();
            let release = crate::support::release_of(&list(h, name)[0]);
            row.split_whitespace()
                .find(|w| w.starts_with(&format!("{release}-")))
                .unwrap_or_else(|| panic!("no fleet id in {row}"))
                .to_string()
        })
        .collect();
    assert_eq!(
        fleet_ids[0], fleet_ids[1],
        "one fleet id for the fleet's records"
    );
    // A single-server deploy has none.
    h.ok(&["deploy", &format!("web1/{DOMAIN}")]);
    let table = h.ok(&["list", &format!("web1/{DOMAIN}")]);
    assert!(!table.lines().nth(1).unwrap().contains(&fleet_ids[0]));
}

/// One server's clone is held (`support::pause`) while `fault` strikes; afterwards (and after
/// `recover`) every server is on its release from before, with no lock and no new release, and
/// the next fleet deploy succeeds.
fn fleet_fault(fault: impl FnOnce(&Fleet, &mut std::process::Child), recover: bool) {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    h.ok(&["provision", DOMAIN]);
    let before = state(&f);
    let (pause, mut child) = held_fleet_deploy(&f);
    fault(&f, &mut child);
    if recover {
        h.ok(&["status"]);
    }
    pause.release();
    h.wait_quiet();
    assert_eq!(state(&f), before, "every server on its release from before");
    settled(&f);
    h.commit("public/index.php", "<?php echo 'after';\n");
    h.ok(&["deploy", DOMAIN]);
    assert_eq!(live(&f.servers[0].2), live(&f.servers[1].2));
}

/// A fleet deploy held at web2's clone (`support::pause`).
fn held_fleet_deploy(f: &Fleet) -> (crate::support::pause::Pause, std::process::Child) {
    let pause = crate::support::pause::Pause::install(
        &crate::support::pause::dir(f.servers[1].1.dir()),
        "git",
        "* clone --quiet --local *",
    );
    let mut child = f.h.spawn(&["deploy", DOMAIN]);
    pause.wait_reached(&mut child);
    (pause, child)
}

/// On every server: nothing left pending, one active deployment, no lock.
fn settled(f: &Fleet) {
    for (name, _, _) in &f.servers {
        let l = list(&f.h, name);
        assert!(
            l.iter()
                .all(|d| d["status"] == "success" || d["status"] == "failed"),
            "{name}: nothing left pending: {l:#?}"
        );
        assert_eq!(l.iter().filter(|d| d["is_active"] == true).count(), 1);
    }
    assert!(no_locks(f));
}

#[test]
fn a_connection_dropped_on_one_server_switches_none() {
    fleet_fault(
        |f, child| {
            assert!(f.servers[1].1.drop_connections() > 0);
            // `child` is flipdeck: it must fail the whole fleet, having switched nothing.
            let mut out = String::new();
            use std::io::Read;
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(child.wait().unwrap().code(), Some(1), "{out}");
            assert!(out.contains("connection lost"), "{out}");
        },
        false,
    );
}

#[test]
fn flipdeck_killed_during_a_fleet_deploy() {
    fleet_fault(
        |_, child| {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        },
        true,
    );
}

#[test]
fn a_fleet_deploy_after_a_killed_one_recovers_it_first() {
    let Some(f) = fleet() else { return };
    let h = &f.h;
    h.ok(&["provision", DOMAIN]);
    let (pause, mut child) = held_fleet_deploy(&f);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    // No `status` first: the next fleet deploy meets the dead flipdeck's lock and recovers.
    h.commit("public/index.php", "<?php echo 'next';\n");
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains("was interrupted"), "{out}");
    drop(pause);
    h.wait_quiet();
    assert_eq!(live(&f.servers[0].2), live(&f.servers[1].2));
    settled(&f);
    for (name, _, root) in &f.servers {
        assert_eq!(list(h, name)[0]["status"], "success");
        assert_eq!(
            std::fs::read_to_string(root.join(DOMAIN).join("public/index.php")).unwrap(),
            "<?php echo 'next';\n"
        );
    }
}
