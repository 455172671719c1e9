//! The checks of the `[[notify]]` blocks, after the servers (a block's `sites` and `stage` must
//! name configured ones). Errors never quote a URL or a header value: both may be secrets.

use super::Check;
use crate::config::notify::{DEFAULT_NOTIFY_TIMEOUT_S, MAX_NOTIFY_TIMEOUT_S};
use crate::config::raw::RawNotify;
use crate::config::{Notify, NotifyEvent, NotifyFormat, ServerConfig};
use crate::error::Result;
use crate::validate;
use std::time::Duration;
use toml::Spanned;

impl Check<'_> {
    pub(super) fn notify(
        &self,
        blocks: &[Spanned<RawNotify>],
        servers: &[ServerConfig],
    ) -> Result<Vec<Notify>> {
        blocks
            .iter()
            .enumerate()
            .map(|(i, b)| self.notify_block(i, b.get_ref(), servers))
            .collect()
    }

    fn notify_block(&self, i: usize, b: &RawNotify, servers: &[ServerConfig]) -> Result<Notify> {
        let at = format!("notify[{i}]");
        notify_url(b.url.get_ref())
            .map_err(|why| self.err(b.url.span(), &format!("{at}.url"), why))?;
        let format = match &b.format {
            None => NotifyFormat::Json,
            Some(f) => NotifyFormat::ALL
                .into_iter()
                .find(|k| k.as_str() == f.get_ref())
                .ok_or_else(|| {
                    self.err(
                        f.span(),
                        &format!("{at}.format"),
                        "must be \"json\", \"slack\" or \"discord\"",
                    )
                })?,
        };
        let on = match &b.on {
            None => NotifyEvent::ALL.to_vec(),
            Some(list) => {
                let key = format!("{at}.on");
                if list.get_ref().is_empty() {
                    let why =
                        "must name at least one event: deploy, rollback, failure, health, reverted";
                    return Err(self.err(list.span(), &key, why));
                }
                let mut on = Vec::new();
                for e in list.get_ref() {
                    let ev = NotifyEvent::ALL
                        .into_iter()
                        .find(|k| k.as_str() == e)
                        .ok_or_else(|| {
                            let why = format!(
                                "entry {e:?} is not an event; the events are deploy, rollback, failure, health, reverted"
                            );
                            self.err(list.span(), &key, &why)
                        })?;
                    if !on.contains(&ev) {
                        on.push(ev);
                    }
                }
                on
            }
        };
        let timeout = self
            .in_range(
                b.timeout_s.as_ref(),
                &format!("{at}.timeout_s"),
                1..=MAX_NOTIFY_TIMEOUT_S,
                "must be a whole number of seconds from 1 to 60",
            )?
            .unwrap_or(DEFAULT_NOTIFY_TIMEOUT_S);
        let mut headers = Vec::new();
        if let Some(h) = &b.headers {
            for (name, value) in h.get_ref() {
                header(name, value)
                    .map_err(|why| self.err(h.span(), &format!("{at}.headers.{name}"), &why))?;
                headers.push((name.clone(), value.clone()));
            }
        }
        let sites = match &b.sites {
            None => vec![],
            Some(list) => {
                for s in list.get_ref() {
                    let known = servers.iter().any(|srv| {
                        srv.sites.iter().any(|site| match s.split_once('/') {
                            Some((n, d)) => n == srv.name && site.domain.eq_ignore_ascii_case(d),
                            None => site.domain.eq_ignore_ascii_case(s),
                        })
                    });
                    if !known {
                        let why =
                            format!("entry {s:?} is no configured site (DOMAIN or SERVER/DOMAIN)");
                        return Err(self.err(list.span(), &format!("{at}.sites"), &why));
                    }
                }
                list.get_ref().clone()
            }
        };
        if let Some(stage) = &b.stage {
            let key = format!("{at}.stage");
            self.valid(Some(stage), &key, validate::stage)?;
            if !servers
                .iter()
                .any(|s| s.stage.as_deref() == Some(stage.get_ref().as_str()))
            {
                return Err(self.err(stage.span(), &key, "names a stage no server has"));
            }
        }
        Ok(Notify {
            index: i,
            url: b.url.get_ref().clone(),
            format,
            on,
            timeout: Duration::from_secs(timeout as u64),
            headers,
            sites,
            stage: b.stage.as_ref().map(|s| s.get_ref().clone()),
        })
    }
}

/// An absolute `http://` or `https://` URL with a host, that the HTTP client can send to.
fn notify_url(url: &str) -> std::result::Result<(), &'static str> {
    const WHY: &str = "must be an http:// or https:// URL with a host";
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be a URL without spaces or control characters");
    }
    let uri: ureq::http::Uri = url.parse().map_err(|_| WHY)?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(h)) if !h.is_empty() => Ok(()),
        _ => Err(WHY),
    }
}

/// A header the client can send as written: a valid name, a value without line breaks.
fn header(name: &str, value: &str) -> std::result::Result<(), String> {
    if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err("is not a valid HTTP header name".into());
    }
    if ureq::http::HeaderValue::from_str(value).is_err() {
        return Err("must be a value without line breaks or control characters".into());
    }
    Ok(())
}
