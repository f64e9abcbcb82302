//! The names the built-in plugins write and read: finding tags, finding attributes, host-fact keys
//! and run-note keys, one documented constant each, so a stage that reads what another wrote cannot
//! drift from it by a typo. One module per name space (the part before the first dot); each module's
//! [`TAG`](web::TAG) is the tag every finding of that space lies below ([`crate::tag_matches`]).
//!
//! The values are part of the report format (`report.json`, the CSV and SQLite tables): changing one
//! is a format change.
//!
//! Attributes whose value is a list or a record have typed readers on [`crate::Finding`] and
//! [`crate::HostInfo`] (see [`crate::results`]).

/// Facts about hosts that are not in one name space (the host table's columns).
pub mod host {
    /// Host fact (`web`, `dns`): a name the host was seen under (SNI, HTTP Host, DNS answer,
    /// NetBIOS, mDNS).
    pub const NAME: &str = "name";
    /// Host fact (`devices`): `local` for a host of the capture's own network.
    pub const NETWORK: &str = "network";
    /// Host fact (`devices`), and attribute of its findings: a MAC address the host used,
    /// `aa:bb:cc:dd:ee:ff`.
    pub const MAC: &str = "mac";
    /// Host fact (`devices`), and attribute of its findings: the maker of the network card, from the
    /// MAC's OUI.
    pub const VENDOR: &str = "vendor";
    /// Host fact (`devices`): the host's role, `gateway` or `router`.
    pub const DEVICE: &str = "device";
    /// Host fact (`devices`): the probable operating system family.
    pub const OS: &str = "os";
}

/// Attribute names several stages put on their own findings and run notes.
pub mod common {
    /// Attribute: why the stage concluded what the finding says, in words (`beacon`, `behaviour`,
    /// `dns`, `tor`, `devices`).
    pub const REASON: &str = "reason";
    /// Attribute: several reasons, `; `-joined (`suspicious`, `web.certificate`).
    pub const REASONS: &str = "reasons";
    /// Attribute: set to `true` on a conclusion drawn by a heuristic rather than read from the traffic.
    pub const HEURISTIC: &str = "heuristic";
    /// Run-note attribute: the bound that was reached.
    pub const LIMIT: &str = "limit";
    /// Run-note attribute: how many items were not kept past the bound.
    pub const DROPPED: &str = "dropped";
}

/// The `web` analyzer: HTTP, TLS and QUIC flows.
pub mod web {
    /// Tag every `web` finding lies below.
    pub const TAG: &str = "web";
    /// Tag: an HTTP flow (attributes in [`super::http`]).
    pub const HTTP: &str = "web.http";
    /// Tag: TLS to a web port (443, 8443) (attributes in [`super::tls`]).
    pub const HTTPS: &str = "web.https";
    /// Tag: TLS on another port.
    pub const TLS: &str = "web.tls";
    /// Tag: a QUIC flow (attributes in [`super::quic`] and [`super::tls`]).
    pub const QUIC: &str = "web.quic";
    /// Tag: a server certificate that deserves a look (expired, self-signed, ...; the problems in
    /// [`super::common::REASONS`]).
    pub const CERTIFICATE: &str = "web.certificate";
    /// Attribute of `web.*` findings: the name of the server the client asked for (SNI, else HTTP
    /// Host).
    pub const SERVER_NAME: &str = "server.name";
}

/// Attributes of `web.http` findings.
pub mod http {
    /// The `Host` header of the first request.
    pub const HOST: &str = "http.host";
    /// Every distinct `Host` header of the flow, comma-joined ([`crate::Finding::http_hosts`]).
    pub const HOSTS: &str = "http.hosts";
    /// The method of the first request.
    pub const METHOD: &str = "http.method";
    /// The target of the first request.
    pub const URI: &str = "http.uri";
    /// The `User-Agent` header; also a host fact of the client.
    pub const USER_AGENT: &str = "http.user-agent";
    /// The status of the first response.
    pub const STATUS: &str = "http.status";
    /// The `Server` header of the first response.
    pub const SERVER: &str = "http.server";
    /// The `Content-Type` of the first response.
    pub const CONTENT_TYPE: &str = "http.content-type";
    /// Number of requests in the flow.
    pub const REQUESTS: &str = "http.requests";
    /// Every request and response, a JSON list ([`crate::Finding::http_transactions`]).
    pub const TRANSACTIONS: &str = "http.transactions";
    /// Names of form fields the requests sent, comma-joined.
    pub const FORM_FIELDS: &str = "http.form-fields";
    /// Set when a request or response head was longer than the analyzer reads.
    pub const HEAD_OVER_LIMIT: &str = "http.head-over-limit";
    /// The scheme of an `Authorization` header (`Basic`, `Bearer`, ...).
    pub const AUTH_SCHEME: &str = "http.auth-scheme";
    /// The user name of HTTP Basic authentication.
    pub const BASIC_AUTH_USER: &str = "http.basic-auth-user";
    /// Set when the requests went through a proxy (absolute URIs or `CONNECT`).
    pub const PROXY: &str = "http.proxy";
}

/// Attributes of `web.https`, `web.tls` and `web.quic` findings.
pub mod tls {
    /// Server Name Indication of the ClientHello.
    pub const SNI: &str = "tls.sni";
    /// Protocols the client offered (ALPN), `, `-joined ([`crate::Finding::tls_alpn`]).
    pub const ALPN: &str = "tls.alpn";
    /// The protocol the server selected (ALPN).
    pub const ALPN_SELECTED: &str = "tls.alpn-selected";
    /// The negotiated version (`TLS 1.3`).
    pub const VERSION: &str = "tls.version";
    /// The versions the client offered, `, `-joined ([`crate::Finding::tls_versions`]).
    pub const VERSIONS: &str = "tls.versions";
    /// The negotiated cipher suite.
    pub const CIPHER: &str = "tls.cipher";
    /// Set when the client sent Encrypted Client Hello (the real server name is hidden).
    pub const ECH: &str = "tls.ech";
    /// Set when the server asked for a second ClientHello (HelloRetryRequest).
    pub const HELLO_RETRY: &str = "tls.hello-retry";
    /// Set when the flow was caught after its handshake.
    pub const MID_STREAM: &str = "tls.mid-stream";
    /// Set when the ClientHello was cut short in the capture.
    pub const CLIENT_HELLO_TRUNCATED: &str = "tls.client-hello-truncated";
    /// JA3 hash of the ClientHello.
    pub const JA3: &str = "tls.ja3";
    /// The JA3 string the hash is made of.
    pub const JA3_FULL: &str = "tls.ja3-full";
    /// JA3S hash of the ServerHello.
    pub const JA3S: &str = "tls.ja3s";
    /// The JA3S string the hash is made of.
    pub const JA3S_FULL: &str = "tls.ja3s-full";
    /// JA4 fingerprint of the ClientHello.
    pub const JA4: &str = "tls.ja4";
    /// JA4S fingerprint of the ServerHello.
    pub const JA4S: &str = "tls.ja4s";
    /// Server certificate (TLS 1.2 and older): its subject.
    pub const CERT_SUBJECT: &str = "tls.cert.subject";
    /// Server certificate: its issuer.
    pub const CERT_ISSUER: &str = "tls.cert.issuer";
    /// Server certificate: its serial number.
    pub const CERT_SERIAL: &str = "tls.cert.serial";
    /// Server certificate: start of validity.
    pub const CERT_NOT_BEFORE: &str = "tls.cert.not-before";
    /// Server certificate: end of validity.
    pub const CERT_NOT_AFTER: &str = "tls.cert.not-after";
    /// Server certificate: set when it had expired at the time of the flow.
    pub const CERT_EXPIRED: &str = "tls.cert.expired";
    /// Server certificate: set when subject and issuer are the same.
    pub const CERT_SELF_SIGNED: &str = "tls.cert.self-signed";
    /// Server certificate: its DNS names (subject alternative names), `, `-joined.
    pub const CERT_NAMES: &str = "tls.cert.names";
    /// Server certificate: its SHA-1 fingerprint.
    pub const CERT_SHA1: &str = "tls.cert.sha1";
    /// Server certificate: its SHA-256 fingerprint.
    pub const CERT_SHA256: &str = "tls.cert.sha256";
    /// The chain of certificates the server sent, a JSON list.
    pub const CERT_CHAIN: &str = "tls.cert.chain";
}

/// Attributes of `web.quic` findings beyond the [`super::tls`] ones.
pub mod quic {
    /// The QUIC version of the Initial packets.
    pub const VERSION: &str = "quic.version";
    /// The user agent of the client's transport parameters (Google QUIC).
    pub const USER_AGENT: &str = "quic.user-agent";
}

/// The `dns` analyzer: DNS, mDNS, LLMNR and NetBIOS name service.
pub mod dns {
    /// Tag of DNS flows; every `dns` finding lies below it.
    pub const TAG: &str = "dns";
    /// Tag: an mDNS flow.
    pub const MDNS: &str = "dns.mdns";
    /// Tag: an LLMNR flow.
    pub const LLMNR: &str = "dns.llmnr";
    /// Tag: a NetBIOS name service flow.
    pub const NBNS: &str = "dns.nbns";
    /// Tag: messages that could not be decoded.
    pub const MALFORMED: &str = "dns.malformed";
    /// Tag (host): many queries answered NXDOMAIN.
    pub const NXDOMAIN_HEAVY: &str = "dns.nxdomain-heavy";
    /// Tag (host): many TXT queries.
    pub const TXT_HEAVY: &str = "dns.txt-heavy";
    /// Tag (host): query names that look like data tunnelled through DNS.
    pub const TUNNEL_SUSPECT: &str = "dns.tunnel-suspect";
    /// Attribute: the names asked, comma-joined in order ([`crate::Finding::dns_queries`]).
    pub const QUERIES: &str = "dns.queries";
    /// Attribute: names left out of [`QUERIES`] past its bound.
    pub const QUERIES_OMITTED: &str = "dns.queries-omitted";
    /// Attribute: the query types asked, comma-joined (`A,AAAA`).
    pub const QTYPES: &str = "dns.qtypes";
    /// Attribute: the answer records, `name TYPE data`, `; `-joined ([`crate::Finding::dns_answers`]).
    pub const ANSWERS: &str = "dns.answers";
    /// Attribute: answers left out of [`ANSWERS`] past its bound.
    pub const ANSWERS_OMITTED: &str = "dns.answers-omitted";
    /// Attribute: the response codes seen, comma-joined (`NOERROR`, `NXDOMAIN`).
    pub const RCODE: &str = "dns.rcode";
    /// Attribute: `udp` or `tcp`.
    pub const TRANSPORT: &str = "dns.transport";
    /// Attribute: how many queries and responses the flow had (`2 queries, 2 responses`).
    pub const MESSAGES: &str = "dns.messages";
    /// Attribute: number of messages that could not be decoded.
    pub const MALFORMED_MESSAGES: &str = "dns.malformed-messages";
    /// Attribute of host anomalies: the registered domain the queries went to.
    pub const DOMAIN: &str = "dns.domain";
    /// Attribute of host anomalies: how many queries counted.
    pub const QUERY_COUNT: &str = "dns.query-count";
    /// Attribute of host anomalies: how many distinct names were asked.
    pub const DISTINCT_NAMES: &str = "dns.distinct-names";
    /// Attribute of host anomalies: the longest name asked.
    pub const LONGEST_NAME: &str = "dns.longest-name";
    /// Attribute of host anomalies: some of the names, comma-joined.
    pub const EXAMPLES: &str = "dns.examples";
    /// Attribute of `dns.nxdomain-heavy`: how many names got NXDOMAIN.
    pub const NXDOMAIN_NAMES: &str = "dns.nxdomain-names";
    /// Attribute of `dns.txt-heavy`: how many TXT queries counted.
    pub const TXT_QUERIES: &str = "dns.txt-queries";
    /// Host fact: `true` for a host that answered DNS queries.
    pub const RESOLVER: &str = "dns.resolver";
    /// Run note: names waiting for their address were dropped past the bound.
    pub const NOTE_LIMIT: &str = "dns.limit";
}

/// Host facts the `dns` analyzer reads from NetBIOS name service.
pub mod netbios {
    /// Host fact: the host's NetBIOS name.
    pub const NAME: &str = "netbios.name";
    /// Host fact: the NetBIOS workgroup or domain.
    pub const GROUP: &str = "netbios.group";
}

/// Host facts the `devices` analyzer reads from DHCP.
pub mod dhcp {
    /// Host fact: the host name the client sent (option 12).
    pub const HOSTNAME: &str = "dhcp.hostname";
    /// Host fact: the vendor class the client sent (option 60).
    pub const VENDOR_CLASS: &str = "dhcp.vendor-class";
    /// Host fact: the address the client asked for (option 50).
    pub const REQUESTED_ADDRESS: &str = "dhcp.requested-address";
    /// Host fact: the client identifier (option 61).
    pub const CLIENT_ID: &str = "dhcp.client-id";
    /// Host fact: the options the client asked for (option 55), comma-joined numbers.
    pub const PARAMETER_REQUEST_LIST: &str = "dhcp.parameter-request-list";
    /// Host fact: the DHCP message types the host sent, comma-joined.
    pub const MESSAGE_TYPES: &str = "dhcp.message-types";
    /// Host fact: `true` for a host that answered as a DHCP server.
    pub const SERVER: &str = "dhcp.server";
}

/// The `devices` analyzer.
pub mod device {
    /// Tag every `devices` finding about a host lies below.
    pub const TAG: &str = "device";
    /// Tag (host): the host forwards the local network's traffic to the internet.
    pub const GATEWAY: &str = "device.gateway";
    /// Tag (host): the host routes between local networks.
    pub const ROUTER: &str = "device.router";
    /// Tag (host): a probable operating system.
    pub const OS: &str = "device.os";
    /// Host fact and attribute: what kind of MAC address the host used (`global`, `local`,
    /// `random`, ...).
    pub const MAC_KIND: &str = "mac.kind";
    /// Attribute: the kinds of the MAC addresses seen, comma-joined.
    pub const MAC_KINDS: &str = "mac.kinds";
    /// Host fact: the evidence of the [`super::host::OS`] guess, `; `-joined.
    pub const OS_EVIDENCE: &str = "os.evidence";
    /// Run note: hosts seen in only one packet, left out of the inventory.
    pub const NOTE_ONE_PACKET_HOSTS: &str = "devices.one-packet-hosts";
    /// Run note: hosts whose TTLs were not followed past the bound.
    pub const NOTE_TTL_LIMIT: &str = "devices.ttl-limit";
    /// Run note: DHCP clients not followed past the bound.
    pub const NOTE_DHCP_LIMIT: &str = "devices.dhcp-limit";
    /// Run note: hosts left out of the inventory past the bound.
    pub const NOTE_HOST_LIMIT: &str = "devices.host-limit";
    /// Attribute of `device.gateway` and `device.router`: how many addresses were seen behind the
    /// device's MAC (remote hosts reached through it).
    pub const REMOTE_ADDRESSES: &str = "remote-addresses";
    /// Attribute of `device.gateway` and `device.router`: some of those addresses, comma-joined.
    pub const EXAMPLES: &str = "examples";
    /// Attribute of `device.os`: the hints for the family, `; `-joined.
    pub const EVIDENCE: &str = "evidence";
    /// Attribute of `device.os`: hints that point to another family, `; `-joined.
    pub const CONFLICTING: &str = "conflicting";
    /// Attribute of `device`: the host's MAC addresses, comma-joined.
    pub const MACS: &str = "macs";
    /// Attribute of `device`: the names the host was seen under, comma-joined.
    pub const NAMES: &str = "names";
    /// Attribute of `device`: its roles (`gateway`, `router`, `dhcp-server`, ...), comma-joined.
    pub const ROLES: &str = "roles";
    /// Run-note attribute of [`NOTE_ONE_PACKET_HOSTS`]: how many such hosts.
    pub const NOTE_HOSTS: &str = "hosts";
}

/// The `tor` analyzer.
pub mod tor {
    /// Tag every `tor` finding lies below.
    pub const TAG: &str = "tor";
    /// Tag: a flow to a known Tor relay; also the host fact naming the relay (its nickname).
    pub const RELAY: &str = "tor.relay";
    /// Tag: a flow to the address of a relay, on a port that is not a relay port.
    pub const RELAY_ADDRESS: &str = "tor.relay-address";
    /// Attribute: the relay's nickname.
    pub const NICKNAME: &str = "tor.nickname";
    /// Attribute: the relay's fingerprint.
    pub const FINGERPRINT: &str = "tor.fingerprint";
    /// Attribute: the relay's flags in the consensus.
    pub const FLAGS: &str = "tor.flags";
    /// Attribute: the relay's OR port.
    pub const ORPORT: &str = "tor.orport";
    /// Attribute: the relay's directory port.
    pub const DIRPORT: &str = "tor.dirport";
    /// Attribute: the consensus the relay was found in.
    pub const CONSENSUS: &str = "tor.consensus";
    /// Attribute: how the flow matched the consensus (address and port, address only).
    pub const CONSENSUS_MATCH: &str = "tor.consensus-match";
    /// Attribute: how many relays share the address.
    pub const RELAYS_AT_ADDRESS: &str = "tor.relays-at-address";
    /// Tag: TLS with a random-looking server name, as Tor clients send (no consensus needed).
    pub const HEURISTIC: &str = "tor.heuristic";
    /// Attribute of `tor.heuristic`: the server name.
    pub const SNI: &str = "tor.sni";
    /// Attribute of `tor.heuristic`: how random the server name looks (0–1).
    pub const SNI_SCORE: &str = "tor.sni-score";
    /// Run note: no consensus document could be used.
    pub const NOTE_NO_CONSENSUS: &str = "tor.no-consensus";
    /// Run note: flows no held consensus covers.
    pub const NOTE_NOT_COVERED: &str = "tor.not-covered";
    /// Run note: a consensus used ends before its `directory-footer` (truncated; relays after the
    /// cut are missing).
    pub const NOTE_TRUNCATED: &str = "tor.truncated-consensus";
}

/// The `beacon` analyzer.
pub mod beacon {
    /// Tag of beacon findings (on the client host).
    pub const TAG: &str = "beacon";
    /// Attribute and host fact: `server:port/protocol` of a beacon's peer.
    pub const PEER: &str = "beacon.peer";
    /// Attribute: the client that beacons.
    pub const CLIENT: &str = "beacon.client";
    /// Attribute: the server it beacons to.
    pub const SERVER: &str = "beacon.server";
    /// Attribute: the server port.
    pub const PORT: &str = "beacon.port";
    /// Attribute: the transport protocol.
    pub const PROTOCOL: &str = "beacon.protocol";
    /// Attribute: the score (0–1) of the regularity.
    pub const SCORE: &str = "beacon.score";
    /// Attribute: the typical interval, in seconds.
    pub const INTERVAL_SECONDS: &str = "beacon.interval-seconds";
    /// Attribute: the jitter of the intervals, in seconds.
    pub const JITTER_SECONDS: &str = "beacon.jitter-seconds";
    /// Attribute: number of connections.
    pub const CONNECTIONS: &str = "beacon.connections";
    /// Attribute: the typical bytes per connection.
    pub const BYTES: &str = "beacon.bytes";
    /// Attribute: time of the first connection.
    pub const FIRST: &str = "beacon.first";
    /// Attribute: time of the last connection.
    pub const LAST: &str = "beacon.last";
    /// Attribute: set when the connection times were cut at their bound.
    pub const TRUNCATED: &str = "beacon.truncated";
    /// Attribute: connections not counted past the bound.
    pub const DROPPED_CONNECTIONS: &str = "beacon.dropped-connections";
    /// Attribute: flows of client-server pairs not followed past the bound.
    pub const DROPPED_PAIRS_FLOWS: &str = "beacon.dropped-pairs-flows";
    /// Run note: pairs not followed past the bound.
    pub const NOTE_INCOMPLETE: &str = "beacon.incomplete";
}

/// The `behaviour` analyzer.
pub mod behaviour {
    /// Tag every `behaviour` finding lies below.
    pub const TAG: &str = "behaviour";
    /// Tag: one host tried many ports of another.
    pub const PORT_SCAN: &str = "behaviour.port-scan";
    /// Tag: one host tried the same port on many hosts.
    pub const HOST_SWEEP: &str = "behaviour.host-sweep";
    /// Tag: one host pinged many hosts.
    pub const PING_SWEEP: &str = "behaviour.ping-sweep";
    /// Tag: one host asked ARP for many addresses.
    pub const ARP_SWEEP: &str = "behaviour.arp-sweep";
    /// Tag: many failed logins to one service.
    pub const BRUTE_FORCE: &str = "behaviour.brute-force";
    /// Tag: many unanswered SYNs to one host.
    pub const SYN_FLOOD: &str = "behaviour.syn-flood";
    /// Tag: large DNS answers to small queries.
    pub const DNS_AMPLIFICATION: &str = "behaviour.dns-amplification";
    /// Tag: many source MAC addresses on one link.
    pub const MAC_FLOOD: &str = "behaviour.mac-flood";
    /// Tag: many DHCP requests from changing MAC addresses.
    pub const DHCP_STARVATION: &str = "behaviour.dhcp-starvation";
    /// Attribute: the behaviour in words.
    pub const BEHAVIOUR: &str = "behaviour";
    /// Attribute: the host that did it.
    pub const ACTOR: &str = "behaviour.actor";
    /// Attribute: whether the actor is the `source` or the `target` of the behaviour.
    pub const ROLE: &str = "behaviour.role";
    /// Attribute: attempts counted.
    pub const ATTEMPTS: &str = "behaviour.attempts";
    /// Attribute: attempts that failed.
    pub const FAILED: &str = "behaviour.failed";
    /// Attribute: share of failed attempts.
    pub const FAILED_SHARE: &str = "behaviour.failed-share";
    /// Attribute: attempts the peer rejected.
    pub const REJECTED: &str = "behaviour.rejected";
    /// Attribute: distinct ports tried.
    pub const PORTS: &str = "behaviour.ports";
    /// Attribute: distinct targets tried.
    pub const TARGETS: &str = "behaviour.targets";
    /// Attribute: some of the ports, comma-joined.
    pub const SAMPLE_PORTS: &str = "behaviour.sample-ports";
    /// Attribute: some of the targets, comma-joined.
    pub const SAMPLE_TARGETS: &str = "behaviour.sample-targets";
    /// Attribute: flows involved.
    pub const FLOWS: &str = "behaviour.flows";
    /// Attribute: number of flows involved.
    pub const FLOW_COUNT: &str = "behaviour.flow-count";
    /// Attribute: time of the first attempt.
    pub const FIRST: &str = "behaviour.first";
    /// Attribute: time of the last attempt.
    pub const LAST: &str = "behaviour.last";
    /// Attribute: how long it lasted, in seconds.
    pub const SECONDS: &str = "behaviour.seconds";
    /// Attribute: attempts not counted past a bound.
    pub const UNCOUNTED: &str = "behaviour.uncounted";
    /// Run note: a bound of the analyzer was reached.
    pub const NOTE_LIMIT: &str = "behaviour.limit";
    /// Run-note attribute of [`NOTE_LIMIT`]: attempts of sources that were forgotten.
    pub const NOTE_FORGOTTEN_ATTEMPTS: &str = "forgotten-attempts";
    /// Run-note attribute of [`NOTE_LIMIT`]: services (targets) that were forgotten.
    pub const NOTE_FORGOTTEN_SERVICES: &str = "forgotten-services";
}

/// Tags of the `credentials` analyzer, one per protocol (the attributes are in [`crate::credentials`]).
pub mod credentials {
    pub use crate::credentials::TAG;
    /// Tag: an FTP `USER`/`PASS`.
    pub const FTP: &str = "credentials.ftp";
    /// Tag: a POP3 login.
    pub const POP3: &str = "credentials.pop3";
    /// Tag: an IMAP login.
    pub const IMAP: &str = "credentials.imap";
    /// Tag: SMTP authentication.
    pub const SMTP: &str = "credentials.smtp";
    /// Tag: a telnet login.
    pub const TELNET: &str = "credentials.telnet";
    /// Tag: HTTP Basic authentication.
    pub const HTTP_BASIC: &str = "credentials.http-basic";
    /// Tag: HTTP Digest authentication.
    pub const HTTP_DIGEST: &str = "credentials.http-digest";
    /// Tag: a login form posted over HTTP.
    pub const HTTP_FORM: &str = "credentials.http-form";
    /// Tag: NTLM authentication.
    pub const NTLM: &str = "credentials.ntlm";
    /// Tag: a Kerberos AS-REQ.
    pub const KERBEROS: &str = "credentials.kerberos";
}

/// The `files` analyzer: files carried by the traffic.
pub mod files {
    /// Tag every `files` finding lies below.
    pub const TAG: &str = "files";
    /// Tag: a file sent over HTTP.
    pub const HTTP: &str = "files.http";
    /// Tag: a mail attachment sent over SMTP.
    pub const SMTP: &str = "files.smtp";
    /// Tag: a mail attachment fetched over POP3.
    pub const POP3: &str = "files.pop3";
    /// Tag: a mail attachment fetched over IMAP.
    pub const IMAP: &str = "files.imap";
    /// Tag: a file sent over FTP.
    pub const FTP: &str = "files.ftp";
    /// Tag: a file sent over TFTP.
    pub const TFTP: &str = "files.tftp";
    /// Tag: a file read or written over SMB.
    pub const SMB: &str = "files.smb";
    /// Attribute: the protocol (`http`, `smtp`, ...; the tag's last part).
    pub const PROTOCOL: &str = "protocol";
    /// Attribute: how the file went (`upload`, `attachment`, `message`, ...).
    pub const DIRECTION: &str = "direction";
    /// Attribute: the file's name, as the protocol gave it.
    pub const NAME: &str = "name";
    /// Attribute: bytes of the file seen.
    pub const SIZE: &str = "size";
    /// Attribute: bytes of the file missing from the capture; `unknown` when the transfer stopped
    /// before its end and nothing said how long it was (an SMTP message cut off).
    pub const MISSING: &str = "missing";
    /// Attribute: `true` when every byte was seen.
    pub const COMPLETE: &str = "complete";
    /// Attribute: the MD5 of the file's bytes.
    pub const MD5: &str = "md5";
    /// Attribute: the SHA-1 of the file's bytes.
    pub const SHA1: &str = "sha1";
    /// Attribute: the SHA-256 of the file's bytes.
    pub const SHA256: &str = "sha256";
    /// Attribute: when the file went, ISO 8601.
    pub const TIME: &str = "time";
    /// Attribute: the byte ranges missing.
    pub const MISSING_RANGES: &str = "missing_ranges";
    /// Attribute: the type the protocol declared (a MIME type).
    pub const DECLARED_TYPE: &str = "declared_type";
    /// Attribute: the type the file's bytes show.
    pub const DETECTED_TYPE: &str = "detected_type";
    /// Attribute: why name, declared and detected type do not fit together.
    pub const MISMATCH: &str = "mismatch";
    /// Attribute: what went wrong decoding the file (a broken transfer encoding, ...).
    pub const DECODE_PROBLEM: &str = "decode_problem";
    /// Attribute: the client, `address:port`.
    pub const CLIENT: &str = "client";
    /// Attribute: the server, `address:port`.
    pub const SERVER: &str = "server";
    /// Attribute: where the file was kept in the report folder (`files/<sha256>.<ext>`).
    pub const EXTRACTED: &str = "extracted";
    /// Attribute: why the file was not kept.
    pub const NOT_EXTRACTED: &str = "not_extracted";
    /// Run note: a cap of the `extract` capability stopped files from being kept.
    pub const NOTE_EXTRACT_CAP: &str = "files.extract-cap";
    /// Attribute (`files.smb`): the file's size as the server stated it (end of file).
    pub const FILE_SIZE: &str = "file_size";
    /// Attribute (`files.tftp`): the transfer mode the request asked for (`octet`, `netascii`).
    pub const TFTP_MODE: &str = "tftp_mode";
    /// Attribute (mail: `files.smtp`, `files.pop3`, `files.imap`): the message's subject.
    pub const SUBJECT: &str = "subject";
    /// Attribute (`files.http` uploads): the form field that carried the file.
    pub const FORM_FIELD: &str = "form_field";
    /// Attribute (`files.http` uploads): `true` for a file sent in a `multipart/form-data` body.
    pub const MULTIPART: &str = "multipart";
    /// Attribute (`files.ftp`): the command that moved the file (`RETR`, `STOR`, ...).
    pub const FTP_COMMAND: &str = "ftp_command";
    /// Attribute (`files.ftp`): the id of the control connection's flow.
    pub const CONTROL_FLOW: &str = "control_flow";
    /// Run-note attribute of [`NOTE_EXTRACT_CAP`]: files found but not kept.
    pub const NOTE_FILES: &str = "files";
}

/// The `suspicious` analyzer.
pub mod suspicious {
    /// Tag of a suspicious flow (attributes below).
    pub const TAG: &str = "suspicious";
    /// Tag: a file whose hash or name is on an intel list.
    pub const FILE: &str = "suspicious.file";
    /// Attribute: the score of the verdict.
    pub const SCORE: &str = "score";
    /// Attribute: the peer the verdict is about (the internet side).
    pub const PEER: &str = "peer";
    /// Attribute: a remark on how the verdict was reached.
    pub const NOTE: &str = "note";
    /// Attribute: why the peer matched an intel list.
    pub const REASON_INTEL: &str = "reason.intel";
    /// Attribute: the notable port and what it is known for.
    pub const REASON_NOTABLE_PORT: &str = "reason.notable-port";
    /// Attribute: the unregistered port used.
    pub const REASON_PORT: &str = "reason.port";
    /// Attribute: why the port carries clear text.
    pub const REASON_CLEARTEXT_PORT: &str = "reason.cleartext-port";
    /// Attribute: the peer had no name in the capture.
    pub const REASON_UNNAMED: &str = "reason.unnamed";
    /// Attribute: where the notable port's label comes from (`builtin` or the user's list).
    pub const NOTABLE_PORT_SOURCE: &str = "notable-port.source";
    /// Attribute: the service registered for the port.
    pub const PORT_SERVICE: &str = "port.service";
    /// Attribute: the class of the peer (`public`, `private`, ...).
    pub const PEER_CLASS: &str = "peer.class";
    /// Attribute: the names the peer had in the capture, `, `-joined.
    pub const PEER_NAMES: &str = "peer.names";
    /// Attribute: the intel list that matched.
    pub const INTEL_LIST: &str = "intel.list";
    /// Attribute: the line of the list.
    pub const INTEL_LINE: &str = "intel.line";
    /// Attribute: the indicator of the list that matched.
    pub const INTEL_INDICATOR: &str = "intel.indicator";
    /// Attribute: what in the traffic matched it.
    pub const INTEL_MATCHED: &str = "intel.matched";
    /// Attribute: the label the list gives the indicator.
    pub const INTEL_LABEL: &str = "intel.label";
    /// Attribute of `suspicious.file`: the file's name.
    pub const FILE_NAME: &str = "file.name";
    /// Attribute of `suspicious.file`: the file's SHA-256.
    pub const FILE_SHA256: &str = "file.sha256";
    /// Run note: a bound of the analyzer was reached.
    pub const NOTE_LIMIT: &str = "suspicious.limit";
    /// Run-note attribute of [`NOTE_LIMIT`]: flows decided when they ended.
    pub const NOTE_DECIDED_EARLY: &str = "decided-early";
    /// Run-note attribute of [`NOTE_LIMIT`]: the bound (config `max_candidates`).
    pub const NOTE_MAX_CANDIDATES: &str = "max_candidates";
}

/// Clear-text findings of the `suspicious` analyzer.
pub mod cleartext {
    /// Tag every clear-text finding lies below.
    pub const TAG: &str = "cleartext";
    /// Tag: FTP login in clear text.
    pub const FTP: &str = "cleartext.ftp";
    /// Tag: telnet session.
    pub const TELNET: &str = "cleartext.telnet";
    /// Tag: POP3 login in clear text.
    pub const POP3: &str = "cleartext.pop3";
    /// Tag: IMAP login in clear text.
    pub const IMAP: &str = "cleartext.imap";
    /// Tag: SMTP authentication in clear text.
    pub const SMTP_AUTH: &str = "cleartext.smtp-auth";
    /// Tag: HTTP Basic authentication without TLS.
    pub const HTTP_BASIC: &str = "cleartext.http-basic";
    /// Attribute: the protocol.
    pub const PROTOCOL: &str = "cleartext.protocol";
    /// Attribute: the login method.
    pub const METHOD: &str = "cleartext.method";
    /// Attribute: the user name sent.
    pub const USER: &str = "cleartext.user";
    /// Attribute: set when a password was sent.
    pub const PASSWORD_SENT: &str = "cleartext.password-sent";
    /// Attribute: the tag of the `credentials` finding it comes from.
    pub const CREDENTIAL: &str = "cleartext.credential";
}

/// Run notes of the `enrich` analyzer.
pub mod enrich {
    /// Run note: reverse DNS lookups made and failed.
    pub const NOTE_DNS: &str = "enrich.dns";
    /// Run note: RDAP lookups made and failed.
    pub const NOTE_WHOIS: &str = "enrich.whois";
    /// Run-note attribute (`enrich.dns`, `enrich.whois`): hosts asked about.
    pub const NOTE_ASKED: &str = "asked";
    /// Run-note attribute: hosts that got an answer.
    pub const NOTE_ANSWERED: &str = "answered";
    /// Run-note attribute: hosts left without an answer.
    pub const NOTE_FAILED: &str = "failed";
    /// Run-note attribute (`enrich.dns.limit`, `enrich.whois.limit`): hosts that qualified.
    pub const NOTE_QUALIFIED: &str = "qualified";
    /// Run-note attribute (`enrich.dns.limit`, `enrich.whois.limit`): the bound (config `max_hosts`).
    pub const NOTE_MAX_HOSTS: &str = "max_hosts";
}
