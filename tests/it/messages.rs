//! Every message tells the truth, read here exactly as the user sees it.

use crate::support::{DOMAIN, Harness};

fn stderr_of(h: &Harness, args: &[&str], code: i32) -> String {
    let out = h.run(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_branch_is_named_with_the_branches_there_are() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    crate::support::git(&h.repo, &["branch", "release-2"]);
    let err = stderr_of(&h, &["deploy", DOMAIN, "--branch", "no-such-branch"], 1);
    assert_eq!(
        err,
        format!(
            "flipdeck: deployment #2 of web1/{DOMAIN} failed: clone failed (exit code 1): branch no-such-branch does not exist in {}; its branches: main, release-2\n",
            h.repo.display()
        )
    );
}

#[test]
fn domains_are_case_insensitive_and_the_list_says_live() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    let out = h.ok(&["deploy", "Example.COM"]);
    assert!(
        out.starts_with(&format!("flipdeck: deploy web1/{DOMAIN} release ")),
        "{out}"
    );
    h.ok(&["deploy", DOMAIN]);
    let list = h.ok(&["list", "EXAMPLE.com"]);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows[0].contains("Active") && rows[0].ends_with("  live"),
        "{list}"
    );
    assert!(rows[1].ends_with("  yes"), "{list}");
}

#[test]
fn unlock_of_an_unlocked_site_answers_once() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let out = h.run(&["unlock", DOMAIN]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("web1/{DOMAIN} was not locked\n")
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn rollback_to_a_missing_id_says_which_there_are() {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    for _ in 0..3 {
        h.ok(&["deploy", DOMAIN]);
    }
    let err = stderr_of(&h, &["rollback", DOMAIN, "--to", "27"], 1);
    assert_eq!(
        err,
        format!("flipdeck: no deployment #27 for web1/{DOMAIN} (it has #1\u{2013}#3)\n")
    );
}
