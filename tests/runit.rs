//! runit/: the service directory that drops into /etc/sv/distcc on Void.
//! First the command line `run` builds from Void's conf variables (OPTS,
//! USER), runit/conf's OPTIONS example and clients.allow, with a stand-in
//! binary; then Debian's real runit (runsv, sv, svlogd) supervising a
//! private copy of the service: up, a compile, `sv down` (clean exit 0, no
//! job dirs, pid file gone), `sv up`, and the log lines. Last,
//! runit/install into a private root: the tree the README's install steps
//! describe.

use crate::common;
use common::arm::whitelist;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A private copy of runit/ (run, and log/run when `with_log`), with no conf.
fn service_dir(dir: &TempDir, with_log: bool) -> PathBuf {
    let svc = dir.join("svc");
    std::fs::create_dir_all(&svc).unwrap();
    std::fs::copy(repo("runit/run"), svc.join("run")).unwrap();
    if with_log {
        std::fs::create_dir_all(svc.join("log")).unwrap();
        std::fs::copy(repo("runit/log/run"), svc.join("log/run")).unwrap();
    }
    svc
}

fn private_dir(dir: &TempDir, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(&p).unwrap();
    // The daemon drops root to nobody and must write here.
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    p
}

/// A stand-in for tinydcc that records its arguments, one per line.
fn recorder(dir: &TempDir, name: &str) -> (PathBuf, PathBuf) {
    let bin = dir.join(name);
    let out = dir.join(&format!("{name}.args"));
    script(
        &bin,
        &format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n", out.display()),
    );
    (bin, out)
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run the service's ./run as runsv would (cwd = the service dir) and
/// return the arguments the binary got.
fn run_args(svc: &Path, args_file: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let _ = std::fs::remove_file(args_file);
    let out = Command::new(svc.join("run"))
        .current_dir(svc)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", text(&out.stdout));
    std::fs::read_to_string(args_file)
        .unwrap_or_else(|e| panic!("run did not exec the binary ({e}): {}", text(&out.stdout)))
        .lines()
        .map(String::from)
        .collect()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn run_builds_voids_command_line() {
    let dir = TempDir::new("runit-args");
    let svc = service_dir(&dir, false);
    let (fake, args) = recorder(&dir, "fake-tinydcc");
    let allow = dir.write(
        "clients.allow",
        "# who may compile here\n\n10.0.0.0/8   # the lab\n192.168.0.0/24 192.168.0.1\n",
    );
    let conf = |body: &str| {
        std::fs::write(
            svc.join("conf"),
            format!("TINYDCC={}\n{body}", fake.display()),
        )
        .unwrap()
    };

    // No settings: Void's defaults; an empty or missing clients.allow means
    // this machine only; a USER inherited from a root shell is ignored.
    conf("ALLOW_FILE=/nonexistent/clients.allow\n");
    assert_eq!(
        run_args(&svc, &args, &[("USER", "root"), ("OPTS", "--verbose")]),
        words("--daemon --no-detach --user nobody --log-level=warning --allow 127.0.0.1")
    );
    let empty = dir.write("empty.allow", "# nobody yet\n\n");
    conf(&format!("ALLOW_FILE={}\nOPTS=\n", empty.display()));
    assert_eq!(
        run_args(&svc, &args, &[]),
        words("--daemon --no-detach --user nobody --log-level=warning --allow 127.0.0.1")
    );

    // Void's conf: OPTS and USER; clients.allow entries, comments stripped.
    conf(&format!(
        "ALLOW_FILE={}\nOPTS=\"--log-level=info --jobs 2\"\nUSER=distcc\n",
        allow.display()
    ));
    assert_eq!(
        run_args(&svc, &args, &[]),
        words(
            "--daemon --no-detach --user distcc --log-level=info --jobs 2 \
             --allow 10.0.0.0/8 --allow 192.168.0.0/24 --allow 192.168.0.1"
        )
    );

    // A result cache: made and given to the daemon's user, which opens it
    // after dropping root.
    let cache = dir.join("cache/tinydcc");
    conf(&format!(
        "ALLOW_FILE=/nonexistent\nCACHE_DIR={}\nCACHE_SIZE=2G\n",
        cache.display()
    ));
    assert_eq!(
        run_args(&svc, &args, &[]),
        words(&format!(
            "--daemon --no-detach --user nobody --log-level=warning \
             --cache-dir {} --cache-size 2G --allow 127.0.0.1",
            cache.display()
        ))
    );
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&cache).unwrap());
    assert_eq!(
        owner,
        nix::unistd::User::from_name("nobody")
            .unwrap()
            .unwrap()
            .uid
            .as_raw()
    );

    // runit/conf's OPTIONS example comes after OPTS (the daemon takes the
    // last --log-level, so notice wins over Void's default warning).
    conf(&format!(
        "ALLOW_FILE={}\nOPTIONS=\"--log-level notice --log-file /var/log/distccd.log\"\n",
        allow.display()
    ));
    assert_eq!(
        run_args(&svc, &args, &[]),
        words(
            "--daemon --no-detach --user nobody --log-level=warning \
             --log-level notice --log-file /var/log/distccd.log \
             --allow 10.0.0.0/8 --allow 192.168.0.0/24 --allow 192.168.0.1"
        )
    );
}

/// The shipped conf (all comments) and the example clients.allow in
/// /etc/distcc, with tinydcc found on PATH: what a fresh board runs.
#[test]
#[ignore = "slow tier (runit, namespaces): tests/run runs it"]
fn run_with_shipped_conf_and_example_clients_allow() {
    let unshare = require("unshare");
    let dir = TempDir::new("runit-shipped");
    let svc = service_dir(&dir, false);
    std::fs::copy(repo("runit/conf"), svc.join("conf")).unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let (_, args) = recorder(&dir, "bin/tinydcc");
    let sh = format!(
        "[ -d /etc/distcc ] || exit 98; mount -t tmpfs tinydcc-test /etc/distcc || exit 99; \
         cp '{}' /etc/distcc/clients.allow && cd '{}' && exec ./run",
        repo("etc/distcc/clients.allow").display(),
        svc.display()
    );
    let out = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &sh])
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    let got: Vec<String> = std::fs::read_to_string(&args)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        got,
        words(
            "--daemon --no-detach --user nobody --log-level=warning \
             --allow 192.168.0.0/24 --allow 192.168.0.1"
        )
    );
}

/// runsv supervising a service directory; `sv exit` and a kill on drop.
struct RunSv {
    child: Child,
    svc: PathBuf,
}

impl RunSv {
    fn start(svc: &Path, out: &Path) -> RunSv {
        let out = std::fs::File::create(out).unwrap();
        let child = Command::new(require("runsv"))
            .arg(svc)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .env_remove("USER")
            .process_group(0)
            .spawn()
            .unwrap();
        RunSv {
            child,
            svc: svc.to_path_buf(),
        }
    }

    /// `sv -w 15 -v CMD svc`: its exit status and output.
    fn sv(&self, cmd: &str) -> (i32, String) {
        let out = Command::new(require("sv"))
            .args(["-w", "15", "-v", cmd])
            .arg(&self.svc)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout) + &text(&out.stderr),
        )
    }
}

impl Drop for RunSv {
    fn drop(&mut self) {
        let _ = self.sv("exit");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Compile hello through the service and compare with a local compile.
fn compile_through(dir: &TempDir, port: u16, n: u32) {
    dir.write("hello_distcc.c", HELLO);
    let obj = format!("hello{n}.o");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port}"));
    c.env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-c", "hello_distcc.c", "-o", &obj]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let local = local_gcc(dir.path(), &["-c", "hello_distcc.c", "-o", "local.o"]);
    assert!(local.status.success());
    assert_eq!(
        std::fs::read(dir.join(&obj)).unwrap(),
        std::fs::read(dir.join("local.o")).unwrap()
    );
}

fn count(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[test]
#[ignore = "slow tier (runit, namespaces): tests/run runs it"]
fn runsv_runs_stops_and_restarts_the_service() {
    let dir = TempDir::new("runit-sv");
    let svc = service_dir(&dir, false);
    let scratch = private_dir(&dir, "scratch");
    let piddir = private_dir(&dir, "piddir");
    let pid_file = piddir.join("distccd.pid");
    let log = dir.join("distccd.log");
    let wl = whitelist(&dir, &["gcc", "cc", "x86_64-linux-gnu-gcc"]);
    let allow = dir.write("clients.allow", "# loopback only\n127.0.0.1\n");
    let port = free_port();
    // Void's OPTS plus runit/conf's OPTIONS example (with private paths).
    std::fs::write(
        svc.join("conf"),
        format!(
            "TINYDCC={bin}\n\
             OPTS=\"--log-level=warning --listen 127.0.0.1 --port {port} --whitelist-dir {wl}\"\n\
             OPTIONS=\"--log-level notice --log-file {log} --pid-file {pid}\"\n\
             ALLOW_FILE={allow}\n\
             TMPDIR={scratch}\n",
            bin = tinydcc().display(),
            wl = wl.display(),
            log = log.display(),
            pid = pid_file.display(),
            allow = allow.display(),
            scratch = scratch.display(),
        ),
    )
    .unwrap();
    let finish_log = dir.join("finish.log");
    script(
        &svc.join("finish"),
        &format!("#!/bin/sh\necho \"$1 $2\" >> '{}'\n", finish_log.display()),
    );

    let rs = RunSv::start(&svc, &dir.join("runsv.out"));
    wait_for("the service's port", || port_open(port).then_some(()));
    let (code, st) = rs.sv("status");
    assert!(code == 0 && st.starts_with("run: "), "{st}");
    compile_through(&dir, port, 1);
    wait_for("the notice line", || {
        (count(&log, "notice") > 0 && count(&log, "COMPILE_OK") == 1).then_some(())
    });

    // Dropped root to nobody (the run script's default USER).
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap().uid;
    assert!(
        uid.split_whitespace()
            .skip(1)
            .all(|u| u == nobody.to_string()),
        "{uid}"
    );

    let (code, out) = rs.sv("down");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok: down: "), "{out}");
    // runsv passes ./finish the exit code and the signal: a clean exit 0.
    let fin = wait_for("./finish", || {
        std::fs::read_to_string(&finish_log)
            .ok()
            .filter(|s| !s.is_empty())
    });
    assert_eq!(
        fin.trim(),
        "0 0",
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(!port_open(port));
    assert!(!pid_file.exists(), "pid file left behind");
    // The pump header store (default `$TMPDIR/tinydcc-headers`) is meant
    // to outlive the daemon; job directories are not.
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "tinydcc-headers")
        .collect();
    assert!(left.is_empty(), "job dirs left behind: {left:?}");

    let (code, out) = rs.sv("up");
    assert_eq!(code, 0, "{out}");
    wait_for("the port again", || port_open(port).then_some(()));
    compile_through(&dir, port, 2);
    wait_for("the second job's line", || {
        (count(&log, "COMPILE_OK") == 2).then_some(())
    });
    assert_eq!(count(&log, "listening on port"), 2);
    drop(rs);
    assert!(!pid_file.exists(), "pid file left behind after exit");
}

/// log/run: with --log-stderr in OPTS the daemon's lines reach svlogd.
#[test]
#[ignore = "slow tier (runit, namespaces): tests/run runs it"]
fn svlogd_log_service_collects_daemon_lines() {
    require("svlogd");
    let dir = TempDir::new("runit-log");
    let svc = service_dir(&dir, true);
    let scratch = private_dir(&dir, "scratch");
    let logdir = dir.join("svlogd");
    let wl = whitelist(&dir, &["gcc", "cc", "x86_64-linux-gnu-gcc"]);
    let port = free_port();
    std::fs::write(
        svc.join("conf"),
        format!(
            "TINYDCC={bin}\n\
             OPTS=\"--log-stderr --log-level=notice --listen 127.0.0.1 --port {port} --whitelist-dir {wl}\"\n\
             ALLOW_FILE=/nonexistent\n\
             TMPDIR={scratch}\n\
             LOG_DIR={logdir}\n",
            bin = tinydcc().display(),
            wl = wl.display(),
            scratch = scratch.display(),
            logdir = logdir.display(),
        ),
    )
    .unwrap();
    let rs = RunSv::start(&svc, &dir.join("runsv.out"));
    wait_for("the service's port", || port_open(port).then_some(()));
    compile_through(&dir, port, 1);
    let current = logdir.join("current");
    wait_for("svlogd's current file", || {
        (count(&current, "COMPILE_OK") == 1).then_some(())
    });
    assert!(count(&current, "notice") >= 2, "startup and job lines");
    let (code, out) = rs.sv("down");
    assert_eq!(code, 0, "{out}");
    wait_for("the shutdown line", || {
        (count(&current, "shutting down") == 1).then_some(())
    });
}

/// `runit/install BINARY` with DESTDIR and PREFIX; its output.
fn install(root: &Path, extra_env: &[(&str, &str)]) -> std::process::Output {
    Command::new(repo("runit/install"))
        .arg(tinydcc())
        .env("DESTDIR", root)
        .env("PREFIX", "/usr")
        .envs(extra_env.iter().copied())
        .output()
        .unwrap()
}

fn link_target(p: &Path) -> String {
    std::fs::read_link(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .display()
        .to_string()
}

#[test]
fn install_script_fills_a_root_and_keeps_existing_config() {
    let dir = TempDir::new("runit-install");
    let root = dir.join("root");
    // A board that already has its own host list and service settings.
    std::fs::create_dir_all(root.join("etc/distcc")).unwrap();
    std::fs::create_dir_all(root.join("etc/sv/distcc")).unwrap();
    std::fs::write(root.join("etc/distcc/hosts"), "mine/8\n").unwrap();
    std::fs::write(root.join("etc/sv/distcc/conf"), "USER=distcc\n").unwrap();

    let out = install(&root, &[("WITH_LOG", "1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("kept"), "{}", text(&out.stdout));
    let bin = root.join("usr/bin/tinydcc");
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(tinydcc()).unwrap()
    );
    assert_eq!(
        std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
        0o755
    );
    for n in [
        "distcc",
        "distccd",
        "tinydccd",
        "pump",
        "distcc-pump",
        "distccmon-text",
    ] {
        assert_eq!(link_target(&root.join("usr/bin").join(n)), "tinydcc", "{n}");
    }
    // The names pick the roles.
    let version = |name: &str| {
        let out = Command::new(root.join("usr/bin").join(name))
            .arg("--version")
            .output()
            .unwrap();
        text(&out.stdout)
    };
    assert!(version("distccd").starts_with("tinydccd "));
    assert!(version("distcc").starts_with("tinydcc "));
    for c in [
        "cc",
        "gcc",
        "c++",
        "g++",
        "armv7l-linux-gnueabihf-gcc",
        "armv7l-linux-musleabihf-gcc",
    ] {
        assert_eq!(
            link_target(&root.join("usr/lib/distcc/bin").join(c)),
            "/usr/bin/distcc",
            "{c}"
        );
    }
    // Existing settings kept, missing ones from the examples.
    assert_eq!(
        std::fs::read_to_string(root.join("etc/distcc/hosts")).unwrap(),
        "mine/8\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/sv/distcc/conf")).unwrap(),
        "USER=distcc\n"
    );
    for (installed, shipped) in [
        ("etc/distcc/clients.allow", "etc/distcc/clients.allow"),
        ("etc/sv/distcc/run", "runit/run"),
        ("etc/sv/distcc/log/run", "runit/log/run"),
        ("usr/share/man/man1/tinydcc.1", "man/tinydcc.1"),
        ("usr/share/man/man8/tinydccd.8", "man/tinydccd.8"),
    ] {
        assert_eq!(
            std::fs::read(root.join(installed)).unwrap(),
            std::fs::read(repo(shipped)).unwrap(),
            "{installed}"
        );
    }
    for exe in ["etc/sv/distcc/run", "etc/sv/distcc/log/run"] {
        let mode = std::fs::metadata(root.join(exe))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{exe}");
    }

    // The installed service runs the installed binary's command line.
    let svc = root.join("etc/sv/distcc");
    let (fake, args) = recorder(&dir, "fake-tinydcc");
    std::fs::write(
        svc.join("conf"),
        format!(
            "TINYDCC={}\nALLOW_FILE={}\n",
            fake.display(),
            root.join("etc/distcc/clients.allow").display()
        ),
    )
    .unwrap();
    assert_eq!(
        run_args(&svc, &args, &[]),
        words(
            "--daemon --no-detach --user nobody --log-level=warning \
             --allow 192.168.0.0/24 --allow 192.168.0.1"
        )
    );

    // Installing again (an upgrade) replaces the binary, keeps the rest.
    std::fs::write(&bin, "old").unwrap();
    let out = install(&root, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(tinydcc()).unwrap()
    );
    assert!(std::fs::read_to_string(svc.join("conf"))
        .unwrap()
        .starts_with("TINYDCC="));
}

/// Another distcc's programs under our names stop the script before it
/// changes anything; a missing binary is named.
#[test]
fn install_script_refuses_to_overwrite_another_distcc() {
    let dir = TempDir::new("runit-install-refuse");
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/bin/distcc"), "stock distcc").unwrap();
    let out = install(&root, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("usr/bin/distcc is a program of another package"),
        "{}",
        text(&out.stderr)
    );
    assert!(!root.join("usr/bin/tinydcc").exists());
    assert!(!root.join("etc").exists());

    let out = install(&root, &[("FORCE", "1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(link_target(&root.join("usr/bin/distcc")), "tinydcc");

    let out = Command::new(repo("runit/install"))
        .arg(dir.join("nonexistent"))
        .env("DESTDIR", &root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no tinydcc binary at"),
        "{}",
        text(&out.stderr)
    );
}
