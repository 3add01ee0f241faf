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
//! leaves this machine's CPU idle: the share of it used over windows of a
//! second or so in which none of our local compiles ran (against the
//! cgroup's quota or CPU set where it has one, else all CPUs from
//! `/proc/stat`). One sample, shared by every client process, lives in the
//! lock directory; a verdict older than `VERDICT_TTL` is measured again
//! (local compiles pause for a window). `TINYDCC_LOCAL=always` turns it
//! off (distcc's order, local slots first).

use std::path::Path;
use std::time::{Duration, SystemTime};

/// The share of the CPU that preparing jobs may use beside local
/// compiles. On the emulated board the preparation of a pump build used
/// 0.69 of it outside local compiles, 0.91 without them (they take what
/// it leaves); on the x86 feeding three boards 0.14.
const FULL: f64 = 0.5;
/// A window's weight in the running average: one lull (make starting a
/// directory, every client waiting for a helper) must not open the local
/// slots to compiles that run for seconds after it.
const WEIGHT: f64 = 0.15;
/// Shortest window worth measuring; older samples are stale.
const MIN_WINDOW: Duration = Duration::from_millis(1000);
const STALE: Duration = Duration::from_secs(5);
/// How long the average holds while local compiles spoil every window;
/// then local compiles pause for one window.
const TTL: Duration = Duration::from_secs(20);

const SAMPLE: &str = "tinydcc-cpu";
/// Touched when a local compile starts and ends.
const ACTIVITY: &str = "tinydcc-cpu-local";

/// CPU used and CPU available, in one source's units, since some origin.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Use {
    /// 'c': the cgroup (CPU seconds; available = wall seconds × cores),
    /// 's': `/proc/stat` (busy and total ticks).
    source: char,
    used: f64,
    avail: f64,
}

/// The start of the current window, and the running average of the
/// share of the CPU used outside local compiles, with when it was last
/// measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    at_ms: u64,
    at: Use,
    share: f64,
    share_ms: u64,
}

impl Sample {
    fn encode(&self) -> String {
        format!(
            "{} {} {} {} {} {}\n",
            self.at_ms, self.at.source, self.at.used, self.at.avail, self.share, self.share_ms
        )
    }

    fn decode(text: &str) -> Option<Sample> {
        let mut w = text.split_ascii_whitespace();
        let at_ms = w.next()?.parse().ok()?;
        let source = w.next()?.chars().next()?;
        let used = w.next()?.parse().ok()?;
        let avail = w.next()?.parse().ok()?;
        let share: f64 = w.next()?.parse().ok()?;
        let share_ms = w.next()?.parse().ok()?;
        share.is_finite().then_some(Sample {
            at_ms,
            at: Use {
                source,
                used,
                avail,
            },
            share,
            share_ms,
        })
    }
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
    // Nothing measured yet counts as full: a first window must show room.
    let old = old.unwrap_or(Sample {
        at_ms: 0,
        at: now,
        share: 1.0,
        share_ms: 0,
    });
    let fresh = now_ms.saturating_sub(old.share_ms) <= TTL.as_millis() as u64;
    let verdict = fresh.then_some(old.share < FULL);
    let restart = |share, share_ms| Sample {
        at_ms: now_ms,
        at: now,
        share,
        share_ms,
    };
    let age = Duration::from_millis(now_ms.saturating_sub(old.at_ms));
    if local_ran || old.at.source != now.source || age > STALE || now_ms < old.at_ms {
        // A window a local compile spoilt measures nothing: start another.
        return (verdict, Some(restart(old.share, old.share_ms)));
    }
    let avail = now.avail - old.at.avail;
    if age < MIN_WINDOW || avail <= 0.0 {
        return (verdict, None);
    }
    let window = ((now.used - old.at.used) / avail).clamp(0.0, 1.0);
    let share = old.share + WEIGHT * (window - old.share);
    log::trace!("CPU used outside local compiles: {window:.2} of it, {share:.2} on average");
    (Some(share < FULL), Some(restart(share, now_ms)))
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
    let old = std::fs::read(&path)
        .ok()
        .and_then(|b| Sample::decode(std::str::from_utf8(&b).ok()?));
    let now_ms = ms(SystemTime::now());
    let running = (0..local_slots.min(50))
        .any(|i| super::queue::slot_busy(lock_dir, &crate::hosts::Mode::Local, i).unwrap_or(false));
    let touched = std::fs::metadata(lock_dir.join(ACTIVITY))
        .and_then(|m| m.modified())
        .map_or(0, ms);
    let local_ran = running || old.is_some_and(|o| touched >= o.at_ms);
    let (verdict, write) = judge(old, now_ms, now, local_ran);
    if let Some(s) = write {
        if super::load::write_whole(&path, s.encode().as_bytes()).is_err() {
            // Nowhere to keep windows: never measured, so never refused.
            return true;
        }
    }
    verdict.unwrap_or(false)
}

/// Note that a local compile starts or ends (its windows measure nothing).
pub fn local_activity(lock_dir: &Path) {
    let _ = std::fs::write(lock_dir.join(ACTIVITY), b"");
}

/// The counters now: the cgroup's when it limits this process to less
/// than the machine, else the whole machine's.
fn usage() -> Option<Use> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .map_or(0.0, |s| count_cpus(&s));
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if let Some((used, cores)) = cgroup_use(&cgroup) {
        if cores > 0.0 && (online == 0.0 || cores < online) {
            let wall = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()?
                .as_secs_f64();
            return Some(Use {
                source: 'c',
                used,
                avail: wall * cores,
            });
        }
    }
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    proc_stat_use(&stat)
}

/// `cpu user nice system idle iowait irq softirq steal ...`: busy and
/// total ticks.
fn proc_stat_use(stat: &str) -> Option<Use> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_ascii_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    let total: f64 = v.iter().sum();
    let idle = v[3] + v[4];
    Some(Use {
        source: 's',
        used: total - idle,
        avail: total,
    })
}

/// "0-3,5,7-8" → 7.
fn count_cpus(list: &str) -> f64 {
    list.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) if b >= a => f64::from(b - a + 1),
                _ => 0.0,
            },
            None => 1.0,
        })
        .sum()
}

fn read(p: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// This process's cgroup: CPU seconds it used, and the cores it may use
/// (its quota or its CPU set, the smaller; 0 when neither limits it).
fn cgroup_use(self_cgroup: &str) -> Option<(f64, f64)> {
    let root = Path::new("/sys/fs/cgroup");
    let mut v1: Vec<(&str, &str)> = Vec::new();
    let mut v2 = None;
    for line in self_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let path = path.trim_start_matches('/');
        if ctrls.is_empty() {
            v2 = Some(path);
        }
        for c in ctrls.split(',') {
            v1.push((c, path));
        }
    }
    let v1_dir = |ctrl: &str| {
        let (_, path) = v1.iter().find(|(c, _)| *c == ctrl)?;
        [ctrl, "cpu,cpuacct", "cpuacct,cpu"]
            .iter()
            .map(|m| root.join(m).join(path))
            .find(|d| d.is_dir())
    };
    if let Some(acct) = v1_dir("cpuacct") {
        let used = read(acct.join("cpuacct.usage"))?
            .trim()
            .parse::<f64>()
            .ok()?
            / 1e9;
        let quota = v1_dir("cpu").and_then(|d| {
            let q: f64 = read(d.join("cpu.cfs_quota_us"))?.trim().parse().ok()?;
            let p: f64 = read(d.join("cpu.cfs_period_us"))?.trim().parse().ok()?;
            (q > 0.0 && p > 0.0).then(|| q / p)
        });
        let set = v1_dir("cpuset")
            .and_then(|d| read(d.join("cpuset.cpus")))
            .map(|s| count_cpus(&s));
        return Some((used, limit(quota, set)));
    }
    let dir = root.join(v2?);
    let stat = read(dir.join("cpu.stat"))?;
    let usec: f64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()?;
    // The tightest cpu.max of this group and its parents.
    let mut quota: Option<f64> = None;
    let mut d = Some(dir.as_path());
    while let Some(at) = d.filter(|p| p.starts_with(root) && *p != root) {
        if let Some(m) = read(at.join("cpu.max")) {
            let mut w = m.split_ascii_whitespace();
            if let (Some(q), Some(p)) = (w.next(), w.next()) {
                if let (Ok(q), Ok(p)) = (q.parse::<f64>(), p.parse::<f64>()) {
                    if p > 0.0 {
                        quota = Some(quota.map_or(q / p, |x: f64| x.min(q / p)));
                    }
                }
            }
        }
        d = at.parent();
    }
    let set = read(dir.join("cpuset.cpus.effective")).map(|s| count_cpus(&s));
    Some((usec / 1e6, limit(quota, set)))
}

fn limit(quota: Option<f64>, set: Option<f64>) -> f64 {
    match (quota, set.filter(|n| *n > 0.0)) {
        (Some(q), Some(s)) => q.min(s),
        (Some(q), None) => q,
        (None, Some(s)) => s,
        (None, None) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(used: f64, avail: f64) -> Use {
        Use {
            source: 'c',
            used,
            avail,
        }
    }

    fn sample(at_ms: u64, at: Use, share: f64, share_ms: u64) -> Sample {
        Sample {
            at_ms,
            at,
            share,
            share_ms,
        }
    }

    #[test]
    fn first_look_is_full_and_starts_a_window() {
        let (v, w) = judge(None, 100_000, u(1.0, 10.0), false);
        assert_eq!(v, None, "nothing measured");
        assert_eq!(w, Some(sample(100_000, u(1.0, 10.0), 1.0, 0)));
    }

    #[test]
    fn idle_windows_open_the_local_slots_one_lull_does_not() {
        let mut s = sample(100_000, u(1.0, 10.0), 1.0, 0);
        let mut t = 100_000;
        let mut seen = Vec::new();
        // 10% used each second: room after a few windows.
        for _ in 0..6 {
            t += 1000;
            let now = u(s.at.used + 0.1, s.at.avail + 1.0);
            let (v, w) = judge(Some(s), t, now, false);
            seen.push(v);
            s = w.unwrap();
        }
        let room: Vec<bool> = seen.iter().map(|v| v.unwrap()).collect();
        assert_eq!(room, [false, false, false, false, true, true]);
        // A busy machine (70%) with one idle second: stays full.
        let mut s = sample(t, u(1.0, 10.0), 0.7, t);
        for (i, used) in [0.7, 0.1, 0.7].into_iter().enumerate() {
            t += 1000;
            let now = u(s.at.used + used, s.at.avail + 1.0);
            let (v, w) = judge(Some(s), t, now, false);
            assert_eq!(v, Some(false), "window {i}");
            s = w.unwrap();
        }
    }

    #[test]
    fn a_short_window_keeps_the_verdict() {
        let old = sample(100_000, u(1.0, 10.0), 0.2, 99_000);
        assert_eq!(
            judge(Some(old), 100_500, u(1.5, 10.5), false),
            (Some(true), None)
        );
    }

    #[test]
    fn a_local_compile_spoils_the_window_and_the_verdict_expires() {
        let old = sample(100_000, u(1.0, 10.0), 0.2, 100_000);
        let (v, w) = judge(Some(old), 101_000, u(2.0, 11.0), true);
        assert_eq!(v, Some(true), "100% used, but by a local compile");
        assert_eq!(w, Some(sample(101_000, u(2.0, 11.0), 0.2, 100_000)));
        let late = 100_000 + TTL.as_millis() as u64 + 1;
        assert_eq!(judge(Some(old), late, u(2.0, 11.0), true).0, None);
    }

    #[test]
    fn stale_or_foreign_samples_start_again() {
        let old = sample(100_000, u(1.0, 10.0), 0.9, 100_000);
        let (_, w) = judge(Some(old), 107_000, u(1.0, 17.0), false);
        assert_eq!(w.map(|s| s.at_ms), Some(107_000));
        let other = Use {
            source: 's',
            used: 5.0,
            avail: 50.0,
        };
        let (_, w) = judge(Some(old), 101_500, other, false);
        assert_eq!(w.map(|s| s.at.source), Some('s'));
    }

    #[test]
    fn samples_round_trip_and_junk_is_none() {
        let s = sample(123, u(1.5, 20.25), 0.5, 100);
        assert_eq!(Sample::decode(&s.encode()), Some(s));
        assert_eq!(Sample::decode("12 c x 1 0.5 1"), None);
        assert_eq!(Sample::decode("12 c 1 1 NaN 1"), None);
        assert_eq!(Sample::decode(""), None);
    }

    #[test]
    fn proc_stat_and_cpu_lists() {
        let u = proc_stat_use("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 2 3\n").unwrap();
        assert_eq!((u.used, u.avail), (15.0, 100.0));
        assert_eq!(count_cpus("0-3,5,7-8\n"), 7.0);
        assert_eq!(count_cpus(""), 0.0);
        assert_eq!(limit(Some(0.25), Some(1.0)), 0.25);
        assert_eq!(limit(None, Some(2.0)), 2.0);
        assert_eq!(limit(None, None), 0.0);
    }
}
