//! `tinydcc --mon --cluster [SECS]`: one line per configured host from its
//! `--stats` port (by convention the compile port + 1, so 3633 for 3632):
//! slots, running jobs, jobs done, failures, load, and whether this
//! client has the host in backoff. Fits 80 columns.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::hosts::{self, Host, Mode};

/// The `dcc_*` fields of a stats page.
pub fn parse_stats(page: &str) -> HashMap<String, String> {
    page.lines()
        .filter(|l| l.starts_with("dcc_"))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn fetch(host: &str, port: u16) -> Option<HashMap<String, String>> {
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    s.write_all(b"GET /text HTTP/1.0\r\n\r\n").ok()?;
    let mut page = String::new();
    s.take(64 * 1024).read_to_string(&mut page).ok()?;
    page.contains("<distccstats>").then(|| parse_stats(&page))
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

fn num(m: &HashMap<String, String>, k: &str) -> u64 {
    m.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The table for these hosts, header included.
pub fn render(hosts: &[Host]) -> String {
    let mut out = format!(
        "{:<30} {:>5} {:>4} {:>6} {:>5} {:>6}  {}\n",
        "HOST", "SLOTS", "RUN", "DONE", "FAIL", "LOAD", "STATE"
    );
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
        match fetch(name, port.wrapping_add(1)) {
            Some(m) => {
                let fail = [
                    "dcc_compile_error",
                    "dcc_compile_timeout",
                    "dcc_other",
                    "dcc_rej_bad_req",
                ]
                .iter()
                .map(|k| num(&m, k))
                .sum::<u64>();
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
            None => out.push_str(&format!(
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
            )),
        }
    }
    out
}

pub fn main(args: &[String]) -> i32 {
    let delay = match args.first() {
        None => None,
        Some(s) => match crate::decimal::parse_secs(s) {
            Some(d) => Some(d),
            None => {
                eprintln!("usage: tinydcc --mon --cluster [SECS]");
                return 1;
            }
        },
    };
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
        let table = render(&list.hosts);
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
