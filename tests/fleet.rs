//! One domain on several servers (real sshd instances on distinct loopback addresses): commands
//! given the bare domain act on every server.

mod support;

use serde_json::Value;
use support::sshd::TestSshd;
use support::{DOMAIN, Harness, git};

struct Fleet {
    h: Harness,
    servers: Vec<(String, TestSshd, std::path::PathBuf)>,
}

fn fleet() -> Option<Fleet> {
    let h = Harness::local();
    let mut servers = Vec::new();
    for (i, addr) in ["127.0.0.2", "127.0.0.3"].iter().enumerate() {
        let sshd = TestSshd::start_on(addr)?;
        let root = h.dir.path().join(format!("srv{}", i + 1));
        std::fs::create_dir_all(&root).unwrap();
        servers.push((format!("web{}", i + 1), sshd, root));
    }
    let known: String = servers
        .iter()
        .map(|(_, s, _)| format!("{}\n", s.known_hosts_line))
        .collect();
    let known_path = h.dir.path().join("known_hosts");
    std::fs::write(&known_path, known).unwrap();
    let mut config = String::from("parallel = 2\n");
    for (name, s, root) in &servers {
        config.push_str(&format!(
            "[[servers]]\nname = \"{name}\"\nhost = \"{}\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts_file = \"{}\"\nroot = \"{}\"\n\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\nkeep = 14\n\n",
            s.address,
            s.port,
            s.user,
            s.client_key.display(),
            known_path.display(),
            root.display(),
            h.repo.display()
        ));
    }
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
    // A bare-domain deploy stays refused until deploys switch a fleet together.
    let out = h.run(&["deploy", DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("web1/example.com") && err.contains("web2/example.com"),
        "{err}"
    );
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
