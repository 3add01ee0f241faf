//! Pump mode end to end: `tinydcc --pump` (and the name `pump`) runs an
//! include server that stock distcc 3.4 uses, our daemon receives protocol
//! 3, and the objects equal a local build.

use crate::common;
use common::*;
use std::process::Command;

fn project(dir: &TempDir) {
    std::fs::create_dir_all(dir.join("inc/sub")).unwrap();
    dir.write(
        "inc/config.h",
        "#define GREETING \"hello from pump\"\n#include \"sub/more.h\"\n",
    );
    dir.write(
        "inc/sub/more.h",
        "static inline int more(void) { return 41 + 1; }\n",
    );
    dir.write(
        "main.c",
        "#include <stdio.h>\n#include <config.h>\nint main(void) { printf(\"%s %d\\n\", GREETING, more()); return 0; }\n",
    );
}

/// `tinydcc --pump distcc gcc -Iinc -c main.c -o main.o` in `cwd`,
/// without fallback.
fn stock_pump_main(d: &Daemon, cwd: &std::path::Path) -> std::process::Output {
    let distcc = require("distcc");
    let mut c = client_cmd(Kind::Tiny, cwd, &format!("{},cpp", d.host(true)));
    c.arg("--pump")
        .arg(distcc)
        .args(["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"])
        .env("DISTCC_FALLBACK", "0");
    run(c)
}

#[test]
fn stock_distcc_uses_our_include_server() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("pump");
    project(&dir);
    assert!(
        local_gcc(dir.path(), &["-Iinc", "-c", "main.c", "-o", "local.o"])
            .status
            .success()
    );
    let out = stock_pump_main(&d, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.join("main.o")).unwrap(),
        std::fs::read(dir.join("local.o")).unwrap()
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("pump: 1 compile(s) sent with their headers, 0 preprocessed locally"),
        "{err}"
    );
    assert!(d.wait_job("COMPILE_OK", "main.c"));
    let log = d.log_text();
    assert!(log.contains("protocol 3 request for main.c"), "{log}");
    assert!(d.leftovers_after_reply().is_empty());
}

#[test]
fn pump_by_name_and_host_check() {
    let dir = TempDir::new("pumpname");
    let link = dir.join("pump");
    std::os::unix::fs::symlink(tinydcc(), &link).unwrap();
    // No ,cpp host: refused as distcc's pump script does.
    let out = Command::new(&link)
        .args(["true"])
        .env("DISTCC_HOSTS", "127.0.0.1:1,lzo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not contain any hosts with ',cpp' option"));
    // The command's exit status is passed through, and the server is gone.
    let out = Command::new(&link)
        .args(["sh", "-c", "test -S \"$INCLUDE_SERVER_PORT\" && exit 3"])
        .env("DISTCC_HOSTS", "127.0.0.1:1,lzo,cpp")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

/// `tinydcc --pump tinydcc gcc ARGS` in `dir` against `d`.
fn pump_compile(d: &Daemon, dir: &TempDir, args: &[&str]) -> std::process::Output {
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("{},cpp", d.host(true)));
    c.arg("--pump").arg(tinydcc()).arg("gcc").args(args);
    run(c)
}

/// Our client in pump mode: the source and headers go as protocol 3, the
/// server preprocesses; object and `.d` files equal a local build's.
fn our_client_in_pump_mode(daemon: Kind) {
    let d = Daemon::start(daemon, &[]);
    let dir = TempDir::new("pumpcl");
    project(&dir);
    let local = ["-Iinc", "-MD", "-c", "main.c", "-o", "local.o"];
    assert!(local_gcc(dir.path(), &local).status.success());
    let out = pump_compile(&d, &dir, &["-Iinc", "-MD", "-c", "main.c", "-o", "main.o"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        std::fs::read(dir.join("main.o")).unwrap(),
        std::fs::read(dir.join("local.o")).unwrap()
    );
    let dotd = std::fs::read_to_string(dir.join("main.d")).unwrap();
    let want = std::fs::read_to_string(dir.join("local.d")).unwrap();
    assert_eq!(dotd, want.replacen("local.o", "main.o", 1));
    assert!(
        err.contains("pump: 1 compile(s) sent with their headers, 0 preprocessed locally"),
        "{err}"
    );
    assert!(d.wait_job("COMPILE_OK", "main.c"));
    if daemon == Kind::Tiny {
        let log = d.log_text();
        assert!(log.contains("protocol 3 request for main.c"), "{log}");
        assert!(d.leftovers_after_reply().is_empty());
    }
}

#[test]
fn our_client_in_pump_mode_to_our_daemon() {
    our_client_in_pump_mode(Kind::Tiny);
}

#[test]
fn our_client_in_pump_mode_to_stock_distccd() {
    our_client_in_pump_mode(Kind::Stock);
}

/// The kernel's `-Wp,-MMD,dir/.x.o.d`: cc1 names the target after the
/// source, and so does the server's file.
#[test]
fn pump_dependency_file_through_wp() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("pumpwp");
    project(&dir);
    std::fs::create_dir(dir.join("out")).unwrap();
    let args = |o: &str, d: &str| {
        vec![
            "-Iinc".to_string(),
            format!("-Wp,-MMD,{d}"),
            "-c".into(),
            "main.c".into(),
            "-o".into(),
            o.into(),
        ]
    };
    let local = args("out/local.o", "out/.local.d");
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    assert!(local_gcc(dir.path(), &local).status.success());
    let remote = args("out/main.o", "out/.main.d");
    let remote: Vec<&str> = remote.iter().map(String::as_str).collect();
    let out = pump_compile(&d, &dir, &remote);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.join("out/.main.d")).unwrap(),
        std::fs::read_to_string(dir.join("out/.local.d")).unwrap()
    );
    assert!(d.log_text().contains("protocol 3 request for main.c"));
}

/// A compile error in pump mode: the server had the sources, so the
/// diagnostics are exactly local gcc's, excerpts included, and the job
/// ran once.
#[test]
fn pump_compile_error_is_local_gcc_text() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("pumpbad");
    project(&dir);
    dir.write(
        "inc/broken.h",
        "static inline int broken(void) { return 1 +; }\n",
    );
    dir.write(
        "bad.c",
        "#include <broken.h>\nint f(void) { return broken(); }\n",
    );
    let local = local_gcc(dir.path(), &["-Iinc", "-c", "bad.c", "-o", "bad.o"]);
    assert!(!local.status.success());
    let abs_inc = format!("-I{}", dir.join("inc").display());
    let out = pump_compile(&d, &dir, &[&abs_inc, "-c", "bad.c", "-o", "bad.o"]);
    let local_abs = local_gcc(dir.path(), &[&abs_inc, "-c", "bad.c", "-o", "bad.o"]);
    assert_eq!(out.status.code(), local_abs.status.code());
    let err = text(&out.stderr);
    let diag: String = err
        .lines()
        .filter(|l| !l.starts_with("pump:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(diag, text(&local_abs.stderr));
    assert!(diag.contains(" | "), "{diag}");
    assert!(!dir.join("bad.o").exists());
    assert!(d.wait_job("COMPILE_ERROR", "bad.c"));
    let log = d.log_text();
    assert_eq!(log.matches("COMPILE_ERROR").count(), 1, "{log}");
    assert!(log.contains("protocol 3 request for bad.c"), "{log}");
}

/// No include server (pump was not started): plain mode, as distcc.
#[test]
fn pump_host_without_include_server_compiles_in_plain_mode() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("pumpnone");
    project(&dir);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("{},cpp", d.host(true)));
    c.args(["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"])
        .env_remove("INCLUDE_SERVER_PORT")
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("did you forget to run under 'pump'?"), "{err}");
    assert!(d.wait_job("COMPILE_OK", "main.c"));
    assert!(!d.log_text().contains("protocol 3"));
    assert!(
        local_gcc(dir.path(), &["-Iinc", "-c", "main.c", "-o", "l.o"])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(dir.join("main.o")).unwrap(),
        std::fs::read(dir.join("l.o")).unwrap()
    );
}

/// `eval \`pump --startup\``: the output ends when the command exits (the
/// server keeps none of its descriptors), and `--shutdown` stops it.
#[test]
fn startup_output_ends_and_shutdown_stops_the_server() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(tinydcc())
        .args(["--pump", "--startup"])
        .env("DISTCC_HOSTS", "127.0.0.1:1,lzo,cpp")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = stdout.read_to_string(&mut o);
        let _ = stderr.read_to_string(&mut e);
        let _ = tx.send(o);
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("pump --startup's output never ended");
    assert!(child.wait().unwrap().success());
    let var = |name: &str| -> String {
        let l = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}='")))
            .unwrap_or_else(|| panic!("{name} in {out}"));
        l.trim_end_matches('\'').to_string()
    };
    let (pid, dir, socket) = (
        var("INCLUDE_SERVER_PID"),
        var("INCLUDE_SERVER_DIR"),
        var("INCLUDE_SERVER_PORT"),
    );
    assert!(std::path::Path::new(&socket).exists());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let out = Command::new(tinydcc())
        .args(["--pump", "--shutdown"])
        .env("INCLUDE_SERVER_PID", &pid)
        .env("INCLUDE_SERVER_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pump: 0 compile(s)"));
    assert!(!std::path::Path::new(&dir).exists());
    // Gone, or a zombie for whoever adopted it to reap.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
    assert!(matches!(state, None | Some('Z') | Some('X')), "{stat}");
}

/// Headers reached through a symlinked include dir, a symlinked header and
/// `..` across a link: the include server mirrors the links, and the
/// object still equals a local build.
#[test]
fn stock_distcc_through_symlinks() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("pumplinks");
    std::fs::create_dir_all(dir.join("real/sub")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    dir.write(
        "real/config.h",
        "#define GREETING \"through links\"\n#include \"sub/more.h\"\n",
    );
    dir.write("real/sub/more.h", "#include \"../value.h\"\n");
    dir.write("real/value.h", "#define VALUE 42\n");
    std::os::unix::fs::symlink("../real", dir.join("src/inc")).unwrap();
    std::os::unix::fs::symlink("config.h", dir.join("real/alias.h")).unwrap();
    dir.write(
        "src/main.c",
        "#include <stdio.h>\n#include <alias.h>\n#include \"inc/sub/../value.h\"\n\
         int main(void) { printf(\"%s %d\\n\", GREETING, VALUE); return 0; }\n",
    );
    let src = dir.join("src");
    assert!(local_gcc(&src, &["-Iinc", "-c", "main.c", "-o", "local.o"])
        .status
        .success());
    let out = stock_pump_main(&d, &src);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(src.join("main.o")).unwrap(),
        std::fs::read(src.join("local.o")).unwrap()
    );
    assert!(
        text(&out.stderr).contains("pump: 1 compile(s) sent with their headers"),
        "{}",
        text(&out.stderr)
    );
    assert!(d.wait_job("COMPILE_OK", "main.c"));
    assert!(d.log_text().contains("protocol 3 request for main.c"));
}

/// The summary counts every job of the session: sent with its headers,
/// given up on by the include scan, or sent in plain mode by the client,
/// with the first reason of each kind (the include server and the clients
/// write the session's logs, `pump` reads them).
#[test]
fn summary_counts_jobs_not_pumped_and_why() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("pumpsum");
    project(&dir);
    let header = dir.join("inc/config.h");
    dir.write(
        "abs.c",
        &format!(
            "#include \"{}\"\nint f(void) {{ return more(); }}\n",
            header.display()
        ),
    );
    dir.write("pre.i", "int pre(void) { return 1; }\n");
    let script = format!(
        "{cc} gcc -Iinc -c main.c -o main.o && {cc} gcc -c abs.c -o abs.o && {cc} gcc -c pre.i -o pre.o",
        cc = tinydcc().display()
    );
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("{},cpp", d.host(true)));
    c.args(["--pump", "sh", "-c", &script])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    for o in ["main.o", "abs.o", "pre.o"] {
        assert!(dir.join(o).exists(), "{o}: {err}");
    }
    let want = format!(
        "pump: 1 compile(s) sent with their headers, 2 preprocessed locally; \
         1 because the include scan was not sure (first: abs.c: abs.c:1: absolute include of \"{}\" \
         (outside the system dirs) would not be relocated on the server); \
         1 for other reasons (first: pre.i: cannot use distcc_pump on already preprocessed file)",
        header.display()
    );
    assert!(err.lines().any(|l| l == want), "want {want}\n{err}");
}
