//! Looking at slots without taking them, and the queue of clients waiting
//! for a slot (`TINYDCC_CHOOSE=measured`). A slot is busy when another
//! process holds the fcntl lock on its lock file (stock distcc's too);
//! F_GETLK asks without taking it. A waiting client holds a ticket, the
//! lock on `$DISTCC_DIR/speed/wait_<i>`, the lowest free `i`: the kernel
//! drops it when the client exits, so a killed client never stays queued.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::hosts::Mode;

/// Tickets looked at: more waiters than this count as this many.
const MAX_TICKETS: u32 = 64;

/// True if another process holds a lock on `path`. A file that does not
/// exist was never locked. Never call it on a file this process has
/// locked: closing any descriptor of a file drops the process's fcntl
/// locks on it (callers look only at slots and tickets they do not hold).
fn held_by_other(path: &Path) -> io::Result<bool> {
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    crate::sys::locked_by_other(&f)
}

/// Is slot `slot` of `mode` held by some client now?
pub fn slot_busy(lock_dir: &Path, mode: &Mode, slot: u32) -> io::Result<bool> {
    kind_busy(lock_dir, "cpu", mode, slot)
}

/// The same for the lock `<kind>_*_<slot>`.
pub fn kind_busy(lock_dir: &Path, kind: &str, mode: &Mode, slot: u32) -> io::Result<bool> {
    held_by_other(&lock_dir.join(super::lock::file_name(kind, mode, slot)))
}

/// A place in the queue; dropping it leaves the queue.
pub struct Ticket {
    _file: File,
    pub index: u32,
}

fn ticket_path(dir: &Path, i: u32) -> std::path::PathBuf {
    dir.join(format!("wait_{i}"))
}

/// Join the queue: the lowest free ticket (`None` past `MAX_TICKETS`, or
/// when the directory is unusable: the client then waits unqueued).
pub fn join(dir: &Path) -> Option<Ticket> {
    for i in 0..MAX_TICKETS {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o666)
            .custom_flags(libc::O_CLOEXEC)
            .open(ticket_path(dir, i))
            .ok()?;
        if crate::sys::try_lock_whole_file(&f).unwrap_or(false) {
            return Some(Ticket { _file: f, index: i });
        }
    }
    None
}

/// Clients waiting ahead of `mine` (all waiting clients when not queued).
/// Tickets are taken lowest first, so the scan stops after a run of free
/// ones.
pub fn ahead(dir: &Path, mine: Option<&Ticket>) -> usize {
    let end = mine.map_or(MAX_TICKETS, |t| t.index);
    let (mut n, mut free_run) = (0, 0);
    for i in 0..end {
        if held_by_other(&ticket_path(dir, i)).unwrap_or(false) {
            n += 1;
            free_run = 0;
        } else {
            free_run += 1;
            if free_run >= 4 {
                break;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_count_other_processes_ahead() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-queue-").unwrap();
        let mine = join(&d).unwrap();
        assert_eq!(mine.index, 0);
        // The child only checks the lock and leaves with _exit.
        match crate::sys::fork().unwrap() {
            crate::sys::ForkResult::Child => {
                let seen = ahead(&d, None);
                let t = join(&d);
                let code = match (seen, t.map(|t| t.index)) {
                    (1, Some(1)) => 0,
                    _ => 1,
                };
                crate::sys::exit_now(code);
            }
            crate::sys::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
        let lock = d.join("lock");
        std::fs::create_dir(&lock).unwrap();
        assert!(!slot_busy(&lock, &Mode::Local, 0).unwrap(), "never locked");
        drop(mine);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
