//! A host's own report of its load (`load_line`), for the measured choice:
//! asked from the daemon's stats port (its compile port + 1, which is
//! distccd's default pair 3632/3633; `TINYDCC_LOAD_PORT=N` for another,
//! 0 for never) and kept in `$DISTCC_DIR/speed/` for every client process:
//! `load_<lock name>` (the line, fresh for `FRESH`) and `noload_<lock name>`
//! (the host gave no report: not asked again for `NO_REPORT_FOR`), so
//! `make -j20` asks a host about once per `FRESH`, and a stock host
//! once per `NO_REPORT_FOR`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::hosts::Mode;
use crate::load_line::{HostLoad, QUERY};

const FRESH: Duration = Duration::from_millis(1500);
const NO_REPORT_FOR: Duration = Duration::from_secs(600);
/// Connect and answer: a daemon answers from its event loop at once.
const TIMEOUT: Duration = Duration::from_millis(300);
/// What a daemon short of memory costs a job sent there: its wait before
/// the busy answer (`daemon::admission::MAX_WAIT`), then another host.
const NO_ROOM_SECS: f64 = 3.0;

/// Seconds before `l`'s host would start one more job taking `job_secs`:
/// the jobs ahead of it over its slots, plus the busy detour when its
/// memory has no room. (Jobs of this machine's clients are in `running`
/// too: their locks count them again, which errs towards other hosts.)
pub fn start_delay(l: &HostLoad, job_secs: f64) -> f64 {
    let ahead = (l.running + l.queued + 1).saturating_sub(l.slots);
    let mut d = f64::from(ahead) / f64::from(l.slots.max(1)) * job_secs;
    if !l.room {
        d += NO_ROOM_SECS + job_secs;
    }
    d
}

/// Where to ask `mode`'s host, if anywhere (TCP hosts only).
fn load_port(mode: &Mode, setting: Option<&str>) -> Option<(String, u16)> {
    let Mode::Tcp { host, port } = mode else {
        return None;
    };
    let p = match setting.map(str::parse::<u16>) {
        Some(Ok(0)) => return None,
        Some(Ok(p)) => p,
        _ => port.checked_add(1)?,
    };
    Some((host.clone(), p))
}

fn age(p: &Path) -> Option<Duration> {
    let m = std::fs::metadata(p).ok()?.modified().ok()?;
    Some(SystemTime::now().duration_since(m).unwrap_or_default())
}

/// `mode`'s load report: the shared cached one while fresh, else asked.
pub fn get(dir: &Path, mode: &Mode) -> Option<HostLoad> {
    let setting = std::env::var("TINYDCC_LOAD_PORT").ok();
    let (host, port) = load_port(mode, setting.as_deref())?;
    let cache = dir.join(super::lock::file_name("load", mode, 0));
    if age(&cache).is_some_and(|a| a < FRESH) {
        if let Some(l) = std::fs::read_to_string(&cache)
            .ok()
            .and_then(|t| HostLoad::parse(&t))
        {
            return Some(l);
        }
    }
    let none = dir.join(super::lock::file_name("noload", mode, 0));
    if age(&none).is_some_and(|a| a < NO_REPORT_FOR) {
        return None;
    }
    match ask(&host, port) {
        Some(l) => {
            let _ = write_whole(&cache, l.line().as_bytes());
            let _ = std::fs::remove_file(&none);
            Some(l)
        }
        None => {
            log::debug!("{host}:{port} gives no load report; not asked again for a while");
            let _ = write_whole(&none, b"");
            None
        }
    }
}

fn ask(host: &str, port: u16) -> Option<HostLoad> {
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    s.set_write_timeout(Some(TIMEOUT)).ok()?;
    s.write_all(QUERY).ok()?;
    let mut buf = Vec::new();
    // A stock daemon's page is longer than any load line: stop early.
    s.take(512).read_to_end(&mut buf).ok()?;
    HostLoad::parse(std::str::from_utf8(&buf).ok()?)
}

/// Replace `path` whole (temp file + rename): readers never see half.
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        crate::paths::random_suffix()
    ));
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|_| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(running: u32, queued: u32, slots: u32, room: bool) -> HostLoad {
        HostLoad {
            running,
            queued,
            slots,
            mem_mib: Some(500),
            room,
            cpus: None,
        }
    }

    #[test]
    fn a_full_host_delays_by_the_jobs_ahead_over_its_slots() {
        assert_eq!(start_delay(&load(0, 0, 4, true), 2.0), 0.0);
        assert_eq!(start_delay(&load(3, 0, 4, true), 2.0), 0.0);
        assert_eq!(start_delay(&load(4, 0, 4, true), 2.0), 0.5);
        assert_eq!(start_delay(&load(4, 4, 4, true), 2.0), 2.5);
        // No memory: the busy detour too.
        assert_eq!(start_delay(&load(0, 0, 2, false), 2.0), 5.0);
    }

    #[test]
    fn the_port_is_the_compile_port_plus_one_unless_set() {
        let m = Mode::Tcp {
            host: "board".into(),
            port: 3632,
        };
        assert_eq!(load_port(&m, None), Some(("board".into(), 3633)));
        assert_eq!(load_port(&m, Some("3700")), Some(("board".into(), 3700)));
        assert_eq!(load_port(&m, Some("0")), None);
        assert_eq!(load_port(&m, Some("junk")), Some(("board".into(), 3633)));
        assert_eq!(load_port(&Mode::Local, None), None);
    }
}
