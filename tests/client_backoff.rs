//! Backoff and fallback: a dead host is skipped for DISTCC_BACKOFF_PERIOD
//! by every client (ours and stock, through distcc's backoff file), a
//! garbage-answering host too, and builds still succeed.

use crate::common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

fn backoff_file(dir: &TempDir, port: u16) -> std::path::PathBuf {
    dir.join(&format!(
        ".distcc-private/lock/backoff_tcp_127.0.0.1_{port}_0"
    ))
}

#[test]
fn dead_host_is_backed_off_and_build_succeeds() {
    for daemon in [Kind::Tiny, Kind::Stock] {
        let d = Daemon::start(daemon, &[]);
        let dir = TempDir::new("backoff");
        dir.write("x.c", HELLO);
        dir.write("y.c", HELLO);
        let dead = free_port();
        let hosts = format!("127.0.0.1:{dead}/4 {}", d.host(true));

        // First build: the dead host is tried, fails, is marked; the job
        // goes to the live host.
        let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
        c.args(["gcc", "-c", "x.c", "-o", "x.o"])
            .env("DISTCC_FALLBACK", "0");
        let out = run(c);
        assert!(out.status.success(), "{daemon:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("failed to connect"));
        assert!(backoff_file(&dir, dead).exists(), "no backoff file");
        assert!(d.wait_job("COMPILE_OK", "x.c"), "{}", d.log_text());

        // Second build within the period: the dead host is not tried.
        let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
        c.args(["gcc", "-c", "y.c", "-o", "y.o"])
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_VERBOSE", "1");
        let out = run(c);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("failed to connect"), "{err}");
        assert!(err.contains("in backoff"), "{err}");

        // Stock distcc reads the same file and skips the host too.
        let mut c = client_cmd(Kind::Stock, dir.path(), &hosts);
        c.args(["gcc", "-c", "y.c", "-o", "y2.o"])
            .env("DISTCC_FALLBACK", "0");
        let out = run(c);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            !text(&out.stderr).contains("failed"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn period_zero_writes_nothing_and_does_not_loop() {
    let dir = TempDir::new("backoff0");
    dir.write("x.c", HELLO);
    let dead = free_port();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{dead}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_BACKOFF_PERIOD", "0");
    let out = run(c);
    // (Stock distcc 3.4 retries such a host forever here.)
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("running locally instead"));
    assert!(!backoff_file(&dir, dead).exists());
}

#[test]
fn only_host_dead_falls_back_and_expired_backoff_is_retried() {
    let dir = TempDir::new("backoff-expire");
    dir.write("x.c", HELLO);
    let dead = free_port();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{dead}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    assert!(run(c).status.success());
    let f = backoff_file(&dir, dead);
    assert!(f.exists());
    // Age the file past a 1-second period: the host is tried again.
    let old = std::time::SystemTime::now() - Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{dead}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_BACKOFF_PERIOD", "1");
    let out = run(c);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("failed to connect"),
        "{}",
        text(&out.stderr)
    );
}

/// A host that answers garbage is backed off like a dead one.
#[test]
fn garbage_answer_is_backed_off() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 65536];
        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
        let _ = s.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    });
    let dir = TempDir::new("garbage");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    h.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("protocol derailment"),
        "{}",
        text(&out.stderr)
    );
    assert!(backoff_file(&dir, port).exists());
}

/// A compile error is an answer, not a host failure: no backoff, and the
/// compile is never run again (the local compiler only preprocesses).
#[test]
fn compile_error_is_never_retried() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("noretry");
    dir.write("bad.c", BAD);
    let calls = dir.join("local-calls.log");
    let bin = logging_compilers(&dir, &calls);
    let local = local_gcc(dir.path(), &["-c", "bad.c", "-o", "bad.o"]);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
    c.args(["gcc", "-c", "bad.c", "-o", "bad.o"])
        .env("PATH", path_with(&bin))
        .env("DISTCC_VERBOSE", "1");
    let out = run(c);
    assert_eq!(out.status.code(), local.status.code());
    assert_eq!(
        compiler_lines(&out.stderr),
        without_excerpts(&text(&local.stderr))
    );
    let calls = std::fs::read_to_string(&calls).unwrap();
    let starts: Vec<&str> = calls.lines().filter(|l| l.starts_with("start")).collect();
    assert_eq!(starts.len(), 1, "{calls}");
    assert!(starts[0].contains(" -E "), "{calls}");
    assert!(!backoff_file(&dir, d.port).exists());
    assert!(d.wait_job("COMPILE_ERROR", "bad.c"));
    assert_eq!(d.log_text().matches("COMPILE_ERROR").count(), 1);
}

/// tinydcc's daemon refuses some command lines in-band (exit 101 and the
/// reason): the job compiles here instead, and the host is not backed off.
#[test]
fn refused_job_falls_back_without_backoff() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("refused");
    dir.write("x.c", HELLO);
    let args = ["gcc", "-B/usr/bin/", "-c", "x.c", "-o", "x.o"];
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
    c.args(args);
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("refused x.c"), "{err}");
    assert!(err.contains("running locally instead"), "{err}");
    assert!(!backoff_file(&dir, d.port).exists());
    assert!(
        local_gcc(dir.path(), &["-B/usr/bin/", "-c", "x.c", "-o", "ref.o"])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(dir.join("x.o")).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap()
    );
    // Without fallback: distcc's 116, with the server's reason shown.
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
    c.args(args).env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert_eq!(out.status.code(), Some(116), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("fallbacks are disabled"));
}

/// A daemon whose access list leaves this client out answers with a
/// refusal line: the client names the host and why once, at warning level,
/// backs it off and compiles here; `make -j`'s other jobs stay quiet.
#[test]
fn refusing_daemon_is_named_once_and_backed_off() {
    let d = Daemon::start(Kind::Tiny, &["--allow", "10.0.0.0/8"]);
    let dir = TempDir::new("refusing");
    for f in ["x.c", "y.c", "z.c", "j0.c", "j1.c", "j2.c", "j3.c"] {
        dir.write(f, HELLO);
    }
    assert!(local_gcc(dir.path(), &["-c", "x.c", "-o", "ref.o"])
        .status
        .success());
    let host = d.host(true);
    let name = format!("127.0.0.1:{}", d.port);
    let line = format!(
        "{name} refused this client (127.0.0.1 is not in its --allow list); \
         {name} is backed off for 60 s"
    );
    let told = |err: &str| err.matches("refused this client").count();

    let mut c = client_cmd(Kind::Tiny, dir.path(), &host);
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(told(&err), 1, "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("tinydcc[") && l.contains("WARNING: ") && l.ends_with(&line)),
        "{err}"
    );
    assert!(!err.contains("Connection reset"), "{err}");
    assert!(backoff_file(&dir, d.port).exists());
    assert_eq!(
        std::fs::read(dir.join("x.o")).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap()
    );

    // Within the backoff period the host is skipped: not said again.
    let mut c = client_cmd(Kind::Tiny, dir.path(), &host);
    c.args(["gcc", "-c", "y.c", "-o", "y.o"]);
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(told(&err), 0, "{err}");
    assert!(dir.join("y.o").exists());

    // Without fallback: distcc's exit code for a job no host took.
    std::fs::remove_file(backoff_file(&dir, d.port)).unwrap();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &host);
    c.args(["gcc", "-c", "z.c", "-o", "z.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(116), "{err}");
    assert_eq!(told(&err), 1, "{err}");
    assert!(!dir.join("z.o").exists());

    // Several jobs refused at once: one of them says so.
    std::fs::remove_file(backoff_file(&dir, d.port)).unwrap();
    let jobs: Vec<_> = (0..4)
        .map(|i| {
            let mut c = client_cmd(Kind::Tiny, dir.path(), &host);
            c.args(["gcc", "-c", &format!("j{i}.c"), "-o", &format!("j{i}.o")]);
            c.stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let mut total = 0;
    for j in jobs {
        let out = j.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        total += told(&text(&out.stderr));
    }
    assert_eq!(total, 1);

    // The daemon logs each refused connection and compiles nothing.
    let log = d.log_text();
    assert!(log.contains("denied by access list"), "{log}");
    assert!(!log.contains("COMPILE_"), "{log}");
}

/// A tinydcc daemon short of memory (told so by TINYDCCD_MEM_AVAILABLE)
/// queues the job, then answers busy: our client goes on to the next host
/// (a stock distccd) without backing it off; a stock client, seeing a
/// remote failure, compiles locally. Every object is the local compile's.
#[test]
fn daemon_short_of_memory_is_busy_not_failed() {
    let short = Daemon::start_env(Kind::Tiny, &[], &[("TINYDCCD_MEM_AVAILABLE", "1000")]);
    let stock = Daemon::start(Kind::Stock, &[]);
    let dir = TempDir::new("busy-mem");
    dir.write("x.c", HELLO);
    let local = local_gcc(dir.path(), &["-c", "x.c", "-o", "local.o"]);
    assert!(local.status.success());
    let hosts = format!("{} {}", short.host(true), stock.host(false));

    let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        short.wait_job("REJ_OVERLOAD", "x.c"),
        "{}",
        short.log_text()
    );
    assert!(stock.wait_job("COMPILE_OK", "x.c"), "{}", stock.log_text());
    assert!(
        !backoff_file(&dir, short.port).exists(),
        "busy is no failure"
    );
    assert_eq!(
        std::fs::read(dir.join("x.o")).unwrap(),
        std::fs::read(dir.join("local.o")).unwrap()
    );
    assert_eq!(short.leftovers_after_reply(), Vec::<String>::new());

    let mut c = client_cmd(Kind::Stock, dir.path(), &short.host(true));
    c.args(["gcc", "-c", "x.c", "-o", "y.o"]);
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("retrying locally"), "{err}");
    assert_eq!(
        std::fs::read(dir.join("y.o")).unwrap(),
        std::fs::read(dir.join("local.o")).unwrap()
    );
}
