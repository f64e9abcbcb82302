//! NetBIOS name service (UDP 137, RFC 1001/1002). Its messages look like DNS, but hickory cannot read
//! them: names are "first-level encoded" (16 bytes as 32 letters `A`–`P`), and the node status
//! answer reuses type 33, which hickory parses as SRV and rejects. This is the small hand-written
//! decoder the protocol needs: it reads the header, questions and records with bounds checks on every
//! byte, decodes the names, and turns registrations, positive name query answers and node status
//! answers into name → address bindings.

use crate::message::{Answer, Binding, Parsed, Question};
use crate::text;
use pcapxray_plugin_sdk::names;
use std::net::{IpAddr, Ipv4Addr};

/// Record type NB (name → address).
const NB: u16 = 0x20;
/// Record type NBSTAT (node status: the names a machine holds).
const NBSTAT: u16 = 0x21;
/// Most questions and records read from one message.
const MAX_ITEMS: usize = 64;

/// A decoded NetBIOS name: up to 15 characters and the one-byte suffix saying what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetbiosName {
    /// The name, trailing spaces removed, made printable.
    pub name: String,
    /// The 16th byte: 0x00 workstation, 0x20 file server, 0x1d master browser, ...
    pub suffix: u8,
    /// The NetBIOS scope (rarely used), dotted.
    pub scope: String,
}

impl NetbiosName {
    /// `NAME<xx>` (with `.scope` when there is one), as Wireshark shows it.
    pub fn display(&self) -> String {
        let mut out = format!("{}<{:02x}>", self.name, self.suffix);
        if !self.scope.is_empty() {
            out.push('.');
            out.push_str(&self.scope);
        }
        out
    }

    /// True for the names that name a machine: `<00>` (workstation) and `<20>` (server).
    fn names_a_machine(&self) -> bool {
        matches!(self.suffix, 0x00 | 0x20) && !self.name.is_empty() && self.name != "*"
    }
}

/// A bounds-checked reader over one message.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some((u32::from(self.u16()?) << 16) | u32::from(self.u16()?))
    }

    /// Reads a name at the cursor (following at most a few compression pointers) and decodes it.
    fn name(&mut self) -> Option<NetbiosName> {
        let mut labels: Vec<&[u8]> = Vec::new();
        let mut pos = self.at;
        let mut resume = None;
        let mut jumps = 0;
        loop {
            let len = *self.bytes.get(pos)?;
            match len {
                0 => {
                    pos += 1;
                    break;
                }
                l if l & 0xc0 == 0xc0 => {
                    let low = *self.bytes.get(pos + 1)?;
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    jumps += 1;
                    if jumps > 4 {
                        return None;
                    }
                    pos = (usize::from(l & 0x3f) << 8) | usize::from(low);
                }
                l if l & 0xc0 == 0 => {
                    let start = pos + 1;
                    let end = start + usize::from(l);
                    labels.push(self.bytes.get(start..end)?);
                    if labels.len() > 64 {
                        return None;
                    }
                    pos = end;
                }
                _ => return None,
            }
        }
        self.at = resume.unwrap_or(pos);
        let (first, scope) = labels.split_first()?;
        let raw = decode_first_level(first)?;
        let mut scope_text = String::new();
        for (i, label) in scope.iter().enumerate() {
            if i > 0 {
                scope_text.push('.');
            }
            text::push_label(&mut scope_text, label);
        }
        Some(NetbiosName {
            name: netbios_text(raw.get(..15)?),
            suffix: *raw.get(15)?,
            scope: scope_text,
        })
    }
}

/// Decodes the 32-letter first-level encoding (RFC 1001 §14.1) into the 16 raw name bytes.
pub fn decode_first_level(label: &[u8]) -> Option<[u8; 16]> {
    if label.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in label.chunks_exact(2).enumerate() {
        let hi = pair.first()?.checked_sub(b'A').filter(|v| *v < 16)?;
        let lo = pair.get(1)?.checked_sub(b'A').filter(|v| *v < 16)?;
        *out.get_mut(i)? = (hi << 4) | lo;
    }
    Some(out)
}

/// The 15 name bytes as printable text, padding removed.
fn netbios_text(raw: &[u8]) -> String {
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    text::printable(raw.get(..end).unwrap_or_default())
}

/// The NetBIOS name service's response codes (RFC 1002 §4.2.6 and later sections).
fn rcode(code: u16) -> String {
    match code {
        6 => "ACT_ERR".into(),
        7 => "CFT_ERR".into(),
        other => text::rcode(other),
    }
}

/// Parses one NetBIOS name service datagram sent by `sender`. `None` when it is not one.
pub fn parse(bytes: &[u8], sender: IpAddr) -> Option<Parsed> {
    let mut r = Reader { bytes, at: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    let response = flags & 0x8000 != 0;
    let opcode = ((flags >> 11) & 0x0f) as u8;
    let code = flags & 0x000f;
    // Opcodes: 0 query, 5 registration, 6 release, 7 WACK, 8/9 refresh, 15 multi-homed registration.
    if !matches!(opcode, 0 | 5 | 6 | 7 | 8 | 9 | 15) {
        return None;
    }
    let mut parsed = Parsed {
        id,
        response,
        opcode,
        rcode: if response { rcode(code) } else { String::new() },
        name_error: response && code == 3,
        ..Parsed::default()
    };
    for _ in 0..usize::from(counts[0]).min(MAX_ITEMS) {
        let name = r.name()?;
        let qtype = r.u16()?;
        let _class = r.u16()?;
        parsed.questions.push(Question {
            name: name.display(),
            qtype: type_name(qtype),
        });
    }
    let records = counts[1..].iter().map(|&c| usize::from(c)).sum::<usize>();
    // Registrations and refreshes announce the address in the additional record; positive answers
    // carry it in the answer record. Releases and negative answers bind nothing.
    let binds = match (response, opcode) {
        (true, 0) => code == 0,
        (false, 5 | 8 | 9 | 15) => true,
        _ => false,
    };
    for index in 0..records.min(MAX_ITEMS) {
        let name = r.name()?;
        let rtype = r.u16()?;
        let _class = r.u16()?;
        let _ttl = r.u32()?;
        let len = usize::from(r.u16()?);
        let data = r.take(len)?;
        parsed.records += 1;
        let in_answers = index < usize::from(counts[1]);
        match rtype {
            NB => {
                let mut addresses = Vec::new();
                for entry in data.chunks_exact(6) {
                    let [f0, _, a, b, c, d] = <[u8; 6]>::try_from(entry).ok()?;
                    let group = f0 & 0x80 != 0;
                    let ip = Ipv4Addr::new(a, b, c, d);
                    addresses.push(format!("{ip}{}", if group { " (group)" } else { "" }));
                    if binds && !ip.is_unspecified() && !ip.is_broadcast() {
                        bind(&mut parsed.bindings, IpAddr::V4(ip), &name, group);
                    }
                }
                if in_answers {
                    parsed.answers.push(Answer {
                        owner: name.display(),
                        rtype: "NB".into(),
                        data: if addresses.is_empty() {
                            "-".to_string()
                        } else {
                            addresses.join(", ")
                        },
                    });
                }
            }
            NBSTAT => {
                let names = node_status(data);
                if in_answers {
                    let list: Vec<String> = names
                        .iter()
                        .map(|(n, group)| {
                            format!("{}{}", n.display(), if *group { " (group)" } else { "" })
                        })
                        .collect();
                    parsed.answers.push(Answer {
                        owner: sender.to_string(),
                        rtype: "NBSTAT".into(),
                        data: list.join(", "),
                    });
                }
                if response && code == 0 {
                    for (n, group) in &names {
                        bind(&mut parsed.bindings, sender, n, *group);
                    }
                }
            }
            other if in_answers => {
                parsed.answers.push(Answer {
                    owner: name.display(),
                    rtype: type_name(other),
                    data: format!("({len} bytes)"),
                });
            }
            _ => {}
        }
    }
    Some(parsed)
}

fn type_name(code: u16) -> String {
    match code {
        NB => "NB".into(),
        NBSTAT => "NBSTAT".into(),
        0x0a => "NULL".into(),
        other => format!("TYPE{other}"),
    }
}

/// Publishes a machine name as `name`, a workgroup or domain name as `netbios.group`.
fn bind(out: &mut Vec<Binding>, ip: IpAddr, name: &NetbiosName, group: bool) {
    let binding = if group && name.suffix == 0x00 && !name.name.is_empty() {
        Binding {
            ip,
            key: names::netbios::GROUP,
            value: name.name.clone(),
        }
    } else if !group && name.names_a_machine() {
        Binding {
            ip,
            key: "name",
            value: name.name.clone(),
        }
    } else {
        return;
    };
    if !out.contains(&binding) {
        out.push(binding);
    }
}

/// The names in a node status answer (RFC 1002 §4.2.18), with their group flag.
fn node_status(data: &[u8]) -> Vec<(NetbiosName, bool)> {
    let Some((&count, rest)) = data.split_first() else {
        return Vec::new();
    };
    rest.chunks_exact(18)
        .take(usize::from(count))
        .filter_map(|entry| {
            let name = NetbiosName {
                name: netbios_text(entry.get(..15)?),
                suffix: *entry.get(15)?,
                scope: String::new(),
            };
            let group = entry.get(16)? & 0x80 != 0;
            Some((name, group))
        })
        .collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::message::tests::lines;

    /// First-level encodes a 15-character name with its suffix.
    pub fn encode(name: &str, suffix: u8) -> Vec<u8> {
        let mut raw = [b' '; 16];
        for (i, b) in name.bytes().take(15).enumerate() {
            raw[i] = b;
        }
        raw[15] = suffix;
        let mut out = vec![32u8];
        for b in raw {
            out.push(b'A' + (b >> 4));
            out.push(b'A' + (b & 15));
        }
        out.push(0);
        out
    }

    /// A NetBIOS name service message: header, one question (when `question`), one record.
    pub fn message(
        flags: u16,
        question: Option<(&str, u8, u16)>,
        record: Option<(&str, u8, u16, Vec<u8>)>,
        record_is_additional: bool,
    ) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        m.extend(flags.to_be_bytes());
        let qd = u16::from(question.is_some());
        let rr = u16::from(record.is_some());
        let (an, ar) = if record_is_additional {
            (0, rr)
        } else {
            (rr, 0)
        };
        for c in [qd, an, 0, ar] {
            m.extend(c.to_be_bytes());
        }
        if let Some((name, suffix, qtype)) = question {
            m.extend(encode(name, suffix));
            m.extend(qtype.to_be_bytes());
            m.extend(1u16.to_be_bytes());
        }
        if let Some((name, suffix, rtype, data)) = record {
            if question.is_some() {
                m.extend([0xc0, 0x0c]);
            } else {
                m.extend(encode(name, suffix));
            }
            m.extend(rtype.to_be_bytes());
            m.extend(1u16.to_be_bytes());
            m.extend(300_000u32.to_be_bytes());
            m.extend((data.len() as u16).to_be_bytes());
            m.extend(data);
        }
        m
    }

    fn sender() -> IpAddr {
        "192.168.1.9".parse().unwrap()
    }

    #[test]
    fn decodes_a_broadcast_name_query() {
        // The query frame 117 of http_wikipedia_browsing.pcap sends: BRWC0CB383D1F42<00>, NB.
        let q = message(0x0110, Some(("BRWC0CB383D1F42", 0x00, NB)), None, false);
        let p = parse(&q, sender()).unwrap();
        assert!(!p.response);
        assert_eq!(p.questions[0].name, "BRWC0CB383D1F42<00>");
        assert_eq!(p.questions[0].qtype, "NB");
        assert!(p.bindings.is_empty());
        assert_eq!(
            decode_first_level(b"FHEPFCELEHFCEPFFFACACACACACACAAA").map(|r| r[..9].to_vec()),
            Some(b"WORKGROUP".to_vec())
        );
    }

    #[test]
    fn answers_and_registrations_bind_names_to_addresses() {
        let answer = message(
            0x8500,
            None,
            Some(("FILESERVER", 0x20, NB, vec![0x00, 0x00, 10, 0, 0, 5])),
            false,
        );
        let p = parse(&answer, sender()).unwrap();
        assert!(p.response);
        assert_eq!(p.rcode, "NOERROR");
        assert_eq!(lines(&p), ["FILESERVER<20> NB 10.0.0.5"]);
        assert_eq!(
            p.bindings,
            [Binding {
                ip: "10.0.0.5".parse().unwrap(),
                key: "name",
                value: "FILESERVER".into()
            }]
        );

        let registration = message(
            0x2910,
            Some(("WORKGROUP", 0x00, NB)),
            Some(("", 0, NB, vec![0x80, 0x00, 192, 168, 1, 9])),
            true,
        );
        let p = parse(&registration, sender()).unwrap();
        assert_eq!(p.opcode, 5);
        assert_eq!(
            p.bindings,
            [Binding {
                ip: sender(),
                key: "netbios.group",
                value: "WORKGROUP".into()
            }]
        );

        let negative = message(0x8503, None, Some(("FILESERVER", 0x20, NB, vec![])), false);
        let p = parse(&negative, sender()).unwrap();
        assert_eq!(p.rcode, "NXDOMAIN");
        assert!(p.bindings.is_empty());
    }

    #[test]
    fn node_status_names_the_responder() {
        let mut data = vec![2u8];
        for (name, suffix, flags) in [("PC-42", 0x00u8, 0x0400u16), ("OFFICE", 0x00, 0x8400)] {
            let mut raw = [b' '; 16];
            raw[..name.len()].copy_from_slice(name.as_bytes());
            raw[15] = suffix;
            data.extend(raw);
            data.extend(flags.to_be_bytes());
        }
        data.extend([0u8; 46]);
        let answer = message(0x8400, None, Some(("*", 0x00, NBSTAT, data)), false);
        let p = parse(&answer, sender()).unwrap();
        assert_eq!(
            lines(&p),
            ["192.168.1.9 NBSTAT PC-42<00>, OFFICE<00> (group)"]
        );
        let facts: Vec<_> = p
            .bindings
            .iter()
            .map(|b| (b.key, b.value.as_str()))
            .collect();
        assert_eq!(facts, [("name", "PC-42"), ("netbios.group", "OFFICE")]);
    }

    #[test]
    fn malformed_input_is_rejected_without_panics() {
        assert!(parse(b"", sender()).is_none());
        assert!(parse(&[0u8; 11], sender()).is_none());
        let mut looped = message(0x0110, None, None, false);
        looped[5] = 1; // one question whose name points at itself
        looped.extend([0xc0, 12, 0, 0x20, 0, 1]);
        assert!(parse(&looped, sender()).is_none());
        let good = message(
            0x8500,
            Some(("NAME", 0, NB)),
            Some(("", 0, NB, vec![0, 0, 10, 0, 0, 1])),
            false,
        );
        for cut in 0..good.len() {
            let _ = parse(&good[..cut], sender());
        }
        for at in 0..good.len() {
            for flip in [0x01, 0x40, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let _ = parse(&bad, sender());
            }
        }
    }
}
