//! One DNS-family message as the rest of the plugin sees it, whatever the protocol it came from:
//! DNS, mDNS and LLMNR messages parsed by `hickory-proto`, and NetBIOS name service messages (whose
//! framing hickory also parses, but whose names and addresses need RFC 1002 decoding, in `nbns`).
//! Keeping one shape means the per-flow finding, the passive-DNS facts and the anomaly counts are
//! written once.

use crate::text;
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{RData, Record, RecordType};
use std::collections::HashMap;
use std::fmt::Write;
use std::net::IpAddr;

/// Most records of one message that are looked at (a 4 KiB datagram holds at most a few hundred).
pub const MAX_RECORDS: usize = 256;

/// Longest CNAME chain followed from a queried name to an address.
const MAX_CHAIN: usize = 8;

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name as text (escaped, no trailing dot); NetBIOS names as `NAME<xx>`.
    pub name: String,
    /// The query type mnemonic: `A`, `AAAA`, `PTR`, `NB`, `TYPE65280`, ...
    pub qtype: String,
}

/// One record of an answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The owner name as text.
    pub owner: String,
    /// The record type mnemonic.
    pub rtype: String,
    /// The record data as text (`1.2.3.4`, `10 mail.example.com`, `"v=spf1 -all"`).
    pub data: String,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.owner, self.rtype, self.data)
    }
}

/// A fact a message establishes about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address the fact is about.
    pub ip: IpAddr,
    /// The fact key: `name` or `netbios.group`.
    pub key: &'static str,
    /// The value (a lower-case DNS name, or a NetBIOS name as sent).
    pub value: String,
}

/// A parsed message.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The transaction id.
    pub id: u16,
    /// True for a response (QR bit set).
    pub response: bool,
    /// The header's opcode.
    pub opcode: u8,
    /// The response code mnemonic (`NOERROR`, `NXDOMAIN`, ...), for responses.
    pub rcode: String,
    /// True when the response code is NXDOMAIN (NetBIOS: name error).
    pub name_error: bool,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Answer>,
    /// Addresses and names this message binds (responses and announcements only).
    pub bindings: Vec<Binding>,
    /// Records in all sections (for sanity checks).
    pub records: usize,
}

/// The mnemonic of a record type (hickory's, or from the IANA registry for the types hickory does not
/// know); others as `TYPEn` (RFC 3597).
pub fn type_name(rtype: RecordType) -> String {
    let code = match rtype {
        RecordType::Unknown(code) => code,
        other => return other.to_string(),
    };
    let name = match code {
        13 => "HINFO",
        17 => "RP",
        18 => "AFSDB",
        24 => "SIG",
        25 => "KEY",
        29 => "LOC",
        39 => "DNAME",
        43 => "DS",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        55 => "HIP",
        99 => "SPF",
        249 => "TKEY",
        256 => "URI",
        _ => return format!("TYPE{code}"),
    };
    name.to_string()
}

/// Parses a DNS, mDNS or LLMNR message. `None` when hickory cannot read it.
pub fn parse_dns(bytes: &[u8]) -> Option<Parsed> {
    let message = Message::from_vec(bytes).ok()?;
    let meta = &message.metadata;
    let response = meta.message_type == MessageType::Response;
    let code = u16::from(meta.response_code);
    let mut parsed = Parsed {
        id: meta.id,
        response,
        opcode: u8::from(meta.op_code),
        rcode: if response {
            text::rcode(code)
        } else {
            String::new()
        },
        name_error: response && code == 3,
        questions: message
            .queries
            .iter()
            .take(MAX_RECORDS)
            .map(|q| Question {
                name: text::name(&q.name),
                qtype: type_name(q.query_type),
            })
            .collect(),
        answers: message
            .answers
            .iter()
            .take(MAX_RECORDS)
            .map(describe)
            .collect(),
        bindings: Vec::new(),
        records: message.answers.len() + message.authorities.len() + message.additionals.len(),
    };
    if response {
        parsed.bindings = bindings(&message);
    }
    Some(parsed)
}

/// One record as owner, type and data, bounded and printable.
pub fn describe(record: &Record) -> Answer {
    let owner = text::name(&record.name);
    let rtype = type_name(record.record_type());
    let data = match &record.data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(n) => text::name(&n.0),
        RData::PTR(n) => text::name(&n.0),
        RData::NS(n) => text::name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, text::name(&mx.exchange)),
        RData::SRV(srv) => format!(
            "{} {} {} {}",
            srv.priority,
            srv.weight,
            srv.port,
            text::name(&srv.target)
        ),
        RData::TXT(txt) => {
            let strings: Vec<String> = txt
                .txt_data
                .iter()
                .map(|s| format!("\"{}\"", text::printable(s)))
                .collect();
            text::shorten(&strings.join(" "), text::MAX_VALUE_CHARS)
        }
        RData::SOA(soa) => format!("{} {}", text::name(&soa.mname), soa.serial),
        RData::Unknown { rdata, .. } => format!("({} bytes)", rdata.anything.len()),
        other => {
            // `write!` rather than `to_string()`: a Display that fails must not panic.
            let mut shown = String::new();
            match write!(shown, "{other}") {
                Ok(()) => text::printable(shown.as_bytes()),
                Err(_) => "(unprintable)".into(),
            }
        }
    };
    Answer { owner, rtype, data }
}

/// The names every A/AAAA record of a response gives its address (the record's owner, and every
/// name whose CNAME chain in the answer section leads to it), and the names PTR records give the
/// address their `in-addr.arpa` / `ip6.arpa` owner stands for.
fn bindings(message: &Message) -> Vec<Binding> {
    let records = || {
        message
            .answers
            .iter()
            .chain(&message.authorities)
            .chain(&message.additionals)
            .take(MAX_RECORDS)
    };
    // alias → canonical name, lower case.
    let mut aliases: HashMap<String, String> = HashMap::new();
    for record in message.answers.iter().take(MAX_RECORDS) {
        if let RData::CNAME(target) = &record.data {
            aliases.insert(
                text::name(&record.name).to_ascii_lowercase(),
                text::name(&target.0).to_ascii_lowercase(),
            );
        }
    }
    let mut out: Vec<Binding> = Vec::new();
    let mut add = |ip: IpAddr, value: String| {
        let binding = Binding {
            ip,
            key: "name",
            value,
        };
        if !out.contains(&binding) {
            out.push(binding);
        }
    };
    for record in records() {
        let ip: IpAddr = match &record.data {
            RData::A(a) => a.0.into(),
            RData::AAAA(a) => a.0.into(),
            RData::PTR(target) => {
                if let Some(ip) = arpa_address(&record.name)
                    && let Some(name) = text::host_name(&text::name(&target.0))
                {
                    add(ip, name);
                }
                continue;
            }
            _ => continue,
        };
        let owner = text::name(&record.name).to_ascii_lowercase();
        if let Some(name) = text::host_name(&owner) {
            add(ip, name);
        }
        for alias in aliases.keys() {
            if leads_to(&aliases, alias, &owner)
                && let Some(name) = text::host_name(alias)
            {
                add(ip, name);
            }
        }
    }
    out.sort_by(|a, b| (a.ip, &a.value).cmp(&(b.ip, &b.value)));
    out
}

/// True when following CNAMEs from `from` reaches `to` within [`MAX_CHAIN`] steps.
fn leads_to(aliases: &HashMap<String, String>, from: &str, to: &str) -> bool {
    let mut at = from;
    for _ in 0..MAX_CHAIN {
        match aliases.get(at) {
            Some(next) if next == to => return true,
            Some(next) => at = next,
            None => return false,
        }
    }
    false
}

/// The address a complete `in-addr.arpa` or `ip6.arpa` name stands for.
pub fn arpa_address(name: &hickory_proto::rr::Name) -> Option<IpAddr> {
    let mut name = name.clone();
    // Names read from the wire are fully qualified; a name built from text may not be.
    name.set_fqdn(true);
    let net = name.parse_arpa_name().ok()?;
    let full = match net.addr() {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    (net.prefix_len() == full).then(|| net.addr())
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, TXT};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use std::str::FromStr;

    pub fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    /// A query for `name`/`qtype` with id `id`, as wire bytes.
    pub fn query(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(n(name), qtype));
        m.to_vec().unwrap()
    }

    /// A response to `name`/`qtype` with the given answers, as wire bytes.
    pub fn response(
        id: u16,
        name: &str,
        qtype: RecordType,
        code: ResponseCode,
        answers: Vec<Record>,
    ) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.add_query(Query::query(n(name), qtype));
        m.add_answers(answers);
        m.to_vec().unwrap()
    }

    pub fn lines(p: &Parsed) -> Vec<String> {
        p.answers.iter().map(|a| a.to_string()).collect()
    }

    pub fn rec(name: &str, data: RData) -> Record {
        Record::from_rdata(n(name), 300, data)
    }

    #[test]
    fn a_cname_chain_names_the_final_address_with_every_alias() {
        let bytes = response(
            7,
            "upload.wikimedia.org.",
            RecordType::A,
            ResponseCode::NoError,
            vec![
                rec(
                    "upload.wikimedia.org.",
                    RData::CNAME(CNAME(n("upload.pmtpa.wikimedia.org."))),
                ),
                rec(
                    "upload.pmtpa.wikimedia.org.",
                    RData::A(A::new(208, 80, 152, 3)),
                ),
            ],
        );
        let p = parse_dns(&bytes).unwrap();
        assert!(p.response);
        assert_eq!(p.id, 7);
        assert_eq!(p.rcode, "NOERROR");
        assert_eq!(
            p.questions,
            [Question {
                name: "upload.wikimedia.org".into(),
                qtype: "A".into()
            }]
        );
        assert_eq!(
            lines(&p),
            [
                "upload.wikimedia.org CNAME upload.pmtpa.wikimedia.org",
                "upload.pmtpa.wikimedia.org A 208.80.152.3"
            ]
        );
        let names: Vec<_> = p.bindings.iter().map(|b| b.value.as_str()).collect();
        assert_eq!(
            names,
            ["upload.pmtpa.wikimedia.org", "upload.wikimedia.org"]
        );
        assert!(
            p.bindings
                .iter()
                .all(|b| b.ip.to_string() == "208.80.152.3")
        );
    }

    #[test]
    fn a_ptr_answer_names_the_address_it_is_about() {
        let bytes = response(
            1,
            "104.9.192.66.in-addr.arpa.",
            RecordType::PTR,
            ResponseCode::NoError,
            vec![rec(
                "104.9.192.66.in-addr.arpa.",
                RData::PTR(PTR(n("Host.Example.NET."))),
            )],
        );
        let p = parse_dns(&bytes).unwrap();
        assert_eq!(
            p.bindings,
            [Binding {
                ip: "66.192.9.104".parse().unwrap(),
                key: "name",
                value: "host.example.net".into()
            }]
        );
        let v6 = n("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.");
        assert_eq!(
            arpa_address(&v6),
            Some("4321:0:1:2:3:4:567:89ab".parse().unwrap())
        );
        assert_eq!(arpa_address(&n("9.192.66.in-addr.arpa.")), None);
        assert_eq!(arpa_address(&n("www.example.com.")), None);
    }

    #[test]
    fn queries_bind_nothing_and_errors_are_named() {
        let p = parse_dns(&query(9, "www.example.notginh.", RecordType::AAAA)).unwrap();
        assert!(!p.response);
        assert!(p.bindings.is_empty());
        assert_eq!(p.questions[0].qtype, "AAAA");
        let nx = response(
            9,
            "www.example.notginh.",
            RecordType::AAAA,
            ResponseCode::NXDomain,
            vec![],
        );
        let p = parse_dns(&nx).unwrap();
        assert_eq!(p.rcode, "NXDOMAIN");
        assert!(p.name_error);
    }

    #[test]
    fn record_data_is_described_compactly() {
        let bytes = response(
            2,
            "x.example.",
            RecordType::TXT,
            ResponseCode::NoError,
            vec![
                rec(
                    "x.example.",
                    RData::TXT(TXT::from_bytes(vec![&b"v=spf1 -all"[..], &b"\x00\x01"[..]])),
                ),
                rec(
                    "x.example.",
                    RData::AAAA(AAAA("2001:db8::1".parse().unwrap())),
                ),
            ],
        );
        let p = parse_dns(&bytes).unwrap();
        assert_eq!(
            lines(&p),
            [
                "x.example TXT \"v=spf1 -all\" \"\\x00\\x01\"",
                "x.example AAAA 2001:db8::1"
            ]
        );
    }

    #[test]
    fn garbage_is_not_a_message_and_never_panics() {
        assert!(parse_dns(b"").is_none());
        assert!(parse_dns(b"\x00\x01").is_none());
        let good = response(
            3,
            "a.example.",
            RecordType::A,
            ResponseCode::NoError,
            vec![rec("a.example.", RData::A(A::new(192, 0, 2, 1)))],
        );
        for cut in 0..good.len() {
            let _ = parse_dns(&good[..cut]);
        }
        for at in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let _ = parse_dns(&bad);
            }
        }
    }
}
