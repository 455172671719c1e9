//! `flipdeck env`: the site's shared `.env`, read and replaced on its server, one exec each. The
//! content never appears in a job's output (which is shown, sent as JSON events and could be
//! stored): the server reports it hex-encoded as a report value (`env_read.sh`), and receives it
//! on the exec's stdin (`env_write.sh`), never as an argument or in the environment, where `ps`
//! would show it. Writes take the site's deploy lock, so an edit never races a deploy.

use super::Engine;
use super::events::Action;
use super::job::Job;
use super::layout::Layout;
use super::protocol::{EnvReport, LOCK_HELD};
use super::scripts::{self, EnvWrite};
use crate::config::{SiteConfig, SiteRef};
use crate::error::{Error, Result};
use crate::transport::Connector;

/// The largest `.env` flipdeck reads (it is held in memory and sent as hex in one line).
pub const MAX_ENV_BYTES: usize = 256 * 1024;
/// How many replaced versions each server keeps in `.flipdeck/env-history/`.
pub const KEEP_VERSIONS: u32 = 5;

/// Whether the site links a shared `.env` into its releases (its `shared` list names it).
pub fn shares_env(site: &SiteConfig) -> bool {
    site.shared
        .iter()
        .any(|e| e.trim_end_matches('/') == ".env")
}

/// The shared `.env` of one server as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFile {
    /// There is none (yet).
    Missing,
    File(Vec<u8>),
}

impl EnvFile {
    pub fn bytes(&self) -> &[u8] {
        match self {
            EnvFile::Missing => &[],
            EnvFile::File(b) => b,
        }
    }
}

/// A replaced version kept on the server: when it was replaced, by whom, which keys changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedVersion {
    pub number: u32,
    pub replaced_at: String,
    pub by: String,
    pub change: String,
}

/// What `env_read` got from one server.
#[derive(Debug, Clone)]
pub struct EnvRead {
    pub file: EnvFile,
    /// The saved version asked for.
    pub version: Option<Vec<u8>>,
    /// The saved versions, oldest first (when asked for).
    pub saved: Vec<SavedVersion>,
}

impl Engine {
    /// Reads the shared `.env` of `site` (and saved version `version`, and with `list` the
    /// saved versions' records). One connection, one exec; nothing is written.
    pub async fn env_read(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        version: Option<u32>,
        list: bool,
    ) -> Result<EnvRead> {
        check_shares(site)?;
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let mut job = Job::new(self, site.key(), target, layout, Action::Env);
        let script = scripts::env_read(&job.prelude(), version, list, MAX_ENV_BYTES);
        let r = job
            .run(&script, None, None)
            .await
            .map_err(|e| e.read_failed(format_args!("reading the .env of {}", site.key())))?;
        let rep: EnvReport = r.report();
        let ok = r.status.success();
        job.finish(
            ok,
            if ok {
                "read .env"
            } else {
                "reading .env failed"
            },
        );
        if !ok {
            return Err(Error::failed(format!(
                "could not read the .env of {} ({}){}",
                site.key(),
                r.status,
                last_line(&job.log)
            )));
        }
        if rep.no_site {
            return Err(Error::not_provisioned(&site.key(), &job.layout.base()));
        }
        let path = format!("{}/.env", job.layout.shared());
        if let Some(why) = rep.too_big {
            return Err(Error::failed(format!(
                "{why} on {} is larger than flipdeck reads ({MAX_ENV_BYTES} bytes)",
                site.key()
            )));
        }
        if let Some(p) = rep.unreadable {
            return Err(Error::failed(format!(
                "{p} on {} cannot be read by the login user",
                site.key()
            )));
        }
        if rep.not_file {
            return Err(Error::failed(format!(
                "{path} on {} is not a regular file",
                site.key()
            )));
        }
        let file = match (&rep.data, rep.missing) {
            (Some(hex), _) => EnvFile::File(decode(hex).ok_or_else(|| garbled(site))?),
            (None, true) => EnvFile::Missing,
            (None, false) => return Err(garbled(site)),
        };
        let version = match (version, &rep.old) {
            (None, _) => None,
            (Some(_), Some(hex)) => Some(decode(hex).ok_or_else(|| garbled(site))?),
            (Some(n), None) => {
                return Err(Error::failed(format!(
                    "{} keeps no version {n} of its .env (see `flipdeck env history {}`)",
                    site.key(),
                    site.key()
                )));
            }
        };
        let saved = rep.saved.iter().filter_map(|l| saved_version(l)).collect();
        Ok(EnvRead {
            file,
            version,
            saved,
        })
    }

    /// Replaces the shared `.env` of `site` with `new`, if it is still `seen` (else nothing is
    /// written: someone changed it meanwhile). The replaced file is kept as the next version
    /// (its record says `change`: keys only). Returns that version's number (`None` when there
    /// was no file). Under the site's deploy lock; a lock left by a dead flipdeck of this machine
    /// is recovered first, as a deploy does.
    pub async fn env_write(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        seen: &EnvFile,
        new: &[u8],
        change: &str,
    ) -> Result<Option<u32>> {
        check_shares(site)?;
        self.after_recovering(site, connector, || {
            self.env_write_once(site, connector, seen, new, change)
        })
        .await
    }

    async fn env_write_once(
        &self,
        site: &SiteRef<'_>,
        connector: &dyn Connector,
        seen: &EnvFile,
        new: &[u8],
        change: &str,
    ) -> Result<Option<u32>> {
        let target = connector.connect().await?;
        let layout = Layout::new(site.server.root.as_deref(), &site.site.domain);
        let mut job = Job::new(self, site.key(), target, layout, Action::Env);
        let old = seen.bytes();
        // The record is one line of words: no control character may reach it.
        let change: String = change.chars().filter(|c| !c.is_control()).collect();
        let script = scripts::env_write(
            &job.prelude(),
            &EnvWrite {
                existed: matches!(seen, EnvFile::File(_)),
                old_len: old.len(),
                new_len: new.len(),
                keep: KEEP_VERSIONS,
                change: &change,
            },
        );
        let mut stdin = Vec::with_capacity(old.len() + new.len());
        stdin.extend_from_slice(old);
        stdin.extend_from_slice(new);
        let r = job
            .run(&script, Some(stdin), None)
            .await
            .map_err(|e| e.read_failed(format_args!("writing the .env of {}", site.key())))?;
        let rep: EnvReport = r.report();
        if r.status.success() && rep.written {
            job.finish(true, "wrote .env");
            return Ok(rep.saved_as);
        }
        job.finish(false, "writing .env failed");
        if r.status == crate::transport::ExitStatus::Code(LOCK_HELD) {
            return Err(self.locked(site, rep.holder.as_deref().unwrap_or("unknown")));
        }
        if rep.changed {
            return Err(Error::failed(format!(
                "the .env of {} changed on the server since flipdeck read it; nothing was written: run the command again",
                site.key()
            )));
        }
        Err(Error::failed(format!(
            "could not write the .env of {} at step {} ({}){}; the .env there is unchanged",
            site.key(),
            r.last_step.as_deref().unwrap_or("start"),
            r.status,
            last_line(&job.log)
        )))
    }
}

fn check_shares(site: &SiteRef<'_>) -> Result<()> {
    if shares_env(site.site) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{} does not share .env (its `shared` list does not name it), so its releases read no shared .env",
            site.key()
        )))
    }
}

fn garbled(site: &SiteRef<'_>) -> Error {
    Error::failed(format!(
        "the .env of {} did not arrive whole (its size and content disagree)",
        site.key()
    ))
}

/// `: LINE` with the last line the script printed (an error of its own), if any.
fn last_line(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("==> "))
        .map(|l| format!(": {}", crate::visible::visible(l, false)))
        .unwrap_or_default()
}

/// `SIZE HEX` (see `env_hex` in `env_read.sh`) as bytes, if both agree.
fn decode(v: &str) -> Option<Vec<u8>> {
    let (size, hex) = v.split_once(' ').unwrap_or((v, ""));
    let size: usize = size.parse().ok()?;
    if hex.len() != size * 2 {
        return None;
    }
    (0..size)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// A record line: `N<TAB>TIME<TAB>WHO<TAB>CHANGE`.
fn saved_version(line: &str) -> Option<SavedVersion> {
    let mut w = line.splitn(4, '\t');
    Some(SavedVersion {
        number: w.next()?.parse().ok()?,
        replaced_at: w.next()?.to_string(),
        by: w.next()?.to_string(),
        change: w.next().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_env_hex_sends() {
        assert_eq!(decode("3 610a62"), Some(b"a\nb".to_vec()));
        assert_eq!(decode("0 "), Some(vec![]));
        assert_eq!(decode("0"), Some(vec![]));
        assert_eq!(decode("4 610a62"), None, "short");
        assert_eq!(decode("1 zz"), None);
        let v = saved_version("3\t2026-12-01T10:00:00Z\tann@box\t+A ~B").unwrap();
        assert_eq!(
            (v.number, v.by.as_str(), v.change.as_str()),
            (3, "ann@box", "+A ~B")
        );
    }
}
