//! The client's environment, read once per process: every `DISTCC_*`
//! variable with distcc's meaning and default (listed in doc/client.md,
//! "Environment", and tinydcc(1)).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Duration;

use crate::exitcode::EXIT_BAD_ARGUMENTS;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `DISTCC_FALLBACK` (bool, default on): compile locally when
    /// distribution fails.
    pub fallback: bool,
    /// `DISTCC_BACKOFF_PERIOD` seconds (default 60); 0 disables backoff files.
    pub backoff_period: Duration,
    /// `DISTCC_PAUSE_TIME_MSEC` (default 1000): sleep when every slot is busy.
    pub pause: Duration,
    /// `DISTCC_IO_TIMEOUT` seconds (default 300).
    pub io_timeout: Duration,
    /// `DISTCC_SAVE_TEMPS` (bool): keep the .i, the object and the argv.
    pub save_temps: bool,
    /// `DISTCC_SSH` split on spaces (default `ssh`), as distcc does; bytes,
    /// since it is run (its path need not be UTF-8).
    pub ssh: Vec<OsString>,
    /// `DISTCC_NO_REWRITE_CROSS` (any value): send the compiler name as given.
    pub no_rewrite_cross: bool,
    /// `$DISTCC_DIR`, else `~/.distcc`.
    pub top_dir: Option<PathBuf>,
    /// The top dir came from `$DISTCC_DIR`: distcc never creates that one.
    pub top_dir_explicit: bool,
    pub tmpdir: PathBuf,
}

/// A distcc boolean: only "0" and "1" count; anything else is the default.
pub fn env_bool(name: &str, default: bool) -> bool {
    match std::env::var(name).as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => default,
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    // distcc uses atoi(): a leading number, else 0.
    match std::env::var(name) {
        Ok(v) => {
            let digits: String = v
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.parse().unwrap_or(0)
        }
        Err(_) => default,
    }
}

impl Settings {
    /// Read the environment; a bad `DISTCC_IO_TIMEOUT` is distcc's exit 101.
    pub fn from_env() -> Result<Settings, i32> {
        let io_timeout = match std::env::var("DISTCC_IO_TIMEOUT") {
            Err(_) => Duration::from_secs(300),
            Ok(v) => match v.trim().parse::<i64>() {
                Ok(n) if n > 0 => Duration::from_secs(n as u64),
                _ => {
                    log::error!(
                        "DISTCC_IO_TIMEOUT must be a positive number of seconds, not '{v}'"
                    );
                    return Err(EXIT_BAD_ARGUMENTS);
                }
            },
        };
        let ssh = std::env::var_os("DISTCC_SSH")
            .map(|v| {
                v.as_bytes()
                    .split(|&b| b == b' ')
                    .filter(|w| !w.is_empty())
                    .map(|w| OsString::from_vec(w.to_vec()))
                    .collect()
            })
            .filter(|v: &Vec<OsString>| !v.is_empty())
            .unwrap_or_else(|| vec!["ssh".into()]);
        Ok(Settings {
            fallback: env_bool("DISTCC_FALLBACK", true),
            backoff_period: Duration::from_secs(env_u64("DISTCC_BACKOFF_PERIOD", 60)),
            pause: Duration::from_millis(env_u64("DISTCC_PAUSE_TIME_MSEC", 1000)),
            io_timeout,
            save_temps: env_bool("DISTCC_SAVE_TEMPS", false),
            ssh,
            no_rewrite_cross: std::env::var_os("DISTCC_NO_REWRITE_CROSS").is_some(),
            top_dir: crate::paths::distcc_dir(),
            top_dir_explicit: std::env::var_os("DISTCC_DIR").is_some(),
            tmpdir: crate::paths::tmpdir(),
        })
    }

    /// `<top>/<sub>`, created if needed. `~/.distcc` itself is created, an
    /// explicit `$DISTCC_DIR` is not, as with distcc, so both clients agree
    /// on where locks live: when it does not exist, the job's lock and
    /// state files fail and it compiles locally.
    pub fn sub_dir(&self, sub: &str) -> std::io::Result<PathBuf> {
        let top = self
            .top_dir
            .clone()
            .ok_or_else(|| std::io::Error::other("neither DISTCC_DIR nor HOME is set"))?;
        if !self.top_dir_explicit {
            mkdir(&top)?;
        }
        let d = top.join(sub);
        mkdir(&d)?;
        Ok(d)
    }
}

fn mkdir(p: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o777).create(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!(
                "mkdir '{}' failed: {}",
                p.display(),
                crate::errtext::reason(&e)
            ),
        )),
    }
}
