//! UDP request/response exchanges.

use std::io;

use crate::{Capture, Endpoint};

impl Capture {
    /// One datagram `src → dst`, then a short pause.
    pub fn udp_send(&mut self, src: Endpoint, dst: Endpoint, payload: &[u8]) -> io::Result<()> {
        self.push_udp(src, dst, payload)?;
        self.think();
        Ok(())
    }

    /// A request from `client` and, if given, the `response` from `server`
    /// one round trip later.
    pub fn udp_exchange(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        request: &[u8],
        response: Option<&[u8]>,
    ) -> io::Result<()> {
        self.push_udp(client, server, request)?;
        if let Some(resp) = response {
            self.wait_reply(client.ip, server.ip);
            self.push_udp(server, client, resp)?;
        }
        self.think();
        Ok(())
    }
}
