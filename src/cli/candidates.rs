//! The values a shell completes for SITE, SERVER and `--stage`, read from the config: the one
//! named by `--config` on the line being completed, else `$FLIPDECK_CONFIG`, else the default
//! path. A config that cannot be read completes nothing. (Apart from `complete`, which needs the
//! whole command line's definition that these are part of.)

use crate::config::Config;
use clap_complete::engine::CompletionCandidate;
use std::path::PathBuf;

/// The config the line being completed names (`--config FILE` or `--config=FILE`), else the one
/// flipdeck would read.
fn config_for_completion() -> Option<Config> {
    let args: Vec<String> = std::env::args().collect();
    let named = args.iter().enumerate().find_map(|(i, a)| {
        if a == "--config" {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix("--config=").map(str::to_string)
        }
    });
    let path = named
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("FLIPDECK_CONFIG").map(PathBuf::from))
        .unwrap_or_else(crate::paths::default_config_path);
    Config::load(&path).ok()
}

/// SITE: every domain, and every `SERVER/DOMAIN`.
pub fn sites() -> Vec<CompletionCandidate> {
    let Some(config) = config_for_completion() else {
        return vec![];
    };
    let mut out: Vec<CompletionCandidate> = Vec::new();
    let mut domains: Vec<&str> = Vec::new();
    for s in config.sites() {
        if !domains.contains(&s.site.domain.as_str()) {
            domains.push(&s.site.domain);
        }
    }
    for d in domains {
        let servers: Vec<&str> = config
            .sites()
            .filter(|s| s.site.domain == d)
            .map(|s| s.server.name.as_str())
            .collect();
        out.push(
            CompletionCandidate::new(d).help(Some(format!("on {}", servers.join(", ")).into())),
        );
    }
    for s in config.sites() {
        out.push(CompletionCandidate::new(s.key()));
    }
    out
}

/// SERVER: every server's name.
pub fn servers() -> Vec<CompletionCandidate> {
    config_for_completion()
        .map(|c| {
            c.servers
                .iter()
                .map(|s| CompletionCandidate::new(&s.name))
                .collect()
        })
        .unwrap_or_default()
}

/// `--stage`: every stage named in the config.
pub fn stages() -> Vec<CompletionCandidate> {
    let Some(config) = config_for_completion() else {
        return vec![];
    };
    let mut stages: Vec<String> = Vec::new();
    for s in &config.servers {
        if let Some(st) = &s.stage
            && !stages.contains(st)
        {
            stages.push(st.clone());
        }
    }
    stages.into_iter().map(CompletionCandidate::new).collect()
}

/// `run SITE NAME`: the commands of the SITE on the line (every site's when it names none),
/// each with its shell code's first line as help.
pub fn commands() -> Vec<CompletionCandidate> {
    let Some(config) = config_for_completion() else {
        return vec![];
    };
    let args: Vec<String> = std::env::args().collect();
    let site = args
        .iter()
        .position(|a| a == "run")
        .and_then(|i| args[i + 1..].iter().find(|a| !a.starts_with('-')));
    let sites = match site.map(|s| config.find_sites(s)) {
        Some(Ok(sites)) => sites,
        _ => config.sites().collect(),
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for s in &sites {
        for (name, code) in &s.site.commands {
            if !seen.contains(&name.as_str()) {
                seen.push(name);
                let first = code.lines().next().unwrap_or("").to_string();
                out.push(CompletionCandidate::new(name).help(Some(first.into())));
            }
        }
    }
    out
}
