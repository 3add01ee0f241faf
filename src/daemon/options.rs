//! distccd's command line, with distccd's names, meanings and defaults.

use std::ffi::OsString;
use std::net::IpAddr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use log::LevelFilter;

use super::access::{self, Cidr};

pub const DEFAULT_ALLOW_FILE: &str = "/etc/distcc/clients.allow";

#[derive(Debug, Clone)]
pub struct Options {
    pub allow: Vec<Cidr>,
    pub allow_private: bool,
    /// Read when no `--allow` is given (ours: `--allow-file`, for tests).
    pub allow_file: PathBuf,
    pub listen: Option<IpAddr>,
    pub port: u16,
    pub jobs: u32,
    pub nice: i32,
    pub user: Option<String>,
    pub pid_file: Option<PathBuf>,
    pub no_detach: bool,
    /// `--daemon` given: never guess inetd mode from stdin.
    pub daemon: bool,
    pub inetd: bool,
    pub no_fork: bool,
    pub log_file: Option<PathBuf>,
    pub log_level: LevelFilter,
    pub log_stderr: bool,
    pub job_lifetime: u64,
    pub lifetime: u64,
    pub stats: bool,
    pub stats_port: u16,
    pub insecure: bool,
    pub zeroconf: bool,
    /// Ours: run compilers without Landlock confinement.
    pub no_sandbox: bool,
    /// Whitelist directory (ours: `--whitelist-dir`, for tests).
    pub whitelist_dir: PathBuf,
}

pub enum Parsed {
    Run(Box<Options>),
    Help,
    Version,
}

fn default_jobs() -> u32 {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    n as u32 + 2
}

pub const HELP: &str = "\
Usage: tinydcc --daemon [OPTIONS]      (also as: tinydccd, distccd)

  -a, --allow ADDR[/BITS]   allow clients from this address or network
      --allow-private       allow 127/8, 10/8, 172.16/12, 192.168/16, ::1, fe80::/10, fc00::/7
      --allow-file FILE     allow list file when no --allow (default /etc/distcc/clients.allow)
      --listen ADDR         address to listen on (default: all)
  -p, --port PORT           TCP port (default 3632)
  -j, --jobs N              concurrent compiles (default: CPUs + 2)
  -N, --nice N              niceness for compilers (default 5)
      --user USER           user to run as when started as root (default distcc, else nobody)
  -P, --pid-file FILE       write the daemon's pid here
      --daemon              run as a standalone daemon (default unless stdin is a socket)
      --no-detach           stay in the foreground (runit, systemd)
      --inetd               serve one connection on stdin/stdout
      --no-fork             accepted for compatibility (tinydcc is one process anyway)
      --log-file FILE       log to FILE instead of syslog
      --log-level LEVEL     critical, error, warning, notice, info or debug (default notice)
      --log-stderr          log to stderr
      --verbose             same as --log-level debug
      --job-lifetime SECS   kill compiles that run longer than SECS
      --stats               serve statistics on --stats-port
      --stats-port PORT     (default 3633)
      --enable-tcp-insecure, --make-me-a-botnet
                            accept any compiler name (no /usr/lib/distcc whitelist)
      --zeroconf            accepted; not supported in this build
      --no-sandbox          do not confine compilers with Landlock (tinydcc only)
  -h, --help, --version
";

fn bad(msg: impl std::fmt::Display) -> String {
    msg.to_string()
}

/// The last of repeated values, as popt does for distccd: runit scripts
/// often carry a default (`OPTS`) followed by the user's own options.
fn last<T: std::str::FromStr>(
    p: &mut pico_args::Arguments,
    keys: impl Into<pico_args::Keys> + Copy,
) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    let mut v = None;
    while let Some(x) = p.opt_value_from_str(keys).map_err(bad)? {
        v = Some(x);
    }
    Ok(v)
}

/// The last of repeated path values, taken as bytes: a path need not be
/// UTF-8 (`FromStr` would refuse it).
fn last_path(
    p: &mut pico_args::Arguments,
    keys: impl Into<pico_args::Keys> + Copy,
) -> Result<Option<PathBuf>, String> {
    let mut v = None;
    while let Some(x) = p
        .opt_value_from_os_str(keys, |s| Ok::<_, String>(PathBuf::from(s)))
        .map_err(bad)?
    {
        v = Some(x);
    }
    Ok(v)
}

/// Parse distccd's arguments (everything after `--daemon`/the program name).
/// popt accepts `--opt=value`, `--opt value` and `-j4`; pico-args would
/// not keep their order when both long forms are mixed, and last-wins needs
/// it. So every value is split off into its own argument first.
fn normalize(args: Vec<OsString>) -> Vec<OsString> {
    const SHORT_WITH_VALUE: &[&str] = &["-a", "-j", "-p", "-N", "-P"];
    let mut out = Vec::with_capacity(args.len() + 4);
    for a in args {
        // Bytes: a value (a path) need not be UTF-8; option names are ASCII.
        let s = a.as_bytes();
        let long = s
            .strip_prefix(b"--")
            .and_then(|r| r.iter().position(|&b| b == b'=').map(|eq| (r, eq)));
        if let Some((r, eq)) = long {
            out.push(OsString::from_vec([b"--", &r[..eq]].concat()));
            out.push(OsString::from_vec(r[eq + 1..].to_vec()));
        } else if let Some(k) = SHORT_WITH_VALUE
            .iter()
            .find(|k| s.len() > 2 && s.starts_with(k.as_bytes()))
        {
            out.push(k.into());
            out.push(OsString::from_vec(s[2..].to_vec()));
        } else {
            out.push(a);
        }
    }
    out
}

pub fn parse(args: Vec<OsString>) -> Result<Parsed, String> {
    let mut p = pico_args::Arguments::from_vec(normalize(args));
    if p.contains(["-h", "--help"]) {
        return Ok(Parsed::Help);
    }
    if p.contains("--version") {
        return Ok(Parsed::Version);
    }
    let mut allow = Vec::new();
    for a in p
        .values_from_str::<_, String>(["-a", "--allow"])
        .map_err(bad)?
    {
        allow.push(Cidr::parse(&a)?);
    }
    let level_name: Option<String> = last(&mut p, "--log-level")?;
    let verbose = p.contains("--verbose");
    let log_level = match level_name {
        Some(n) => access_level(&n)?,
        None if verbose => LevelFilter::Trace,
        None => LevelFilter::Info,
    };
    let jobs: u32 = last(&mut p, ["-j", "--jobs"])?.unwrap_or_else(default_jobs);
    if !(1..=200).contains(&jobs) {
        return Err(format!("--jobs must be between 1 and 200, not {jobs}"));
    }
    let mut o = Options {
        allow,
        allow_private: p.contains("--allow-private"),
        allow_file: last_path(&mut p, "--allow-file")?
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ALLOW_FILE)),
        listen: last(&mut p, "--listen")?,
        port: last(&mut p, ["-p", "--port"])?.unwrap_or(3632),
        jobs,
        nice: last(&mut p, ["-N", "--nice"])?.unwrap_or(5),
        user: last(&mut p, "--user")?,
        pid_file: last_path(&mut p, ["-P", "--pid-file"])?,
        no_detach: p.contains("--no-detach"),
        daemon: p.contains("--daemon"),
        inetd: p.contains("--inetd"),
        no_fork: p.contains("--no-fork"),
        log_file: last_path(&mut p, "--log-file")?,
        log_level,
        log_stderr: p.contains("--log-stderr"),
        job_lifetime: last(&mut p, "--job-lifetime")?.unwrap_or(0),
        lifetime: last(&mut p, "--lifetime")?.unwrap_or(0),
        stats: p.contains("--stats"),
        stats_port: last(&mut p, "--stats-port")?.unwrap_or(3633),
        insecure: p.contains("--enable-tcp-insecure") | p.contains("--make-me-a-botnet"),
        zeroconf: p.contains("--zeroconf"),
        no_sandbox: p.contains("--no-sandbox"),
        whitelist_dir: last_path(&mut p, "--whitelist-dir")?
            .unwrap_or_else(|| PathBuf::from(super::whitelist::MASQ_DIR)),
    };
    // Accepted for compatibility; they change nothing here.
    let _ = p.contains("--no-fifo");
    let rest = p.finish();
    if let Some(first) = rest.first() {
        return Err(format!("{}: unknown option", first.to_string_lossy()));
    }
    if o.allow_private {
        o.allow.extend(access::private_networks());
    }
    Ok(Parsed::Run(Box::new(o)))
}

fn access_level(name: &str) -> Result<LevelFilter, String> {
    crate::logging::parse_level(name).ok_or_else(|| format!("invalid --log-level '{name}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Options, String> {
        match parse(s.split_whitespace().map(OsString::from).collect())? {
            Parsed::Run(o) => Ok(*o),
            _ => Err("not run".into()),
        }
    }

    #[test]
    fn defaults() {
        let o = parse_str("").unwrap();
        assert_eq!(o.port, 3632);
        assert_eq!(o.stats_port, 3633);
        assert_eq!(o.nice, 5);
        assert_eq!(o.log_level, LevelFilter::Info);
        assert!(o.jobs >= 3);
        assert!(o.allow.is_empty());
    }

    #[test]
    fn void_runit_line() {
        let o = parse_str(
            "--daemon --no-detach --user nobody --log-level=warning --allow 192.168.0.0/24 --allow 192.168.0.1",
        )
        .unwrap();
        assert_eq!(o.allow.len(), 2);
        assert_eq!(o.log_level, LevelFilter::Warn);
        assert!(o.no_detach);
        assert_eq!(o.user.as_deref(), Some("nobody"));
    }

    #[test]
    fn seed_options() {
        let o = parse_str("--log-level notice --log-file /var/log/distccd.log -j 4 --port=4000")
            .unwrap();
        assert_eq!(o.log_file.unwrap(), PathBuf::from("/var/log/distccd.log"));
        assert_eq!((o.jobs, o.port), (4, 4000));
    }

    #[test]
    fn repeated_options_last_wins() {
        // Void's run script passes $OPTS then the user's $OPTIONS.
        let o = parse_str("--log-level=warning --log-level notice -j 2 --jobs 3").unwrap();
        assert_eq!(o.log_level, LevelFilter::Info);
        assert_eq!(o.jobs, 3);
        let o = parse_str("--log-level notice --log-level=warning -j4 --port=4000").unwrap();
        assert_eq!(o.log_level, LevelFilter::Warn);
        assert_eq!((o.jobs, o.port), (4, 4000));
    }

    #[test]
    fn errors() {
        assert!(parse_str("--bogus").is_err());
        assert!(parse_str("--jobs 500").is_err());
        assert!(parse_str("--jobs 0").is_err());
        assert!(parse_str("--allow 300.1.1.1").is_err());
        assert!(parse_str("--port x").is_err());
        assert!(parse_str("--log-level loud").is_err());
    }
}
