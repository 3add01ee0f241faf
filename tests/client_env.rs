//! Environment variables, each with distcc's meaning: DISTCC_VERBOSE,
//! DISTCC_LOG, DISTCC_SAVE_TEMPS, DISTCC_DIR, DISTCC_IO_TIMEOUT,
//! DISTCC_SKIP_LOCAL_RETRY, DISTCC_PAUSE_TIME_MSEC, UNCACHED_ERR_FD, TMPDIR.
//! (What distcc 3.4 users see, side by side: distcc_fidelity.rs.)
//! (DISTCC_BACKOFF_PERIOD: client_backoff.rs; DISTCC_SSH: client_ssh.rs;
//! DISTCC_FALLBACK: client.rs.)

use crate::common;
use common::*;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::io::AsRawFd;
use std::time::Duration;

#[test]
fn verbose_shows_decisions() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("verbose");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_VERBOSE", "1");
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success());
    assert!(err.contains("compile from x.c to x.o"), "{err}");
    assert!(
        err.contains(&format!("sending x.c to {}", d.host(false))),
        "{err}"
    );
    // Only "1" counts, as in distcc.
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_VERBOSE", "yes");
    assert_eq!(text(&run(c).stderr), "");
}

#[test]
fn log_file_takes_the_messages() {
    let dir = TempDir::new("log");
    dir.write("x.c", HELLO);
    let log = dir.join("client.log");
    let mut c = client_cmd(
        Kind::Tiny,
        dir.path(),
        &format!("127.0.0.1:{}", free_port()),
    );
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_LOG", &log);
    let out = run(c);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "messages belong in the log");
    let l = std::fs::read_to_string(&log).unwrap();
    assert!(l.contains("running locally instead"), "{l}");
    // distcc: a log file gets info-level messages too.
    assert!(l.contains("compile from x.c to x.o"), "{l}");
}

#[test]
fn uncached_err_fd_takes_the_messages() {
    let dir = TempDir::new("errfd");
    dir.write("x.c", HELLO);
    let errfile = std::fs::File::create(dir.join("fd5.txt")).unwrap();
    let fd = errfile.as_raw_fd();
    let mut c = client_cmd(
        Kind::Tiny,
        dir.path(),
        &format!("127.0.0.1:{}", free_port()),
    );
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("UNCACHED_ERR_FD", fd.to_string());
    // Keep the fd open in the child (std closes non-stdio fds on exec).
    unsafe {
        use std::os::unix::process::CommandExt;
        c.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let out = run(c);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    let got = std::fs::read_to_string(dir.join("fd5.txt")).unwrap();
    assert!(got.contains("running locally instead"), "{got}");
}

/// An UNCACHED_ERR_FD that is not open would swallow every message:
/// they go to stderr instead.
#[test]
fn closed_uncached_err_fd_falls_back_to_stderr() {
    let dir = TempDir::new("errfd-closed");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(
        Kind::Tiny,
        dir.path(),
        &format!("127.0.0.1:{}", free_port()),
    );
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("UNCACHED_ERR_FD", "97");
    let out = run(c);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("running locally instead"));
}

/// `DISTCC_LOG=/dev/stderr`: an error is written once, not teed twice.
#[test]
fn log_on_stderr_is_not_doubled() {
    let dir = TempDir::new("log-stderr");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(
        Kind::Tiny,
        dir.path(),
        &format!("127.0.0.1:{}", free_port()),
    );
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_LOG", "/dev/stderr")
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert_eq!(out.status.code(), Some(116));
    let err = text(&out.stderr);
    assert_eq!(err.matches("fallbacks are disabled").count(), 1, "{err}");
}

#[test]
fn save_temps_keeps_and_says_where() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("savetemps");
    let tmp = TempDir::new("savetemps-tmp");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_SAVE_TEMPS", "1")
        .env("TMPDIR", tmp.path());
    let out = run(c);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("DISTCC_SAVE_TEMPS: kept"), "{err}");
    let kept = entries(tmp.path());
    for ext in [".i", ".o", ".argv"] {
        let f = kept
            .iter()
            .find(|n| n.starts_with("distcc_") && n.ends_with(ext))
            .unwrap_or_else(|| panic!("no {ext} in {kept:?}"));
        assert!(err.contains(f.as_str()), "{err} does not name {f}");
    }
    let obj = kept.iter().find(|n| n.ends_with(".o")).unwrap();
    assert_eq!(
        std::fs::read(tmp.join(obj)).unwrap(),
        std::fs::read(dir.join("x.o")).unwrap()
    );
    let argv = kept.iter().find(|n| n.ends_with(".argv")).unwrap();
    assert!(std::fs::read_to_string(tmp.join(argv))
        .unwrap()
        .contains("\n-c\n"));
}

#[test]
fn tmpdir_is_left_empty_after_every_outcome() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("tmpdir");
    let tmp = TempDir::new("tmpdir-tmp");
    dir.write("x.c", HELLO);
    dir.write("bad.c", BAD);
    let dead = format!("127.0.0.1:{}", free_port());
    for (hosts, src) in [
        (d.host(true), "x.c"),   // success
        (d.host(true), "bad.c"), // compile error (retried locally)
        (dead.clone(), "x.c"),   // fallback
        (dead, "bad.c"),         // fallback + error
    ] {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
        c.args(["gcc", "-MD", "-c", src, "-o", "out.o"])
            .env("TMPDIR", tmp.path());
        run(c);
        assert!(
            entries(tmp.path()).is_empty(),
            "{hosts} {src}: {:?}",
            entries(tmp.path())
        );
        let stray: Vec<String> = entries(dir.path())
            .into_iter()
            .filter(|n| n.contains("tinydcc-"))
            .collect();
        assert!(stray.is_empty(), "temp files left in the cwd: {stray:?}");
    }
}

#[test]
fn distcc_dir_is_used_but_not_created() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("ddir");
    dir.write("x.c", HELLO);
    let mine = dir.join("mine");
    std::fs::create_dir(&mine).unwrap();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_DIR", &mine);
    assert!(run(c).status.success());
    assert!(entries(&mine.join("lock")).contains(&format!("cpu_tcp_127.0.0.1_{}_0", d.port)));
    // A missing DISTCC_DIR is not created (distcc): the job still compiles.
    let missing = dir.join("missing");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-c", "x.c", "-o", "y.o"])
        .env("DISTCC_DIR", &missing);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!missing.exists());
    assert!(dir.join("y.o").exists());
    // The hosts file in DISTCC_DIR is read when DISTCC_HOSTS is unset.
    std::fs::write(mine.join("hosts"), format!("# mine\n{}\n", d.host(false))).unwrap();
    let mut c = client_cmd(Kind::Tiny, dir.path(), "");
    c.env_remove("DISTCC_HOSTS")
        .env("DISTCC_DIR", &mine)
        .arg("--show-hosts");
    assert_eq!(text(&run(c).stdout), format!("{}\n", d.host(false)));
}

#[test]
fn io_timeout_bad_value_and_silent_server() {
    let dir = TempDir::new("iotimeout");
    dir.write("x.c", HELLO);
    for bad in ["0", "-3", "abc"] {
        let mut c = client_cmd(Kind::Tiny, dir.path(), "127.0.0.1:1");
        c.args(["gcc", "-c", "x.c"]).env("DISTCC_IO_TIMEOUT", bad);
        assert_eq!(run(c).status.code(), Some(101), "DISTCC_IO_TIMEOUT={bad}");
    }
    // A server that accepts and never answers: after 1 s the job falls back.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 4096];
        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
    });
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_IO_TIMEOUT", "1");
    let out = run(c);
    h.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("running locally instead"));
}

#[test]
fn skip_local_retry_shows_the_remote_error() {
    let d = Daemon::start(Kind::Stock, &[]);
    let dir = TempDir::new("skipretry");
    dir.write("bad.c", BAD);
    let local = local_gcc(dir.path(), &["-c", "bad.c", "-o", "bad.o"]);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-c", "bad.c", "-o", "bad.o"])
        .env("DISTCC_SKIP_LOCAL_RETRY", "1");
    let out = run(c);
    assert_eq!(out.status.code(), local.status.code());
    let err = text(&out.stderr);
    // The server's text: the same messages, without source excerpts.
    assert!(
        err.contains("bad.c:4:11: error: expected expression"),
        "{err}"
    );
    assert!(!err.contains("|"), "{err}");
    assert!(text(&local.stderr).contains("|"));
}

#[test]
fn pause_time_between_busy_rounds() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("pause");
    dir.write("x.c", HELLO);
    let ddir = dir.join(".distcc-private");
    std::fs::create_dir_all(ddir.join("lock")).unwrap();
    // Hold the host's only slot as another client would.
    let lockfile = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(ddir.join(format!("lock/cpu_tcp_127.0.0.1_{}_0", d.port)))
        .unwrap();
    let fl = libc::flock {
        l_type: libc::F_WRLCK as _,
        l_whence: libc::SEEK_SET as _,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    assert_eq!(
        unsafe { libc::fcntl(lockfile.as_raw_fd(), libc::F_SETLK, &fl) },
        0
    );
    let log = dir.join("client.log");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("{}/1", d.host(false)));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_PAUSE_TIME_MSEC", "25")
        .env("DISTCC_VERBOSE", "1")
        .env("DISTCC_LOG", &log);
    let mut child = c.spawn().unwrap();
    // Wait until it has slept once, then free the slot.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("sleeping 25ms")
    {
        assert!(std::time::Instant::now() < deadline, "client never waited");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "client did not wait for the slot"
    );
    drop(lockfile);
    assert!(child.wait().unwrap().success());
    assert!(d.wait_job("COMPILE_OK", "x.c"));
}

/// An unknown `TINYDCC_CHOOSE` is named in a warning; the job is
/// distributed in distcc's order and nothing is measured.
#[test]
fn unknown_choose_value_warns_and_keeps_distccs_order() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("choose");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("TINYDCC_CHOOSE", "fastest")
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "TINYDCC_CHOOSE=fastest is not measured, distcc or order; choosing hosts in distcc's order"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    assert!(d.wait_job("OK", "x.c"), "{}", d.log_text());
    assert!(!dir.join(".distcc-private/speed").exists());
}
