//! Hash maps and sets for the state plugins keep per host, pair or flow.
//!
//! std's `HashMap` hashes with SipHash-1-3, which is slow for the small keys (addresses, ports, MACs)
//! these maps are keyed by: on a flood of 200,000 one-packet flows it was a tenth of the diagram
//! plugins' time. These use [foldhash](https://docs.rs/foldhash) with a seed drawn once per run (from
//! the clock and allocator addresses), so a capture cannot be crafted ahead of time to collide.
//! Iteration order is arbitrary and differs between runs, as with std's maps: sort before output.
//!
//! `HashMap::new()` and `with_capacity` come from the `HashMapExt` and `HashSetExt` traits.

pub use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
