//! The client on its own: fallback, local-only commands, atomic outputs,
//! masquerading, dispatch by program name, host-list errors.

use crate::common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

fn same_as_local(dir: &TempDir, src: &str, obj: &str) {
    assert!(local_gcc(dir.path(), &["-c", src, "-o", "ref.o"])
        .status
        .success());
    assert_eq!(
        std::fs::read(dir.join("ref.o")).unwrap(),
        std::fs::read(dir.join(obj)).unwrap(),
        "{obj} differs from a local compile"
    );
}

#[test]
fn unreachable_host_falls_back_locally() {
    let dir = TempDir::new("fallback");
    dir.write("x.c", HELLO);
    let dead = free_port();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{dead}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("failed to connect"), "{err}");
    assert!(err.contains("running locally instead"), "{err}");
    same_as_local(&dir, "x.c", "x.o");
}

#[test]
fn fallback_disabled_fails_with_distcc_code() {
    let dir = TempDir::new("nofallback");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(
        Kind::Tiny,
        dir.path(),
        &format!("127.0.0.1:{}", free_port()),
    );
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    // distcc 3.4 ends with EXIT_NO_HOSTS once every host failed.
    assert_eq!(out.status.code(), Some(116), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("fallbacks are disabled"));
    assert!(!dir.join("x.o").exists());
    let mut c = client_cmd(
        Kind::Stock,
        dir.path(),
        &format!("127.0.0.1:{}", free_port()),
    );
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_FALLBACK", "0");
    assert_eq!(run(c).status.code(), Some(116), "stock distcc agrees");
}

/// Linking, -E and several sources never contact a host.
#[test]
fn local_only_commands_stay_local() {
    let dir = TempDir::new("localonly");
    dir.write("a.c", HELLO);
    dir.write("b.c", "int b(void) { return 1; }\n");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    for args in [
        &["gcc", "a.c", "-o", "prog"][..],
        &["gcc", "-E", "a.c", "-o", "a.i"],
        &["gcc", "-c", "a.c", "b.c"],
        &["gcc", "-S", "b.c", "-o", "-"],
    ] {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &host);
        c.args(args);
        let out = run(c);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    assert!(dir.join("prog").exists() && dir.join("a.i").exists() && dir.join("b.o").exists());
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a local-only command contacted the host"
    );
}

/// A server that accepts one job and answers with `reply`.
fn fake_server(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 65536];
        // Read until the client has sent its request and waits.
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = s.write_all(reply);
    });
    (port, h)
}

/// A server that accepts one job and answers with a truncated object.
fn truncating_server() -> (u16, std::thread::JoinHandle<()>) {
    let mut reply = b"DONE00000001STAT00000000SERR00000000SOUT00000000DOTO00001000".to_vec();
    reply.extend_from_slice(&[0x7f; 100]);
    fake_server(reply.leak())
}

#[test]
fn truncated_reply_never_leaves_a_partial_object() {
    let dir = TempDir::new("trunc");
    dir.write("x.c", HELLO);
    std::fs::write(dir.join("x.o"), b"previous object").unwrap();
    let (port, h) = truncating_server();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    h.join().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("closed in the middle"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("x.o")).unwrap(), b"previous object");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".distcc"))
        .collect();
    assert_eq!(names.len(), 2, "temp files left: {names:?}");

    // With fallback (the default) the same failure ends in a correct object.
    let (port, h) = truncating_server();
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    h.join().unwrap();
    assert!(out.status.success());
    same_as_local(&dir, "x.c", "x.o");
}

/// A server that says success but sends an empty object (`DOTO00000000`):
/// a failed job, never a 0-byte `.o`. And a failure that also sends an
/// object: the compile error stands, the object is not installed.
#[test]
fn empty_or_failed_object_is_never_installed() {
    let dir = TempDir::new("emptyobj");
    dir.write("x.c", HELLO);
    std::fs::write(dir.join("x.o"), b"previous object").unwrap();
    let empty: &[u8] = b"DONE00000001STAT00000000SERR00000000SOUT00000000DOTO00000000";
    let (port, h) = fake_server(empty);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    h.join().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("the server reported success but sent an empty object file"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("x.o")).unwrap(), b"previous object");
    // With fallback: compiled here.
    let (port, h) = fake_server(empty);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    h.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(&dir, "x.c", "x.o");

    // Exit 1 with an object: gcc's error stands, the object is dropped.
    std::fs::write(dir.join("x.o"), b"previous object").unwrap();
    let (port, h) =
        fake_server(b"DONE00000001STAT00000100SERR00000006error\nSOUT00000000DOTO00000004\x7fELF");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    h.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(compiler_lines(&out.stderr), "error\n");
    assert_eq!(std::fs::read(dir.join("x.o")).unwrap(), b"previous object");
    let names = entries(dir.path());
    assert!(
        names.iter().all(|n| !n.contains(".tinydcc-")),
        "temp files left: {names:?}"
    );
}

/// `gcc -> tinydcc` early on PATH: distributes, finds the real gcc, no loop.
#[test]
fn masquerade_symlink() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("masq");
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(tinydcc(), bin.join("gcc")).unwrap();
    dir.write("m.c", HELLO);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
    c.env("PATH", &path).env("DISTCC_FALLBACK", "0");
    // client_cmd runs tinydcc; run the masquerade link instead.
    let mut m = std::process::Command::new(bin.join("gcc"));
    m.current_dir(dir.path())
        .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))));
    m.args(["-c", "m.c", "-o", "m.o"]);
    let out = run(m);
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(&dir, "m.c", "m.o");
    assert!(d.wait_job("COMPILE_OK", "m.c"), "{}", d.log_text());
    // Linking through the link runs the real gcc locally.
    let mut l = std::process::Command::new(bin.join("gcc"));
    l.current_dir(dir.path())
        .env("PATH", &path)
        .env("DISTCC_HOSTS", d.host(false));
    l.args(["m.o", "-o", "hello"]);
    assert!(run(l).status.success());
    let hello = run(std::process::Command::new(dir.join("hello")));
    assert_eq!(text(&hello.stdout), "Hello distcc\n");
}

/// argv[0] decides the role: distcc → client, distccd/tinydccd → daemon.
#[test]
fn dispatch_by_program_name() {
    let dir = TempDir::new("names");
    for (name, expect) in [
        ("distccd", "tinydccd"),
        ("tinydccd", "tinydccd"),
        ("distcc", "tinydcc "),
        ("tinydcc", "tinydcc "),
    ] {
        let link = dir.join(name);
        std::os::unix::fs::symlink(tinydcc(), &link).unwrap();
        let out = run({
            let mut c = std::process::Command::new(&link);
            c.arg("--version");
            c
        });
        assert!(out.status.success());
        assert!(
            text(&out.stdout).starts_with(expect),
            "{name}: {}",
            text(&out.stdout)
        );
    }
    let out = run({
        let mut c = std::process::Command::new(tinydcc());
        c.args(["--daemon", "--version"]);
        c
    });
    assert!(text(&out.stdout).starts_with("tinydccd"));
    let out = run({
        let mut c = std::process::Command::new(tinydcc());
        c.args(["--daemon", "--bogus"]);
        c
    });
    assert_eq!(out.status.code(), Some(101));
    assert!(text(&out.stderr).contains("--bogus: unknown option"));
}

/// `tinydcc -c x.c` means `cc -c x.c`.
#[test]
fn implicit_compiler() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("implicit");
    dir.write("i.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["-c", "i.c"]).env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(d.wait_job("COMPILE_OK", "cc i.c"), "{}", d.log_text());
    same_as_local(&dir, "i.c", "i.o");
}

#[test]
fn malformed_hosts_line_is_named_and_compile_still_works() {
    let dir = TempDir::new("badhosts");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), "127.0.0.1/2\nbox,up");
    c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
    let out = run(c);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("$DISTCC_HOSTS:2:") && err.contains("unrecognized option 'up'"),
        "{err}"
    );
    same_as_local(&dir, "x.c", "x.o");
    // With fallback off, distcc's exit code (EXIT_NO_HOSTS), checked
    // against stock distcc.
    for kind in [Kind::Tiny, Kind::Stock] {
        let mut c = client_cmd(kind, dir.path(), "box,up");
        c.args(["gcc", "-c", "x.c", "-o", "y.o"])
            .env("DISTCC_FALLBACK", "0");
        assert_eq!(run(c).status.code(), Some(116), "{kind:?}");
    }
    // The hosts file in DISTCC_DIR is named by path.
    let ddir = dir.join(".distcc-private");
    std::fs::write(ddir.join("hosts"), "# cluster\nlocalhost\n[::1\n").unwrap();
    let mut c = client_cmd(Kind::Tiny, dir.path(), "");
    c.env_remove("DISTCC_HOSTS").args(["--show-hosts"]);
    let err = text(&run(c).stderr);
    assert!(
        err.contains(&format!("{}:3:", ddir.join("hosts").display())),
        "{err}"
    );
}

#[test]
fn show_hosts_and_j() {
    let dir = TempDir::new("show");
    let hosts = "localhost/3 127.0.0.1:3632/6,lzo hostb=7";
    let mut c = client_cmd(Kind::Tiny, dir.path(), hosts);
    c.arg("--show-hosts");
    assert_eq!(
        text(&run(c).stdout),
        "localhost/3\n127.0.0.1:3632/6,lzo\nhostb=7\n"
    );
    let mut c = client_cmd(Kind::Tiny, dir.path(), hosts);
    c.arg("-j");
    assert_eq!(text(&run(c).stdout), "13\n");
    let mut c = client_cmd(Kind::Stock, dir.path(), hosts);
    c.arg("-j");
    assert_eq!(text(&run(c).stdout), "13\n", "stock distcc agrees");
}
