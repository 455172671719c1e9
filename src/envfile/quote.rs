//! Keys and values flipdeck writes, and how a value is quoted so that Laravel's parser
//! (phpdotenv 5) reads back exactly the value given: no interpolation of `${…}`, no comment cut
//! at `#`, no whitespace trimmed.

/// A key `env set` and `env unset` accept: `[A-Za-z_][A-Za-z0-9_]*`, what every dotenv parser
/// and every shell reads as a variable name.
pub fn check_key(key: &str) -> Result<(), String> {
    let mut b = key.bytes();
    let ok = matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && key.len() <= 256;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a key: a key is a letter or `_`, then letters, digits and `_` ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

/// A value `env set` accepts: any text without control characters (a newline, a carriage
/// return, a tab, NUL…), which some parsers read differently; use `env edit` for those.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err(format!(
            "the value of {key} has a control character (a newline, a tab, …): env set writes one-line values only; use `flipdeck env edit` for others"
        ));
    }
    Ok(())
}

/// Characters a value may have and stay unquoted: nothing any dotenv parser treats specially.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-./:@%+,=^~".contains(c)
}

/// `value` as it is written after `KEY=`: unquoted when every character is plain (`base64:…`
/// keys, URLs, numbers), in single quotes (read literally: `$`, `#`, `"`, `\` and spaces stay
/// as they are) when it has no `'`, else in double quotes with `\`, `"` and `$` escaped.
pub fn quote_value(value: &str) -> String {
    if value.chars().all(plain) {
        return value.to_string();
    }
    if !value.contains('\'') {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
