//! Hosts that recently failed are skipped for `DISTCC_BACKOFF_PERIOD`
//! seconds by every client on this machine. The shared state is the mtime of
//! distcc's own file, `$DISTCC_DIR/lock/backoff_<tcp|ssh>_<host>[_<port>]_0`
//! (src/backoff.c, src/timefile.c), so stock distcc clients and tinydcc honour
//! each other's verdicts.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::hosts::Host;

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
    match SystemTime::now().duration_since(mtime) {
        Ok(age) => age < period,
        // mtime in the future (clock step): treat as fresh, like distcc.
        Err(_) => true,
    }
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
