//! distccd's options on our daemon, the clients.allow file, signals, the
//! job limit and scratch space.

use crate::common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A directory holding fake compiler scripts; it serves as the daemon's
/// whitelist and is first on its PATH.
struct Tools {
    dir: TempDir,
}

impl Tools {
    fn new() -> Tools {
        Tools {
            dir: TempDir::new("tools"),
        }
    }
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap()
        )
    }
    fn wl(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

fn job(d: &Daemon, compiler: &str) -> Vec<u8> {
    let src = b"# 1 \"x.c\"\nint x;\n";
    raw_exchange(
        d.port,
        &request_v1(&[compiler, "-c", "x.c", "-o", "x.o"], src),
        Duration::from_secs(30),
    )
}

fn tinydccd(args: &[&str]) -> std::process::Output {
    Command::new(tinydcc())
        .arg("--daemon")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_version_and_bad_options() {
    let out = tinydccd(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("--allow"));
    // What to do when nobody is allowed, before it happens.
    assert!(
        help.contains("every client is\nrefused: start with --allow 192.168.0.0/24 (your network) or create the file."),
        "{help}"
    );
    let out = tinydccd(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    // Each error names the option and the value, in one line under one name.
    for (bad, msg) in [
        (&["--bogus"][..], "--bogus: unknown option"),
        (&["--jobs", "500"], "--jobs: '500' is not a number from 1 to 200"),
        (&["--port", "abc"], "--port: 'abc' is not a port number"),
        (&["--port"], "--port: missing value"),
        (&["--stats-port=70000"], "--stats-port: '70000' is not a port number"),
        (&["-j", "x"], "--jobs: 'x' is not a number from 1 to 200"),
        (&["--listen", "1.2.3"], "--listen: '1.2.3' is not an IP address"),
        (&["--job-lifetime", "-3"], "--job-lifetime: '-3' is not a number of seconds"),
        (&["--allow", "1.2.3.4/99"], "--allow: '1.2.3.4/99': bad prefix length '99'"),
        (
            &["--log-level", "loud"],
            "--log-level: 'loud' is not a log level (critical, error, warning, notice, info or debug)",
        ),
    ] {
        let out = tinydccd(bad);
        assert_eq!(out.status.code(), Some(101), "{bad:?}");
        assert_eq!(text(&out.stderr), format!("distccd: {msg}\n"), "{bad:?}");
    }
}

/// Files and addresses the daemon cannot use are named with the system's
/// reason, never a bare "(os error N)".
#[test]
fn unusable_files_and_addresses_are_named() {
    let port = free_port().to_string();
    let mut d = Command::new(tinydcc())
        .args([
            "--daemon",
            "--no-detach",
            "--listen",
            "127.0.0.1",
            "--port",
            &port,
        ])
        .args(["--allow", "127.0.0.1", "--log-file", "/nonexistent/x"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like distccd it carries on, logging to stderr.
    let port_n: u16 = port.parse().unwrap();
    assert!(wait_for_port(port_n, &mut d));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let out = d.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "ERROR: --log-file /nonexistent/x: No such file or directory; logging to stderr"
        ),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");

    // An address this machine does not have (TEST-NET-1: never routed).
    let out = tinydccd(&[
        "--no-detach",
        "--log-stderr",
        "--allow",
        "127.0.0.1",
        "--listen",
        "192.0.2.1",
        "--port",
        &port,
    ]);
    assert_eq!(out.status.code(), Some(102));
    let err = text(&out.stderr);
    assert!(
        err.contains("ERROR: --listen 192.0.2.1: Cannot assign requested address (no interface of this machine has that address)"),
        "{err}"
    );
    // A port in use, compile and stats.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port().to_string();
    let out = tinydccd(&[
        "--no-detach",
        "--log-stderr",
        "--allow",
        "127.0.0.1",
        "--listen",
        "127.0.0.1",
        "--port",
        &busy,
    ]);
    assert_eq!(out.status.code(), Some(102));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "ERROR: --port {busy} on 127.0.0.1: Address already in use (is another distccd running?)"
        )),
        "{err}"
    );
    let out = tinydccd(&[
        "--no-detach",
        "--log-stderr",
        "--allow",
        "127.0.0.1",
        "--listen",
        "127.0.0.1",
        "--port",
        &port,
        "--stats",
        "--stats-port",
        &busy,
    ]);
    assert_eq!(out.status.code(), Some(102));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "ERROR: --stats-port {busy} on 127.0.0.1: Address already in use"
        )),
        "{err}"
    );
    // A pid file in a directory that does not exist.
    let out = tinydccd(&[
        "--no-detach",
        "--log-stderr",
        "--allow",
        "127.0.0.1",
        "--listen",
        "127.0.0.1",
        "--port",
        &port,
        "--pid-file",
        "/nonexistent/d.pid",
    ]);
    assert_eq!(out.status.code(), Some(100));
    let err = text(&out.stderr);
    assert!(
        err.contains("ERROR: --pid-file /nonexistent/d.pid: No such file or directory"),
        "{err}"
    );
}

#[test]
fn zeroconf_is_accepted_with_a_warning() {
    let d = Daemon::start(Kind::Tiny, &["--zeroconf", "--no-fork"]);
    assert!(d
        .wait_log("listening")
        .contains("--zeroconf is not supported in this build"));
    assert!(job(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
}

#[test]
fn nice_and_user_apply_to_the_compiler() {
    let t = Tools::new();
    t.script(
        "whoami-cc",
        "echo \"user=$(id -un) nice=$(cut -d' ' -f19 /proc/self/stat)\"; exec gcc \"$@\"",
    );
    let d = Daemon::start_env(
        Kind::Tiny,
        &[
            "--whitelist-dir",
            t.wl(),
            "--nice",
            "7",
            "--user",
            "nobody",
            "--no-sandbox",
        ],
        &[("PATH", &t.path())],
    );
    let r = text(&job(&d, "whoami-cc"));
    // --nice is an increment: under `nice cargo test` the daemon starts
    // from the test's own niceness (field 19 of /proc/self/stat).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let base: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split(' ')
        .nth(17)
        .unwrap()
        .parse()
        .unwrap();
    let want = format!("user=nobody nice={}", (base + 7).min(19));
    assert!(r.contains(&want), "want {want}: {r}");
}

#[test]
fn insecure_lifts_the_whitelist_only() {
    let t = Tools::new();
    t.script("odd-compiler", "exec gcc \"$@\"");
    for flag in ["--enable-tcp-insecure", "--make-me-a-botnet"] {
        let d = Daemon::start_env(Kind::Tiny, &[flag], &[("PATH", &t.path())]);
        assert!(
            job(&d, "odd-compiler").starts_with(b"DONE00000001STAT00000000"),
            "{flag}"
        );
        // Argument hardening still applies.
        let src = b"int x;\n";
        let r = raw_exchange(
            d.port,
            &request_v1(
                &[
                    "odd-compiler",
                    "-wrapper",
                    "/bin/sh",
                    "-c",
                    "x.c",
                    "-o",
                    "x.o",
                ],
                src,
            ),
            Duration::from_secs(10),
        );
        assert!(r.starts_with(b"DONE00000001STAT00006500"));
    }
    let d = Daemon::start_env(Kind::Tiny, &[], &[("PATH", &t.path())]);
    assert!(job(&d, "odd-compiler").starts_with(b"DONE00000001STAT00006500"));
}

#[test]
fn job_lifetime_kills_and_answers_118() {
    let t = Tools::new();
    t.script("slow-cc", "sleep 30; exec gcc \"$@\"");
    let d = Daemon::start_env(
        Kind::Tiny,
        &["--whitelist-dir", t.wl(), "--job-lifetime", "1"],
        &[("PATH", &t.path())],
    );
    let start = Instant::now();
    let r = job(&d, "slow-cc");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(r.starts_with(b"DONE00000001STAT00007600"), "{:?}", text(&r));
    assert!(d.wait_job("COMPILE_TIMEOUT", "slow-cc"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(d.leftovers_after_reply().is_empty(), "{:?}", d.leftovers());
}

#[test]
fn stats_page() {
    let sp = free_port();
    let d = Daemon::start(Kind::Tiny, &["--stats", "--stats-port", &sp.to_string()]);
    assert!(job(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    assert!(d.wait_job("COMPILE_OK", "gcc"));
    let mut s = TcpStream::connect(("127.0.0.1", sp)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.0 200 OK\n"), "{page}");
    assert!(page.contains("dcc_compile_ok 1\n"), "{page}");
    assert!(page.contains("dcc_tcp_accept "));
    assert!(page.contains("dcc_longest_job x.c\n"));
    assert!(page.trim_end().ends_with("</distccstats>"));
}

fn allow_file(text: &str) -> (TempDir, String) {
    let dir = TempDir::new("allow");
    let p = dir.write("clients.allow", text);
    (dir, p.to_string_lossy().into_owned())
}

#[test]
fn clients_allow_file() {
    // Allowed: etc/distcc/clients.allow's form, plus loopback.
    let (_a, f) = allow_file("# cluster\n192.168.0.0/24 192.168.0.1\n127.0.0.1\n");
    let d = Daemon::start(Kind::Tiny, &["--allow-file", &f]);
    assert!(job(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    // Denied: only the LAN.
    let (_b, f) = allow_file("192.168.0.0/24 192.168.0.1\n");
    let d = Daemon::start(Kind::Tiny, &["--allow-file", &f]);
    let refused =
        b"distccd: 127.0.0.1 refused this client (127.0.0.1 is not in its --allow list)\n";
    assert_eq!(job(&d, "gcc"), refused);
    assert!(d.wait_log("denied").contains("denied by access list"));
    // Empty or missing: everyone refused, said at start with the fix.
    let (_c, f) = allow_file("# nobody yet\n");
    let d = Daemon::start(Kind::Tiny, &["--allow-file", &f]);
    let want = format!(
        "WARNING: no --allow given and {f} lists no clients: every client will be refused; \
         add your network to {f} (a line such as 192.168.0.0/24) or start with --allow 192.168.0.0/24\n"
    );
    assert!(d.wait_log(&want).contains(&want), "{}", d.log_text());
    assert_eq!(job(&d, "gcc"), refused);
    let d = Daemon::start(Kind::Tiny, &["--allow-file", "/nonexistent/clients.allow"]);
    let want = "WARNING: no --allow given and /nonexistent/clients.allow does not exist: \
         every client will be refused; start with --allow 192.168.0.0/24 (your network) \
         or create /nonexistent/clients.allow listing it\n";
    assert!(d.wait_log(want).contains(want), "{}", d.log_text());
    assert!(!d.log_text().contains("lists no clients"));
    // Malformed: a clear error naming file and line; the daemon does not start.
    let (_e, f) = allow_file("192.168.0.0/24\n192.168.0.300\n");
    let out = tinydccd(&[
        "--no-detach",
        "--log-stderr",
        "--port",
        "0",
        "--allow-file",
        &f,
    ]);
    assert_eq!(out.status.code(), Some(101));
    assert!(
        text(&out.stderr).contains(&format!("{f}:2:")),
        "{}",
        text(&out.stderr)
    );
    // --allow-private covers loopback.
    let d = Daemon::start(Kind::Tiny, &["--allow-private"]);
    assert!(job(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
}

/// `-j 2` with 10 stock distcc clients at once: all succeed, never more
/// than two compilers run together.
#[test]
fn job_limit_holds_under_parallel_stock_clients() {
    let t = Tools::new();
    let events = t.dir.join("events");
    std::fs::write(&events, "").unwrap();
    std::fs::set_permissions(&events, std::fs::Permissions::from_mode(0o666)).unwrap();
    t.script(
        "count-cc",
        &format!(
            "case \" $* \" in *\" -E \"*) exec gcc \"$@\";; esac\n\
             echo start >> {ev}; sleep 0.3; gcc \"$@\"; rc=$?; echo end >> {ev}; exit $rc",
            ev = events.display()
        ),
    );
    let d = Daemon::start_env(
        Kind::Tiny,
        &["--whitelist-dir", t.wl(), "-j", "2", "--no-sandbox"],
        &[("PATH", &t.path())],
    );
    let dir = TempDir::new("jlimit");
    let mut kids = Vec::new();
    for i in 0..10 {
        dir.write(
            &format!("f{i}.c"),
            &format!("int f{i}(void) {{ return {i}; }}\n"),
        );
        let mut c = client_cmd(Kind::Stock, dir.path(), &d.host(false));
        c.env("PATH", t.path())
            .env("DISTCC_FALLBACK", "0")
            .args([
                "count-cc",
                "-c",
                &format!("f{i}.c"),
                "-o",
                &format!("f{i}.o"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        kids.push(c.spawn().unwrap());
    }
    for k in kids {
        let out = k.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let ev = std::fs::read_to_string(&events).unwrap();
    let (mut now, mut max) = (0i32, 0i32);
    for l in ev.lines() {
        now += if l == "start" { 1 } else { -1 };
        max = max.max(now);
    }
    assert_eq!(ev.lines().filter(|l| *l == "start").count(), 10, "{ev}");
    assert!(max <= 2, "{max} compilers ran at once");
    assert_eq!(max, 2, "the two slots were used");
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM with a compile running: the compiler's group is killed, the job
/// directory removed, the pid file removed, exit 0. The job ran in $TMPDIR.
#[test]
fn sigterm_during_a_compile_and_tmpdir() {
    let t = Tools::new();
    t.script("sleepy-cc", "sleep 30; exec gcc \"$@\"");
    let piddir = TempDir::new("pid");
    let pidfile = piddir.join("tinydccd.pid");
    let mut d = Daemon::start_env(
        Kind::Tiny,
        &[
            "--whitelist-dir",
            t.wl(),
            "--pid-file",
            pidfile.to_str().unwrap(),
        ],
        &[("PATH", &t.path())],
    );
    // The port accepts once bound; the pid file is written just after (as
    // distccd does it), so it may not be there yet.
    wait_until("the pid file", || pidfile.exists());
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, d.child.id());
    let port = d.port;
    let client = std::thread::spawn(move || {
        let src = b"int x;\n";
        raw_exchange(
            port,
            &request_v1(&["sleepy-cc", "-c", "x.c", "-o", "x.o"], src),
            Duration::from_secs(30),
        )
    });
    // The job directory appears in the daemon's $TMPDIR.
    wait_until("the job directory", || {
        d.leftovers().iter().any(|n| n.starts_with("tinydccd_"))
    });
    // Its own script by path: other tests of this process run `sleep 30` too.
    let sleepy = format!("{}/sleepy-cc", t.wl());
    wait_until("the compiler", || {
        Command::new("pgrep")
            .args(["-f", &sleepy])
            .output()
            .unwrap()
            .status
            .success()
    });
    let st = d.stop();
    assert_eq!(st.code(), Some(0));
    assert!(d.leftovers_after_reply().is_empty(), "{:?}", d.leftovers());
    assert!(!pidfile.exists());
    let _ = client.join();
    assert!(d.log_text().contains("shutting down"));
}

/// SIGHUP reopens the log file, so logrotate can move it away.
#[test]
fn sighup_reopens_the_log_file() {
    let logs = TempDir::new("rotate");
    let log = logs.join("distccd.log");
    let port = free_port();
    let mut child = Command::new(tinydcc())
        .args([
            "--daemon",
            "--no-detach",
            "--listen",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args([
            "--allow",
            "127.0.0.1",
            "--log-level",
            "notice",
            "--log-file",
            log.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    assert!(wait_for_port(port, &mut child));
    let d = Fake { port };
    assert!(job_on(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    wait_until("the first log line", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("COMPILE_OK")
    });
    std::fs::rename(&log, logs.join("distccd.log.1")).unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    wait_until("the new log file", || log.exists());
    assert!(job_on(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    wait_until("a line in the new file", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("COMPILE_OK")
    });
    let old = std::fs::read_to_string(logs.join("distccd.log.1")).unwrap();
    assert_eq!(old.matches("COMPILE_OK").count(), 1);
    // File lines carry a timestamp, the pid and the level.
    let first = old.lines().next().unwrap();
    assert!(
        first.contains(&format!("distccd[{}] ", child.id())),
        "{first}"
    );
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

struct Fake {
    port: u16,
}

fn job_on(d: &Fake, compiler: &str) -> Vec<u8> {
    let src = b"# 1 \"x.c\"\nint x;\n";
    raw_exchange(
        d.port,
        &request_v1(&[compiler, "-c", "x.c", "-o", "x.o"], src),
        Duration::from_secs(30),
    )
}

/// --log-level warning hides the per-job notice lines; refusals still show.
#[test]
fn log_level_filters() {
    let d = Daemon::start(Kind::Tiny, &["--log-level", "warning"]);
    assert!(job(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    assert!(job(&d, "/bin/sh").starts_with(b"DONE00000001STAT00006500"));
    let log = d.wait_log("refused");
    assert!(log.contains("refused"), "{log}");
    assert!(!log.contains("COMPILE_OK"), "{log}");
}

/// --daemon without --no-detach: the command returns, the daemon keeps
/// serving, and its pid file names the detached process.
/// File options take any bytes, joined (`--log-file=F`) or not: distccd's
/// paths need not be UTF-8.
#[test]
fn file_options_need_not_be_utf8() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let dir = TempDir::new("bytesopts");
    let log = dir
        .path()
        .join(std::ffi::OsString::from_vec(b"log\xff".to_vec()));
    let pidfile = dir
        .path()
        .join(std::ffi::OsString::from_vec(b"pid\xfe".to_vec()));
    let mut joined_log = std::ffi::OsString::from("--log-file=");
    joined_log.push(&log);
    let port = free_port();
    let mut child = Command::new(tinydcc())
        .args([
            "--daemon",
            "--no-detach",
            "--listen",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--allow",
            "127.0.0.1",
        ])
        .arg(&joined_log)
        .arg("--pid-file")
        .arg(&pidfile)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for_port(port, &mut child),
        "{:?}",
        child.wait_with_output().map(|o| text(&o.stderr))
    );
    let d = Fake { port };
    assert!(job_on(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    wait_until("the log line", || {
        std::fs::read(&log).is_ok_and(|l| l.windows(10).any(|w| w == b"COMPILE_OK"))
    });
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(pid.trim(), child.id().to_string());
    assert!(pidfile.as_os_str().as_bytes().ends_with(b"pid\xfe"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn detaches_and_writes_pid_file() {
    let dir = TempDir::new("detach");
    let pidfile = dir.join("d.pid");
    let port = free_port();
    let st = Command::new(tinydcc())
        .args([
            "--daemon",
            "--listen",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--allow",
            "127.0.0.1",
        ])
        .args([
            "--log-file",
            dir.join("log").to_str().unwrap(),
            "--pid-file",
            pidfile.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    wait_until("the pid file", || pidfile.exists());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let d = Fake { port };
    assert!(job_on(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_until("the pid file to go", || !pidfile.exists());
    wait_until("the daemon to exit", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
}

/// IPv6: `--listen ::1 --allow ::1/128`.
#[test]
fn ipv6_listen_and_allow() {
    let port = free_port();
    let mut child = Command::new(tinydcc())
        .args([
            "--daemon",
            "--no-detach",
            "--listen",
            "::1",
            "--port",
            &port.to_string(),
        ])
        .args(["--allow", "::1/128", "--log-stderr"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        if let Ok(s) = TcpStream::connect(("::1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "no IPv6 listener");
        std::thread::sleep(Duration::from_millis(20));
    };
    s.write_all(&request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], b"int x;\n"))
        .unwrap();
    let mut r = Vec::new();
    s.read_to_end(&mut r).unwrap();
    assert!(r.starts_with(b"DONE00000001STAT00000000"));
    let _ = child.kill();
    let _ = child.wait();
}

/// With no entries in the whitelist directory (Void's case), well-known
/// compiler drivers on PATH are allowed, and the daemon says so at start.
#[test]
fn builtin_whitelist_when_the_directory_is_empty() {
    let empty = TempDir::new("emptywl");
    std::fs::create_dir(empty.join("bin")).unwrap();
    let d = Daemon::start(
        Kind::Tiny,
        &["--whitelist-dir", empty.path().to_str().unwrap()],
    );
    assert!(
        d.log_text()
            .contains("is missing or empty: allowing well-known compiler drivers"),
        "{}",
        d.log_text()
    );
    assert!(job(&d, "gcc").starts_with(b"DONE00000001STAT00000000"));
    assert!(job(&d, "/usr/bin/gcc").starts_with(b"DONE00000001STAT00000000"));
    assert!(job(&d, "sh").starts_with(b"DONE00000001STAT00006500"));
    assert!(job(&d, "python3").starts_with(b"DONE00000001STAT00006500"));
}

/// DISTCC_IO_TIMEOUT drops a connection that stops sending.
#[test]
fn io_timeout_drops_idle_connections() {
    let d = Daemon::start_env(Kind::Tiny, &[], &[("DISTCC_IO_TIMEOUT", "1")]);
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.write_all(b"DIST00000001ARGC00000004").unwrap();
    let t = Instant::now();
    assert!(closed_by_peer(&mut s, Duration::from_secs(10)));
    assert!(t.elapsed() >= Duration::from_millis(900));
    assert!(d
        .wait_log("I/O timeout")
        .contains("I/O timeout; dropping connection"));
}

/// Without --log-file or --log-stderr the daemon logs to syslog, facility
/// daemon, ident distccd. Proved in a private mount namespace where our
/// own datagram socket stands in for the system's syslog.
#[test]
#[ignore = "slow tier (root, mount namespace): tests/run runs it"]
fn logs_to_syslog_by_default() {
    let unshare = require("unshare");
    let py = require("python3");
    let dir = TempDir::new("syslog");
    let out = dir.join("syslog.txt");
    let port = free_port();
    let script = format!(
        r#"set -e
mount -t tmpfs tinydcc-test /run
{py} -c '
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/syslog")
open("/run/ready", "w").close()
with open("{out}", "ab") as f:
    while True:
        f.write(s.recv(65536) + b"\n"); f.flush()
' &
while [ ! -e /run/ready ]; do sleep 0.05; done
if [ -e /dev/log ]; then mount --bind /run/syslog /dev/log; fi
{bin} --daemon --no-detach --listen 127.0.0.1 --port {port} --allow 127.0.0.1 &
sleep 1
kill %2 %1
"#,
        py = py.display(),
        out = out.display(),
        bin = tinydcc().display(),
    );
    let st = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "bash", "-c", &script])
        .status()
        .unwrap();
    assert!(st.success(), "namespace script failed: {st}");
    let log = std::fs::read_to_string(&out).unwrap_or_default();
    // <29> = facility daemon (3) * 8 + notice (5).
    assert!(log.contains("<29>") && log.contains("distccd["), "{log}");
    assert!(log.contains("listening on port"), "{log}");
}
