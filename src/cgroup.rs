//! Where this process sits in its cgroups, from `/proc/self/cgroup`: the
//! daemon's memory admission and the client's local-slot check read the
//! limits and usage found there; and the CPUs it may use (the daemon's
//! default `--jobs`).

use std::path::Path;

/// The path of controller `ctrl` in its cgroup v1 hierarchy (a line
/// `N:cpu,cpuacct:/path`).
pub fn v1_path<'a>(self_cgroup: &'a str, ctrl: &str) -> Option<&'a str> {
    self_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':').skip(1);
        let (ctrls, path) = (f.next()?, f.next()?);
        ctrls.split(',').any(|c| c == ctrl).then_some(path)
    })
}

/// The path in the unified (v2) hierarchy (the line `0::/path`).
pub fn v2_path(self_cgroup: &str) -> Option<&str> {
    self_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// "0-3,5,7-8" → 7.
pub fn count_cpus(list: &str) -> u64 {
    list.trim()
        .split(',')
        .map(|p| {
            let (a, b) = p.split_once('-').unwrap_or((p, p));
            match (a.parse::<u64>(), b.parse::<u64>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            }
        })
        .sum()
}

pub fn read(p: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// The first number of a cgroup file, or of the line starting with `key`.
pub fn num(dir: &str, file: &str, key: &str) -> Option<u64> {
    let text = read(format!("/sys/fs/cgroup/{dir}/{file}"))?;
    let line = text.lines().find_map(|l| l.strip_prefix(key))?;
    line.split_ascii_whitespace().next()?.parse().ok()
}

/// The CPUs this process may use, as `std::thread::available_parallelism`
/// counts them (the daemon's default `--jobs`): those its affinity mask
/// allows (else those online), no more than its cgroup's CPU quota
/// rounded down, at least one. Not std's: its own cgroup reader costs the
/// armv7 binary 4.8 KB.
pub fn usable_cpus() -> u32 {
    use nix::sched::{sched_getaffinity, CpuSet};
    let n = match sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count() as u64,
        Err(_) => read("/sys/devices/system/cpu/online").map_or(1, |s| count_cpus(&s)),
    };
    let cgroup = read("/proc/self/cgroup").unwrap_or_default();
    let n = match quota_milli(&cgroup) {
        Some(q) => n.min(q / 1000),
        None => n,
    };
    n.clamp(1, u32::MAX as u64) as u32
}

/// The cgroup's CPU quota in thousandths of a core: v1 `cpu.cfs_quota_us`
/// over `cpu.cfs_period_us`, v2 `cpu.max`; `None` when unlimited.
fn quota_milli(self_cgroup: &str) -> Option<u64> {
    let (q, p) = match v1_path(self_cgroup, "cpu") {
        Some(p) => (
            num(&format!("cpu{p}"), "cpu.cfs_quota_us", ""),
            num(&format!("cpu{p}"), "cpu.cfs_period_us", ""),
        ),
        None => {
            let max = read(format!("/sys/fs/cgroup{}/cpu.max", v2_path(self_cgroup)?))?;
            let mut w = max.split_ascii_whitespace().map(|x| x.parse::<u64>().ok());
            (w.next().flatten(), w.next().flatten())
        }
    };
    q?.saturating_mul(1000).checked_div(p?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_cpus_are_what_std_counts() {
        let std = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(usable_cpus() as usize, std);
    }

    #[test]
    fn controllers_and_the_unified_line() {
        let t = "4:memory:/m\n3:cpu,cpuacct:/bed/board\n0::/u\n";
        assert_eq!(v1_path(t, "cpuacct"), Some("/bed/board"));
        assert_eq!(v1_path(t, "cpu"), Some("/bed/board"));
        assert_eq!(v1_path(t, "memory"), Some("/m"));
        assert_eq!(v1_path(t, "cpuset"), None);
        assert_eq!(v2_path(t), Some("/u"));
        assert_eq!(v2_path("1:name=systemd:/\n"), None);
    }
}
