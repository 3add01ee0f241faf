//! distccd's command line, with distccd's names, meanings and defaults.

use std::ffi::OsString;
use std::net::IpAddr;
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
  -h, --help, --version
";

fn bad(msg: impl std::fmt::Display) -> String {
    msg.to_string()
}

/// Parse distccd's arguments (everything after `--daemon`/the program name).
pub fn parse(args: Vec<OsString>) -> Result<Parsed, String> {
    let mut p = pico_args::Arguments::from_vec(args);
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
    let level_name: Option<String> = p.opt_value_from_str("--log-level").map_err(bad)?;
    let verbose = p.contains("--verbose");
    let log_level = match level_name {
        Some(n) => access_level(&n)?,
        None if verbose => LevelFilter::Trace,
        None => LevelFilter::Info,
    };
    let jobs: u32 = p
        .opt_value_from_str(["-j", "--jobs"])
        .map_err(bad)?
        .unwrap_or_else(default_jobs);
    if !(1..=200).contains(&jobs) {
        return Err(format!("--jobs must be between 1 and 200, not {jobs}"));
    }
    let mut o = Options {
        allow,
        allow_private: p.contains("--allow-private"),
        allow_file: p
            .opt_value_from_str("--allow-file")
            .map_err(bad)?
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ALLOW_FILE)),
        listen: p.opt_value_from_str("--listen").map_err(bad)?,
        port: p
            .opt_value_from_str(["-p", "--port"])
            .map_err(bad)?
            .unwrap_or(3632),
        jobs,
        nice: p
            .opt_value_from_str(["-N", "--nice"])
            .map_err(bad)?
            .unwrap_or(5),
        user: p.opt_value_from_str("--user").map_err(bad)?,
        pid_file: p.opt_value_from_str(["-P", "--pid-file"]).map_err(bad)?,
        no_detach: p.contains("--no-detach"),
        daemon: p.contains("--daemon"),
        inetd: p.contains("--inetd"),
        no_fork: p.contains("--no-fork"),
        log_file: p.opt_value_from_str("--log-file").map_err(bad)?,
        log_level,
        log_stderr: p.contains("--log-stderr"),
        job_lifetime: p
            .opt_value_from_str("--job-lifetime")
            .map_err(bad)?
            .unwrap_or(0),
        lifetime: p
            .opt_value_from_str("--lifetime")
            .map_err(bad)?
            .unwrap_or(0),
        stats: p.contains("--stats"),
        stats_port: p
            .opt_value_from_str("--stats-port")
            .map_err(bad)?
            .unwrap_or(3633),
        insecure: p.contains("--enable-tcp-insecure") | p.contains("--make-me-a-botnet"),
        zeroconf: p.contains("--zeroconf"),
        whitelist_dir: p
            .opt_value_from_str("--whitelist-dir")
            .map_err(bad)?
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
    fn errors() {
        assert!(parse_str("--bogus").is_err());
        assert!(parse_str("--jobs 500").is_err());
        assert!(parse_str("--jobs 0").is_err());
        assert!(parse_str("--allow 300.1.1.1").is_err());
        assert!(parse_str("--port x").is_err());
        assert!(parse_str("--log-level loud").is_err());
    }
}
