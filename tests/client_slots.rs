//! Slots: `make -j8` of a 30-file project with hosts `A/2 B/1` never runs
//! more than 2 jobs on A or 1 on B at once, counted on the servers by a
//! logging compiler wrapper. One build mixes tinydcc and stock distcc
//! clients, which must share the same lock files.

use crate::common;
use common::*;
use std::process::Command;
use std::time::Duration;

const FILES: usize = 30;

fn project(dir: &TempDir, mixed: bool) {
    let mut objs = Vec::new();
    for i in 0..FILES {
        // Half "a" files, half "b" files: built by different clients when mixed.
        let name = format!("{}{i:02}", if i % 2 == 0 { "a" } else { "b" });
        dir.write(
            &format!("{name}.c"),
            &format!("int f_{name}(int x)\n{{\n  return x * {i} + 1;\n}}\n"),
        );
        objs.push(format!("{name}.o"));
    }
    let cc_b = if mixed { "$(STOCK)" } else { "$(TINY)" };
    dir.write(
        "Makefile",
        &format!(
            "all: {objs}\na%.o: a%.c\n\t$(TINY) gcc -c $< -o $@\nb%.o: b%.c\n\t{cc_b} gcc -c $< -o $@\n",
            objs = objs.join(" ")
        ),
    );
}

fn build(a: Kind, b: Kind, mixed: bool) {
    let make = require("make");
    let dir = TempDir::new("slots");
    project(&dir, mixed);
    let log_a = dir.join("a-jobs.log");
    let log_b = dir.join("b-jobs.log");
    let wrap_a = TempDir::new("wrap-a");
    let wrap_b = TempDir::new("wrap-b");
    let bin_a = logging_compilers(&wrap_a, &log_a);
    let bin_b = logging_compilers(&wrap_b, &log_b);
    let da = Daemon::start_env(
        a,
        &wrapper_daemon_args(a, &["--jobs", "8"]),
        &[("PATH", &path_with(&bin_a))],
    );
    let db = Daemon::start_env(
        b,
        &wrapper_daemon_args(b, &["--jobs", "8"]),
        &[("PATH", &path_with(&bin_b))],
    );
    let hosts = format!("127.0.0.1:{}/2 127.0.0.1:{}/1", da.port, db.port);
    let c = client_cmd(Kind::Tiny, dir.path(), &hosts);
    let mut cmd = Command::new(make);
    cmd.current_dir(dir.path())
        .envs(
            c.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .env("DISTCC_PAUSE_TIME_MSEC", "10")
        .env("DISTCC_FALLBACK", "0")
        // Every job counted once: no straggler copies (tested below).
        .env("TINYDCC_STRAGGLERS", "0")
        .args(["-j8", "-s"])
        .arg(format!("TINY={}", tinydcc().display()))
        .arg(format!("STOCK={}", require("distcc").display()));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "make failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    for i in 0..FILES {
        let name = format!("{}{i:02}.o", if i % 2 == 0 { "a" } else { "b" });
        assert!(dir.join(&name).exists(), "{name} missing");
    }
    let (max_a, n_a) = max_concurrency(&log_a);
    let (max_b, n_b) = max_concurrency(&log_b);
    eprintln!("A: max {max_a} of {n_a} jobs; B: max {max_b} of {n_b} jobs");
    assert_eq!(n_a + n_b, FILES, "every job ran remotely exactly once");
    assert!(max_a <= 2, "host A/2 ran {max_a} jobs at once");
    assert!(max_b <= 1, "host B/1 ran {max_b} jobs at once");
    assert!(n_a > 0 && n_b > 0, "both hosts were used ({n_a}, {n_b})");
    // The lock files have distcc's names, in the private DISTCC_DIR.
    let locks = entries(&dir.join(".distcc-private/lock"));
    assert!(
        locks.contains(&format!("cpu_tcp_127.0.0.1_{}_1", da.port)),
        "{locks:?}"
    );
    assert!(
        !locks.contains(&format!("cpu_tcp_127.0.0.1_{}_1", db.port)),
        "B/1 has no slot 1: {locks:?}"
    );
}

#[test]
fn make_j8_respects_slots_stock_a_tiny_b() {
    build(Kind::Stock, Kind::Tiny, false);
}

#[test]
fn make_j8_respects_slots_tiny_a_stock_b() {
    build(Kind::Tiny, Kind::Stock, false);
}

/// tinydcc and stock distcc in the same make share the slots.
#[test]
fn mixed_clients_share_slots() {
    build(Kind::Tiny, Kind::Tiny, true);
}

/// `localhost/N` in the list: chosen jobs run here, with no daemon.
#[test]
fn localhost_slot_runs_locally() {
    let dir = TempDir::new("localslot");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), "localhost/1");
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_VERBOSE", "1");
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.join("x.o").exists());
    assert!(entries(&dir.join(".distcc-private/lock")).contains(&"cpu_localhost_0".to_string()));
}

/// `--localslots_cpp=1`: however many jobs make starts, only one local cpp
/// runs at a time (counted by a logging `gcc` on the client's PATH, which
/// only ever runs `-E` here since every compile is remote).
#[test]
fn localslots_cpp_limits_local_preprocessing() {
    let make = require("make");
    let dir = TempDir::new("cppslots");
    project(&dir, false);
    let d = Daemon::start(Kind::Tiny, &["--jobs", "8"]);
    let log = dir.join("cpp.log");
    let wrap = TempDir::new("cpp-wrap");
    let bin = logging_compilers(&wrap, &log);
    let hosts = format!("--localslots_cpp=1 127.0.0.1:{}/8", d.port);
    let c = client_cmd(Kind::Tiny, dir.path(), &hosts);
    let mut cmd = Command::new(make);
    cmd.current_dir(dir.path())
        .envs(
            c.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .env("PATH", path_with(&bin))
        .env("DISTCC_PAUSE_TIME_MSEC", "10")
        .env("DISTCC_FALLBACK", "0")
        .args(["-j8", "-s"])
        .arg(format!("TINY={}", tinydcc().display()));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (max, n) = max_concurrency(&log);
    assert_eq!(n, FILES, "{}", std::fs::read_to_string(&log).unwrap());
    assert_eq!(max, 1, "local cpp ran {max} at once");
    let jobs = std::fs::read_to_string(&log).unwrap();
    assert!(jobs
        .lines()
        .filter(|l| l.starts_with("start"))
        .all(|l| l.contains(" -E ")));
}

/// Server-side compilers (`gcc` and the names a client sends) that log a
/// "start" line to `log` and sleep `delay` seconds before running gcc: a
/// slow host.
fn slow_compilers(dir: &TempDir, log: &std::path::Path, delay: &str) -> std::path::PathBuf {
    let bin = dir.join("slow-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let body = format!(
        "#!/bin/sh\necho \"start $$ $*\" >> '{}'\nsleep {delay}\nexec '{}' \"$@\"\n",
        log.display(),
        require("gcc").display()
    );
    for name in [
        "gcc",
        "cc",
        "x86_64-linux-gnu-gcc",
        "x86_64-linux-gnu-gcc-12",
    ] {
        script(&bin.join(name), &body);
    }
    bin
}

fn starts(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("start "))
        .count()
}

/// Host A (first in the list) sleeps before each compile, B does not.
struct SlowFast {
    a: Daemon,
    b: Daemon,
    log_a: std::path::PathBuf,
    log_b: std::path::PathBuf,
    _wrap: (TempDir, TempDir),
}

fn slow_first(delay: &str) -> SlowFast {
    let (wa, wb) = (TempDir::new("slow-a"), TempDir::new("fast-b"));
    let (log_a, log_b) = (wa.join("jobs.log"), wb.join("jobs.log"));
    let bin_a = slow_compilers(&wa, &log_a, delay);
    let bin_b = slow_compilers(&wb, &log_b, "0");
    let start = daemon_with_compilers_in;
    SlowFast {
        a: start(&bin_a),
        b: start(&bin_b),
        log_a,
        log_b,
        _wrap: (wa, wb),
    }
}

/// Compile `n` files one after another (each its own client process, one
/// DISTCC_DIR); which host ran each, 'A' or 'B'. Every object must equal
/// a local compile's.
fn one_by_one(h: &SlowFast, dir: &TempDir, hosts: &str, choose: Option<&str>, n: usize) -> String {
    let mut got = String::new();
    for i in 0..n {
        let src = format!("s{i}.c");
        dir.write(
            &src,
            &format!("int s{i}(int x)\n{{\n  return x * {i} + 7;\n}}\n"),
        );
        let (a0, b0) = (starts(&h.log_a), starts(&h.log_b));
        let mut c = client_cmd(Kind::Tiny, dir.path(), hosts);
        c.args(["gcc", "-O2", "-c", &src, "-o", &format!("s{i}.o")])
            .env("DISTCC_FALLBACK", "0")
            .env_remove("TINYDCC_CHOOSE");
        if let Some(v) = choose {
            c.env("TINYDCC_CHOOSE", v);
        }
        let out = run(c);
        assert!(out.status.success(), "{}", text(&out.stderr));
        got.push(match (starts(&h.log_a) - a0, starts(&h.log_b) - b0) {
            (1, 0) => 'A',
            (0, 1) => 'B',
            other => panic!("job {i} ran {other:?} times on A, B"),
        });
        let local = local_gcc(dir.path(), &["-O2", "-c", &src, "-o", "ref.o"]);
        assert!(local.status.success());
        assert_eq!(
            std::fs::read(dir.join(&format!("s{i}.o"))).unwrap(),
            std::fs::read(dir.join("ref.o")).unwrap(),
            "s{i}.o differs from a local compile"
        );
    }
    got
}

/// Without TINYDCC_CHOOSE (or with `distcc`/`order`), a slow first host
/// gets every sequential job, as with distcc. With `measured`, the first
/// job still goes where distcc sends it (nothing is measured yet), then
/// the unmeasured second host is tried once and, being faster, gets the
/// rest.
#[test]
fn measured_choice_learns_which_host_is_fast() {
    let h = slow_first("0.3");
    let hosts = format!("127.0.0.1:{}/2 127.0.0.1:{}/2", h.a.port, h.b.port);
    for choose in [None, Some("distcc"), Some("order")] {
        let dir = TempDir::new("order");
        assert_eq!(one_by_one(&h, &dir, &hosts, choose, 3), "AAA", "{choose:?}");
        assert!(
            !dir.join(".distcc-private/speed").exists(),
            "distcc's order measures nothing"
        );
    }
    let dir = TempDir::new("measured");
    let got = one_by_one(&h, &dir, &hosts, Some("measured"), 8);
    assert!(got.starts_with("AB"), "{got}");
    assert!(got.matches('A').count() <= 2, "{got}");
    // The records are the lock files' names; nothing else is left there
    // (no temp file, no note of a slot no job holds), and the lock files
    // stay distcc's empty ones.
    // (`speed_localhost_0` holds this machine's cpp rate, sampled.)
    let mut speed = entries(&dir.join(".distcc-private/speed"));
    speed.retain(|e| e != "speed_localhost_0");
    // Neither daemon has a stats port: each was asked for its load once.
    let mut noload: Vec<String> = speed
        .iter()
        .filter(|e| e.starts_with("noload_"))
        .cloned()
        .collect();
    noload.sort();
    speed.retain(|e| !e.starts_with("noload_"));
    speed.sort();
    let mut want = [h.a.port, h.b.port].map(|p| format!("noload_tcp_127.0.0.1_{p}_0"));
    want.sort();
    assert_eq!(noload, want);
    let mut want = [h.a.port, h.b.port].map(|p| format!("speed_tcp_127.0.0.1_{p}_0"));
    want.sort();
    assert_eq!(speed, want);
    for f in &speed {
        let t = std::fs::read_to_string(dir.join(&format!(".distcc-private/speed/{f}"))).unwrap();
        assert!(
            t.starts_with("tinydcc-speed 1 ") && t.ends_with(" end\n"),
            "{t}"
        );
    }
    for l in entries(&dir.join(".distcc-private/lock")) {
        let len = std::fs::metadata(dir.join(&format!(".distcc-private/lock/{l}")))
            .unwrap()
            .len();
        assert_eq!(len, 0, "{l}");
    }
}

/// `make -j4` over `A/2 B/2` with A slow: once measured, the jobs wait for
/// B's slots rather than start on A, so A gets fewer than B.
#[test]
fn measured_choice_sends_a_slow_host_fewer_jobs_under_make() {
    let make = require("make");
    let h = slow_first("1");
    let dir = TempDir::new("measured-make");
    let hosts = format!("127.0.0.1:{}/2 127.0.0.1:{}/2", h.a.port, h.b.port);
    // Measure both hosts first (see the test above).
    one_by_one(&h, &dir, &hosts, Some("measured"), 2);
    let (a0, b0) = (starts(&h.log_a), starts(&h.log_b));
    project(&dir, false);
    let c = client_cmd(Kind::Tiny, dir.path(), &hosts);
    let out = Command::new(make)
        .current_dir(dir.path())
        .envs(
            c.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .env("DISTCC_PAUSE_TIME_MSEC", "10")
        .env("DISTCC_FALLBACK", "0")
        .env("TINYDCC_CHOOSE", "measured")
        .args(["-j4", "-s"])
        .arg(format!("TINY={}", tinydcc().display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (a, b) = (starts(&h.log_a) - a0, starts(&h.log_b) - b0);
    eprintln!("slow A: {a} jobs, fast B: {b} jobs");
    assert_eq!(a + b, FILES);
    assert!(a <= FILES / 6, "slow A got {a} of {FILES} jobs");
    for i in 0..FILES {
        let name = format!("{}{i:02}", if i % 2 == 0 { "a" } else { "b" });
        let local = local_gcc(dir.path(), &["-c", &format!("{name}.c"), "-o", "ref.o"]);
        assert!(local.status.success());
        assert_eq!(
            std::fs::read(dir.join(&format!("{name}.o"))).unwrap(),
            std::fs::read(dir.join("ref.o")).unwrap(),
            "{name}.o"
        );
    }
    // Waiting clients leave the queue, and busy notes go with their jobs.
    let left: Vec<String> = entries(&dir.join(".distcc-private/speed"))
        .into_iter()
        .filter(|e| e.starts_with("busy_") || e.starts_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A tinydcc daemon's stats port answers `load\n` with one line (the page
/// otherwise, for stock distccmon and browsers); a measuring client asks
/// it (the compile port + 1) and keeps the line in its DISTCC_DIR for the
/// other clients, and notes a host without a report so it is not asked
/// again.
#[test]
fn measured_choice_asks_a_daemon_for_its_load() {
    let with = Daemon::start(
        Kind::Tiny,
        &["--stats", "--jobs", "3", "--stats-port", "STATS_PORT"],
    );
    let without = Daemon::start(Kind::Tiny, &[]);
    let line = text(&raw_exchange(
        with.port + 1,
        b"load\n",
        Duration::from_secs(5),
    ));
    // The CPUs its compilers may use, as std counts them (affinity mask,
    // cgroup quota).
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(
        line.starts_with("tinydcc-load 1 running=0 queued=0 slots=3 mem=")
            && line.ends_with(&format!(" room=y cpus={cpus}\n")),
        "{line:?}"
    );
    let page = text(&raw_exchange(
        with.port + 1,
        b"GET / HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    ));
    assert!(page.contains("dcc_compile_ok"), "{page}");

    let dir = TempDir::new("load-report");
    dir.write("x.c", HELLO);
    let hosts = format!("{} {}", with.host(false), without.host(false));
    for (i, out) in ["x1.o", "x2.o"].iter().enumerate() {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
        c.args(["gcc", "-c", "x.c", "-o", out])
            .env("DISTCC_FALLBACK", "0")
            .env("TINYDCC_CHOOSE", "measured");
        let r = run(c);
        assert!(r.status.success(), "job {i}: {}", text(&r.stderr));
    }
    let speed = dir.join(".distcc-private/speed");
    let cached =
        std::fs::read_to_string(speed.join(format!("load_tcp_127.0.0.1_{}_0", with.port))).unwrap();
    assert!(cached.starts_with("tinydcc-load 1 "), "{cached}");
    assert!(speed
        .join(format!("noload_tcp_127.0.0.1_{}_0", without.port))
        .exists());
    assert!(!speed
        .join(format!("load_tcp_127.0.0.1_{}_0", without.port))
        .exists());
}

/// A straggler is copied: with both hosts measured equally fast, a job
/// starts on A (first in the list), whose compiler then sleeps 30 s; once
/// it runs well past its prediction the client sends it to B too, takes
/// B's object and drops A's connection, so A's daemon kills the compiler
/// and removes the job directory. The output is written once, whole.
/// One job measured on `from`, its speed record then given to each of
/// `to`: equal predictions, so a job goes where distcc's order sends it.
fn measure_and_share(dir: &TempDir, from: u16, to: &[u16]) {
    dir.write("m.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{from}/2"));
    c.args(["gcc", "-c", "m.c", "-o", "m.o"])
        .env("TINYDCC_CHOOSE", "measured")
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let speed = dir.join(".distcc-private/speed");
    let rec = |p: u16| speed.join(format!("speed_tcp_127.0.0.1_{p}_0"));
    for &p in to {
        std::fs::copy(rec(from), rec(p)).unwrap();
    }
}

/// `gcc -O2 -c s.c -o s.o` under measured choice over `hosts`, logged to
/// client.log: the outcome and what the client logged.
fn measured_compile(dir: &TempDir, hosts: &str) -> (std::process::Output, String) {
    let log = dir.join("client.log");
    let mut c = client_cmd(Kind::Tiny, dir.path(), hosts);
    c.args(["gcc", "-O2", "-c", "s.c", "-o", "s.o"])
        .env("TINYDCC_CHOOSE", "measured")
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_LOG", &log);
    let out = run(c);
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    (out, said)
}

/// Our daemon, four slots, finding its compilers in `bin` first.
fn daemon_with_compilers_in(bin: &std::path::Path) -> Daemon {
    Daemon::start_env(
        Kind::Tiny,
        &wrapper_daemon_args(Kind::Tiny, &["--jobs", "4"]),
        &[("PATH", &path_with(bin))],
    )
}

/// `s.o` in `dir` equals a local `gcc -O2 -c s.c`'s.
fn s_o_is_a_local_compiles(dir: &TempDir) {
    let local = local_gcc(dir.path(), &["-O2", "-c", "s.c", "-o", "ref.o"]);
    assert!(local.status.success());
    assert_eq!(
        std::fs::read(dir.join("s.o")).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap()
    );
}

/// `s.c` (`-O2`, to `s.o` in `dir`) was copied from A to B and B won:
/// the log says so, the object equals a local compile's and was written
/// once (no temp of a second writer beside it), and A dropped the job.
fn the_copy_on_b_won(dir: &TempDir, h: &SlowFast, said: &str, a: &str, b: &str) {
    assert!(
        said.contains(&format!("job s.c: the copy on {b} won; {a} is dropped")),
        "{said}"
    );
    s_o_is_a_local_compiles(dir);
    let mut left = entries(dir.path());
    left.retain(|e| e.starts_with('.') && e != ".distcc-private");
    assert!(left.is_empty(), "{left:?}");
    // A's compiler (the wrapper's process group) is killed with the job.
    let abandoned = h.a.wait_log("job abandoned");
    assert!(
        abandoned.contains("disconnected before the reply; job abandoned"),
        "{abandoned}"
    );
}

#[test]
fn a_straggler_is_copied_to_a_free_fast_host() {
    let h = slow_first("30");
    let dir = TempDir::new("straggler");
    let hosts = format!("127.0.0.1:{}/2 127.0.0.1:{}/2", h.a.port, h.b.port);
    // Equal predictions for A and B: the job goes where distcc sends it, to A.
    measure_and_share(&dir, h.b.port, &[h.a.port]);

    dir.write("s.c", "int s(int x)\n{\n  return x * 3 + 7;\n}\n");
    std::fs::write(dir.join("s.o"), b"old object").unwrap();
    let (a0, b0) = (starts(&h.log_a), starts(&h.log_b));
    let t = std::time::Instant::now();
    let (out, said) = measured_compile(&dir, &hosts);
    let took = t.elapsed();
    assert!(out.status.success(), "{}\n{said}", text(&out.stderr));
    assert!(took < Duration::from_secs(15), "took {took:?}\n{said}");
    assert_eq!(
        (starts(&h.log_a) - a0, starts(&h.log_b) - b0),
        (1, 1),
        "{said}"
    );
    let (a, b) = (
        format!("127.0.0.1:{}/2", h.a.port),
        format!("127.0.0.1:{}/2", h.b.port),
    );
    assert!(
        said.contains(&format!("job s.c on {a}: running "))
            && said.contains("s past its predicted "),
        "{said}"
    );
    assert!(said.contains(&format!("copy started on {b}")), "{said}");
    the_copy_on_b_won(&dir, &h, &said, &a, &b);
    let pid: i32 = std::fs::read_to_string(&h.log_a)
        .unwrap()
        .lines()
        .rfind(|l| l.starts_with("start "))
        .and_then(|l| l.split(' ').nth(1)?.parse().ok())
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "A's compiler {pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(h.a.leftovers_after_reply(), Vec::<String>::new());
    // Both slots are free again, and no busy note is left.
    let notes: Vec<String> = entries(&dir.join(".distcc-private/speed"))
        .into_iter()
        .filter(|e| e.starts_with("busy_") || e.starts_with(".tmp"))
        .collect();
    assert!(notes.is_empty(), "{notes:?}");
}

/// Holds a slot's lock file as a client would (fcntl, whole file) until dropped.
struct HeldSlot {
    _file: std::fs::File,
}

fn hold_slot(dir: &TempDir, name: &str) -> HeldSlot {
    use std::os::fd::AsRawFd;
    let lock = dir.join(".distcc-private/lock");
    std::fs::create_dir_all(&lock).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock.join(name))
        .unwrap();
    // SAFETY: a zeroed flock is valid; the fd is open for the call.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    assert_eq!(unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) }, 0);
    HeldSlot { _file: f }
}

/// Run client `c` in distcc's order (pauses of 300 ms, logged), release
/// `busy` once A's compiler has started, and wait for its success: how
/// long it took and what the client logged.
fn run_releasing(
    mut c: Command,
    h: &SlowFast,
    busy: HeldSlot,
    log: &std::path::Path,
) -> (Duration, String) {
    c.env_remove("TINYDCC_CHOOSE")
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_PAUSE_TIME_MSEC", "300")
        .env("DISTCC_LOG", log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let t = std::time::Instant::now();
    let child = c.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while starts(&h.log_a) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(busy);
    let out = child.wait_with_output().unwrap();
    let said = std::fs::read_to_string(log).unwrap_or_default();
    assert!(out.status.success(), "{}\n{said}", text(&out.stderr));
    (t.elapsed(), said)
}

/// Without measured speeds, a straggler is copied in distcc's order: the
/// job goes to A (slow, listed second) because B's one slot is taken;
/// once B's slot has stayed free for a pause while the job still runs,
/// the job is sent to B too, B's object is taken and A's compiler killed.
#[test]
fn a_straggler_is_copied_to_an_idle_host_listed_before_it() {
    let h = slow_first("30");
    let dir = TempDir::new("straggler-order");
    let (a, b) = (
        format!("127.0.0.1:{}/2", h.a.port),
        format!("127.0.0.1:{}/1", h.b.port),
    );
    dir.write("s.c", "int s(int x)\n{\n  return x * 3 + 7;\n}\n");
    let busy = hold_slot(&dir, &format!("cpu_tcp_127.0.0.1_{}_0", h.b.port));
    let log = dir.join("client.log");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("{b} {a}"));
    c.args(["gcc", "-O2", "-c", "s.c", "-o", "s.o"]);
    // The job runs on A (its compiler started), then B's slot frees.
    let (took, said) = run_releasing(c, &h, busy, &log);
    assert!(took < Duration::from_secs(15), "took {took:?}\n{said}");
    assert!(
        said.contains(&format!("job s.c on {a}: running "))
            && said.contains(&format!("s while {b} idles; copy started on {b}")),
        "{said}"
    );
    the_copy_on_b_won(&dir, &h, &said, &a, &b);
    assert_eq!(h.a.leftovers_after_reply(), Vec::<String>::new());
}

/// `big.c`, a big job (70 KB of source through `#include "part.c"`), and
/// `s.c`, a small one, in `dir`.
fn big_and_small(dir: &TempDir) {
    dir.write(
        "part.c",
        &format!("/*{}*/\nint part;\n", "x".repeat(70_000)),
    );
    dir.write(
        "big.c",
        "#include \"part.c\"\nint big(int x) { return x + part; }\n",
    );
    dir.write("s.c", "int s(int x)\n{\n  return x * 3 + 7;\n}\n");
}

/// A big job (64 KB of source, here 3 lines around `#include "part.c"`,
/// as gnulib's regex.c) waits for `localhost` listed first rather than
/// take a helper's slot at once: the one local slot is held for a second
/// and the job is still compiled here, not on A. Held for good, the job
/// goes to A after 3 s. A small job goes to A at once, and leaves the
/// local slot to a big job waiting for it.
#[test]
fn a_big_job_waits_a_while_for_the_local_slot() {
    let h = slow_first("0");
    let dir = TempDir::new("big-first");
    // One slot: a helper with more than `localhost` would be waited for.
    let a = format!("127.0.0.1:{}/1", h.a.port);
    big_and_small(&dir);
    // 'L' compiled here, 'A' on A; with how long the client took.
    let run_with_local_held = |src: &str, release_after: Option<Duration>| {
        let busy = hold_slot(&dir, "cpu_localhost_0");
        let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("localhost/1 {a}"));
        c.args(["gcc", "-O2", "-c", src, "-o", "s.o"])
            .env_remove("TINYDCC_CHOOSE")
            // The CPU check always says room: this test is about the wait.
            .env("TINYDCC_LOCAL", "always")
            .env("TINYDCC_STRAGGLERS", "0")
            .env("DISTCC_FALLBACK", "0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let a0 = starts(&h.log_a);
        let t = std::time::Instant::now();
        let child = c.spawn().unwrap();
        if let Some(d) = release_after {
            std::thread::sleep(d);
            drop(busy);
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
        } else {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
            drop(busy);
        }
        let ran = match starts(&h.log_a) - a0 {
            0 => 'L',
            1 => 'A',
            n => panic!("{src} ran {n} times on A"),
        };
        (ran, t.elapsed())
    };
    let (ran, took) = run_with_local_held("big.c", Some(Duration::from_secs(1)));
    assert_eq!(ran, 'L', "the big job took A's slot ({took:?})");
    let (ran, took) = run_with_local_held("big.c", None);
    assert_eq!(ran, 'A');
    assert!(
        took >= Duration::from_secs(3),
        "gave up on the local slot after {took:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let (ran, took) = run_with_local_held("s.c", None);
    assert_eq!(ran, 'A');
    assert!(
        took < Duration::from_secs(3),
        "the small job waited: {took:?}"
    );
    s_o_is_a_local_compiles(&dir);
    // While a big job waits for the local slot (its claim held), a small
    // one leaves it free; with no claim it takes it.
    let small_with_local_free = || runs_on_a(&h, &dir, &format!("localhost/1 {a}"), "s.c");
    let claim = hold_slot(&dir, "tinydcc-big_localhost_0");
    assert_eq!(
        small_with_local_free(),
        1,
        "took the slot a big job waits for"
    );
    drop(claim);
    assert_eq!(small_with_local_free(), 0);
}

/// With no `localhost` in the list (or no room here), a big job waits for
/// the first helper listed, the most powerful (a board client's x86),
/// rather than take the second's free slot: A's one slot is held for a
/// second and the job still goes to A. A small job goes to B while a big
/// job's claim on A is held, and to A without it. A `,down` host is none
/// to wait for; `localhost` listed before a helper with more slots (than
/// it and than this machine's CPUs) is passed over by a big job, even free.
#[test]
fn a_big_job_waits_a_while_for_the_first_helper() {
    let h = slow_first("0");
    let dir = TempDir::new("big-first-helper");
    let hosts = format!("127.0.0.1:{}/1 127.0.0.1:{}/1", h.a.port, h.b.port);
    big_and_small(&dir);
    // 'A' or 'B': where `src` was compiled.
    let compile = |src: &str, held: Option<(&str, Duration)>| {
        let lock = held.map(|(name, _)| hold_slot(&dir, name));
        let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
        c.args(["gcc", "-O2", "-c", src, "-o", "s.o"])
            .env_remove("TINYDCC_CHOOSE")
            .env("TINYDCC_STRAGGLERS", "0")
            .env("DISTCC_FALLBACK", "0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let (a0, b0) = (starts(&h.log_a), starts(&h.log_b));
        let child = c.spawn().unwrap();
        if let Some((_, d)) = held {
            std::thread::sleep(d);
        }
        drop(lock);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        match (starts(&h.log_a) - a0, starts(&h.log_b) - b0) {
            (1, 0) => 'A',
            (0, 1) => 'B',
            other => panic!("{src} ran {other:?} times on A, B"),
        }
    };
    let a_slot = format!("cpu_tcp_127.0.0.1_{}_0", h.a.port);
    let a_claim = format!("tinydcc-big_tcp_127.0.0.1_{}_0", h.a.port);
    let second = Duration::from_secs(1);
    assert_eq!(compile("big.c", Some((&a_slot, second))), 'A');
    assert_eq!(
        compile("s.c", Some((&a_claim, second))),
        'B',
        "took the slot a big job waits for"
    );
    assert_eq!(compile("s.c", None), 'A');
    s_o_is_a_local_compiles(&dir);
    // A `,down` host listed first is none to wait for.
    let hosts = format!("127.0.0.1:1/1,down {hosts}");
    let t = std::time::Instant::now();
    assert_eq!(runs_on_a(&h, &dir, &hosts, "big.c"), 1);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // `localhost` listed first, free and with room, is passed over by a
    // big job when the helper after it has more slots than it and than
    // this machine has CPUs (a board client's `localhost/2 x86/4`); a
    // small job still compiles here. No more than the CPUs (distcc's
    // default of 4 on a bigger x86): the big job stays here.
    let cpus = std::thread::available_parallelism().unwrap().get();
    let as_many = format!("localhost/1 127.0.0.1:{}/{cpus}", h.a.port);
    assert_eq!(runs_on_a(&h, &dir, &as_many, "big.c"), 0);
    let hosts = format!("localhost/1 127.0.0.1:{}/{}", h.a.port, cpus + 1);
    assert_eq!(runs_on_a(&h, &dir, &hosts, "big.c"), 1);
    assert_eq!(runs_on_a(&h, &dir, &hosts, "s.c"), 0);
    s_o_is_a_local_compiles(&dir);
}

/// Compile `src` to `s.o` in distcc's order, the CPU check saying room:
/// how many times A ran it.
fn runs_on_a(h: &SlowFast, dir: &TempDir, hosts: &str, src: &str) -> usize {
    let mut c = client_cmd(Kind::Tiny, dir.path(), hosts);
    c.args(["gcc", "-O2", "-c", src, "-o", "s.o"])
        .env_remove("TINYDCC_CHOOSE")
        .env("TINYDCC_LOCAL", "always")
        .env("DISTCC_FALLBACK", "0");
    let a0 = starts(&h.log_a);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    starts(&h.log_a) - a0
}

/// A big job compiling here: a small job started beside it leaves the
/// free local slot alone while the busy local slots fill this machine's
/// CPUs (it waits for the helper's slot instead), and takes it when a CPU
/// is left.
#[test]
fn a_small_job_leaves_a_big_ones_cpu_alone() {
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(cpus >= 2, "this test needs 2 CPUs, has {cpus}");
    let h = slow_first("0");
    let dir = TempDir::new("big-alone");
    big_and_small(&dir);
    // This machine's compiler, logging and then sleeping 5 s.
    let local_log = dir.join("local.log");
    let bin = slow_compilers(&dir, &local_log, "5");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // In distcc's order A's slot 0 comes before every local slot but the
    // first: the small job is judged while it is taken.
    let hosts = format!("localhost/{} 127.0.0.1:{}/1", cpus + 1, h.a.port);
    let a_slot = format!("cpu_tcp_127.0.0.1_{}_0", h.a.port);
    let client = |src: &str, obj: &str| {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
        c.args(["gcc", "-O2", "-c", src, "-o", obj])
            .env("PATH", &path)
            .env_remove("TINYDCC_CHOOSE")
            .env("TINYDCC_LOCAL", "always")
            .env("TINYDCC_STRAGGLERS", "0")
            .env("DISTCC_PAUSE_TIME_MSEC", "200")
            .env("DISTCC_FALLBACK", "0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    // Local slots 1.. busy with other compiles; the big job takes slot 0.
    let mut others: Vec<_> = (1..cpus)
        .map(|i| hold_slot(&dir, &format!("cpu_localhost_{i}")))
        .collect();
    let a0 = starts(&h.log_a);
    let big = client("big.c", "big.o").spawn().unwrap();
    let t = std::time::Instant::now();
    while starts(&local_log) == 0 {
        assert!(t.elapsed() < Duration::from_secs(10), "no local compile");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A small job while A's slot is taken for a second.
    let small = |a_jobs: usize, why: &str| {
        let a = hold_slot(&dir, &a_slot);
        let child = client("s.c", "s.o").spawn().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        drop(a);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(starts(&h.log_a) - a0, a_jobs, "{why}");
    };
    small(1, "all CPUs busy: the small job should have waited for A");
    others.pop();
    small(1, "a CPU left: the small job should have compiled here");
    let out = big.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The big job and the second small one; the first small one's cpp
    // ran here too (plain mode).
    let log = std::fs::read_to_string(&local_log).unwrap();
    let compiles = log.lines().filter(|l| !l.contains(" -E ")).count();
    assert_eq!(compiles, 2, "{log}");
    s_o_is_a_local_compiles(&dir);
    let local = local_gcc(dir.path(), &["-O2", "-c", "big.c", "-o", "ref.o"]);
    assert!(local.status.success());
    assert_eq!(
        std::fs::read(dir.join("big.o")).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap()
    );
}

/// A big job compiling on a helper (its `tinydcc-bigrun` mark): a small
/// job leaves that helper's free slot to it while the helper's busy slots
/// fill its CPUs (two for a helper that does not say), when another host
/// has a free slot; else, and with a CPU left there, distcc's order.
#[test]
fn a_small_job_leaves_a_helpers_big_job_room() {
    let h = slow_first("0");
    let dir = TempDir::new("big-helper");
    big_and_small(&dir);
    let hosts = format!("127.0.0.1:{}/3 127.0.0.1:{}/1", h.a.port, h.b.port);
    let a = |what: &str, slot: u32| format!("{what}_tcp_127.0.0.1_{}_{slot}", h.a.port);
    // 'A' or 'B': where s.c was compiled.
    let small = || {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
        c.args(["gcc", "-O2", "-c", "s.c", "-o", "s.o"])
            .env_remove("TINYDCC_CHOOSE")
            // The daemons here have no stats port: never ask port + 1,
            // which may be another test's daemon.
            .env("TINYDCC_LOAD_PORT", "0")
            .env("TINYDCC_STRAGGLERS", "0")
            .env("DISTCC_FALLBACK", "0");
        let (a0, b0) = (starts(&h.log_a), starts(&h.log_b));
        let out = run(c);
        assert!(out.status.success(), "{}", text(&out.stderr));
        match (starts(&h.log_a) - a0, starts(&h.log_b) - b0) {
            (1, 0) => 'A',
            (0, 1) => 'B',
            other => panic!("s.c ran {other:?} times on A, B"),
        }
    };
    // A big job in A's slot 1, a small one in slot 2: A's slot 0 is free
    // and first in distcc's order.
    let _big = hold_slot(&dir, &a("cpu", 1));
    let beside = hold_slot(&dir, &a("cpu", 2));
    let mark = hold_slot(&dir, &a("tinydcc-bigrun", 1));
    assert_eq!(small(), 'B', "a third job beside A's big one");
    // B busy too: A rather than a wait.
    let b = hold_slot(&dir, &format!("cpu_tcp_127.0.0.1_{}_0", h.b.port));
    assert_eq!(small(), 'A', "waited for B while A had a free slot");
    drop(b);
    // No big job there, or one CPU left beside it: distcc's order.
    drop(mark);
    assert_eq!(small(), 'A');
    drop(beside);
    let _mark = hold_slot(&dir, &a("tinydcc-bigrun", 1));
    assert_eq!(small(), 'A', "one small job beside a big one");
    s_o_is_a_local_compiles(&dir);
}

/// In distcc's order a straggler's copy may run here: the job goes to A
/// (slow, listed after `localhost`) because the one local slot is taken;
/// once that has stayed free for a pause, the job is compiled here too,
/// the local object and dependency file are taken and A's compiler
/// killed; no temp file is left. Plain mode with `-MD` (automake's
/// kind), pump mode with `-Wp,-MMD,F` (the kernel's).
fn local_copy(pump: bool) {
    let h = slow_first("30");
    let dir = TempDir::new(if pump {
        "local-copy-pump"
    } else {
        "local-copy"
    });
    std::fs::create_dir(dir.join("out")).unwrap();
    dir.write(
        "s.c",
        "#include <stdio.h>\nint s(int x)\n{\n  return x * 3 + 7;\n}\n",
    );
    let a = format!("127.0.0.1:{}/2", h.a.port);
    let deps = |o: &str| match pump {
        true => format!("-Wp,-MMD,out/.{o}.d"),
        false => "-MD".to_string(),
    };
    let busy = hold_slot(&dir, "cpu_localhost_0");
    let log = dir.join("client.log");
    let cpp = if pump { ",lzo,cpp" } else { "" };
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("localhost/1 {a}{cpp}"));
    if pump {
        c.arg("--pump").arg(tinydcc());
    }
    c.args(["gcc", "-O2", &deps("s"), "-c", "s.c", "-o", "out/s.o"])
        .env("TINYDCC_LOCAL", "always");
    let (took, said) = run_releasing(c, &h, busy, &log);
    assert!(took < Duration::from_secs(15), "took {took:?}\n{said}");
    assert!(
        said.contains(&format!("job s.c on {a}{cpp}: running "))
            && said.contains("s while localhost/1 idles; copy started on localhost/1"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "job s.c: the copy on localhost/1 won; {a}{cpp} is dropped"
        )),
        "{said}"
    );
    let local = local_gcc(
        dir.path(),
        &["-O2", &deps("ref"), "-c", "s.c", "-o", "out/ref.o"],
    );
    assert!(local.status.success());
    assert_eq!(
        std::fs::read(dir.join("out/s.o")).unwrap(),
        std::fs::read(dir.join("out/ref.o")).unwrap()
    );
    let (ours, theirs) = match pump {
        true => ("out/.s.d", "out/.ref.d"),
        false => ("out/s.d", "out/ref.d"),
    };
    let theirs = std::fs::read_to_string(dir.join(theirs)).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join(ours)).unwrap(),
        theirs.replacen("out/ref.o", "out/s.o", 1)
    );
    let mut left = entries(&dir.join("out"));
    left.retain(|e| e.contains("tinydcc"));
    assert!(left.is_empty(), "{left:?}");
    let abandoned = h.a.wait_log("job abandoned");
    assert!(abandoned.contains("job abandoned"), "{abandoned}");
    assert_eq!(h.a.leftovers_after_reply(), Vec::<String>::new());
}

/// No local copy of a job whose options make gcc write more files named
/// after the object (`-fstack-usage`: `NAME.su`): under the temp's name
/// they would be left behind. The job waits for A.
#[test]
fn no_local_copy_when_gcc_would_write_files_named_after_the_object() {
    let h = slow_first("3");
    let dir = TempDir::new("local-copy-aux");
    std::fs::create_dir(dir.join("out")).unwrap();
    dir.write("s.c", "int s(int x)\n{\n  return x * 3 + 7;\n}\n");
    let a = format!("127.0.0.1:{}/2", h.a.port);
    let busy = hold_slot(&dir, "cpu_localhost_0");
    let log = dir.join("client.log");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("localhost/1 {a}"));
    c.args(["gcc", "-fstack-usage", "-c", "s.c", "-o", "out/s.o"])
        .env("TINYDCC_LOCAL", "always");
    let (_, said) = run_releasing(c, &h, busy, &log);
    assert!(!said.contains("copy started"), "{said}");
    assert_eq!(entries(&dir.join("out")), ["s.o"], "{said}");
}

#[test]
fn a_straggler_is_copied_here_when_the_local_slot_idles() {
    local_copy(false);
}

#[test]
fn a_pump_straggler_is_copied_here_with_its_kernel_style_dependency_file() {
    local_copy(true);
}

/// A copy that fails while the original still runs is no failure of the
/// job: A (slow, first) straggles, the copy on B fails at once (B's
/// compiler exits 1), and the client waits for A's object. B gets no
/// backoff for it.
#[test]
fn a_failed_copy_leaves_the_original_to_finish() {
    let (wa, wb, wc) = (
        TempDir::new("slow-a"),
        TempDir::new("bad-b"),
        TempDir::new("c"),
    );
    let log_a = wa.join("jobs.log");
    let bin_a = slow_compilers(&wa, &log_a, "4");
    let bin_c = slow_compilers(&wc, &wc.join("jobs.log"), "0");
    let bin_b = wb.join("bin");
    std::fs::create_dir_all(&bin_b).unwrap();
    let fail = format!(
        "#!/bin/sh\necho \"start $$ $*\" >> '{}'\necho 'b: broken compiler' >&2\nexit 1\n",
        wb.join("jobs.log").display()
    );
    for name in [
        "gcc",
        "cc",
        "x86_64-linux-gnu-gcc",
        "x86_64-linux-gnu-gcc-12",
    ] {
        script(&bin_b.join(name), &fail);
    }
    let start = daemon_with_compilers_in;
    let (a, b, c) = (start(&bin_a), start(&bin_b), start(&bin_c));
    let dir = TempDir::new("failed-copy");
    // Measure C, and give A and B its record: equal, so A gets the job.
    measure_and_share(&dir, c.port, &[a.port, b.port]);

    dir.write("s.c", "int s(int x)\n{\n  return x * 5 + 1;\n}\n");
    let hosts = format!("127.0.0.1:{}/2 127.0.0.1:{}/2", a.port, b.port);
    let (out, said) = measured_compile(&dir, &hosts);
    assert!(out.status.success(), "{}\n{said}", text(&out.stderr));
    let (ha, hb) = (
        format!("127.0.0.1:{}/2", a.port),
        format!("127.0.0.1:{}/2", b.port),
    );
    assert!(said.contains(&format!("copy started on {hb}")), "{said}");
    assert!(
        said.contains(&format!(
            "job s.c: the copy on {hb} failed (status 0x100); waiting for {ha}"
        )),
        "{said}"
    );
    assert!(
        !text(&out.stderr).contains("broken compiler"),
        "{}",
        text(&out.stderr)
    );
    s_o_is_a_local_compiles(&dir);
    assert!(a.wait_job("COMPILE_OK", "s.c"), "{}", a.log_text());
    let lock = entries(&dir.join(".distcc-private/lock"));
    assert!(!lock.iter().any(|l| l.starts_with("backoff_")), "{lock:?}");
}

/// The original can still win: A straggles past its prediction and is
/// copied to B, but B is slower yet; A's object is used and B's daemon,
/// its connection closed, kills the copy's compiler and leaves no job
/// directory.
#[test]
fn the_original_can_win_and_the_copy_is_dropped() {
    let (wa, wb, wc) = (TempDir::new("a"), TempDir::new("b"), TempDir::new("c"));
    let start = daemon_with_compilers_in;
    // A copy starts once A's job is overdue: past twice its prediction and
    // 1.5 s past it. On a loaded machine the measured prediction reaches
    // 1 s, so A must run well past 2.5 s for the copy to start before it ends.
    let a = start(&slow_compilers(&wa, &wa.join("jobs.log"), "4"));
    let b = start(&slow_compilers(&wb, &wb.join("jobs.log"), "30"));
    let c = start(&slow_compilers(&wc, &wc.join("jobs.log"), "0"));
    let dir = TempDir::new("original-wins");
    measure_and_share(&dir, c.port, &[a.port, b.port]);

    dir.write("s.c", "int s(int x)\n{\n  return x * 9 + 2;\n}\n");
    let hosts = format!("127.0.0.1:{}/2 127.0.0.1:{}/2", a.port, b.port);
    let (out, said) = measured_compile(&dir, &hosts);
    assert!(out.status.success(), "{}\n{said}", text(&out.stderr));
    let (ha, hb) = (
        format!("127.0.0.1:{}/2", a.port),
        format!("127.0.0.1:{}/2", b.port),
    );
    assert!(said.contains(&format!("copy started on {hb}")), "{said}");
    assert!(
        said.contains(&format!("job s.c: {ha} won; the copy on {hb} is dropped")),
        "{said}"
    );
    s_o_is_a_local_compiles(&dir);
    let dropped = b.wait_log("job abandoned");
    assert!(
        dropped.contains("disconnected before the reply; job abandoned"),
        "{dropped}"
    );
    assert_eq!(b.leftovers_after_reply(), Vec::<String>::new());
}
