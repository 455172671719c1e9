//! File permissions, checked the way OpenSSH checks its own files. The config decides what runs
//! on every server, a private key logs in to them, and the history holds their output: another
//! local user who could change the first or read the other two would own the fleet. So a config
//! that others can write (or that sits in a folder others can write), and a private key others can
//! read, are refused with the command that fixes them; what flipdeck creates is private.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

fn my_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// Refuses a config that someone other than its reader (or root) owns or may write, directly or by
/// replacing it in its folder. A sticky folder (like /tmp) lets no one replace another's file.
pub fn check_config(path: &Path) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // Reading it will say what is wrong.
    };
    let me = my_uid();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "config {} is owned by uid {}, not by you: someone else decides what it runs; \
             copy it to a file of your own (or chown it)",
            path.display(),
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "config {} is writable by others (mode {mode:04o}): anyone who can change it decides \
             what runs on your servers; run `chmod go-w {}`",
            path.display(),
            path.display()
        ));
    }
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().unwrap_or_default(),
    };
    if let Ok(d) = std::fs::metadata(&dir) {
        let sticky = d.mode() & 0o1000 != 0;
        if d.mode() & 0o002 != 0 && !sticky {
            return Err(format!(
                "config {} is in {}, a folder anyone can write: anyone could replace it; run \
                 `chmod o-w {}` or move the config",
                path.display(),
                dir.display(),
                dir.display()
            ));
        }
        if d.uid() != me && d.uid() != 0 && !sticky {
            return Err(format!(
                "config {} is in {}, a folder owned by uid {}, who could replace it; move the \
                 config to a folder of your own",
                path.display(),
                dir.display(),
                d.uid()
            ));
        }
    }
    Ok(())
}

/// Refuses a private key of yours that others can read, as OpenSSH does ("UNPROTECTED PRIVATE KEY
/// FILE"). A key owned by someone else is theirs to protect.
pub fn check_private_key(path: &Path) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = meta.mode() & 0o777;
    if meta.uid() == my_uid() && mode & 0o077 != 0 {
        return Err(format!(
            "permissions {mode:04o} are too open: others can read this private key; run \
             `chmod 600 {}`",
            path.display()
        ));
    }
    Ok(())
}

/// Creates `dir` and any missing parents with mode 0700. Existing folders are left as they are.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Takes group and other permissions off a file of yours (a history database made by an older
/// flipdeck, or by a wide umask). A missing file is fine.
pub fn make_private(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.uid() == my_uid() && meta.mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o700))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn configs_others_can_change_are_refused_with_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("config.toml");
        std::fs::write(&c, "").unwrap();
        chmod(&c, 0o644);
        chmod(d.path(), 0o755);
        assert_eq!(check_config(&c), Ok(()));
        chmod(&c, 0o666);
        let e = check_config(&c).unwrap_err();
        assert!(
            e.contains("writable by others (mode 0666)") && e.contains("chmod go-w"),
            "{e}"
        );
        chmod(&c, 0o600);
        chmod(d.path(), 0o777);
        let e = check_config(&c).unwrap_err();
        assert!(
            e.contains("a folder anyone can write") && e.contains("chmod o-w"),
            "{e}"
        );
        // Sticky, like /tmp: nobody can replace another's file there.
        chmod(d.path(), 0o1777);
        assert_eq!(check_config(&c), Ok(()));
    }

    #[test]
    fn keys_others_can_read_are_refused_and_private_things_are_private() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("id_ed25519");
        std::fs::write(&k, "").unwrap();
        chmod(&k, 0o600);
        assert_eq!(check_private_key(&k), Ok(()));
        chmod(&k, 0o644);
        let e = check_private_key(&k).unwrap_err();
        assert!(
            e.contains("0644 are too open") && e.contains("chmod 600"),
            "{e}"
        );
        make_private(&k).unwrap();
        assert_eq!(std::fs::metadata(&k).unwrap().mode() & 0o777, 0o600);
        let nested = d.path().join("a/b");
        create_private_dir(&nested).unwrap();
        for p in [d.path().join("a"), nested] {
            assert_eq!(std::fs::metadata(p).unwrap().mode() & 0o777, 0o700);
        }
    }
}
