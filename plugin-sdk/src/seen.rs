//! Remembering what a plugin already published, so a name answered a hundred times or a server
//! contacted fifty times gives one fact, with memory bounded however long the capture.

use std::collections::HashSet;
use std::hash::Hash;

/// A bounded set of items already handled. When full it starts over, which at worst repeats a fact
/// (the host keeps identical facts once anyway).
#[derive(Debug)]
pub struct Seen<T> {
    items: HashSet<T>,
    capacity: usize,
}

impl<T: Hash + Eq> Default for Seen<T> {
    fn default() -> Self {
        Seen::new()
    }
}

impl<T: Hash + Eq> Seen<T> {
    /// Items remembered by [`Seen::new`] before it starts over.
    pub const CAPACITY: usize = 65_536;

    /// An empty set remembering up to [`Seen::CAPACITY`] items.
    pub fn new() -> Seen<T> {
        Seen::with_capacity(Self::CAPACITY)
    }

    /// An empty set remembering up to `capacity` items.
    pub fn with_capacity(capacity: usize) -> Seen<T> {
        Seen {
            items: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// True when `item` is remembered (without remembering it).
    pub fn contains(&self, item: &T) -> bool {
        self.items.contains(item)
    }

    /// True when `item` was not seen before (and remembers it).
    pub fn first_time(&mut self, item: T) -> bool {
        if self.items.len() >= self.capacity {
            self.items.clear();
        }
        self.items.insert(item)
    }
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn an_item_is_new_once_and_the_set_starts_over_when_full() {
        let mut seen = Seen::with_capacity(2);
        assert!(seen.first_time(1));
        assert!(!seen.first_time(1));
        assert!(seen.contains(&1) && !seen.contains(&2));
        assert!(seen.first_time(2));
        // Full: it forgets and starts over.
        assert!(seen.first_time(3));
        assert!(seen.first_time(1));
    }
}
