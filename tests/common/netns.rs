//! Test hosts in network namespaces that the test makes and removes itself.
//!
//! A `TestNet` is a private network: a "switch" namespace holding a bridge
//! (the LAN, 198.18.0.0/24, in the benchmarking range RFC 2544 sets aside
//! for tests) that also routes to one more subnet (198.18.1.0/24) for
//! hosts outside the LAN. Each host is a namespace with `lo` up and one veth
//! `eth0` to the switch; names are files under /etc/netns/NS/, which
//! `ip netns exec` mounts over /etc (hosts, distcc/clients.allow, ...).
//! The root namespace is never touched: no interface, route or address is
//! added there, so nothing a test sends can leave these namespaces.
//!
//! Every name carries the test process's pid and a counter, so tests and
//! concurrent test runs never share a namespace. Dropping the `TestNet`
//! kills every process in its namespaces, deletes them and their
//! /etc/netns directories, also when the test panicked; namespaces left by
//! a test process that was killed outright are removed by the next run.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::require;

/// The LAN's network, the switch's address on it, and the outside subnet.
pub const LAN: &str = "198.18.0.0/24";
pub const LAN_GATEWAY: &str = "198.18.0.1";
pub const OUTSIDE_GATEWAY: &str = "198.18.1.1";

const PREFIX: &str = "tdcc";

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct TestNet {
    /// `tdcc-PID-N`: every namespace of this net starts with it.
    tag: String,
    ip: PathBuf,
    /// Short host names with their namespaces, the switch first.
    hosts: Vec<(String, String)>,
    children: Vec<Child>,
}

/// Run `ip ARGS`; a failure fails the test with ip's message.
fn ip_ok(ip: &Path, args: &[&str]) {
    let out = Command::new(ip)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", ip.display()));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pids of the processes in namespace `ns` (`ip netns pids`).
fn ns_pids(ip: &Path, ns: &str) -> Vec<i32> {
    Command::new(ip)
        .args(["netns", "pids", ns])
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// SIGKILL everything in `ns` until nothing is left (bounded).
fn kill_ns(ip: &Path, ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = ns_pids(ip, ns);
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True if process `pid` is stopped (state T) or gone.
fn is_stopped(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some(state) => matches!(state, "T" | "t" | "Z" | "X"),
        None => true,
    }
}

fn remove_ns(ip: &Path, ns: &str) {
    kill_ns(ip, ns);
    let _ = Command::new(ip)
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
    let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(ns));
}

/// Namespaces (and /etc/netns directories) `tdcc-PID-...` whose test
/// process is gone.
fn remove_stale(ip: &Path) {
    for dir in ["/run/netns", "/etc/netns"] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let mut parts = name.split('-');
            if parts.next() != Some(PREFIX) {
                continue;
            }
            let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                remove_ns(ip, &name);
            }
        }
    }
}

impl TestNet {
    /// The switch namespace with its bridge; hosts are added after.
    pub fn new() -> TestNet {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the network namespace tests need root (ip netns add)"
        );
        let ip = require("ip");
        remove_stale(&ip);
        let tag = format!(
            "{PREFIX}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut net = TestNet {
            tag,
            ip,
            hosts: Vec::new(),
            children: Vec::new(),
        };
        let sw = net.add_ns("sw");
        net.ip(&["-n", &sw, "link", "set", "lo", "up"]);
        net.ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        net.ip(&[
            "-n",
            &sw,
            "addr",
            "add",
            &format!("{LAN_GATEWAY}/24"),
            "dev",
            "br0",
        ]);
        net.ip(&["-n", &sw, "link", "set", "br0", "up"]);
        // Forwarding between the LAN and the outside subnet, in the
        // switch's own namespace only (the sysctl is per namespace).
        let out = net
            .cmd("sw", require("sysctl"))
            .args(["-qw", "net.ipv4.ip_forward=1"])
            .output()
            .expect("cannot run sysctl");
        assert!(
            out.status.success(),
            "sysctl in {sw}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        net
    }

    fn ip(&self, args: &[&str]) {
        ip_ok(&self.ip, args);
    }

    fn add_ns(&mut self, short: &str) -> String {
        assert!(
            short.len() <= 8,
            "host name {short} too long for a veth name"
        );
        assert!(self.hosts.iter().all(|(s, _)| s != short), "{short} twice");
        let ns = format!("{}-{short}", self.tag);
        self.ip(&["netns", "add", &ns]);
        self.hosts.push((short.to_string(), ns.clone()));
        ns
    }

    /// The namespace of host `short`.
    pub fn ns(&self, short: &str) -> &str {
        self.hosts
            .iter()
            .find(|(s, _)| s == short)
            .map(|(_, ns)| ns.as_str())
            .unwrap_or_else(|| panic!("no host {short}"))
    }

    /// A host `short` with `addr`/24 on `eth0`, its veth's other end
    /// `p-SHORT` in the switch; `lan` plugs it into the bridge, else the
    /// switch routes to it as `gateway`/24 on that veth.
    fn add_host(&mut self, short: &str, addr: &str, gateway: &str, lan: bool) -> String {
        let ns = self.add_ns(short);
        let sw = self.ns("sw").to_string();
        let port = format!("p-{short}");
        self.ip(&[
            "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        if lan {
            self.ip(&["-n", &sw, "link", "set", &port, "master", "br0"]);
        } else {
            let gw = format!("{gateway}/24");
            self.ip(&["-n", &sw, "addr", "add", &gw, "dev", &port]);
        }
        self.ip(&["-n", &sw, "link", "set", &port, "up"]);
        self.ip(&["-n", &ns, "link", "set", "lo", "up"]);
        let a = format!("{addr}/24");
        self.ip(&["-n", &ns, "addr", "add", &a, "dev", "eth0"]);
        self.ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        self.ip(&["-n", &ns, "route", "add", "default", "via", gateway]);
        ns
    }

    /// A host on the LAN (198.18.0.0/24).
    pub fn add_lan_host(&mut self, short: &str, addr: &str) -> String {
        self.add_host(short, addr, LAN_GATEWAY, true)
    }

    /// A host on the outside subnet (198.18.1.0/24), routed to the LAN by
    /// the switch.
    pub fn add_outside_host(&mut self, short: &str, addr: &str) -> String {
        self.add_host(short, addr, OUTSIDE_GATEWAY, false)
    }

    /// Write /etc/netns/NS/`rel`: the file `rel` under /etc as host
    /// `short` sees it (a directory there hides the whole /etc one).
    pub fn etc(&self, short: &str, rel: &str, text: &str) {
        let p = Path::new("/etc/netns").join(self.ns(short)).join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }

    /// `program` run on host `short` (`ip netns exec NS program`).
    pub fn cmd(&self, short: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(&self.ip);
        c.args(["netns", "exec", self.ns(short)]).arg(program);
        c
    }

    /// Start `c` (from `cmd`) and keep it to be killed and reaped on drop;
    /// returns its pid (`ip netns exec` execs the program in place).
    pub fn spawn(&mut self, mut c: Command) -> u32 {
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// The process `pid`, started with `spawn`, if it exited: its status.
    pub fn exited(&mut self, pid: u32) -> Option<std::process::ExitStatus> {
        let c = self.children.iter_mut().find(|c| c.id() == pid)?;
        c.try_wait().ok().flatten()
    }

    /// True once `pid` runs in host `short`'s namespace and listens on
    /// TCP `port` there (read from /proc/PID/net, which shows the
    /// process's own namespace).
    pub fn listening(&self, short: &str, pid: u32, port: u16) -> bool {
        let want = std::fs::metadata(Path::new("/run/netns").join(self.ns(short)))
            .map(|m| m.ino())
            .ok();
        let have = std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .ok()
            .map(|l| l.to_string_lossy().into_owned());
        match (want, have) {
            (Some(w), Some(h)) if h == format!("net:[{w}]") => {}
            _ => return false,
        }
        let suffix = format!(":{port:04X}");
        ["tcp", "tcp6"].iter().any(|f| {
            std::fs::read_to_string(format!("/proc/{pid}/net/{f}"))
                .unwrap_or_default()
                .lines()
                .skip(1)
                .any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    // local_address, then state 0A = LISTEN.
                    cols.len() > 3 && cols[1].ends_with(&suffix) && cols[3] == "0A"
                })
        })
    }

    /// Wait until `pid` listens on `port` in `short`; false if it exited
    /// or 10 s passed.
    pub fn wait_listening(&mut self, short: &str, pid: u32, port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.listening(short, pid, port) {
                return true;
            }
            if self.exited(pid).is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stop every process on host `short` (SIGSTOP), again until no new
    /// one appears: a stopped process forks no more, so what it was doing
    /// (files it wrote, jobs it ran) holds still until `thaw` or a kill.
    pub fn freeze(&self, short: &str) {
        let ns = self.ns(short);
        let mut stopped: Vec<i32> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = ns_pids(&self.ip, ns);
            let new: Vec<i32> = pids.into_iter().filter(|p| !stopped.contains(p)).collect();
            if new.is_empty() || Instant::now() > deadline {
                return;
            }
            for &p in &new {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGSTOP,
                );
            }
            // The signal takes effect when each one next runs: wait for
            // that, or one still inside fork() adds a process after the
            // next look.
            while Instant::now() < deadline && !new.iter().all(|&p| is_stopped(p)) {
                std::thread::sleep(Duration::from_millis(1));
            }
            stopped.extend(new);
        }
    }

    /// Let the processes `freeze` stopped run on (SIGCONT).
    pub fn thaw(&self, short: &str) {
        for p in ns_pids(&self.ip, self.ns(short)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGCONT,
            );
        }
    }

    /// Kill every process on host `short` at once, as a machine dies.
    pub fn kill_host(&mut self, short: &str) {
        kill_ns(&self.ip, self.ns(short));
        for c in &mut self.children {
            let _ = c.try_wait();
        }
    }

    /// Take host `short`'s interface down: it no longer answers at all.
    pub fn unplug(&self, short: &str) {
        self.ip(&["-n", self.ns(short), "link", "set", "eth0", "down"]);
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for (_, ns) in &self.hosts {
            kill_ns(&self.ip, ns);
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (_, ns) in self.hosts.iter().rev() {
            remove_ns(&self.ip, ns);
        }
    }
}
