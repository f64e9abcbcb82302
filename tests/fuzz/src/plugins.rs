//! The plugin parser targets: each plugin's parsers called natively (through the plugin crate's
//! `fuzz` module) and one flow through the plugin's whole per-flow observation, built with the SDK's
//! test builders, the way the host would hand it over.

use crate::split;
use pcapxray_plugin_sdk::testing::flow_with;
use pcapxray_plugin_sdk::{Flow, Protocol};

/// One DNS-family message: parsed directly, then carried by a UDP flow on each name-service port and
/// by a TCP flow (two-byte length framing) on port 53.
pub fn dns(data: &[u8]) {
    pcapxray_plugin_dns::fuzz::message(data);
    for port in [53, 5353, 5355, 137] {
        pcapxray_plugin_dns::fuzz::observe(&udp_flow(port, data));
    }
    let mut framed = (data.len().min(usize::from(u16::MAX)) as u16)
        .to_be_bytes()
        .to_vec();
    framed.extend_from_slice(data);
    pcapxray_plugin_dns::fuzz::observe(&flow_with(
        1,
        "192.0.2.1",
        "192.0.2.53",
        53,
        &framed,
        &framed,
    ));
}

/// A client and a server stream, as HTTP, then as a flow on port 80.
pub fn http(data: &[u8]) {
    let (up, down) = split(data);
    pcapxray_plugin_web::fuzz::http(up);
    pcapxray_plugin_web::fuzz::http(down);
    pcapxray_plugin_web::fuzz::observe(&flow_with(1, "192.0.2.1", "192.0.2.80", 80, up, down));
}

/// A client and a server stream, as TLS, then as a flow on port 443.
pub fn tls(data: &[u8]) {
    let (up, down) = split(data);
    pcapxray_plugin_web::fuzz::tls(up);
    pcapxray_plugin_web::fuzz::tls(down);
    pcapxray_plugin_web::fuzz::observe(&flow_with(1, "192.0.2.1", "192.0.2.43", 443, up, down));
}

/// One DHCPv4 message.
pub fn dhcp(data: &[u8]) {
    pcapxray_plugin_devices::fuzz::dhcp(data);
}

/// A consensus file.
pub fn tor_consensus(data: &[u8]) {
    pcapxray_plugin_tor::fuzz::consensus(data);
}

/// A UDP flow to `port` whose client sent `payload` as one datagram and got it back.
fn udp_flow(port: u16, payload: &[u8]) -> Flow {
    let mut flow = flow_with(1, "192.0.2.1", "192.0.2.53", port, payload, payload);
    flow.protocol = Protocol::Udp;
    flow.ip_protocol = 17;
    for dir in [&mut flow.to_server, &mut flow.to_client] {
        dir.datagrams = if payload.is_empty() {
            Vec::new()
        } else {
            vec![payload.len() as u32]
        };
    }
    flow
}
