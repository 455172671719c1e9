//! `env show|edit|set|unset|history|restore SITE`: the site's shared `.env` on every server of
//! the site (a fleet's bare domain) or on one (`SERVER/DOMAIN`). Values are shown only by `show
//! --reveal`; every other line names keys only. Writes go through `Engine::env_write` (under the
//! deploy lock, the replaced file kept as a version on the server).

use super::env_editor;
use crate::cli::Ctx;
use crate::cli::args::EnvCommand;
use crate::cli::each_site::{Failures, on_each_site};
use crate::cli::printer::say;
use crate::config::SiteRef;
use crate::engine::env::{EnvFile, EnvRead};
use crate::envfile::{self, Diff};
use crate::error::{Error, Result};
use crate::visible::visible;
use std::io::{IsTerminal, Write};

pub async fn run(ctx: &Ctx, command: &EnvCommand) -> Result<()> {
    match command {
        EnvCommand::Show { site, reveal } => show(ctx, site, *reveal).await,
        EnvCommand::Edit { site, yes, from } => edit(ctx, site, *yes, from.as_deref()).await,
        EnvCommand::Set { site, pairs, .. } => {
            let pairs = parse_pairs(pairs)?;
            let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            let what = format!("set {}", names.join(", "));
            change(ctx, site, &what, |text| {
                Ok((envfile::set(text, &pairs), Vec::new()))
            })
            .await
        }
        EnvCommand::Unset { site, keys, .. } => {
            for k in keys {
                envfile::check_key(k).map_err(Error::usage)?;
            }
            let what = format!("unset {}", keys.join(", "));
            change(ctx, site, &what, |text| {
                let (new, found) = envfile::unset(text, keys);
                let absent = keys
                    .iter()
                    .zip(found)
                    .filter(|(_, f)| !f)
                    .map(|(k, _)| format!("{k} was not set"))
                    .collect();
                Ok((new, absent))
            })
            .await
        }
        EnvCommand::History { site } => history(ctx, site).await,
        EnvCommand::Restore {
            site, version, yes, ..
        } => restore(ctx, site, *version, *yes).await,
    }
}

/// `KEY=VALUE` arguments, each checked.
fn parse_pairs(args: &[String]) -> Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                // The argument may be a value given without its key: never echo it.
                Error::usage("each argument of env set is KEY=VALUE (one had no `=`)")
            })?;
            envfile::check_key(k).map_err(Error::usage)?;
            envfile::check_value(k, v).map_err(Error::usage)?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Reads the `.env` of every site in `sites` (in parallel); fails naming each that failed.
async fn read_all<'c>(
    ctx: &'c Ctx,
    sites: &[SiteRef<'c>],
    version: Option<u32>,
    list: bool,
) -> Result<Vec<(SiteRef<'c>, EnvRead)>> {
    let outcomes = on_each_site(&ctx.config, sites, |site| async move {
        let connector = ctx.connector(&site)?;
        ctx.engine
            .env_read(&site, connector.as_ref(), version, list)
            .await
    })
    .await;
    if sites.len() == 1 {
        let (_, outcome) = outcomes.into_iter().next().expect("one site");
        return Ok(vec![(sites[0].clone(), outcome?)]);
    }
    let mut failures = Failures::default();
    let mut out = Vec::new();
    for ((key, outcome), site) in outcomes.into_iter().zip(sites) {
        failures.report(
            &key,
            outcome,
            |r| out.push((site.clone(), r)),
            |e| say!("ERR {key}: {}", visible(&e.to_string(), false)),
        );
    }
    failures.verdict(|s| format!("could not read the .env of {s}; nothing was changed"))?;
    Ok(out)
}

/// The text of a file for a key-wise change: it must be UTF-8.
fn text_of<'a>(site: &SiteRef<'_>, file: &'a EnvFile) -> Result<&'a str> {
    std::str::from_utf8(file.bytes()).map_err(|_| {
        Error::failed(format!(
            "the .env of {} is not UTF-8 text; change it with `flipdeck env edit {}`",
            site.key(),
            site.key()
        ))
    })
}

async fn show(ctx: &Ctx, spec: &str, reveal: bool) -> Result<()> {
    let sites = ctx.config.find_sites(spec)?;
    let read = read_all(ctx, &sites, None, false).await?;
    let all_same = read.windows(2).all(|w| w[0].1.file == w[1].1.file);
    let several = read.len() > 1;
    for (i, (site, r)) in read.iter().enumerate() {
        if several && all_same && i > 0 {
            break;
        }
        if several {
            let names: Vec<String> = read.iter().map(|(s, _)| s.key()).collect();
            if all_same {
                say!("# {} (the same on every server)", names.join(", "));
            } else {
                say!("# {}", site.key());
            }
        }
        match &r.file {
            EnvFile::Missing => say!(
                "# no .env: {}/deployments/{}/shared/.env does not exist",
                site.server.root.as_deref().unwrap_or("~"),
                site.site.domain
            ),
            EnvFile::File(bytes) => print_file(ctx, bytes, reveal, several),
        }
    }
    if several && !all_same {
        let (first, r0) = &read[0];
        for (site, r) in &read[1..] {
            let d = envfile::diff(
                &String::from_utf8_lossy(r0.file.bytes()),
                &String::from_utf8_lossy(r.file.bytes()),
            );
            say!(
                "# the servers' .env files differ: {} against {}: {}",
                site.key(),
                first.key(),
                d.summary()
            );
        }
    }
    Ok(())
}

fn print_file(ctx: &Ctx, bytes: &[u8], reveal: bool, several: bool) {
    let text = String::from_utf8_lossy(bytes);
    if reveal {
        let mut out = std::io::stdout().lock();
        // For a file or a pipe, one server's file exactly as it is (a backup); on a terminal,
        // control characters are shown as escapes.
        if !several && !out.is_terminal() {
            let _ = out.write_all(bytes);
        } else {
            let _ = write!(out, "{}", crate::visible::visible_lines(&text));
            if !text.ends_with('\n') && !text.is_empty() {
                let _ = writeln!(out);
            }
        }
        let _ = out.flush();
        return;
    }
    for line in envfile::redacted(&text) {
        // A comment may hold a secret too: the config's redaction patterns apply.
        let line = ctx.config.redactor.apply(&line).into_owned();
        say!("{}", visible(&line, false));
    }
}

/// The lines that show `d`, indented.
fn print_diff(key: &str, d: &Diff) {
    say!("{key}:");
    for l in d.lines() {
        say!("  {l}");
    }
}

/// The numbers of the lines Laravel's parser would refuse.
fn check_parses(new: &[u8]) -> Vec<usize> {
    envfile::EnvFile::parse(&String::from_utf8_lossy(new)).invalid_lines()
}

/// Writes `new` on each site whose file was `seen`, in parallel; reports each.
async fn write_all(
    ctx: &Ctx,
    plan: Vec<(SiteRef<'_>, EnvFile, Vec<u8>, String)>,
    what: &str,
) -> Result<()> {
    let outcomes = on_each_site(
        &ctx.config,
        &plan.iter().map(|(s, ..)| s.clone()).collect::<Vec<_>>(),
        |site| {
            let (_, seen, new, change) = plan
                .iter()
                .find(|(s, ..)| s.key() == site.key())
                .expect("planned");
            async move {
                let connector = ctx.connector(&site)?;
                ctx.engine
                    .env_write(&site, connector.as_ref(), seen, new, change)
                    .await
            }
        },
    )
    .await;
    let ok = |key: &str, saved: Option<u32>| match saved {
        Some(n) => say!("OK  {key}: {what} (the previous .env is kept as version {n})"),
        None => say!("OK  {key}: {what} (a new .env, mode 0600)"),
    };
    let servers = plan.len();
    if servers == 1 {
        let (key, outcome) = outcomes.into_iter().next().expect("one site");
        ok(&key, outcome?);
        return Ok(());
    }
    let mut failures = Failures::default();
    let mut written = Vec::new();
    for (key, outcome) in outcomes {
        if outcome.is_ok() {
            written.push(key.clone());
        }
        failures.report(
            &key,
            outcome,
            |saved| ok(&key, saved),
            |e| say!("ERR {key}: {}", visible(&e.to_string(), false)),
        );
    }
    if failures.is_empty() || written.is_empty() {
        return failures
            .verdict(|s| format!("could not write the .env of {s}; nothing was changed"));
    }
    // Some servers were written and some not: the written ones get back the file they had, so
    // a fleet never stays split between two .env files.
    let failed = failures.sites();
    let back = plan
        .iter()
        .filter(|(s, ..)| written.contains(&s.key()))
        .map(|(s, seen, new, _)| (s.clone(), seen.clone(), new.clone()))
        .collect::<Vec<_>>();
    let change = format!("put back: {what} failed on {failed}");
    let outcomes = on_each_site(
        &ctx.config,
        &back.iter().map(|(s, ..)| s.clone()).collect::<Vec<_>>(),
        |site| {
            let (_, seen, new) = back
                .iter()
                .find(|(s, ..)| s.key() == site.key())
                .expect("written");
            let change = &change;
            async move {
                let EnvFile::File(old) = seen else {
                    return Err(Error::failed(
                        "it had no .env before, and flipdeck does not delete one",
                    ));
                };
                let connector = ctx.connector(&site)?;
                ctx.engine
                    .env_write(
                        &site,
                        connector.as_ref(),
                        &EnvFile::File(new.clone()),
                        old,
                        change,
                    )
                    .await
            }
        },
    )
    .await;
    let mut stuck = Failures::default();
    for (key, outcome) in outcomes {
        stuck.report(
            &key,
            outcome,
            |_| say!("OK  {key}: put back as it was"),
            |e| {
                say!(
                    "ERR {key}: could not put it back: {}",
                    visible(&e.to_string(), false)
                )
            },
        );
    }
    if stuck.is_empty() {
        return Err(Error::failed(format!(
            "could not write the .env of {failed}; the other servers were put back as they were, so every server keeps the .env it had"
        )));
    }
    Err(Error::failed(format!(
        "could not write the .env of {failed}, nor put back {}: the servers' .env files now differ; run the command again",
        stuck.sites()
    )))
}

/// `set` and `unset`: `f` makes each server's new text from its current one (and notes to
/// print); servers whose file would not change are left alone.
async fn change(
    ctx: &Ctx,
    spec: &str,
    what: &str,
    f: impl Fn(&str) -> Result<(String, Vec<String>)>,
) -> Result<()> {
    let sites = ctx.config.find_sites(spec)?;
    let read = read_all(ctx, &sites, None, false).await?;
    let mut plan = Vec::new();
    for (site, r) in read {
        let old = text_of(&site, &r.file)?;
        let (new, notes) = f(old)?;
        for n in notes {
            say!("{}: {n}", site.key());
        }
        let d = envfile::diff(old, &new);
        // Nothing to write; nor an empty file where there was none (unset on a missing .env).
        if d.is_empty() && (r.file != EnvFile::Missing || new.is_empty()) {
            say!("OK  {}: nothing to change", site.key());
            continue;
        }
        plan.push((
            site,
            r.file,
            new.into_bytes(),
            format!("{what}: {}", d.summary()),
        ));
    }
    if plan.is_empty() {
        return Ok(());
    }
    write_all(ctx, plan, what).await
}

async fn edit(ctx: &Ctx, spec: &str, yes: bool, from: Option<&str>) -> Result<()> {
    let sites = ctx.config.find_sites(spec)?;
    let read = read_all(ctx, &sites, None, false).await?;
    let base = match from {
        Some(server) => read
            .iter()
            .find(|(s, _)| s.server.name == server)
            .map(|(_, r)| r.file.clone())
            .ok_or_else(|| {
                Error::usage(format!(
                    "--from {server}: {spec} is not on a server of that name"
                ))
            })?,
        None => {
            let first = &read[0].1.file;
            if let Some((other, r)) = read.iter().find(|(_, r)| r.file != *first) {
                let d = envfile::diff(
                    &String::from_utf8_lossy(first.bytes()),
                    &String::from_utf8_lossy(r.file.bytes()),
                );
                return Err(Error::failed(format!(
                    "the .env differs between the servers of {spec} ({} against {}: {}); nothing was changed. \
                     Edit one server's with `flipdeck env edit SERVER/{}`, or start from one server's and write it to all with `--from SERVER`",
                    other.key(),
                    read[0].0.key(),
                    d.summary(),
                    read[0].0.site.domain
                )));
            }
            first.clone()
        }
    };
    let new = env_editor::edit(base.bytes()).await?;
    let mut plan = Vec::new();
    for (site, r) in &read {
        let d = envfile::diff(
            &String::from_utf8_lossy(r.file.bytes()),
            &String::from_utf8_lossy(&new),
        );
        if r.file.bytes() == new.as_slice() && (r.file != EnvFile::Missing || new.is_empty()) {
            continue;
        }
        print_diff(&site.key(), &d);
        plan.push((
            site.clone(),
            r.file.clone(),
            new.clone(),
            format!("edit: {}", d.summary()),
        ));
    }
    if plan.is_empty() {
        say!("no change; nothing was written");
        return Ok(());
    }
    let bad = check_parses(&new);
    if !bad.is_empty() {
        let lines: Vec<String> = bad.iter().map(usize::to_string).collect();
        say!(
            "warning: line(s) {} do not parse as KEY=VALUE: Laravel's parser refuses such a file",
            lines.join(", ")
        );
        if yes {
            return Err(Error::failed(
                "the edited .env does not parse; nothing was written (with --yes flipdeck does not write a file Laravel refuses)",
            ));
        }
    }
    let names: Vec<String> = plan.iter().map(|(s, ..)| s.key()).collect();
    if !crate::cli::confirm::ask(&format!("Write this .env to {}?", names.join(", ")), yes)? {
        return Err(Error::failed("not confirmed; nothing was written"));
    }
    write_all(ctx, plan, "wrote .env").await
}

async fn history(ctx: &Ctx, spec: &str) -> Result<()> {
    let sites = ctx.config.find_sites(spec)?;
    let read = read_all(ctx, &sites, None, true).await?;
    for (site, r) in read {
        say!("{}", site.key());
        let now = match r.file {
            EnvFile::Missing => "no .env".to_string(),
            EnvFile::File(b) => format!("{} bytes", b.len()),
        };
        say!("  current  {now}");
        if r.saved.is_empty() {
            say!("  (no saved versions: flipdeck has not changed this .env yet)");
            continue;
        }
        let by = r
            .saved
            .iter()
            .map(|v| v.by.chars().count())
            .max()
            .unwrap_or(0)
            .max(2);
        say!(
            "  {:<7}  {:<20}  {:<by$}  CHANGE",
            "VERSION",
            "REPLACED AT",
            "BY"
        );
        for v in r.saved.iter().rev() {
            let line = format!(
                "  {:<7}  {:<20}  {:<by$}  {}",
                v.number, v.replaced_at, v.by, v.change
            );
            say!("{}", visible(&line, false));
        }
    }
    Ok(())
}

async fn restore(ctx: &Ctx, spec: &str, version: u32, yes: bool) -> Result<()> {
    let sites = ctx.config.find_sites(spec)?;
    let read = read_all(ctx, &sites, Some(version), false).await?;
    let mut plan = Vec::new();
    for (site, r) in read {
        let old = r.version.clone().unwrap_or_default();
        let d = envfile::diff(
            &String::from_utf8_lossy(r.file.bytes()),
            &String::from_utf8_lossy(&old),
        );
        if r.file.bytes() == old.as_slice() {
            say!(
                "OK  {}: version {version} is the current .env already",
                site.key()
            );
            continue;
        }
        print_diff(&site.key(), &d);
        plan.push((
            site,
            r.file,
            old,
            format!("restore {version}: {}", d.summary()),
        ));
    }
    if plan.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = plan.iter().map(|(s, ..)| s.key()).collect();
    if !crate::cli::confirm::ask(
        &format!("Restore version {version} on {}?", names.join(", ")),
        yes,
    )? {
        return Err(Error::failed("not confirmed; nothing was written"));
    }
    write_all(ctx, plan, &format!("restored version {version}")).await
}
