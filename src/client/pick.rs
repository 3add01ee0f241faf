//! Choosing where a job runs (distcc's src/where.c): drop hosts in backoff
//! and hosts that already failed this job, then take the first free slot,
//! slot 0 of every host before slot 1 of any, sleeping
//! `DISTCC_PAUSE_TIME_MSEC` between rounds while all are busy.

use std::path::Path;

use super::lock::{self, SlotLock};
use super::phase::{self, Phase};
use super::settings::Settings;
use crate::hosts::Host;

pub enum Picked<'h> {
    Host(&'h Host, SlotLock),
    /// Nothing left to try: every host is in backoff, failed, or `,down`.
    NoHosts,
}

/// Block until a slot on one of `hosts` (minus `exclude`) is ours.
pub fn pick<'h>(
    s: &Settings,
    lock_dir: &Path,
    hosts: &[&'h Host],
    exclude: &[&'h Host],
    input: &std::ffi::OsStr,
) -> std::io::Result<Picked<'h>> {
    let live: Vec<&Host> = hosts
        .iter()
        .copied()
        .filter(|h| !exclude.iter().any(|x| std::ptr::eq(*x, *h)))
        .filter(|h| {
            let off = super::backoff::is_backed_off(lock_dir, h, s.backoff_period);
            if off {
                log::debug!("skipping {}: in backoff", h.spec);
            }
            !off
        })
        .collect();
    // distcc waits forever when every remaining host is `,down`; there is
    // nothing to wait for, so treat it as no host at all.
    if live.iter().all(|h| h.down) {
        return Ok(Picked::NoHosts);
    }
    let mut blocked = false;
    loop {
        if let Some((h, l)) = lock::lock_first_free(lock_dir, &live)? {
            log::trace!("got slot {} of {}", l.slot, h.spec);
            return Ok(Picked::Host(h, l));
        }
        if !blocked {
            phase::note(Phase::Blocked, input, "", 0);
            blocked = true;
        }
        log::trace!("all slots busy; sleeping {}ms", s.pause.as_millis());
        std::thread::sleep(s.pause.max(std::time::Duration::from_millis(1)));
    }
}

/// Block until one of `n` local slots is free (`--localslots` for compiles,
/// `--localslots_cpp` for preprocessing).
pub fn local(s: &Settings, lock_dir: &Path, n: u32) -> std::io::Result<SlotLock> {
    loop {
        if let Some(l) = lock::lock_local_now(lock_dir, n)? {
            return Ok(l);
        }
        std::thread::sleep(s.pause.max(std::time::Duration::from_millis(1)));
    }
}

/// distcc's `--randomize`: shuffle the list once per invocation.
pub fn shuffle<T>(v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let mut b = [0u8; 4];
        let r = if getrandom::fill(&mut b).is_ok() {
            u32::from_le_bytes(b) as usize
        } else {
            std::process::id() as usize
        };
        v.swap(i, r % (i + 1));
    }
}
