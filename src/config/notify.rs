//! The typed `[[notify]]` blocks: where a webhook is, what payload it takes, which outcomes it
//! wants. What is sent is `crate::notify`'s business.

use std::time::Duration;

/// One `[[notify]]` block, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Its place in the file (`notify[0]` is the first block), how messages name it.
    pub index: usize,
    /// An `http://` or `https://` URL. Webhook URLs are secrets (Slack's and Discord's carry
    /// their token in the path), so messages name the block by `label`, never by this.
    pub url: String,
    pub format: NotifyFormat,
    /// The events it is sent for, never empty.
    pub on: Vec<NotifyEvent>,
    /// For all attempts together: the longest a notification delays the exit.
    pub timeout: Duration,
    /// Extra request headers (`Authorization`, say), never shown anywhere.
    pub headers: Vec<(String, String)>,
    /// Only these sites (`DOMAIN` or `SERVER/DOMAIN`); empty: every site.
    pub sites: Vec<String>,
    /// Only the servers of this stage; `None`: every server.
    pub stage: Option<String>,
}

impl Notify {
    /// How messages and the history name the block: `notify[0] (https://hooks.slack.com/…)`,
    /// the URL cut after its host, where webhook tokens start.
    pub fn label(&self) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap_or(("", &self.url));
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        // Credentials in the authority (`user:pass@host`) are no one's business either.
        let host = host.rsplit('@').next().unwrap_or(host);
        let more = rest.len() > host.len() && rest != format!("{host}/");
        format!(
            "notify[{}] ({scheme}://{host}{})",
            self.index,
            if more { "/…" } else { "" }
        )
    }

    /// Whether this block is about `server`'s (of `stage`) site `domain`.
    pub fn covers(&self, server: &str, domain: &str, stage: Option<&str>) -> bool {
        let stage_ok = self.stage.is_none() || self.stage.as_deref() == stage;
        let site_ok = self.sites.is_empty()
            || self.sites.iter().any(|s| match s.split_once('/') {
                Some((srv, d)) => srv == server && d.eq_ignore_ascii_case(domain),
                None => s.eq_ignore_ascii_case(domain),
            });
        stage_ok && site_ok
    }
}

/// The payload's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// flipdeck's own JSON object, every field (see the README).
    Json,
    /// A Slack incoming webhook's `{"text", "attachments"}`.
    Slack,
    /// A Discord webhook's `{"content", "embeds"}`.
    Discord,
}

impl NotifyFormat {
    pub const ALL: [NotifyFormat; 3] = [
        NotifyFormat::Json,
        NotifyFormat::Slack,
        NotifyFormat::Discord,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyFormat::Json => "json",
            NotifyFormat::Slack => "slack",
            NotifyFormat::Discord => "discord",
        }
    }
}

/// What a block can be sent for; see [`crate::notify`] for which outcome is which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyEvent {
    /// A deploy succeeded.
    Deploy,
    /// A rollback succeeded.
    Rollback,
    /// A deploy or rollback failed.
    Failure,
    /// A health check failed after a switch: the deploy was switched back, or the rollback kept.
    Health,
    /// The watch after a deploy's switch reverted it (`auto_revert`, or the operator's key).
    Reverted,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 5] = [
        NotifyEvent::Deploy,
        NotifyEvent::Rollback,
        NotifyEvent::Failure,
        NotifyEvent::Health,
        NotifyEvent::Reverted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Deploy => "deploy",
            NotifyEvent::Rollback => "rollback",
            NotifyEvent::Failure => "failure",
            NotifyEvent::Health => "health",
            NotifyEvent::Reverted => "reverted",
        }
    }
}

/// The default and the range of `timeout_s`.
pub const DEFAULT_NOTIFY_TIMEOUT_S: i64 = 5;
pub const MAX_NOTIFY_TIMEOUT_S: i64 = 60;
