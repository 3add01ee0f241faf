//! A cluster shaped like etc/distcc/hosts' example, in network namespaces:
//! a client whose /etc/distcc/hosts is `127.0.0.1/2 node1/4 node2/2
//! node3/2`, names from its /etc/hosts, and four compile servers on the
//! default port 3632, each allowing the test LAN in its clients.allow:
//! tinydcc daemons on the client's own loopback, node1 and node2, Debian's
//! distccd on node3.
//!
//! A 50-file `make -j12` puts jobs on every node without ever running more
//! than a host's slots there at once, survives node1 dying mid-build (its
//! jobs in flight go elsewhere, nothing falls back to a local compile) and
//! gives objects identical to a local build. A client outside the allowed
//! subnet is refused by both daemons and compiles locally, as distcc does.
//!
//! Needs root and iproute2's `ip` (tests/run installs it); everything is
//! removed afterwards (see common/netns.rs).

use crate::common;
use common::netns::{TestNet, LAN};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 50;
const HOSTS_LINE: &str = "127.0.0.1/2 node1/4 node2/2 node3/2";
const CLIENT_ADDR: &str = "198.18.0.10";
const OUTSIDER_ADDR: &str = "198.18.1.2";
const PORT: u16 = 3632;

/// A compile server: a daemon on a host of the test net, its log, and the
/// log of the logging compiler wrappers on its PATH (one line per job
/// start and end, to count jobs running at once).
struct Node {
    /// Host of the test net that runs it.
    host: &'static str,
    /// The name the client's hosts file uses for it.
    name: &'static str,
    kind: Kind,
    slots: usize,
    pid: u32,
    log: PathBuf,
    jobs: PathBuf,
}

impl Node {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait (up to 10 s) for a log line with all of `words`: daemons
    /// write a job's summary after replying.
    fn wait_line(&self, words: &[&str]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self
                .log_text()
                .lines()
                .any(|l| words.iter().all(|w| l.contains(w)))
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Jobs this server reported done, from its per-job summary lines.
    fn compiled(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains("COMPILE_OK"))
            .count()
    }

    /// Jobs started and not finished, per the wrapper log.
    fn in_flight(&self) -> usize {
        let t = std::fs::read_to_string(&self.jobs).unwrap_or_default();
        let starts = t.lines().filter(|l| l.starts_with("start ")).count();
        let ends = t.lines().filter(|l| l.starts_with("end ")).count();
        starts.saturating_sub(ends)
    }
}

struct Cluster {
    // Declared first: dropped (processes killed, namespaces removed)
    // before the directories the daemons write into.
    net: TestNet,
    nodes: Vec<Node>,
    _dirs: Vec<TempDir>,
}

impl Cluster {
    fn node(&self, name: &str) -> &Node {
        self.nodes.iter().find(|n| n.name == name).unwrap()
    }
}

/// The hosts file every test host sees as /etc/hosts.
fn etc_hosts() -> String {
    "127.0.0.1\tlocalhost\n::1\tlocalhost\n\
     198.18.0.10\tclient\n198.18.0.11\tnode1\n198.18.0.12\tnode2\n198.18.0.13\tnode3\n"
        .to_string()
}

/// The namespaces, names, allow lists and the four daemons.
fn cluster() -> Cluster {
    require("distccd");
    let mut net = TestNet::new();
    net.add_lan_host("client", CLIENT_ADDR);
    net.add_lan_host("node1", "198.18.0.11");
    net.add_lan_host("node2", "198.18.0.12");
    net.add_lan_host("node3", "198.18.0.13");
    net.add_outside_host("outside", OUTSIDER_ADDR);
    for h in ["client", "node1", "node2", "node3", "outside"] {
        net.etc(h, "hosts", &etc_hosts());
    }
    net.etc("client", "distcc/hosts", &format!("{HOSTS_LINE}\n"));
    let mut dirs = Vec::new();
    let specs = [
        ("client", "127.0.0.1", Kind::Tiny, 2),
        ("node1", "node1", Kind::Tiny, 4),
        ("node2", "node2", Kind::Tiny, 2),
        ("node3", "node3", Kind::Stock, 2),
    ];
    let mut nodes = Vec::new();
    for (host, name, kind, slots) in specs {
        // The client's own daemon serves it over loopback too.
        let allow = if host == "client" {
            format!("# the test LAN, and this host\n127.0.0.1\n{LAN}\n")
        } else {
            format!("# the test LAN\n{LAN}\n")
        };
        net.etc(host, "distcc/clients.allow", &allow);
        // Daemons that dropped root write their log and scratch files here.
        let dir = TempDir::new(&format!("cluster-{host}"));
        let log = dir.join("daemon.log");
        std::fs::write(&log, "").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
        let jobs = dir.join("jobs.log");
        let bin = logging_compilers(&dir, &jobs);
        let scratch = TempDir::new(&format!("cluster-{host}-tmp"));
        let program = match kind {
            Kind::Tiny => tinydcc(),
            Kind::Stock => require("distccd"),
        };
        let mut c = net.cmd(host, &program);
        // More daemon slots than client slots: any limit seen is the client's.
        c.args([
            "--daemon",
            "--no-detach",
            "--jobs",
            "8",
            "--log-level",
            "info",
        ])
        .arg("--log-file")
        .arg(&log);
        if kind == Kind::Tiny {
            // tinydcc reads /etc/distcc/clients.allow itself (here the
            // host's /etc/netns/NS/distcc/clients.allow). The wrappers log
            // outside the job directory, so no Landlock (--no-sandbox).
            c.args(wrapper_daemon_args(kind, &[]));
        } else {
            // distccd does not: Debian's and Void's service scripts turn
            // the file into --allow options, and so does this test.
            for word in allow.lines().filter(|l| !l.starts_with('#')) {
                c.args(["--allow", word]);
            }
        }
        c.env("PATH", path_with(&bin))
            .env("TMPDIR", scratch.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let pid = net.spawn(c);
        assert!(
            net.wait_listening(host, pid, PORT),
            "{kind:?} daemon on {host} did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        nodes.push(Node {
            host,
            name,
            kind,
            slots,
            pid,
            log,
            jobs,
        });
        dirs.push(dir);
        dirs.push(scratch);
    }
    Cluster {
        net,
        nodes,
        _dirs: dirs,
    }
}

/// `N` C files, each a few hundred ms of `gcc -O2`, and a Makefile.
fn project(dir: &Path) {
    let mut objs = Vec::new();
    for i in 0..FILES {
        let mut src = format!("/* f{i:02}.c: generated by tests/cluster.rs */\n");
        for k in 0..50 {
            src += &format!(
                "unsigned f{i}_{k}(const unsigned *v, int n)\n{{\n  unsigned h = {h}u;\n  \
                 for (int j = 0; j < n; j++) {{\n    switch ((v[j] + h) % 8) {{\n    \
                 case 0: h = h * 31 + v[j]; break;\n    case 1: h ^= v[j] << {s}; break;\n    \
                 case 2: h += (h >> 3) * {m}; break;\n    case 3: h = (h << 7) | (h >> 25); break;\n    \
                 case 4: h -= v[j] * {i5}; break;\n    case 5: h ^= h >> {t}; break;\n    \
                 case 6: h = h * {o}u + {i}; break;\n    default: h += v[(j + {k}) % n];\n    \
                 }}\n  }}\n  return h;\n}}\n",
                h = (i * 7919 + k * 104729) % 1_000_003,
                s = k % 13 + 1,
                m = k + 3,
                i5 = i + 5,
                t = k % 7 + 2,
                o = 2 * k + 1,
            );
        }
        std::fs::write(dir.join(format!("f{i:02}.c")), src).unwrap();
        objs.push(format!("f{i:02}.o"));
    }
    std::fs::write(
        dir.join("Makefile"),
        format!(
            "OBJS = {}\nall: $(OBJS)\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
            objs.join(" ")
        ),
    )
    .unwrap();
}

/// Client environment: a private DISTCC_DIR and HOME, the host list from
/// /etc/distcc/hosts (no DISTCC_HOSTS), none of the caller's DISTCC_*.
fn client_env(c: &mut Command, dir: &Path) {
    let ddir = dir.join(".distcc");
    std::fs::create_dir_all(&ddir).unwrap();
    c.current_dir(dir)
        .env("DISTCC_DIR", &ddir)
        .env("HOME", dir)
        .env("DISTCC_IO_TIMEOUT", "60")
        .env_remove("DISTCC_HOSTS")
        .env_remove("DISTCC_VERBOSE")
        .env_remove("DISTCC_LOG")
        .env_remove("DISTCC_FALLBACK")
        .env_remove("DISTCC_BACKOFF_PERIOD")
        .env_remove("DISTCC_SKIP_LOCAL_RETRY")
        .env_remove("DISTCC_PAUSE_TIME_MSEC")
        .env_remove("_DISTCC_SAFEGUARD")
        .env_remove("INCLUDE_SERVER_PORT");
}

fn file_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
#[ignore = "slow tier (root, network namespaces): tests/run runs it"]
fn fifty_file_build_on_four_hosts_survives_a_dead_node() {
    let make = require("make");
    let started = Instant::now();
    let mut cl = cluster();
    let build = TempDir::new("cluster-build");
    let reference = TempDir::new("cluster-ref");
    project(build.path());
    project(reference.path());

    // The local reference build.
    let out = Command::new(&make)
        .current_dir(reference.path())
        .args(["-s", "-j2", "CC=gcc"])
        .output()
        .unwrap();
    assert!(out.status.success(), "local build: {}", text(&out.stderr));

    // The distributed build, from the client host.
    let make_out = build.join("make.out");
    let make_err = build.join("make.err");
    let mut c = cl.net.cmd("client", &make);
    client_env(&mut c, build.path());
    c.args(["-s", "-j12"])
        .arg(format!("CC={} gcc", tinydcc().display()))
        .env("DISTCC_PAUSE_TIME_MSEC", "100")
        // Jobs are counted exactly below, and a straggler's losing copy is
        // killed before its wrapper logs "end": copies have their own tests.
        .env("TINYDCC_STRAGGLERS", "0")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&make_out).unwrap())
        .stderr(std::fs::File::create(&make_err).unwrap());
    let make_pid = cl.net.spawn(c);
    let deadline = Instant::now() + Duration::from_secs(240);

    // Once node1 has done a job and is busy with more, it dies: frozen
    // first so that the jobs it was running can be counted, then killed
    // and unplugged (new connections time out, as to a machine that is off).
    let node1 = &cl.nodes[cl.nodes.iter().position(|n| n.name == "node1").unwrap()];
    let killed_in_flight = loop {
        if let Some(st) = cl.net.exited(make_pid) {
            panic!(
                "the build ended ({st}) before node1 could be killed:\n{}",
                file_text(&make_err)
            );
        }
        assert!(
            Instant::now() < deadline,
            "node1 never got busy:\n{}",
            node1.log_text()
        );
        if node1.compiled() >= 1 && node1.in_flight() >= 1 {
            cl.net.freeze("node1");
            let n = node1.in_flight();
            if n >= 1 {
                break n;
            }
            cl.net.thaw("node1");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let node1_done = node1.compiled();
    let node1_pid = node1.pid;
    cl.net.kill_host("node1");
    cl.net.unplug("node1");
    assert!(
        cl.net.exited(node1_pid).is_some(),
        "node1's daemon survived"
    );
    let objects_at_kill = (0..FILES)
        .filter(|i| build.join(&format!("f{i:02}.o")).exists())
        .count();
    eprintln!(
        "node1 killed after {:.1}s with {node1_done} jobs done, {killed_in_flight} running; \
         {objects_at_kill} objects written",
        started.elapsed().as_secs_f64()
    );
    assert!(objects_at_kill < FILES, "the build was over already");

    let status = loop {
        if let Some(st) = cl.net.exited(make_pid) {
            break st;
        }
        if Instant::now() > deadline {
            panic!(
                "the build did not finish in time:\n{}",
                file_text(&make_err)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = file_text(&make_err);
    eprintln!(
        "build done after {:.1}s; client messages:\n{err}",
        started.elapsed().as_secs_f64()
    );
    assert!(status.success(), "make failed ({status}):\n{err}");

    // A correct build: every object equals the local one.
    for i in 0..FILES {
        let o = format!("f{i:02}.o");
        let got = std::fs::read(build.join(&o)).unwrap_or_else(|e| panic!("{o}: {e}"));
        assert!(
            got == std::fs::read(reference.join(&o)).unwrap(),
            "{o} differs from the local build"
        );
    }

    // Every node got jobs (their logs), none ran more than its slots.
    let mut started_jobs = 0;
    let mut at_limit = 0;
    for n in &cl.nodes {
        let (max, total) = max_concurrency(&n.jobs);
        let done = n.compiled();
        eprintln!(
            "{} ({:?} daemon on {}): {done} jobs done, {total} started, at most {max} at once \
             (slots {})",
            n.name, n.kind, n.host, n.slots
        );
        assert!(done >= 1, "{} got no job:\n{}", n.name, n.log_text());
        assert!(
            max <= n.slots,
            "{} ran {max} jobs at once, over its {} slots",
            n.name,
            n.slots
        );
        started_jobs += total;
        at_limit += (max == n.slots) as usize;
    }
    assert!(at_limit >= 1, "no host was ever filled to its slots");
    // Each file compiled remotely exactly once, plus the jobs node1 died
    // with once more elsewhere: nothing ran locally.
    assert_eq!(
        started_jobs,
        FILES + killed_in_flight,
        "jobs started on the servers"
    );
    assert!(
        !err.contains("running locally"),
        "a job fell back to a local compile:\n{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("failed to distribute") && l.contains("node1")),
        "the jobs node1 died with were not retried:\n{err}"
    );
    // Slots were taken under the hosts file's names, up to each limit.
    let locks = entries(&build.join(".distcc/lock"));
    for (name, slots) in [("127.0.0.1", 2), ("node1", 4), ("node2", 2), ("node3", 2)] {
        let top = format!("cpu_tcp_{name}_{PORT}_{}", slots - 1);
        let over = format!("cpu_tcp_{name}_{PORT}_{slots}");
        assert!(locks.contains(&top), "{top} not in {locks:?}");
        assert!(!locks.contains(&over), "{over} in {locks:?}");
    }
    eprintln!("cluster test took {:.1}s", started.elapsed().as_secs_f64());
}

/// `program ARGS` as a client on `host` in `dir` (with its own DISTCC_DIR),
/// killed after 60 s.
fn client_run(
    cl: &Cluster,
    host: &str,
    dir: &Path,
    program: &Path,
    hosts: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut c = cl.net.cmd(host, require("timeout"));
    client_env(&mut c, dir);
    c.args(["-s", "KILL", "60"])
        .arg(program)
        .args(args)
        .env("DISTCC_HOSTS", hosts)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let out = c.output().unwrap();
    assert_ne!(out.status.code(), Some(137), "{program:?} hung: {out:?}");
    out
}

#[test]
#[ignore = "slow tier (root, network namespaces): tests/run runs it"]
fn client_outside_the_allowed_subnet_is_refused() {
    let cl = cluster();
    let dir = TempDir::new("cluster-outside");
    dir.write("x.c", HELLO);
    let local = local_gcc(dir.path(), &["-c", "x.c", "-o", "local.o"]);
    assert!(local.status.success());
    let reference = std::fs::read(dir.join("local.o")).unwrap();

    for name in ["node1", "node3"] {
        let node = cl.node(name);
        // From inside the LAN the same compile runs there.
        let inside = TempDir::new("cluster-inside");
        std::fs::copy(dir.join("x.c"), inside.join("x.c")).unwrap();
        let out = client_run(
            &cl,
            "client",
            inside.path(),
            &tinydcc(),
            name,
            &[("DISTCC_FALLBACK", "0")],
            &["gcc", "-c", "x.c", "-o", "x.o"],
        );
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert_eq!(std::fs::read(inside.join("x.o")).unwrap(), reference);
        // Both daemons name an IPv4 client `a.b.c.d:port` in the summary.
        assert!(
            node.wait_line(&["COMPILE_OK", &format!("client: {CLIENT_ADDR}:")]),
            "{name} did not compile for {CLIENT_ADDR}:\n{}",
            node.log_text()
        );

        // From outside: refused, compiled locally, with distcc's exit code.
        let mut codes = Vec::new();
        for (client, program) in [(Kind::Tiny, tinydcc()), (Kind::Stock, require("distcc"))] {
            for fallback in ["1", "0"] {
                let run_dir = TempDir::new("cluster-outsider");
                std::fs::copy(dir.join("x.c"), run_dir.join("x.c")).unwrap();
                let out = client_run(
                    &cl,
                    "outside",
                    run_dir.path(),
                    &program,
                    name,
                    &[("DISTCC_FALLBACK", fallback)],
                    &["gcc", "-c", "x.c", "-o", "x.o"],
                );
                let err = text(&out.stderr);
                eprintln!("{client:?} client to {name}, fallback {fallback}: {out:?}");
                if fallback == "1" {
                    assert!(out.status.success(), "{client:?} to {name}: {err}");
                    assert_eq!(std::fs::read(run_dir.join("x.o")).unwrap(), reference);
                } else {
                    assert!(!out.status.success(), "{client:?} to {name}: {err}");
                    assert!(!run_dir.join("x.o").exists());
                }
                // A tinydcc daemon says who refused whom, in a line both
                // clients show; distccd just closes the connection.
                let why =
                    format!("refused this client ({OUTSIDER_ADDR} is not in its --allow list)");
                match (client, node.kind) {
                    (Kind::Tiny, Kind::Tiny) => {
                        assert!(err.contains(&format!("{name} {why}")), "{err}")
                    }
                    (Kind::Stock, Kind::Tiny) => assert!(
                        err.lines().any(|l| l.contains("error context: \"distccd: ")
                            && l.ends_with(&format!(" {why}\""))),
                        "{err}"
                    ),
                    (Kind::Tiny, Kind::Stock) => assert!(
                        err.contains(&format!("failed to distribute x.c to {name}")),
                        "{err}"
                    ),
                    (Kind::Stock, Kind::Stock) => {}
                }
                codes.push((client, fallback, out.status.code()));
            }
        }
        let tiny: Vec<_> = codes
            .iter()
            .filter(|c| c.0 == Kind::Tiny)
            .map(|c| c.2)
            .collect();
        let stock: Vec<_> = codes
            .iter()
            .filter(|c| c.0 == Kind::Stock)
            .map(|c| c.2)
            .collect();
        assert_eq!(tiny, stock, "exit codes differ from distcc's: {codes:?}");

        // The daemon logged the refusals and compiled nothing for it.
        let log = node.log_text();
        let about = log
            .lines()
            .filter(|l| l.contains(OUTSIDER_ADDR))
            .collect::<Vec<_>>();
        eprintln!("{name} about {OUTSIDER_ADDR}:\n{}", about.join("\n"));
        let refusals = about
            .iter()
            .filter(|l| {
                l.contains(&format!("{OUTSIDER_ADDR}:")) && l.contains("denied by access list")
            })
            .count();
        assert_eq!(refusals, 4, "{name}: one refusal per connection:\n{log}");
        assert!(
            about.iter().all(|l| !l.contains("COMPILE_")),
            "{name} ran a job for the outsider:\n{log}"
        );
    }
}
