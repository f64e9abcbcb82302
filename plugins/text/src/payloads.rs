//! `payloads.txt`: what the traffic said, readable. The ancestor dumped every payload (a report 2–7×
//! the capture's size); this one shows what an investigator reads first — HTTP transactions and TLS
//! server names (from the `web` analyzer's findings), DNS questions and answers (from the `dns`
//! analyzer's), and a short printable excerpt of each direction of the other flows — and stops at a
//! size bound, saying so. Entries are written as flows arrive; nothing is kept per flow.

use crate::clean::{self, line, printable, wrap};
use pcapxray_plugin_sdk::collections::HashMap;
use pcapxray_plugin_sdk::names;
use pcapxray_plugin_sdk::{Direction, Finding, Flow, tag_matches};
use std::fmt::Write;

/// Bytes kept free for the closing note, so the file ends inside its bound.
pub const RESERVE: u64 = 1024;
/// Characters of an excerpt line.
const WIDTH: usize = 96;
/// Characters of one value (URI, user agent, DNS name).
const VALUE: usize = 400;

/// Excerpts already shown, so a beacon's hundred identical connections show their bytes once. Keyed
/// by the bytes themselves (no hash an attacker could collide), bounded by their total size.
#[derive(Default)]
pub struct Shown {
    first: HashMap<Vec<u8>, u64>,
    bytes: usize,
}

impl Shown {
    /// Bytes of excerpts remembered at most.
    const CAPACITY: usize = 1 << 20;

    /// The flow that showed these excerpts first, or `None` (and remembers `flow` for them).
    fn earlier(&mut self, key: Vec<u8>, flow: u64) -> Option<u64> {
        if let Some(id) = self.first.get(&key) {
            return Some(*id);
        }
        if self.bytes + key.len() <= Self::CAPACITY {
            self.bytes += key.len();
            self.first.insert(key, flow);
        }
        None
    }
}

/// The payload report: its budget and what was (not) written.
pub struct Payloads {
    shown: Shown,
    max_excerpt: usize,
    budget: u64,
    written: u64,
    listed: u64,
    omitted: u64,
    /// Set once an entry did not fit: later entries are only counted.
    full: bool,
}

impl Payloads {
    /// A report of at most `max_bytes`, showing `max_excerpt` bytes per flow direction.
    pub fn new(max_excerpt: usize, max_bytes: u64) -> Payloads {
        Payloads {
            shown: Shown::default(),
            max_excerpt,
            budget: max_bytes.saturating_sub(RESERVE),
            written: 0,
            listed: 0,
            omitted: 0,
            full: false,
        }
    }

    /// The text to append for a batch of flows (empty when there is nothing to add).
    pub fn batch(&mut self, flows: &[Flow]) -> String {
        let mut out = String::new();
        if self.written == 0 {
            out.push_str(HEADER);
        }
        for flow in flows {
            // Past the bound, flows are only counted: no need to write their entries.
            if self.full {
                if has_entry(flow, self.max_excerpt) {
                    self.omitted += 1;
                }
                continue;
            }
            let Some(entry) = entry(flow, self.max_excerpt, &mut self.shown) else {
                continue;
            };
            let room = self.budget.saturating_sub(self.written + out.len() as u64) as usize;
            if entry.len() <= room {
                out.push_str(&entry);
                self.listed += 1;
            } else {
                // Keep the whole lines that fit, then stop.
                const CUT: &str = "  ... (cut: payloads.txt reached its size bound)\n";
                let mut keep = room.saturating_sub(CUT.len()).min(entry.len());
                while !entry.is_char_boundary(keep) {
                    keep -= 1;
                }
                let cut = entry[..keep].rfind('\n').map_or(0, |i| i + 1);
                // The entry's first line is blank and its second names the flow: keep both and a
                // line of what it carried, or nothing.
                let named = entry[1..].find('\n').map_or(entry.len(), |i| i + 2);
                if cut > named {
                    out.push_str(&entry[..cut]);
                    out.push_str(CUT);
                    self.listed += 1;
                } else {
                    self.omitted += 1;
                }
                self.full = true;
            }
        }
        self.written += out.len() as u64;
        out
    }

    /// The closing note (and the header, when no flow had anything to show).
    pub fn finish(&mut self, capture: &str, max_bytes: u64) -> String {
        let mut out = String::new();
        if self.written == 0 {
            out.push_str(HEADER);
        }
        let _ = writeln!(
            out,
            "\n-- end of payloads.txt for {}: {} listed",
            line(capture, 100),
            clean::count(self.listed, "flow")
        );
        if self.full {
            let _ = writeln!(
                out,
                "-- BOUND REACHED: this file is limited to {max_bytes} bytes (max_payload_report_bytes); \
                 {} with HTTP, TLS, DNS or payload data are not listed here (every flow is in the other reports)",
                clean::count(self.omitted, "more flow")
            );
        }
        self.written += out.len() as u64;
        out
    }
}

const HEADER: &str = "pcapxray payload report: HTTP transactions, TLS server names, DNS questions and answers,\n\
and printable excerpts of the other flows (bytes outside ASCII 32-126 shown as '.'), in the order the flows ended.\n";

/// The findings on a flow whose tag is `tag` or below it.
fn tagged<'a>(flow: &'a Flow, tag: &'a str) -> impl Iterator<Item = &'a Finding> {
    flow.findings
        .iter()
        .map(|r| &r.finding)
        .filter(move |f| tag_matches(&f.tag, tag))
}

/// Whether [`entry`] would show something for the flow, without writing it.
fn has_entry(flow: &Flow, max_excerpt: usize) -> bool {
    let mut web = false;
    for f in tagged(flow, "web") {
        web = true;
        if f.get(names::http::TRANSACTIONS).is_some()
            || f.get(names::http::METHOD).is_some()
            || f.get(names::http::STATUS).is_some()
            || f.attributes.iter().any(|a| a.key.starts_with("tls."))
        {
            return true;
        }
    }
    if tagged(flow, "dns")
        .any(|f| f.get(names::dns::QUERIES).is_some() || f.get(names::dns::ANSWERS).is_some())
    {
        return true;
    }
    !web && max_excerpt > 0
        && (!flow.to_server.payload.is_empty() || !flow.to_client.payload.is_empty())
}

/// One flow's entry, or `None` when it has nothing to show.
pub fn entry(flow: &Flow, max_excerpt: usize, shown: &mut Shown) -> Option<String> {
    let mut body = String::new();
    let mut web_or_dns = false;
    for f in tagged(flow, "web") {
        web_or_dns = true;
        if f.get(names::http::TRANSACTIONS).is_some()
            || f.get(names::http::METHOD).is_some()
            || f.get(names::http::STATUS).is_some()
        {
            http(&mut body, f);
        }
        if f.attributes.iter().any(|a| a.key.starts_with("tls.")) {
            tls(&mut body, f);
        }
    }
    for f in tagged(flow, "dns") {
        if f.get(names::dns::QUERIES).is_some() || f.get(names::dns::ANSWERS).is_some() {
            web_or_dns = true;
            dns(&mut body, f);
        }
    }
    if !web_or_dns && max_excerpt > 0 {
        let up = &flow.to_server.payload[..flow.to_server.payload.len().min(max_excerpt)];
        let down = &flow.to_client.payload[..flow.to_client.payload.len().min(max_excerpt)];
        if !up.is_empty() || !down.is_empty() {
            let mut key = Vec::with_capacity(8 + up.len() + down.len());
            key.extend_from_slice(&(up.len() as u64).to_le_bytes());
            key.extend_from_slice(up);
            key.extend_from_slice(down);
            match shown.earlier(key, flow.id) {
                Some(first) => {
                    let _ = writeln!(
                        body,
                        "  DATA  the same first bytes each way as flow {first}"
                    );
                }
                None => {
                    excerpt(&mut body, "client -> server", &flow.to_server, max_excerpt);
                    excerpt(&mut body, "server -> client", &flow.to_client, max_excerpt);
                }
            }
        }
    }
    if body.is_empty() {
        return None;
    }
    let ports = clean::has_ports(flow);
    let mut out = String::with_capacity(body.len() + 160);
    let _ = write!(
        out,
        "\nflow {}  {}  {} {} -> {}",
        flow.id,
        clean::time(flow.first_seen()),
        flow.protocol.as_str(),
        clean::endpoint(flow.client_ip(), flow.client.port, ports),
        clean::endpoint(flow.server_ip(), flow.server.port, ports),
    );
    let mut tags: Vec<&str> = Vec::new();
    for r in &flow.findings {
        if !tags.contains(&r.finding.tag.as_str()) {
            tags.push(&r.finding.tag);
        }
    }
    if !tags.is_empty() {
        let _ = write!(out, "  [{}]", line(&tags.join(", "), 200));
    }
    out.push('\n');
    out.push_str(&body);
    Some(out)
}

fn http(out: &mut String, f: &Finding) {
    let listed = f.http_transactions();
    let mut agent: Option<&str> = None;
    for t in &listed {
        let request = match (&t.method, &t.uri) {
            (Some(m), Some(u)) => format!(
                "{} {}{}",
                line(m, 32),
                line(t.host.as_deref().unwrap_or(""), VALUE),
                line(u, VALUE)
            ),
            _ => "(request not captured)".into(),
        };
        let status = t
            .status
            .map_or_else(|| "no response".to_string(), |s| s.to_string());
        let _ = write!(out, "  HTTP  {request} -> {status}");
        if let Some(ct) = &t.content_type {
            let _ = write!(out, " {}", line(ct, 100));
        }
        if let Some(server) = &t.server {
            let _ = write!(out, " (server {})", line(server, 100));
        }
        out.push('\n');
        if let Some(ua) = t.user_agent.as_deref()
            && agent != Some(ua)
        {
            let _ = writeln!(out, "        user-agent {}", line(ua, VALUE));
            agent = Some(ua);
        }
    }
    let requests: u64 = f
        .get(names::http::REQUESTS)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if requests > listed.len() as u64 {
        let _ = writeln!(
            out,
            "        and {} the web analyzer did not list (its max_transactions)",
            clean::count(requests - listed.len() as u64, "more request")
        );
    }
    for (key, label) in [
        (names::http::BASIC_AUTH_USER, "basic-auth user"),
        (names::http::AUTH_SCHEME, "auth scheme"),
        (names::http::PROXY, "proxy request"),
    ] {
        if let Some(v) = f.get(key) {
            let _ = writeln!(out, "        {label} {}", line(v, VALUE));
        }
    }
}

fn tls(out: &mut String, f: &Finding) {
    let mut parts = vec![match f.get(names::tls::SNI) {
        Some(sni) => format!("server name {}", line(sni, VALUE)),
        None => "no server name".to_string(),
    }];
    for (key, label) in [
        (names::tls::VERSIONS, "offers"),
        (names::tls::ALPN, "ALPN"),
        (names::tls::VERSION, "negotiated"),
        (names::tls::CIPHER, "cipher"),
        (names::tls::ALPN_SELECTED, "ALPN selected"),
    ] {
        if let Some(v) = f.get(key) {
            parts.push(format!("{label} {}", line(v, 120)));
        }
    }
    if f.get(names::tls::ECH) == Some("true") {
        parts.push("Encrypted Client Hello".into());
    }
    if f.get(names::tls::MID_STREAM) == Some("true") {
        parts.push("handshake not captured".into());
    }
    let _ = writeln!(out, "  TLS   {}", parts.join("; "));
}

fn dns(out: &mut String, f: &Finding) {
    let label = match f.tag.as_str() {
        names::dns::MDNS => "mDNS",
        names::dns::LLMNR => "LLMNR",
        names::dns::NBNS => "NBNS",
        _ => "DNS",
    };
    let qtypes = f.get(names::dns::QTYPES).unwrap_or("");
    // The protocol names the block's first line; the others are indented under it.
    let mut lines: Vec<String> = Vec::new();
    if f.get(names::dns::QUERIES).is_some() {
        for q in f.dns_queries() {
            lines.push(format!("query  {} ({})", line(q, VALUE), line(qtypes, 60)));
        }
        if let Some(n) = f.get(names::dns::QUERIES_OMITTED) {
            lines.push(format!("and {} more names", line(n, 20)));
        }
    }
    if f.get(names::dns::ANSWERS).is_some() {
        for a in f.dns_answers() {
            lines.push(format!("answer {}", line(a.text, VALUE)));
        }
        if let Some(n) = f.get(names::dns::ANSWERS_OMITTED) {
            lines.push(format!("and {} more answers", line(n, 20)));
        }
    }
    match f.get(names::dns::RCODE) {
        Some("NOERROR") => {}
        Some(rcode) => lines.push(format!("rcode  {}", line(rcode, 60))),
        None if f.get(names::dns::QUERIES).is_some() => lines.push("no response seen".into()),
        None => {}
    }
    for (i, l) in lines.iter().enumerate() {
        let _ = writeln!(out, "  {:<5} {l}", if i == 0 { label } else { "" });
    }
}

/// The first `max` bytes of one direction, printable, wrapped.
fn excerpt(out: &mut String, label: &str, d: &Direction, max: usize) {
    if d.payload.is_empty() {
        return;
    }
    let shown = &d.payload[..d.payload.len().min(max)];
    let _ = writeln!(
        out,
        "  DATA  {label}: {} sent, first {} shown",
        clean::count(d.payload_bytes, "payload byte"),
        shown.len()
    );
    wrap(out, &printable(shown), WIDTH, "        ");
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcapxray_plugin_sdk::testing::{finding, flow_with as flow};

    const TX: &str = r#"[{"method":"GET","host":"en.wikipedia.org","uri":"/wiki/Main_Page","user_agent":"Mozilla/5.0","status":200,"server":"nginx","content_type":"text/html"},{"method":"GET","host":"en.wikipedia.org","uri":"/favicon.ico","user_agent":"Mozilla/5.0","status":null,"server":null,"content_type":null}]"#;

    #[test]
    fn lists_http_transactions_from_the_web_findings() {
        let mut f = flow(
            7,
            "192.168.1.2",
            "91.198.174.192",
            80,
            b"GET /",
            b"HTTP/1.1",
        );
        f.findings.push(finding(
            "web",
            7,
            "web.http",
            "HTTP GET",
            &[("http.transactions", TX), ("http.requests", "5")],
        ));
        let e = entry(&f, 256, &mut Shown::default()).unwrap();
        assert!(e.contains("flow 7  2024-03-12T09:00:08.000000Z  tcp 192.168.1.2:49152 -> 91.198.174.192:80  [web.http]"), "{e}");
        assert!(e.contains("  HTTP  GET en.wikipedia.org/wiki/Main_Page -> 200 text/html (server nginx)\n        user-agent Mozilla/5.0\n"));
        assert!(
            e.contains("  HTTP  GET en.wikipedia.org/favicon.ico -> no response\n"),
            "{e}"
        );
        assert!(e.contains("and 3 more requests"));
        // No excerpt for a flow the web analyzer described.
        assert!(!e.contains("DATA"));
    }

    #[test]
    fn shows_tls_names_and_dns_questions_and_answers() {
        let mut f = flow(8, "192.168.1.2", "185.15.59.224", 443, b"\x16\x03\x01", b"");
        f.findings.push(finding(
            "web",
            8,
            "web.https",
            "TLS",
            &[("tls.sni", "www.wikipedia.org"), ("tls.version", "TLS 1.3")],
        ));
        let e = entry(&f, 256, &mut Shown::default()).unwrap();
        assert!(
            e.contains("  TLS   server name www.wikipedia.org; negotiated TLS 1.3\n"),
            "{e}"
        );

        let mut d = flow(9, "192.168.1.2", "8.8.8.8", 53, b"x", b"y");
        d.findings.push(finding(
            "dns",
            9,
            "dns",
            "DNS A",
            &[
                ("dns.queries", "www.wikipedia.org"),
                ("dns.qtypes", "A"),
                ("dns.answers", "www.wikipedia.org CNAME dyna.wikimedia.org; dyna.wikimedia.org A 185.15.59.224"),
                ("dns.rcode", "NOERROR"),
            ],
        ));
        let e = entry(&d, 256, &mut Shown::default()).unwrap();
        assert!(e.contains("  DNS   query  www.wikipedia.org (A)\n        answer www.wikipedia.org CNAME dyna.wikimedia.org\n        answer dyna.wikimedia.org A 185.15.59.224\n"), "{e}");
    }

    #[test]
    fn other_flows_get_a_bounded_printable_excerpt() {
        let f = flow(
            3,
            "10.0.0.1",
            "10.0.0.2",
            25,
            b"EHLO evil\r\n\x1b[2J",
            &[0u8; 10],
        );
        let e = entry(&f, 12, &mut Shown::default()).unwrap();
        assert!(e.contains("  DATA  client -> server: 15 payload bytes sent, first 12 shown\n        EHLO evil..."), "{e}");
        assert!(e.contains(
            "  DATA  server -> client: 10 payload bytes sent, first 10 shown\n        ..........\n"
        ));
        assert!(!e.contains('\x1b'));
        assert!(entry(&f, 0, &mut Shown::default()).is_none());
        assert!(
            entry(
                &flow(4, "10.0.0.1", "10.0.0.2", 25, b"", b""),
                256,
                &mut Shown::default()
            )
            .is_none()
        );
    }

    #[test]
    fn repeated_excerpts_are_shown_once() {
        let mut shown = Shown::default();
        let a = flow(16, "10.0.0.1", "198.51.100.23", 8443, b"beacon", b"ok");
        let b = flow(17, "10.0.0.1", "198.51.100.23", 8443, b"beacon", b"ok");
        // Same bytes, split differently between the directions: not the same.
        let c = flow(18, "10.0.0.1", "198.51.100.23", 8443, b"beaco", b"nok");
        assert!(entry(&a, 256, &mut shown).unwrap().contains("beacon"));
        let again = entry(&b, 256, &mut shown).unwrap();
        assert!(
            again.contains("the same first bytes each way as flow 16"),
            "{again}"
        );
        assert!(entry(&c, 256, &mut shown).unwrap().contains("beaco\n"));
    }

    #[test]
    fn past_the_bound_flows_are_counted_exactly_when_they_would_have_had_an_entry() {
        let mut web_plain = flow(1, "10.0.0.1", "10.0.0.2", 443, b"x", b"y");
        web_plain
            .findings
            .push(finding("web", 1, "web.tls", "TLS", &[("other", "1")]));
        let mut web_tls = flow(2, "10.0.0.1", "10.0.0.2", 443, b"", b"");
        web_tls
            .findings
            .push(finding("web", 2, "web.https", "TLS", &[("tls.sni", "a.b")]));
        let mut web_http = flow(3, "10.0.0.1", "10.0.0.2", 80, b"", b"");
        web_http.findings.push(finding(
            "web",
            3,
            "web.http",
            "HTTP",
            &[("http.status", "200")],
        ));
        let mut dns_empty = flow(4, "10.0.0.1", "10.0.0.2", 53, b"q", b"");
        dns_empty
            .findings
            .push(finding("dns", 4, "dns", "DNS", &[("dns.rcode", "0")]));
        let mut dns_q = flow(5, "10.0.0.1", "10.0.0.2", 53, b"", b"");
        dns_q
            .findings
            .push(finding("dns", 5, "dns", "DNS", &[("dns.queries", "a.b")]));
        let flows = [
            web_plain,
            web_tls,
            web_http,
            dns_empty,
            dns_q,
            flow(6, "10.0.0.1", "10.0.0.2", 25, b"EHLO", b""),
            flow(7, "10.0.0.1", "10.0.0.2", 25, b"", b"220"),
            flow(8, "10.0.0.1", "10.0.0.2", 25, b"", b""),
        ];
        let mut answers = Vec::new();
        for max_excerpt in [0, 256] {
            for f in &flows {
                let would = entry(f, max_excerpt, &mut Shown::default()).is_some();
                assert_eq!(has_entry(f, max_excerpt), would, "flow {}", f.id);
                answers.push(would);
            }
        }
        // The cases cover both answers.
        assert!(answers.contains(&true) && answers.contains(&false));
    }

    #[test]
    fn stays_within_its_bound_and_says_so() {
        let max = 4096;
        let mut p = Payloads::new(256, max);
        let flows: Vec<_> = (1..200)
            .map(|i| {
                let up = format!("{i:0>300}");
                flow(i, "10.0.0.1", "10.0.0.2", 25, up.as_bytes(), &[b'b'; 300])
            })
            .collect();
        let mut text = p.batch(&flows[..100]);
        text += &p.batch(&flows[100..]);
        text += &p.finish("x.pcap", max);
        assert!(text.len() as u64 <= max, "{}", text.len());
        assert!(text.contains("BOUND REACHED"));
        assert!(text.contains(&format!("{} more flows", p.omitted)));
        assert_eq!(p.listed + p.omitted, 199);
    }

    #[test]
    fn hostile_values_and_cuts_inside_multibyte_characters_do_not_panic() {
        // Multi-byte characters everywhere, invalid JSON, odd DNS lists; bounds cutting through them.
        let emoji = "\u{1f600}\u{202e}\r\n".repeat(200);
        let tx = format!(r#"[{{"method":"{emoji}","uri":"/{emoji}","status":"x"}}]"#);
        for max in [4096u64, 4097, 4099, 5000, 6000] {
            let mut p = Payloads::new(300, max);
            let flows: Vec<Flow> = (1..40)
                .map(|i| {
                    let mut f = flow(i, "10.0.0.1", "10.0.0.2", 80, emoji.as_bytes(), b"\xff\xfe");
                    let attrs: &[(&str, &str)] = match i % 4 {
                        0 => &[("http.transactions", tx.as_str()), ("http.requests", "-1")],
                        1 => &[("http.transactions", "[{"), ("http.method", emoji.as_str())],
                        2 => &[
                            ("dns.queries", ",,,"),
                            ("dns.answers", "; ;x"),
                            ("dns.rcode", ""),
                        ],
                        _ => &[("tls.sni", emoji.as_str())],
                    };
                    let tag = if i % 4 == 2 { "dns" } else { "web.http" };
                    f.findings.push(finding("x", i, tag, "s", attrs));
                    f
                })
                .collect();
            let mut text = p.batch(&flows);
            text += &p.finish(&emoji, max);
            assert!(text.len() as u64 <= max, "{max}: {}", text.len());
            assert!(!text.contains('\r') && !text.contains('\u{202e}'));
        }
    }

    #[test]
    fn an_empty_run_still_writes_the_header_and_the_end() {
        let mut p = Payloads::new(256, 1 << 20);
        let text = p.finish("x.pcap", 1 << 20);
        assert!(text.starts_with("pcapxray payload report"));
        assert!(text.contains("0 flows listed"));
    }
}
