//! Slots: `make -j8` of a 30-file project with hosts `A/2 B/1` never runs
//! more than 2 jobs on A or 1 on B at once, counted on the servers by a
//! logging compiler wrapper. One build mixes tinydcc and stock distcc
//! clients, which must share the same lock files.

mod common;
use common::*;
use std::process::Command;

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
