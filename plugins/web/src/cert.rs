//! Server certificates from the Certificate message of a TLS 1.2 (or earlier) handshake: who the
//! server claims to be (subject, alternative names), who vouched for it (issuer), for how long, and
//! the leaf's fingerprints an analyst pivots on. TLS 1.3 encrypts this message, so it is read only
//! where the handshake shows it in clear. The message may span several records; the caller hands
//! the server's handshake records, which this module reassembles. X.509 is parsed with
//! `x509-parser` (no signature checks: "self-signed" means issuer and subject are the same name).

use crate::text::{clean, hex};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

const CERTIFICATE: u8 = 11;
/// Certificates read from one chain.
const MAX_CERTS: usize = 8;
/// Alternative names kept per certificate.
const MAX_NAMES: usize = 32;
/// Characters kept of a distinguished name.
const MAX_NAME_CHARS: usize = 512;

/// One certificate of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Subject distinguished name: `CN=www.example.com, O=Example`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension, as many as [`MAX_NAMES`].
    pub names: Vec<String>,
    /// Serial number, hex bytes separated by colons.
    pub serial: String,
    /// Validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// Issuer and subject are the same name.
    pub self_signed: bool,
    /// SHA-1 of the DER encoding, lower-case hex.
    pub sha1: String,
    /// SHA-256 of the DER encoding, lower-case hex.
    pub sha256: String,
}

impl Certificate {
    /// Why a certificate shown at `when` (seconds since the epoch) deserves a look, in words:
    /// self-signed, expired or not yet valid. Empty when none applies.
    pub fn problems(&self, when: i64) -> Vec<String> {
        let mut found = Vec::new();
        if self.self_signed {
            found.push("it is self-signed (its issuer is its own subject)".to_string());
        }
        if when > self.not_after {
            found.push(format!(
                "it had expired when the connection was made (valid until {})",
                date(self.not_after)
            ));
        } else if when < self.not_before {
            found.push(format!(
                "it was not yet valid when the connection was made (valid from {})",
                date(self.not_before)
            ));
        }
        found
    }
}

/// A time in seconds as ISO 8601 (UTC); before 1970 as the number of seconds.
pub fn date(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(s) => pcapxray_plugin_sdk::time::iso8601(s.saturating_mul(1_000_000_000)),
        Err(_) => format!("{secs} s since 1970"),
    }
}

/// The handshake bytes of the handshake records at the start of a server stream, concatenated.
fn handshake_bytes(mut stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while stream.len() >= 5 && stream[0] == 22 && stream[1] == 3 {
        let len = usize::from(u16::from_be_bytes([stream[3], stream[4]]));
        let body = &stream[5..];
        out.extend_from_slice(&body[..len.min(body.len())]);
        let Some(rest) = body.get(len..) else {
            break;
        };
        stream = rest;
    }
    out
}

/// The certificate chain in the first Certificate message of a server stream, leaf first. Empty
/// when there is none (TLS 1.3, a resumed session, or a stream cut before it); a certificate that
/// does not parse is skipped.
pub fn chain(server_stream: &[u8]) -> Vec<Certificate> {
    let bytes = handshake_bytes(server_stream);
    let mut rest = bytes.as_slice();
    while rest.len() >= 4 {
        let len = usize::from(rest[1]) << 16 | usize::from(rest[2]) << 8 | usize::from(rest[3]);
        let Some(body) = rest.get(4..4 + len) else {
            break;
        };
        if rest[0] == CERTIFICATE {
            return certificates(body);
        }
        rest = &rest[4 + len..];
    }
    Vec::new()
}

fn u24(bytes: &[u8]) -> Option<usize> {
    let b = bytes.get(..3)?;
    Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
}

/// The certificates of a (TLS 1.2) Certificate message body.
fn certificates(body: &[u8]) -> Vec<Certificate> {
    let Some(total) = u24(body) else {
        return Vec::new();
    };
    let mut list = body.get(3..3 + total).unwrap_or(&body[3..]);
    let mut found = Vec::new();
    while let Some(len) = u24(list) {
        let Some(der) = list.get(3..3 + len) else {
            break;
        };
        if found.len() < MAX_CERTS
            && let Some(cert) = parse(der)
        {
            found.push(cert);
        }
        list = &list[3 + len..];
    }
    found
}

/// One DER certificate.
pub fn parse(der: &[u8]) -> Option<Certificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(general_name)
            .take(MAX_NAMES)
            .collect(),
        _ => Vec::new(),
    };
    let validity = cert.validity();
    Some(Certificate {
        subject: clean(cert.subject().to_string().as_bytes(), MAX_NAME_CHARS),
        issuer: clean(cert.issuer().to_string().as_bytes(), MAX_NAME_CHARS),
        names,
        serial: cert.raw_serial_as_string(),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        sha1: hex(&Sha1::digest(der)),
        sha256: hex(&Sha256::digest(der)),
    })
}

fn general_name(name: &x509_parser::extensions::GeneralName<'_>) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    match name {
        GeneralName::DNSName(dns) => Some(clean(dns.as_bytes(), 255)),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?).to_string()),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?).to_string()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::tests::unhex;

    #[test]
    fn reads_the_chain_of_a_certificate_message_spanning_records() {
        // FoxIO-LLC/ja4 pcap/tls-alpn-h2.pcap, server direction: ServerHello, then a Certificate
        // message in two records over two TCP segments. The names are those of the repository's
        // rust/ja4/src/snapshots/ja4__insta@tls-alpn-h2.pcap.snap (tls_certs); serial, validity and
        // SHA-1 and SHA-256 as `tshark -r tls-alpn-h2.pcap -T fields -e x509af.serialNumber -e x509af.utcTime
        // -e tls.handshake.certificate` gives them (the hashes by sha1sum and sha256sum of the DER; openssl x509 agrees on
        // serial, dates and names).
        let stream = unhex(include_str!("../testdata/ja4-tls-alpn-h2-server.hex"));
        let chain = chain(&stream);
        assert_eq!(chain.len(), 2);
        let leaf = &chain[0];
        assert!(
            leaf.subject.contains("CN=cloudflare.com"),
            "{}",
            leaf.subject
        );
        assert!(
            leaf.issuer
                .contains("CN=DigiCert ECC Extended Validation Server CA"),
            "{}",
            leaf.issuer
        );
        assert!(!leaf.self_signed);
        assert_eq!(leaf.names, ["cloudflare.com", "www.cloudflare.com"]);
        assert_eq!(
            leaf.serial,
            "0a:68:bb:98:4a:50:73:99:f4:71:6e:80:9a:44:a7:b0"
        );
        // 2018-10-30 00:00:00 UTC and 2020-11-03 12:00:00 UTC (`date -d ... +%s`).
        assert_eq!(
            (leaf.not_before, leaf.not_after),
            (1_540_857_600, 1_604_404_800)
        );
        assert_eq!(leaf.sha1, "6a4cb249b71b6659dabb960115fd7a01bfc9968c");
        assert_eq!(
            leaf.sha256,
            "84694645cbd183bf9be472ce702bd189246e1fcd1544ffead466d956a71690bf"
        );
        assert_eq!(
            chain[1].subject,
            "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert ECC Extended Validation Server CA"
        );
        let cut = chain_cut_everywhere(&stream);
        assert!(cut <= 2);
    }

    /// Every prefix of the stream parses without panic; returns the most certificates any gave.
    fn chain_cut_everywhere(stream: &[u8]) -> usize {
        (0..stream.len())
            .map(|n| super::chain(&stream[..n]).len())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn says_why_a_certificate_deserves_a_look() {
        let cert = Certificate {
            subject: "CN=x".into(),
            issuer: "CN=x".into(),
            names: Vec::new(),
            serial: "01".into(),
            not_before: 1_600_000_000,
            not_after: 1_700_000_000,
            self_signed: true,
            sha1: String::new(),
            sha256: String::new(),
        };
        assert_eq!(cert.problems(1_650_000_000).len(), 1);
        let both = cert.problems(1_800_000_000);
        assert_eq!(both.len(), 2);
        assert!(
            both[1].contains("valid until 2023-11-14T22:13:20"),
            "{both:?}"
        );
        assert!(cert.problems(1_000_000_000)[1].contains("not yet valid"));
        assert!(
            Certificate {
                self_signed: false,
                ..cert
            }
            .problems(1_650_000_000)
            .is_empty()
        );
    }
}
