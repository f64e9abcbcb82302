//! Decodes the flows the host hands over packed (`batch.flows`, WIT 0.6.0): one byte list per call
//! instead of every field stored into the plugin's memory one by one. The layout is in `wit/README.md`
//! ("Packed flows"): a little-endian `u32` length, the flows in postcard encoding with empty payloads,
//! then each flow's to-server and to-client payload as a `u32` length and the bytes.

use crate::{Flow, PluginError};

/// The flows of the call in progress, fetched from the host and decoded.
#[cfg(target_arch = "wasm32")]
pub fn fetch() -> Result<Vec<Flow>, PluginError> {
    unpack(&crate::__bindings::analyzer_world::pcapxray::plugin::batch::flows())
}

/// A native build (unit tests) has no host to fetch from.
#[cfg(not(target_arch = "wasm32"))]
pub fn fetch() -> Result<Vec<Flow>, PluginError> {
    Ok(Vec::new())
}

/// Decodes packed flows.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn unpack(bytes: &[u8]) -> Result<Vec<Flow>, PluginError> {
    let bad = |what: &str| PluginError::InvalidInput(format!("packed flows from the host: {what}"));
    let (len, rest) = split_u32(bytes).ok_or_else(|| bad("no length"))?;
    let len = len as usize;
    if rest.len() < len {
        return Err(bad("shorter than its length says"));
    }
    let (head, mut tail) = rest.split_at(len);
    let mut flows: Vec<Flow> = postcard::from_bytes(head).map_err(|e| bad(&e.to_string()))?;
    for f in &mut flows {
        for d in [&mut f.to_server, &mut f.to_client] {
            let (n, rest) = split_u32(tail).ok_or_else(|| bad("payloads cut short"))?;
            let n = n as usize;
            if rest.len() < n {
                return Err(bad("payloads cut short"));
            }
            d.payload = rest[..n].to_vec();
            tail = &rest[n..];
        }
    }
    if !tail.is_empty() {
        return Err(bad("bytes left over after the payloads"));
    }
    Ok(flows)
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (n, rest) = bytes.split_at_checked(4)?;
    Some((u32::from_le_bytes(n.try_into().ok()?), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[9, 0, 0, 0, 1][..],
            &[1, 0, 0, 0, 200][..],
            &[0, 0, 0, 0, 7][..],
        ] {
            assert!(unpack(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn an_empty_batch_decodes_to_no_flows() {
        // postcard encodes an empty list as its varint length 0.
        assert!(unpack(&[1, 0, 0, 0, 0]).unwrap().is_empty());
    }
}
