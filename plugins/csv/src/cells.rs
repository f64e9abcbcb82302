//! What goes into one CSV cell. The `csv` crate quotes per RFC 4180; these helpers make the cell
//! content itself safe for the tools that read it: values from a capture are hostile, so control
//! characters become escapes (every record stays on one physical line for line-based SIEM importers),
//! and text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.

/// Text with control characters escaped (`\n`, `\u{1b}`).
pub fn text(value: &str) -> String {
    if !value.chars().any(char::is_control) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Prefixes `'` to text a spreadsheet would evaluate (OWASP's advice against CSV injection).
pub fn defuse(value: String) -> String {
    match value.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{value}"),
        _ => value,
    }
}

/// Finding attributes as one cell: `key=value; key=value`. In keys and values, `\` is written `\\`
/// and `;` is written `\;` (and `=` in keys `\=`), so the list splits back unambiguously.
pub fn attributes<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        escape_into(&mut out, k, true);
        out.push('=');
        escape_into(&mut out, v, false);
    }
    text(&out)
}

fn escape_into(out: &mut String, s: &str, key: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            '=' if key => out.push_str("\\="),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a\r\nb\x1b"), "a\\r\\nb\\u{1b}");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(defuse("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(defuse("-2+3".into()), "'-2+3");
        assert_eq!(defuse("web.http".into()), "web.http");
        assert_eq!(defuse(String::new()), "");
    }

    #[test]
    fn attributes_split_back_unambiguously() {
        let got = attributes(
            [
                ("http.uri", "/a;b=c\\d"),
                ("odd=key", "v"),
                ("multi", "l1\nl2"),
            ]
            .into_iter(),
        );
        assert_eq!(got, "http.uri=/a\\;b=c\\\\d; odd\\=key=v; multi=l1\\nl2");
    }
}
