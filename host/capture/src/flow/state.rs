//! Connection state and history, as Zeek's conn.log defines them, because those are the words
//! investigators already use: `conn_state` (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR,
//! OTH) says whether an attempt was answered, rejected, reset or left half-open; `history` says in which
//! order things happened, one letter per kind of event the first time each side did it — upper case for
//! the originator (the flow's client), lower case for the responder:
//! `S` SYN, `H` SYN-ACK, `A` pure ACK, `D` data, `F` FIN, `R` RST; `^` first when the first packet came
//! from the responder (the flow was turned around by the handshake or by ports).
//!
//! UDP and other protocols: `S0` when only the originator sent, `SHR` when only the responder did, `SF`
//! when both did; their history has `D` for a datagram.

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// Zeek's connection states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    S0,
    S1,
    Sf,
    Rej,
    S2,
    S3,
    Rsto,
    Rstr,
    Rstos0,
    Rstrh,
    Sh,
    Shr,
    Oth,
}

impl ConnState {
    /// Zeek's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::Sf => "SF",
            ConnState::Rej => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::Rsto => "RSTO",
            ConnState::Rstr => "RSTR",
            ConnState::Rstos0 => "RSTOS0",
            ConnState::Rstrh => "RSTRH",
            ConnState::Sh => "SH",
            ConnState::Shr => "SHR",
            ConnState::Oth => "OTH",
        }
    }
}

/// The events of one flow so far: which kinds each direction did, and in what order (bounded: each
/// kind once per direction).
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Per direction (index as in the flow table: 0 = the first packet's sender), a bit per letter.
    seen: [u8; 2],
    /// (direction, letter) in the order they first happened; at most 12.
    order: Vec<(u8, u8)>,
}

const LETTERS: [u8; 6] = [b'S', b'H', b'A', b'D', b'F', b'R'];

impl History {
    fn mark(&mut self, dir: usize, letter: u8) {
        let Some(bit) = LETTERS.iter().position(|l| *l == letter) else {
            return;
        };
        let mask = 1 << bit;
        if self.seen[dir] & mask == 0 {
            self.seen[dir] |= mask;
            self.order.push((dir as u8, letter));
        }
    }

    fn did(&self, dir: usize, letter: u8) -> bool {
        LETTERS
            .iter()
            .position(|l| *l == letter)
            .is_some_and(|bit| self.seen[dir] & (1 << bit) != 0)
    }

    /// A TCP segment from direction `dir` with `flags` and `payload` bytes.
    pub fn tcp(&mut self, dir: usize, flags: u8, payload: usize) {
        if flags & SYN != 0 {
            self.mark(dir, if flags & ACK != 0 { b'H' } else { b'S' });
        }
        if flags & RST != 0 {
            self.mark(dir, b'R');
        }
        if flags & FIN != 0 {
            self.mark(dir, b'F');
        }
        if payload > 0 {
            self.mark(dir, b'D');
        } else if flags & ACK != 0 && flags & (SYN | FIN | RST) == 0 {
            self.mark(dir, b'A');
        }
    }

    /// A datagram (UDP, ICMP, other) from direction `dir`.
    pub fn datagram(&mut self, dir: usize) {
        self.mark(dir, b'D');
    }

    /// The history string with the originator in direction `client_dir`.
    pub fn text(&self, client_dir: usize) -> String {
        let mut s = String::with_capacity(self.order.len() + 1);
        if client_dir == 1 && !self.order.is_empty() {
            s.push('^');
        }
        for &(dir, letter) in &self.order {
            let c = letter as char;
            s.push(if dir as usize == client_dir {
                c
            } else {
                c.to_ascii_lowercase()
            });
        }
        s
    }

    /// Zeek's `conn_state` for a flow of IP protocol `protocol` with the originator in `client_dir`.
    pub fn state(&self, protocol: u8, client_dir: usize) -> ConnState {
        let (o, r) = (client_dir, 1 - client_dir);
        if protocol != 6 {
            return match (self.seen[o] != 0, self.seen[r] != 0) {
                (true, false) => ConnState::S0,
                (false, true) => ConnState::Shr,
                _ => ConnState::Sf,
            };
        }
        let o_syn = self.did(o, b'S');
        let r_synack = self.did(r, b'H');
        let (o_fin, r_fin) = (self.did(o, b'F'), self.did(r, b'F'));
        let (o_rst, r_rst) = (self.did(o, b'R'), self.did(r, b'R'));
        match (o_syn, r_synack) {
            (false, false) => ConnState::Oth,
            (false, true) => {
                if r_rst {
                    ConnState::Rstrh
                } else if r_fin {
                    ConnState::Shr
                } else {
                    ConnState::Oth
                }
            }
            (true, false) => {
                if r_rst {
                    ConnState::Rej
                } else if o_rst {
                    ConnState::Rstos0
                } else if o_fin {
                    ConnState::Sh
                } else {
                    ConnState::S0
                }
            }
            (true, true) => {
                // Established: whoever reset first aborted it.
                let first_rst = self
                    .order
                    .iter()
                    .find(|(_, l)| *l == b'R')
                    .map(|(d, _)| *d as usize);
                match first_rst {
                    Some(d) if d == o => ConnState::Rsto,
                    Some(_) => ConnState::Rstr,
                    None => match (o_fin, r_fin) {
                        (true, true) => ConnState::Sf,
                        (true, false) => ConnState::S2,
                        (false, true) => ConnState::S3,
                        (false, false) => ConnState::S1,
                    },
                }
            }
        }
    }
}

/// Joins the history of a flow's next piece (as another capture file saw it) to `acc`, the history
/// of the pieces before it: letters of an event already seen on that side are dropped, as one flow
/// table over both files would have recorded them. `swap`: the piece saw client and server the other
/// way round (its upper and lower case are turned over). A leading `^` of the piece is dropped; the
/// whole flow's `^` is its first piece's.
pub fn join_history(acc: &mut String, piece: &str, swap: bool) {
    for c in piece.chars().filter(|&c| c != '^') {
        let c = if swap {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        } else {
            c
        };
        if !acc.contains(c) {
            acc.push(c);
        }
    }
}

/// Zeek's `conn_state` from a history string (upper case: the originator; `^` ignored), for a flow of
/// IP protocol `protocol`: what [`History::state`] gives for the events the letters record.
pub fn state_of_history(text: &str, protocol: u8) -> ConnState {
    let mut h = History::default();
    for c in text.chars().filter(|&c| c != '^') {
        let dir = usize::from(c.is_ascii_lowercase());
        h.mark(dir, c.to_ascii_uppercase() as u8);
    }
    h.state(protocol, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments (direction, flags, payload) from the originator's view (dir 0 = originator).
    type Segments<'a> = &'a [(usize, u8, usize)];

    fn run(segments: Segments<'_>) -> (ConnState, String) {
        let mut h = History::default();
        for &(d, f, p) in segments {
            h.tcp(d, f, p);
        }
        (h.state(6, 0), h.text(0))
    }

    #[test]
    fn every_zeek_state_from_its_defining_segments() {
        let (syn, synack, ack, fin, rst, psh) = (SYN, SYN | ACK, ACK, FIN | ACK, RST, 0x18);
        let cases: [(Segments<'_>, &str, &str); 13] = [
            (&[(0, syn, 0)], "S0", "S"),
            (&[(0, syn, 0), (1, synack, 0), (0, ack, 0)], "S1", "ShA"),
            (
                &[
                    (0, syn, 0),
                    (1, synack, 0),
                    (0, ack, 0),
                    (0, psh, 10),
                    (1, psh, 5),
                    (0, fin, 0),
                    (1, fin, 0),
                ],
                "SF",
                "ShADdFf",
            ),
            (&[(0, syn, 0), (1, rst | ACK, 0)], "REJ", "Sr"),
            (
                &[(0, syn, 0), (1, synack, 0), (0, ack, 0), (0, fin, 0)],
                "S2",
                "ShAF",
            ),
            (
                &[(0, syn, 0), (1, synack, 0), (0, ack, 0), (1, fin, 0)],
                "S3",
                "ShAf",
            ),
            (
                &[(0, syn, 0), (1, synack, 0), (0, ack, 0), (0, rst, 0)],
                "RSTO",
                "ShAR",
            ),
            (
                &[(0, syn, 0), (1, synack, 0), (0, ack, 0), (1, rst, 0)],
                "RSTR",
                "ShAr",
            ),
            (&[(0, syn, 0), (0, rst, 0)], "RSTOS0", "SR"),
            (&[(1, synack, 0), (1, rst, 0)], "RSTRH", "hr"),
            (&[(0, syn, 0), (0, FIN, 0)], "SH", "SF"),
            (&[(1, synack, 0), (1, FIN, 0)], "SHR", "hf"),
            (&[(0, psh, 100), (1, ack, 0)], "OTH", "Da"),
        ];
        for (segments, state, history) in cases {
            let (s, h) = run(segments);
            assert_eq!((s.as_str(), h.as_str()), (state, history), "{segments:?}");
        }
    }

    /// The state of a history string is the state of the events it records, for every Zeek state.
    #[test]
    fn joined_pieces_of_history_give_the_state_of_the_whole_flow() {
        let mut whole = String::from("ShAD");
        join_history(&mut whole, "^dDAf", true); // a piece that took the server for the client
        assert_eq!(whole, "ShADdaF");
        assert_eq!(state_of_history(&whole, 6), ConnState::S2);
        join_history(&mut whole, "Rf", false);
        assert_eq!(whole, "ShADdaFRf");
        assert_eq!(state_of_history(&whole, 6), ConnState::Rsto);
        for (text, state) in [
            ("S", "S0"),
            ("ShADdFf", "SF"),
            ("Sr", "REJ"),
            ("^hr", "RSTRH"),
            ("Da", "OTH"),
        ] {
            assert_eq!(state_of_history(text, 6).as_str(), state, "{text}");
        }
        assert_eq!(state_of_history("^d", 17), ConnState::Shr);
        assert_eq!(state_of_history("Dd", 17), ConnState::Sf);
    }

    #[test]
    fn datagram_flows_and_a_turned_around_history() {
        let mut h = History::default();
        h.datagram(1);
        assert_eq!(h.state(17, 0), ConnState::Shr);
        h.datagram(0);
        assert_eq!(h.state(17, 0), ConnState::Sf);
        assert_eq!(h.text(1), "^Dd");
        let mut h = History::default();
        h.datagram(0);
        assert_eq!(h.state(17, 0), ConnState::S0);
    }
}
