//! The pump session's folder: one per `pump` run (`distcc-pump.XXXXXX` in
//! `$TMPDIR`), shared by the `pump` command, its include server and every
//! client of the build. This module alone knows what lies in it and how
//! its lines read, so the writers and the reader cannot drift apart:
//!
//! - `socket`: the include server's Unix socket, `$INCLUDE_SERVER_PORT`
//!   (distcc requires that name);
//! - `log`: the include server's line per query, `ok N` (N files listed)
//!   or `gave-up INPUT: WHY`;
//! - `mirror`: the path of the server's client root, removed at the end;
//! - `fallbacks`: a client's line per pump job it sent in plain mode,
//!   `before INPUT: WHY` or `after INPUT: WHY` (before or after the server
//!   listed its files);
//! - `discrepancy_counter`: one `@` per job that failed in pump mode but
//!   compiled in plain mode (`DISTCC_MAX_DISCREPANCY` counts them).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

const SOCKET: &str = "socket";
const QUERY_LOG: &str = "log";
const MIRROR: &str = "mirror";
const FALLBACK_LOG: &str = "fallbacks";
const DISCREPANCY_COUNTER: &str = "discrepancy_counter";

const LISTED: &str = "ok ";
const GAVE_UP: &str = "gave-up ";
const BEFORE: &str = "before ";
const AFTER: &str = "after ";

/// Where a pump job fell back: before the include server listed its
/// files, or after (then the server's log counted it as sent).
#[derive(Clone, Copy)]
pub enum Stage {
    Before,
    After,
}

/// One pump session's folder.
pub struct Session {
    dir: PathBuf,
}

/// What the session's logs say, for the `pump` command's summary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Queries the include server answered with a list.
    pub listed: usize,
    /// Why it gave up, one per query (`INPUT: WHY`).
    pub gave_up: Vec<String>,
    /// Why clients fell back to plain mode, one per job (`INPUT: WHY`).
    pub fell_back: Vec<String>,
    /// Of those, the jobs that fell back after the server listed their
    /// files (counted in `listed` too).
    pub after_listing: usize,
}

impl Session {
    pub fn new(dir: &Path) -> Session {
        Session {
            dir: dir.to_path_buf(),
        }
    }

    /// The session whose socket is `port` (`$INCLUDE_SERVER_PORT`), when
    /// it is `<dir>/socket` as distcc requires.
    pub fn of_socket(port: &Path) -> Option<Session> {
        if port.file_name()? != SOCKET {
            return None;
        }
        Some(Session::new(port.parent()?))
    }

    /// The include server's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join(SOCKET)
    }

    /// Record where the include server keeps its client root.
    pub fn record_mirror(&self, top: &Path) {
        // Bytes, as given: $TMPDIR need not be UTF-8.
        let _ = std::fs::write(self.dir.join(MIRROR), top.as_os_str().as_bytes());
    }

    /// Where the include server said it keeps its client root.
    pub fn mirror(&self) -> Option<PathBuf> {
        let top = std::fs::read(self.dir.join(MIRROR)).ok()?;
        Some(PathBuf::from(OsString::from_vec(top)))
    }

    /// The include server's query log, opened for appending.
    pub fn query_log(&self) -> Option<QueryLog> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(QUERY_LOG))
            .ok()
            .map(QueryLog)
    }

    fn append(&self, name: &str, text: &str) {
        let _ = OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.join(name))
            .and_then(|mut f| f.write_all(text.as_bytes()));
    }

    /// A client sent the job for `input` in plain mode, and why.
    pub fn note_fallback(&self, stage: Stage, input: &str, why: &str) {
        let tag = match stage {
            Stage::Before => BEFORE,
            Stage::After => AFTER,
        };
        self.append(FALLBACK_LOG, &format!("{tag}{input}: {why}\n"));
    }

    /// A job failed in pump mode but compiled in plain mode.
    pub fn note_discrepancy(&self) {
        self.append(DISCREPANCY_COUNTER, "@");
    }

    /// How many jobs `note_discrepancy` counted.
    pub fn discrepancies(&self) -> u64 {
        std::fs::metadata(self.dir.join(DISCREPANCY_COUNTER)).map_or(0, |m| m.len())
    }

    /// The query and fallback logs, read back.
    pub fn tally(&self) -> Tally {
        let read = |name| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let log = read(QUERY_LOG);
        let fallbacks = read(FALLBACK_LOG);
        Tally {
            listed: log.lines().filter(|l| l.starts_with(LISTED)).count(),
            gave_up: log
                .lines()
                .filter_map(|l| l.strip_prefix(GAVE_UP))
                .map(str::to_owned)
                .collect(),
            fell_back: fallbacks
                .lines()
                .filter_map(|l| l.strip_prefix(BEFORE).or_else(|| l.strip_prefix(AFTER)))
                .map(str::to_owned)
                .collect(),
            after_listing: fallbacks.lines().filter(|l| l.starts_with(AFTER)).count(),
        }
    }
}

/// The include server's query log (see the module's description).
pub struct QueryLog(File);

impl QueryLog {
    /// A query answered with `n` files.
    pub fn listed(&mut self, n: usize) {
        let _ = self.0.write_all(format!("{LISTED}{n}\n").as_bytes());
    }

    /// A query for `input` the scan gave up on, and why (one line).
    pub fn gave_up(&mut self, input: &str, why: &str) {
        let why = why.replace('\n', " ");
        let _ = self
            .0
            .write_all(format!("{GAVE_UP}{input}: {why}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_writers_log_the_tally_reads() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "session-").unwrap();
        let s = Session::of_socket(&d.join("socket")).unwrap();
        assert_eq!(s.socket(), d.join("socket"));
        assert!(Session::of_socket(&d.join("sock")).is_none());
        assert_eq!(s.tally(), Tally::default());
        let mut log = s.query_log().unwrap();
        log.listed(12);
        log.gave_up("a.c", "a.c:3: #embed\nis not supported");
        log.listed(7);
        s.note_fallback(Stage::Before, "b.c", "CPATH is set");
        s.note_fallback(Stage::After, "c.c", "x.h: No such file");
        assert_eq!(
            s.tally(),
            Tally {
                listed: 2,
                gave_up: vec!["a.c: a.c:3: #embed is not supported".into()],
                fell_back: vec!["b.c: CPATH is set".into(), "c.c: x.h: No such file".into()],
                after_listing: 1,
            }
        );
        assert_eq!(s.discrepancies(), 0);
        s.note_discrepancy();
        s.note_discrepancy();
        assert_eq!(s.discrepancies(), 2);
        assert_eq!(s.mirror(), None);
        s.record_mirror(Path::new("/dev/shm/tinydcc.include_server-1-x"));
        assert_eq!(
            s.mirror(),
            Some(PathBuf::from("/dev/shm/tinydcc.include_server-1-x"))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
