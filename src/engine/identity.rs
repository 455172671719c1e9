//! Who runs a job: this flipdeck's identity (written into locks and the release log), and how the
//! history records the process behind a deployment.

/// Who is deploying: written into locks so a held lock names its holder.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: String,
    pub host: String,
    pub pid: u32,
}

impl Identity {
    pub fn current() -> Identity {
        let user = crate::paths::local_user().unwrap_or_else(|| {
            // SAFETY: getuid never fails.
            format!("uid{}", unsafe { libc::getuid() })
        });
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown-host".into());
        Identity {
            user,
            host,
            pid: std::process::id(),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.user, self.host)
    }
}

/// Who runs a deployment, as the history records it (`Job::reference`): "host pid token".
pub struct JobRef<'a> {
    pub host: &'a str,
    pub pid: i32,
    pub token: &'a str,
}

impl<'a> JobRef<'a> {
    pub fn parse(s: &'a str) -> Option<JobRef<'a>> {
        let mut w = s.split_whitespace();
        Some(JobRef {
            host: w.next()?,
            pid: w.next()?.parse().ok()?,
            token: w.next()?,
        })
    }
}

impl std::fmt::Display for JobRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.host, self.pid, self.token)
    }
}

#[cfg(test)]
mod tests {
    use super::JobRef;

    #[test]
    fn a_job_reference_reads_back() {
        let r = JobRef {
            host: "web1",
            pid: 4242,
            token: "4242-1-00ff",
        };
        let text = r.to_string();
        assert_eq!(text, "web1 4242 4242-1-00ff");
        let back = JobRef::parse(&text).unwrap();
        assert_eq!(
            (back.host, back.pid, back.token),
            ("web1", 4242, "4242-1-00ff")
        );
    }
}
