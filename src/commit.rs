//! How a commit is shown to a person.

/// The first 7 characters of a commit (git's default abbreviation), or all of it when shorter.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    #[test]
    fn short() {
        assert_eq!(super::short("0123456789abcdef"), "0123456");
        assert_eq!(super::short("abc"), "abc");
        assert_eq!(super::short(""), "");
    }
}
