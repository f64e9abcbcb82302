//! `pcapgen`: writes small, exactly controlled packet captures for pcapxray's
//! end-to-end tests, the project's demo capture and the benchmark input.
//!
//! The centre is [`Capture`]: an in-memory list of timestamped Ethernet frames
//! with a clock. Helper methods, one module per protocol, append realistic
//! conversations and advance the clock:
//!
//! * [`frames`]: raw Ethernet/IPv4/IPv6/TCP/UDP frames ([`Capture::push_udp`], [`Capture::push_tcp`]);
//! * [`tcp`]: handshake, data with correct seq/ack, FIN or RST teardown ([`Capture::tcp_session`]);
//! * [`udp`]: request/response datagrams ([`Capture::udp_exchange`]);
//! * [`dns`]: DNS over UDP and TCP, mDNS, built with `hickory-proto` ([`Capture::dns_query_response`]);
//! * [`http`]: plain HTTP/1.1 GET ([`Capture::http_get`]);
//! * [`tls`]: TLS ClientHello/ServerHello inside a TCP session ([`Capture::tls_session`]);
//! * [`arp`], [`icmp`], [`dhcp`]: ARP who-has/is-at, ICMP echo, DHCP DORA;
//! * [`encap`]: tunnels and encapsulations (PPPoE, MPLS, GRE, ERSPAN, VXLAN, Geneve, IP-in-IP, GTP-U);
//! * [`creds`]: logins for the credentials analyzer (NTLMSSP with MS-NLMP responses, SMB2 session
//!   set-up, Kerberos AS-REQ in DER);
//! * [`scenarios`]: many hosts contacted by one client, periodic beacons;
//! * [`demo`]: the deterministic demo capture (`config/demo.pcap`);
//! * [`mod@bench`]: the large benchmark capture built from real captures.
//!
//! ```
//! use pcapgen::{Capture, Endpoint, TcpEnd, Side};
//! # fn main() -> std::io::Result<()> {
//! let mut cap = Capture::new(1_710_234_000);
//! let client = Endpoint::new([0x3c, 0x22, 0xfb, 1, 2, 3], [192, 168, 1, 10], 50000);
//! let server = Endpoint::new([0x00, 0x14, 0x6c, 1, 2, 3], [203, 0, 113, 5], 80);
//! cap.tcp_session(client, server, &[(Side::Client, b"hello"), (Side::Server, b"world")], TcpEnd::Fin)?;
//! let bytes = cap.to_pcap_bytes()?;
//! assert!(bytes.len() > 24);
//! # Ok(())
//! # }
//! ```

pub mod arp;
pub mod behaviours;
pub mod bench;
pub mod capture;
pub mod creds;
pub mod demo;
pub mod dhcp;
pub mod dns;
pub mod encap;
pub mod frames;
pub mod http;
pub mod icmp;
pub mod replay;
pub mod rng;
pub mod scenarios;
pub mod split;
pub mod tcp;
pub mod tls;
pub mod transfer;
pub mod udp;
pub mod vendors;
pub mod web;

pub use capture::Capture;
pub use dhcp::DhcpLease;
pub use dns::{DnsAnswer, RecordType};
pub use frames::{BROADCAST_MAC, Endpoint, Host, Mac, TcpSegment, parse_mac};
pub use http::HttpGet;
pub use rng::Rng;
pub use scenarios::Beacon;
pub use tcp::{Side, TcpConn, TcpEnd};
pub use tls::TlsHello;

/// Turns any displayable error (etherparse, hickory, pcap-file) into an `io::Error`.
pub(crate) fn invalid<E: std::fmt::Display>(e: E) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
}
