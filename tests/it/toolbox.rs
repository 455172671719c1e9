//! flipdeck in a sysadmin's toolbox: shell completion loaded in real bash and zsh, the man page
//! rendered by man, `--json` event streams checked against the documented fields (a deploy's
//! parsed line by line while it runs), and protected sites refusing a run without a terminal.

use crate::support::{DOMAIN, Harness, cannot_run};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A folder holding `flipdeck` (the binary under test), for a PATH the completion scripts use.
fn bin_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_BIN_EXE_flipdeck"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Two servers with a shared domain and one of their own, staged.
fn two_server_config(h: &Harness) {
    let root = h.root.display();
    let repo = h.repo.display();
    let text = format!(
        "[[servers]]\nname = \"web1\"\ntransport = \"local\"\nroot = \"{root}/a\"\nstage = \"production\"\n\
         [[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{repo}\"\n\
         [[servers.sites]]\ndomain = \"shop.example.org\"\nrepository = \"{repo}\"\n\
         [[servers]]\nname = \"stage1\"\ntransport = \"local\"\nroot = \"{root}/b\"\nstage = \"staging\"\n\
         [[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{repo}\"\n"
    );
    std::fs::write(&h.config, text).unwrap();
}

/// The two-server sandbox, when `shell` is installed (tests/all.sh installs bash and zsh).
fn sandbox_with(shell: &str) -> Option<Harness> {
    if !have(shell) {
        cannot_run(
            "tests/all.sh installs the shells",
            &format!("install {shell}"),
        );
        return None;
    }
    let h = Harness::local();
    two_server_config(&h);
    Some(h)
}

/// The words of a command line, and them as a shell array's items (`'a' 'b'`).
fn shell_words(line: &str) -> (Vec<&str>, String) {
    let words: Vec<&str> = line.split(' ').collect();
    let array = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>();
    (words, array.join(" "))
}

/// What bash completes for `line` (the cursor at its end), through the real completion script.
pub(crate) fn bash_complete(h: &Harness, line: &str) -> Vec<String> {
    let script = h.dir.path().join("flipdeck.bash");
    let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).unwrap();
    let (words, array) = shell_words(line);
    let probe = format!(
        "source '{}'\nCOMP_WORDS=({array})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\nCOMP_TYPE=9\n\
         _clap_complete_flipdeck flipdeck '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.len() - 1,
        words[words.len() - 1],
        words.get(words.len().saturating_sub(2)).unwrap_or(&"")
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(probe)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir().display()))
        .env("FLIPDECK_CONFIG", &h.config)
        .output()
        .unwrap();
    let out = crate::support::succeeded(out);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_commands_sites_servers_and_stages() {
    let Some(h) = sandbox_with("bash") else {
        return;
    };
    assert_eq!(bash_complete(&h, "flipdeck dep"), ["deploy"]);
    let sites = bash_complete(&h, "flipdeck deploy ");
    for s in [
        DOMAIN,
        "shop.example.org",
        "web1/example.com",
        "stage1/example.com",
    ] {
        assert!(sites.contains(&s.to_string()), "{s} in {sites:?}");
    }
    assert_eq!(
        bash_complete(&h, "flipdeck rollback sh"),
        ["shop.example.org"]
    );
    assert_eq!(bash_complete(&h, "flipdeck doctor st"), ["stage1"]);
    assert_eq!(bash_complete(&h, "flipdeck --stage pro"), ["production"]);
}

#[test]
fn zsh_completes_commands_and_sites() {
    let Some(h) = sandbox_with("zsh") else {
        return;
    };
    let script = h.dir.path().join("_flipdeck");
    let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    std::fs::write(&script, &out.stdout).unwrap();
    // zsh's completion system needs a terminal to run a widget, so the completion function is
    // called as the widget would call it, with `compdef` and `_describe` captured.
    let probe = |line: &str| {
        let (words, arr) = shell_words(line);
        let z = format!(
            "compdef() {{ print -r -- \"registered $*\" }}\nsource '{}'\n\
             _describe() {{ local -a items; items=(\"${{(@P)${{@[-1]}}}}\"); print -rl -- \"${{items[@]%%:*}}\" }}\n\
             words=({arr}); CURRENT={}; PREFIX='{}'; SUFFIX=''\n\
             _clap_dynamic_completer_flipdeck\n",
            script.display(),
            words.len(),
            words[words.len() - 1]
        );
        let out = Command::new("zsh")
            .args(["-f", "-c", &z])
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir().display()))
            .env("FLIPDECK_CONFIG", &h.config)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let dep = probe("flipdeck dep");
    assert!(
        dep.contains("registered _clap_dynamic_completer_flipdeck flipdeck"),
        "{dep}"
    );
    assert!(dep.lines().any(|l| l.trim() == "deploy"), "{dep}");
    let sites = probe("flipdeck deploy sh");
    assert!(
        sites.lines().any(|l| l.trim() == "shop.example.org"),
        "{sites}"
    );
}

#[test]
fn man_page_renders() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flipdeck"))
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let page = dir.path().join("flipdeck.1");
    assert!(page.exists());
    if !have("man") {
        return cannot_run("tests/all.sh installs man-db", "install man-db");
    }
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let out = crate::support::succeeded(out);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "flipdeck",
        "deploy",
        "--json",
        "doctor",
        "completions",
        "--stage",
    ] {
        assert!(text.contains(want), "{want} in the man page:\n{text}");
    }
}

/// The documented fields of each event type (README "JSON events"), checked on every line.
fn check_event(v: &Value) -> String {
    let kind = v["event"].as_str().expect("event").to_string();
    let (_, fields) = flipdeck::cli::json_events::FIELDS
        .iter()
        .find(|(k, _)| *k == kind)
        .unwrap_or_else(|| panic!("undocumented event {kind}"));
    let o = v.as_object().unwrap();
    let mut want: Vec<&str> = vec!["event", "time"];
    if kind != "result" {
        want.extend(["job", "site"]);
    }
    want.extend(fields.iter());
    for k in &want {
        assert!(o.contains_key(*k), "{kind} lacks {k}: {v}");
    }
    assert_eq!(
        o.len(),
        want.len(),
        "{kind} has only its documented fields: {v}"
    );
    kind
}

/// Runs a command with `--json`, checks every stdout line, and returns the event types seen (in
/// order) and stderr.
fn json_run(h: &Harness, args: &[&str], code: i32) -> (Vec<String>, Vec<Value>, String) {
    let out = h.cmd(args).stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {stdout}\n{stderr}"
    );
    let values: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let kinds: Vec<String> = values.iter().map(check_event).collect();
    let last = values.last().expect("a result line");
    assert_eq!(last["event"], "result");
    assert_eq!(last["exit_code"], code);
    assert_eq!(kinds.iter().filter(|k| *k == "result").count(), 1);
    (kinds, values, stderr)
}

#[test]
fn json_events_for_every_job_command() {
    let h = Harness::local();
    h.write_config("deployment_script = \"\"\"\necho to-stdout\necho to-stderr >&2\n\"\"\"");
    let mut seen: Vec<String> = Vec::new();
    let (k, _, stderr) = json_run(&h, &["provision", DOMAIN, "--json"], 0);
    assert!(k.contains(&"job_started".into()) && k.contains(&"job_finished".into()));
    assert!(
        stderr.contains("provisioned"),
        "human output on stderr: {stderr}"
    );
    seen.extend(k);

    // A deploy, read line by line while it runs: the first step arrives before it has finished.
    let mut child = h
        .cmd(&["deploy", DOMAIN, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut kinds = Vec::new();
    let mut values = Vec::new();
    let mut running_when_first_step = None;
    for line in reader.lines() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        let kind = check_event(&v);
        if kind == "step_started" && running_when_first_step.is_none() {
            running_when_first_step = Some(child.try_wait().unwrap().is_none());
        }
        kinds.push(kind);
        values.push(v);
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(running_when_first_step, Some(true), "streamed while it ran");
    for want in [
        "job_started",
        "status",
        "step_started",
        "step_finished",
        "log",
        "warning",
        "job_finished",
    ] {
        assert!(
            kinds.contains(&want.to_string()),
            "deploy emits {want}: {kinds:?}"
        );
    }
    let logs: Vec<(&str, &str)> = values
        .iter()
        .filter(|v| v["event"] == "log")
        .map(|v| (v["stream"].as_str().unwrap(), v["line"].as_str().unwrap()))
        .collect();
    assert!(logs.contains(&("stdout", "to-stdout")), "{logs:?}");
    assert!(logs.contains(&("stderr", "to-stderr")), "{logs:?}");
    let statuses: Vec<&str> = values
        .iter()
        .filter(|v| v["event"] == "status")
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"success"), "{statuses:?}");
    assert_eq!(values.last().unwrap()["event"], "result");
    assert_eq!(values.last().unwrap()["ok"], true);
    seen.extend(kinds);

    let (k, _, _) = json_run(&h, &["rollback", DOMAIN, "--json"], 0);
    assert!(k.contains(&"job_finished".into()), "{k:?}");
    seen.extend(k);
    let (k, _, _) = json_run(&h, &["prune", "--site", DOMAIN, "--keep", "1", "--json"], 0);
    assert!(k.contains(&"job_started".into()), "{k:?}");
    seen.extend(k);
    let (k, _, stderr) = json_run(&h, &["unlock", DOMAIN, "--json"], 0);
    assert!(k.contains(&"job_finished".into()), "{k:?}");
    assert!(stderr.contains("was not locked"), "{stderr}");
    seen.extend(k);

    // A release whose .env.example names a key the shared .env lacks.
    h.commit(".env.example", "NEEDED_KEY=\n");
    let (k, values, _) = json_run(&h, &["deploy", DOMAIN, "--json"], 0);
    let e = values.iter().find(|v| v["event"] == "env_missing");
    assert_eq!(
        e.map(|e| e["keys"].clone()),
        Some(serde_json::json!(["NEEDED_KEY"]))
    );
    seen.extend(k);

    // A deploy watched for a second after its switch (no access log here: said once).
    let (k, _, _) = json_run(&h, &["deploy", DOMAIN, "--watch=1", "--json"], 0);
    assert!(k.contains(&"watch_second".into()), "{k:?}");
    seen.extend(k);

    // A failure: its result carries the exit code and the error.
    let (_, values, _) = json_run(&h, &["deploy", "nope.example", "--json"], 2);
    assert!(
        values.last().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("no site")
    );
    seen.push("result".into());
    // A stepped rollout's events need a fleet: rollout.rs checks their lines.
    seen.extend(["rollout_server".into(), "rollout_step".into()]);
    for (kind, _) in flipdeck::cli::json_events::FIELDS {
        assert!(seen.iter().any(|k| k == kind), "{kind} appears in a run");
    }
}

#[test]
fn protected_site_needs_yes_without_a_terminal() {
    let h = Harness::local();
    h.write_config("protected = true");
    h.ok(&["provision", DOMAIN]);
    let before = h.releases();
    let out = h
        .cmd(&["deploy", DOMAIN])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is protected") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(h.releases(), before, "nothing done");
    assert_eq!(h.list().len(), 1, "no deployment recorded");
    let (_, values, _) = json_run(&h, &["rollback", DOMAIN, "--json"], 2);
    assert_eq!(values.len(), 1, "nothing ran: {values:?}");
    // With --yes it goes ahead; the server-level flag protects too.
    h.ok(&["deploy", DOMAIN, "--yes"]);
    assert_eq!(h.releases().len(), before.len() + 1);
    h.write_config("server:protected = true");
    h.expect(&["rollback", DOMAIN], 2);
}

#[test]
fn stage_limits_a_command_to_its_servers() {
    let h = Harness::local();
    two_server_config(&h);
    let out = h.ok(&["--stage", "staging", "provision", DOMAIN]);
    assert!(out.contains("stage1/example.com"), "{out}");
    assert!(!h.root.join("a").join(DOMAIN).exists());
    assert!(h.root.join("b").join(DOMAIN).exists());
    let out = h.run(&["--stage", "qa", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stages: production, staging"), "{err}");
}

/// The first column of the README table under `## {title}`.
fn readme_first_column(title: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find(&format!("\n## {title}\n")).expect("section");
    readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .trim()
                .trim_matches('`')
                .to_string()
        })
        .collect()
}

#[test]
fn readme_documents_every_event_type_and_doctor_check() {
    let events: Vec<String> = flipdeck::cli::json_events::FIELDS
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(readme_first_column("JSON events"), events);
    let checks: Vec<String> = flipdeck::engine::doctor::CHECKS
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(readme_first_column("Doctor"), checks);
    // Each event's documented fields are named in its row.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (kind, fields) in flipdeck::cli::json_events::FIELDS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{kind}` |")))
            .unwrap();
        for f in *fields {
            assert!(row.contains(&format!("`{f}`")), "{kind}'s row names {f}");
        }
    }
}

#[test]
fn the_dashboard_asks_for_the_domain_of_a_protected_site() {
    use crate::support::tmux::{self, Tmux};
    use std::time::Duration;
    if !tmux::available() {
        return;
    }
    let wait = Duration::from_secs(20);
    let h = Harness::local();
    h.write_config("protected = true");
    h.ok(&["provision", DOMAIN]);
    let before = h.releases().len();
    let cmd = format!(
        "FLIPDECK_CONFIG='{}' FLIPDECK_DB='{}' '{}'; sleep 60",
        h.config.display(),
        h.db.display(),
        env!("CARGO_BIN_EXE_flipdeck"),
    );
    let t = Tmux::start(&cmd, 100, 30);
    // A narrow tree cuts the domain before its marks.
    t.wait_for("[protected]", wait);
    t.keys(&["d"]);
    t.wait_for("Protected. Type example.com to confirm", wait);
    // A wrong domain does nothing; the right one deploys.
    t.keys(&["-l", "example.org"]);
    t.keys(&["Enter"]);
    t.wait_for("not example.com: Enter does nothing", wait);
    assert_eq!(h.releases().len(), before);
    for _ in 0.."example.org".len() {
        t.keys(&["BSpace"]);
    }
    t.keys(&["-l", DOMAIN]);
    t.keys(&["Enter"]);
    t.wait_for("deployed web1/example.com", wait);
    assert_eq!(h.releases().len(), before + 1);
    t.keys(&["q"]);
}
