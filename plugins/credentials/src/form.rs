//! Login forms: the fields of an `application/x-www-form-urlencoded` body or query string and of a
//! `multipart/form-data` body, and the rule that finds a login among them. A password field is one
//! whose name (lower-cased, the last `[...]` part of `user[password]` style names taken) contains
//! `pass` or `pwd`, or is `pw` or `passcode`; the user field is the first whose name contains
//! `user`, `login`, `email`, `mail`, `account` or `uid`, or is `name`, `id` or `u`. A form with a
//! password field and no user field is still a credential (the user may be in a cookie).

/// Fields of a urlencoded text (`a=1&b=2`), `+` and `%XX` decoded.
pub fn urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent(k), percent(v))
        })
        .collect()
}

fn percent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3]).map(|h| u8::from_str_radix(h, 16)) {
                    Ok(Ok(v)) => {
                        out.push(v);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Fields of a multipart/form-data body (RFC 7578); parts that carry a file are left out.
pub fn multipart(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    text.split(delimiter.as_str())
        .skip(1)
        .filter_map(|part| {
            let part = part.strip_prefix("\r\n").unwrap_or(part);
            let (head, value) = part.split_once("\r\n\r\n")?;
            let disposition = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
            if disposition.contains("filename=") {
                return None;
            }
            let name = parameter(disposition, "name")?;
            Some((
                name,
                value.strip_suffix("\r\n").unwrap_or(value).to_string(),
            ))
        })
        .collect()
}

/// A `key="value"` or `key=value` parameter of a header value.
pub fn parameter(header: &str, key: &str) -> Option<String> {
    header.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The last bracketed part of a field name, lower-cased: `user[password]` → `password`.
fn base(name: &str) -> String {
    let name = name.trim_end_matches(']');
    name.rsplit('[').next().unwrap_or(name).to_ascii_lowercase()
}

fn is_password(name: &str) -> bool {
    let n = base(name);
    n.contains("pass") || n.contains("pwd") || n == "pw" || n == "passcode"
}

fn is_user(name: &str) -> bool {
    let n = base(name);
    ["user", "login", "email", "mail", "account", "uid"]
        .iter()
        .any(|w| n.contains(w))
        || ["name", "id", "u"].contains(&n.as_str())
}

/// The (user, password) of a login form, if its fields hold a non-empty password.
pub fn login(fields: &[(String, String)]) -> Option<(String, String)> {
    let (_, password) = fields
        .iter()
        .find(|(k, v)| is_password(k) && !v.is_empty())?;
    let user = fields
        .iter()
        .find(|(k, _)| is_user(k) && !is_password(k))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Some((user, password.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_found_in_urlencoded_and_multipart_forms() {
        let f = urlencoded("csrf=x&login%5Buser%5D=bob+b&login%5Bpassword%5D=p%26w&go=1");
        assert_eq!(login(&f), Some(("bob b".into(), "p&w".into())));
        assert_eq!(login(&urlencoded("q=pass&page=2")), None);
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.c\r\n--XyZ\r\nContent-Disposition: form-data; name=\"pwd\"\r\n\r\nhunter2\r\n--XyZ--\r\n";
        assert_eq!(
            login(&multipart(body, "XyZ")),
            Some(("a@b.c".into(), "hunter2".into()))
        );
    }
}
