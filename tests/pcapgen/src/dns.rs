//! DNS messages built with `hickory-proto`, carried over UDP, TCP (2-byte
//! length framing) and multicast DNS.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR};
use hickory_proto::rr::{Name, RData, Record};

pub use hickory_proto::rr::RecordType;

use crate::frames::multicast_mac;
use crate::{Capture, Endpoint, Host, Side, TcpEnd, invalid};

/// Data of one answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Canonical name.
    Cname(String),
    /// Pointer (reverse lookup target).
    Ptr(String),
}

/// One answer record: owner name, TTL and data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    /// Owner name (e.g. `www.wikipedia.org`).
    pub name: String,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The record data.
    pub data: DnsData,
}

impl DnsAnswer {
    /// `name A ip`, TTL 300.
    pub fn a(name: &str, ip: Ipv4Addr) -> Self {
        Self::new(name, DnsData::A(ip))
    }

    /// `name AAAA ip`, TTL 300.
    pub fn aaaa(name: &str, ip: Ipv6Addr) -> Self {
        Self::new(name, DnsData::Aaaa(ip))
    }

    /// `name A ip` or `name AAAA ip` depending on the address family.
    pub fn ip(name: &str, ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self::a(name, a),
            IpAddr::V6(a) => Self::aaaa(name, a),
        }
    }

    /// `name CNAME target`, TTL 300.
    pub fn cname(name: &str, target: &str) -> Self {
        Self::new(name, DnsData::Cname(target.to_string()))
    }

    /// `name PTR target`, TTL 300 (`name` as from [`reverse_name`]).
    pub fn ptr(name: &str, target: &str) -> Self {
        Self::new(name, DnsData::Ptr(target.to_string()))
    }

    fn new(name: &str, data: DnsData) -> Self {
        DnsAnswer {
            name: name.to_string(),
            ttl: 300,
            data,
        }
    }

    fn to_record(&self) -> io::Result<Record> {
        let rdata = match &self.data {
            DnsData::A(ip) => RData::A(A(*ip)),
            DnsData::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
            DnsData::Cname(n) => RData::CNAME(CNAME(name(n)?)),
            DnsData::Ptr(n) => RData::PTR(PTR(name(n)?)),
        };
        Ok(Record::from_rdata(name(&self.name)?, self.ttl, rdata))
    }
}

fn name(s: &str) -> io::Result<Name> {
    let mut n = Name::from_ascii(s).map_err(invalid)?;
    n.set_fqdn(true);
    Ok(n)
}

/// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa` or the
/// nibble form under `ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(a) => {
            let mut s = String::new();
            for b in a.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

/// A standard recursive query for `qname`/`qtype` with the given id.
pub fn query_message(id: u16, qname: &str, qtype: RecordType) -> io::Result<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname)?, qtype));
    m.to_vec().map_err(invalid)
}

/// The response to [`query_message`]: the question plus `answers`
/// (in order, e.g. a CNAME then its A records). No answers gives NXDOMAIN.
pub fn response_message(
    id: u16,
    qname: &str,
    qtype: RecordType,
    answers: &[DnsAnswer],
) -> io::Result<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    if answers.is_empty() {
        m.metadata.response_code = ResponseCode::NXDomain;
    }
    m.add_query(Query::query(name(qname)?, qtype));
    for a in answers {
        m.add_answer(a.to_record()?);
    }
    m.to_vec().map_err(invalid)
}

/// An unsolicited mDNS response announcing `records` (cache-flush set, TTL 120).
pub fn mdns_announcement_message(records: &[DnsAnswer]) -> io::Result<Vec<u8>> {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    for a in records {
        let mut r = a.to_record()?;
        r.ttl = 120;
        r.mdns_cache_flush = true;
        m.add_answer(r);
    }
    m.to_vec().map_err(invalid)
}

/// Prefixes a DNS message with its 2-byte length, as on TCP.
pub fn tcp_framed(msg: &[u8]) -> io::Result<Vec<u8>> {
    let len = u16::try_from(msg.len()).map_err(invalid)?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    Ok(out)
}

impl Capture {
    /// A DNS query from `client` to `server` (port 53 normally) over UDP and
    /// its response with `answers` (empty: NXDOMAIN). Returns the message id.
    pub fn dns_query_response(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        qname: &str,
        qtype: RecordType,
        answers: &[DnsAnswer],
    ) -> io::Result<u16> {
        let id = self.rng().next_u16();
        let q = query_message(id, qname, qtype)?;
        let r = response_message(id, qname, qtype, answers)?;
        self.udp_exchange(client, server, &q, Some(&r))?;
        Ok(id)
    }

    /// The same exchange over TCP: handshake, length-framed query and
    /// response, FIN teardown. Returns the message id.
    pub fn dns_query_response_tcp(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        qname: &str,
        qtype: RecordType,
        answers: &[DnsAnswer],
    ) -> io::Result<u16> {
        let id = self.rng().next_u16();
        let q = tcp_framed(&query_message(id, qname, qtype)?)?;
        let r = tcp_framed(&response_message(id, qname, qtype, answers)?)?;
        self.tcp_session(
            client,
            server,
            &[(Side::Client, &q), (Side::Server, &r)],
            TcpEnd::Fin,
        )?;
        Ok(id)
    }

    /// `host` announces `name` (e.g. `printer.local`) with its address over
    /// multicast DNS (224.0.0.251 or ff02::fb, port 5353).
    pub fn mdns_announce(&mut self, host: Host, name: &str) -> io::Result<()> {
        let group: IpAddr = if host.ip.is_ipv4() {
            Ipv4Addr::new(224, 0, 0, 251).into()
        } else {
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb).into()
        };
        let msg = mdns_announcement_message(&[DnsAnswer::ip(name, host.ip)])?;
        let dst = Endpoint::new(multicast_mac(group), group, 5353);
        self.udp_send(host.port(5353), dst, &msg)
    }
}
