//! Host slots shared by every client process on this machine, stock distcc
//! included: one empty file per (host, slot) under `$DISTCC_DIR/lock`,
//! held with a non-blocking POSIX record lock (fcntl F_SETLK, F_WRLCK, whole
//! file) exactly as distcc's src/lock.c does. The kernel drops the lock when
//! the process exits, so a killed client never leaks a slot.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::hosts::{Host, Mode};

/// A held slot; dropping it closes the file, which releases the lock.
#[derive(Debug)]
pub struct SlotLock {
    _file: File,
    pub slot: u32,
}

pub enum Try {
    Got(SlotLock),
    Busy,
}

/// distcc's lock-file name for `host`: `<kind>_localhost_<i>`,
/// `<kind>_tcp_<host>_<port>_<i>` or `<kind>_ssh_<host>_<i>`.
pub fn file_name(kind: &str, mode: &Mode, slot: u32) -> String {
    match mode {
        Mode::Local => format!("{kind}_localhost_{slot}"),
        Mode::Tcp { host, port } => format!("{kind}_tcp_{host}_{port}_{slot}"),
        Mode::Ssh { host, .. } => format!("{kind}_ssh_{host}_{slot}"),
    }
}

/// Try to take `cpu_*_<slot>` for `mode` without waiting.
pub fn try_lock(dir: &Path, mode: &Mode, slot: u32) -> io::Result<Try> {
    try_lock_kind(dir, "cpu", mode, slot)
}

/// The same for `<kind>_*_<slot>`.
pub fn try_lock_kind(dir: &Path, kind: &str, mode: &Mode, slot: u32) -> io::Result<Try> {
    let path: PathBuf = dir.join(file_name(kind, mode, slot));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "failed to create {}: {}",
                    path.display(),
                    crate::errtext::reason(&e)
                ),
            )
        })?;
    match crate::sys::try_lock_whole_file(&file) {
        Ok(true) => Ok(Try::Got(SlotLock { _file: file, slot })),
        Ok(false) => Ok(Try::Busy),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!(
                "lock {} failed: {}",
                path.display(),
                crate::errtext::reason(&e)
            ),
        )),
    }
}

/// `<kind>_*_<slot>` if it is free now; `None` when busy or on an error
/// (a slot that cannot be locked is no slot to take).
pub fn take_kind(dir: &Path, kind: &str, mode: &Mode, slot: u32) -> Option<SlotLock> {
    match try_lock_kind(dir, kind, mode, slot) {
        Ok(Try::Got(l)) => Some(l),
        _ => None,
    }
}

/// The host's mode with slots for a local lock (`localhost`).
pub const LOCAL: Mode = Mode::Local;

/// Walk slots 0, 1, ... across `hosts` in list order and take the first
/// free one (distcc's `dcc_lock_one`): slot 0 of every host fills before
/// slot 1 of any. `Ok(None)` when all are busy right now.
pub fn lock_first_free<'h>(
    dir: &Path,
    hosts: &[&'h Host],
) -> io::Result<Option<(&'h Host, SlotLock)>> {
    let max = hosts.iter().map(|h| h.slots).max().unwrap_or(0).min(50);
    for slot in 0..max {
        for h in hosts.iter().filter(|h| slot < h.slots && !h.down) {
            if let Try::Got(l) = try_lock(dir, &h.mode, slot)? {
                return Ok(Some((h, l)));
            }
        }
    }
    Ok(None)
}

/// A local slot among `n` (`--localslots` or `--localslots_cpp`); the two
/// limits share the `cpu_localhost_<i>` files, as in distcc.
pub fn lock_local_now(dir: &Path, n: u32) -> io::Result<Option<SlotLock>> {
    for slot in 0..n.min(50) {
        if let Try::Got(l) = try_lock(dir, &LOCAL, slot)? {
            return Ok(Some(l));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_distcc() {
        let tcp = Mode::Tcp {
            host: "10.0.0.1".into(),
            port: 3632,
        };
        let ssh = Mode::Ssh {
            user: Some("u".into()),
            host: "b1".into(),
            command: None,
        };
        assert_eq!(file_name("cpu", &Mode::Local, 3), "cpu_localhost_3");
        assert_eq!(file_name("cpu", &tcp, 0), "cpu_tcp_10.0.0.1_3632_0");
        assert_eq!(file_name("backoff", &ssh, 0), "backoff_ssh_b1_0");
    }

    #[test]
    fn second_open_in_another_process_is_busy() {
        // fcntl locks are per process: check against a forked child.
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-lock-").unwrap();
        let held = match try_lock(&d, &Mode::Local, 0).unwrap() {
            Try::Got(l) => l,
            Try::Busy => panic!("fresh lock busy"),
        };
        // The child only takes two locks and leaves with _exit.
        match crate::sys::fork().unwrap() {
            crate::sys::ForkResult::Child => {
                let code = match try_lock(&d, &Mode::Local, 0) {
                    Ok(Try::Busy) => 0,
                    _ => 1,
                };
                let code2 = match try_lock(&d, &Mode::Local, 1) {
                    Ok(Try::Got(_)) => 0,
                    _ => 2,
                };
                crate::sys::exit_now(code + code2);
            }
            crate::sys::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
        drop(held);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
