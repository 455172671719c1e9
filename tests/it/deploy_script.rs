//! The deploy script as a script: one POSIX sh script with `set -e`, run in a shell of its own.
//! Every shell construct works; nothing it prints or sets can pass for flipdeck's markers or change
//! what flipdeck does next; output without a final newline neither hangs nor loses a marker; a
//! signal ends a deploy within seconds, after the switch too. Over both transports.

use crate::support::{DOMAIN, Harness, both};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// Waits for `child` at most `limit`; a deploy that hangs is killed and fails the test.
fn finish_within(mut child: Child, limit: Duration) -> Output {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!(
        "still running after {limit:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn every_shell_construct_works(h: Harness) {
    h.write_config(
        r#"deployment_script = '''
if [ -f public/index.php ]; then
  echo "has an index"
else
  exit 7
fi
for d in cache sessions views; do
  mkdir -p "storage-test/$d"
done
echo one \
  two
cat > built.txt <<EOF
release $FLIPDECK_RELEASE
EOF
greeting=hello
echo "$greeting again"
'''"#,
    );
    let out = h.ok(&["deploy", DOMAIN]);
    for want in [
        "  | has an index",
        "  | one two",
        "  | hello again",
        "+ mkdir -p storage-test/views",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let rel = h.base().join(h.live_release().unwrap());
    let built = std::fs::read_to_string(rel.join("built.txt")).unwrap();
    assert_eq!(
        built.trim(),
        format!("release {}", h.live_release().unwrap())
    );
    assert!(rel.join("storage-test/sessions").is_dir());
    // The first failing command fails the deploy (set -e) and is named.
    h.write_config("deployment_script = '''\necho before\nfalse\necho after\n'''");
    let out = h.expect(&["deploy", DOMAIN], 1);
    assert!(
        out.contains("  | before") && !out.contains("  | after"),
        "{out}"
    );
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed");
    let log = h.ok(&["log", &d["id"].to_string()]);
    assert!(log.contains("failed (exit code 1) at `false`"), "{log}");
}

/// A build that knows flipdeck's marker format and its job token prints a forged commit and a
/// forged `ready`, sets what flipdeck's own script uses after it, then fails.
fn a_script_cannot_forge_markers_or_change_what_follows(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    h.write_config(
        r#"deployment_script = '''
tail=${FLIPDECK_JOB##*-}
for m in "::flipdeck-$tail::" "${M:-x}"; do
  printf '%s set commit deadbeefdeadbeefdeadbeefdeadbeefdeadbeef\n' "$m"
  printf '%s set built 1\n' "$m"
  printf '%s ready\n' "$m"; printf '%s ready\n' "$m" >&2
done
reload_cmd="touch /tmp/flipdeck-forged-reload"
release_link=/etc
exit 1
'''"#,
    );
    let out = h.expect(&["deploy", DOMAIN], 1);
    let d = &h.list()[0];
    assert_eq!(d["status"], "failed", "{out}");
    assert_ne!(
        d["commit_sha"].as_str(),
        Some("deadbeefdeadbeefdeadbeefdeadbeefdeadbeef")
    );
    assert_eq!(h.live_release(), Some(live.clone()));
    assert_eq!(h.releases(), vec![live]);
    assert!(!std::path::Path::new("/tmp/flipdeck-forged-reload").exists());
    // What the script printed is shown as its output, behind the gutter.
    assert!(out.contains("  | ::flipdeck-"), "{out}");
}

fn output_without_a_final_newline_neither_hangs_nor_loses_a_step(h: Harness) {
    h.write_config(
        "deployment_script = '''\nprintf 'no newline on stdout'\nprintf 'done' >&2\n'''",
    );
    let out = finish_within(h.spawn(&["deploy", DOMAIN]), Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("  | no newline on stdout"), "{stdout}");
    assert!(stdout.contains("  ! done"), "{stdout}");
    // The steps after the script were still recognised.
    assert!(
        stdout.contains("==> commit") && stdout.contains("==> switch"),
        "{stdout}"
    );
    assert_eq!(h.list()[0]["status"], "success");
    assert!(!h.lock_dir().exists());
}

fn a_signal_ends_a_deploy_within_seconds_even_after_the_switch(h: Harness) {
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    // A reload that never ends: the switch has happened when it starts.
    h.write_config("deployment_script = \"true\"\nserver:reload_command = \"sleep 300\"");
    let child = h.spawn(&["deploy", DOMAIN]);
    let until = Instant::now() + Duration::from_secs(30);
    while h.live_release().as_deref() == Some(live.as_str()) {
        assert!(Instant::now() < until, "the switch never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = finish_within(child, Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(h.live_release(), Some(live.clone()), "switched back");
    assert_eq!(h.list()[0]["status"], "failed");
    assert_eq!(h.releases(), vec![live], "no half release");
    assert!(!h.lock_dir().exists(), "lock released");
}

both!(
    every_shell_construct_works,
    a_script_cannot_forge_markers_or_change_what_follows,
    output_without_a_final_newline_neither_hangs_nor_loses_a_step,
    a_signal_ends_a_deploy_within_seconds_even_after_the_switch,
);

/// Other users of the server see no script in the process list: not flipdeck's (its values, the
/// marker key) and not the deploy script (an `export API_TOKEN=…` line, say).
#[test]
fn scripts_are_not_on_the_command_line() {
    let Some(h) = Harness::ssh() else { return };
    h.write_config(
        "deployment_script = '''\nexport API_TOKEN=tok-in-the-script-1234\nsleep 2.125\n'''",
    );
    let child = h.spawn(&["deploy", DOMAIN]);
    let until = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while Instant::now() < until && !seen.contains("sleep 2.125") {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "args"])
            .output()
            .unwrap();
        seen = String::from_utf8_lossy(&ps.stdout).into_owned();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(seen.contains("sleep 2.125"), "the deploy script never ran");
    assert!(!seen.contains("tok-in-the-script-1234"), "{seen}");
    // flipdeck's own script would show its values (this site's root among them) and its
    // functions; other tests' flipdecks may run meanwhile, so only lines naming this root count.
    let root = h.root.display().to_string();
    assert!(
        !seen
            .lines()
            .any(|l| l.contains(&root) && (l.contains("take_lock") || l.contains("token="))),
        "flipdeck's script is on a command line: {seen}"
    );
    let out = finish_within(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0));
}
