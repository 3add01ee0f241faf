//! One `log` backend for every role: stderr, an append-only file, syslog
//! (facility daemon), or a raw fd (ccache's UNCACHED_ERR_FD). distcc's level
//! names map onto the `log` crate: critical/error→Error, warning→Warn,
//! notice→Info, info→Debug, debug→Trace.
//!
//! A client logging to a file (`DISTCC_LOG`) still owes its user the reason
//! a compile failed: with [`tee_to_stderr`], errors, and warnings logged
//! with the target [`USER`], are also written to stderr.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

pub enum Target {
    Stderr,
    File(PathBuf),
    Fd(i32),
    Syslog,
    /// Syslog, or nothing if there is no syslog: for `--inetd` over ssh,
    /// where stderr is the client's terminal.
    SyslogOrQuiet,
}

enum Sink {
    Null,
    Stderr,
    File(File),
    Syslog(syslog::Logger<syslog::LoggerBackend, Rfc3164>),
}

/// syslog's `Formatter3164` line, `<PRI>Mmm dd hh:mm:ss ident[pid]: msg`
/// with the time in UTC as that formatter writes it, but stamped by libc's
/// strftime: the formatter's own goes through the `time` crate's run-time
/// format-description parser (about 30 KB of the static binary).
#[derive(Clone)]
struct Rfc3164 {
    process: &'static str,
    pid: u32,
}

impl syslog::LogFormat<String> for Rfc3164 {
    fn format<W: Write>(
        &self,
        w: &mut W,
        severity: syslog::Severity,
        message: String,
    ) -> syslog::Result<()> {
        write!(
            w,
            "<{}>{} {}[{}]: {}",
            syslog::Facility::LOG_DAEMON as u8 | severity as u8,
            crate::sys::strftime_now("%b %d %H:%M:%S", true),
            self.process,
            self.pid,
            message
        )
        .map_err(syslog::Error::Write)
    }
}

/// The `log` target of a warning the user must see even when the log goes
/// to a file: `log::warn!(target: logging::USER, ...)`.
pub const USER: &str = "user";

/// Set by [`tee_to_stderr`].
static TEE: AtomicBool = AtomicBool::new(false);

struct Logger {
    ident: &'static str,
    target: Target,
    sink: Mutex<Sink>,
    /// Prefix each line with a timestamp (files only: syslog adds its own).
    stamp: bool,
}

/// Parse a distccd `--log-level` name.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s.to_ascii_lowercase().as_str() {
        "emerg" | "emergency" | "alert" | "critical" | "crit" | "error" | "err" => {
            LevelFilter::Error
        }
        "warning" | "warn" => LevelFilter::Warn,
        "notice" | "note" => LevelFilter::Info,
        "info" => LevelFilter::Debug,
        "debug" => LevelFilter::Trace,
        _ => return None,
    })
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "notice",
        Level::Debug => "info",
        Level::Trace => "debug",
    }
}

fn open_sink(ident: &'static str, target: &Target) -> std::io::Result<Sink> {
    Ok(match target {
        Target::Stderr => Sink::Stderr,
        Target::File(p) => Sink::File(
            OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o666)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)?,
        ),
        // The caller hands over this fd for logging only, for the
        // process's whole life.
        Target::Fd(fd) => Sink::File(crate::sys::inherited_file(*fd)),
        Target::Syslog | Target::SyslogOrQuiet => {
            let f = Rfc3164 {
                process: ident,
                pid: std::process::id(),
            };
            match (syslog::unix(f), target) {
                (Ok(l), _) => Sink::Syslog(l),
                (Err(_), Target::SyslogOrQuiet) => Sink::Null,
                (Err(_), _) => Sink::Stderr,
            }
        }
    })
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        match &mut *sink {
            Sink::Null => {}
            Sink::Syslog(l) => {
                let msg = r.args().to_string();
                let _ = match r.level() {
                    Level::Error => l.err(msg),
                    Level::Warn => l.warning(msg),
                    Level::Info => l.notice(msg),
                    Level::Debug => l.info(msg),
                    Level::Trace => l.debug(msg),
                };
            }
            sink => {
                let line = format!(
                    "{}[{}] {}: {}\n",
                    self.ident,
                    std::process::id(),
                    level_name(r.level()),
                    r.args()
                );
                // One write per line, so concurrent writers never interleave.
                let _ = match sink {
                    Sink::File(f) if self.stamp => {
                        let stamped = format!(
                            "{} {line}",
                            crate::sys::strftime_now("%Y-%m-%d %H:%M:%S", false)
                        );
                        f.write_all(stamped.as_bytes())
                    }
                    Sink::File(f) => f.write_all(line.as_bytes()),
                    _ => std::io::stderr().write_all(line.as_bytes()),
                };
                let for_user = r.level() == Level::Error || r.target() == USER;
                if for_user && matches!(sink, Sink::File(_)) && TEE.load(Ordering::Relaxed) {
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
            }
        }
    }

    fn flush(&self) {}
}

static LOGGER: std::sync::OnceLock<Logger> = std::sync::OnceLock::new();

/// Install the process-wide logger. A file that cannot be opened falls back
/// to stderr, with an error there naming it (distcc's words); returns false
/// then.
pub fn init(ident: &'static str, target: Target, level: LevelFilter) -> bool {
    let (sink, failed) = match open_sink(ident, &target) {
        Ok(s) => (s, None),
        Err(e) => (Sink::Stderr, Some(crate::errtext::reason(&e))),
    };
    let stamp = matches!(target, Target::File(_)) && failed.is_none();
    let path = match &target {
        Target::File(p) => p.display().to_string(),
        _ => String::new(),
    };
    let logger = LOGGER.get_or_init(|| Logger {
        ident,
        target,
        sink: Mutex::new(sink),
        stamp,
    });
    let _ = log::set_logger(logger);
    log::set_max_level(level);
    if let Some(why) = &failed {
        log::error!("failed to open logfile {path}: {why}");
    }
    failed.is_none()
}

/// Also write errors and [`USER`] warnings to stderr while the log goes to
/// a file, unless stderr is that very file (`DISTCC_LOG=/dev/stderr`).
pub fn tee_to_stderr() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsFd;
    let Some(l) = LOGGER.get() else { return };
    let Ok(sink) = l.sink.lock() else { return };
    let Sink::File(f) = &*sink else { return };
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .and_then(|e| e.metadata());
    let same = match (f.metadata(), stderr) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        // No stderr at all: nowhere to tee to.
        (_, Err(_)) => true,
        _ => false,
    };
    TEE.store(!same, Ordering::Relaxed);
}

/// Reopen a log file (SIGHUP, after logrotate moved it away).
pub fn reopen() {
    if let Some(l) = LOGGER.get() {
        if let Target::File(_) = l.target {
            if let Ok(s) = open_sink(l.ident, &l.target) {
                if let Ok(mut g) = l.sink.lock() {
                    *g = s;
                }
            }
        }
    }
}
