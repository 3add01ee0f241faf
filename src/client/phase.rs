//! What the client is doing right now, for monitors: distcc's
//! `$DISTCC_DIR/state/binstate_<pid>` struct, created at the first phase
//! and rewritten with one `pwrite` at each later one (layout:
//! doc/distcc-protocol.md, "Monitor state files"), so stock
//! distccmon-text shows tinydcc clients. `finish` (and a
//! terminating signal, through `cleanup`) removes it.

use std::cell::RefCell;

use crate::monitor::state::{self, StateFile, TaskState};

thread_local! {
    static STATE: RefCell<Option<(StateFile, crate::sys::signal_cleanup::Guard)>> = const { RefCell::new(None) };
}

pub use crate::monitor::state::Phase;

/// The client entered `phase` for `file` on `host` (`localhost` for local
/// work) in lock slot `slot`.
pub fn note(phase: Phase, file: &std::ffi::OsStr, host: &str, slot: u32) {
    log::trace!(
        "phase {}: {} on {host}[{slot}]",
        phase.name(),
        file.to_string_lossy()
    );
    let pid = std::process::id();
    STATE.with(|cell| {
        let mut cur = cell.borrow_mut();
        if cur.is_none() {
            // No state dir (no HOME, read-only disk): monitoring is optional.
            let Some(dir) = state::state_dir() else {
                return;
            };
            let Ok(f) = StateFile::create(&dir, pid) else {
                return;
            };
            let guard = crate::sys::signal_cleanup::register(f.path());
            *cur = Some((f, guard));
        }
        if let Some((f, _)) = cur.as_ref() {
            let _ = f.write(&TaskState {
                pid: pid as u64,
                file: file.to_os_string(),
                host: host.to_string(),
                slot: slot as i32,
                phase,
            });
        }
    });
}

/// The job is over: remove the state file.
pub fn finish() {
    STATE.with(|cell| cell.borrow_mut().take());
}
