//! Plain HTTP/1.1 GET request and response over a TCP session.

use std::io;
use std::time::Duration;

use crate::{Capture, Endpoint, Side, TcpEnd};

/// Firefox 123 on Windows 10 (current in March 2024).
pub const FIREFOX_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0";

/// One HTTP GET and its response.
#[derive(Clone, Debug)]
pub struct HttpGet<'a> {
    /// `Host:` header.
    pub host: &'a str,
    /// Request target, e.g. `/`.
    pub uri: &'a str,
    /// `User-Agent:` header.
    pub user_agent: &'a str,
    /// Response status code.
    pub status: u16,
    /// `Server:` response header (omitted when empty).
    pub server: &'a str,
    /// `Content-Type:` of the body.
    pub content_type: &'a str,
    /// Response body.
    pub body: &'a [u8],
}

impl<'a> HttpGet<'a> {
    /// `GET uri` on `host` with a Firefox user agent, answered `200 OK` by
    /// nginx with a tiny HTML body.
    pub fn new(host: &'a str, uri: &'a str) -> Self {
        HttpGet {
            host,
            uri,
            user_agent: FIREFOX_UA,
            status: 200,
            server: "nginx",
            content_type: "text/html; charset=UTF-8",
            body: b"<html><head><title>Hello</title></head><body><p>Hello.</p></body></html>\n",
        }
    }

    /// The request bytes (Firefox's header order).
    pub fn request(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\n\
             Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
             Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n\
             Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n\r\n",
            self.uri, self.host, self.user_agent
        )
        .into_bytes()
    }

    /// The response bytes, with a `Date:` header for `now` (since the Unix epoch).
    pub fn response(&self, now: Duration) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nDate: {}\r\n",
            self.status,
            reason(self.status),
            http_date(now.as_secs())
        );
        if !self.server.is_empty() {
            head += &format!("Server: {}\r\n", self.server);
        }
        head += &format!(
            "Content-Type: {}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            self.content_type,
            self.body.len()
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(self.body);
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// RFC 7231 IMF-fixdate, e.g. `Tue, 12 Mar 2024 09:00:00 GMT`.
pub fn http_date(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WD[(days % 7) as usize],
        day,
        MO[(month - 1) as usize],
        year,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

impl Capture {
    /// A TCP session in which `client` sends `get`'s request and `server`
    /// answers with its response; FIN teardown.
    pub fn http_get(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        get: &HttpGet,
    ) -> io::Result<()> {
        let req = get.request();
        let mut conn = self.tcp_connect(client, server)?;
        self.tcp_send(&mut conn, Side::Client, &req)?;
        self.tcp_ack(&mut conn, Side::Server)?;
        let resp = get.response(self.now());
        self.tcp_send(&mut conn, Side::Server, &resp)?;
        self.tcp_ack(&mut conn, Side::Client)?;
        self.tcp_close(conn, TcpEnd::Fin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_format() {
        assert_eq!(http_date(1_710_234_000), "Tue, 12 Mar 2024 09:00:00 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
