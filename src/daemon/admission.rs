//! Memory admission: may one more compile start without pushing the host
//! into swap or out of memory? The decision and the parsing of the kernel's
//! files are pure (unit tested); `read` gathers the files for the driver.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Room kept free beyond a compile's own estimate (page cache, the daemon,
/// the client's other processes on a board that is also a client).
pub const RESERVE: u64 = 64 << 20;
/// The least a compile is assumed to need until one has been measured.
pub const FLOOR: u64 = 96 << 20;
/// Above this share of time stalled on memory (PSI `some avg10`, percent),
/// a host with a compile running takes no other.
pub const PRESSURE_LIMIT: f64 = 10.0;
/// How long a request may wait for memory before it is answered busy.
pub const MAX_WAIT: Duration = Duration::from_secs(3);

/// What the host has to give, as read just before a slot is granted.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Memory {
    /// Bytes a new process can use without swapping: the least of
    /// `MemAvailable` and the cgroup's room (`memory.max - memory.current`).
    pub available: u64,
    /// PSI `some avg10` of /proc/pressure/memory, where the kernel has it.
    pub pressure: Option<f64>,
}

/// A compile's expected peak memory: the largest compile seen so far
/// (children's peak RSS, which the kernel keeps for us), at least `FLOOR`.
pub fn per_job(peak_rss: u64) -> u64 {
    peak_rss.max(FLOOR)
}

/// May a compile start, with `running` compiles already under way and each
/// expected to need `per_job` bytes at its peak? Those running have not
/// necessarily reached their peak, so half their estimate each is counted
/// as taken. Pressure only stops a second compile: with nothing running
/// the stall is someone else's, and `available` already says what is left.
pub fn admit(m: Memory, running: usize, per_job: u64) -> bool {
    let pending = per_job / 2 * running as u64;
    let need = per_job + RESERVE + pending;
    if m.available < need {
        return false;
    }
    !(running > 0 && m.pressure.is_some_and(|p| p > PRESSURE_LIMIT))
}

/// `MemAvailable` from /proc/meminfo, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut f = line.split_whitespace().skip(1);
    let n: u64 = f.next()?.parse().ok()?;
    match f.next() {
        Some("kB") => Some(n * 1024),
        None => Some(n),
        _ => None,
    }
}

/// `some avg10` from /proc/pressure/memory (percent of time stalled).
pub fn parse_pressure(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    let v = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("avg10="))?;
    // The kernel writes two decimals. Read as integers: str::parse::<f64>
    // would link core's float parser and its tables (~13 KB on armv7).
    let (whole, frac) = v.split_once('.').unwrap_or((v, "0"));
    let digits = |t: &str| !t.is_empty() && t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    let w: u32 = whole.parse().ok()?;
    let f: u32 = frac.parse().ok()?;
    Some(w as f64 + f as f64 / 10f64.powi(frac.len() as i32))
}

/// This process's memory cgroup, from /proc/self/cgroup: its directory
/// and the files with its limit and usage. cgroup v1's `N:memory:/path`
/// (as on the test bed's machine) before v2's `0::/path`.
pub fn parse_cgroup(text: &str) -> Option<Cgroup> {
    if let Some(rel) = crate::cgroup::v1_path(text, "memory") {
        return Some(Cgroup {
            dir: Path::new("/sys/fs/cgroup/memory").join(rel.trim_start_matches('/')),
            max: "memory.limit_in_bytes",
            current: "memory.usage_in_bytes",
        });
    }
    let rel = crate::cgroup::v2_path(text)?;
    Some(Cgroup {
        dir: Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/')),
        max: "memory.max",
        current: "memory.current",
    })
}

#[derive(Debug, PartialEq)]
pub struct Cgroup {
    pub dir: PathBuf,
    pub max: &'static str,
    pub current: &'static str,
}

/// Room left under a cgroup's limit: `memory.max` ("max": none) less
/// `memory.current`.
pub fn cgroup_room(max: &str, current: &str) -> Option<u64> {
    let max: u64 = max.trim().parse().ok()?;
    let cur: u64 = current.trim().parse().ok()?;
    Some(max.saturating_sub(cur))
}

/// Reads the kernel's files for `Memory`. `override_available` (from
/// `TINYDCCD_MEM_AVAILABLE`, for tests) replaces every reading.
pub struct Reader {
    override_available: Option<u64>,
    cgroup: Option<Cgroup>,
}

impl Reader {
    pub fn new(override_available: Option<u64>) -> Reader {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|t| parse_cgroup(&t))
            .filter(|c| c.dir.join(c.max).exists());
        Reader {
            override_available,
            cgroup,
        }
    }

    /// For the start-up log: where the free memory is read from.
    pub fn describe(&self) -> String {
        if let Some(a) = self.override_available {
            return format!("TINYDCCD_MEM_AVAILABLE ({} MiB)", a >> 20);
        }
        let now = self.read().map_or("unreadable".to_string(), |m| {
            format!("{} MiB free", m.available >> 20)
        });
        match &self.cgroup {
            Some(c) => format!("MemAvailable and {} ({now})", c.dir.display()),
            None => format!("MemAvailable ({now})"),
        }
    }

    /// `None`: nothing could be read (no /proc): admit as before.
    pub fn read(&self) -> Option<Memory> {
        if let Some(a) = self.override_available {
            return Some(Memory {
                available: a,
                pressure: None,
            });
        }
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let mut available = parse_meminfo(&meminfo)?;
        if let Some(c) = &self.cgroup {
            let room = std::fs::read_to_string(c.dir.join(c.max))
                .ok()
                .zip(std::fs::read_to_string(c.dir.join(c.current)).ok())
                .and_then(|(m, c)| cgroup_room(&m, &c));
            if let Some(r) = room {
                available = available.min(r);
            }
        }
        let pressure = std::fs::read_to_string("/proc/pressure/memory")
            .ok()
            .and_then(|t| parse_pressure(&t));
        Some(Memory {
            available,
            pressure,
        })
    }
}

/// The largest peak RSS of any compile reaped so far, in bytes.
pub fn children_peak_rss() -> u64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss().max(0) as u64 * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn mem(available: u64) -> Memory {
        Memory {
            available,
            pressure: None,
        }
    }

    #[test]
    fn a_job_starts_only_with_its_estimate_and_the_reserve_free() {
        let job = per_job(0);
        assert_eq!(job, FLOOR);
        assert!(admit(mem(job + RESERVE), 0, job));
        assert!(!admit(mem(job + RESERVE - 1), 0, job));
        // Running compiles may still grow: half their estimate each.
        assert!(!admit(mem(job + RESERVE), 1, job));
        assert!(admit(mem(job + RESERVE + job / 2), 1, job));
    }

    #[test]
    fn the_largest_compile_seen_sets_the_estimate() {
        assert_eq!(per_job(700 * MB), 700 * MB);
        assert!(!admit(mem(600 * MB), 0, per_job(700 * MB)));
        assert!(admit(mem(2048 * MB), 0, per_job(700 * MB)));
    }

    #[test]
    fn memory_pressure_stops_a_second_compile_not_the_first() {
        let m = Memory {
            available: 4096 * MB,
            pressure: Some(25.0),
        };
        assert!(admit(m, 0, FLOOR));
        assert!(!admit(m, 1, FLOOR));
        let calm = Memory {
            pressure: Some(1.5),
            ..m
        };
        assert!(admit(calm, 3, FLOOR));
    }

    #[test]
    fn kernel_files_parse() {
        let meminfo =
            "MemTotal:        1012345 kB\nMemFree:  1000 kB\nMemAvailable:     512000 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some(512000 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
        let psi = "some avg10=12.34 avg60=1.00 avg300=0.00 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(parse_pressure(psi), Some(12.34));
        assert_eq!(parse_pressure("garbage"), None);
        assert_eq!(parse_pressure("some avg10=3 avg60=0.00"), Some(3.0));
        assert_eq!(parse_pressure("some avg10=1.5 avg60=0.00"), Some(1.5));
        assert_eq!(parse_pressure("some avg10=-1.00 avg60=0.00"), None);
        let v2 = parse_cgroup("0::/bed/board1\n").unwrap();
        assert_eq!(v2.dir, PathBuf::from("/sys/fs/cgroup/bed/board1"));
        assert_eq!(v2.max, "memory.max");
        let v1 = parse_cgroup("5:cpu,cpuacct:/a\n7:memory:/bed/b2\n0::/\n").unwrap();
        assert_eq!(v1.dir, PathBuf::from("/sys/fs/cgroup/memory/bed/b2"));
        assert_eq!(v1.current, "memory.usage_in_bytes");
        assert_eq!(parse_cgroup("4:cpu:/x\n"), None);
        assert_eq!(
            cgroup_room("1073741824\n", "73741824\n"),
            Some(1_000_000_000)
        );
        assert_eq!(cgroup_room("max\n", "5\n"), None);
        assert_eq!(cgroup_room("10\n", "20\n"), Some(0));
    }
}
