//! Plain jobs whose compiler starts as soon as argv is in, before the
//! source (src/daemon/feed.rs): the source reaches it whole through its
//! stdin pipe, a compiler or client that goes away early leaves nothing
//! behind, and a whole request never waits behind an early start.

use crate::common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Processes whose command line names the daemon's scratch dir: its compilers.
fn compilers_of(d: &Daemon) -> usize {
    let out = Command::new("pgrep")
        .args(["-f", &d.tmp.path().display().to_string()])
        .output()
        .unwrap();
    text(&out.stdout).lines().count()
}

/// The daemon's children that have exited and are not reaped yet.
fn zombies_of(d: &Daemon) -> usize {
    let me = d.child.id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) STATE PPID ...: comm may hold spaces.
            let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
            let mut f = rest.split_whitespace();
            f.next() == Some("Z") && f.next() == Some(me.as_str())
        })
        .count()
}

/// A request split where the source starts: (header and argv, DOTI).
fn split_v1(argv: &[&str], source: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut head = request_v1(argv, source);
    let at = head.len() - source.len() - 12;
    let doti = head.split_off(at);
    (head, doti)
}

/// A v1 reply's status, stderr and object.
fn parse_reply(r: &[u8]) -> (u32, String, Vec<u8>) {
    let (mut at, mut status, mut err, mut obj) = (0, 0, String::new(), Vec::new());
    while at + 12 <= r.len() {
        let name = &r[at..at + 4];
        let n = u32::from_str_radix(std::str::from_utf8(&r[at + 4..at + 12]).unwrap(), 16).unwrap();
        at += 12;
        match name {
            b"STAT" => status = n,
            b"SERR" | b"SOUT" | b"DOTO" => {
                let body = &r[at..at + n as usize];
                at += n as usize;
                if name == b"SERR" {
                    err = text(body);
                } else if name == b"DOTO" {
                    obj = body.to_vec();
                }
            }
            _ => {}
        }
    }
    (status, err, obj)
}

/// `NAME.c` preprocessed by local gcc, and the object gcc makes of that.
fn preprocessed(dir: &TempDir, name: &str) -> (Vec<u8>, Vec<u8>) {
    let (c, i) = (format!("{name}.c"), format!("{name}.i"));
    assert!(local_gcc(dir.path(), &["-E", &c, "-o", &i])
        .status
        .success());
    assert!(local_gcc(dir.path(), &["-c", &i, "-o", "ref.o"])
        .status
        .success());
    (
        std::fs::read(dir.join(&i)).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap(),
    )
}

/// A preprocessed source of about 500 KB (many pipe buffers) and the
/// object local gcc makes of it. Strings, not functions: gcc compiles them
/// in a tenth of a second where 8,000 functions took 5 s of CPU, twice.
fn big_source(dir: &TempDir) -> (Vec<u8>, Vec<u8>) {
    let mut c = String::from("#include <stdio.h>\n");
    for i in 0..2_500 {
        let text = format!("{i:05}").repeat(40);
        c.push_str(&format!("const char s{i}[] = \"{text}\";\n"));
    }
    dir.write("big.c", &c);
    preprocessed(dir, "big")
}

fn read_reply(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut r = Vec::new();
    s.read_to_end(&mut r).unwrap();
    r
}

#[test]
fn source_reaches_an_early_compiler_whole() {
    let d = Daemon::start(Kind::Tiny, &["-j", "2"]);
    let dir = TempDir::new("feed-big");
    let (src, reference) = big_source(&dir);
    let (head, doti) = split_v1(&["gcc", "-c", "big.c", "-o", "big.o"], &src);
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.write_all(&head).unwrap();
    wait_until("the compiler to start before its source", || {
        compilers_of(&d) > 0
    });
    for part in doti.chunks(doti.len() / 3 + 1) {
        s.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, err, obj) = parse_reply(&read_reply(s));
    assert_eq!(status, 0, "{err}");
    assert!(obj == reference, "the object differs from local gcc's");
    assert!(d.wait_job("COMPILE_OK", "big.c"), "{}", d.log_text());
    assert!(d.leftovers_after_reply().is_empty());
}

#[test]
fn compiler_gone_before_its_source() {
    let wl = TempDir::new("feed-quit");
    script(
        &wl.join("quit-gcc"),
        "#!/bin/sh\necho 'quit-gcc: no thanks' >&2\nexit 3\n",
    );
    let d = Daemon::start_env(
        Kind::Tiny,
        &["--whitelist-dir", wl.path().to_str().unwrap()],
        &[("PATH", &path_with(wl.path()))],
    );
    // More than a pipe holds: nobody reads it.
    let src = vec![b'\n'; 1 << 20];
    let (head, doti) = split_v1(&["quit-gcc", "-c", "q.c", "-o", "q.o"], &src);
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.write_all(&head).unwrap();
    // The state this test is about: the daemon has seen the compiler end
    // while the source is still to come.
    let log = d.wait_log("compiler exited before its source came");
    assert!(
        log.contains("compiler exited before its source came"),
        "{log}"
    );
    s.write_all(&doti).unwrap();
    let (status, err, _) = parse_reply(&read_reply(s));
    assert_eq!(status, 3 << 8, "{err}");
    assert!(err.contains("no thanks"), "{err}");
    assert!(d.wait_job("COMPILE_ERROR", "q.c"), "{}", d.log_text());
    assert!(d.leftovers_after_reply().is_empty());
}

#[test]
fn client_leaving_kills_an_early_compiler() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let (head, _) = split_v1(&["gcc", "-c", "gone.c", "-o", "gone.o"], b"int x;\n");
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.write_all(&head).unwrap();
    wait_until("the early compiler", || compilers_of(&d) > 0);
    drop(s);
    wait_until("the compiler to be killed", || compilers_of(&d) == 0);
    // Killed without waiting for it on the loop, then reaped all the same.
    wait_until("the killed compiler to be reaped", || zombies_of(&d) == 0);
    assert!(d.leftovers_after_reply().is_empty());
    // Gone after the argv, before any source: a client whose cpp failed.
    let log = d.wait_log("sent its command line but no source");
    assert!(
        log.contains("info: client 127.0.0.1:")
            && log.contains("sent its command line but no source"),
        "{log}"
    );
    assert!(!log.contains("WARNING"), "{log}");
}

/// With one slot taken by an early start, a whole request still runs at
/// once; the early job starts again when its source comes, and is right.
#[test]
fn whole_requests_take_slots_back() {
    let d = Daemon::start(Kind::Tiny, &["-j", "1"]);
    let dir = TempDir::new("feed-preempt");
    dir.write("slow.c", HELLO);
    let (src, reference) = preprocessed(&dir, "slow");
    let (head, doti) = split_v1(&["gcc", "-c", "slow.c", "-o", "slow.o"], &src);
    let mut slow = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    slow.write_all(&head).unwrap();
    wait_until("the early compiler", || compilers_of(&d) > 0);

    // Without the slot back it would wait until `slow` sends its source.
    let whole = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], &src);
    let reply = raw_exchange(d.port, &whole, Duration::from_secs(20));
    assert!(
        reply.starts_with(b"DONE00000001STAT00000000"),
        "{:?}",
        text(&reply)
    );

    slow.write_all(&doti).unwrap();
    let (status, err, obj) = parse_reply(&read_reply(slow));
    assert_eq!(status, 0, "{err}");
    assert!(obj == reference, "the object differs from local gcc's");
    assert!(d.leftovers_after_reply().is_empty());
    // The early compiler it took the slot from was reaped, not left a zombie.
    wait_until("the preempted compiler to be reaped", || {
        zombies_of(&d) == 0
    });
}
