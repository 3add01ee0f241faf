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
    pub log_file: Option<PathBuf>,
    pub log_level: LevelFilter,
    pub log_stderr: bool,
    pub job_lifetime: u64,
    pub stats: bool,
    pub stats_port: u16,
    pub insecure: bool,
    pub zeroconf: bool,
    /// Ours: run compilers without Landlock confinement.
    pub no_sandbox: bool,
    /// Whitelist directory (ours: `--whitelist-dir`, for tests).
    pub whitelist_dir: PathBuf,
    /// The pump header store: `None` with `--no-header-store`, else its
    /// directory (`--header-store`, or under TMPDIR when unset) and size.
    pub header_store: Option<(Option<PathBuf>, u64)>,
    /// Ours: the result cache (`--cache-dir`, `--cache-size`), if on.
    pub cache: Option<super::cache::Settings>,
}

pub enum Parsed {
    Run(Box<Options>),
    Help,
    Version,
}

fn default_jobs() -> u32 {
    crate::cgroup::usable_cpus() + 2
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
      --lifetime SECS       accepted for compatibility; ignored
      --stats               serve statistics on --stats-port
      --stats-port PORT     (default 3633, whatever --port is; tell
                            `tinydcc --mon --cluster --stats-port` another)
      --enable-tcp-insecure, --make-me-a-botnet
                            accept any compiler name (no /usr/lib/distcc whitelist)
      --zeroconf            accepted; not supported in this build
      --no-sandbox          do not confine compilers with Landlock (tinydcc only)
      --whitelist-dir DIR   compiler whitelist directory (default /usr/lib/distcc)
      --no-fifo             accepted for compatibility; ignored
      --header-store DIR    keep the headers pump clients send here (default
                            $TMPDIR/tinydcc-headers; tinydcc clients send each once)
      --header-store-size SIZE
                            bound it (default 256M; K, M, G suffixes)
      --no-header-store     no header store: every pump job sends all its headers
      --cache-dir DIR       keep compile results in DIR and answer repeated
                            jobs from it (tinydcc only; default: off)
      --cache-size SIZE     bound of --cache-dir, e.g. 500M or 2G (default 1G)
  -h, --help, --version

Clients: with no --allow, the networks listed in the allow file, one
per line (/etc/distcc/clients.allow). With neither, every client is
refused: start with --allow 192.168.0.0/24 (your network) or create the file.

See tinydccd(8).
";

/// Every value of an option, in order. Errors name the option.
/// Not generic and not inlined: one copy for every option (each inlined
/// or monomorphized copy costs the armv7 binary hundreds of bytes).
#[inline(never)]
fn values(
    p: &mut pico_args::Arguments,
    keys: pico_args::Keys,
    name: &str,
) -> Result<Vec<String>, String> {
    let mut v = Vec::new();
    loop {
        match p.opt_value_from_str::<_, String>(keys) {
            Ok(Some(x)) => v.push(x),
            Ok(None) => return Ok(v),
            Err(pico_args::Error::OptionWithoutAValue(_)) => {
                return Err(format!("{name}: missing value"))
            }
            Err(pico_args::Error::NonUtf8Argument) => {
                return Err(format!("{name}: the value is not valid UTF-8"))
            }
            Err(e) => return Err(format!("{name}: {e}")),
        }
    }
}

/// The last of repeated values, as popt does for distccd: runit scripts
/// often carry a default (`OPTS`) followed by the user's own options.
/// Each value must parse; an error says what the value is not
/// (`--port: 'abc' is not a port number`).
fn last<T>(
    p: &mut pico_args::Arguments,
    keys: impl Into<pico_args::Keys>,
    name: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, String> {
    last_of(p, keys.into(), name, what, &parse)
}

/// `last`'s body, one copy per value type (not per option).
#[inline(never)]
fn last_of<T>(
    p: &mut pico_args::Arguments,
    keys: pico_args::Keys,
    name: &str,
    what: &str,
    parse: &dyn Fn(&str) -> Option<T>,
) -> Result<Option<T>, String> {
    let mut last = None;
    for v in values(p, keys, name)? {
        last = Some(parse(&v).ok_or_else(|| format!("{name}: '{v}' is not {what}"))?);
    }
    Ok(last)
}

fn port(s: &str) -> Option<u16> {
    s.parse().ok()
}

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The last of repeated path values, taken as bytes: a path need not be
/// UTF-8 (`FromStr` would refuse it). Errors name the option, as `last`'s do.
fn last_path(
    p: &mut pico_args::Arguments,
    keys: impl Into<pico_args::Keys>,
    name: &str,
    what: &str,
) -> Result<Option<PathBuf>, String> {
    last_path_of(p, keys.into(), name, what)
}

/// `last_path`'s body, one copy for every option.
#[inline(never)]
fn last_path_of(
    p: &mut pico_args::Arguments,
    keys: pico_args::Keys,
    name: &str,
    what: &str,
) -> Result<Option<PathBuf>, String> {
    let mut v = None;
    loop {
        match p.opt_value_from_os_str(keys, |s| Ok::<_, String>(PathBuf::from(s))) {
            Ok(Some(x)) if x.as_os_str().is_empty() => {
                return Err(format!("{name}: '' is not {what}"))
            }
            Ok(Some(x)) => v = Some(x),
            Ok(None) => return Ok(v),
            Err(pico_args::Error::OptionWithoutAValue(_)) => {
                return Err(format!("{name}: missing value"))
            }
            Err(e) => return Err(format!("{name}: {e}")),
        }
    }
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
    for a in values(&mut p, ["-a", "--allow"].into(), "--allow")? {
        allow.push(Cidr::parse(&a).map_err(|e| format!("--allow: {e}"))?);
    }
    let log_level = last(
        &mut p,
        "--log-level",
        "--log-level",
        "a log level (critical, error, warning, notice, info or debug)",
        crate::logging::parse_level,
    )?;
    let verbose = p.contains("--verbose");
    let log_level = match log_level {
        Some(l) => l,
        None if verbose => LevelFilter::Trace,
        None => LevelFilter::Info,
    };
    let jobs = last(
        &mut p,
        ["-j", "--jobs"],
        "--jobs",
        "a number from 1 to 200",
        |s| s.parse().ok().filter(|n| (1..=200).contains(n)),
    )?
    .unwrap_or_else(default_jobs);
    let seconds = |s: &str| s.parse::<u64>().ok();
    let mut o = Options {
        allow,
        allow_private: p.contains("--allow-private"),
        allow_file: last_path(&mut p, "--allow-file", "--allow-file", "a file name")?
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ALLOW_FILE)),
        listen: last(&mut p, "--listen", "--listen", "an IP address", |s| {
            s.parse::<IpAddr>().ok()
        })?,
        port: last(&mut p, ["-p", "--port"], "--port", "a port number", port)?.unwrap_or(3632),
        jobs,
        nice: last(&mut p, ["-N", "--nice"], "--nice", "a number", |s| {
            s.parse::<i32>().ok()
        })?
        .unwrap_or(5),
        user: last(&mut p, "--user", "--user", "a user name", text)?,
        pid_file: last_path(&mut p, ["-P", "--pid-file"], "--pid-file", "a file name")?,
        no_detach: p.contains("--no-detach"),
        daemon: p.contains("--daemon"),
        inetd: p.contains("--inetd"),
        log_file: last_path(&mut p, "--log-file", "--log-file", "a file name")?,
        log_level,
        log_stderr: p.contains("--log-stderr"),
        job_lifetime: last(
            &mut p,
            "--job-lifetime",
            "--job-lifetime",
            "a number of seconds",
            seconds,
        )?
        .unwrap_or(0),
        stats: p.contains("--stats"),
        stats_port: last(
            &mut p,
            "--stats-port",
            "--stats-port",
            "a port number",
            port,
        )?
        .unwrap_or(3633),
        insecure: p.contains("--enable-tcp-insecure") | p.contains("--make-me-a-botnet"),
        zeroconf: p.contains("--zeroconf"),
        no_sandbox: p.contains("--no-sandbox"),
        whitelist_dir: last_path(
            &mut p,
            "--whitelist-dir",
            "--whitelist-dir",
            "a directory name",
        )?
        .unwrap_or_else(|| PathBuf::from(super::whitelist::MASQ_DIR)),
        header_store: None,
        cache: None,
    };
    let cache_dir = last_path(&mut p, "--cache-dir", "--cache-dir", "a directory name")?;
    let cache_size = match values(&mut p, "--cache-size".into(), "--cache-size")?.pop() {
        Some(v) => Some(crate::store::parse_size(&v).map_err(|e| format!("--cache-size: {e}"))?),
        None => None,
    };
    o.cache = match (cache_dir, cache_size) {
        (Some(dir), size) => Some(super::cache::Settings {
            dir,
            limit: size.unwrap_or(super::cache::DEFAULT_SIZE),
        }),
        (None, Some(_)) => return Err("--cache-size: needs --cache-dir".into()),
        (None, None) => None,
    };
    let store_dir = last_path(
        &mut p,
        "--header-store",
        "--header-store",
        "a directory name",
    )?;
    let store_size = last(
        &mut p,
        "--header-store-size",
        "--header-store-size",
        "a size (such as 256M)",
        |s| crate::store::parse_size(s).ok(),
    )?
    .unwrap_or(super::header_store::DEFAULT_SIZE);
    if !p.contains("--no-header-store") {
        o.header_store = Some((store_dir, store_size));
    }
    // Accepted for compatibility; they change nothing here.
    let _ = p.contains("--no-fifo");
    let _ = p.contains("--no-fork");
    last(
        &mut p,
        "--lifetime",
        "--lifetime",
        "a number of seconds",
        seconds,
    )?;
    let rest = p.finish();
    if let Some(first) = rest.first() {
        return Err(format!("{}: unknown option", first.to_string_lossy()));
    }
    if o.allow_private {
        o.allow.extend(access::private_networks());
    }
    Ok(Parsed::Run(Box::new(o)))
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
    fn header_store_is_on_by_default_and_can_be_moved_bounded_or_left_off() {
        let o = parse_str("").unwrap();
        assert_eq!(o.header_store, Some((None, 256 << 20)));
        let o = parse_str("--header-store /srv/h --header-store-size=1G").unwrap();
        assert_eq!(
            o.header_store,
            Some((Some(PathBuf::from("/srv/h")), 1 << 30))
        );
        let o = parse_str("--header-store /srv/h --no-header-store").unwrap();
        assert_eq!(o.header_store, None);
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
    fn cache_options() {
        assert_eq!(parse_str("").unwrap().cache, None);
        let c = parse_str("--cache-dir /var/cache/tinydcc")
            .unwrap()
            .cache
            .unwrap();
        assert_eq!(c.dir, PathBuf::from("/var/cache/tinydcc"));
        assert_eq!(c.limit, 1 << 30);
        let c = parse_str("--cache-size=2G --cache-dir=/c --cache-size 500M")
            .unwrap()
            .cache
            .unwrap();
        assert_eq!(c.limit, 500 << 20);
    }

    #[test]
    fn errors_name_the_option_and_value() {
        for (args, msg) in [
            ("--bogus", "--bogus: unknown option"),
            ("--jobs 500", "--jobs: '500' is not a number from 1 to 200"),
            ("--jobs 0", "--jobs: '0' is not a number from 1 to 200"),
            ("-j4 -jx", "--jobs: 'x' is not a number from 1 to 200"),
            ("--allow 300.1.1.1", "--allow: '300.1.1.1' is not an IP address or network"),
            ("--port x", "--port: 'x' is not a port number"),
            ("--port=65536", "--port: '65536' is not a port number"),
            ("-p", "--port: missing value"),
            ("--nice 1.5", "--nice: '1.5' is not a number"),
            ("--listen localhost", "--listen: 'localhost' is not an IP address"),
            ("--lifetime soon", "--lifetime: 'soon' is not a number of seconds"),
            ("--cache-size 1G", "--cache-size: needs --cache-dir"),
            (
                "--cache-dir /c --cache-size 1X",
                "--cache-size: invalid size '1X': expected a number of bytes, optionally with K, M, G or T",
            ),
            (
                "--header-store-size lots",
                "--header-store-size: 'lots' is not a size (such as 256M)",
            ),
            ("--header-store", "--header-store: missing value"),
            (
                "--log-level loud",
                "--log-level: 'loud' is not a log level (critical, error, warning, notice, info or debug)",
            ),
        ] {
            assert_eq!(parse_str(args).err().as_deref(), Some(msg), "{args}");
        }
    }
}
