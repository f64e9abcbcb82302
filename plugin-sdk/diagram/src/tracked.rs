//! What the diagram model remembers of each flow for the findings raised after it went by: 28 bytes a
//! flow, in fixed chunks, so memory follows the flows actually kept (a growing `Vec` would reserve up
//! to twice that and copy the whole list on every doubling, which is what a plugin's linear memory
//! keeps as its peak). At most [`super::MAX_TRACKED_FLOWS`] flows are kept; the model counts the rest.

/// Flows per chunk (224 KiB).
const CHUNK: usize = 8192;

/// One flow: what moving it to another conversation needs.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
pub(super) struct Tracked {
    pub id: u64,
    pub bytes: u64,
    pub edge: u32,
    pub packets: u32,
    pub port: u16,
    pub proto: u8,
    /// Files on the flow (saturating), moved with it to another edge.
    pub files: u8,
}

/// The flows, in chunks; [`FlowLog::sort`] orders each chunk by id so that [`FlowLog::find`] can
/// search them.
#[derive(Debug, Default)]
pub(super) struct FlowLog {
    chunks: Vec<Vec<Tracked>>,
    len: usize,
    sorted: bool,
}

impl FlowLog {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, t: Tracked) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(t),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(t);
                self.chunks.push(c);
            }
        }
        self.len += 1;
        self.sorted = false;
    }

    /// Orders every chunk by flow id (once; pushing again undoes it).
    pub fn sort(&mut self) {
        if !self.sorted {
            for c in &mut self.chunks {
                c.sort_unstable_by_key(|t| t.id);
            }
            self.sorted = true;
        }
    }

    /// Where flow `id` is, after [`FlowLog::sort`].
    pub fn find(&self, id: u64) -> Option<(usize, usize)> {
        debug_assert!(self.sorted || self.len == 0);
        self.chunks
            .iter()
            .enumerate()
            .find_map(|(ci, c)| c.binary_search_by_key(&id, |t| t.id).ok().map(|i| (ci, i)))
    }

    pub fn get_mut(&mut self, (chunk, i): (usize, usize)) -> &mut Tracked {
        &mut self.chunks[chunk][i]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tracked> {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: u64) -> Tracked {
        Tracked {
            id,
            bytes: id * 10,
            edge: 0,
            packets: 1,
            port: 80,
            proto: 6,
            files: 0,
        }
    }

    #[test]
    fn a_record_takes_28_bytes() {
        assert_eq!(std::mem::size_of::<Tracked>(), 28);
    }

    #[test]
    fn flows_in_any_order_are_found_across_chunks() {
        let mut log = FlowLog::default();
        // Ids out of order, over three chunks.
        let n = 2 * CHUNK as u64 + 5;
        for i in 0..n {
            log.push(t((i * 7919) % n));
        }
        log.sort();
        assert_eq!(log.len(), n as usize);
        for id in [0, 1, n / 2, n - 1] {
            let at = log.find(id).expect("found");
            assert_eq!({ log.get_mut(at).bytes }, id * 10);
        }
        assert!(log.find(n).is_none());
        assert_eq!(log.iter().count(), n as usize);
    }
}
