//! OpenSSH `known_hosts` files: checking a server key and recording a new one.
//!
//! russh ships a checker too, but it splits on single spaces, miscounts line numbers after comments
//! and ignores markers and wildcards, so the format is read here instead.

use super::SshError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{Algorithm, Certificate, HashAlg, PublicKey};
use std::io::Write;
use std::path::Path;

/// What a known_hosts file says about a server key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host holds exactly this key.
    Known,
    /// No line names this host.
    Unknown,
    /// Lines name this host but none holds this key; `line` is the first of them (1-based).
    Changed { line: usize },
    /// The key is listed under `@revoked` at `line`.
    Revoked { line: usize },
}

/// What a known_hosts file says about a host certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCertStatus {
    /// Signed by a CA an `@cert-authority` line trusts for this host, valid now, for this host.
    Trusted,
    /// No `@cert-authority` line for this host holds the signing key.
    NoAuthority,
    /// The signing CA or the certified key is `@revoked` at `line` (`key` is the one revoked).
    Revoked { line: usize, key: PublicKey },
    /// A trusted CA signed it, but it is not valid: why.
    Invalid(String),
}

/// One parsed line: `[@marker] hosts keytype base64 [comment]`.
struct Entry<'a> {
    line: usize,
    marker: Option<&'a str>,
    hosts: &'a str,
    key: Option<PublicKey>,
}

/// How a server is named in known_hosts: the bare host for port 22, `[host]:port` otherwise.
pub fn host_pattern(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// Checks `key` for `host:port` against `file`. A missing file means every host is unknown.
///
/// A key of a type the file has no line for, while it has lines of other types for this host, counts
/// as changed: OpenSSH asks the user in that case, and a deploy tool has nobody to ask.
pub fn check_known_host(
    file: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<HostKeyStatus, SshError> {
    let text = read_file(file)?;
    let name = host_pattern(host, port);
    // `@revoked` wins wherever it stands, before or after a plain line for the same key (as in
    // OpenSSH), so the whole file is read before a key counts as known.
    let mut first_match = None;
    let mut known = false;
    for entry in entries(&text) {
        let Some(recorded) = &entry.key else { continue };
        let same = recorded.key_data() == key.key_data();
        match entry.marker {
            Some("@revoked") if same => return Ok(HostKeyStatus::Revoked { line: entry.line }),
            Some(_) => {}
            None if hosts_match(entry.hosts, &name) => {
                known |= same;
                if !same {
                    first_match.get_or_insert(entry.line);
                }
            }
            None => {}
        }
    }
    if known {
        return Ok(HostKeyStatus::Known);
    }
    Ok(match first_match {
        Some(line) => HostKeyStatus::Changed { line },
        None => HostKeyStatus::Unknown,
    })
}

/// Checks a host certificate for `host:port` against `file`'s `@cert-authority` and `@revoked`
/// lines, at `now` (seconds since the epoch), as OpenSSH does: the certificate must be a host
/// certificate, validly signed by a trusted CA, within its validity period, and name `host`
/// among its principals (a certificate without principals is valid for any host). `@revoked`
/// applies to the CA key and to the certified key, whatever host pattern it carries.
pub fn check_host_certificate(
    file: &Path,
    host: &str,
    port: u16,
    cert: &Certificate,
    now: u64,
) -> Result<HostCertStatus, SshError> {
    let text = read_file(file)?;
    let name = host_pattern(host, port);
    let mut trusted = false;
    for entry in entries(&text) {
        let Some(recorded) = &entry.key else { continue };
        let data = recorded.key_data();
        match entry.marker {
            Some("@revoked") if data == cert.signature_key() || data == cert.public_key() => {
                let key = recorded.clone();
                return Ok(HostCertStatus::Revoked {
                    line: entry.line,
                    key,
                });
            }
            Some("@cert-authority") if hosts_match(entry.hosts, &name) => {
                trusted |= data == cert.signature_key();
            }
            _ => {}
        }
    }
    if !trusted {
        return Ok(HostCertStatus::NoAuthority);
    }
    Ok(match certificate_problem(cert, host, now) {
        Some(why) => HostCertStatus::Invalid(why),
        None => HostCertStatus::Trusted,
    })
}

/// Why a certificate from a trusted CA is still not valid for `host` at `now`, if it is not.
fn certificate_problem(cert: &Certificate, host: &str, now: u64) -> Option<String> {
    if !cert.cert_type().is_host() {
        return Some("it is a user certificate, not a host certificate".into());
    }
    if now < cert.valid_after() {
        return Some("it is not valid yet".into());
    }
    if now >= cert.valid_before() {
        return Some("it has expired".into());
    }
    let principals = cert.valid_principals();
    let host = host.to_ascii_lowercase();
    if !principals.is_empty() && !principals.iter().any(|p| p.to_ascii_lowercase() == host) {
        return Some(format!(
            "it is for {}, not for {host}",
            principals.join(", ")
        ));
    }
    let ca = cert.signature_key().fingerprint(HashAlg::Sha256);
    match cert.validate_at(now, [&ca]) {
        Ok(()) => None,
        Err(e) => Some(format!("its signature does not verify ({e})")),
    }
}

/// Whether an `@cert-authority` line names `host:port`: then a host certificate is asked for.
pub(crate) fn has_cert_authority(file: &Path, host: &str, port: u16) -> bool {
    let Ok(text) = read_file(file) else {
        return false;
    };
    let name = host_pattern(host, port);
    entries(&text).any(|e| e.marker == Some("@cert-authority") && hosts_match(e.hosts, &name))
}

/// The key algorithms recorded for `host:port`, so the handshake can ask for one of them first.
pub(crate) fn known_key_algorithms(file: &Path, host: &str, port: u16) -> Vec<Algorithm> {
    let Ok(text) = read_file(file) else {
        return Vec::new();
    };
    let name = host_pattern(host, port);
    entries(&text)
        .filter(|e| e.marker.is_none() && hosts_match(e.hosts, &name))
        .filter_map(|e| e.key.map(|k| k.algorithm()))
        .collect()
}

/// The line recording `key` for `host:port`, in OpenSSH's format (without a newline).
pub fn known_host_line(host: &str, port: u16, key: &PublicKey) -> String {
    format!("{} {}", host_pattern(host, port), openssh_key(key))
}

/// `keytype base64`, without the comment.
pub(crate) fn openssh_key(key: &PublicKey) -> String {
    let blob = key.to_bytes().unwrap_or_default();
    format!("{} {}", key.algorithm().as_str(), BASE64.encode(blob))
}

/// Appends a line for `host:port` to `file`, creating the file (and its folder) if needed.
pub fn append_known_host(
    file: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<(), SshError> {
    let write_err = |e: std::io::Error| SshError::KnownHostsWrite {
        path: file.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::permissions::create_private_dir(dir).map_err(write_err)?;
    }
    // A last line without its newline would otherwise be glued to ours.
    let needs_newline = std::fs::read(file)
        .map(|b| b.last().is_some_and(|&c| c != b'\n'))
        .unwrap_or(false);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(write_err)?;
    let line = known_host_line(host, port, key);
    let text = if needs_newline {
        format!("\n{line}\n")
    } else {
        format!("{line}\n")
    };
    f.write_all(text.as_bytes()).map_err(write_err)
}

fn read_file(file: &Path) -> Result<String, SshError> {
    match std::fs::read(file) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(SshError::KnownHostsRead {
            path: file.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

fn entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| parse_line(i + 1, l))
}

fn parse_line(line: usize, text: &str) -> Option<Entry<'_>> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return None;
    }
    let mut fields = text.split_whitespace();
    let mut first = fields.next()?;
    let marker = if first.starts_with('@') {
        let m = first;
        first = fields.next()?;
        Some(m)
    } else {
        None
    };
    let _key_type = fields.next()?;
    // An unparsable key (an algorithm this build lacks) still names the host, so it is kept as
    // `None`: it can make a host "changed" but never "known".
    let key = fields
        .next()
        .and_then(|b| russh::keys::parse_public_key_base64(b).ok());
    Some(Entry {
        line,
        marker,
        hosts: first,
        key,
    })
}

/// OpenSSH semantics: a comma list of patterns, `!pattern` negates (and wins), `*`/`?` wildcards,
/// `|1|salt|hash` hashed names.
fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if pattern_matches(negated, name) {
                return false;
            }
        } else if pattern_matches(pattern, name) {
            matched = true;
        }
    }
    matched
}

fn pattern_matches(pattern: &str, name: &str) -> bool {
    if let Some(hashed) = pattern.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    wildcard_match(
        pattern.to_ascii_lowercase().as_bytes(),
        name.to_ascii_lowercase().as_bytes(),
    )
}

/// `salt|hash`, both base64, hash = HMAC-SHA1(salt, name).
fn hashed_matches(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (BASE64.decode(salt), BASE64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Glob with `*` (any run) and `?` (one byte), as OpenSSH's match_pattern.
pub(crate) fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| wildcard_match(rest, &text[i..])),
        Some((&p, rest)) => match text.split_first() {
            Some((&t, text_rest)) if p == b'?' || p == t => wildcard_match(rest, text_rest),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIA6rWI3G1sz07DnfFlrouTcysQlj2P+jpNSOEWD9OJ3X";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    fn file_with(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn status(text: &str, host: &str, port: u16, k: &str) -> HostKeyStatus {
        let (_dir, path) = file_with(text);
        check_known_host(&path, host, port, &key(k)).unwrap()
    }

    #[test]
    fn port_22_uses_the_bare_host() {
        let text = format!("example.org ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            status(&text, "example.org", 22, KEY_A),
            HostKeyStatus::Known
        );
        assert_eq!(
            status(&text, "example.org", 2222, KEY_A),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn other_ports_use_brackets() {
        let text = format!("[example.org]:2222 ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            status(&text, "example.org", 2222, KEY_A),
            HostKeyStatus::Known
        );
        assert_eq!(
            status(&text, "example.org", 22, KEY_A),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn changed_key_reports_the_real_line_number() {
        let text = format!(
            "# comment\n\nother.org ssh-ed25519 {KEY_A}\nexample.org  ssh-ed25519\t{KEY_B} c\n"
        );
        assert_eq!(
            status(&text, "example.org", 22, KEY_A),
            HostKeyStatus::Changed { line: 4 }
        );
    }

    #[test]
    fn hashed_entries_match() {
        // Salt and hash as made by `ssh-keygen -H` for "example.com" (from russh's test suite).
        let text = "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF\n";
        let k = "AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";
        assert_eq!(status(text, "example.com", 22, k), HostKeyStatus::Known);
        assert_eq!(status(text, "example.net", 22, k), HostKeyStatus::Unknown);
    }

    #[test]
    fn patterns_wildcards_and_negation() {
        let text = format!("*.example.org,!bad.example.org ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            status(&text, "web.example.org", 22, KEY_A),
            HostKeyStatus::Known
        );
        assert_eq!(
            status(&text, "bad.example.org", 22, KEY_A),
            HostKeyStatus::Unknown
        );
        assert!(wildcard_match(b"web?", b"web1"));
        assert!(!wildcard_match(b"web?", b"web12"));
    }

    #[test]
    fn revoked_and_cert_authority_lines() {
        let text =
            format!("@cert-authority * ssh-ed25519 {KEY_B}\n@revoked * ssh-ed25519 {KEY_A}\n");
        assert_eq!(status(&text, "x.org", 22, KEY_B), HostKeyStatus::Unknown);
        assert_eq!(
            status(&text, "x.org", 22, KEY_A),
            HostKeyStatus::Revoked { line: 2 }
        );
    }

    #[test]
    fn revoked_wins_after_a_plain_line_for_the_same_key() {
        for revoked in ["x.org", "*"] {
            let text =
                format!("x.org ssh-ed25519 {KEY_A}\n@revoked {revoked} ssh-ed25519 {KEY_A}\n");
            assert_eq!(
                status(&text, "x.org", 22, KEY_A),
                HostKeyStatus::Revoked { line: 2 },
                "@revoked {revoked}"
            );
        }
        // A plain line for another key of the host does not hide a matching one further down.
        let text = format!("x.org ssh-ed25519 {KEY_B}\nx.org ssh-ed25519 {KEY_A}\n");
        assert_eq!(status(&text, "x.org", 22, KEY_A), HostKeyStatus::Known);
    }

    #[test]
    fn missing_file_is_unknown_and_append_creates_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known_hosts");
        let k = key(KEY_A);
        assert_eq!(
            check_known_host(&path, "h", 22, &k).unwrap(),
            HostKeyStatus::Unknown
        );
        append_known_host(&path, "h", 2200, &k).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("[h]:2200 ssh-ed25519 {KEY_A}\n")
        );
        assert_eq!(
            check_known_host(&path, "h", 2200, &k).unwrap(),
            HostKeyStatus::Known
        );
    }

    #[test]
    fn append_adds_a_missing_final_newline() {
        let (_dir, path) = file_with(&format!("a ssh-ed25519 {KEY_B}"));
        append_known_host(&path, "b", 22, &key(KEY_A)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with(&format!("b ssh-ed25519 {KEY_A}\n")));
    }
}
