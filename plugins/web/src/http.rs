//! HTTP/1.x recognition by parsing, not by port: the requests in a client stream prefix and the
//! responses in a server stream prefix, walked message by message (keep-alive and pipelining) with
//! httparse. Pure functions on byte slices, so they are tested natively and never panic: a partial
//! or malformed message simply ends the walk.

use crate::text::{MAX_VALUE_CHARS, clean};
use pcapxray_plugin_sdk::encoding::base64;

/// Header slots per message; a message with more headers ends the walk.
const MAX_HEADERS: usize = 128;

/// Messages walked per stream at most, whatever `max_transactions` says: the prefix is bounded, this
/// bounds the loop on pathological input (thousands of tiny requests).
const MAX_MESSAGES: usize = 10_000;

/// One request, as far as an investigator cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `CONNECT`, ...
    pub method: String,
    /// The request target as sent: `/index.html`, `http://example.com/` (to a proxy) or
    /// `example.com:443` (CONNECT).
    pub uri: String,
    /// The `Host` header.
    pub host: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The scheme of an `Authorization` or `Proxy-Authorization` header (`Basic`, `Bearer`, ...).
    pub auth_scheme: Option<String>,
    /// The user name of `Basic` credentials. The password is never kept.
    pub basic_auth_user: Option<String>,
    /// The names of the form fields its body carried (streams only), at most [`MAX_FORM_FIELDS`].
    pub form_fields: Vec<String>,
}

/// Form field names kept per request.
pub const MAX_FORM_FIELDS: usize = 32;

impl Request {
    /// True for requests meant for a proxy: `CONNECT`, or an absolute URI (`GET http://...`).
    pub fn is_proxied(&self) -> bool {
        self.method.eq_ignore_ascii_case("CONNECT") || self.uri.contains("://")
    }
}

/// One response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The `Server` header.
    pub server: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Content-Length` header, when valid.
    pub content_length: Option<u64>,
}

/// The requests found at the start of a client stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Requests<'a> {
    /// The first `max` complete requests.
    pub items: Vec<Request>,
    /// Complete requests seen, including those past `max`.
    pub count: usize,
    /// The method of every request seen, so responses past `max` are framed right too.
    pub methods: Vec<String>,
    /// After a `CONNECT` request: the bytes the client sent into the tunnel.
    pub tunnel: Option<&'a [u8]>,
}

/// The responses found at the start of a server stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Responses<'a> {
    /// The first `max` final responses (interim `1xx` ones other than `101` are skipped).
    pub items: Vec<Response>,
    /// Final responses seen, including those past `max`.
    pub count: usize,
    /// After a `2xx` answer to a `CONNECT`: the bytes the server sent through the tunnel.
    pub tunnel: Option<&'a [u8]>,
}

/// How long a message body is, from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
    /// Another transfer coding: up to the end of the connection.
    Unknown,
    /// Conflicting or malformed framing.
    Invalid,
}

/// A form a request body carries, from its `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKind {
    /// `application/x-www-form-urlencoded`.
    UrlEncoded,
    /// `multipart/form-data` with this boundary.
    Multipart(Vec<u8>),
}

/// A request head parsed whole.
#[derive(Debug)]
pub struct RequestHead {
    /// The request.
    pub request: Request,
    /// Bytes of the head, blank line included.
    pub len: usize,
    /// How its body is framed (none without framing headers).
    pub body: Body,
    /// The form its body carries, if any.
    pub form: Option<FormKind>,
}

/// A response head parsed whole.
#[derive(Debug)]
pub struct ResponseHead {
    /// The response.
    pub response: Response,
    /// Bytes of the head.
    pub len: usize,
    /// How its body is framed; `None` without framing headers (up to the end of the connection).
    pub body: Option<Body>,
}

/// The result of parsing a message head: `Ok(None)` when more bytes are needed.
pub type Parsed<T> = Result<Option<T>, ()>;

fn header<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

fn text_header(headers: &[httparse::Header<'_>], name: &str) -> Option<String> {
    header(headers, name)
        .map(|v| clean(v, MAX_VALUE_CHARS))
        .filter(|v| !v.is_empty())
}

/// The framing of a message from `Transfer-Encoding` and `Content-Length`. `None` when it has
/// neither.
fn body_framing(headers: &[httparse::Header<'_>]) -> Option<Body> {
    if let Some(te) = header(headers, "transfer-encoding") {
        let last = te.rsplit(|&b| b == b',').next().unwrap_or_default();
        return Some(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Body::Chunked
        } else {
            Body::Unknown
        });
    }
    let mut length = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        // A list (`10, 10`) is allowed when every element agrees.
        for part in h.value.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return Some(Body::Invalid);
            }
            let n: u64 = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())?;
            match length {
                Some(prev) if prev != n => return Some(Body::Invalid),
                _ => length = Some(n),
            }
        }
    }
    length.map(Body::Length)
}

/// Skips a body of `length` bytes; `None` when the prefix ends first.
fn skip(rest: &[u8], length: u64) -> Option<&[u8]> {
    let length = usize::try_from(length).ok()?;
    rest.get(length..)
}

/// The credentials headers: scheme, and the user of `Basic` credentials.
fn authorization(headers: &[httparse::Header<'_>]) -> (Option<String>, Option<String>) {
    let Some(value) =
        header(headers, "authorization").or_else(|| header(headers, "proxy-authorization"))
    else {
        return (None, None);
    };
    let value = String::from_utf8_lossy(value);
    let value = value.trim();
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    let user = if scheme.eq_ignore_ascii_case("basic") {
        base64(credentials).and_then(|decoded| {
            // `user:password`; without a colon the whole value may be a secret, so say nothing.
            let colon = decoded.iter().position(|&b| b == b':')?;
            Some(clean(&decoded[..colon], 256))
        })
    } else {
        None
    };
    let scheme = clean(scheme.as_bytes(), 32);
    ((!scheme.is_empty()).then_some(scheme), user)
}

/// The form a request's `Content-Type` announces.
fn form_kind(headers: &[httparse::Header<'_>]) -> Option<FormKind> {
    let value = header(headers, "content-type")?;
    let text = String::from_utf8_lossy(value).to_ascii_lowercase();
    if text.starts_with("application/x-www-form-urlencoded") {
        return Some(FormKind::UrlEncoded);
    }
    if !text.starts_with("multipart/form-data") {
        return None;
    }
    let at = text.find("boundary=")? + "boundary=".len();
    let raw = String::from_utf8_lossy(value);
    let boundary = raw.get(at..)?.split(';').next()?.trim().trim_matches('"');
    (!boundary.is_empty() && boundary.len() <= 200).then(|| FormKind::Multipart(boundary.into()))
}

/// Parses one request head at the start of `bytes`.
pub fn request_head(bytes: &[u8]) -> Parsed<RequestHead> {
    let mut config = httparse::ParserConfig::default();
    config.allow_multiple_spaces_in_request_line_delimiters(true);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match config.parse_request(&mut req, bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let (Some(method), Some(uri)) = (req.method, req.path) else {
        return Err(());
    };
    let (auth_scheme, basic_auth_user) = authorization(req.headers);
    let request = Request {
        method: clean(method.as_bytes(), 32),
        uri: clean(uri.as_bytes(), MAX_VALUE_CHARS),
        host: text_header(req.headers, "host"),
        user_agent: text_header(req.headers, "user-agent"),
        auth_scheme,
        basic_auth_user,
        ..Request::default()
    };
    // A request without framing headers has no body (RFC 9112 section 6.3).
    Ok(Some(RequestHead {
        request,
        len,
        body: body_framing(req.headers).unwrap_or(Body::Length(0)),
        form: form_kind(req.headers),
    }))
}

/// Parses the requests at the start of a client→server stream: every complete request, skipping
/// `Content-Length` bodies, until a partial or malformed message, a body of unknown length or a
/// `CONNECT`. Keeps the first `max`.
pub fn parse_requests(stream: &[u8], max: usize) -> Requests<'_> {
    let mut found = Requests::default();
    let mut rest = stream;
    while !rest.is_empty() && found.count < MAX_MESSAGES {
        let Ok(Some(head)) = request_head(rest) else {
            break;
        };
        let request = head.request;
        found.count += 1;
        found.methods.push(request.method.clone());
        let connect = request.method.eq_ignore_ascii_case("CONNECT");
        if found.items.len() < max {
            found.items.push(request);
        }
        let after_head = rest.get(head.len..).unwrap_or_default();
        if connect {
            found.tunnel = Some(after_head);
            break;
        }
        rest = match head.body {
            Body::Length(n) => match skip(after_head, n) {
                Some(next) => next,
                None => break,
            },
            Body::Chunked | Body::Unknown | Body::Invalid => break,
        };
    }
    found
}

/// Parses one response head at the start of `bytes`.
pub fn response_head(bytes: &[u8]) -> Parsed<ResponseHead> {
    let mut config = httparse::ParserConfig::default();
    config
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match config.parse_response(&mut resp, bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let Some(status) = resp.code else {
        return Err(());
    };
    let body = body_framing(resp.headers);
    Ok(Some(ResponseHead {
        response: Response {
            status,
            reason: clean(resp.reason.unwrap_or_default().as_bytes(), 256),
            server: text_header(resp.headers, "server"),
            content_type: text_header(resp.headers, "content-type"),
            content_length: match body {
                Some(Body::Length(n)) => Some(n),
                _ => None,
            },
        },
        len,
        body,
    }))
}

/// What follows a final response to `method`: its body's framing, or that the connection stops
/// being HTTP/1 (`101`, a tunnel opened by `CONNECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// A body framed so; `Length(0)` for none.
    Body(Body),
    /// Up to the end of the connection.
    Close,
    /// Switching protocols: no longer HTTP/1.
    Switch,
    /// A tunnel opened by `CONNECT`.
    Tunnel,
}

/// What follows the head of a final response to `method`.
pub fn after_response(method: &str, head: &ResponseHead) -> After {
    let status = head.response.status;
    if status == 101 {
        return After::Switch;
    }
    if method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status) {
        return After::Tunnel;
    }
    if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
        return After::Body(Body::Length(0));
    }
    match head.body {
        Some(Body::Unknown) | None => After::Close,
        Some(body) => After::Body(body),
    }
}

/// True for interim answers (100 Continue, 103 Early Hints): they precede the real one and have no
/// body.
pub fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// Parses the responses at the start of a server→client stream. `methods` are the methods of the
/// requests in order, so answers to `HEAD` and `CONNECT` are framed right; missing ones count as
/// `GET`. Keeps the first `max`.
pub fn parse_responses<'a, M: AsRef<str>>(
    stream: &'a [u8],
    methods: &[M],
    max: usize,
) -> Responses<'a> {
    let mut found = Responses::default();
    let mut rest = stream;
    let mut walked = 0;
    while !rest.is_empty() && walked < MAX_MESSAGES {
        walked += 1;
        let Ok(Some(head)) = response_head(rest) else {
            break;
        };
        let after_head = rest.get(head.len..).unwrap_or_default();
        if is_interim(head.response.status) {
            rest = after_head;
            continue;
        }
        let method = methods.get(found.count).map_or("GET", AsRef::as_ref);
        let after = after_response(method, &head);
        found.count += 1;
        if found.items.len() < max {
            found.items.push(head.response);
        }
        rest = match after {
            After::Tunnel => {
                found.tunnel = Some(after_head);
                break;
            }
            After::Body(Body::Length(n)) => match skip(after_head, n) {
                Some(next) => next,
                None => break,
            },
            // Switching protocols, chunked, malformed, or delimited by the end of the connection.
            _ => break,
        };
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

    #[test]
    fn parses_a_get_with_host_and_user_agent() {
        let found = parse_requests(GET, 20);
        assert_eq!(found.count, 1);
        assert_eq!(
            found.items,
            vec![Request {
                method: "GET".into(),
                uri: "/index.html".into(),
                host: Some("www.example.com".into()),
                user_agent: Some("curl/8.5.0".into()),
                ..Request::default()
            }]
        );
        assert_eq!(found.tunnel, None);
    }

    #[test]
    fn walks_pipelined_requests_and_skips_bodies() {
        let stream = b"POST /login HTTP/1.1\r\nHost: a.example\r\nContent-Length: 11\r\n\r\nuser=x&p=yGET /two HTTP/1.1\r\nHost: b.example:8080\r\n\r\nGET /three HTTP/1.1\r\nHost: a.example\r\n\r\nGET /partial HTTP/1.1\r\nHo";
        let found = parse_requests(stream, 20);
        assert_eq!(found.count, 3);
        let uris: Vec<_> = found.items.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["/login", "/two", "/three"]);
        assert_eq!(found.items[1].host.as_deref(), Some("b.example:8080"));
        // `max` keeps the first ones but counts them all.
        let found = parse_requests(stream, 2);
        assert_eq!((found.items.len(), found.count), (2, 3));
    }

    #[test]
    fn stops_at_a_body_cut_by_the_prefix_or_of_unknown_length() {
        let cut = b"POST /up HTTP/1.1\r\nContent-Length: 1000\r\n\r\nabcGET / HTTP/1.1\r\n\r\n";
        assert_eq!(parse_requests(cut, 20).count, 1);
        let chunked = b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(parse_requests(chunked, 20).count, 1);
        let conflicting = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\n\r\n";
        assert_eq!(parse_requests(conflicting, 20).count, 1);
    }

    #[test]
    fn rejects_garbage_and_truncated_requests() {
        assert_eq!(parse_requests(b"", 20).count, 0);
        assert_eq!(
            parse_requests(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 20).count,
            0
        );
        assert_eq!(parse_requests(b"SSH-2.0-OpenSSH_9.6\r\n", 20).count, 0);
        assert_eq!(parse_requests(b"EHLO mail.example.com\r\n", 20).count, 0);
        assert_eq!(
            parse_requests(b"GET /index.html HTTP/1.1\r\nHost: www.exa", 20).count,
            0
        );
        assert_eq!(parse_requests(b"GET", 20).count, 0);
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(parse_requests(&noise, 20).count, 0);
        assert_eq!(parse_responses(&noise, &["GET"], 20).count, 0);
    }

    #[test]
    fn parses_responses_with_bodies() {
        let stream = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let found = parse_responses(stream, &["GET", "GET", "GET", "GET"], 20);
        assert_eq!(found.count, 3, "the chunked body ends the walk");
        assert_eq!(
            found.items[0],
            Response {
                status: 200,
                reason: "OK".into(),
                server: Some("nginx".into()),
                content_type: Some("text/html".into()),
                content_length: Some(5),
            }
        );
        assert_eq!(found.items[1].status, 404);
        assert_eq!(found.items[2].content_length, None);
    }

    #[test]
    fn answers_to_head_have_no_body() {
        let stream = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(parse_responses(stream, &["HEAD", "GET"], 20).count, 2);
        assert_eq!(parse_responses(stream, &["GET", "GET"], 20).count, 1);
    }

    #[test]
    fn follows_a_connect_into_its_tunnel() {
        let client = b"CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\nProxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n\x16\x03\x01";
        let requests = parse_requests(client, 20);
        assert_eq!(requests.count, 1);
        let connect = &requests.items[0];
        assert!(connect.is_proxied());
        assert_eq!(connect.uri, "www.example.com:443");
        assert_eq!(connect.auth_scheme.as_deref(), Some("Basic"));
        assert_eq!(connect.basic_auth_user.as_deref(), Some("alice"));
        assert_eq!(requests.tunnel, Some(&b"\x16\x03\x01"[..]));

        let server = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03";
        let responses = parse_responses(server, &["CONNECT"], 20);
        assert_eq!(responses.items[0].reason, "Connection established");
        assert_eq!(responses.tunnel, Some(&b"\x16\x03\x03"[..]));
    }

    #[test]
    fn keeps_only_the_user_of_basic_credentials() {
        let stream = b"GET / HTTP/1.1\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\nGET / HTTP/1.1\r\nAuthorization: Basic c2VjcmV0\r\n\r\nGET / HTTP/1.1\r\nAuthorization: Bearer abc.def\r\n\r\nGET / HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n";
        let found = parse_requests(stream, 20);
        let users: Vec<_> = found
            .items
            .iter()
            .map(|r| r.basic_auth_user.as_deref())
            .collect();
        assert_eq!(users, [Some("alice"), None, None, None]);
        let schemes: Vec<_> = found
            .items
            .iter()
            .map(|r| r.auth_scheme.as_deref())
            .collect();
        assert_eq!(
            schemes,
            [Some("Basic"), Some("Basic"), Some("Bearer"), Some("Basic")]
        );
        assert!(
            found
                .items
                .iter()
                .all(|r| !format!("{r:?}").contains("secret"))
        );
    }

    #[test]
    fn proxy_requests_use_absolute_uris() {
        let found = parse_requests(
            b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
            20,
        );
        assert!(found.items[0].is_proxied());
        assert!(!parse_requests(GET, 20).items[0].is_proxied());
    }
}
