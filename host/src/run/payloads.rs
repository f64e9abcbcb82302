//! Payload bytes are most of what a call into a plugin copies; stages that do not read them do not get
//! them.

use crate::bindings::wit;

type Payloads = (Vec<u8>, Vec<u32>, Vec<u8>, Vec<u32>);

/// Removes a flow's payloads, returning them.
pub fn take_payloads(f: &mut wit::Flow) -> Payloads {
    (
        std::mem::take(&mut f.to_server.payload),
        std::mem::take(&mut f.to_server.datagrams),
        std::mem::take(&mut f.to_client.payload),
        std::mem::take(&mut f.to_client.datagrams),
    )
}
