//! HTTP/1.x credentials in every request of a connection: `Authorization` and
//! `Proxy-Authorization` headers (Basic: user and password; Digest: the whole response, crackable
//! with the password's candidates; NTLM and Negotiate: the NTLMSSP AUTHENTICATE, paired with the
//! CHALLENGE of the server's last `WWW-Authenticate` on the same connection), and login forms in
//! request bodies (urlencoded or multipart, [`crate::form`]) and query strings. Responses are read
//! only for their status and challenges: a 401 or 407 answering a request with credentials rejects
//! them, any other final status accepts them; a form's outcome stays unknown (a login page answers
//! 200 either way).

use crate::cred::{Cred, Found, Outcome};
use crate::form;
use crate::framing::{Body, Event, Head, Reader};
use crate::ntlm::{self, Message};
use pcapxray_plugin_sdk::credentials::format;
use pcapxray_plugin_sdk::encoding::base64;
use std::collections::VecDeque;

/// Requests waiting for their response, kept for pairing.
const MAX_PENDING: usize = 64;

/// A request waiting for its response.
#[derive(Debug, Default)]
struct Pending {
    head_only: bool,
    /// Credentials whose outcome the status decides.
    creds: Vec<usize>,
}

#[derive(Debug)]
pub struct Http {
    /// `http://server:port`, for URLs of requests without a Host header.
    origin: String,
    client: Reader,
    server: Reader,
    pending: VecDeque<Pending>,
    /// The last request's URL and form, while its body is read.
    url: String,
    form: Option<Form>,
    /// The server's last NTLM challenge on this connection.
    challenge: Option<[u8; 8]>,
}

#[derive(Debug, Clone)]
enum Form {
    Urlencoded,
    Multipart(String),
}

/// Whether a client stream starts with an HTTP request line.
pub fn starts_like_http(bytes: &[u8]) -> bool {
    const METHODS: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"PROPFIND ",
        b"CONNECT ",
        b"TRACE ",
        b"RPC_IN_DATA ",
        b"RPC_OUT_DATA ",
    ];
    METHODS.iter().any(|m| bytes.starts_with(m))
}

impl Http {
    pub fn new(origin: String) -> Http {
        Http {
            origin,
            client: Reader::default(),
            server: Reader::default(),
            pending: VecDeque::new(),
            url: String::new(),
            form: None,
            challenge: None,
        }
    }

    /// True when neither direction can be read any more.
    pub fn done(&self) -> bool {
        self.client.dead()
    }

    pub fn gap(&mut self, to_server: bool) {
        if to_server {
            self.client.gap()
        } else {
            self.server.gap()
        }
    }

    pub fn data(&mut self, to_server: bool, bytes: &[u8], found: &mut Found) {
        let mut events = Vec::new();
        if to_server {
            self.client.feed(bytes, &mut request_plan, &mut events);
            for event in events {
                match event {
                    Event::Head(head) => self.request(&head, found),
                    Event::Body(body) => self.body(&body, found),
                }
            }
        } else {
            let head_only = self.pending.front().is_some_and(|p| p.head_only);
            let mut plan = |h: &Head| (response_body(h, head_only), false);
            self.server.feed(bytes, &mut plan, &mut events);
            for event in events {
                if let Event::Head(head) = event {
                    self.response(&head, found);
                }
            }
        }
    }

    fn request(&mut self, head: &Head, found: &mut Found) {
        let mut words = head.start.split_whitespace();
        let method = words.next().unwrap_or("").to_ascii_uppercase();
        let target = words.next().unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        self.url = match head.header("host") {
            Some(host) if path.starts_with('/') => format!("http://{host}{path}"),
            _ if path.starts_with('/') => format!("{}{path}", self.origin),
            _ => path.to_string(),
        };
        let mut pending = Pending {
            head_only: method == "HEAD",
            creds: Vec::new(),
        };
        for value in head
            .headers("authorization")
            .chain(head.headers("proxy-authorization"))
        {
            if let Some(i) = self.authorization(value, found) {
                pending.creds.push(i);
            }
        }
        if let Some((user, password)) = form::login(&form::urlencoded(query)) {
            self.form_login(&method, user, password, found);
        }
        self.form = form_kind(head);
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back(pending);
        }
    }

    fn authorization(&mut self, value: &str, found: &mut Found) -> Option<usize> {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let cred = match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let decoded = String::from_utf8_lossy(&base64(rest)?).into_owned();
                let (user, password) = decoded.split_once(':')?;
                Cred::new("http-basic", "Basic", user).password(password)
            }
            "digest" => {
                let user = form::parameter(&rest.replace(',', ";"), "username")?;
                let mut cred = Cred::new("http-digest", "Digest", user)
                    .secret(rest.trim(), format::HTTP_DIGEST);
                cred.domain = form::parameter(&rest.replace(',', ";"), "realm");
                cred
            }
            "ntlm" | "negotiate" => {
                let Message::Authenticate(auth) = ntlm::find(&base64(rest)?)? else {
                    return None;
                };
                if auth.anonymous() {
                    return None;
                }
                auth.cred(&format!("HTTP {scheme}"), self.challenge)
            }
            _ => return None,
        };
        Some(found.add(cred.service(self.url.clone())))
    }

    fn form_login(&mut self, method: &str, user: String, password: String, found: &mut Found) {
        let cred = Cred::new("http-form", format!("{method} form"), user)
            .password(password)
            .service(self.url.clone());
        found.add(cred);
    }

    fn body(&mut self, body: &[u8], found: &mut Found) {
        let fields = match self.form.take() {
            Some(Form::Urlencoded) => form::urlencoded(&String::from_utf8_lossy(body)),
            Some(Form::Multipart(boundary)) => form::multipart(body, &boundary),
            None => return,
        };
        if let Some((user, password)) = form::login(&fields) {
            self.form_login("POST", user, password, found);
        }
    }

    fn response(&mut self, head: &Head, found: &mut Found) {
        for value in head
            .headers("www-authenticate")
            .chain(head.headers("proxy-authenticate"))
        {
            let blob = value.split_once(' ').and_then(|(_, b)| base64(b));
            if let Some(Message::Challenge(c)) = blob.as_deref().and_then(ntlm::find) {
                self.challenge = Some(c);
            }
        }
        let status: u16 = head
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if (100..200).contains(&status) {
            return; // interim: the final response is still to come
        }
        let Some(pending) = self.pending.pop_front() else {
            return;
        };
        let outcome = match status {
            401 | 407 => Outcome::Rejected,
            _ => Outcome::Accepted,
        };
        for i in pending.creds {
            found.outcome(i, outcome);
        }
    }
}

/// Requests: bodies by length or chunks; a login form's body is held.
fn request_plan(head: &Head) -> (Body, bool) {
    let body = framing_of(head).unwrap_or(Body::None);
    (body, form_kind(head).is_some())
}

fn framing_of(head: &Head) -> Option<Body> {
    if head
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    {
        return Some(Body::Chunked);
    }
    head.header("content-length")
        .and_then(|n| n.trim().parse().ok())
        .map(Body::Length)
}

fn response_body(head: &Head, head_only: bool) -> Body {
    let status: u16 = head
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        return Body::None;
    }
    framing_of(head).unwrap_or(Body::UntilClose)
}

fn form_kind(head: &Head) -> Option<Form> {
    let ct = head.header("content-type")?;
    let lower = ct.to_ascii_lowercase();
    if lower.starts_with("application/x-www-form-urlencoded") {
        Some(Form::Urlencoded)
    } else if lower.starts_with("multipart/form-data") {
        form::parameter(ct, "boundary").map(Form::Multipart)
    } else {
        None
    }
}
