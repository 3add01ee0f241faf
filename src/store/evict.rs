//! Which entries to evict: pure decisions, so they can be tested without
//! a disk. The shelf feeds every entry of a scan pass to `Oldest`, which
//! keeps only the oldest entries that free the bytes needed (at most
//! `max` of them), so a pass costs memory for its victims, never for the
//! whole store.

use std::collections::BinaryHeap;

use super::digest::Digest;

/// When a store exceeds its limit, evict down to this (90%), so that a
/// full store does not scan for every new entry.
pub fn low_water(limit: u64) -> u64 {
    limit - limit / 10
}

/// A single entry larger than this is not stored: it would push out an
/// eighth of the store at once.
pub fn worth_storing(len: u64, limit: u64) -> bool {
    len <= limit / 8
}

/// An entry seen by a scan: its recency (mtime in nanoseconds since the
/// epoch, touched on every hit), its size and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    pub used: i128,
    pub name: Digest,
    pub size: u64,
}

/// The oldest candidates whose sizes add up to `need`.
pub struct Oldest {
    need: u64,
    max: usize,
    held: u64,
    /// A max-heap on recency: the newest kept candidate is dropped first.
    heap: BinaryHeap<Candidate>,
}

impl Oldest {
    pub fn new(need: u64, max: usize) -> Oldest {
        Oldest {
            need,
            max: max.max(1),
            held: 0,
            heap: BinaryHeap::new(),
        }
    }

    pub fn offer(&mut self, c: Candidate) {
        self.heap.push(c);
        self.held += c.size;
        // Drop the newest while the older ones still free enough (or there
        // are too many: the next pass frees the rest).
        while let Some(top) = self.heap.peek() {
            let enough_without = self.held - top.size >= self.need;
            if !enough_without && self.heap.len() <= self.max {
                break;
            }
            self.held -= top.size;
            self.heap.pop();
        }
    }

    /// The victims, oldest first.
    pub fn into_victims(self) -> Vec<Candidate> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(used: i128, size: u64) -> Candidate {
        Candidate {
            used,
            name: Digest::of(&used.to_le_bytes()),
            size,
        }
    }

    #[test]
    fn keeps_the_oldest_that_free_enough() {
        let mut o = Oldest::new(25, 100);
        for (t, s) in [(5, 10), (1, 10), (9, 10), (3, 10), (7, 10), (2, 10)] {
            o.offer(cand(t, s));
        }
        let v: Vec<i128> = o.into_victims().iter().map(|c| c.used).collect();
        assert_eq!(v, [1, 2, 3]);
    }

    #[test]
    fn one_big_old_entry_suffices() {
        let mut o = Oldest::new(25, 100);
        for (t, s) in [(5, 10), (1, 100), (9, 10)] {
            o.offer(cand(t, s));
        }
        let v: Vec<i128> = o.into_victims().iter().map(|c| c.used).collect();
        assert_eq!(v, [1]);
    }

    #[test]
    fn never_more_than_max() {
        let mut o = Oldest::new(1000, 3);
        for t in (0..50).rev() {
            o.offer(cand(t, 1));
        }
        let v: Vec<i128> = o.into_victims().iter().map(|c| c.used).collect();
        assert_eq!(v, [0, 1, 2]);
    }

    #[test]
    fn not_enough_keeps_everything() {
        let mut o = Oldest::new(1000, 10);
        for t in [4, 2, 8] {
            o.offer(cand(t, 1));
        }
        assert_eq!(o.into_victims().len(), 3);
    }

    #[test]
    fn thresholds() {
        assert_eq!(low_water(1000), 900);
        assert!(worth_storing(125, 1000));
        assert!(!worth_storing(126, 1000));
    }
}
