//! The placeholders of an nginx template (`{{domain}}`, `{{root}}`, ...) and the one-pass fill.
//! Shared by the config check, which refuses a template naming an unknown placeholder or one the
//! site does not define, and by the engine, which fills it. Values are inserted once and never
//! scanned again, so a directive containing `{{` stays as written.

use super::{NginxSite, SiteKind};

/// Every placeholder, with what defines it (shown in errors and in the README's table).
pub const PLACEHOLDERS: [(&str, &str); 14] = [
    ("domain", "always"),
    ("listen", "always"),
    ("live", "always"),
    ("root", "always"),
    ("directives", "always"),
    ("kind", "always"),
    ("access_log", "always"),
    ("php_fpm_socket", "kind = \"php\""),
    ("upstream", "kind = \"proxy\""),
    ("ssl_listen", "ssl_certificate"),
    ("http2", "ssl_certificate"),
    ("ssl_certificate", "ssl_certificate"),
    ("ssl_certificate_key", "ssl_certificate"),
    ("https_url", "ssl_certificate"),
];

/// Whether `site` defines the placeholder `name` (a known one).
pub fn defined(name: &str, site: &NginxSite) -> bool {
    match name {
        "php_fpm_socket" => matches!(site.kind, SiteKind::Php { .. }),
        "upstream" => matches!(site.kind, SiteKind::Proxy { .. }),
        "ssl_listen" | "http2" | "ssl_certificate" | "ssl_certificate_key" | "https_url" => {
            site.tls.is_some()
        }
        _ => PLACEHOLDERS.iter().any(|(n, _)| *n == name),
    }
}

/// The placeholders `text` uses, in order of first use: what is between `{{` and `}}`.
pub fn used(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else { break };
        let name = after[..j].to_string();
        if !out.contains(&name) {
            out.push(name);
        }
        rest = &after[j + 2..];
    }
    out
}

/// Why `text` cannot be a template for `site`: placeholders that are not known, or that this
/// site does not define, each named.
pub fn check(text: &str, site: &NginxSite) -> Result<(), String> {
    let names = used(text);
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| !PLACEHOLDERS.iter().any(|(k, _)| k == n))
        .map(|n| format!("{{{{{n}}}}}"))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<String> = PLACEHOLDERS
            .iter()
            .map(|(n, _)| format!("{{{{{n}}}}}"))
            .collect();
        return Err(format!(
            "uses unknown placeholder{} {} (known: {})",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            known.join(", ")
        ));
    }
    for n in &names {
        if !defined(n, site) {
            let needs = PLACEHOLDERS.iter().find(|(k, _)| k == n).unwrap().1;
            return Err(format!(
                "uses {{{{{n}}}}}, which needs {needs} (this site is kind \"{}\"{})",
                site.kind.name(),
                if site.tls.is_some() {
                    ""
                } else {
                    ", without TLS"
                }
            ));
        }
    }
    if !site.directives.is_empty() && !names.iter().any(|n| n == "directives") {
        return Err(
            "has no {{directives}}, so nginx_directives would be left out: add it where they go"
                .into(),
        );
    }
    Ok(())
}

/// `text` with every placeholder replaced by `value(name)`. A multi-line value continues at the
/// indentation of the line its placeholder is on. Every name must have a value.
pub fn fill(text: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else { break };
        out.push_str(&rest[..i]);
        let name = &after[..j];
        let v = value(name).ok_or_else(|| format!("{{{{{name}}}}} has no value"))?;
        let line_start = out.rfind('\n').map_or(0, |p| p + 1);
        let indent: String = out[line_start..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        out.push_str(&v.replace('\n', &format!("\n{indent}")));
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One entry of `nginx_directives`: a directive ending in `;` or a block ending in `}`, with its
/// braces balanced (outside quotes and comments), so it cannot close the server block it is in.
pub fn directive(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("is empty".into());
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("contains a control character".into());
    }
    let (mut depth, mut last) = (0i32, ' ');
    let (mut quote, mut comment, mut escaped) = (None::<char>, false, false);
    // As nginx reads it: a quote or a `#` starts a string or a comment only at a token's start.
    let mut token_start = true;
    for c in s.chars() {
        if comment {
            comment = c != '\n';
            token_start = true;
            continue;
        }
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            last = c;
            continue;
        }
        match c {
            '#' if token_start => comment = true,
            '"' | '\'' if token_start => quote = Some(c),
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return Err("closes a block it did not open (an extra `}`)".into());
                }
            }
            _ => {}
        }
        if !c.is_whitespace() && !comment {
            last = c;
        }
        token_start = c.is_whitespace() || matches!(c, ';' | '{' | '}');
    }
    if quote.is_some() {
        return Err("has an unclosed quote".into());
    }
    if depth != 0 {
        return Err("leaves a block open (a `{` without its `}`)".into());
    }
    if last != ';' && last != '}' {
        return Err("must end with `;` (a directive) or `}` (a block)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_indents_continuation_lines_and_never_rescans() {
        let out = fill("a\n    {{x}}\nb {{y}}\n", |n| match n {
            "x" => Some("one;\ntwo {{y}};".into()),
            "y" => Some("Y".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(out, "a\n    one;\n    two {{y}};\nb Y\n");
        assert!(fill("{{z}}", |_| None).unwrap_err().contains("{{z}}"));
    }

    #[test]
    fn used_lists_each_name_once() {
        assert_eq!(
            used("{{a}} {{ b }} {{a}} {{c"),
            vec!["a".to_string(), " b ".to_string()]
        );
    }

    #[test]
    fn directives_must_be_whole() {
        for ok in [
            "client_max_body_size 64m;",
            "location /x {\n    return 204;\n}",
            "add_header X-A \"}\";",
            "gzip on; # a comment with { in it",
            "location ~ \"^/a{2}\" { return 204; }",
            "return 200 it's#not-a-comment;",
        ] {
            assert_eq!(directive(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("gzip on", "must end"),
            ("} server { listen 1;", "did not open"),
            ("location / {", "open"),
            ("add_header X \"a;", "quote"),
            ("a\u{1b};", "control"),
        ] {
            assert!(directive(bad).unwrap_err().contains(why), "{bad}");
        }
    }
}
