//! The API server's syntax rules, as pure checks: DNS-1123 names, Secret data keys, qualified
//! names (label and annotation keys), label values, and plain absolute URL paths. Each says why
//! a value is refused, never quoting more of it than [`super::shown`] would.

use super::{DNS1123_SUBDOMAIN_MAX, LABEL_VALUE_MAX, QUALIFIED_NAME_MAX, SECRET_KEY_MAX};

/// Why `path` is not an absolute RFC 3986 path the operator can append to a base URL.
pub fn url_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("it must start with '/'".into());
    };
    if rest.starts_with('/') {
        return Err("it must not start with '//', which would name another host".into());
    }
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let hex = [chars.next(), chars.next()];
                if !hex.iter().all(|h| h.is_some_and(|h| h.is_ascii_hexdigit())) {
                    return Err("'%' must be followed by two hex digits".into());
                }
            }
            c if is_path_char(c) => {}
            c => {
                return Err(format!(
                    "{} is not allowed (only letters, digits, -._~!$&'()*+,;=:/ and %XX escapes)",
                    describe_char(c)
                ));
            }
        }
    }
    if path.split('/').any(is_dot_segment) {
        return Err("a '.' or '..' segment (also written %2e) is not allowed".into());
    }
    Ok(())
}

/// RFC 3986 `pchar` and `/`, less `@` (which reads as userinfo to careless joiners) and `%`
/// (checked as an escape on its own).
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:/".contains(c)
}

fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

fn describe_char(c: char) -> String {
    match c {
        '?' => "'?' (it would start a query)".into(),
        '#' => "'#' (it would start a fragment)".into(),
        '@' => "'@' (it reads as a user name before a host)".into(),
        '\\' => "'\\' (URL parsers treat it as '/')".into(),
        c if c.is_whitespace() => format!("whitespace {:?}", c),
        c if c.is_control() => format!("the control character {:?}", c),
        c => format!("{c:?}"),
    }
}

/// Why `value` is not a DNS-1123 subdomain (a Secret's or workload's name, a key prefix).
pub fn dns_subdomain(value: &str) -> Result<(), String> {
    const RULE: &str = "a DNS-1123 subdomain is lowercase letters, digits, '-' and '.', \
                        each dot-separated part starting and ending with a letter or digit";
    if value.is_empty() {
        return Err("it must not be empty".into());
    }
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        return Err(format!(
            "it is {} characters long, at most {DNS1123_SUBDOMAIN_MAX} are allowed",
            value.len()
        ));
    }
    let part_ok = |part: &str| {
        let bytes = part.as_bytes();
        let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        edge(bytes.first())
            && edge(bytes.last())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    };
    if value.split('.').all(part_ok) {
        Ok(())
    } else {
        Err(RULE.into())
    }
}

/// Why `key` is not a valid key of a Secret's data (apimachinery `IsConfigMapKey`).
pub fn secret_data_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("it must not be empty".into());
    }
    if key.len() > SECRET_KEY_MAX {
        return Err(format!(
            "it is {} characters long, at most {SECRET_KEY_MAX} are allowed",
            key.len()
        ));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err("only letters, digits, '-', '_' and '.' are allowed".into());
    }
    if key == "." || key == ".." || key.starts_with("..") {
        return Err("it must not be '.' or start with '..'".into());
    }
    Ok(())
}

/// Why `key` is not a qualified name: `[prefix/]name`, the prefix a DNS-1123 subdomain, the
/// name at most 63 characters of `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
pub fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        None => (None, key),
        Some((prefix, name)) => (Some(prefix), name),
    };
    if let Some(prefix) = prefix {
        dns_subdomain(prefix).map_err(|problem| format!("the prefix before '/': {problem}"))?;
    }
    if name.is_empty() {
        return Err("the name must not be empty".into());
    }
    if name.len() > QUALIFIED_NAME_MAX {
        return Err(format!(
            "the name is {} characters long, at most {QUALIFIED_NAME_MAX} are allowed",
            name.len()
        ));
    }
    if !name_pattern(name) {
        return Err(
            "the name (after any 'prefix/') must be letters, digits, '-', '_' and '.', \
                    starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// Why `value` is not a label value: empty, or at most 63 characters of the name pattern.
pub fn label_value(value: &str) -> Result<(), String> {
    if value.len() > LABEL_VALUE_MAX {
        return Err(format!(
            "it is {} characters long, at most {LABEL_VALUE_MAX} are allowed",
            value.len()
        ));
    }
    if value.is_empty() || name_pattern(value) {
        Ok(())
    } else {
        Err(
            "a label value must be empty or letters, digits, '-', '_' and '.', \
             starting and ending with a letter or digit"
                .into(),
        )
    }
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn name_pattern(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}
