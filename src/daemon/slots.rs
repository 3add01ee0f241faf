//! The compile slots (`--jobs`): which jobs run and which wait, in order.
//! Nothing else keeps these lists, so they cannot drift apart.
//!
//! A slot belongs to whole requests: a piped job may borrow a free one
//! early (`try_early`) only while nobody waits, and gives it back when a
//! whole request has waited too long (the event loop's preemption).

use std::collections::VecDeque;

/// A job's key in the event loop (and in these lists).
pub type JobId = usize;

pub struct Slots {
    cap: usize,
    running: Vec<JobId>,
    queue: VecDeque<JobId>,
}

impl Slots {
    pub fn new(cap: usize) -> Slots {
        Slots {
            cap,
            running: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    fn free(&self) -> bool {
        self.running.len() < self.cap
    }

    /// A slot for a job whose source is still coming: only when one is
    /// free and no whole request waits. `false`: it simply does not start early.
    pub fn try_early(&mut self, id: JobId) -> bool {
        if self.running.contains(&id) {
            return true;
        }
        if !self.free() || !self.queue.is_empty() {
            return false;
        }
        self.running.push(id);
        true
    }

    /// A slot for a whole request. `true`: granted now; `false`: queued,
    /// granted later by `next_grant` in arrival order.
    pub fn request(&mut self, id: JobId) -> bool {
        if self.running.contains(&id) {
            return true;
        }
        if self.free() && self.queue.is_empty() {
            self.running.push(id);
            return true;
        }
        if !self.queue.contains(&id) {
            self.queue.push_back(id);
        }
        false
    }

    /// The job no longer runs a compiler (it may still be queued, which
    /// `release` leaves alone).
    pub fn release(&mut self, id: JobId) {
        self.running.retain(|x| *x != id);
    }

    /// The job is gone: out of both lists.
    pub fn remove(&mut self, id: JobId) {
        self.release(id);
        self.queue.retain(|x| *x != id);
    }

    /// The next queued job, moved into a free slot.
    pub fn next_grant(&mut self) -> Option<JobId> {
        if !self.free() {
            return None;
        }
        let id = self.queue.pop_front()?;
        self.running.push(id);
        Some(id)
    }

    pub fn running(&self) -> &[JobId] {
        &self.running
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_requests_run_then_queue_in_order() {
        let mut s = Slots::new(2);
        assert!(s.request(1));
        assert!(s.request(2));
        assert!(!s.request(3));
        assert!(!s.request(4));
        assert_eq!(s.queued(), 2);
        assert_eq!(s.next_grant(), None, "no slot free yet");
        s.release(1);
        assert_eq!(s.next_grant(), Some(3));
        assert_eq!(s.next_grant(), None);
        s.release(2);
        assert_eq!(s.next_grant(), Some(4));
        assert_eq!(s.running(), &[3, 4]);
        assert_eq!(s.queued(), 0);
    }

    #[test]
    fn early_starts_only_borrow_free_slots() {
        let mut s = Slots::new(1);
        assert!(s.try_early(1));
        assert!(!s.try_early(2), "no slot free");
        assert!(!s.request(2));
        s.release(1);
        // A whole request waits: an early start must not jump it.
        assert!(!s.try_early(5));
        assert_eq!(s.next_grant(), Some(2));
    }

    #[test]
    fn asking_twice_holds_one_slot() {
        let mut s = Slots::new(2);
        assert!(s.try_early(1));
        assert!(s.request(1));
        assert_eq!(s.running(), &[1]);
        let mut s = Slots::new(1);
        assert!(s.request(1));
        assert!(!s.request(2));
        assert!(!s.request(2));
        assert_eq!(s.queued(), 1);
    }

    #[test]
    fn a_gone_job_leaves_both_lists() {
        let mut s = Slots::new(1);
        assert!(s.request(1));
        assert!(!s.request(2));
        assert!(!s.request(3));
        s.remove(2);
        s.remove(1);
        assert_eq!(s.next_grant(), Some(3));
        assert_eq!(s.next_grant(), None);
        s.remove(3);
        assert!(s.running().is_empty());
        // Releasing a job that holds nothing is harmless.
        s.release(9);
        s.remove(9);
    }
}
