//! Which hosts have a tinydcc daemon with the pump header store
//! (doc/header-store.md): learnt from the trailer such a daemon sends
//! after every protocol-3 reply, kept as one small file per host in
//! `$DISTCC_DIR/store/` (named like the backoff files), shared by every
//! client of the machine. Only hosts with a record get the store form
//! of protocol 3, so a stock distccd never sees it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::hosts::{Host, Mode};
use crate::protocol::store_form;

/// How long to wait for the trailer after a reply: a daemon writes it
/// with the reply, and a stock distccd closes at once, so either comes
/// fast; a slow network only costs the record, never the job.
const TRAILER_WAIT: Duration = Duration::from_millis(20);

fn path(dir: &Path, host: &Host) -> Option<PathBuf> {
    // The trailer is read from TCP connections only.
    matches!(host.mode, Mode::Tcp { .. })
        .then(|| dir.join(super::lock::file_name("hsto", &host.mode, 0)))
}

/// The store version `host` announced, if it has a store.
pub fn known(dir: &Path, host: &Host) -> Option<u32> {
    let text = std::fs::read_to_string(path(dir, host)?).ok()?;
    text.trim().parse().ok().filter(|&v| v > 0)
}

/// Record what a host said after a protocol-3 reply: `Some(v)` its
/// trailer (0: store off), `None` no trailer at all (a stock distccd).
pub fn record(dir: &Path, host: &Host, version: Option<u32>) {
    let Some(p) = path(dir, host) else { return };
    match version.filter(|&v| v > 0) {
        Some(v) if known(dir, host) == Some(v) => {}
        Some(v) => {
            // Whole or not at all: a concurrent reader sees old or new.
            let tmp = p.with_extension(format!("tmp{}", std::process::id()));
            let written =
                std::fs::write(&tmp, format!("{v}\n")).and_then(|_| std::fs::rename(&tmp, &p));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                log::debug!("cannot record {}: {e}", p.display());
            }
        }
        None => forget_path(&p),
    }
}

/// Forget `host`'s store: it answered the store form as a stock distccd.
pub fn forget(dir: &Path, host: &Host) {
    if let Some(p) = path(dir, host) {
        forget_path(&p);
    }
}

fn forget_path(p: &Path) {
    match std::fs::remove_file(p) {
        Ok(()) => log::debug!("{}: no header store any more", p.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::debug!("cannot remove {}: {e}", p.display()),
    }
}

/// What follows a protocol-3 reply on `s`: `Some(Some(v))` a trailer,
/// `Some(None)` an end of file without one, `None` nothing within the
/// wait (unknown: keep what we knew).
pub fn read_trailer(s: &mut std::net::TcpStream) -> Option<Option<u32>> {
    let until = Instant::now() + TRAILER_WAIT;
    let mut got = Vec::with_capacity(16);
    let mut buf = [0u8; 16];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return None;
        }
        match s.read(&mut buf) {
            Ok(0) => return Some(store_form::parse_trailer(&got)),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > 12 {
                    return Some(None);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A reset after the reply is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(store_form::parse_trailer(&got))
            }
            Err(_) if got.len() == 12 => return Some(store_form::parse_trailer(&got)),
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_recorded_and_forgotten() {
        let d = crate::paths::make_temp_dir(Path::new("/tmp"), "hsto-").unwrap();
        let host = crate::hosts::parse("127.0.0.1:4000,lzo,cpp", "test")
            .unwrap()
            .hosts
            .remove(0);
        assert_eq!(known(&d, &host), None);
        record(&d, &host, Some(1));
        assert_eq!(known(&d, &host), Some(1));
        record(&d, &host, Some(0));
        assert_eq!(known(&d, &host), None, "store off");
        record(&d, &host, Some(1));
        record(&d, &host, None);
        assert_eq!(known(&d, &host), None, "became stock");
        record(&d, &host, Some(1));
        forget(&d, &host);
        assert_eq!(known(&d, &host), None);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
