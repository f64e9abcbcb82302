//! Flows and hosts written straight into the output bytes, without serde.
//!
//! Every flow and host of the capture is an entry of report.json, so this is the plugin's hot path:
//! a SYN flood of 200,000 spoofed sources is 200,000 flows and as many hosts. Going through serde
//! made each entry a tree of small `String`s (addresses, MACs, times) formatted with `core::fmt` and
//! then escaped byte by byte; here the numbers, addresses and times are written digit by digit into
//! the buffer, and only text that can hold anything (history, tags, names) is escaped. The bytes are
//! the same as serde_json's compact form (`same_bytes_as_serde` below checks it); findings, tunnels
//! and notes, which few entries have, still go through serde.

use pcapxray_plugin_sdk::{Direction, Endpoint, Flow, HostInfo, IpAddress, PluginError};
use serde::Serialize;
use std::net::Ipv6Addr;

/// Appends to a JSON document being written.
pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    /// A string, escaped as serde_json escapes it (quote, backslash and control characters).
    pub fn str(&mut self, s: &str) {
        if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.0.push(b'"');
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(b'"');
        } else {
            // Serializing a `str` into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *self.0, s);
        }
    }

    pub fn u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.0.extend_from_slice(&digits[at..]);
    }

    pub fn bool(&mut self, v: bool) {
        self.raw(if v { "true" } else { "false" });
    }

    /// Anything else through serde (floats, findings, the rare nested records).
    pub fn serde<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), PluginError> {
        serde_json::to_writer(&mut *self.0, v).map_err(|e| PluginError::other(e.to_string()))
    }

    /// An address as a JSON string.
    pub fn ip(&mut self, ip: IpAddress) {
        self.0.push(b'"');
        match ip {
            IpAddress::V4(v) => {
                for (i, b) in v.to_be_bytes().into_iter().enumerate() {
                    if i > 0 {
                        self.0.push(b'.');
                    }
                    self.u64(b as u64);
                }
            }
            IpAddress::V6(v) => {
                use std::io::Write;
                let ip = Ipv6Addr::from(((v.high as u128) << 64) | v.low as u128);
                // Writing into a Vec cannot fail.
                let _ = write!(self.0, "{ip}");
            }
        }
        self.0.push(b'"');
    }

    /// A MAC address as a JSON string, `aa:bb:cc:dd:ee:ff`.
    pub fn mac(&mut self, mac: u64) {
        self.0.push(b'"');
        self.0
            .extend_from_slice(&pcapxray_plugin_sdk::mac_bytes(mac));
        self.0.push(b'"');
    }

    /// A time as an ISO 8601 string, or `null` for 0 (unknown).
    pub fn time(&mut self, t: u64) {
        if t == 0 {
            self.raw("null");
        } else {
            self.0.push(b'"');
            self.0
                .extend_from_slice(&pcapxray_plugin_sdk::time::iso8601_bytes(t));
            self.0.push(b'"');
        }
    }

    /// `"key":` (keys are the plugin's own, plain ASCII).
    fn key(&mut self, key: &str) {
        self.0.push(b'"');
        self.raw(key);
        self.raw("\":");
    }

    fn endpoint(&mut self, e: &Endpoint) {
        self.raw("{\"ip\":");
        self.ip(e.ip);
        self.raw(",\"port\":");
        self.u64(e.port as u64);
        self.raw(",\"mac\":");
        match e.mac {
            Some(m) => self.mac(m),
            None => self.raw("null"),
        }
        self.0.push(b'}');
    }

    fn direction(&mut self, d: &Direction) {
        self.raw("{\"packets\":");
        self.u64(d.packets);
        self.raw(",\"bytes\":");
        self.u64(d.bytes);
        self.raw(",\"payload_bytes\":");
        self.u64(d.payload_bytes);
        self.raw(",\"tcp_flags\":");
        self.u64(d.tcp_flags as u64);
        self.raw(",\"ttl\":");
        self.u64(d.ttl as u64);
        self.0.push(b'}');
    }

    /// One entry of the `flows` array.
    pub fn flow(&mut self, f: &Flow) -> Result<(), PluginError> {
        self.raw("{\"id\":");
        self.u64(f.id);
        self.raw(",\"protocol\":");
        self.str(f.protocol.as_str());
        self.raw(",\"client\":");
        self.endpoint(&f.client);
        self.raw(",\"server\":");
        self.endpoint(&f.server);
        self.raw(",\"start\":");
        self.time(f.first_seen());
        self.raw(",\"end\":");
        self.time(f.last_seen());
        self.raw(",\"duration_seconds\":");
        self.serde(&(f.last_seen().saturating_sub(f.first_seen()) as f64 / 1e9))?;
        self.raw(",\"vlan\":[");
        for (i, v) in f.vlan.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.u64(*v as u64);
        }
        self.0.push(b']');
        // Omitted for flows that were not tunnelled, so their entries keep their shape.
        if !f.tunnel.is_empty() {
            self.raw(",\"tunnel\":");
            let tunnel: Vec<_> = f.tunnel.iter().map(crate::tunnel_json).collect();
            self.serde(&tunnel)?;
        }
        self.raw(",\"orientation\":");
        self.str(f.orientation.as_str());
        self.raw(",\"end_reason\":");
        self.str(f.end_reason.as_str());
        // Zeek's connection state and history.
        self.raw(",\"conn_state\":");
        self.str(f.conn_state.as_str());
        self.raw(",\"history\":");
        self.str(&f.history);
        self.raw(",\"to_server\":");
        self.direction(&f.to_server);
        self.raw(",\"to_client\":");
        self.direction(&f.to_client);
        self.raw(",\"tags\":[");
        let mut tags: Vec<&str> = Vec::new();
        for r in &f.findings {
            if !tags.contains(&r.finding.tag.as_str()) {
                tags.push(&r.finding.tag);
            }
        }
        for (i, t) in tags.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.str(t);
        }
        self.raw("],\"findings\":[");
        for (i, r) in f.findings.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.serde(&crate::finding_json(&r.stage, &r.finding))?;
        }
        self.raw("]}");
        Ok(())
    }

    /// One entry of the `hosts` array.
    pub fn host(&mut self, h: &HostInfo) -> Result<(), PluginError> {
        self.raw("{\"ip\":");
        self.ip(h.ip);
        self.raw(",\"class\":");
        self.str(pcapxray_plugin_sdk::net::IpClass::of(h.ip.into()).as_str());
        self.raw(",\"macs\":[");
        for (i, m) in h.macs.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.mac(*m);
        }
        self.raw("],\"names\":[");
        for (i, n) in h.names().iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.str(n);
        }
        self.0.push(b']');
        self.raw(",\"first_seen\":");
        self.time(h.first_seen);
        self.raw(",\"last_seen\":");
        self.time(h.last_seen);
        for (key, v) in [
            ("packets_sent", h.packets_sent),
            ("packets_received", h.packets_received),
            ("bytes_sent", h.bytes_sent),
            ("bytes_received", h.bytes_received),
        ] {
            self.0.push(b',');
            self.key(key);
            self.u64(v);
        }
        self.raw(",\"seen_in_arp\":");
        self.bool(h.seen_in_arp);
        self.raw(",\"notes\":[");
        for (i, n) in h.notes.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.serde(&crate::NoteOut {
                stage: &n.stage,
                key: &n.key,
                value: &n.value,
                observed: n.observed.map(pcapxray_plugin_sdk::time::iso8601),
            })?;
        }
        self.raw("]}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Writer;
    use pcapxray_plugin_sdk::testing::{self, FlowBuilder};
    use pcapxray_plugin_sdk::{
        ConnState, EndReason, Flow, HostInfo, Protocol, TunnelKind, TunnelLayer,
    };

    fn flows() -> Vec<Flow> {
        let plain = FlowBuilder::new(Protocol::Tcp, ("10.0.0.1", 49152), ("93.184.216.34", 80))
            .id(7)
            .macs(Some(0x000c_2901_0101), None)
            .conn_state(ConnState::Sf, "ShADadFf")
            .to_server(testing::direction(b"GET /", 400, 1_710_234_000_123_456_789))
            .to_client(testing::direction(b"HTTP", 9000, 1_710_234_000_223_456_000))
            .build();
        let mut odd = FlowBuilder::new(Protocol::Udp, ("fe80::1", 5353), ("ff02::fb", 5353))
            .id(u64::MAX)
            .end_reason(EndReason::Evicted)
            .conn_state(ConnState::Oth, "^d\"\\\u{1}é")
            .finding(testing::finding(
                "web",
                u64::MAX,
                "web.http",
                "a \"quoted\"\nsummary",
                &[("http.host", "ex\u{7f}ample\u{0}.com")],
            ))
            .finding(testing::finding("web", u64::MAX, "web.http", "again", &[]))
            .finding(testing::finding("tor", u64::MAX, "tor.name", "x", &[]))
            .build();
        odd.vlan = vec![1, 4094];
        odd.tunnel = vec![
            TunnelLayer {
                kind: TunnelKind::Vxlan,
                outer_client: Some(testing::ip("192.0.2.1")),
                outer_server: Some(testing::ip("2001:db8::2")),
                id: Some(42),
            },
            TunnelLayer {
                kind: TunnelKind::Mpls,
                outer_client: None,
                outer_server: None,
                id: None,
            },
        ];
        let never = FlowBuilder::new(Protocol::Icmp, ("0.0.0.0", 0), ("255.255.255.255", 0))
            .id(0)
            .build();
        vec![plain, odd, never]
    }

    fn hosts() -> Vec<HostInfo> {
        let mut named = testing::host("192.168.1.10", &[0x000c_2901_0101, 0xffff_ffff_ffff]);
        named.notes = vec![
            testing::note("dns", "name", "printer\t\"lab\""),
            testing::note("dns", "name", "printer\t\"lab\""),
            testing::note("devices", "vendor", "Ünïcode Ltd"),
        ];
        named.notes[2].observed = Some(1_710_234_000_000_001_000);
        let mut bare = testing::host("2001:db8::1:0:0:1", &[]);
        bare.first_seen = 0;
        bare.last_seen = 0;
        bare.seen_in_arp = true;
        vec![named, bare, testing::host("8.8.8.8", &[0])]
    }

    #[test]
    fn same_bytes_as_serde() {
        for f in flows() {
            let mut fast = Vec::new();
            Writer(&mut fast).flow(&f).unwrap();
            let slow = serde_json::to_vec(&crate::flow_json(&f)).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
        for h in hosts() {
            let mut fast = Vec::new();
            Writer(&mut fast).host(&h).unwrap();
            let slow = serde_json::to_vec(&crate::host_json(&h)).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
    }

    #[test]
    fn numbers_at_their_limits() {
        let mut out = Vec::new();
        let mut w = Writer(&mut out);
        for v in [0, 9, 10, 99, 100, u32::MAX as u64, u64::MAX] {
            w.u64(v);
            w.raw(" ");
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 9 10 99 100 4294967295 18446744073709551615 "
        );
    }
}
