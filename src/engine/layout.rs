//! The canonical remote layout (decisions 1), as paths for one site.

use crate::shell::quote;

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: String,
    pub domain: String,
}

impl Layout {
    pub fn new(root: &str, domain: &str) -> Layout {
        Layout {
            root: root.trim_end_matches('/').to_string(),
            domain: domain.to_string(),
        }
    }

    /// `{root}/deployments/{domain}`: releases, `shared/` and flipdeck's hidden `.flipdeck/`.
    pub fn base(&self) -> String {
        format!("{}/deployments/{}", self.root, self.domain)
    }

    /// `{root}/{domain}`: the live symlink.
    pub fn live(&self) -> String {
        format!("{}/{}", self.root, self.domain)
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

    /// Shell variable assignments for the paths every script uses.
    pub fn shell_vars(&self) -> String {
        format!(
            "root={}\ndomain={}\nbase={}\nlive={}\nshared={}\nmeta=\"$base/.flipdeck\"\nlock=\"$meta/lock\"\n",
            quote(&self.root),
            quote(&self.domain),
            quote(&self.base()),
            quote(&self.live()),
            quote(&self.shared()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn paths() {
        let l = Layout::new("/home/u/", "example.com");
        assert_eq!(l.base(), "/home/u/deployments/example.com");
        assert_eq!(l.live(), "/home/u/example.com");
        assert_eq!(l.release("r"), "/home/u/deployments/example.com/r");
        assert_eq!(l.link_target("r"), "deployments/example.com/r");
        let r = Layout::new("/", "a.io");
        assert_eq!(r.live(), "/a.io");
        assert_eq!(r.base(), "/deployments/a.io");
    }
}
