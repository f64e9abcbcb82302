//! ARP who-has / is-at (Ethernet + IPv4).

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use etherparse::{ArpEthIpv4Packet, ArpOperation, ArpPacket, PacketBuilder};

use crate::{BROADCAST_MAC, Capture, Host, Mac, invalid};

fn v4(ip: IpAddr) -> io::Result<Ipv4Addr> {
    match ip {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(a) => Err(invalid(format!("ARP needs IPv4, got {a}"))),
    }
}

impl Capture {
    /// Appends one ARP packet at the current time.
    pub fn push_arp(
        &mut self,
        eth_dst: Mac,
        operation: ArpOperation,
        sender: Host,
        target_mac: Mac,
        target_ip: Ipv4Addr,
    ) -> io::Result<()> {
        let arp = ArpPacket::from(ArpEthIpv4Packet {
            operation,
            sender_mac: sender.mac,
            sender_ipv4: v4(sender.ip)?.octets(),
            target_mac,
            target_ipv4: target_ip.octets(),
        });
        let b = PacketBuilder::ethernet2(sender.mac, eth_dst).arp(arp);
        let mut out = Vec::with_capacity(b.size());
        b.write(&mut out).map_err(invalid)?;
        self.push_frame(out);
        Ok(())
    }

    /// Broadcast "who has `target_ip`? tell `sender`".
    pub fn arp_request(&mut self, sender: Host, target_ip: Ipv4Addr) -> io::Result<()> {
        self.push_arp(
            BROADCAST_MAC,
            ArpOperation::REQUEST,
            sender,
            [0; 6],
            target_ip,
        )?;
        self.think();
        Ok(())
    }

    /// Unicast "`sender.ip` is at `sender.mac`" to `target`.
    pub fn arp_reply(&mut self, sender: Host, target: Host) -> io::Result<()> {
        self.push_arp(
            target.mac,
            ArpOperation::REPLY,
            sender,
            target.mac,
            v4(target.ip)?,
        )?;
        self.think();
        Ok(())
    }

    /// `asker` resolves `answerer`'s IPv4 address: request, then reply.
    pub fn arp_resolve(&mut self, asker: Host, answerer: Host) -> io::Result<()> {
        self.arp_request(asker, v4(answerer.ip)?)?;
        self.arp_reply(answerer, asker)
    }

    /// Gratuitous ARP announcing `host` (sender and target IP are the host's).
    pub fn arp_announce(&mut self, host: Host) -> io::Result<()> {
        let ip = v4(host.ip)?;
        self.push_arp(BROADCAST_MAC, ArpOperation::REQUEST, host, [0; 6], ip)?;
        self.think();
        Ok(())
    }
}
