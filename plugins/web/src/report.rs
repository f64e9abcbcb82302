//! From parsed messages to what the investigator reads: one finding per web flow (tag, summary,
//! attributes) and the names and user agents worth publishing as host facts. Kept apart from the
//! plugin glue and free of host calls, so the whole per-flow decision is tested natively on
//! hand-made flows.

use crate::cert::{self, Certificate};
use crate::http::{self, Request, Requests, Response, Responses};
use crate::quic;
use crate::stream::Conv;
use crate::text::{ServerName, server_name};
use crate::tls::{self, ClientHello, ServerHello, cipher_name, version_name};
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Finding, Flow, Severity};
use serde::Serialize;
use std::net::SocketAddr;

/// Characters of a request target shown in a summary.
const SUMMARY_TARGET_CHARS: usize = 160;

/// The kind of traffic a flow was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTTP/1.x.
    Http,
    /// A TLS handshake.
    Tls,
    /// A QUIC handshake.
    Quic,
}

/// What one flow showed.
#[derive(Debug)]
pub struct Observation {
    /// HTTP or TLS.
    pub kind: Kind,
    /// The finding on the flow.
    pub finding: Finding,
    /// The DNS name the server answers to (SNI or `Host`), for a `name` fact about the server. `None`
    /// for IP literals and for requests to a proxy, whose `Host` names another machine.
    pub server_name: Option<String>,
    /// The distinct `User-Agent` values the client sent, for facts about the client.
    pub user_agents: Vec<String>,
    /// The server's certificate (the leaf of its chain), when the handshake showed it.
    pub certificate: Option<Certificate>,
}

/// Recognises HTTP or TLS on a TCP flow, QUIC on a UDP flow, from their payload prefixes. `None`
/// for anything else.
pub fn observe(flow: &Flow, max_transactions: usize) -> Option<Observation> {
    if flow.is_udp() {
        return observe_quic(flow);
    }
    if !flow.is_tcp() {
        return None;
    }
    let client = flow.to_server.payload.as_slice();
    let server = flow.to_client.payload.as_slice();
    let hello = tls::parse_client_hello(client);
    let server_hello = tls::parse_server_hello(server);
    if hello.is_some() || server_hello.is_some() {
        return Some(observe_tls(flow, hello, server_hello, &cert::chain(server)));
    }
    if tls::is_mid_stream(client, server) {
        return Some(observe_tls_mid_stream(flow));
    }
    let requests = http::parse_requests(client, max_transactions);
    let responses = http::parse_responses(server, &requests.methods, max_transactions);
    if requests.count == 0 && responses.count == 0 {
        return None;
    }
    Some(observe_http(flow, &requests, &responses, max_transactions))
}

/// Recognises a TCP flow from what its whole stream showed (`conv`); flows the stream did not
/// settle (neither HTTP nor TLS from their first bytes, or a handshake without hellos) are judged
/// from their payload prefixes as [`observe`] does.
pub fn observe_stream(flow: &Flow, conv: Conv, max_transactions: usize) -> Option<Observation> {
    match conv {
        Conv::Tls(tls) if tls.hello.is_some() || tls.server_hello.is_some() => {
            Some(observe_tls(flow, tls.hello, tls.server_hello, &tls.chain))
        }
        Conv::Http(http) if http.request_count > 0 || http.response_count > 0 => {
            let requests = Requests {
                items: http.requests,
                count: http.request_count,
                methods: Vec::new(),
                tunnel: (!http.client_tunnel.is_empty()).then_some(&http.client_tunnel[..]),
            };
            let responses = Responses {
                items: http.responses,
                count: http.response_count,
                tunnel: (!http.server_tunnel.is_empty()).then_some(&http.server_tunnel[..]),
            };
            let mut seen = observe_http(flow, &requests, &responses, max_transactions);
            if http.head_over_limit {
                seen.finding = seen.finding.attr(names::http::HEAD_OVER_LIMIT, "true");
            }
            Some(seen)
        }
        _ => observe(flow, max_transactions),
    }
}

fn server_address(flow: &Flow) -> String {
    SocketAddr::new(flow.server_ip(), flow.server.port).to_string()
}

fn dns_name(value: &str) -> Option<String> {
    match server_name(value)? {
        ServerName::Dns(name) => Some(name),
        ServerName::Ip(_) => None,
    }
}

/// Cuts `text` to `max` characters, marking the cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn observe_tls(
    flow: &Flow,
    hello: Option<ClientHello>,
    server: Option<ServerHello>,
    chain: &[Certificate],
) -> Observation {
    let sni = hello.as_ref().and_then(|h| h.sni.clone());
    let alpn = hello.as_ref().map(|h| h.alpn.clone()).unwrap_or_default();
    let web = alpn.iter().any(|p| p == "h2" || p.starts_with("http/"))
        || matches!(flow.server.port, 443 | 8443);
    let tag = if web {
        names::web::HTTPS
    } else {
        names::web::TLS
    };

    let mut summary = match (&hello, &sni) {
        (Some(_), Some(sni)) => format!("TLS to {sni} (SNI)"),
        (Some(_), None) => format!("TLS to {} (no SNI)", server_address(flow)),
        (None, _) => format!("TLS to {} (ClientHello not seen)", server_address(flow)),
    };
    let mut finding = Finding::on_flow(flow.id, tag, Severity::Info);
    if let Some(sni) = &sni {
        finding = finding.attr(names::tls::SNI, sni.as_str());
    }
    let confidence = match &hello {
        Some(h) if h.complete => 100,
        Some(_) => 90,
        None => 80,
    };
    if let Some(hello) = &hello {
        finding = tls_client_attributes(finding, hello, &mut summary);
    }
    if let Some(server) = &server {
        finding = tls_server_attributes(finding, server, &mut summary);
    }
    if let Some(leaf) = chain.first() {
        summary.push_str(&format!("; certificate {}", leaf.subject));
        finding = certificate_attributes(finding, chain, flow);
    }
    let name = sni.as_deref().and_then(dns_name);
    if let Some(name) = &name {
        finding = finding.attr(names::web::SERVER_NAME, name.as_str());
    }
    Observation {
        kind: Kind::Tls,
        finding: finding.summary(summary).confidence(confidence),
        server_name: name,
        user_agents: Vec::new(),
        certificate: chain.first().cloned(),
    }
}

/// A QUIC connection whose client handshake was read from its first datagrams.
fn observe_quic(flow: &Flow) -> Option<Observation> {
    let datagrams: Vec<&[u8]> = flow.to_server.messages().collect();
    let quic = quic::parse_client(&datagrams)?;
    let hello = &quic.hello;
    let mut summary = match &hello.sni {
        Some(sni) => format!("QUIC {} to {sni} (SNI)", quic.version),
        None => format!("QUIC {} to {} (no SNI)", quic.version, server_address(flow)),
    };
    let mut finding = Finding::on_flow(flow.id, names::web::QUIC, Severity::Info)
        .attr(names::quic::VERSION, quic.version.as_str());
    if let Some(sni) = &hello.sni {
        finding = finding.attr(names::tls::SNI, sni.as_str());
    }
    if quic.version.starts_with('Q') {
        if let Some(agent) = &quic.user_agent {
            finding = finding.attr(names::quic::USER_AGENT, agent.as_str());
        }
    } else {
        finding = tls_client_attributes(finding, hello, &mut summary);
    }
    let name = hello.sni.as_deref().and_then(dns_name);
    if let Some(name) = &name {
        finding = finding.attr(names::web::SERVER_NAME, name.as_str());
    }
    Some(Observation {
        kind: Kind::Quic,
        finding: finding
            .summary(summary)
            .confidence(if hello.complete { 100 } else { 90 }),
        server_name: name,
        user_agents: Vec::new(),
        certificate: None,
    })
}

/// A TLS session whose handshake came before the capture: only the record layer is visible.
fn observe_tls_mid_stream(flow: &Flow) -> Observation {
    let tag = if matches!(flow.server.port, 443 | 8443) {
        names::web::HTTPS
    } else {
        names::web::TLS
    };
    let summary = format!(
        "TLS session to {} (handshake not captured)",
        server_address(flow)
    );
    Observation {
        kind: Kind::Tls,
        finding: Finding::on_flow(flow.id, tag, Severity::Info)
            .summary(summary)
            .attr(names::tls::MID_STREAM, "true")
            .confidence(60),
        server_name: None,
        user_agents: Vec::new(),
        certificate: None,
    }
}

/// The flow's first packet, in seconds since the epoch.
fn flow_secs(flow: &Flow) -> i64 {
    i64::try_from(flow.first_seen() / 1_000_000_000).unwrap_or(i64::MAX)
}

/// One certificate of a chain as listed in `tls.cert.chain`.
#[derive(Serialize)]
struct ChainEntry<'a> {
    subject: &'a str,
    issuer: &'a str,
    sha256: &'a str,
}

/// Adds the server's certificate chain (the leaf in detail) to a finding.
fn certificate_attributes(mut finding: Finding, chain: &[Certificate], flow: &Flow) -> Finding {
    let leaf = &chain[0];
    let when = flow_secs(flow);
    let expired = when > leaf.not_after || when < leaf.not_before;
    finding = finding
        .attr(names::tls::CERT_SUBJECT, leaf.subject.as_str())
        .attr(names::tls::CERT_ISSUER, leaf.issuer.as_str())
        .attr(names::tls::CERT_SERIAL, leaf.serial.as_str())
        .attr(names::tls::CERT_NOT_BEFORE, cert::date(leaf.not_before))
        .attr(names::tls::CERT_NOT_AFTER, cert::date(leaf.not_after))
        .attr(names::tls::CERT_SELF_SIGNED, leaf.self_signed.to_string())
        .attr(names::tls::CERT_EXPIRED, expired.to_string())
        .attr(names::tls::CERT_SHA1, leaf.sha1.as_str())
        .attr(names::tls::CERT_SHA256, leaf.sha256.as_str());
    if !leaf.names.is_empty() {
        finding = finding.attr(names::tls::CERT_NAMES, leaf.names.join(", "));
    }
    let list: Vec<ChainEntry<'_>> = chain
        .iter()
        .map(|c| ChainEntry {
            subject: &c.subject,
            issuer: &c.issuer,
            sha256: &c.sha256,
        })
        .collect();
    finding.attr(
        names::tls::CERT_CHAIN,
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_string()),
    )
}

/// Adds what a ClientHello offers (versions, ALPN, ECH) to a finding and its summary.
fn tls_client_attributes(
    mut finding: Finding,
    hello: &ClientHello,
    summary: &mut String,
) -> Finding {
    let versions: Vec<String> = hello.versions.iter().map(|&v| version_name(v)).collect();
    let versions = versions.join(", ");
    summary.push_str(&format!(", offers {versions}"));
    finding = finding.attr(names::tls::VERSIONS, versions);
    if !hello.alpn.is_empty() {
        let alpn = hello.alpn.join(", ");
        summary.push_str(&format!("; ALPN {alpn}"));
        finding = finding.attr(names::tls::ALPN, alpn);
    }
    if hello.ech {
        summary.push_str("; Encrypted Client Hello");
        finding = finding.attr(names::tls::ECH, "true");
    }
    if !hello.complete {
        finding = finding.attr(names::tls::CLIENT_HELLO_TRUNCATED, "true");
    }
    if let Some(fp) = &hello.fingerprint {
        finding = finding
            .attr(names::tls::JA3, fp.ja3.as_str())
            .attr(names::tls::JA3_FULL, fp.ja3_full.as_str())
            .attr(names::tls::JA4, fp.ja4.as_str());
    }
    finding
}

/// Adds what a ServerHello selected to a finding and its summary.
fn tls_server_attributes(
    mut finding: Finding,
    server: &ServerHello,
    summary: &mut String,
) -> Finding {
    let version = version_name(server.version);
    let cipher = cipher_name(server.cipher);
    if server.retry {
        summary.push_str(&format!("; HelloRetryRequest for {version}"));
        finding = finding.attr(names::tls::HELLO_RETRY, "true");
    } else {
        summary.push_str(&format!("; negotiated {version}"));
    }
    finding = finding
        .attr(names::tls::VERSION, version)
        .attr(names::tls::CIPHER, cipher);
    if let Some(alpn) = &server.alpn {
        finding = finding.attr(names::tls::ALPN_SELECTED, alpn.as_str());
    }
    if let Some(fp) = &server.fingerprint {
        finding = finding
            .attr(names::tls::JA3S, fp.ja3s.as_str())
            .attr(names::tls::JA3S_FULL, fp.ja3s_full.as_str())
            .attr(names::tls::JA4S, fp.ja4s.as_str());
    }
    finding
}

/// One request/response pair as listed in `http.transactions`.
#[derive(Serialize)]
struct Transaction<'a> {
    method: Option<&'a str>,
    host: Option<&'a str>,
    uri: Option<&'a str>,
    user_agent: Option<&'a str>,
    status: Option<u16>,
    server: Option<&'a str>,
    content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    form: &'a [String],
}

fn transactions(requests: &[Request], responses: &[Response], max: usize) -> String {
    let n = requests.len().max(responses.len()).min(max);
    let list: Vec<Transaction<'_>> = (0..n)
        .map(|i| {
            let (req, resp) = (requests.get(i), responses.get(i));
            Transaction {
                method: req.map(|r| r.method.as_str()),
                host: req.and_then(|r| r.host.as_deref()),
                uri: req.map(|r| r.uri.as_str()),
                user_agent: req.and_then(|r| r.user_agent.as_deref()),
                status: resp.map(|r| r.status),
                server: resp.and_then(|r| r.server.as_deref()),
                content_type: resp.and_then(|r| r.content_type.as_deref()),
                form: req.map_or(&[][..], |r| &r.form_fields[..]),
            }
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_string())
}

fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen
}

/// ` → 200 OK (nginx)`
fn describe_response(response: &Response) -> String {
    let mut text = format!("→ {}", response.status);
    if !response.reason.is_empty() {
        text.push(' ');
        text.push_str(&response.reason);
    }
    if let Some(server) = &response.server {
        text.push_str(&format!(" ({server})"));
    }
    text
}

fn observe_http(
    flow: &Flow,
    requests: &Requests<'_>,
    responses: &Responses<'_>,
    max: usize,
) -> Observation {
    let first = requests.items.first();
    let answer = responses.items.first();
    let proxied = requests.items.iter().any(Request::is_proxied);
    let mut finding = Finding::on_flow(flow.id, names::web::HTTP, Severity::Info);

    let mut summary = match first {
        Some(req) => {
            let target = if req.uri.starts_with('/') || req.uri == "*" {
                let host = req.host.clone().unwrap_or_else(|| server_address(flow));
                format!("{host}{}", req.uri)
            } else {
                req.uri.clone()
            };
            let mut text = format!(
                "HTTP {} {}",
                req.method,
                shorten(&target, SUMMARY_TARGET_CHARS)
            );
            match answer {
                Some(resp) => text.push_str(&format!(" {}", describe_response(resp))),
                None => text.push_str(" (no response seen)"),
            }
            text
        }
        None => match answer {
            Some(resp) => format!(
                "HTTP response from {} {} (request not seen)",
                server_address(flow),
                describe_response(resp)
            ),
            None => String::from("HTTP"),
        },
    };
    if requests.count > 1 {
        summary.push_str(&format!(", +{} more requests", requests.count - 1));
    }

    if let Some(req) = first {
        finding = finding.attr(names::http::METHOD, req.method.as_str());
        if let Some(host) = &req.host {
            finding = finding.attr(names::http::HOST, host.as_str());
        }
        finding = finding.attr(names::http::URI, req.uri.as_str());
        if let Some(ua) = &req.user_agent {
            finding = finding.attr(names::http::USER_AGENT, ua.as_str());
        }
    }
    if let Some(resp) = answer {
        finding = finding.attr(names::http::STATUS, resp.status.to_string());
        if let Some(server) = &resp.server {
            finding = finding.attr(names::http::SERVER, server.as_str());
        }
        if let Some(content_type) = &resp.content_type {
            finding = finding.attr(names::http::CONTENT_TYPE, content_type.as_str());
        }
    }
    finding = finding.attr(names::http::REQUESTS, requests.count.to_string());
    let hosts = distinct(requests.items.iter().filter_map(|r| r.host.as_deref()));
    if !hosts.is_empty() {
        finding = finding.attr(names::http::HOSTS, hosts.join(","));
    }
    finding = finding.attr(
        names::http::TRANSACTIONS,
        transactions(&requests.items, &responses.items, max),
    );
    if proxied {
        finding = finding.attr(names::http::PROXY, "true");
    }
    let fields = distinct(
        requests
            .items
            .iter()
            .flat_map(|r| r.form_fields.iter().map(String::as_str)),
    );
    if !fields.is_empty() {
        finding = finding.attr(names::http::FORM_FIELDS, fields.join(","));
    }
    if let Some(scheme) = requests.items.iter().find_map(|r| r.auth_scheme.as_deref()) {
        finding = finding.attr(names::http::AUTH_SCHEME, scheme);
    }
    if let Some(user) = requests
        .items
        .iter()
        .find_map(|r| r.basic_auth_user.as_deref())
    {
        finding = finding.attr(names::http::BASIC_AUTH_USER, user);
    }

    // A CONNECT tunnel usually carries TLS: its ClientHello names the real destination.
    if let Some(hello) = requests.tunnel.and_then(tls::parse_client_hello) {
        if let Some(sni) = &hello.sni {
            summary.push_str(&format!("; tunnelled TLS to {sni}"));
            finding = finding.attr(names::tls::SNI, sni.as_str());
        }
        let mut ignored = String::new();
        finding = tls_client_attributes(finding, &hello, &mut ignored);
    }
    if let Some(server) = responses.tunnel.and_then(tls::parse_server_hello) {
        let mut ignored = String::new();
        finding = tls_server_attributes(finding, &server, &mut ignored);
    }

    // A proxy's `Host` names the destination, not the proxy: publish no name for the server then.
    let name = match first {
        Some(req) if !proxied => req.host.as_deref().and_then(dns_name),
        _ => None,
    };
    if let Some(name) = &name {
        finding = finding.attr(names::web::SERVER_NAME, name.as_str());
    }
    let confidence = match (first, answer) {
        (Some(_), Some(_)) => 100,
        (Some(_), None) => 90,
        (None, _) => 70,
    };
    let user_agents = distinct(
        requests
            .items
            .iter()
            .filter_map(|r| r.user_agent.as_deref()),
    )
    .into_iter()
    .map(String::from)
    .collect();
    Observation {
        kind: Kind::Http,
        finding: finding.summary(summary).confidence(confidence),
        server_name: name,
        user_agents,
        certificate: None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pcapxray_plugin_sdk::Protocol;

    /// A TCP flow 10.0.0.2 → `server`:`port` carrying `client` and `answer`.
    pub(crate) fn flow(server: &str, port: u16, client: &[u8], answer: &[u8]) -> Flow {
        pcapxray_plugin_sdk::testing::flow_with(7, "10.0.0.2", server, port, client, answer)
    }

    const GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: WWW.Example.com\r\nUser-Agent: curl/8.5.0\r\n\r\nGET /b.css HTTP/1.1\r\nHost: static.example.com:8080\r\nUser-Agent: curl/8.5.0\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn describes_an_http_flow() {
        let obs = observe(&flow("93.184.216.34", 8080, GET, OK), 20).unwrap();
        let f = &obs.finding;
        assert_eq!(obs.kind, Kind::Http);
        assert_eq!(f.tag, "web.http");
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(
            f.summary,
            "HTTP GET WWW.Example.com/index.html → 200 OK (nginx), +1 more requests"
        );
        assert_eq!(f.get("http.method"), Some("GET"));
        assert_eq!(f.get("http.host"), Some("WWW.Example.com"));
        assert_eq!(f.get("http.uri"), Some("/index.html"));
        assert_eq!(f.get("http.user-agent"), Some("curl/8.5.0"));
        assert_eq!(f.get("http.status"), Some("200"));
        assert_eq!(f.get("http.server"), Some("nginx"));
        assert_eq!(f.get("http.content-type"), Some("text/html"));
        assert_eq!(f.get("http.requests"), Some("2"));
        assert_eq!(
            f.get("http.hosts"),
            Some("WWW.Example.com,static.example.com:8080")
        );
        assert_eq!(f.get("server.name"), Some("www.example.com"));
        assert_eq!(f.get("http.proxy"), None);
        let list: serde_json::Value =
            serde_json::from_str(f.get("http.transactions").unwrap()).unwrap();
        assert_eq!(
            list,
            serde_json::json!([
                {"method": "GET", "host": "WWW.Example.com", "uri": "/index.html", "user_agent": "curl/8.5.0",
                 "status": 200, "server": "nginx", "content_type": "text/html"},
                {"method": "GET", "host": "static.example.com:8080", "uri": "/b.css", "user_agent": "curl/8.5.0",
                 "status": 404, "server": null, "content_type": null}
            ])
        );
        assert_eq!(obs.server_name.as_deref(), Some("www.example.com"));
        assert_eq!(obs.user_agents, ["curl/8.5.0"]);
        // max_transactions cuts the list, not the count.
        let obs = observe(&flow("93.184.216.34", 80, GET, OK), 1).unwrap();
        assert_eq!(obs.finding.get("http.requests"), Some("2"));
        let list: Vec<serde_json::Value> =
            serde_json::from_str(obs.finding.get("http.transactions").unwrap()).unwrap();
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn detects_by_parsing_not_by_port() {
        assert!(observe(&flow("10.0.0.1", 80, b"\x00\x01binary protocol", b""), 20).is_none());
        assert!(observe(&flow("10.0.0.1", 80, b"", b""), 20).is_none());
        assert!(observe(&flow("10.0.0.1", 3128, GET, b""), 20).is_some());
        let mut udp = flow(
            "239.255.255.250",
            1900,
            b"M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n",
            b"",
        );
        udp.protocol = Protocol::Udp;
        assert!(observe(&udp, 20).is_none());
    }

    #[test]
    fn a_response_alone_is_http_too() {
        let obs = observe(&flow("10.0.0.1", 80, b"", OK), 20).unwrap();
        assert_eq!(
            obs.finding.summary,
            "HTTP response from 10.0.0.1:80 → 200 OK (nginx) (request not seen)"
        );
        assert_eq!(obs.finding.confidence, 70);
        assert_eq!(obs.server_name, None);
    }

    #[test]
    fn names_no_server_behind_a_proxy_or_an_ip_literal() {
        let client = b"CONNECT secret.example.org:443 HTTP/1.1\r\nHost: secret.example.org:443\r\nProxy-Authorization: Basic Ym9iOmh1bnRlcjI=\r\n\r\n";
        let mut tunnel = client.to_vec();
        tunnel.extend(crate::tls::tests::record_of(
            &crate::tls::tests::client_hello("secret.example.org"),
        ));
        let obs = observe(
            &flow(
                "10.0.0.1",
                3128,
                &tunnel,
                b"HTTP/1.1 200 Connection established\r\n\r\n",
            ),
            20,
        )
        .unwrap();
        let f = &obs.finding;
        assert_eq!(
            f.summary,
            "HTTP CONNECT secret.example.org:443 → 200 Connection established; tunnelled TLS to secret.example.org"
        );
        assert_eq!(f.get("http.proxy"), Some("true"));
        assert_eq!(f.get("http.basic-auth-user"), Some("bob"));
        assert!(f.attributes.iter().all(|a| !a.value.contains("hunter2")));
        assert_eq!(f.get("tls.sni"), Some("secret.example.org"));
        assert_eq!(f.get("tls.versions"), Some("TLS 1.3, TLS 1.2"));
        assert_eq!(f.get("server.name"), None);
        assert_eq!(obs.server_name, None);

        let obs = observe(
            &flow(
                "10.0.0.1",
                80,
                b"GET / HTTP/1.0\r\nHost: 10.0.0.1\r\n\r\n",
                b"",
            ),
            20,
        )
        .unwrap();
        assert_eq!(obs.finding.summary, "HTTP GET 10.0.0.1/ (no response seen)");
        assert_eq!(obs.server_name, None);
        let obs = observe(&flow("10.0.0.1", 80, b"GET / HTTP/1.0\r\n\r\n", b""), 20).unwrap();
        assert_eq!(
            obs.finding.summary,
            "HTTP GET 10.0.0.1:80/ (no response seen)"
        );
    }

    #[test]
    fn describes_a_tls_flow() {
        let hello =
            crate::tls::tests::record_of(&crate::tls::tests::client_hello("www.example.com"));
        let obs = observe(&flow("93.184.216.34", 8443, &hello, b""), 20).unwrap();
        let f = &obs.finding;
        assert_eq!(obs.kind, Kind::Tls);
        assert_eq!(f.tag, "web.https");
        assert_eq!(
            f.summary,
            "TLS to www.example.com (SNI), offers TLS 1.3, TLS 1.2; ALPN h2, http/1.1"
        );
        assert_eq!(f.get("tls.sni"), Some("www.example.com"));
        assert_eq!(f.get("tls.alpn"), Some("h2, http/1.1"));
        assert_eq!(f.get("server.name"), Some("www.example.com"));
        assert_eq!(f.confidence, 100);
        assert_eq!(obs.server_name.as_deref(), Some("www.example.com"));
    }

    #[test]
    fn recognises_tls_already_under_way() {
        let app = b"\x17\x03\x03\x00\x03abc\x17\x03\x03\x00\x02de";
        let obs = observe(&flow("10.0.0.1", 443, app, b""), 20).unwrap();
        assert_eq!(obs.finding.tag, "web.https");
        assert_eq!(
            obs.finding.summary,
            "TLS session to 10.0.0.1:443 (handshake not captured)"
        );
        assert_eq!(obs.finding.get("tls.mid-stream"), Some("true"));
        assert_eq!(obs.finding.confidence, 60);
        assert_eq!(
            observe(&flow("10.0.0.1", 9001, app, b""), 20)
                .unwrap()
                .finding
                .tag,
            "web.tls"
        );
    }

    #[test]
    fn tls_without_web_alpn_on_another_port_is_web_tls() {
        let mut message = crate::tls::tests::client_hello("mail.example.com");
        // Replace the ALPN protocols `h2`, `http/1.1` by `imap` + padding of the same length.
        let at = message.windows(2).position(|w| w == b"h2").unwrap() - 1;
        message[at..at + 12].copy_from_slice(b"\x04imap\x06smtp_x");
        let obs = observe(
            &flow(
                "10.0.0.1",
                993,
                &crate::tls::tests::record_of(&message),
                b"",
            ),
            20,
        )
        .unwrap();
        assert_eq!(obs.finding.tag, "web.tls");
        assert_eq!(obs.finding.get("tls.alpn"), Some("imap, smtp_x"));
    }
}
