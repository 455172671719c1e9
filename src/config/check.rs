//! One pass from the file as written ([`super::raw`]) to the typed [`Config`]: every value is
//! validated and every default filled in, section by section (top level, server, SSH, site, and
//! in [`web`] the nginx, PHP-FPM and health-check keys).
//!
//! The pass stops at the first error, so the order of the checks decides which error a file with
//! several mistakes reports: servers and their sites in file order, each key in the order below,
//! then the top-level keys. Keep that order when adding a check.

mod notify;
mod web;

use super::raw::{RawConfig, RawJump, RawServer, RawSite, line_of};
use super::{
    COLOR_ELEMENTS, CodeSource, Config, DEFAULT_CACHED, DEFAULT_KEEP, DEFAULT_MIGRATIONS,
    DEFAULT_SCRIPT, DEFAULT_SHARED, DEFAULT_WEB_USER, DEFAULT_WRITABLE, Hooks, Jump, KeyBinding,
    ServerConfig, SiteConfig, SshConfig, ThemeName, TransportKind, Writable,
};
use crate::error::{Error, Result};
use crate::redact::Redactor;
use crate::validate;
use std::ops::{Range, RangeInclusive};
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// A value rule from [`crate::validate`]: `Err` says what is expected.
type Rule = fn(&str) -> Result<(), String>;

/// The file being checked, for errors that name it and the offending line.
pub(super) struct Check<'a> {
    text: &'a str,
    path: &'a Path,
}

impl<'a> Check<'a> {
    pub(super) fn new(text: &'a str, path: &'a Path) -> Self {
        Check { text, path }
    }

    /// The config error `config FILE line N: KEY WHY`, at the line where `span` starts.
    fn err(&self, span: Range<usize>, key: &str, why: &str) -> Error {
        Error::config(
            self.path,
            Some(line_of(self.text, span.start)),
            format!(": {key} {why}"),
        )
    }

    /// Applies `rule` to a string that may be absent; its sentence is reported at the value.
    fn valid(&self, value: Option<&Spanned<String>>, key: &str, rule: Rule) -> Result<()> {
        match value {
            Some(v) => rule(v.get_ref()).map_err(|why| self.err(v.span(), key, &why)),
            None => Ok(()),
        }
    }

    /// A number that must lie in `range`; `None` when the key is absent.
    fn in_range<T: PartialOrd + Copy>(
        &self,
        value: Option<&Spanned<T>>,
        key: &str,
        range: RangeInclusive<T>,
        why: &str,
    ) -> Result<Option<T>> {
        match value {
            Some(n) if !range.contains(n.get_ref()) => Err(self.err(n.span(), key, why)),
            Some(n) => Ok(Some(*n.get_ref())),
            None => Ok(None),
        }
    }

    /// The whole file: its servers, then the top-level keys.
    pub(super) fn config(&self, raw: RawConfig) -> Result<Config> {
        let mut servers: Vec<ServerConfig> = Vec::with_capacity(raw.servers.len());
        let mut jumps = Vec::new();
        for (i, mut s) in raw.servers.into_iter().enumerate() {
            jumps.push(s.jump.take());
            let server = self.server(&format!("servers[{i}]"), s, &servers)?;
            servers.push(server);
        }
        self.jumps(&mut servers, &jumps)?;
        self.fleet_rollouts(&servers)?;
        let redactor = match &raw.redact {
            None => Redactor::default(),
            Some(list) => Redactor::from_patterns(list.get_ref())
                .map_err(|why| self.err(list.span(), "redact", &why))?,
        };
        let parallel = self.in_range(
            raw.parallel.as_ref(),
            "parallel",
            1..=100,
            "must be a whole number from 1 to 100",
        )?;
        let refresh_s = self.in_range(
            raw.refresh_s.as_ref(),
            "refresh_s",
            0..=3600,
            "must be a whole number of seconds from 0 (off) to 3600",
        )?;
        Ok(Config {
            path: self.path.to_path_buf(),
            redactor,
            parallel: parallel.map_or(10, |p| p as usize),
            refresh: match refresh_s {
                Some(0) => None,
                s => Some(Duration::from_secs(s.unwrap_or(5) as u64)),
            },
            theme: self.theme(raw.theme.as_ref())?,
            colors: self.colors(raw.colors.as_ref())?,
            keys: self.keys(raw.keys.as_ref())?,
            notify: self.notify(raw.notify.as_deref().unwrap_or_default(), &servers)?,
            servers,
        })
    }

    /// `theme`: one of the built-in themes.
    fn theme(&self, theme: Option<&Spanned<String>>) -> Result<ThemeName> {
        Ok(match theme.map(|t| t.get_ref().as_str()) {
            None | Some("dark") => ThemeName::Dark,
            Some("light") => ThemeName::Light,
            Some("mono") => ThemeName::Mono,
            Some(_) => {
                let t = theme.expect("set");
                return Err(self.err(t.span(), "theme", "must be \"dark\", \"light\" or \"mono\""));
            }
        })
    }

    /// `[colors]`: known elements, each a colour name, `#rrggbb` or a 0-255 index.
    fn colors(
        &self,
        colors: Option<&std::collections::BTreeMap<String, Spanned<String>>>,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (element, value) in colors.into_iter().flatten() {
            let key = format!("colors.{element}");
            if !COLOR_ELEMENTS.contains(&element.as_str()) {
                let why = format!(
                    "is not an element; the elements are {}",
                    COLOR_ELEMENTS.join(", ")
                );
                return Err(self.err(value.span(), &key, &why));
            }
            if value.get_ref().parse::<ratatui::style::Color>().is_err() {
                let why = "must be a colour name (red, lightblue, darkgray, …), \"#rrggbb\" or an index 0-255";
                return Err(self.err(value.span(), &key, why));
            }
            out.push((element.clone(), value.get_ref().clone()));
        }
        Ok(out)
    }

    /// `[keys]`: each action's key, or list of keys. Which actions and keys exist, and clashes,
    /// the dashboard checks when it starts (the keymap is its own), at these lines.
    fn keys(
        &self,
        keys: Option<&std::collections::BTreeMap<String, Spanned<toml::Value>>>,
    ) -> Result<Vec<KeyBinding>> {
        let mut out = Vec::new();
        for (action, value) in keys.into_iter().flatten() {
            let list = match value.get_ref() {
                toml::Value::String(k) => vec![k.clone()],
                toml::Value::Array(a) if !a.is_empty() => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .unwrap_or_default(),
                _ => vec![],
            };
            if list.is_empty() {
                let why = "must be a key (\"d\", \"ctrl-d\", \"F5\") or a list of keys";
                return Err(self.err(value.span(), &format!("keys.{action}"), why));
            }
            out.push(KeyBinding {
                action: action.clone(),
                keys: list,
                line: line_of(self.text, value.span().start),
            });
        }
        Ok(out)
    }

    /// One `[[servers]]` table; `earlier` are the servers before it, whose names it must not reuse.
    fn server(&self, at: &str, s: RawServer, earlier: &[ServerConfig]) -> Result<ServerConfig> {
        let name_key = format!("{at}.name");
        self.valid(Some(&s.name), &name_key, validate::server_name)?;
        if earlier.iter().any(|o| &o.name == s.name.get_ref()) {
            return Err(self.err(s.name.span(), &name_key, "is used twice"));
        }
        let transport = s.transport.unwrap_or(TransportKind::Ssh);
        let root = self.root(at, &s, transport)?;
        self.login(at, &s, transport)?;
        let php_version_key = format!("{at}.php_version");
        self.valid(
            s.php_version.as_ref(),
            &php_version_key,
            validate::php_version,
        )?;
        let ssh = self.ssh(at, &s)?;
        let nginx = self.nginx_server(at, &s)?;
        self.valid(s.stage.as_ref(), &format!("{at}.stage"), validate::stage)?;
        let php_version = s.php_version.as_ref().map(|v| v.get_ref().as_str());
        let php_fpm_config = self.php_fpm_config(at, s.php_fpm_config.as_ref(), php_version)?;
        let mut sites: Vec<SiteConfig> = Vec::with_capacity(s.sites.len());
        for (j, site) in s.sites.into_iter().enumerate() {
            let site = self.site(&format!("{at}.sites[{j}]"), site, php_version, &sites)?;
            sites.push(site);
        }
        Ok(ServerConfig {
            reload_command: reload_command(s.reload_command.as_deref(), php_version),
            php_version: php_version.map(str::to_string),
            name: s.name.into_inner(),
            transport,
            root,
            php_fpm_config,
            nginx,
            ssh,
            stage: s.stage.map(Spanned::into_inner),
            protected: s.protected.unwrap_or(false),
            sites,
        })
    }

    /// `root`, without a trailing `/` (`"/"` stays `"/"`). A local server has no login home to
    /// default to, so it needs one.
    fn root(&self, at: &str, s: &RawServer, transport: TransportKind) -> Result<Option<String>> {
        let key = format!("{at}.root");
        match &s.root {
            Some(r) => {
                self.valid(Some(r), &key, validate::root_path)?;
                let trimmed = r.get_ref().trim_end_matches('/');
                Ok(Some(
                    if trimmed.is_empty() { "/" } else { trimmed }.to_string(),
                ))
            }
            None if transport == TransportKind::Local => Err(self.err(
                s.name.span(),
                &key,
                "is required for transport = \"local\" (an absolute path)",
            )),
            None => Ok(None),
        }
    }

    /// Where and as whom an SSH server is reached: `host` (required for SSH) and `user`.
    fn login(&self, at: &str, s: &RawServer, transport: TransportKind) -> Result<()> {
        let host_key = format!("{at}.host");
        if transport == TransportKind::Ssh && s.host.is_none() {
            return Err(self.err(
                s.name.span(),
                &host_key,
                "is required for transport = \"ssh\" (a host name, address or ~/.ssh/config alias)",
            ));
        }
        self.valid(s.host.as_ref(), &host_key, validate::ssh_host)?;
        self.valid(s.user.as_ref(), &format!("{at}.user"), validate::ssh_user)
    }

    /// The SSH settings, `host` and `user` already checked by [`Check::login`].
    fn ssh(&self, at: &str, s: &RawServer) -> Result<SshConfig> {
        let connect_timeout = self.in_range(
            s.connect_timeout_s.as_ref(),
            &format!("{at}.connect_timeout_s"),
            1..=600,
            "must be 1 to 600 seconds",
        )?;
        Ok(SshConfig {
            host: s.host.as_ref().map(|h| h.get_ref().clone()),
            port: s.port,
            user: s.user.as_ref().map(|u| u.get_ref().clone()),
            identity_file: s.identity_file.clone(),
            known_hosts_file: s.known_hosts_file.clone(),
            host_key_policy: s.host_key_policy.unwrap_or(super::HostKeyPolicy::Strict),
            connect_timeout: connect_timeout.map(Duration::from_secs),
            forward_agent: s.forward_agent,
            jump: Vec::new(),
            certificate_file: s.certificate_file.clone(),
        })
    }

    /// Every server's `jump`, once all servers are known: each entry names a configured SSH
    /// server (whose own bastions come first) or is `[user@]host[:port]`. A loop is an error.
    fn jumps(&self, servers: &mut [ServerConfig], raw: &[Option<Spanned<RawJump>>]) -> Result<()> {
        let mut done = vec![false; servers.len()];
        for i in 0..servers.len() {
            self.resolve_jump(servers, raw, &mut done, &mut Vec::new(), i)?;
        }
        Ok(())
    }

    fn resolve_jump(
        &self,
        servers: &mut [ServerConfig],
        raw: &[Option<Spanned<RawJump>>],
        done: &mut [bool],
        visiting: &mut Vec<usize>,
        i: usize,
    ) -> Result<()> {
        let Some(spanned) = raw[i].as_ref().filter(|_| !done[i]) else {
            return Ok(());
        };
        let key = format!("servers[{i}].jump");
        let err = |why: &str| self.err(spanned.span(), &key, why);
        if servers[i].transport != TransportKind::Ssh {
            return Err(err("needs transport = \"ssh\""));
        }
        let entries: &[String] = match spanned.get_ref() {
            RawJump::One(e) => std::slice::from_ref(e),
            RawJump::Chain(list) if list.is_empty() => {
                return Err(err("must name at least one bastion"));
            }
            RawJump::Chain(list) => list,
        };
        visiting.push(i);
        let mut chain = Vec::with_capacity(entries.len());
        for entry in entries {
            match servers.iter().position(|s| &s.name == entry) {
                Some(j) if visiting.contains(&j) => {
                    return Err(err(&format!("goes round in a loop through {entry:?}")));
                }
                Some(j) if servers[j].transport != TransportKind::Ssh => {
                    return Err(err(&format!("names {entry:?}, which is not an SSH server")));
                }
                Some(j) => {
                    self.resolve_jump(servers, raw, done, visiting, j)?;
                    chain.push(Jump::Server {
                        name: entry.clone(),
                        ssh: Box::new(servers[j].ssh.clone()),
                    });
                }
                None => chain.push(jump_address(entry).map_err(|why| err(&why))?),
            }
        }
        visiting.pop();
        servers[i].ssh.jump = chain;
        done[i] = true;
        Ok(())
    }

    /// One `[[servers.sites]]` table; `earlier` are the server's sites before it.
    fn site(
        &self,
        at: &str,
        site: RawSite,
        php_version: Option<&str>,
        earlier: &[SiteConfig],
    ) -> Result<SiteConfig> {
        let domain_key = format!("{at}.domain");
        self.valid(Some(&site.domain), &domain_key, validate::domain)?;
        if earlier
            .iter()
            .any(|o| o.domain.eq_ignore_ascii_case(site.domain.get_ref()))
        {
            let why = "is configured twice on this server";
            return Err(self.err(site.domain.span(), &domain_key, why));
        }
        let repository_key = format!("{at}.repository");
        self.valid(
            site.repository.as_ref(),
            &repository_key,
            validate::repository,
        )?;
        self.valid(
            site.branch.as_ref(),
            &format!("{at}.branch"),
            validate::branch,
        )?;
        let source = self.source(at, &site)?;
        let shared = self.shared(at, site.shared.as_ref())?;
        let cached = self.cached(at, site.cached.as_ref(), &shared)?;
        let writable = self.writable(at, &site)?;
        let keep = self.in_range(
            site.keep.as_ref(),
            &format!("{at}.keep"),
            1..=10_000,
            "must be a whole number from 1 to 10000",
        )?;
        let nginx = match site.nginx {
            Some(true) => Some(self.nginx_site(at, &site, php_version)?),
            _ => {
                self.no_nginx_keys(at, &site)?;
                None
            }
        };
        let health_check = match &site.health_check {
            Some(h) => Some(self.health_check(at, h)?),
            None => None,
        };
        let rollout = self.rollout(at, site.rollout.as_ref())?;
        let commands = self.commands(at, site.commands.as_ref())?;
        let watch = self.watch(at, &site)?;
        let migrations = match site.migrations {
            Some(m) => {
                if let Err(why) = crate::validate::shared_entry(m.get_ref()) {
                    return Err(self.err(m.span(), &format!("{at}.migrations"), &why));
                }
                m.into_inner().trim_end_matches('/').to_string()
            }
            None => DEFAULT_MIGRATIONS.to_string(),
        };
        Ok(SiteConfig {
            watch,
            domain: site.domain.into_inner(),
            repository: site.repository.map(Spanned::into_inner),
            branch: site
                .branch
                .map_or_else(|| "main".to_string(), Spanned::into_inner),
            deployment_script: site
                .deployment_script
                .unwrap_or_else(|| DEFAULT_SCRIPT.to_string()),
            shared,
            cached,
            writable,
            keep: keep.map_or(DEFAULT_KEEP, |k| k as u32),
            nginx,
            health_check,
            protected: site.protected.unwrap_or(false),
            source,
            hooks: Hooks {
                after_switch: self.hook(at, "after_switch", site.after_switch)?,
                after_rollback: self.hook(at, "after_rollback", site.after_rollback)?,
                on_failure: self.hook(at, "on_failure", site.on_failure)?,
            },
            require_env: site.require_env.unwrap_or(false),
            migrations,
            commands,
            rollout,
        })
    }

    /// `rollout = { canary, batches, pause }`: each word checked here; against the fleet (its
    /// size, the other servers' rollouts) once every server is read (`fleet_rollouts`).
    fn rollout(
        &self,
        at: &str,
        raw: Option<&Spanned<super::raw::RawRollout>>,
    ) -> Result<Option<super::Rollout>> {
        use super::rollout::{Pause, Pauses, Reach};
        let Some(raw) = raw else { return Ok(None) };
        let key = format!("{at}.rollout");
        let bad = |why: &str| self.err(raw.span(), &key, why);
        let r = raw.get_ref();
        let canary = match r.canary {
            None => 1,
            Some(c) if (0..=10_000).contains(&c) => c as usize,
            Some(_) => return Err(bad("canary must be a whole number from 0 to 10000")),
        };
        let Some(list) = &r.batches else {
            return Err(bad(
                "needs batches, e.g. batches = [\"50%\", \"100%\"] (each step's reach, counted from the start)",
            ));
        };
        let mut batches = Vec::new();
        for b in list {
            let text = match b {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                other => other.to_string(),
            };
            batches.push(Reach::parse(&text).map_err(|w| bad(&format!("batches: {w}")))?);
        }
        let pause = |t: &str| Pause::parse(t).map_err(|w| bad(&format!("pause: {w}")));
        let pauses = match &r.pause {
            None => Pauses::Every(Pause::Manual),
            Some(super::raw::RawStrings::One(p)) => Pauses::Every(pause(p)?),
            Some(super::raw::RawStrings::Many(v)) => {
                Pauses::Each(v.iter().map(|p| pause(p)).collect::<Result<_>>()?)
            }
        };
        Ok(Some(super::Rollout {
            canary,
            batches,
            pauses,
        }))
    }

    /// Every server of a fleet (a domain on several servers) has the same rollout or none, and
    /// it fits the fleet's size.
    fn fleet_rollouts(&self, servers: &[ServerConfig]) -> Result<()> {
        let mut domains: Vec<String> = Vec::new();
        for s in servers.iter().flat_map(|s| &s.sites) {
            let d = s.domain.to_ascii_lowercase();
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        for d in domains {
            let members: Vec<(&str, &SiteConfig)> = servers
                .iter()
                .flat_map(|srv| srv.sites.iter().map(move |s| (srv.name.as_str(), s)))
                .filter(|(_, s)| s.domain.eq_ignore_ascii_case(&d))
                .collect();
            // A fleet is watched as one: its servers must agree on how long and when to revert.
            let (name0, site0) = members[0];
            let watch_differs: Vec<&str> = members
                .iter()
                .filter(|(_, s)| {
                    s.watch.seconds != site0.watch.seconds
                        || s.watch.auto_revert != site0.watch.auto_revert
                })
                .map(|(n, _)| *n)
                .collect();
            if !watch_differs.is_empty() {
                return Err(Error::config(
                    self.path,
                    None,
                    format!(
                        ": the servers of fleet {d} disagree on watch_s or auto_revert: {} differ from {name0}'s; a fleet is watched as one, so every server must have the same",
                        watch_differs.join(", ")
                    ),
                ));
            }
            let Some((first, with)) = members.iter().find(|(_, s)| s.rollout.is_some()) else {
                continue;
            };
            let differ: Vec<&str> = members
                .iter()
                .filter(|(_, s)| s.rollout != with.rollout)
                .map(|(n, _)| *n)
                .collect();
            if !differ.is_empty() {
                return Err(Error::config(
                    self.path,
                    None,
                    format!(
                        ": the servers of fleet {d} disagree on rollout: {} differ from {first}'s; every server of a fleet must have the same rollout (or none)",
                        differ.join(", ")
                    ),
                ));
            }
            let rollout = with.rollout.as_ref().expect("found with one");
            if let Err(why) = rollout.steps(members.len()) {
                return Err(Error::config(
                    self.path,
                    None,
                    format!(": the rollout of {d} (on {first}): {why}"),
                ));
            }
        }
        Ok(())
    }

    /// The site's access log: `access_log`, else where flipdeck's templates write it.
    pub(super) fn access_log(&self, at: &str, site: &RawSite) -> Result<String> {
        match &site.access_log {
            Some(p) => {
                self.valid(Some(p), &format!("{at}.access_log"), validate::nginx_path)?;
                Ok(p.get_ref().clone())
            }
            None => Ok(crate::config::default_access_log(site.domain.get_ref())),
        }
    }

    /// `watch_s`, `access_log`, `app_log` and `auto_revert` (see `engine::aftercare`).
    fn watch(&self, at: &str, site: &RawSite) -> Result<crate::config::Watch> {
        let seconds = self
            .in_range(
                site.watch_s.as_ref(),
                &format!("{at}.watch_s"),
                0..=86_400,
                "must be a whole number of seconds from 0 (no watch) to 86400",
            )?
            .unwrap_or(0) as u32;
        let app_log = match &site.app_log {
            Some(p) => {
                self.valid(Some(p), &format!("{at}.app_log"), validate::shared_entry)?;
                Some(p.get_ref().trim_end_matches('/').to_string())
            }
            None => None,
        };
        let auto_revert = match &site.auto_revert {
            None => None,
            Some(raw) => {
                let key = format!("{at}.auto_revert");
                let bad = |why: &str| self.err(raw.span(), &key, why);
                let a = raw.get_ref();
                let rate = match a.errors_5xx_per_s {
                    Some(n) if n.is_finite() && n > 0.0 => n,
                    Some(_) => return Err(bad("errors_5xx_per_s must be a number above 0")),
                    None => return Err(bad("needs errors_5xx_per_s (5xx responses per second)")),
                };
                let for_s = match a.for_s {
                    Some(n) if (1..=86_400).contains(&n) => n as u32,
                    Some(_) => return Err(bad("for_s must be a whole number of seconds from 1")),
                    None => return Err(bad("needs for_s (seconds in a row at that rate)")),
                };
                if seconds < for_s {
                    return Err(bad(&format!(
                        "needs watch_s of at least for_s ({for_s} s): the watch after the switch is when it can revert (watch_s is {seconds})"
                    )));
                }
                Some(crate::config::AutoRevert {
                    errors_5xx_per_s: rate,
                    for_s,
                })
            }
        };
        Ok(crate::config::Watch {
            seconds,
            access_log: self.access_log(at, site)?,
            app_log,
            auto_revert,
        })
    }

    /// A hook: the user's own shell, run as written; only a NUL byte (which no shell file can
    /// hold) is refused. An empty or blank hook is no hook.
    fn hook(&self, at: &str, name: &str, text: Option<Spanned<String>>) -> Result<Option<String>> {
        let Some(text) = text else { return Ok(None) };
        if text.get_ref().contains('\0') {
            let why = "contains a NUL byte, which a shell script cannot hold";
            return Err(self.err(text.span(), &format!("{at}.{name}"), why));
        }
        let text = text.into_inner();
        Ok((!text.trim().is_empty()).then_some(text))
    }

    /// `[servers.sites.commands]`: each name a word fit for a command line and a key, each
    /// command some shell code (run as written, like the deploy script).
    fn commands(
        &self,
        at: &str,
        commands: Option<&Spanned<std::collections::BTreeMap<String, String>>>,
    ) -> Result<Vec<(String, String)>> {
        let Some(table) = commands else {
            return Ok(Vec::new());
        };
        let key = format!("{at}.commands");
        for (name, command) in table.get_ref() {
            validate::command_name(name)
                .map_err(|why| self.err(table.span(), &key, &format!("name {name:?} {why}")))?;
            if command.trim().is_empty() {
                let why = format!("{name:?} is empty: give it a shell command");
                return Err(self.err(table.span(), &key, &why));
            }
        }
        Ok(table
            .get_ref()
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect())
    }

    /// `source`, with `build` and `artifact_dir` (only for an artifact) and, for a push, a
    /// `repository` that is a path on this machine.
    fn source(&self, at: &str, site: &RawSite) -> Result<CodeSource> {
        let kind = site.source.as_ref().map(|s| s.get_ref().as_str());
        let source = match kind {
            None | Some("server") => CodeSource::Server,
            Some("push") => CodeSource::Push,
            Some("artifact") => CodeSource::Artifact {
                build: site.build.as_ref().map(|b| b.get_ref().clone()),
                dir: site
                    .artifact_dir
                    .as_ref()
                    .map(|d| d.get_ref().trim_end_matches('/').to_string()),
            },
            Some(_) => {
                let s = site.source.as_ref().expect("a value");
                let why = "must be \"server\", \"push\" or \"artifact\"";
                return Err(self.err(s.span(), &format!("{at}.source"), why));
            }
        };
        if !matches!(source, CodeSource::Artifact { .. }) {
            for (key, v) in [("build", &site.build), ("artifact_dir", &site.artifact_dir)] {
                if let Some(v) = v {
                    let why = "is only used with source = \"artifact\"";
                    return Err(self.err(v.span(), &format!("{at}.{key}"), why));
                }
            }
        }
        if let Some(b) = &site.build
            && b.get_ref().trim().is_empty()
        {
            return Err(self.err(b.span(), &format!("{at}.build"), "must not be empty"));
        }
        self.valid(
            site.artifact_dir.as_ref(),
            &format!("{at}.artifact_dir"),
            validate::shared_entry,
        )?;
        if source == CodeSource::Push
            && let Some(r) = &site.repository
            && !r.get_ref().starts_with('/')
        {
            let why = "must be an absolute path on this machine with source = \"push\" (the server is sent the objects; it never reads the repository)";
            return Err(self.err(r.span(), &format!("{at}.repository"), why));
        }
        Ok(source)
    }

    /// `shared`, every entry a plain relative path; the error is at the list, naming the entry.
    fn shared(&self, at: &str, shared: Option<&Spanned<Vec<String>>>) -> Result<Vec<String>> {
        let Some(list) = shared else {
            return Ok(DEFAULT_SHARED.iter().map(|s| s.to_string()).collect());
        };
        for e in list.get_ref() {
            validate::shared_entry(e).map_err(|why| {
                let why = format!("entry {e:?} {why}");
                self.err(list.span(), &format!("{at}.shared"), &why)
            })?;
        }
        Ok(list.get_ref().clone())
    }

    /// `writable`, `writable_mode` and `web_user`: nothing is changed without a mode; the paths
    /// and the user are checked either way.
    fn writable(&self, at: &str, site: &RawSite) -> Result<Option<Writable>> {
        let paths = match &site.writable {
            Some(list) => {
                for e in list.get_ref() {
                    validate::shared_entry(e).map_err(|why| {
                        let why = format!("entry {e:?} {why}");
                        self.err(list.span(), &format!("{at}.writable"), &why)
                    })?;
                }
                list.get_ref()
                    .iter()
                    .map(|e| e.trim_end_matches('/').to_string())
                    .collect()
            }
            None => DEFAULT_WRITABLE.iter().map(|s| s.to_string()).collect(),
        };
        self.valid(
            site.web_user.as_ref(),
            &format!("{at}.web_user"),
            validate::ssh_user,
        )?;
        Ok(site.writable_mode.map(|mode| Writable {
            paths,
            mode,
            user: site
                .web_user
                .as_ref()
                .map_or(DEFAULT_WEB_USER, |u| u.get_ref().as_str())
                .to_string(),
        }))
    }

    /// `cached`, plain relative paths like `shared`'s. A path cannot be both: the default leaves
    /// out what `shared` names (a config written for the old default keeps its links), a list
    /// written out that overlaps `shared` is an error.
    fn cached(
        &self,
        at: &str,
        cached: Option<&Spanned<Vec<String>>>,
        shared: &[String],
    ) -> Result<Vec<String>> {
        let in_shared = |e: &str| {
            let e = e.trim_end_matches('/');
            shared.iter().find(|s| {
                let s = s.trim_end_matches('/');
                s == e || e.starts_with(&format!("{s}/")) || s.starts_with(&format!("{e}/"))
            })
        };
        let Some(list) = cached else {
            return Ok(DEFAULT_CACHED
                .iter()
                .filter(|e| in_shared(e).is_none())
                .map(|s| s.to_string())
                .collect());
        };
        for e in list.get_ref() {
            validate::shared_entry(e).map_err(|why| {
                let why = format!("entry {e:?} {why}");
                self.err(list.span(), &format!("{at}.cached"), &why)
            })?;
            if let Some(s) = in_shared(e) {
                let why = format!(
                    "entry {e:?} is also shared ({s:?}): a path is either shared (one copy for every release) or cached (one per release)"
                );
                return Err(self.err(list.span(), &format!("{at}.cached"), &why));
            }
        }
        Ok(list
            .get_ref()
            .iter()
            .map(|e| e.trim_end_matches('/').to_string())
            .collect())
    }
}

/// `[user@]host[:port]` (an IPv6 address in brackets), each part checked.
pub fn jump_address(entry: &str) -> std::result::Result<Jump, String> {
    let bad = |why: String| format!("entry {entry:?} {why}");
    let (user, rest) = match entry.rsplit_once('@') {
        Some((u, r)) => {
            validate::ssh_user(u).map_err(bad)?;
            (Some(u.to_string()), r)
        }
        None => (None, entry),
    };
    let (host, port) = match rest.strip_prefix('[') {
        Some(r) => match r.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(p))),
            None => return Err(bad("has no closing `]`".into())),
        },
        None => match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        },
    };
    validate::ssh_host(host).map_err(bad)?;
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("must end in a port from 1 to 65535".into()))?,
        ),
        None => None,
    };
    Ok(Jump::Address {
        user,
        host: host.to_string(),
        port,
    })
}

/// `reload_command` as set (`""` turns the reload off), else PHP-FPM's reload for `php_version`.
fn reload_command(set: Option<&str>, php_version: Option<&str>) -> Option<String> {
    match (set, php_version) {
        (Some(c), _) if c.trim().is_empty() => None,
        (Some(c), _) => Some(c.to_string()),
        (None, Some(v)) => Some(super::php_reload_command(v)),
        (None, None) => None,
    }
}
