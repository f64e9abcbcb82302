//! ICMP / ICMPv6 echo request and reply (ping).

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use etherparse::IpNumber;

use crate::frames::ip_builder;
use crate::{Capture, Host, invalid};

/// Linux `ping` payload: 8 bytes of timestamp, then bytes 0x10..0x37.
fn ping_payload(ts: Duration) -> Vec<u8> {
    let mut p = Vec::with_capacity(56);
    p.extend_from_slice(&(ts.as_secs() as u32).to_le_bytes());
    p.extend_from_slice(&ts.subsec_micros().to_le_bytes());
    p.extend(0x10u8..0x38);
    p
}

impl Capture {
    /// Appends one echo request (`reply == false`) or echo reply `src → dst`
    /// at the current time; ICMPv4 or ICMPv6 depending on the addresses.
    pub fn push_icmp_echo(
        &mut self,
        src: Host,
        dst: Host,
        reply: bool,
        id: u16,
        seq: u16,
        payload: &[u8],
    ) -> io::Result<()> {
        let proto = if src.ip.is_ipv4() {
            IpNumber::ICMP
        } else {
            IpNumber::IPV6_ICMP
        };
        let b = ip_builder(self, src.mac, dst.mac, src.ip, dst.ip, proto)?;
        let mut out = Vec::new();
        match (src.ip, reply) {
            (IpAddr::V4(_), false) => b.icmpv4_echo_request(id, seq).write(&mut out, payload),
            (IpAddr::V4(_), true) => b.icmpv4_echo_reply(id, seq).write(&mut out, payload),
            (IpAddr::V6(_), false) => b.icmpv6_echo_request(id, seq).write(&mut out, payload),
            (IpAddr::V6(_), true) => b.icmpv6_echo_reply(id, seq).write(&mut out, payload),
        }
        .map_err(invalid)?;
        self.push_frame(out);
        Ok(())
    }

    /// `count` pings from `src` to `dst`, one second apart; each is answered
    /// when `answered` is true.
    pub fn icmp_echo(
        &mut self,
        src: Host,
        dst: Host,
        id: u16,
        count: u16,
        answered: bool,
    ) -> io::Result<()> {
        for seq in 1..=count {
            let start = self.now();
            let payload = ping_payload(start);
            self.push_icmp_echo(src, dst, false, id, seq, &payload)?;
            if answered {
                self.wait_reply(src.ip, dst.ip);
                self.push_icmp_echo(dst, src, true, id, seq, &payload)?;
            }
            if seq < count {
                self.set_time(start + Duration::from_millis(1000));
            }
        }
        self.think();
        Ok(())
    }
}
