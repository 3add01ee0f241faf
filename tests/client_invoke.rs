//! Invocation forms: masquerade links of every usual name, argv[0]
//! `distcc`, the recursion guard (checked against stock distcc), and
//! outputs (.o and .d whole, compiler output relayed unchanged).

use crate::common;
use common::*;
use std::process::Command;

fn masq_dir(dir: &TempDir, names: &[&str]) -> std::path::PathBuf {
    let bin = dir.join("masq");
    std::fs::create_dir_all(&bin).unwrap();
    for n in names {
        std::os::unix::fs::symlink(tinydcc(), bin.join(n)).unwrap();
    }
    bin
}

fn env_of(c: &Command) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    c.get_envs()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect()
}

#[test]
fn masquerade_names_distribute_and_never_recurse() {
    let log = TempDir::new("masq-log");
    let wrap = TempDir::new("masq-wrap");
    let jobs = log.join("jobs.log");
    let bin = logging_compilers(&wrap, &jobs);
    let d = Daemon::start_env(
        Kind::Tiny,
        &wrapper_daemon_args(Kind::Tiny, &[]),
        &[("PATH", &path_with(&bin))],
    );
    let dir = TempDir::new("masq");
    // Two masquerade dirs, ours twice on PATH, then the real compilers.
    let names = ["gcc", "cc", "g++", "c++"];
    let m1 = masq_dir(&dir, &names);
    let second = TempDir::new("masq2");
    let m2 = masq_dir(&second, &names);
    let path = format!(
        "{}:{}:{}",
        m1.display(),
        m2.display(),
        std::env::var("PATH").unwrap()
    );
    dir.write("m.c", HELLO);
    dir.write("m.cc", "int f() { return 1; }\n");
    for (i, n) in names.iter().enumerate() {
        let src = if n.contains('+') { "m.cc" } else { "m.c" };
        let mut c = Command::new(m1.join(n));
        c.current_dir(dir.path())
            .envs(env_of(&client_cmd(Kind::Tiny, dir.path(), &d.host(true))))
            .env("PATH", &path)
            .env("DISTCC_FALLBACK", "0")
            .args(["-c", src, "-o", &format!("o{i}.o")]);
        let out = run(c);
        assert!(out.status.success(), "{n}: {}", text(&out.stderr));
        // Called by full path too (make often does): same result.
        let mut c = Command::new(m1.join(n));
        c.current_dir(dir.path())
            .envs(env_of(&client_cmd(Kind::Tiny, dir.path(), &d.host(true))))
            .env("PATH", &path)
            .env("DISTCC_FALLBACK", "0")
            .args(["-c", src, "-o", &format!("p{i}.o")]);
        assert!(run(c).status.success());
    }
    let (_, n) = max_concurrency(&jobs);
    assert_eq!(n, 8, "{}", std::fs::read_to_string(&jobs).unwrap());
}

/// A masquerade link whose compiler does not exist anywhere further down
/// PATH: exit 110 (compiler missing), not a loop.
#[test]
fn masquerade_without_real_compiler() {
    let dir = TempDir::new("masq-missing");
    let m = masq_dir(&dir, &["armv9-nowhere-linux-gnueabihf-gcc"]);
    dir.write("x.c", HELLO);
    let out = run({
        let mut c = Command::new(m.join("armv9-nowhere-linux-gnueabihf-gcc"));
        c.current_dir(dir.path())
            .env("PATH", format!("{}:/usr/bin:/bin", m.display()))
            .env("DISTCC_HOSTS", "localhost")
            .env("DISTCC_DIR", dir.path())
            .env_remove("_DISTCC_SAFEGUARD")
            .args(["-c", "x.c"]);
        c
    });
    assert_eq!(out.status.code(), Some(110), "{}", text(&out.stderr));
}

/// An explicit client inside another client (level > 0, PATH not trimmed)
/// is distcc's EXIT_RECURSION; stock distcc agrees.
#[test]
fn recursion_guard_matches_distcc() {
    let dir = TempDir::new("recursion");
    dir.write("x.c", HELLO);
    for kind in [Kind::Tiny, Kind::Stock] {
        let mut c = client_cmd(kind, dir.path(), "localhost");
        c.args(["gcc", "-c", "x.c", "-o", "x.o"])
            .env("_DISTCC_SAFEGUARD", "1");
        let out = run(c);
        assert_eq!(
            out.status.code(),
            Some(111),
            "{kind:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("invoked itself recursively"));
    }
}

/// A link named `distcc` is the explicit client; no arguments is exit 101.
#[test]
fn argv0_distcc() {
    let d = Daemon::start(Kind::Stock, &[]);
    let dir = TempDir::new("argv0");
    let link = dir.join("distcc");
    std::os::unix::fs::symlink(tinydcc(), &link).unwrap();
    dir.write("x.c", HELLO);
    let mut c = Command::new(&link);
    c.current_dir(dir.path())
        .envs(env_of(&client_cmd(Kind::Tiny, dir.path(), &d.host(false))))
        .env("DISTCC_FALLBACK", "0")
        .args(["-c", "x.c"]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(d.wait_job("COMPILE_OK", "x.c"), "{}", d.log_text());
    let out = run(Command::new(&link));
    assert_eq!(out.status.code(), Some(101));
    let stock = run(Command::new(require("distcc")));
    assert_eq!(stock.status.code(), Some(101), "stock distcc agrees");
}

/// `-MD` output: the .d names the object and equals a local gcc's; no temp
/// file is left beside it.
#[test]
fn dependency_file_matches_local_and_is_whole() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("depfile");
    std::fs::create_dir(dir.join("src")).unwrap();
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::create_dir(dir.join("ref")).unwrap();
    dir.write("src/h.h", "#define N 3\n");
    dir.write("src/x.c", "#include \"h.h\"\nint x = N;\n");
    for (flags, dep) in [
        (&["-MD"][..], "x.d"),
        (&["-MMD", "-MP"], "x.d"),
        (&["-Wp,-MD,out/custom.d"], "custom.d"),
    ] {
        let mut args: Vec<&str> = flags.to_vec();
        args.extend_from_slice(&["-c", "src/x.c", "-o", "out/x.o"]);
        let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
        c.arg("gcc").args(&args).env("DISTCC_FALLBACK", "0");
        let out = run(c);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let ours = std::fs::read_to_string(dir.join("out").join(dep)).unwrap();
        // The same command, locally, writing into ref/.
        let local_args: Vec<String> = args.iter().map(|a| a.replace("out/", "ref/")).collect();
        let refs: Vec<&str> = local_args.iter().map(String::as_str).collect();
        assert!(local_gcc(dir.path(), &refs).status.success());
        let theirs = std::fs::read_to_string(dir.join("ref").join(dep)).unwrap();
        assert_eq!(ours, theirs.replace("ref/", "out/"), "{flags:?}");
        let stray: Vec<String> = entries(&dir.join("out"))
            .into_iter()
            .filter(|n| n.contains("tinydcc"))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
        std::fs::remove_file(dir.join("out").join(dep)).unwrap();
    }
    // A failing compile leaves no object and no temp file (the .d is what
    // the local gcc run writes, as in a local build).
    dir.write("src/bad.c", BAD);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
    c.args(["gcc", "-MD", "-c", "src/bad.c", "-o", "out/bad.o"]);
    assert!(!run(c).status.success());
    assert!(!dir.join("out/bad.o").exists());
    assert!(entries(&dir.join("out"))
        .iter()
        .all(|n| !n.contains("tinydcc")));
}

/// What the server's compiler prints on stdout and stderr arrives unchanged.
#[test]
fn compiler_output_is_relayed_unchanged() {
    let wrap = TempDir::new("relay-wrap");
    let bin = wrap.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let gcc = require("gcc");
    for n in ["gcc", "x86_64-linux-gnu-gcc"] {
        script(
            &bin.join(n),
            &format!(
                "#!/bin/sh\nprintf 'out: \\001 line\\n'\nprintf 'err: \\377 line\\n' >&2\nexec {} \"$@\"\n",
                gcc.display()
            ),
        );
    }
    for kind in [Kind::Tiny, Kind::Stock] {
        let d = Daemon::start_env(kind, &[], &[("PATH", &path_with(&bin))]);
        let dir = TempDir::new("relay");
        dir.write("r.c", HELLO);
        let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
        c.args(["gcc", "-c", "r.c", "-o", "r.o"])
            .env("DISTCC_FALLBACK", "0");
        let out = run(c);
        assert!(out.status.success());
        assert_eq!(out.stdout, b"out: \x01 line\n", "{kind:?}");
        assert_eq!(out.stderr, b"err: \xff line\n", "{kind:?}");
    }
}

/// SIGTERM while cpp runs: the client dies of the signal, stops its cpp,
/// and leaves no temp file beside the outputs.
#[test]
fn signal_leaves_no_temp_files() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("signal");
    dir.write("x.c", HELLO);
    let bin = dir.join("slow");
    std::fs::create_dir(&bin).unwrap();
    let started = dir.join("cpp-started");
    script(
        &bin.join("gcc"),
        &format!(
            // Like a cpp half way through: the .d temp exists.
            "#!/bin/sh\ncase \" $* \" in *\" -E \"*)\n  prev=; for a in \"$@\"; do [ \"$prev\" = -MF ] && : > \"$a\"; prev=$a; done\n  touch '{}'; sleep 30;;\nesac\nexec {} \"$@\"\n",
            started.display(),
            require("gcc").display()
        ),
    );
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-MD", "-c", "x.c", "-o", "x.o"])
        .env("PATH", path_with(&bin));
    let mut child = c.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !started.exists() {
        assert!(std::time::Instant::now() < deadline, "cpp never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let st = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    let stray: Vec<String> = entries(dir.path())
        .into_iter()
        .filter(|n| n.contains("tinydcc-"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert!(!dir.join("x.o").exists());
}

/// `tinydcc --help` is the map of every mode and names the man pages.
#[test]
fn help_lists_every_mode_and_the_man_pages() {
    let out = Command::new(tinydcc()).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for mode in [
        "tinydcc --show-hosts",
        "tinydcc -j",
        "tinydcc --scan-includes",
        "tinydcc --check [--runs N] [--no-suggest]",
        "tinydcc --daemon",
        "tinydccd",
        "tinydcc --pump COMMAND",
        "pump",
        "--startup",
        "--shutdown",
        "tinydcc --mon [SECS]",
        "distccmon-text",
        "tinydcc --mon --cluster [SECS]",
        "--version",
    ] {
        assert!(help.contains(mode), "--help lacks {mode}: {help}");
    }
    assert!(
        help.ends_with("See tinydcc(1) and tinydccd(8).\n"),
        "{help}"
    );
}
