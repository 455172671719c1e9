//! What every fault test shares: a tmpfs to fill or freeze, and the checks after a fault.

use super::{DOMAIN, Harness};
use std::process::Command;

/// A small tmpfs mounted over the deployment root (disk-full and read-only faults), unmounted on drop.
pub struct Mount(std::path::PathBuf);

impl Mount {
    pub fn tmpfs(at: &std::path::Path, opts: &str) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            super::cannot_run(
                "CI runs as root and must be able to mount a tmpfs",
                "mounting a tmpfs needs root",
            );
            return None;
        }
        Some(Mount(at.to_path_buf()))
    }

    /// A small ext4 filesystem (an image file on a loop device) mounted at `at`, for what tmpfs
    /// lacks (`chattr +i`); `None` where loop devices cannot be used.
    pub fn ext4(at: &std::path::Path) -> Option<Mount> {
        let image = at.with_extension("img");
        let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        let made = ok(Command::new("truncate").args(["-s", "32M"]).arg(&image))
            && ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image))
            && ok(Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(at));
        made.then(|| Mount(at.to_path_buf()))
    }

    pub fn remount(&self, opts: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Mount {
    /// Takes every byte and every inode left (a tmpfs mounted with a small `nr_inodes`).
    pub fn fill(&self) {
        let dir = self.0.join(".filler");
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "head -c 1000000000 /dev/zero > '{}/bytes' 2>/dev/null",
                dir.display()
            ))
            .status();
        let mut n = 0;
        while std::fs::File::create(dir.join(n.to_string())).is_ok() {
            n += 1;
            assert!(n < 100_000, "mount the tmpfs with a small nr_inodes");
        }
    }

    /// Gives back what `fill` took.
    pub fn unfill(&self) {
        std::fs::remove_dir_all(self.0.join(".filler")).unwrap();
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The checks after every fault.
pub fn settle_and_check(h: &Harness, live_before: Option<&str>) {
    h.ok(&["status"]);
    let list = h.list();
    assert!(
        list.iter()
            .all(|d| d["status"] == "success" || d["status"] == "failed"),
        "nothing left mid-flight: {list:#?}"
    );
    let live = h.live_release();
    if let Some(before) = live_before {
        assert_eq!(
            live.as_deref(),
            Some(before),
            "the live site is the one from before the fault"
        );
    }
    let active: Vec<_> = list.iter().filter(|d| d["is_active"] == true).collect();
    match &live {
        Some(l) => {
            assert_eq!(active.len(), 1);
            assert_eq!(active[0]["status"], "success");
            assert!(
                active[0]["deployment_path"]
                    .as_str()
                    .unwrap()
                    .ends_with(l.as_str())
            );
        }
        None => assert!(active.is_empty()),
    }
    assert!(!h.lock_dir().exists(), "the lock is released");
    let mut kept: Vec<String> = list
        .iter()
        .filter(|d| d["deployment_path"].is_string())
        .map(super::release_of)
        .collect();
    kept.sort();
    assert_eq!(
        h.releases(),
        kept,
        "no half release: every directory is a recorded, successful release"
    );
    let strays: Vec<_> = std::fs::read_dir(&h.root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{DOMAIN}.flipdeck-")))
        .collect();
    assert!(strays.is_empty(), "no temporary link is left: {strays:?}");
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
}

pub fn deployed() -> (Harness, String) {
    let h = Harness::local();
    h.write_config("deployment_script = \"true\"");
    h.ok(&["deploy", DOMAIN]);
    let live = h.live_release().unwrap();
    (h, live)
}
