//! DHCP (BOOTP + options, RFC 2131/2132) written by hand: DISCOVER, OFFER,
//! REQUEST, ACK with host name (12), vendor class (60), requested address
//! (50), message type (53) and the usual server options.

use std::io;
use std::net::Ipv4Addr;

use crate::{BROADCAST_MAC, Capture, Endpoint, Host, Mac};

/// DHCP message type (option 53).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpMessageType {
    /// Client looks for servers.
    Discover = 1,
    /// Server offers an address.
    Offer = 2,
    /// Client requests the offered address.
    Request = 3,
    /// Server confirms the lease.
    Ack = 5,
    /// Server refuses.
    Nak = 6,
    /// Client gives the address back.
    Release = 7,
}

/// Everything a DHCP exchange between one client and one server carries.
#[derive(Clone, Debug)]
pub struct DhcpLease<'a> {
    /// Client hardware address (chaddr, option 61).
    pub client_mac: Mac,
    /// Transaction id.
    pub xid: u32,
    /// Option 12 (sent by the client), if any.
    pub host_name: Option<&'a str>,
    /// Option 60 (sent by the client), e.g. `MSFT 5.0`.
    pub vendor_class: Option<&'a str>,
    /// Option 50 in the DISCOVER (the client's previous address), if any.
    pub requested_ip: Option<Ipv4Addr>,
    /// Address the server offers (yiaddr; option 50 in the REQUEST).
    pub offered_ip: Ipv4Addr,
    /// The DHCP server (option 54 is its IP).
    pub server: Host,
    /// Option 1.
    pub subnet_mask: Ipv4Addr,
    /// Option 3.
    pub router: Ipv4Addr,
    /// Option 6.
    pub dns: &'a [Ipv4Addr],
    /// Option 15, if any.
    pub domain: Option<&'a str>,
    /// Option 51, seconds.
    pub lease_secs: u32,
}

fn opt(out: &mut Vec<u8>, code: u8, data: &[u8]) {
    out.push(code);
    out.push(data.len() as u8);
    out.extend_from_slice(data);
}

/// The BOOTP payload (UDP body) of one DHCP message of `kind` for `lease`.
pub fn message(kind: DhcpMessageType, lease: &DhcpLease) -> Vec<u8> {
    let from_server = matches!(
        kind,
        DhcpMessageType::Offer | DhcpMessageType::Ack | DhcpMessageType::Nak
    );
    let mut m = Vec::with_capacity(342);
    m.push(if from_server { 2 } else { 1 }); // op
    m.extend_from_slice(&[1, 6, 0]); // htype Ethernet, hlen 6, hops
    m.extend_from_slice(&lease.xid.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes()); // secs
    m.extend_from_slice(&0u16.to_be_bytes()); // flags (unicast replies)
    let yiaddr = match kind {
        DhcpMessageType::Offer | DhcpMessageType::Ack => lease.offered_ip,
        _ => Ipv4Addr::UNSPECIFIED,
    };
    let ciaddr = if kind == DhcpMessageType::Release {
        lease.offered_ip
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    m.extend_from_slice(&ciaddr.octets());
    m.extend_from_slice(&yiaddr.octets());
    m.extend_from_slice(&[0; 8]); // siaddr, giaddr
    m.extend_from_slice(&lease.client_mac);
    m.extend_from_slice(&[0; 10 + 64 + 128]); // chaddr padding, sname, file
    m.extend_from_slice(&[99, 130, 83, 99]); // magic cookie

    opt(&mut m, 53, &[kind as u8]);
    let server_ip = match lease.server.ip {
        std::net::IpAddr::V4(a) => a,
        std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    if from_server {
        opt(&mut m, 54, &server_ip.octets());
        if kind != DhcpMessageType::Nak {
            opt(&mut m, 51, &lease.lease_secs.to_be_bytes());
            opt(&mut m, 58, &(lease.lease_secs / 2).to_be_bytes());
            opt(&mut m, 59, &(lease.lease_secs / 8 * 7).to_be_bytes());
            opt(&mut m, 1, &lease.subnet_mask.octets());
            opt(&mut m, 3, &lease.router.octets());
            let dns: Vec<u8> = lease.dns.iter().flat_map(|a| a.octets()).collect();
            if !dns.is_empty() {
                opt(&mut m, 6, &dns);
            }
            if let Some(d) = lease.domain {
                opt(&mut m, 15, d.as_bytes());
            }
        }
    } else {
        let mut client_id = vec![1u8];
        client_id.extend_from_slice(&lease.client_mac);
        opt(&mut m, 61, &client_id);
        let requested = match kind {
            DhcpMessageType::Discover => lease.requested_ip,
            DhcpMessageType::Request => Some(lease.offered_ip),
            _ => None,
        };
        if let Some(ip) = requested {
            opt(&mut m, 50, &ip.octets());
        }
        if matches!(kind, DhcpMessageType::Request | DhcpMessageType::Release) {
            opt(&mut m, 54, &server_ip.octets());
        }
        if kind != DhcpMessageType::Release {
            if let Some(h) = lease.host_name {
                opt(&mut m, 12, h.as_bytes());
            }
            if let Some(v) = lease.vendor_class {
                opt(&mut m, 60, v.as_bytes());
            }
            opt(
                &mut m,
                55,
                &[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252],
            );
        }
    }
    m.push(255); // end
    if m.len() < 300 {
        m.resize(300, 0); // BOOTP minimum
    }
    m
}

impl Capture {
    fn dhcp_from_client(&mut self, kind: DhcpMessageType, lease: &DhcpLease) -> io::Result<()> {
        let src = Endpoint::new(lease.client_mac, Ipv4Addr::UNSPECIFIED, 68);
        let dst = Endpoint::new(BROADCAST_MAC, Ipv4Addr::BROADCAST, 67);
        self.push_udp(src, dst, &message(kind, lease))?;
        self.think();
        Ok(())
    }

    fn dhcp_from_server(&mut self, kind: DhcpMessageType, lease: &DhcpLease) -> io::Result<()> {
        self.wait_reply(Ipv4Addr::UNSPECIFIED.into(), lease.server.ip);
        let src = lease.server.port(67);
        let dst = Endpoint::new(lease.client_mac, lease.offered_ip, 68);
        self.push_udp(src, dst, &message(kind, lease))?;
        self.think();
        Ok(())
    }

    /// Client broadcasts DHCPDISCOVER (0.0.0.0:68 → 255.255.255.255:67).
    pub fn dhcp_discover(&mut self, lease: &DhcpLease) -> io::Result<()> {
        self.dhcp_from_client(DhcpMessageType::Discover, lease)
    }

    /// Server answers DHCPOFFER to the offered address and client MAC.
    pub fn dhcp_offer(&mut self, lease: &DhcpLease) -> io::Result<()> {
        self.dhcp_from_server(DhcpMessageType::Offer, lease)
    }

    /// Client broadcasts DHCPREQUEST for the offered address.
    pub fn dhcp_request(&mut self, lease: &DhcpLease) -> io::Result<()> {
        self.dhcp_from_client(DhcpMessageType::Request, lease)
    }

    /// Server confirms with DHCPACK.
    pub fn dhcp_ack(&mut self, lease: &DhcpLease) -> io::Result<()> {
        self.dhcp_from_server(DhcpMessageType::Ack, lease)
    }

    /// The whole DORA exchange: DISCOVER, OFFER, REQUEST, ACK.
    pub fn dhcp_dora(&mut self, lease: &DhcpLease) -> io::Result<()> {
        self.dhcp_discover(lease)?;
        self.dhcp_offer(lease)?;
        self.dhcp_request(lease)?;
        self.dhcp_ack(lease)
    }
}
