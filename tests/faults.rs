//! Fault injection: compilers and daemons killed mid-job, a full scratch
//! disk, a descriptor limit, a host that never answers. In each case the
//! build result is correct, no partial object appears, temp dirs are
//! cleaned and the daemon serves again.

use crate::common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tool(dir: &TempDir, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    )
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of the server-side compile of `compiler` (its argv names the
/// daemon's job directory), if it runs.
fn server_compile(compiler: &str) -> Option<i32> {
    let out = Command::new("pgrep")
        .args(["-f", &format!("{compiler} .*tinydccd_")])
        .output()
        .unwrap();
    text(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
}

/// Kill the compile's whole process group (the script and its sleep).
fn kill_group(pid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Build `name.c` through `hosts` with our client in the background.
fn spawn_client(
    dir: &TempDir,
    hosts: &str,
    compiler: &str,
    name: &str,
    path: &str,
) -> std::process::Child {
    dir.write(&format!("{name}.c"), HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), hosts);
    c.env("PATH", path)
        .args([
            compiler,
            "-c",
            &format!("{name}.c"),
            "-o",
            &format!("{name}.o"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

fn same_as_local(dir: &TempDir, name: &str) {
    assert!(
        local_gcc(dir.path(), &["-c", &format!("{name}.c"), "-o", "ref.o"])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(dir.join(&format!("{name}.o"))).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap(),
        "{name}.o differs from a local compile"
    );
}

#[test]
fn compiler_killed_mid_job() {
    let tools = TempDir::new("killcc");
    let cc = format!("victim{}-cc", std::process::id());
    let path = tool(
        &tools,
        &cc,
        "# slow only on the server (in a job dir), not for the local fallback\ncase \"$PWD\" in *tinydccd_*) sleep 30;; esac\nexec gcc \"$@\"",
    );
    std::os::unix::fs::symlink("/usr/bin/gcc", tools.join("gcc")).unwrap();
    let d = Daemon::start_env(
        Kind::Tiny,
        &["--whitelist-dir", tools.path().to_str().unwrap()],
        &[("PATH", &path)],
    );
    let dir = TempDir::new("killcc-build");
    let client = spawn_client(&dir, &d.host(false), &cc, "k", &path);
    wait_until("the compiler", || server_compile(&cc).is_some());
    kill_group(server_compile(&cc).unwrap());
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(&dir, "k");
    assert!(d.wait_job("COMPILE_ERROR", "k.c"), "{}", d.log_text());
    assert!(d.leftovers_after_reply().is_empty());
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.write_all(&request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], b"int x;\n"))
        .unwrap();
    let mut r = Vec::new();
    s.read_to_end(&mut r).unwrap();
    assert!(r.starts_with(b"DONE00000001STAT00000000"));
}

#[test]
fn daemon_killed_mid_job() {
    let tools = TempDir::new("killd");
    let cc = format!("slow{}-cc", std::process::id());
    let path = tool(
        &tools,
        &cc,
        "# slow only on the server (in a job dir), not for the local fallback\ncase \"$PWD\" in *tinydccd_*) sleep 30;; esac\nexec gcc \"$@\"",
    );
    let wl = tools.path().to_str().unwrap().to_string();
    let mut d = Daemon::start_env(Kind::Tiny, &["--whitelist-dir", &wl], &[("PATH", &path)]);
    let dir = TempDir::new("killd-build");
    std::fs::write(dir.join("d.o"), b"old object").unwrap();
    let client = spawn_client(&dir, &d.host(false), &cc, "d", &path);
    wait_until("the compiler", || server_compile(&cc).is_some());
    let compiler = server_compile(&cc).unwrap();
    d.child.kill().unwrap(); // SIGKILL: no cleanup at all
    let _ = d.child.wait();
    let out = client.wait_with_output().unwrap();
    kill_group(compiler);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("running locally instead"),
        "{}",
        text(&out.stderr)
    );
    same_as_local(&dir, "d");
    // What the killed daemon left is removed by the next one in that TMPDIR.
    assert!(
        !d.leftovers_after_reply().is_empty(),
        "the killed daemon's job dir should be there"
    );
    let scratch = d.tmp.path().to_str().unwrap().to_string();
    let d2 = Daemon::start_env(Kind::Tiny, &[], &[("TMPDIR", &scratch)]);
    // The port listens before the start-up clean-up is logged: wait for it.
    let log = d2.wait_log("removed 1 job directories");
    assert!(log.contains("removed 1 job directories"), "{log}");
    assert!(d.leftovers_after_reply().is_empty());
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d2.host(false));
    c.args(["gcc", "-c", "d.c", "-o", "d2.o"])
        .env("DISTCC_FALLBACK", "0");
    assert!(run(c).status.success());
}

/// $TMPDIR on a tiny tmpfs (in a private mount namespace): a source too big
/// for it fails on the server, the client compiles locally, the daemon
/// cleans up and still serves small jobs.
#[test]
#[ignore = "slow tier (root, mount namespace): tests/run runs it"]
fn scratch_disk_full() {
    let unshare = require("unshare");
    let scratch = TempDir::new("fullfs");
    let port = free_port();
    let log = TempDir::new("fullfs-log");
    let script = format!(
        "mount -t tmpfs -o size=256k tinydcc-test {s} && chmod 1777 {s} && \
         TMPDIR={s} exec {bin} --daemon --no-detach --listen 127.0.0.1 --port {port} --allow 127.0.0.1 \
         --log-file {log}/d.log --log-level info",
        s = scratch.path().display(),
        bin = tinydcc().display(),
        log = log.path().display()
    );
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut guard = Kill(
        Command::new(unshare)
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .spawn()
            .unwrap(),
    );
    let daemon = &mut guard.0;
    assert!(wait_for_port(port, daemon));
    let dir = TempDir::new("fullfs-build");
    // About 1 MiB of preprocessed source: more than the scratch disk holds.
    let big: String = (0..40_000).map(|i| format!("int v{i} = {i};\n")).collect();
    dir.write("big.c", &big);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "big.c", "-o", "big.o"]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("running locally instead"),
        "{}",
        text(&out.stderr)
    );
    same_as_local(&dir, "big");
    let dlog = std::fs::read_to_string(log.join("d.log")).unwrap();
    assert!(dlog.contains("No space left on device"), "{dlog}");
    // Small jobs still work, and nothing is left on the little disk.
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    dir.write("small.c", HELLO);
    // The big job's failure put the host in backoff in this DISTCC_DIR;
    // period 0 ignores that, so the daemon itself is what is tested here.
    c.args(["gcc", "-c", "small.c", "-o", "small.o"])
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_BACKOFF_PERIOD", "0");
    assert!(run(c).status.success());
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .flatten()
        .collect();
    drop(guard);
    assert!(left.is_empty(), "{left:?}");
}

/// With `ulimit -n 32`, forty clients at once all get served: accept()
/// running out of descriptors pauses until a connection closes.
#[test]
fn descriptor_limit() {
    let port = free_port();
    let logs = TempDir::new("ulimit");
    let script = format!(
        "ulimit -n 32 && exec {} --daemon --no-detach --listen 127.0.0.1 --port {port} --allow 127.0.0.1 -j 2 \
         --log-file {}/d.log --log-level info",
        tinydcc().display(),
        logs.path().display()
    );
    let daemon = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut daemon = Kill(daemon);
    assert!(wait_for_port(port, &mut daemon.0));
    let mut conns = Vec::new();
    for i in 0..40 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let src = format!("int v{i};\n");
        s.write_all(&request_v1(
            &["gcc", "-c", "x.c", "-o", "x.o"],
            src.as_bytes(),
        ))
        .unwrap();
        conns.push(s);
    }
    for mut s in conns {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut r = Vec::new();
        s.read_to_end(&mut r).unwrap();
        assert!(
            r.starts_with(b"DONE00000001STAT00000000"),
            "{:?}",
            text(&r[..r.len().min(60)])
        );
    }
    let log = std::fs::read_to_string(logs.join("d.log")).unwrap();
    assert!(
        log.contains("accept failed") || log.contains("not accepting more"),
        "{log}"
    );
}

/// A host that accepts and never answers: the client gives up after
/// DISTCC_IO_TIMEOUT and compiles locally.
#[test]
fn host_that_never_answers() {
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    // Silent until the client is done (at most 8 s), not 8 s every time.
    let (done, client_done) = std::sync::mpsc::channel::<()>();
    let held = std::thread::spawn(move || {
        let (s, _) = hole.accept().unwrap();
        let _ = client_done.recv_timeout(Duration::from_secs(8));
        drop(s);
    });
    let dir = TempDir::new("silent");
    dir.write("s.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "s.c", "-o", "s.o"])
        .env("DISTCC_IO_TIMEOUT", "2");
    let t = Instant::now();
    let out = run(c);
    let took = t.elapsed();
    let _ = done.send(());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert!(text(&out.stderr).contains("running locally instead"));
    same_as_local(&dir, "s");
    held.join().unwrap();
}

/// Compilers that exit 0 but leave no usable object on the server: none
/// written, an empty one, one the daemon (running as nobody) cannot read.
/// The daemon answers EXIT_IO_ERROR (107) with the reason in SERR, never
/// success with an empty object; the client then keeps the old `.o`
/// (fallback off) or compiles locally, and the daemon still serves.
#[test]
fn success_without_an_object_is_a_failure() {
    let tools = TempDir::new("noobj");
    let find_out = "for a; do case \"$prev\" in -o) out=$a;; esac; prev=$a; done";
    let cases = [
        (
            "noobj-cc",
            "exit 0",
            "compiler exited 0 but wrote no object file",
        ),
        (
            "emptyobj-cc",
            ": > \"$out\"",
            "compiler exited 0 but wrote an empty object file",
        ),
        (
            "lockedobj-cc",
            "echo object > \"$out\"; chmod 000 \"$out\"",
            "compiler exited 0 but its object file cannot be read: Permission denied",
        ),
    ];
    let mut path = String::new();
    for (name, body, _) in cases {
        // Faulty only on the server (in a job dir): the fallback is gcc.
        path = tool(
            &tools,
            name,
            &format!(
                "case \"$PWD\" in *tinydccd_*) {find_out}; {body}; exit 0;; esac\nexec gcc \"$@\""
            ),
        );
    }
    std::os::unix::fs::symlink(require("gcc"), tools.join("gcc")).unwrap();
    let wl = tools.path().to_str().unwrap().to_string();
    let d = Daemon::start_env(Kind::Tiny, &["--whitelist-dir", &wl], &[("PATH", &path)]);
    for (name, _, why) in cases {
        let r = raw_exchange(
            d.port,
            &request_v1(&[name, "-c", "x.c", "-o", "x.o"], b"int x;\n"),
            Duration::from_secs(30),
        );
        let serr = format!("distccd: {why}\n");
        let want = format!(
            "DONE00000001STAT00006b00SERR{:08x}{serr}SOUT00000000DOTO00000000",
            serr.len()
        );
        assert_eq!(text(&r), want, "{name}");
        assert!(d.wait_job("OTHER exit:107", name), "{}", d.log_text());
        let log = d.log_text();
        let warning = format!(" {name} x.c: {why}; answered as a failure");
        assert!(
            log.lines()
                .any(|l| l.contains("WARNING: client 127.0.0.1:") && l.ends_with(&warning)),
            "{log}"
        );
        assert!(
            !log.lines()
                .any(|l| l.contains("COMPILE_OK") && l.contains(name)),
            "{log}"
        );

        // Protocol 2 through our client, fallback off: the old object stays.
        let dir = TempDir::new("noobj-build");
        dir.write("n.c", HELLO);
        std::fs::write(dir.join("n.o"), b"old object").unwrap();
        let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
        c.env("PATH", &path)
            .env("DISTCC_FALLBACK", "0")
            .args([name, "-c", "n.c", "-o", "n.o"]);
        let out = run(c);
        assert_ne!(out.status.code(), Some(0), "{name}");
        assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
        assert_eq!(std::fs::read(dir.join("n.o")).unwrap(), b"old object");
        // With fallback: compiled here, the object a local gcc makes.
        let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
        c.env("PATH", &path).args([name, "-c", "n.c", "-o", "n.o"]);
        let out = run(c);
        assert!(out.status.success(), "{}", text(&out.stderr));
        same_as_local(&dir, "n");
    }
    assert!(d.leftovers_after_reply().is_empty(), "{:?}", d.leftovers());
    let r = raw_exchange(
        d.port,
        &request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], b"int x;\n"),
        Duration::from_secs(30),
    );
    assert!(r.starts_with(b"DONE00000001STAT00000000"));
    assert!(!r.ends_with(b"DOTO00000000"));
}
