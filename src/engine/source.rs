//! The operator's side of `source = "push"` and `source = "artifact"`: everything that runs on
//! this machine before or during a deploy's one exec. For a push, the commit is resolved in the
//! local repository and a thin pack of what the server's cache lacks is made while the deploy
//! script waits (`protocol::NEED`); for an artifact, a clean checkout of the commit is built and
//! packed as a gzipped tar (or a tar made by CI is read), sent as the exec's first frame.

use crate::error::{Error, Result};
use crate::transport::Stream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A tree to unpack into a new release, the same bytes for every server of a fleet.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// A tar, gzipped or not (`gzip` says), as sent.
    pub bytes: Arc<Vec<u8>>,
    pub gzip: bool,
    /// Hex SHA-256 of `bytes`: what the history records.
    pub sha256: String,
    /// The commit it was built from, when known.
    pub commit: Option<String>,
}

impl Artifact {
    pub fn new(bytes: Vec<u8>, commit: Option<String>) -> Artifact {
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Artifact {
            gzip: bytes.starts_with(&[0x1f, 0x8b]),
            bytes: Arc::new(bytes),
            sha256,
            commit,
        }
    }

    /// `--artifact FILE`: a tar or a gzipped tar that CI built (from `commit`, if given).
    pub fn load(file: &Path, commit: Option<String>) -> Result<Artifact> {
        let bytes = std::fs::read(file)
            .map_err(|e| Error::usage(format!("cannot read artifact {}: {e}", file.display())))?;
        let gzip = bytes.starts_with(&[0x1f, 0x8b]);
        // A tar has "ustar" at 257; a gzipped one is checked by the server's tar.
        if !gzip && bytes.get(257..262) != Some(b"ustar") {
            return Err(Error::usage(format!(
                "{} is neither a tar nor a gzipped tar",
                file.display()
            )));
        }
        Ok(Artifact::new(bytes, commit))
    }
}

/// Runs git in `repo` on this machine; its trimmed stdout, or its last error line.
fn git(repo: &Path, args: &[&str]) -> std::result::Result<String, String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(err
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("git failed")
        .to_string())
}

/// What `rev` (already validated: a ref name or a hex id) names in `repo`, as a full commit id;
/// `what` names it in the error (`branch main`, `v1.2`).
pub fn resolve(repo: &Path, rev: &str, what: &str) -> Result<String> {
    git(repo, &["rev-parse", "--git-dir"]).map_err(|e| {
        Error::usage(format!(
            "repository {} is not a git repository on this machine ({e})",
            repo.display()
        ))
    })?;
    git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .ok()
    .filter(|s| !s.is_empty())
    .ok_or_else(|| {
        Error::usage(format!(
            "{what} names no commit in {}; nothing was sent to the server",
            repo.display()
        ))
    })
}

/// A thin pack of `want` and what it reaches, less what the server's `haves` reach (those this
/// repository knows: a ref of the server that is not here cannot be a delta base).
pub async fn pack(
    repo: PathBuf,
    want: String,
    haves: Vec<String>,
) -> std::result::Result<Vec<u8>, String> {
    let known = known_objects(&repo, &haves).await?;
    let mut revs = format!("{want}\n");
    for h in &known {
        revs.push_str(&format!("^{h}\n"));
    }
    let mut child = tokio::process::Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args([
            "pack-objects",
            "--revs",
            "--thin",
            "--stdout",
            "--quiet",
            "--delta-base-offset",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run git pack-objects: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let feed = async move {
        let _ = stdin.write_all(revs.as_bytes()).await;
    };
    let (out, ()) = tokio::join!(child.wait_with_output(), feed);
    let out = out.map_err(|e| format!("git pack-objects: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "git pack-objects failed: {}",
            err.lines().rfind(|l| !l.is_empty()).unwrap_or("")
        ));
    }
    Ok(out.stdout)
}

/// How many objects a pack holds (its header).
pub fn pack_objects(pack: &[u8]) -> u32 {
    pack.get(8..12)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// Bytes, in the unit a person reads.
pub fn size(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Those of `ids` that are objects of `repo`.
async fn known_objects(repo: &Path, ids: &[String]) -> std::result::Result<Vec<String>, String> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = tokio::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["cat-file", "--batch-check=%(objectname)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run git cat-file: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input: String = ids.iter().map(|i| format!("{i}\n")).collect();
    let feed = async move {
        let _ = stdin.write_all(input.as_bytes()).await;
    };
    let (out, ()) = tokio::join!(child.wait_with_output(), feed);
    let out = out.map_err(|e| format!("git cat-file: {e}"))?;
    // A missing object is printed as `ID missing`.
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.ends_with(" missing") && !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Where a repository given by URL is mirrored on this machine for artifact builds.
pub fn local_mirror(url: &str) -> PathBuf {
    use sha2::Digest;
    let id: String = sha2::Sha256::digest(url.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::paths::home_dir().join(".cache"));
    base.join("flipdeck")
        .join("repos")
        .join(format!("{id}.git"))
}

/// The repository to build from: a local path as it is, a URL mirrored (and fetched) here.
pub fn build_repository(repository: &str) -> Result<PathBuf> {
    if repository.starts_with('/') {
        return Ok(PathBuf::from(repository));
    }
    let mirror = local_mirror(repository);
    let fail = |e: String| {
        Error::failed(format!(
            "could not update the local copy of {repository} in {} ({e}); nothing was sent to the server",
            mirror.display()
        ))
    };
    if mirror.join("HEAD").exists() {
        git(&mirror, &["fetch", "--prune", "--quiet", "origin"]).map_err(fail)?;
    } else {
        let parent = mirror.parent().expect("a parent");
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        git(
            parent,
            &[
                "clone",
                "--mirror",
                "--quiet",
                "--",
                repository,
                &mirror.to_string_lossy(),
            ],
        )
        .map_err(fail)?;
    }
    Ok(mirror)
}

/// Builds the artifact of `commit`: a clean checkout of it in a temporary directory (sharing
/// `repo`'s objects; `repo` itself is not changed), `build` run there with `sh -c`, then the tree
/// (`dir` of it, or all of it but `.git`) as a gzipped tar. Every output line goes to `line`.
pub async fn build(
    repo: &Path,
    commit: &str,
    build: Option<&str>,
    dir: Option<&str>,
    line: &mut (dyn FnMut(Stream, String) + Send),
) -> std::result::Result<Artifact, String> {
    let tmp = tempfile::Builder::new()
        .prefix("flipdeck-build-")
        .tempdir()
        .map_err(|e| format!("cannot make a build directory: {e}"))?;
    let tree = tmp.path().join("tree");
    let tree_s = tree.to_string_lossy().to_string();
    git(
        repo,
        &[
            "clone",
            "--quiet",
            "--shared",
            "--no-checkout",
            "--",
            ".",
            &tree_s,
        ],
    )
    .map_err(|e| format!("could not make a clean checkout: {e}"))?;
    git(&tree, &["checkout", "--quiet", "--detach", commit])
        .map_err(|e| format!("could not check out {commit}: {e}"))?;
    if let Some(cmd) = build {
        run_build(&tree, cmd, commit, line).await?;
    }
    let from = match dir {
        Some(d) => {
            let p = tree.join(d);
            if !p.is_dir() {
                return Err(format!("the build made no folder {d} (artifact_dir)"));
            }
            p
        }
        None => tree.clone(),
    };
    let out = tokio::process::Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("--exclude=./.git")
        .arg("-C")
        .arg(&from)
        .arg(".")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tar failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(Artifact::new(out.stdout, Some(commit.to_string())))
}

/// `sh -c BUILD` in the checkout, with `FLIPDECK_COMMIT` set; its lines as they come.
async fn run_build(
    tree: &Path,
    cmd: &str,
    commit: &str,
    line: &mut (dyn FnMut(Stream, String) + Send),
) -> std::result::Result<(), String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(tree)
        .env("FLIPDECK_COMMIT", commit)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run the build: {e}"))?;
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut out_open, mut err_open) = (true, true);
    let mut last = String::new();
    while out_open || err_open {
        tokio::select! {
            l = out.next_line(), if out_open => match l {
                Ok(Some(l)) => line(Stream::Stdout, l),
                _ => out_open = false,
            },
            l = err.next_line(), if err_open => match l {
                Ok(Some(l)) => {
                    if !l.trim().is_empty() {
                        last = l.clone();
                    }
                    line(Stream::Stderr, l)
                }
                _ => err_open = false,
            },
        }
    }
    let status = child.wait().await.map_err(|e| format!("the build: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let code = status.code().map_or("killed by a signal".to_string(), |c| {
        format!("exit code {c}")
    });
    Err(if last.is_empty() {
        format!("the build failed ({code})")
    } else {
        format!("the build failed ({code}): {last}")
    })
}
