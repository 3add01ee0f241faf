//! Hosts that recently failed are skipped for `DISTCC_BACKOFF_PERIOD`
//! seconds by every client on this machine. The shared state is the mtime of
//! distcc's own file, `$DISTCC_DIR/lock/backoff_<tcp|ssh>_<host>[_<port>]_0`
//! (src/backoff.c, src/timefile.c), so stock distcc clients and tinydcc honour
//! each other's verdicts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::hosts::Host;
use crate::protocol::access_denied::Denied;

fn path(dir: &Path, host: &Host) -> std::path::PathBuf {
    dir.join(super::lock::file_name("backoff", &host.mode, 0))
}

/// True if `host` failed less than `period` ago.
pub fn is_backed_off(dir: &Path, host: &Host, period: Duration) -> bool {
    if period.is_zero() || host.is_local() {
        return false;
    }
    let Ok(m) = std::fs::metadata(path(dir, host)) else {
        return false;
    };
    let Ok(mtime) = m.modified() else {
        return false;
    };
    fresh(mtime, period)
}

fn fresh(mtime: SystemTime, period: Duration) -> bool {
    match SystemTime::now().duration_since(mtime) {
        Ok(age) => age < period,
        // mtime in the future (clock step): treat as fresh, like distcc.
        Err(_) => true,
    }
}

/// `host` refused this client (its access list): back it off, and say so
/// at warning level once per host: only the client that puts the host in
/// backoff prints it, not every job of a `make -j` that was refused too.
pub fn refused(dir: &Path, host: &Host, d: &Denied, period: Duration) {
    // The host list's name for it, without slots and options.
    let name = host.spec.split(['/', ',']).next().unwrap_or(&host.spec);
    let why = format!(
        "{name} refused this client ({} is not in its --allow list)",
        d.client
    );
    if period.is_zero() {
        log::warn!("{why}");
    } else if mark_first(dir, host, period) {
        log::warn!("{why}; {name} is backed off for {} s", period.as_secs());
    } else {
        log::debug!("{why}; already backed off");
    }
}

/// Record a failure of `host` now, unless some client did within `period`;
/// true if this call did. Clients checking the same host take turns
/// (flock), so exactly one of them sees the file old or empty.
fn mark_first(dir: &Path, host: &Host, period: Duration) -> bool {
    let p = path(dir, host);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_CLOEXEC)
        .open(&p);
    let f = match f {
        Ok(f) => f,
        Err(e) => {
            log::warn!("cannot write backoff file {}: {e}", p.display());
            return true;
        }
    };
    // The lock goes with the file when it closes. Without it (a file
    // system with no flock), two clients may both log the first mark.
    let (mut held, mut unlocked);
    let f: &mut std::fs::File =
        match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive) {
            Ok(l) => {
                held = l;
                &mut held
            }
            Err((f, _)) => {
                unlocked = f;
                &mut unlocked
            }
        };
    let marked = f
        .metadata()
        .ok()
        .filter(|m| m.len() > 0)
        .and_then(|m| m.modified().ok())
        .is_some_and(|t| fresh(t, period));
    if marked {
        return false;
    }
    log::debug!("mark {} as backed off for {}s", host.spec, period.as_secs());
    if let Err(e) = f.set_len(0).and_then(|_| f.write_all(b"x")) {
        log::warn!("cannot write backoff file {}: {e}", p.display());
    }
    true
}

/// Record a failure of `host` now.
pub fn mark(dir: &Path, host: &Host, period: Duration) {
    if period.is_zero() || host.is_local() {
        return;
    }
    let p = path(dir, host);
    log::debug!("mark {} as backed off for {}s", host.spec, period.as_secs());
    // Writing one byte refreshes the mtime even on filesystems with coarse
    // or lazy timestamps (distcc writes "x" for the same reason).
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .and_then(|mut f| f.write_all(b"x"));
    if let Err(e) = r {
        log::warn!(
            "cannot write backoff file {}: {}",
            p.display(),
            crate::errtext::reason(&e)
        );
    }
}

/// `host` answered properly: forget any earlier failure.
pub fn clear(dir: &Path, host: &Host, period: Duration) {
    if period.is_zero() || host.is_local() {
        return;
    }
    let _ = std::fs::remove_file(path(dir, host));
}
