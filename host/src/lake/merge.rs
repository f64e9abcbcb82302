//! The merge of a lake's flow pieces into whole flows, capture by capture in time order: the rule of
//! `docs/lake-merge.sql` (docs/lake.md "Flows across rotated files") as a stream, for `run
//! --from-lake`. A piece continues the open flow of its connection key when it began at its file's
//! start, that flow was still open when its earlier file ended, it came before that flow's
//! `open_until`, and it is not a SYN after a FIN or RST. Only flows open at a file's end wait in
//! memory, and each only until no later file can continue it.

use super::read::{FlowPiece, Side};
use crate::bindings::wit;
use crate::decode::{TunnelKind, TunnelLayer};
use crate::flow::{
    Direction, DirectionSummary, EndReason, FinishedFlow, Orientation, join_history,
    state_of_history,
};
use std::collections::HashMap;
use std::net::IpAddr;

/// The connection a piece belongs to: sensor, IP protocol, VLANs, tunnel, and the endpoints in a
/// fixed order.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    sensor: String,
    ip_proto: u8,
    vlan: Vec<u16>,
    tunnel: Option<String>,
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
}

impl Key {
    fn of(sensor: &str, p: &FlowPiece) -> Key {
        Key {
            sensor: sensor.to_string(),
            ip_proto: p.ip_proto,
            vlan: p.vlan.clone(),
            tunnel: p.tunnel.clone(),
            lo: p.orig.min(p.resp),
            hi: p.orig.max(p.resp),
        }
    }
}

/// A whole flow being put together from its pieces.
struct Chain {
    first: FlowPiece,
    client: Side,
    server: Side,
    history: String,
    last_ts_us: i64,
    fragments: u32,
    /// Of the last piece: how it ended, whether it was open at its file's end and until when, and
    /// which capture it came from.
    end_reason: String,
    open_at_end: bool,
    open_until_us: Option<i64>,
    capture: usize,
    sensor: String,
    /// The findings the pieces' runs raised on them.
    findings: Vec<wit::FindingRecord>,
}

/// A whole flow and the findings its pieces' runs raised on it.
pub struct WholeFlow {
    pub flow: FinishedFlow,
    pub findings: Vec<wit::FindingRecord>,
}

impl Chain {
    fn new(mut p: FlowPiece, capture: usize, sensor: &str) -> Chain {
        Chain {
            sensor: sensor.to_string(),
            findings: std::mem::take(&mut p.findings),
            client: p.orig_side,
            server: p.resp_side,
            history: p.history.clone(),
            last_ts_us: p.last_ts_us,
            fragments: p.fragments,
            end_reason: p.end_reason.clone(),
            open_at_end: p.open_at_end,
            open_until_us: p.open_until_us,
            capture,
            first: p,
        }
    }

    /// Whether piece `p` of capture `capture` continues this flow.
    fn continued_by(&self, p: &FlowPiece, capture: usize) -> bool {
        let closed = matches!(self.end_reason.as_str(), "fin" | "rst");
        p.open_at_start
            && self.open_at_end
            && self.capture != capture
            && self.open_until_us.is_some_and(|until| p.ts_us < until)
            && !(p.history.starts_with('S') && closed)
    }

    fn extend(&mut self, mut p: FlowPiece, capture: usize) {
        self.findings.append(&mut p.findings);
        let same_dir = p.orig == self.first.orig;
        let (to_server, to_client) = if same_dir {
            (p.orig_side, p.resp_side)
        } else {
            (p.resp_side, p.orig_side)
        };
        add(&mut self.client, &to_server);
        add(&mut self.server, &to_client);
        join_history(&mut self.history, &p.history, !same_dir);
        self.last_ts_us = self.last_ts_us.max(p.last_ts_us);
        self.fragments = self.fragments.saturating_add(p.fragments);
        self.end_reason = p.end_reason;
        self.open_at_end = p.open_at_end;
        self.open_until_us = p.open_until_us;
        self.capture = capture;
    }

    fn finish(self, id: u64) -> WholeFlow {
        let p = self.first;
        let conn_state = state_of_history(&self.history, p.ip_proto);
        let flow = FinishedFlow {
            id,
            client: p.orig,
            server: p.resp,
            ip_protocol: p.ip_proto,
            vlan: p.vlan,
            tunnel: p.tunnel.as_deref().map(tunnel_layers).unwrap_or_default(),
            orientation: match p.orientation.as_str() {
                "syn" => Orientation::Syn,
                "port-heuristic" => Orientation::PortHeuristic,
                _ => Orientation::FirstPacket,
            },
            end_reason: match self.end_reason.as_str() {
                "fin" => EndReason::Fin,
                "rst" => EndReason::Rst,
                "idle" => EndReason::Idle,
                "evicted" => EndReason::Evicted,
                _ => EndReason::CaptureEnd,
            },
            icmp_type: p.icmp.0,
            icmp_code: p.icmp.1,
            fragments: self.fragments,
            to_server: direction(&self.client),
            to_client: direction(&self.server),
            conn_state,
            history: self.history,
            open_at_start: p.open_at_start,
            open_until: self
                .open_until_us
                .filter(|_| self.open_at_end)
                .map(|us| us as u64 * 1000),
        };
        WholeFlow {
            flow,
            findings: self.findings,
        }
    }
}

fn add(acc: &mut Side, s: &Side) {
    acc.packets += s.packets;
    acc.ip_bytes += s.ip_bytes;
    acc.payload_bytes += s.payload_bytes;
    acc.first_us = [acc.first_us, s.first_us].into_iter().flatten().min();
    acc.last_us = [acc.last_us, s.last_us].into_iter().flatten().max();
    acc.tcp_flags = match (acc.tcp_flags, s.tcp_flags) {
        (Some(a), Some(b)) => Some(a | b),
        (a, b) => a.or(b),
    };
    acc.ttl = acc.ttl.or(s.ttl);
    acc.mac = acc.mac.or(s.mac);
}

fn direction(s: &Side) -> Direction {
    let ns = |us: Option<i64>| us.map_or(0, |us| us.max(0) as u64 * 1000);
    Direction::from_summary(DirectionSummary {
        packets: s.packets.max(0) as u64,
        bytes: s.ip_bytes.max(0) as u64,
        payload_bytes: s.payload_bytes.max(0) as u64,
        first_seen: ns(s.first_us),
        last_seen: ns(s.last_us),
        tcp_flags: s.tcp_flags.map_or(0, |f| f as u8),
        ttl: s.ttl.map_or(0, |t| t as u8),
        mac: s.mac,
    })
}

/// `vxlan:42/gre` back into layers (without their outer addresses, which the lake does not keep).
fn tunnel_layers(text: &str) -> Vec<TunnelLayer> {
    text.split('/')
        .filter_map(|layer| {
            let (kind, id) = match layer.split_once(':') {
                Some((k, id)) => (k, id.parse().ok()),
                None => (layer, None),
            };
            let kind = match kind {
                "pppoe" => TunnelKind::Pppoe,
                "mpls" => TunnelKind::Mpls,
                "gre" => TunnelKind::Gre,
                "erspan" => TunnelKind::Erspan,
                "vxlan" => TunnelKind::Vxlan,
                "geneve" => TunnelKind::Geneve,
                "ip-in-ip" => TunnelKind::IpInIp,
                "gtp-u" => TunnelKind::GtpU,
                _ => return None,
            };
            Some(TunnelLayer {
                kind,
                outer: None,
                id,
            })
        })
        .collect()
}

/// Joins pieces capture by capture; whole flows come out as soon as no later file can add to them.
#[derive(Default)]
pub struct Merger {
    open: HashMap<Key, Chain>,
    next_id: u64,
    /// Pieces read and pieces joined to an earlier one.
    pub pieces: u64,
    pub joined: u64,
    /// The most flows that waited open across a file boundary at once (what memory followed).
    pub max_open: usize,
    /// The last packet of each sensor's captures (µs): a flow still open when its file ended, that
    /// no later file continued, ended by its idle timeout if the sensor's captures go on past its
    /// `open_until`, as in one run over all of them; else it was open when the last capture ended.
    sensor_end: HashMap<String, i64>,
}

impl Merger {
    /// A merger for captures whose last packets, per sensor, are `ends` (sensor, µs).
    pub fn new(ends: impl IntoIterator<Item = (String, i64)>) -> Merger {
        let mut sensor_end: HashMap<String, i64> = HashMap::new();
        for (sensor, end) in ends {
            let e = sensor_end.entry(sensor).or_insert(end);
            *e = (*e).max(end);
        }
        Merger {
            sensor_end,
            ..Merger::default()
        }
    }

    /// The pieces of capture number `capture` (in time order) of `sensor`, whose first packet is at
    /// `first_us`; whole flows are appended to `out`.
    pub fn capture(
        &mut self,
        capture: usize,
        sensor: &str,
        first_us: Option<i64>,
        pieces: Vec<FlowPiece>,
        out: &mut Vec<WholeFlow>,
    ) {
        // Flows no piece of this file or a later one can continue any more.
        if let Some(start) = first_us {
            let mut done: Vec<Key> = self
                .open
                .iter()
                .filter(|(_, c)| c.open_until_us.is_none_or(|u| u <= start))
                .map(|(k, _)| k.clone())
                .collect();
            self.emit_keys(&mut done, out);
        }
        for p in pieces {
            self.pieces += 1;
            let key = Key::of(sensor, &p);
            let chain = match self.open.remove(&key) {
                Some(mut chain) if chain.continued_by(&p, capture) => {
                    self.joined += 1;
                    chain.extend(p, capture);
                    chain
                }
                Some(ended) => {
                    self.emit(ended, out);
                    Chain::new(p, capture, sensor)
                }
                None => Chain::new(p, capture, sensor),
            };
            if chain.open_at_end {
                self.open.insert(key, chain);
                self.max_open = self.max_open.max(self.open.len());
            } else {
                self.emit(chain, out);
            }
        }
    }

    /// The flows still open at the end of the last file.
    pub fn finish(&mut self, out: &mut Vec<WholeFlow>) {
        let mut all: Vec<Key> = self.open.keys().cloned().collect();
        self.emit_keys(&mut all, out);
    }

    /// Emits the flows of `keys` in the order they began.
    fn emit_keys(&mut self, keys: &mut [Key], out: &mut Vec<WholeFlow>) {
        let mut chains: Vec<Chain> = keys.iter().filter_map(|k| self.open.remove(k)).collect();
        chains.sort_by(|a, b| (a.first.ts_us, &a.first.uid).cmp(&(b.first.ts_us, &b.first.uid)));
        for c in chains {
            self.emit(c, out);
        }
    }

    fn emit(&mut self, mut chain: Chain, out: &mut Vec<WholeFlow>) {
        let end = self.sensor_end.get(&chain.sensor).copied();
        if chain.open_at_end
            && chain.end_reason == "capture-end"
            && chain
                .open_until_us
                .zip(end)
                .is_some_and(|(until, end)| end >= until)
        {
            chain.end_reason = "idle".into();
            chain.open_at_end = false;
        }
        self.next_id += 1;
        out.push(chain.finish(self.next_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(uid: &str, ts: i64, last: i64, history: &str) -> FlowPiece {
        let side = Side {
            packets: 2,
            ip_bytes: 100,
            payload_bytes: 10,
            first_us: Some(ts),
            last_us: Some(last),
            tcp_flags: Some(0x10),
            ttl: Some(64),
            mac: None,
        };
        FlowPiece {
            uid: uid.into(),
            ts_us: ts,
            last_ts_us: last,
            orig: ("10.0.0.1".parse().unwrap(), 40000),
            resp: ("10.0.0.2".parse().unwrap(), 80),
            ip_proto: 6,
            history: history.into(),
            orig_side: side,
            resp_side: side,
            vlan: Vec::new(),
            tunnel: None,
            icmp: (0, 0),
            orientation: "syn".into(),
            end_reason: "capture-end".into(),
            fragments: 0,
            open_at_start: true,
            open_at_end: false,
            open_until_us: None,
            findings: Vec::new(),
        }
    }

    /// Three files: a connection across all three, then the same ports reused after a FIN (a SYN),
    /// and one whose next piece came after its `open_until`.
    #[test]
    fn pieces_join_across_files_by_the_flow_tables_rule() {
        let mut m = Merger::default();
        let mut out: Vec<WholeFlow> = Vec::new();
        let mut a = piece("a", 0, 10, "ShAD");
        (a.open_at_start, a.open_at_end, a.open_until_us) = (false, true, Some(300));
        m.capture(0, "s", Some(0), vec![a], &mut out);
        assert!(out.is_empty(), "a waits for the next file");
        let mut b = piece("b", 20, 30, "^dDa");
        // The next file's piece took the server for the client (ports, no handshake seen).
        std::mem::swap(&mut b.orig, &mut b.resp);
        (b.open_at_end, b.open_until_us) = (true, Some(40));
        b.end_reason = "fin".into();
        m.capture(1, "s", Some(15), vec![b], &mut out);
        let c = piece("c", 35, 36, "S");
        m.capture(2, "s", Some(32), vec![c], &mut out);
        m.finish(&mut out);
        assert_eq!(out.len(), 2, "a+b, then c: a new connection after the FIN");
        let whole = &out[0].flow;
        assert_eq!(whole.history, "ShADd");
        assert_eq!(whole.to_server.packets, 4);
        assert_eq!(whole.end_reason, EndReason::Fin);
        assert_eq!(out[1].flow.conn_state.as_str(), "S0");
        assert_eq!((m.pieces, m.joined), (3, 1));

        // Too late: the next piece began after open_until; the sensor's captures go on past it, so
        // the first flow ended by its idle timeout.
        let mut m = Merger::new([("s".to_string(), 81)]);
        let mut out: Vec<WholeFlow> = Vec::new();
        let mut a = piece("a", 0, 10, "D");
        (a.open_at_end, a.open_until_us) = (true, Some(70));
        m.capture(0, "s", Some(0), vec![a], &mut out);
        m.capture(1, "s", Some(75), vec![piece("b", 80, 81, "D")], &mut out);
        m.finish(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].flow.id, 1,
            "a came out as soon as file 1 began after its open_until"
        );
    }
}
