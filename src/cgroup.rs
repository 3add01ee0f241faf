//! Where this process sits in its cgroups, from `/proc/self/cgroup`: the
//! daemon's memory admission and the client's local-slot check read the
//! limits and usage found there.

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

#[cfg(test)]
mod tests {
    use super::*;

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
