//! The compile slots (`--jobs`): which jobs run and which wait, in order.
//! Nothing else keeps these lists, so they cannot drift apart.
//!
//! A slot belongs to whole requests: a piped job may borrow a free one
//! early (`try_early`) only while nobody waits, and gives it back when a
//! whole request has waited too long (the event loop's preemption).
//!
//! `room` is memory admission's answer (`admission::admit`): without it a
//! free slot is not granted, and whole requests wait as if none were free.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A job's key in the event loop (and in these lists).
pub type JobId = usize;

pub struct Slots {
    cap: usize,
    running: Vec<JobId>,
    /// Waiting whole requests and since when.
    queue: VecDeque<(JobId, Instant)>,
}

impl Slots {
    pub fn new(cap: usize) -> Slots {
        Slots {
            cap,
            running: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// A slot is free (memory aside).
    pub fn free(&self) -> bool {
        self.running.len() < self.cap
    }

    /// Would a slot be granted now if memory allowed? Only then is it
    /// worth reading the host's memory.
    pub fn wants_grant(&self) -> bool {
        self.free() && !self.queue.is_empty()
    }

    /// A slot for a job whose source is still coming: only when one is
    /// free and no whole request waits. `false`: it simply does not start early.
    pub fn try_early(&mut self, id: JobId, room: bool) -> bool {
        if self.running.contains(&id) {
            return true;
        }
        if !room || !self.free() || !self.queue.is_empty() {
            return false;
        }
        self.running.push(id);
        true
    }

    /// A slot for a whole request. `true`: granted now; `false`: queued,
    /// granted later by `next_grant` in arrival order.
    pub fn request(&mut self, id: JobId, room: bool, now: Instant) -> bool {
        if self.running.contains(&id) {
            return true;
        }
        if room && self.free() && self.queue.is_empty() {
            self.running.push(id);
            return true;
        }
        if !self.queue.iter().any(|(x, _)| *x == id) {
            self.queue.push_back((id, now));
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
        self.queue.retain(|(x, _)| *x != id);
    }

    /// The next queued job, moved into a free slot.
    pub fn next_grant(&mut self, room: bool) -> Option<JobId> {
        if !room || !self.free() {
            return None;
        }
        let (id, _) = self.queue.pop_front()?;
        self.running.push(id);
        Some(id)
    }

    /// Queued jobs that have waited over `limit`, out of the queue: while
    /// a slot is free but memory is short, they are answered busy.
    pub fn take_waited(&mut self, now: Instant, limit: Duration) -> Vec<JobId> {
        let (old, young) = self
            .queue
            .drain(..)
            .partition(|(_, since)| now.duration_since(*since) > limit);
        self.queue = young;
        old.into_iter().map(|(id, _)| id).collect()
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

    fn now() -> Instant {
        Instant::now()
    }

    #[test]
    fn whole_requests_run_then_queue_in_order() {
        let mut s = Slots::new(2);
        assert!(s.request(1, true, now()));
        assert!(s.request(2, true, now()));
        assert!(!s.request(3, true, now()));
        assert!(!s.request(4, true, now()));
        assert_eq!(s.queued(), 2);
        assert_eq!(s.next_grant(true), None, "no slot free yet");
        s.release(1);
        assert_eq!(s.next_grant(true), Some(3));
        assert_eq!(s.next_grant(true), None);
        s.release(2);
        assert_eq!(s.next_grant(true), Some(4));
        assert_eq!(s.running(), &[3, 4]);
        assert_eq!(s.queued(), 0);
    }

    #[test]
    fn early_starts_only_borrow_free_slots() {
        let mut s = Slots::new(1);
        assert!(s.try_early(1, true));
        assert!(!s.try_early(2, true), "no slot free");
        assert!(!s.request(2, true, now()));
        s.release(1);
        // A whole request waits: an early start must not jump it.
        assert!(!s.try_early(5, true));
        assert_eq!(s.next_grant(true), Some(2));
    }

    #[test]
    fn asking_twice_holds_one_slot() {
        let mut s = Slots::new(2);
        assert!(s.try_early(1, true));
        assert!(s.request(1, true, now()));
        assert_eq!(s.running(), &[1]);
        let mut s = Slots::new(1);
        assert!(s.request(1, true, now()));
        assert!(!s.request(2, true, now()));
        assert!(!s.request(2, true, now()));
        assert_eq!(s.queued(), 1);
    }

    #[test]
    fn a_gone_job_leaves_both_lists() {
        let mut s = Slots::new(1);
        assert!(s.request(1, true, now()));
        assert!(!s.request(2, true, now()));
        assert!(!s.request(3, true, now()));
        s.remove(2);
        s.remove(1);
        assert_eq!(s.next_grant(true), Some(3));
        assert_eq!(s.next_grant(true), None);
        s.remove(3);
        assert!(s.running().is_empty());
        // Releasing a job that holds nothing is harmless.
        s.release(9);
        s.remove(9);
    }

    #[test]
    fn without_memory_free_slots_stay_free_and_long_waiters_leave() {
        let t0 = Instant::now();
        let mut s = Slots::new(2);
        assert!(!s.try_early(1, false), "no early start without memory");
        assert!(!s.request(1, false, t0), "queued although a slot is free");
        assert!(s.wants_grant());
        assert_eq!(s.next_grant(false), None);
        assert!(!s.request(2, false, t0 + Duration::from_secs(2)));
        let late = t0 + Duration::from_secs(4);
        assert_eq!(s.take_waited(late, Duration::from_secs(3)), vec![1]);
        assert_eq!(s.queued(), 1);
        // Memory again: the one left gets its slot.
        assert_eq!(s.next_grant(true), Some(2));
        assert!(!s.wants_grant());
    }
}
