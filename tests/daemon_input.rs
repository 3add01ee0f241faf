//! Hostile or broken input on the daemon's socket: the connection is
//! dropped with a log line, nothing runs, and other clients keep compiling.

use crate::common;
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// A normal compile through `d` still works (and equals a local compile).
fn still_serves(d: &Daemon, tag: &str) {
    let dir = TempDir::new("serve");
    let src = format!("ok_{tag}.c");
    dir.write(&src, HELLO);
    assert!(local_gcc(dir.path(), &["-c", &src, "-o", "local.o"])
        .status
        .success());
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-c", &src, "-o", "remote.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(out.status.success(), "{tag}: {}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.join("local.o")).unwrap(),
        std::fs::read(dir.join("remote.o")).unwrap()
    );
    assert!(d.wait_job("COMPILE_OK", &src));
}

fn dropped(d: &Daemon, send: &[u8], log_needle: &str) {
    let reply = raw_exchange(d.port, send, Duration::from_secs(5));
    assert!(
        reply.is_empty(),
        "daemon answered garbage with {:?}",
        text(&reply)
    );
    let log = d.wait_log(log_needle);
    assert!(log.contains(log_needle), "no '{log_needle}' in log:\n{log}");
}

#[test]
fn garbage_tokens() {
    let d = Daemon::start(Kind::Tiny, &[]);
    dropped(&d, b"GET / HTTP/1.0\r\n\r\n", "protocol derailment");
    dropped(&d, b"DIST0000000zARGC", "not 8 hex digits");
    dropped(&d, b"DIST00000009", "protocol version 9");
    still_serves(&d, "garbage");
    assert!(d.leftovers_after_reply().is_empty());
}

#[test]
fn huge_lengths() {
    let d = Daemon::start(Kind::Tiny, &[]);
    dropped(
        &d,
        b"DIST00000001ARGCffffffff",
        "ARGC of 4294967295 exceeds",
    );
    dropped(
        &d,
        b"DIST00000001ARGC00000001ARGVffffffff",
        "ARGV of 4294967295 exceeds",
    );
    let mut req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], b"");
    req.truncate(req.len() - 12);
    req.extend_from_slice(b"DOTIffffffff");
    dropped(&d, &req, "DOTI of 4294967295 exceeds");
    still_serves(&d, "huge");
}

#[test]
fn truncated_request() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], HELLO.as_bytes());
    let half = &req[..req.len() / 2];
    assert!(send_then_eof(d.port, half, Duration::from_secs(5)).is_empty());
    // Closed in the middle of a token header, too.
    assert!(send_then_eof(d.port, b"DIST0000", Duration::from_secs(5)).is_empty());
    let needle = "closed before the request was complete";
    let mut log = d.wait_log(needle);
    for _ in 0..200 {
        if log.matches(needle).count() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        log = d.log_text();
    }
    assert_eq!(log.matches(needle).count(), 2, "{log}");
    still_serves(&d, "trunc");
    assert!(d.leftovers_after_reply().is_empty());
}

/// A client whose preprocessor fails (a missing header, a missing source)
/// sends its argv, then closes: its normal behaviour, logged at info, not
/// as a WARNING. A connection cut inside the source stays a WARNING.
#[test]
fn client_whose_cpp_fails_is_not_a_warning() {
    let no_source =
        "sent its command line but no source (its preprocessor failed, most likely); job dropped";
    let dir = TempDir::new("cppfail");
    dir.write("nohdr.c", "#include \"missing.h\"\nint x;\n");
    for level in ["info", "warning"] {
        let d = Daemon::start(Kind::Tiny, &["--log-level", level]);
        let mut runs = 0;
        for kind in [Kind::Tiny, Kind::Stock] {
            for src in ["nohdr.c", "nosuch.c"] {
                let mut c = client_cmd(kind, dir.path(), &d.host(false));
                c.args(["gcc", "-c", src, "-o", "x.o"]);
                let out = run(c);
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{kind:?} {src}: {}",
                    text(&out.stderr)
                );
                runs += 1;
            }
        }
        if level == "info" {
            let mut log = d.wait_log(no_source);
            for _ in 0..200 {
                if log.matches(no_source).count() >= runs {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
                log = d.log_text();
            }
            assert!(
                log.lines()
                    .filter(|l| l.contains(no_source))
                    .all(|l| l.contains("] info: client 127.0.0.1:")),
                "{log}"
            );
            assert_eq!(log.matches(no_source).count(), runs, "{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
        let log = d.log_text();
        assert!(!log.contains("WARNING"), "{log}");
        assert!(
            !log.contains("closed before the request was complete"),
            "{log}"
        );
        if level == "warning" {
            assert!(!log.contains(no_source), "{log}");
        }
        // Cut inside the source: a real fault, still a warning.
        let mut req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], HELLO.as_bytes());
        req.truncate(req.len() - 10);
        assert!(send_then_eof(d.port, &req, Duration::from_secs(5)).is_empty());
        let needle = "WARNING: client 127.0.0.1:";
        let log = d.wait_log(needle);
        assert!(
            log.lines().any(|l| l.contains(needle)
                && l.ends_with("connection closed before the request was complete")),
            "{log}"
        );
    }
}

/// A client that sends a byte at a time holds no compile slot: with -j 1
/// a normal compile still goes through while it dawdles.
#[test]
fn slow_client_does_not_block_others() {
    let d = Daemon::start(Kind::Tiny, &["-j", "1"]);
    let req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], HELLO.as_bytes());
    let mut slow = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    slow.write_all(&req[..20]).unwrap();
    still_serves(&d, "slow1");
    slow.write_all(&req[20..25]).unwrap();
    still_serves(&d, "slow2");
    drop(slow);
}

/// A refused job is answered in-band (distcc's exit 101 and the reason on
/// stderr) once the whole request is in, and never runs.
#[test]
fn refuses_compilers_off_the_whitelist() {
    let d = Daemon::start(Kind::Tiny, &[]);
    for argv0 in ["/bin/sh", "sh", "notacompiler", "/opt/gcc", "../gcc"] {
        let req = request_v1(&[argv0, "-c", "x.c", "-o", "x.o"], b"int x;\n");
        let reply = raw_exchange(d.port, &req, Duration::from_secs(5));
        assert!(
            reply.starts_with(b"DONE00000001STAT00006500SERR"),
            "{argv0}: {:?}",
            text(&reply)
        );
        assert!(text(&reply).contains("job refused"), "{}", text(&reply));
    }
    let log = d.wait_log("notacompiler");
    assert!(
        log.contains("refused") && log.contains("REJ_BAD_REQ"),
        "{log}"
    );
    // Not a compile at all (no -c), and -E: refused before anything runs.
    for argv in [&["gcc", "x.c", "-o", "x"][..], &["gcc", "-E", "x.c"]] {
        let reply = raw_exchange(
            d.port,
            &request_v1(argv, b"int x;\n"),
            Duration::from_secs(5),
        );
        assert!(reply.starts_with(b"DONE00000001STAT00006500"));
    }
    assert!(!d.log_text().contains("COMPILE_"), "a refused job ran");
    still_serves(&d, "wl");
}

#[test]
fn refuses_clients_outside_allow() {
    let d = Daemon::start(Kind::Tiny, &["--allow", "10.1.2.3/32"]);
    let req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], HELLO.as_bytes());
    let reply = raw_exchange(d.port, &req, Duration::from_secs(5));
    // In place of a reply: one line saying who refused whom, and why.
    assert_eq!(text(&reply), format!("{}\n", refusal("127.0.0.1")));
    let log = d.wait_log("denied");
    assert!(
        log.contains("127.0.0.1") && log.contains("denied by access list"),
        "{log}"
    );
    // A stock client is refused too, shows the line as its error context,
    // and falls back to compiling locally.
    let dir = TempDir::new("deny");
    dir.write("x.c", HELLO);
    assert!(local_gcc(dir.path(), &["-c", "x.c", "-o", "ref.o"])
        .status
        .success());
    let mut c = client_cmd(Kind::Stock, dir.path(), &d.host(false));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("error context: \"{}\"", refusal("127.0.0.1"))),
        "{err}"
    );
    assert!(err.contains("running locally instead"), "{err}");
    assert_eq!(
        std::fs::read(dir.join("x.o")).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap()
    );
    assert!(!d.log_text().contains("COMPILE_OK"));
}

/// What a tinydcc daemon sends a client outside its access list.
fn refusal(client: &str) -> String {
    format!("distccd: 127.0.0.1 refused this client ({client} is not in its --allow list)")
}

/// A TCP connection to `port` from the local address `from` (any of
/// 127.0.0.0/8 works on Linux loopback).
fn connect_from(from: &str, port: u16) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    s.bind(&local.into()).unwrap();
    let to: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    s.connect(&to.into()).unwrap();
    s.into()
}

/// The refusal line survives a request the client is still sending (the
/// daemon reads and drops it rather than reset the connection); refused
/// connections are let go after a few seconds, only a few are held at
/// once, and they never keep allowed clients out.
#[test]
fn refused_clients_get_the_line_and_never_crowd_out_others() {
    use std::io::Read;
    let d = Daemon::start(Kind::Tiny, &["--allow", "127.0.0.1", "-j", "1"]);
    let fd_dir = format!("/proc/{}/fd", d.child.id());
    let fds = || std::fs::read_dir(&fd_dir).unwrap().count();
    let idle = fds();
    let line = format!("{}\n", refusal("127.0.0.2"));
    // A client that starts sending late and sends a lot (a big source).
    let mut s = connect_from("127.0.0.2", d.port);
    std::thread::sleep(Duration::from_millis(300));
    let req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], &vec![b' '; 2 << 20]);
    s.write_all(&req).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(text(&got), line);
    drop(s);

    // A flood of refused clients that never close, past the daemon's
    // connection limit (64 + 4 per job slot): a few are held, the others
    // get the line and an immediate close, and allowed clients still get in.
    let mut flood: Vec<TcpStream> = (0..100)
        .map(|_| connect_from("127.0.0.2", d.port))
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while d.log_text().matches("denied by access list").count() < 101 {
        assert!(std::time::Instant::now() < deadline, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let held = fds() - idle;
    assert!((1..=32).contains(&held), "{held} refused connections held");
    still_serves(&d, "flood");
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert_eq!(text(&got), line);
    }
    // Our side stays open (`flood` lives on): the daemon lets go by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fds() > idle {
        assert!(
            std::time::Instant::now() < deadline,
            "refused connections still held: {} fds, {idle} when idle",
            fds()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.log_text().matches("denied by access list").count(), 101);
    drop(flood);
}

/// A compiler that is whitelisted but missing gives distcc's status 110
/// in-band, and the client compiles locally.
#[test]
fn missing_compiler_is_reported_in_band() {
    let wl = TempDir::new("wl");
    std::os::unix::fs::symlink("/usr/bin/gcc", wl.join("gcc")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/cc", wl.join("ghost-gcc")).unwrap();
    // access(X_OK) follows the link; make the entry itself executable instead.
    std::fs::remove_file(wl.join("ghost-gcc")).unwrap();
    std::fs::write(wl.join("ghost-gcc"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        wl.join("ghost-gcc"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let d = Daemon::start(
        Kind::Tiny,
        &["--whitelist-dir", wl.path().to_str().unwrap()],
    );
    let req = request_v1(&["ghost-gcc", "-c", "x.c", "-o", "x.o"], b"int x;\n");
    let reply = raw_exchange(d.port, &req, Duration::from_secs(5));
    assert!(
        reply.starts_with(b"DONE00000001STAT00006e00"),
        "{:?}",
        text(&reply)
    );
    assert!(d.leftovers_after_reply().is_empty());
}

/// Twenty connections trickling a byte a second hold no compile slot and
/// no compile waits for them (bounded: three seconds of trickle).
#[test]
fn twenty_trickling_connections() {
    let d = Daemon::start(Kind::Tiny, &["-j", "1"]);
    let req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], HELLO.as_bytes());
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap())
        .collect();
    for second in 0..3 {
        for s in &mut slow {
            s.write_all(&req[second..second + 1]).unwrap();
        }
        still_serves(&d, &format!("trickle{second}"));
        std::thread::sleep(Duration::from_secs(1));
    }
    drop(slow);
    still_serves(&d, "trickle_end");
}

/// distccd takes a DIST version of 0 like 1 (no LZO, cpp on the client)
/// and echoes 0 in DONE; ours answers the same bytes, including the
/// object it sends straight from its file.
#[test]
fn version_zero_is_answered_like_distccd() {
    let source = b"# 1 \"v0.c\"\nint v0 = 1;\nint f(void) { return v0; }\n";
    let mut req = request_v1(&["gcc", "-c", "v0.c", "-o", "v0.o"], source);
    req[..12].copy_from_slice(b"DIST00000000");
    let answer = |kind: Kind| {
        let d = Daemon::start(kind, &[]);
        let wire = raw_exchange(d.port, &req, Duration::from_secs(10));
        let v0 = tinydcc::protocol::Features::from_version(0).unwrap();
        let limits = tinydcc::protocol::Limits::default();
        let r = tinydcc::protocol::reply::read(&mut &wire[..], v0, &limits)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}: {:?}", text(&wire)));
        assert!(wire.starts_with(b"DONE00000000STAT00000000"), "{kind:?}");
        assert!(!r.object.is_empty(), "{kind:?}: {}", text(&r.stderr));
        r
    };
    assert_eq!(answer(Kind::Tiny), answer(Kind::Stock));
}
