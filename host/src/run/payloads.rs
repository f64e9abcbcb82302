//! Payload bytes are most of what a call into a plugin copies; stages that do not read them do not get
//! them.

use crate::runtime::bindings::wit;

/// Runs `call` on the flows, with their payloads taken out first when the stage does not read them,
/// and put back after.
pub fn with_payloads<R>(
    flows: &mut [wit::Flow],
    needs: bool,
    call: impl FnOnce(&[wit::Flow]) -> R,
) -> R {
    if needs {
        return call(flows);
    }
    let kept: Vec<_> = flows.iter_mut().map(take_payloads).collect();
    let result = call(flows);
    for (f, (a, b, c, d)) in flows.iter_mut().zip(kept) {
        (
            f.to_server.payload,
            f.to_server.datagrams,
            f.to_client.payload,
            f.to_client.datagrams,
        ) = (a, b, c, d);
    }
    result
}

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
