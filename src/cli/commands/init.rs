//! `init`: the commented example config at the config path; an existing file is never replaced.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

pub fn run(path: &Path) -> Result<()> {
    if path.exists() {
        return Err(Error::failed(format!(
            "{} already exists; not overwriting it",
            path.display()
        )));
    }
    if let Some(dir) = path.parent() {
        crate::permissions::create_private_dir(dir)
            .map_err(|e| Error::failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    // `create_new`: a file that appeared since the check above is not replaced either.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(include_str!("../../../assets/config.example.toml").as_bytes())
        .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
    println!("{}", path.display());
    Ok(())
}
