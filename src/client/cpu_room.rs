//! Whether this machine has CPU to spare for a local compile (the
//! `localhost` slots of the host list).
//!
//! A client's CPU also prepares every job for the helpers (the include
//! scan in pump mode, cpp in plain mode). On a slow client, a board whose
//! helpers compile faster than it can feed them, a local compile takes its
//! CPU from that preparation and the helpers wait: on the emulated board
//! cluster a kernel build took 105 s with `localhost/2` first in the list
//! and 73 s without (doc/benchmarks.md). So while helpers are listed, a
//! `localhost` slot is taken only when the work other than local compiles
//! leaves over a third of this machine's CPU idle (`FULL`): the share of it used
//! over windows of a second or so in which none of our local compiles ran
//! (against the cgroup's quota or CPU set where it has one, else all CPUs
//! from `/proc/stat`), as a running average. One sample, shared by every
//! client process, lives in the lock directory; an average older than
//! `TTL` is measured again (local compiles pause for a window).
//! `TINYDCC_LOCAL=always` turns it off (distcc's order, local slots
//! first).

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::speed::unix_ms;
use crate::cgroup::{count_cpus, num, read};

/// The share of the CPU (per mille) that preparing jobs may use beside
/// local compiles. Windows on the emulated cluster: the board client of
/// a pump build 0.85-1.0 once under way; the x86 feeding three boards
/// 0.08-0.13 (pump) and 0.25-0.54 (plain: cpp for every board job). At
/// a line of a half the plain x86 stayed under it only on average and
/// kept its slots shut most of a sed build, its core half idle: 7.7-12.3
/// s against 6.0-7.1 s alone. Integers throughout: float parsing and
/// printing would cost the armv7 binary 30 KB.
const FULL: u64 = 650;
/// Windows under the average count 15%: one lull (make starting a
/// directory, every client waiting for a helper) must not open the local
/// slots to compiles that run for seconds after it. Windows over it
/// count half: a busy machine is believed at once.
const DOWN_PCT: u64 = 15;
const UP_PCT: u64 = 50;
/// Room is not given before this many windows, which count by their
/// worst: the board client's second or third window of a kernel build
/// is a lull (0.03-0.18: every job out, waiting for the first replies)
/// below the plain x86's whole build, while its first is busy (0.84-0.98).
const FIRST_WINDOWS: u64 = 2;
/// Shortest window worth measuring; older samples are stale.
const MIN_WINDOW: Duration = Duration::from_millis(1000);
const STALE: Duration = Duration::from_secs(5);
/// How long the average holds while local compiles spoil every window;
/// then local compiles pause for one window. An average far under the
/// line (`ROOMY`) holds longer: each pause costs a fast client a second
/// of its own compiles.
const TTL: Duration = Duration::from_secs(20);
const ROOMY: u64 = 250;
const ROOMY_TTL: Duration = Duration::from_secs(60);

const SAMPLE: &str = "tinydcc-cpu";
/// Touched when a local compile starts and ends.
const ACTIVITY: &str = "tinydcc-cpu-local";
/// Held while a local compile runs (`tinydcc-compile_localhost_<slot>`):
/// the `cpu_localhost_<i>` slots are also held by plain mode's cpp
/// (distcc's rule), which is preparation, not a local compile.
const COMPILING: &str = "tinydcc-compile";

/// CPU used and CPU available, in one source's units, since some origin.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Use {
    /// 'c': the cgroup (CPU µs; available = wall µs × cores),
    /// 's': `/proc/stat` (busy and total ticks).
    source: char,
    used: u64,
    avail: u64,
}

/// The start of the current window, and the running average of the
/// share of the CPU used outside local compiles, with when it was last
/// measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    at_ms: u64,
    at: Use,
    /// Per mille.
    share: u64,
    share_ms: u64,
    /// Windows measured since the first look (saturating).
    windows: u64,
}

impl Sample {
    /// Six little-endian u64s and the source: binary, because number
    /// formatting and parsing cost the armv7 binary more than this file
    /// is worth reading by eye.
    fn encode(&self) -> Vec<u8> {
        let mut v = vec![self.at.source as u8];
        for x in [
            self.at_ms,
            self.at.used,
            self.at.avail,
            self.share,
            self.share_ms,
            self.windows,
        ] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    fn decode(b: &[u8]) -> Option<Sample> {
        let (&source, rest) = b.split_first()?;
        let mut x = [0u64; 6];
        if rest.len() != 48 {
            return None;
        }
        for (x, c) in x.iter_mut().zip(rest.chunks_exact(8)) {
            *x = u64::from_le_bytes(c.try_into().ok()?);
        }
        let [at_ms, used, avail, share, share_ms, windows] = x;
        (share <= 1000).then_some(Sample {
            at_ms,
            at: Use {
                source: source as char,
                used,
                avail,
            },
            share,
            share_ms,
            windows,
        })
    }
}

/// Is there room (`Some(true)`), none, or nothing recent measured
/// (`None`)? And the sample to write, if any. From the stored sample, the
/// counters now, and whether a local compile ran since the window began
/// (or runs now). Pure: `room` does the I/O.
fn judge(
    old: Option<Sample>,
    now_ms: u64,
    now: Use,
    local_ran: bool,
) -> (Option<bool>, Option<Sample>) {
    // Nothing measured yet counts as full (its windows are 0: the first
    // measured ones decide).
    let old = old.unwrap_or(Sample {
        at_ms: 0,
        at: now,
        share: 1000,
        share_ms: 0,
        windows: 0,
    });
    let ttl = if old.share < ROOMY { ROOMY_TTL } else { TTL };
    let fresh = now_ms.saturating_sub(old.share_ms) <= ttl.as_millis() as u64;
    let verdict = fresh.then_some(old.windows >= FIRST_WINDOWS && old.share < FULL);
    let restart = |share, share_ms, windows| Sample {
        at_ms: now_ms,
        at: now,
        share,
        share_ms,
        windows,
    };
    let age = Duration::from_millis(now_ms.saturating_sub(old.at_ms));
    if local_ran || old.at.source != now.source || age > STALE || now_ms < old.at_ms {
        // A window a local compile spoilt measures nothing: start another.
        return (verdict, Some(restart(old.share, old.share_ms, old.windows)));
    }
    let avail = now.avail.saturating_sub(old.at.avail);
    if age < MIN_WINDOW || avail == 0 {
        return (verdict, None);
    }
    let used = now.used.saturating_sub(old.at.used).min(avail);
    let window = used.saturating_mul(1000) / avail;
    let share = match old.windows {
        0 => window,
        n if n < FIRST_WINDOWS => old.share.max(window),
        _ => {
            let weight = if window > old.share { UP_PCT } else { DOWN_PCT };
            (old.share * (100 - weight) + window * weight) / 100
        }
    };
    let windows = old.windows.saturating_add(1);
    let room = windows >= FIRST_WINDOWS && share < FULL;
    (Some(room), Some(restart(share, now_ms, windows)))
}

/// May a job take a `localhost` slot now? `local_slots`: how many the
/// list has (to see whether one is held). Any failure to measure or to
/// keep the sample means yes: distcc's behaviour.
pub fn room(lock_dir: &Path, local_slots: u32) -> bool {
    if std::env::var_os("TINYDCC_LOCAL").is_some_and(|v| v == "always") {
        return true;
    }
    let Some(now) = usage() else {
        return true;
    };
    let path = lock_dir.join(SAMPLE);
    let old = std::fs::read(&path).ok().and_then(|b| Sample::decode(&b));
    let now_ms = unix_ms(SystemTime::now());
    let running = (0..local_slots.min(50)).any(|i| {
        super::queue::kind_busy(lock_dir, COMPILING, &crate::hosts::Mode::Local, i).unwrap_or(false)
    });
    let touched = std::fs::metadata(lock_dir.join(ACTIVITY))
        .and_then(|m| m.modified())
        .map_or(0, unix_ms);
    let local_ran = running || old.is_some_and(|o| touched >= o.at_ms);
    let (verdict, write) = judge(old, now_ms, now, local_ran);
    if let Some(s) = write {
        if super::load::write_whole(&path, &s.encode()).is_err() {
            // Nowhere to keep windows: never measured, so never refused.
            return true;
        }
    }
    verdict.unwrap_or(false)
}

/// Note that a local compile starts or ends (its windows measure nothing).
fn local_activity(lock_dir: &Path) {
    let _ = std::fs::write(lock_dir.join(ACTIVITY), b"");
}

/// A local compile in local slot `slot` starts: noted, and held as
/// running until the guard drops (then noted again).
pub fn compiling(lock_dir: &Path, slot: u32) -> Compiling {
    local_activity(lock_dir);
    Compiling {
        _lock: super::lock::take_kind(lock_dir, COMPILING, &crate::hosts::Mode::Local, slot),
        lock_dir: lock_dir.to_path_buf(),
    }
}

pub struct Compiling {
    _lock: Option<super::lock::SlotLock>,
    lock_dir: std::path::PathBuf,
}

impl Drop for Compiling {
    fn drop(&mut self) {
        local_activity(&self.lock_dir);
    }
}

/// The counters now: the cgroup's when it limits this process to less
/// than the machine, else the whole machine's.
fn usage() -> Option<Use> {
    let online = read("/sys/devices/system/cpu/online").map_or(0, |s| count_cpus(&s));
    let cgroup = read("/proc/self/cgroup").unwrap_or_default();
    if let Some((used, milli)) = cgroup_use(&cgroup) {
        if milli > 0 && (online == 0 || milli < online * 1000) {
            let wall = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()?
                .as_micros() as u64;
            return Some(Use {
                source: 'c',
                used,
                avail: wall / 1000 * milli,
            });
        }
    }
    proc_stat_use(&read("/proc/stat")?)
}

/// `cpu user nice system idle iowait irq softirq steal ...`: busy and
/// total ticks.
fn proc_stat_use(stat: &str) -> Option<Use> {
    let mut w = stat.lines().next()?.split_ascii_whitespace();
    (w.next()? == "cpu").then_some(())?;
    let (mut used, mut avail) = (0, 0);
    for (i, x) in w.take(8).enumerate() {
        let x: u64 = x.parse().ok()?;
        avail += x;
        if i != 3 && i != 4 {
            used += x;
        }
    }
    Some(Use {
        source: 's',
        used,
        avail,
    })
}

/// This process's cgroup: CPU µs it used, and the thousandths of a core
/// it may use (its quota or its CPU set, the smaller; 0 when neither
/// limits it). v1: the `cpuacct`, `cpu` and `cpuset` hierarchies under
/// /sys/fs/cgroup; v2: the unified one.
fn cgroup_use(self_cgroup: &str) -> Option<(u64, u64)> {
    use crate::cgroup::{v1_path, v2_path};
    let set = v1_path(self_cgroup, "cpuset");
    // Quota and period, in µs: `cpu.max` "25000 100000" ("max ...": none).
    let quota = |q: Option<u64>, p: Option<u64>| q?.saturating_mul(1000).checked_div(p?);
    let cpus = |f: String| read(format!("/sys/fs/cgroup/{f}")).map(|s| count_cpus(&s));
    let (used, q, n) = match v1_path(self_cgroup, "cpuacct") {
        Some(p) => (
            num(&format!("cpuacct{p}"), "cpuacct.usage", "")? / 1000,
            quota(
                num(&format!("cpu{p}"), "cpu.cfs_quota_us", ""),
                num(&format!("cpu{p}"), "cpu.cfs_period_us", ""),
            ),
            cpus(format!("cpuset{}/cpuset.cpus", set.unwrap_or(p))),
        ),
        None => {
            let p = v2_path(self_cgroup)?;
            let max = read(format!("/sys/fs/cgroup{p}/cpu.max")).unwrap_or_default();
            let mut w = max.split_ascii_whitespace().map(|x| x.parse().ok());
            (
                num(p, "cpu.stat", "usage_usec ")?,
                quota(w.next().flatten(), w.next().flatten()),
                cpus(format!("{p}/cpuset.cpus.effective")),
            )
        }
    };
    Some((used, limit(q, n)))
}

/// Thousandths of a core: the quota's, or the CPU set's, the smaller.
fn limit(quota_milli: Option<u64>, cpus: Option<u64>) -> u64 {
    match (quota_milli, cpus.filter(|n| *n > 0)) {
        (Some(q), Some(s)) => q.min(s * 1000),
        (Some(q), None) => q,
        (None, Some(s)) => s * 1000,
        (None, None) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(used: u64, avail: u64) -> Use {
        Use {
            source: 'c',
            used,
            avail,
        }
    }

    /// A sample past its first windows.
    fn sample(at_ms: u64, at: Use, share: u64, share_ms: u64) -> Sample {
        Sample {
            at_ms,
            at,
            share,
            share_ms,
            windows: FIRST_WINDOWS,
        }
    }

    #[test]
    fn first_look_is_full_and_starts_a_window() {
        let (v, w) = judge(None, 100_000, u(1000, 10_000), false);
        assert_eq!(v, None, "nothing measured");
        let first = Sample {
            windows: 0,
            ..sample(100_000, u(1000, 10_000), 1000, 0)
        };
        assert_eq!(w, Some(first));
    }

    #[test]
    fn idle_windows_open_the_local_slots_one_lull_does_not() {
        let mut s = judge(None, 100_000, u(1000, 10_000), false).1.unwrap();
        let mut t = 100_000;
        let mut seen = Vec::new();
        // 10% used each second: room after a few windows.
        for _ in 0..6 {
            t += 1000;
            let now = u(s.at.used + 100, s.at.avail + 1000);
            let (v, w) = judge(Some(s), t, now, false);
            seen.push(v);
            s = w.unwrap();
        }
        let room: Vec<bool> = seen.iter().map(|v| v.unwrap()).collect();
        assert_eq!(room, [false, true, true, true, true, true]);
        // The plain x86: cpp for the boards takes a third to a half.
        let mut s = judge(None, t, u(1000, 10_000), false).1.unwrap();
        let mut seen = Vec::new();
        for used in [420, 330, 540, 250] {
            t += 1000;
            let now = u(s.at.used + used, s.at.avail + 1000);
            let (v, w) = judge(Some(s), t, now, false);
            seen.push(v.unwrap());
            s = w.unwrap();
        }
        assert_eq!(seen, [false, true, true, true]);
        // The board: busy from the start, its second window a lull, and
        // lulls now and then: full throughout.
        let mut s = judge(None, t, u(1000, 10_000), false).1.unwrap();
        for (i, used) in [900, 40, 130, 950, 500, 450, 980].into_iter().enumerate() {
            t += 1000;
            let now = u(s.at.used + used, s.at.avail + 1000);
            let (v, w) = judge(Some(s), t, now, false);
            assert_eq!(v, Some(false), "window {i}");
            s = w.unwrap();
        }
    }

    #[test]
    fn a_short_window_keeps_the_verdict() {
        let old = sample(100_000, u(1000, 10_000), 200, 99_000);
        assert_eq!(
            judge(Some(old), 100_500, u(1500, 10_500), false),
            (Some(true), None)
        );
    }

    #[test]
    fn a_local_compile_spoils_the_window_and_the_verdict_expires() {
        let old = sample(100_000, u(1000, 10_000), 200, 100_000);
        let (v, w) = judge(Some(old), 101_000, u(2000, 11_000), true);
        assert_eq!(v, Some(true), "100% used, but by a local compile");
        assert_eq!(w, Some(sample(101_000, u(2000, 11_000), 200, 100_000)));
        let late = 100_000 + ROOMY_TTL.as_millis() as u64 + 1;
        assert_eq!(judge(Some(old), late, u(2000, 11_000), true).0, None);
        // Nearer the line it is looked at again sooner.
        let near = sample(100_000, u(1000, 10_000), 400, 100_000);
        let late = 100_000 + TTL.as_millis() as u64 + 1;
        assert_eq!(judge(Some(near), late, u(2000, 11_000), true).0, None);
        assert_eq!(judge(Some(old), late, u(2000, 11_000), true).0, Some(true));
    }

    #[test]
    fn stale_or_foreign_samples_start_again() {
        let old = sample(100_000, u(1000, 10_000), 900, 100_000);
        let (_, w) = judge(Some(old), 107_000, u(1000, 17_000), false);
        assert_eq!(w.map(|s| s.at_ms), Some(107_000));
        let other = Use {
            source: 's',
            used: 5,
            avail: 50,
        };
        let (_, w) = judge(Some(old), 101_500, other, false);
        assert_eq!(w.map(|s| s.at.source), Some('s'));
    }

    #[test]
    fn samples_round_trip_and_junk_is_none() {
        let s = sample(123, u(1500, 20_250), 500, 100);
        assert_eq!(Sample::decode(&s.encode()), Some(s));
        let mut e = s.encode();
        assert_eq!(Sample::decode(&e[..40]), None);
        e[25..33].copy_from_slice(&1001u64.to_le_bytes());
        assert_eq!(Sample::decode(&e), None, "a share over 1000");
        assert_eq!(Sample::decode(b""), None);
    }

    #[test]
    fn proc_stat_and_cpu_lists() {
        let u = proc_stat_use("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 2 3\n").unwrap();
        assert_eq!((u.used, u.avail), (15, 100));
        assert_eq!(count_cpus("0-3,5,7-8\n"), 7);
        assert_eq!(count_cpus(""), 0);
        assert_eq!(limit(Some(250), Some(1)), 250);
        assert_eq!(limit(None, Some(2)), 2000);
        assert_eq!(limit(None, None), 0);
    }
}
