//! Load on the daemon, bounded in count and time: many connections at once,
//! and thousands of jobs in a row with flat memory.

use crate::common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

/// A whitelisted "compiler" that only copies its input to its output, so
/// the daemon's own cost is what is measured.
fn copy_compiler(dir: &TempDir) -> String {
    let cc = dir.join("copy-cc");
    std::fs::write(
        &cc,
        "#!/bin/sh\n# copy-cc -c IN -o OUT\nwhile [ $# -gt 0 ]; do case \"$1\" in -o) out=$2; shift;; -c) ;; *) in=$1;; esac; shift; done\n\
         exec cp \"$in\" \"$out\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cc, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.path().to_str().unwrap().to_string()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// 200 clients connect at once and all get their object back; the daemon
/// takes what its limits allow and leaves the rest in the backlog.
#[test]
fn two_hundred_parallel_connections() {
    let tools = TempDir::new("load200");
    let wl = copy_compiler(&tools);
    let path = format!("{wl}:{}", std::env::var("PATH").unwrap());
    let d = Daemon::start_env(
        Kind::Tiny,
        &["--whitelist-dir", &wl, "-j", "4"],
        &[("PATH", &path)],
    );
    let start = Instant::now();
    let mut conns = Vec::new();
    for i in 0..200 {
        let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        let src = format!("int job{i};\n");
        s.write_all(&request_v1(
            &["copy-cc", "-c", "x.c", "-o", "x.o"],
            src.as_bytes(),
        ))
        .unwrap();
        conns.push((s, src));
    }
    for (mut s, src) in conns {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut r = Vec::new();
        s.read_to_end(&mut r).unwrap();
        let want = format!(
            "DONE00000001STAT00000000SERR00000000SOUT00000000DOTO{:08x}{src}",
            src.len()
        );
        assert_eq!(text(&r), want);
    }
    assert!(start.elapsed() < Duration::from_secs(60));
    assert!(d.leftovers_after_reply().is_empty());
}

/// 10,000 jobs one after another: the daemon's memory stays flat (the
/// start and end RSS are printed; growth is bounded to 512 KiB).
#[test]
#[ignore = "slow tier (10,000 jobs, 80 s on two cores): tests/run runs it"]
fn ten_thousand_sequential_jobs_flat_memory() {
    let tools = TempDir::new("load10k");
    let wl = copy_compiler(&tools);
    let path = format!("{wl}:{}", std::env::var("PATH").unwrap());
    let d = Daemon::start_env(
        Kind::Tiny,
        &["--whitelist-dir", &wl, "--log-level", "warning"],
        &[("PATH", &path)],
    );
    let req = request_v1(&["copy-cc", "-c", "x.c", "-o", "x.o"], b"int x;\n");
    let pid = d.child.id();
    let mut first = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    for i in 0..10_000 {
        let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        s.write_all(&req).unwrap();
        let mut r = Vec::new();
        s.read_to_end(&mut r).unwrap();
        assert!(r.starts_with(b"DONE00000001STAT00000000"), "job {i}");
        if i == 100 {
            first = rss_kb(pid);
        }
        assert!(Instant::now() < deadline, "took too long at job {i}");
    }
    let last = rss_kb(pid);
    println!("daemon RSS after 100 jobs: {first} KiB, after 10000: {last} KiB");
    assert!(last <= first + 512, "RSS grew from {first} to {last} KiB");
    assert!(d.leftovers_after_reply().is_empty());
}
