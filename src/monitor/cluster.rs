//! `tinydcc --mon --cluster [SECS]`: one line per configured host from its
//! `--stats` port: slots, running jobs, jobs done, failures, load, and
//! whether this client has the host in backoff. Fits 80 columns; a host
//! without stats gets a line below the table saying why.
//!
//! The stats port is distccd's default, 3633, whatever the compile port:
//! a daemon's `--stats-port` does not follow its `--port`. Other ports are
//! told with `--stats-port [HOST[:PORT]=]STATSPORT`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::hosts::{self, Host, Mode};

pub(crate) const USAGE: &str = "\
usage: tinydcc --mon --cluster [SECS] [--stats-port [HOST[:PORT]=]STATSPORT]...
  Polls each host's distccd --stats port (default 3633, whatever the
  compile port) every SECS seconds, or once.
  --stats-port 3700                 every host's stats port
  --stats-port node2=3700           node2's, whatever its compile port
  --stats-port node2:3720=3721      the daemon on node2's compile port 3720
";

/// Which stats port to poll for each host.
#[derive(Debug, Clone)]
pub(crate) struct StatsPorts {
    default: u16,
    /// (host, compile port if given, stats port), the last given first.
    rules: Vec<(String, Option<u16>, u16)>,
}

impl Default for StatsPorts {
    fn default() -> Self {
        StatsPorts {
            default: 3633,
            rules: Vec::new(),
        }
    }
}

impl StatsPorts {
    /// Take one `--stats-port` value.
    pub fn add(&mut self, v: &str) -> Result<(), String> {
        let bad = || format!("--stats-port: '{v}' is not [HOST[:PORT]=]STATSPORT");
        let port = |s: &str| s.parse::<u16>().ok().filter(|&p| p > 0);
        let Some((target, stats)) = v.rsplit_once('=') else {
            self.default = port(v).ok_or_else(bad)?;
            return Ok(());
        };
        let stats = port(stats).ok_or_else(bad)?;
        let (host, compile) = match target.strip_prefix('[') {
            // [v6addr] or [v6addr]:port
            Some(rest) => {
                let (h, after) = rest.split_once(']').ok_or_else(bad)?;
                match after.strip_prefix(':') {
                    Some(p) => (h, Some(port(p).ok_or_else(bad)?)),
                    None if after.is_empty() => (h, None),
                    None => return Err(bad()),
                }
            }
            None => match target.split_once(':') {
                Some((h, p)) => (h, Some(port(p).ok_or_else(bad)?)),
                None => (target, None),
            },
        };
        if host.is_empty() {
            return Err(bad());
        }
        self.rules.insert(0, (host.to_string(), compile, stats));
        Ok(())
    }

    /// The stats port for the daemon at `host`:`port`: a rule naming both
    /// first, then one naming the host, else the default.
    pub fn for_host(&self, host: &str, port: u16) -> u16 {
        let find = |exact: bool| {
            self.rules
                .iter()
                .find(|(h, p, _)| h == host && if exact { *p == Some(port) } else { p.is_none() })
                .map(|r| r.2)
        };
        find(true).or_else(|| find(false)).unwrap_or(self.default)
    }
}

/// Why a host shows no stats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoStats {
    Refused,
    Timeout,
    /// Accepted, then closed without a word: distccd does that to an
    /// address outside its `--allow`.
    Closed,
    NotStats,
    Resolve(String),
    Other(String),
}

impl fmt::Display for NoStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoStats::Refused => write!(f, "connection refused (is distccd started with --stats?)"),
            NoStats::Timeout => write!(f, "timeout (no answer within 2 s)"),
            NoStats::Closed => write!(
                f,
                "closed without an answer (is this machine in the daemon's --allow?)"
            ),
            NoStats::NotStats => write!(f, "not a stats page (is this a --stats port?)"),
            NoStats::Resolve(why) => write!(f, "cannot resolve the host name: {why}"),
            NoStats::Other(why) => write!(f, "{why}"),
        }
    }
}

impl From<io::Error> for NoStats {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => NoStats::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => NoStats::Timeout,
            _ => NoStats::Other(crate::errtext::reason(&e)),
        }
    }
}

/// The `dcc_*` fields of a stats page, in page order. About twenty, looked
/// up a few times each: a list (a map type of its own would cost more
/// code in the boards' binary than it saves).
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn get(&self, k: &str) -> Option<&String> {
        self.0.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
}

/// The `dcc_*` fields of a stats page (a repeated name: the last wins).
pub(crate) fn parse_stats(page: &str) -> Fields {
    Fields(
        page.lines()
            .filter(|l| l.starts_with("dcc_"))
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect(),
    )
}

/// Up to `limit` bytes until the peer closes. An error after some data
/// (a server that resets once it has said its piece) keeps that data; a
/// reset before any is a close without an answer.
fn read_some(s: &mut TcpStream, limit: usize) -> Result<Vec<u8>, NoStats> {
    let mut page = Vec::new();
    let mut chunk = [0u8; 4096];
    while page.len() < limit {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => page.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) if !page.is_empty() => break,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(page)
}

pub(crate) fn fetch(host: &str, port: u16) -> Result<Fields, NoStats> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| NoStats::Resolve(crate::errtext::reason(&e)))?
        .next()
        .ok_or_else(|| NoStats::Resolve("no address".into()))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET /text HTTP/1.0\r\n\r\n")?;
    let page = read_some(&mut s, 64 * 1024)?;
    let page = String::from_utf8_lossy(&page);
    if page.is_empty() {
        return Err(NoStats::Closed);
    }
    if !page.contains("<distccstats>") {
        return Err(NoStats::NotStats);
    }
    Ok(parse_stats(&page))
}

/// This client's backoff file for the host is fresh (distcc's naming).
fn in_backoff(name: &str, port: u16) -> bool {
    let period: u64 = std::env::var("DISTCC_BACKOFF_PERIOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let Some(dir) = crate::paths::distcc_dir() else {
        return false;
    };
    let f = dir
        .join("lock")
        .join(format!("backoff_tcp_{name}_{port}_0"));
    period > 0
        && std::fs::metadata(f)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() < period)
}

fn num(m: &Fields, k: &str) -> u64 {
    m.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The table for these hosts, header included, then why a host has no
/// stats, one line each.
pub(crate) fn render(hosts: &[Host], ports: &StatsPorts) -> String {
    let mut out = format!(
        "{:<30} {:>5} {:>4} {:>6} {:>5} {:>6}  {}\n",
        "HOST", "SLOTS", "RUN", "DONE", "FAIL", "LOAD", "STATE"
    );
    let mut notes = String::new();
    // Daemons with a result cache (tinydcc's --cache-dir), below the
    // table: the table keeps distccd's columns and 80 columns.
    let mut caches = String::new();
    for h in hosts {
        let (name, port) = match &h.mode {
            Mode::Tcp { host, port } => (host.as_str(), *port),
            Mode::Local => {
                out.push_str(&format!(
                    "{:<30.30} {:>5}  (compiles here)\n",
                    h.spec, h.slots
                ));
                continue;
            }
            Mode::Ssh { .. } => {
                out.push_str(&format!(
                    "{:<30.30} {:>5}  (ssh: no stats)\n",
                    h.spec, h.slots
                ));
                continue;
            }
        };
        let backoff = in_backoff(name, port);
        let stats_port = ports.for_host(name, port);
        match fetch(name, stats_port) {
            Ok(m) => {
                let fail = [
                    "dcc_compile_error",
                    "dcc_compile_timeout",
                    "dcc_other",
                    "dcc_rej_bad_req",
                ]
                .iter()
                .map(|k| num(&m, k))
                .sum::<u64>();
                if m.contains_key("dcc_cache_hits") {
                    caches.push_str(&format!(
                        "{}: result cache: {} hits, {} misses, {} held, {} evictions\n",
                        h.spec,
                        num(&m, "dcc_cache_hits"),
                        num(&m, "dcc_cache_misses"),
                        bytes(num(&m, "dcc_cache_bytes")),
                        num(&m, "dcc_cache_evictions"),
                    ));
                }
                out.push_str(&format!(
                    "{:<30.30} {:>5} {:>4} {:>6} {:>5} {:>6}  {}\n",
                    h.spec,
                    h.slots,
                    num(&m, "dcc_current_load"),
                    num(&m, "dcc_compile_ok"),
                    fail,
                    m.get("dcc_load1").map(String::as_str).unwrap_or("-"),
                    if backoff { "backoff" } else { "up" }
                ));
            }
            Err(why) => {
                out.push_str(&format!(
                    "{:<30.30} {:>5} {:>4} {:>6} {:>5} {:>6}  {}\n",
                    h.spec,
                    h.slots,
                    "-",
                    "-",
                    "-",
                    "-",
                    if backoff {
                        "backoff, no stats"
                    } else {
                        "no stats"
                    }
                ));
                notes.push_str(&format!(
                    "{}: no stats on port {stats_port}: {why}\n",
                    h.spec
                ));
            }
        }
    }
    for section in [caches, notes] {
        if !section.is_empty() {
            out.push('\n');
            out.push_str(&section);
        }
    }
    out
}

/// A byte count for people: bytes, KiB, MiB or GiB.
fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size {
            return format!(
                "{} {unit}",
                crate::decimal::fixed(n as f64 / size as f64, 1)
            );
        }
    }
    format!("{n} bytes")
}

pub fn main(args: &[String]) -> i32 {
    let usage = || {
        eprint!("{USAGE}");
        crate::exitcode::EXIT_BAD_ARGUMENTS
    };
    let mut delay = None;
    let mut ports = StatsPorts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = match a.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return 0;
            }
            "--stats-port" => match it.next() {
                Some(v) => v.as_str(),
                None => {
                    eprintln!("tinydcc --mon --cluster: --stats-port: missing value");
                    return usage();
                }
            },
            a => {
                match a.strip_prefix("--stats-port=") {
                    Some(v) => v,
                    None => match crate::decimal::parse_secs(a) {
                        Some(d) if delay.is_none() => {
                            delay = Some(d);
                            continue;
                        }
                        _ => {
                            eprintln!("tinydcc --mon --cluster: {a}: not a number of seconds or an option");
                            return usage();
                        }
                    },
                }
            }
        };
        if let Err(e) = ports.add(value) {
            eprintln!("tinydcc --mon --cluster: {e}");
            return usage();
        }
    }
    let list = match hosts::load() {
        Ok(Some(l)) => l,
        Ok(None) => {
            eprintln!("tinydcc --mon --cluster: no hosts configured");
            return crate::exitcode::EXIT_NO_HOSTS;
        }
        Err(e) => {
            eprintln!("tinydcc --mon --cluster: {e}");
            return crate::exitcode::EXIT_BAD_HOSTSPEC;
        }
    };
    let tty = nix::unistd::isatty(1).unwrap_or(false);
    loop {
        let table = render(&list.hosts, &ports);
        let mut stdout = std::io::stdout();
        // Redraw in place on a terminal; one table after another otherwise.
        let clear = if tty && delay.is_some() {
            "\x1b[H\x1b[2J"
        } else {
            ""
        };
        if writeln!(stdout, "{clear}{table}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            return 0;
        }
        match delay {
            Some(d) => std::thread::sleep(d),
            None => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_port_is_3633_whatever_the_compile_port() {
        let p = StatsPorts::default();
        assert_eq!(p.for_host("node1", 3632), 3633);
        assert_eq!(p.for_host("node1", 3720), 3633);
    }

    #[test]
    fn stats_port_rules() {
        let mut p = StatsPorts::default();
        for v in [
            "3700",
            "node2=3701",
            "node2:3720=3721",
            "[::1]:4000=4001",
            "[fe80::1]=4002",
        ] {
            p.add(v).unwrap();
        }
        assert_eq!(p.for_host("node1", 3632), 3700);
        assert_eq!(p.for_host("node2", 3632), 3701);
        assert_eq!(p.for_host("node2", 3720), 3721);
        assert_eq!(p.for_host("::1", 4000), 4001);
        assert_eq!(p.for_host("::1", 3632), 3700);
        assert_eq!(p.for_host("fe80::1", 3632), 4002);
        for bad in [
            "",
            "x",
            "node=",
            "=3633",
            "node:x=1",
            "node=70000",
            "[::1=3",
            "0",
        ] {
            let e = p.add(bad).unwrap_err();
            assert_eq!(
                e,
                format!("--stats-port: '{bad}' is not [HOST[:PORT]=]STATSPORT")
            );
        }
    }

    #[test]
    fn byte_counts_for_people() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1023), "1023 bytes");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 << 20), "5.0 MiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn why_no_stats() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            NoStats::from(refused).to_string(),
            "connection refused (is distccd started with --stats?)"
        );
        assert_eq!(
            NoStats::from(io::Error::from(io::ErrorKind::WouldBlock)),
            NoStats::Timeout
        );
    }
}
