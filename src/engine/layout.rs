//! The canonical remote layout, as paths for one site: `{root}/deployments/{domain}/` holds the
//! releases, `shared/` and flipdeck's hidden `.flipdeck/`; `{root}/{domain}` is the live symlink
//! (relative). The scripts compute the same paths (the end of `assets/remote/lib.sh`).

#[derive(Debug, Clone)]
pub struct Layout {
    /// `None` until known when the root is the login user's home: the scripts then read `$HOME`
    /// themselves and report it, which saves asking for it in a round trip of its own.
    pub root: Option<String>,
    pub domain: String,
}

impl Layout {
    pub fn new(root: Option<&str>, domain: &str) -> Layout {
        Layout {
            root: root.map(|r| r.trim_end_matches('/').to_string()),
            domain: domain.to_string(),
        }
    }

    /// Records the root a script reported (the login user's home), if it was not known yet.
    pub fn learn_root(&mut self, home: &str) {
        if self.root.is_none() && crate::validate::root_path(home).is_ok() {
            self.root = Some(home.trim_end_matches('/').to_string());
        }
    }

    /// The root for paths shown or stored; `~` while the login user's home is not known yet.
    fn root(&self) -> &str {
        self.root.as_deref().unwrap_or("~")
    }

    /// `{root}/deployments/{domain}`: releases, `shared/` and flipdeck's hidden `.flipdeck/`.
    pub fn base(&self) -> String {
        format!("{}/deployments/{}", self.root(), self.domain)
    }

    /// `{root}/{domain}`: the live symlink.
    pub fn live(&self) -> String {
        format!("{}/{}", self.root(), self.domain)
    }

    pub fn shared(&self) -> String {
        format!("{}/shared", self.base())
    }

    pub fn release(&self, name: &str) -> String {
        format!("{}/{name}", self.base())
    }

    pub fn log_file(&self, name: &str) -> String {
        format!("{}/deployment.log", self.release(name))
    }

    /// What the live symlink contains: relative, so the tree can be moved or mounted elsewhere.
    pub fn link_target(&self, name: &str) -> String {
        format!("deployments/{}/{name}", self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn paths() {
        let l = Layout::new(Some("/home/u/"), "example.com");
        assert_eq!(l.base(), "/home/u/deployments/example.com");
        assert_eq!(l.live(), "/home/u/example.com");
        assert_eq!(l.release("r"), "/home/u/deployments/example.com/r");
        assert_eq!(l.link_target("r"), "deployments/example.com/r");
        let r = Layout::new(Some("/"), "a.io");
        assert_eq!(r.live(), "/a.io");
        assert_eq!(r.base(), "/deployments/a.io");
    }

    #[test]
    fn the_home_is_learned_once_and_only_if_valid() {
        let mut l = Layout::new(None, "a.io");
        assert_eq!(l.base(), "~/deployments/a.io");
        l.learn_root("relative/home");
        assert_eq!(l.root, None);
        l.learn_root("/home/deploy/");
        assert_eq!(l.base(), "/home/deploy/deployments/a.io");
        l.learn_root("/elsewhere");
        assert_eq!(l.root.as_deref(), Some("/home/deploy"));
    }

    /// The shell computes the same paths as Rust, from a configured root or from `$HOME`.
    #[test]
    fn shell_paths_match() {
        let run = |l: &Layout, home: &str| {
            let owner = "u@h".parse().unwrap();
            let prelude = crate::engine::scripts::Prelude {
                marker: "M",
                trace: "T ",
                layout: l,
                token: "t",
                owner: &owner,
                who: "u@h",
            };
            let script = crate::engine::scripts::assemble(
                prelude.params().as_str(),
                &["printf '%s\\n' \"$base\" \"$live\" \"$shared\" \"$lock\""],
            );
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .env("HOME", home)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8(out.stdout)
                    .unwrap()
                    .replace("M set ", "set "),
                String::from_utf8(out.stderr).unwrap(),
            )
        };
        let expect = |root: &str| {
            let l = Layout::new(Some(root), "a.io");
            format!(
                "{}\n{}\n{}\n{}/.flipdeck/lock\n",
                l.base(),
                l.live(),
                l.shared(),
                l.base()
            )
        };
        let configured = Layout::new(Some("/srv/it's"), "a.io");
        assert_eq!(run(&configured, "/ignored").1, expect("/srv/it's"));
        let home = Layout::new(None, "a.io");
        let (code, out, _) = run(&home, "/home/deploy");
        assert_eq!(code, Some(0));
        assert_eq!(
            out,
            format!("set root /home/deploy\n{}", expect("/home/deploy"))
        );
        let (_, out, _) = run(&home, "/");
        assert_eq!(out, format!("set root /\n{}", expect("/")));
        for bad in ["relative", "/a/../b", "/a/..", "/a\tb"] {
            let (code, out, err) = run(&home, bad);
            assert_eq!(code, Some(crate::engine::protocol::BAD_HOME), "{bad:?}");
            assert!(out.is_empty() && err.contains("set root"), "{bad:?}: {err}");
        }
    }
}
