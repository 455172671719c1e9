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

/// A directory of every program here except `without`, plus the `extra` scripts.
pub(crate) fn bin_dir(
    h: &Harness,
    name: &str,
    without: &str,
    extra: &[(&str, &str)],
) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = h.dir.path().join(name);
    std::fs::create_dir_all(&bin).unwrap();
    for (n, text) in extra {
        std::fs::write(bin.join(n), text).unwrap();
        std::fs::set_permissions(bin.join(n), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for dir in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let n = e.file_name();
            if n != without && !bin.join(&n).exists() {
                let _ = std::os::unix::fs::symlink(e.path(), bin.join(&n));
            }
        }
    }
    bin
}

#[test]
fn php_version_says_what_it_adds_and_whether_sudo_can_run_it() {
    let h = Harness::local();
    let conf = h.dir.path().join("php-fpm.conf");
    std::fs::write(&conf, "[global]\n").unwrap();
    h.write_config(&format!(
        "server:php_version = \"8.2\"\nserver:php_fpm_config = \"{}\"\ndeployment_script = \"true\"",
        conf.display()
    ));
    // A sudo that asks for a password for `-n -l`, and runs the reload (as a sudoers rule that
    // covers another spelling would).
    let refusing = "#!/bin/sh\n[ \"$1\" = -n ] && [ \"$2\" = -l ] && exit 1\nexit 0\n";
    let bin = bin_dir(&h, "bin-sudo", "sudo", &[("sudo", refusing)]);
    let out = h
        .cmd(&["provision", DOMAIN])
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("flipdeck: "))
        .collect();
    assert_eq!(
        lines[..3],
        [
            "flipdeck: php_version = \"8.2\": after each switch flipdeck runs `sudo service php8.2-fpm reload` (reload_command replaces it, \"\" turns it off)".to_string(),
            // No nginx = true: no advice that relies on flipdeck's nginx config.
            format!(
                "flipdeck: warning: process_control_timeout is not set in {} (so it is 0): a PHP-FPM reload then stops the requests in flight (the web server answers 502). Set e.g. `process_control_timeout = 10s` in its [global] section",
                conf.display()
            ),
            "flipdeck: warning: `sudo -n` cannot run `service php8.2-fpm reload` on web1 (it would ask for a password), so the reload after each switch will fail; allow it for the login user in sudoers (NOPASSWD), or set reload_command".to_string(),
        ],
        "{text}"
    );
    // A server without sudo.
    let bin = bin_dir(&h, "bin-nosudo", "sudo", &[]);
    let out = h
        .cmd(&["provision", DOMAIN])
        .env("PATH", &bin)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("flipdeck: warning: sudo is not installed on web1, so `sudo service php8.2-fpm reload` will fail after each switch; install sudo, or set reload_command\n"),
        "{text}"
    );
}
