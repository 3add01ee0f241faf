//! What the client is doing right now, for monitors. distcc writes a
//! `$DISTCC_DIR/state/binstate_<pid>` struct at every phase change
//! (distcc-compat.md §5.1); the monitor issue fills in `note` with that one
//! `pwrite`. Until then it only traces, so the hot path stays free of I/O.

/// distcc's phase numbers (src/state.h), kept for the state-file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Phase {
    Startup = 0,
    Blocked = 1,
    Connect = 2,
    Cpp = 3,
    Send = 4,
    Compile = 5,
    Receive = 6,
    Done = 7,
}

/// The client entered `phase` for `file` on `host` (`localhost` for local
/// work) in lock slot `slot`.
pub fn note(phase: Phase, file: &str, host: &str, slot: u32) {
    log::trace!("phase {phase:?}: {file} on {host}[{slot}]");
}
