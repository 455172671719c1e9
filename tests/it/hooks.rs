//! The site's hooks (`after_switch`, `after_rollback`, `on_failure`): each runs on the server in
//! the deploy's (or rollback's) own exec at its moment, as its own traced `sh -e` script, in the
//! live release, with the FLIPDECK_* variables. Over both transports.

use crate::support::{DOMAIN, Harness, both};
use std::path::PathBuf;

/// Where the hooks of a test write what they saw (outside the releases, so it outlives them).
fn record(h: &Harness) -> PathBuf {
    h.dir.path().join("hooks.log")
}

fn lines(h: &Harness) -> Vec<String> {
    std::fs::read_to_string(record(h))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A hook line that appends `NAME live=… pwd=… rel=… prev=…` to the record: the live link at
/// the hook's moment, its working directory and its variables.
fn recorder(h: &Harness, name: &str) -> String {
    format!(
        "{name} = '''\necho \"$FLIPDECK_HOOK live=$(readlink {live}) pwd=$(pwd -P) rel=$FLIPDECK_RELEASE prev=$FLIPDECK_PREVIOUS_RELEASE path=$FLIPDECK_RELEASE_PATH back=${{FLIPDECK_SWITCHED_BACK:-}}\" >> {rec}\n'''",
        live = h.live().display(),
        rec = record(h).display(),
    )
}

fn after_switch_sees_the_new_release(h: Harness) {
    h.write_config(&format!(
        "deployment_script = \"true\"\n{}",
        recorder(&h, "after_switch")
    ));
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains("==> after_switch"), "{out}");
    let first = h.live_release().unwrap();
    h.ok(&["deploy", DOMAIN]);
    let second = h.live_release().unwrap();
    let base = h.base();
    let l = lines(&h);
    assert_eq!(
        l,
        vec![
            format!(
                "after_switch live=deployments/{DOMAIN}/{first} pwd={} rel={first} prev= path={} back=",
                base.join(&first).display(),
                base.join(&first).display()
            ),
            format!(
                "after_switch live=deployments/{DOMAIN}/{second} pwd={} rel={second} prev={first} path={} back=",
                base.join(&second).display(),
                base.join(&second).display()
            ),
        ]
    );
    // Its commands are traced into the deployment's log, under its own step.
    let id = h.list()[0]["id"].to_string();
    let log = h.ok(&["log", &id]);
    assert!(log.contains("==> after_switch\n+ "), "{log}");
}

/// A failing after_switch is a failed reload's: back to the release live before, reload again,
/// recorded failed with the hook's command; the half release is gone.
fn a_failing_after_switch_switches_back(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    let reloads = h.dir.path().join("reloads");
    h.write_config(&format!(
        "deployment_script = \"true\"\nafter_switch = '''\necho restarting\nreadlink {live_link} > {seen}\nexit 3\n'''\nserver:reload_command = \"echo reload >> {r}\"",
        live_link = h.live().display(),
        seen = h.dir.path().join("seen").display(),
        r = reloads.display(),
    ));
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(
        out.contains("the after_switch hook failed (exit code 3) at `exit 3`; switched back to"),
        "{out}"
    );
    assert!(out.contains("!!! after_switch failed"), "{out}");
    // The hook ran while the new release was live; now the old one is again.
    let seen = std::fs::read_to_string(h.dir.path().join("seen")).unwrap();
    assert!(!seen.trim().ends_with(&live), "{seen}");
    assert_eq!(h.live_release().unwrap(), live);
    assert_eq!(h.releases(), vec![live.clone()]);
    // Reloaded for the new release, and again for the old one.
    assert_eq!(
        std::fs::read_to_string(&reloads).unwrap(),
        "reload\nreload\n"
    );
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    assert_eq!(crate::support::release_of(&h.active().unwrap()), live);
    assert!(!h.lock_dir().exists());
}

both!(
    after_switch_sees_the_new_release,
    a_failing_after_switch_switches_back
);
