//! Where the code comes from (`source = "server" | "push" | "artifact"`, `deploy --ref`), over a
//! real sshd: a push to a login user who cannot read the operator's repository at all, an
//! artifact to a server whose login PATH has no git; both end as a server deploy does.

use crate::support::sshd::{SshdOptions, TestSshd};
use crate::support::{DOMAIN, Harness, TransportKind, cannot_run, git};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The unix user a push logs in as: another user than the operator (who is root in CI).
const PUSH_USER: &str = "flipdeck-push";

/// `PUSH_USER`, made if missing; `None` (after saying why) where users cannot be made.
fn push_user(home: &Path) -> Option<()> {
    let exists = Command::new("id")
        .arg(PUSH_USER)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let made = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/bin/sh"])
            .arg("--home-dir")
            .arg(home)
            .arg(PUSH_USER)
            .output();
        if !made.is_ok_and(|o| o.status.success()) {
            cannot_run(
                "the tests run as root in CI, which can make a user (useradd)",
                "push to another unix user: needs root and useradd",
            );
            return None;
        }
    }
    // useradd leaves the password locked (`!`), and sshd lets no one into a locked account; `*`
    // still allows no password. The home is this test's root.
    let ok = Command::new("usermod")
        .args(["-p", "*", "-d"])
        .arg(home)
        .arg(PUSH_USER)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "usermod -p '*' {PUSH_USER}");
    Some(())
}

fn chown(path: &Path, user: &str) {
    let ok = Command::new("chown")
        .arg("-R")
        .arg(user)
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown {}", path.display());
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The numbers of objects each push of `out` sent ("nothing to send" is 0).
fn pushed_objects(out: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| {
            let rest = l.split("push: ").nth(1)?;
            if rest.contains("nothing to send") {
                return Some(0);
            }
            rest.strip_prefix("sending the server's cache ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// Everything a run printed, stdout then stderr.
fn all(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Deploys while a reader keeps reading the live site's index: it never fails to read one (the
/// switch is one rename of the live link), and afterwards the new content is served.
fn deploy_reading_live(h: &Harness, args: &[&str], want: &str) -> String {
    let index = h.live().join("public/index.php");
    let (stop, reads, misses) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let reader = {
        let (stop, reads, misses, index) =
            (stop.clone(), reads.clone(), misses.clone(), index.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match std::fs::read_to_string(&index) {
                    Ok(_) => reads.fetch_add(1, Ordering::Relaxed),
                    Err(_) => misses.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let out = h.run(args);
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let text = all(&out);
    assert!(out.status.success(), "{args:?}:\n{text}");
    assert!(reads.load(Ordering::Relaxed) > 0, "the reader ran");
    assert_eq!(
        misses.load(Ordering::Relaxed),
        0,
        "the live site was always readable"
    );
    assert_eq!(std::fs::read_to_string(&index).unwrap(), want);
    text
}

/// The layout every source leaves: a relative live link to a complete release, shared links,
/// the log in the release, the history's active record at `commit` from `source`.
fn assert_deployed(h: &Harness, commit: &str, source: &str) -> Value {
    let live = h.live_release().expect("a live release");
    let rel = h.base().join(&live);
    let storage = std::fs::symlink_metadata(rel.join("storage")).unwrap();
    assert!(storage.file_type().is_symlink(), "storage is a shared link");
    assert!(
        rel.join("deployment.log").is_file(),
        "the log is in the release"
    );
    let active = h.active().expect("an active deployment");
    assert_eq!(active["status"], "success");
    assert_eq!(active["commit_sha"], commit);
    assert_eq!(active["source"], source);
    assert_eq!(crate::support::release_of(&active), live);
    assert!(
        !h.lock_dir().exists(),
        "the lock is released after the deploy"
    );
    active
}

#[test]
fn push_reaches_a_login_user_who_cannot_read_the_repository() {
    let Some(mut sshd) = TestSshd::start() else {
        return;
    };
    // sshd reads authorized_keys as the user logging in.
    chmod(sshd.dir(), 0o755);
    chmod(&sshd.dir().join("authorized_keys"), 0o644);
    sshd.user = PUSH_USER.to_string();
    let h = Harness::new(TransportKind::Ssh(sshd));
    if push_user(&h.root).is_none() {
        return;
    }
    // The login user may pass through the sandbox to its root, and nothing more: the repository
    // is root's alone.
    chmod(h.dir.path(), 0o711);
    chown(&h.root, PUSH_USER);
    chmod(&h.repo, 0o700);
    let read = Command::new("runuser")
        .args(["-u", PUSH_USER, "--", "git", "-C"])
        .arg(&h.repo)
        .args(["log", "-1"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&read.stderr);
    assert!(
        !read.status.success() && said.contains("Permission denied"),
        "the login user cannot read the repository: {said}"
    );
    h.write_config(
        "source = \"push\"\ndeployment_script = \"test \\\"$(id -un)\\\" = flipdeck-push\"",
    );

    // The server could not even try to fetch: a server deploy of the same path fails there.
    let head = git(&h.repo, &["rev-parse", "HEAD"]);
    let first = h.ok(&["deploy", DOMAIN]);
    let first_n = pushed_objects(&first);
    assert_eq!(first_n.len(), 1, "{first}");
    assert_deployed(&h, &head, "push");
    // The release is a git checkout of the pushed commit, on the branch.
    let live = h.live();
    // (Its files are the login user's: this root git is told to read them anyway.)
    let safe = ["-c", "safe.directory=*"];
    assert_eq!(
        git(&live, &[&safe[..], &["rev-parse", "HEAD"]].concat()),
        head
    );
    assert_eq!(
        git(
            &live,
            &[&safe[..], &["rev-parse", "--abbrev-ref", "HEAD"]].concat()
        ),
        "main"
    );

    // A second push sends only the new commit, its changed trees and its one new blob.
    let second_sha = h.commit("public/index.php", "<?php echo 'v2';\n");
    let out = deploy_reading_live(&h, &["deploy", DOMAIN], "<?php echo 'v2';\n");
    let n = pushed_objects(&out);
    assert_eq!(
        n,
        vec![4],
        "commit, root tree, public/ tree and the blob: {out}"
    );
    assert!(first_n[0] > n[0], "{first_n:?} then {n:?}");
    assert_deployed(&h, &second_sha, "push");

    // A server deploy of the same repository cannot work here: the server cannot read it.
    h.write_config("deployment_script = \"true\"");
    let out = h.run(&["deploy", DOMAIN]);
    assert!(!out.status.success(), "{}", all(&out));
    assert_eq!(h.active().unwrap()["commit_sha"], second_sha.as_str());
}

/// A directory of symlinks to every program on the PATH but git's.
fn path_without_git(dir: &Path) -> String {
    let bin = dir.join("nogit-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let s = name.to_string_lossy();
            if s.starts_with("git") || bin.join(&name).exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), bin.join(&name));
        }
    }
    bin.display().to_string()
}

fn sshd_without_git() -> Option<TestSshd> {
    let dir = tempfile::tempdir().unwrap().keep();
    let path = path_without_git(&dir);
    // A Match block's settings override the global ones (the tests' PATH with git).
    TestSshd::start_with(
        "127.0.0.1",
        &SshdOptions {
            extra_config: format!("Match all\n  SetEnv PATH={path} SHLVL=1\n"),
            ..Default::default()
        },
    )
}

const NO_GIT_SCRIPT: &str = "deployment_script = '''if command -v git; then echo git is here; exit 1; fi\ntest -f public/built.txt'''";

#[test]
fn artifact_reaches_a_server_without_git() {
    let Some(sshd) = sshd_without_git() else {
        return;
    };
    let h = Harness::new(TransportKind::Ssh(sshd));
    h.write_config(&format!(
        "source = \"artifact\"\nbuild = \"echo building $FLIPDECK_COMMIT; echo built > public/built.txt\"\n{NO_GIT_SCRIPT}"
    ));
    let head = git(&h.repo, &["rev-parse", "HEAD"]);
    let out = h.ok(&["deploy", DOMAIN]);
    assert!(out.contains(&format!("building {head}")), "{out}");
    let first = assert_deployed(&h, &head, "artifact");
    let sha = first["artifact_sha256"]
        .as_str()
        .expect("an artifact sha256");
    assert_eq!(sha.len(), 64);
    assert!(
        !h.live().join(".git").exists(),
        "an artifact is no checkout"
    );
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/built.txt")).unwrap(),
        "built\n"
    );
    // The build ran in a clean checkout: the operator's repository is as it was.
    assert!(!h.repo.join("public/built.txt").exists());
    assert_eq!(git(&h.repo, &["status", "--porcelain"]), "");

    // A second deploy switches with the site readable throughout; the log shows the build.
    let v2 = h.commit("public/index.php", "<?php echo 'v2';\n");
    let out = deploy_reading_live(&h, &["deploy", DOMAIN], "<?php echo 'v2';\n");
    assert!(out.contains(&format!("building {v2}")), "{out}");
    let second = assert_deployed(&h, &v2, "artifact");
    let log = std::fs::read_to_string(h.live().join("deployment.log")).unwrap();
    assert!(log.contains(&format!("building {v2}")), "{log}");
    assert_ne!(second["artifact_sha256"], first["artifact_sha256"]);

    // doctor does not ask this server for git, nor to reach the repository.
    let out = h.run(&["doctor"]);
    let text = all(&out);
    for l in text.lines().filter(|l| {
        let w = l.split_whitespace().next();
        w == Some("git") || w == Some("repository")
    }) {
        assert!(!l.contains("FAIL"), "{l}\n{text}");
    }
}

#[test]
fn an_artifact_built_by_ci_is_sent_as_it_is() {
    let Some(sshd) = sshd_without_git() else {
        return;
    };
    let h = Harness::new(TransportKind::Ssh(sshd));
    h.write_config(&format!("source = \"artifact\"\n{NO_GIT_SCRIPT}"));
    // What a CI job would make: the tree, built, as a .tar.gz.
    let tree = h.dir.path().join("ci-tree");
    std::fs::create_dir_all(tree.join("public")).unwrap();
    std::fs::write(tree.join("public/index.php"), "<?php echo 'ci';\n").unwrap();
    std::fs::write(tree.join("public/built.txt"), "by ci\n").unwrap();
    let tar = h.dir.path().join("app.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tar)
        .arg("-C")
        .arg(&tree)
        .arg(".")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let want = Command::new("sha256sum").arg(&tar).output().unwrap();
    let want = String::from_utf8_lossy(&want.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let tar_s = tar.display().to_string();
    h.ok(&["deploy", DOMAIN, "--artifact", &tar_s, "--commit", commit]);
    let d = assert_deployed(&h, commit, "artifact");
    assert_eq!(d["artifact_sha256"], want.as_str());
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'ci';\n"
    );

    // Not a tar: refused before anything is sent.
    std::fs::write(h.dir.path().join("junk.tar.gz"), "not a tar").unwrap();
    let junk = h.dir.path().join("junk.tar.gz").display().to_string();
    let before = h.releases();
    let out = h.expect(&["deploy", DOMAIN, "--artifact", &junk], 2);
    let _ = out;
    assert_eq!(h.releases(), before);
}

#[test]
fn a_failing_local_build_leaves_the_server_untouched() {
    let Some(h) = Harness::ssh() else {
        return;
    };
    h.ok(&["deploy", DOMAIN]);
    let (live, releases, history) = (h.live_release(), h.releases(), h.list().len());
    h.write_config("source = \"artifact\"\nbuild = \"echo compiling; echo 'syntax error in app.js' >&2; exit 3\"");
    let out = h.run(&["deploy", DOMAIN]);
    let text = all(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "the build failed (exit code 3): syntax error in app.js; nothing was sent to web1"
        ),
        "{text}"
    );
    assert_eq!(
        text.matches("the build failed").count(),
        1,
        "said once: {text}"
    );
    assert_eq!(h.live_release(), live);
    assert_eq!(h.releases(), releases);
    assert_eq!(h.list().len(), history, "no deployment was made");
    assert!(!h.lock_dir().exists());
}

fn sources_with_refs(h: Harness, source: &str) {
    h.write_config(&format!("source = \"{source}\""));
    let v1 = git(&h.repo, &["rev-parse", "HEAD"]);
    git(&h.repo, &["tag", "-a", "v1.0", "-m", "release 1.0"]);
    let v2 = h.commit("public/index.php", "<?php echo 'v2';\n");
    let v3 = h.commit("public/index.php", "<?php echo 'v3';\n");

    h.ok(&["deploy", DOMAIN, "--ref", "v1.0"]);
    let d = h.active().unwrap();
    assert_eq!(d["commit_sha"], v1.as_str());
    assert_eq!(d["requested_ref"], "v1.0");
    assert_eq!(d["source"], source);
    assert_eq!(
        std::fs::read_to_string(h.live().join("public/index.php")).unwrap(),
        "<?php echo 'v1';\n"
    );

    // An abbreviated commit id: the full one is recorded.
    h.ok(&["deploy", DOMAIN, "--ref", &v2[..10]]);
    let d = h.active().unwrap();
    assert_eq!(d["commit_sha"], v2.as_str());
    assert_eq!(d["requested_ref"], &v2[..10]);

    // Without --ref: the branch's newest commit, and no ref recorded.
    h.ok(&["deploy", DOMAIN]);
    let d = h.active().unwrap();
    assert_eq!(d["commit_sha"], v3.as_str());
    assert_eq!(d["requested_ref"], Value::Null);
}

#[test]
fn ref_with_a_tag_and_a_commit_is_recorded_server() {
    if let Some(h) = Harness::ssh() {
        sources_with_refs(h, "server");
    }
}

#[test]
fn ref_with_a_tag_and_a_commit_is_recorded_push() {
    if let Some(h) = Harness::ssh() {
        sources_with_refs(h, "push");
    }
}

#[test]
fn a_bad_ref_is_refused_with_nothing_changed() {
    let Some(h) = Harness::ssh() else {
        return;
    };
    h.ok(&["deploy", DOMAIN]);
    let (live, releases, history) = (h.live_release(), h.releases(), h.list().len());
    for bad in ["../etc", "-x", "v1;rm -rf /", "a b", "x^{tree}", "@{-1}"] {
        let out = h.run(&["deploy", DOMAIN, &format!("--ref={bad}")]);
        let text = all(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {text}");
        assert!(
            text.contains("is not a valid git ref (a tag, a branch or a commit id)")
                && text.contains("nothing was changed"),
            "{bad}: {text}"
        );
    }
    // A well-formed ref that names nothing: a push finds out on this machine.
    h.write_config("source = \"push\"");
    let out = h.run(&["deploy", DOMAIN, "--ref", "v9.9"]);
    let text = all(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("v9.9 names no commit in") && text.contains("nothing was sent to the server"),
        "{text}"
    );
    let out = h.run(&["deploy", DOMAIN, "--branch", "nosuch"]);
    let text = all(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("branch nosuch names no commit in"), "{text}");
    assert_eq!(h.live_release(), live);
    assert_eq!(h.releases(), releases);
    assert_eq!(h.list().len(), history);
}

/// The history of `site` (`SERVER/DOMAIN`).
fn list_of(h: &Harness, site: &str) -> Vec<Value> {
    let out = crate::support::succeeded(h.run(&["list", site, "--json"]));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_fleet_gets_one_build_and_every_server_its_own_push() {
    let h = Harness::local();
    let mut servers = Vec::new();
    for (i, addr) in ["127.0.0.6", "127.0.0.7"].iter().enumerate() {
        let Some(sshd) = TestSshd::start_on(addr) else {
            return;
        };
        let root = h.dir.path().join(format!("srv{}", i + 1));
        std::fs::create_dir_all(&root).unwrap();
        servers.push((format!("web{}", i + 1), sshd, root));
    }
    let builds = h.dir.path().join("builds");
    let write = |source: &str| {
        let config = crate::support::servers_config(&h, &servers, 2, |_| {
            format!(
                "\n[[servers.sites]]\ndomain = \"{DOMAIN}\"\nrepository = \"{}\"\ndeployment_script = \"true\"\n{source}\n\n",
                h.repo.display()
            )
        });
        std::fs::write(&h.config, config).unwrap();
    };
    write(&format!(
        "source = \"artifact\"\nbuild = \"echo built >> {}\"",
        builds.display()
    ));
    let head = git(&h.repo, &["rev-parse", "HEAD"]);
    h.ok(&["deploy", DOMAIN]);
    assert_eq!(
        std::fs::read_to_string(&builds).unwrap(),
        "built\n",
        "built once for the fleet"
    );
    let sums: Vec<Value> = ["web1", "web2"]
        .iter()
        .map(|s| {
            let d = list_of(&h, &format!("{s}/{DOMAIN}"))[0].clone();
            assert_eq!(d["status"], "success");
            assert_eq!(d["commit_sha"], head.as_str());
            d["artifact_sha256"].clone()
        })
        .collect();
    assert!(sums[0].is_string());
    assert_eq!(sums[0], sums[1], "the same bytes on every server");

    // Push: each server's cache is sent what it lacks (here, everything: it had no cache).
    write("source = \"push\"");
    let v2 = h.commit("public/index.php", "<?php echo 'v2';\n");
    let out = h.ok(&["deploy", DOMAIN]);
    assert_eq!(pushed_objects(&out).len(), 2, "{out}");
    for (s, _, root) in &servers {
        let d = list_of(&h, &format!("{s}/{DOMAIN}"))[0].clone();
        assert_eq!(d["commit_sha"], v2.as_str());
        assert_eq!(d["source"], "push");
        assert_eq!(
            std::fs::read_to_string(root.join(DOMAIN).join("public/index.php")).unwrap(),
            "<?php echo 'v2';\n"
        );
    }
}
