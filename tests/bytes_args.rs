//! Arguments are bytes: a source
//! file, a `-D` value and an include directory whose names are not UTF-8
//! reach the compiler exactly as given, locally and remotely, in plain and
//! pump mode, with stock distcc and distccd as peers. Each object and `.d`
//! file must equal a local `gcc` run of the same command.

use crate::common;
use common::*;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn os(b: &[u8]) -> OsString {
    OsString::from_vec(b.to_vec())
}

/// `src\xe8/caf\xe9.c` including `<greet.h>` from `inc\xff`; the source
/// uses `NAME` (a string from `-D`) and `__FILE__`, so the object holds the
/// exact bytes of both.
fn project(root: &Path) {
    std::fs::create_dir_all(root.join(os(b"inc\xff"))).unwrap();
    std::fs::create_dir_all(root.join(os(b"src\xe8"))).unwrap();
    std::fs::write(
        root.join(os(b"inc\xff/greet.h")),
        "#define GREETING \"hello\"\nstatic inline int answer(void) { return 42; }\n",
    )
    .unwrap();
    std::fs::write(
        root.join(os(b"src\xe8/caf\xe9.c")),
        "#include <greet.h>\nconst char *name = NAME;\nconst char *file = __FILE__;\n\
         const char *greeting = GREETING;\nint f(void) { return answer(); }\n",
    )
    .unwrap();
}

/// The compiler arguments (after `gcc`): every kind of odd name at once.
fn compile_args() -> Vec<OsString> {
    vec![
        os(b"-Iinc\xff"),
        os(b"-DNAME=\"caf\xe9\""),
        "-MD".into(),
        "-c".into(),
        os(b"src\xe8/caf\xe9.c"),
        "-o".into(),
        os(b"caf\xe9.o"),
    ]
}

/// A project to compile in, and the same project compiled by a local gcc
/// with the same command line (the reference).
struct Trees {
    work: TempDir,
    reference: TempDir,
}

impl Trees {
    fn new(tag: &str) -> Trees {
        let t = Trees {
            work: TempDir::new(tag),
            reference: TempDir::new(&format!("{tag}-ref")),
        };
        project(t.work.path());
        project(t.reference.path());
        require("gcc");
        let out = Command::new("gcc")
            .args(compile_args())
            .current_dir(t.reference.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "local gcc: {}", text(&out.stderr));
        t
    }

    fn dir(&self) -> &Path {
        self.work.path()
    }

    /// The run succeeded and wrote the object and `.d` file a local gcc
    /// writes, byte for byte.
    fn assert_same(&self, out: &Output, what: &str) {
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        for f in [&b"caf\xe9.o"[..], b"caf\xe9.d"] {
            let got = std::fs::read(self.work.path().join(os(f)))
                .unwrap_or_else(|e| panic!("{what}: {}: {e}", String::from_utf8_lossy(f)));
            let want = std::fs::read(self.reference.path().join(os(f))).unwrap();
            assert!(
                got == want,
                "{what}: {} differs from the local gcc's",
                String::from_utf8_lossy(f)
            );
        }
        // The names really are in the object, untouched.
        let obj = std::fs::read(self.work.path().join(os(b"caf\xe9.o"))).unwrap();
        for needle in [&b"caf\xe9\0"[..], b"src\xe8/caf\xe9.c\0"] {
            assert!(
                obj.windows(needle.len()).any(|w| w == needle),
                "{what}: {} not in the object",
                String::from_utf8_lossy(needle)
            );
        }
    }
}

/// `CLIENT gcc ARGS` in the work tree with `hosts`, without fallback
/// unless `fallback`.
fn client(kind: Kind, t: &Trees, hosts: &str, fallback: bool) -> Command {
    let mut c = client_cmd(kind, t.dir(), hosts);
    c.arg("gcc").args(compile_args());
    if !fallback {
        c.env("DISTCC_FALLBACK", "0");
    }
    c
}

/// The daemon compiled the job. Its log names the input, and stock
/// distccd writes the name's raw bytes, so the log is read as bytes.
fn assert_compiled_by(d: &Daemon) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = String::from_utf8_lossy(&std::fs::read(&d.log).unwrap_or_default()).into_owned();
        if log
            .lines()
            .any(|l| l.contains("COMPILE_OK") && l.contains("caf"))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no COMPILE_OK in:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn local_fallback_with_a_closed_port() {
    let t = Trees::new("bytes-fallback");
    let hosts = format!("127.0.0.1:{}", free_port());
    let out = run(client(Kind::Tiny, &t, &hosts, true));
    t.assert_same(&out, "fallback");
    assert!(text(&out.stderr).contains("running locally instead"));
}

#[test]
fn local_with_no_hosts() {
    let t = Trees::new("bytes-nohosts");
    let out = run(client(Kind::Tiny, &t, "", true));
    t.assert_same(&out, "no hosts");
}

/// The plainest command, `tinydcc gcc -c café.c` in Latin-1: no `-o`, so
/// the object is named after the source's bytes.
#[test]
fn issue_command_names_the_object_after_the_source() {
    let dir = TempDir::new("bytes-issue");
    std::fs::write(dir.path().join(os(b"caf\xe9.c")), "int x;\n").unwrap();
    let hosts = format!("127.0.0.1:{}", free_port());
    let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
    c.args([
        OsStr::new("gcc"),
        OsStr::new("-c"),
        OsStr::from_bytes(b"caf\xe9.c"),
    ]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join(os(b"caf\xe9.o")).is_file());
}

#[test]
fn tinydcc_to_tinydccd_protocol_1() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let t = Trees::new("bytes-p1");
    t.assert_same(
        &run(client(Kind::Tiny, &t, &d.host(false), false)),
        "protocol 1",
    );
    assert_compiled_by(&d);
}

#[test]
fn tinydcc_to_tinydccd_lzo() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let t = Trees::new("bytes-lzo");
    t.assert_same(&run(client(Kind::Tiny, &t, &d.host(true), false)), "lzo");
    assert_compiled_by(&d);
}

#[test]
fn stock_distcc_to_tinydccd() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let t = Trees::new("bytes-stockcl");
    t.assert_same(
        &run(client(Kind::Stock, &t, &d.host(true), false)),
        "stock distcc",
    );
    assert_compiled_by(&d);
}

#[test]
fn tinydcc_to_stock_distccd() {
    let d = Daemon::start(Kind::Stock, &[]);
    let t = Trees::new("bytes-stockd");
    t.assert_same(
        &run(client(Kind::Tiny, &t, &d.host(true), false)),
        "stock distccd",
    );
    assert_compiled_by(&d);
}

/// `tinydcc --pump CLIENT gcc ARGS` with a `,lzo,cpp` host: our include
/// server lists the files, the server preprocesses.
fn pump(kind: Kind, daemon: &Daemon, t: &Trees) -> Output {
    let bin: PathBuf = match kind {
        Kind::Tiny => tinydcc(),
        Kind::Stock => require("distcc"),
    };
    let hosts = format!("{},cpp", daemon.host(true));
    let mut c = client_cmd(Kind::Tiny, t.dir(), &hosts);
    c.arg("--pump")
        .arg(bin)
        .arg("gcc")
        .args(compile_args())
        .env("DISTCC_FALLBACK", "0");
    run(c)
}

fn assert_pumped(out: &Output) {
    let err = text(&out.stderr);
    assert!(
        err.contains("pump: 1 compile(s) sent with their headers, 0 preprocessed locally"),
        "{err}"
    );
}

#[test]
fn pump_tinydcc_to_tinydccd() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let t = Trees::new("bytes-pump");
    let out = pump(Kind::Tiny, &d, &t);
    t.assert_same(&out, "pump");
    assert_pumped(&out);
    assert_compiled_by(&d);
    let log = String::from_utf8_lossy(&std::fs::read(&d.log).unwrap()).into_owned();
    assert!(log.contains("protocol 3 request for"), "{log}");
    assert!(d.leftovers_after_reply().is_empty());
}

#[test]
fn pump_stock_distcc_to_tinydccd() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let t = Trees::new("bytes-pumpstock");
    let out = pump(Kind::Stock, &d, &t);
    t.assert_same(&out, "stock distcc, pump");
    assert_pumped(&out);
    assert_compiled_by(&d);
}

#[test]
fn pump_tinydcc_to_stock_distccd() {
    let d = Daemon::start(Kind::Stock, &[]);
    let t = Trees::new("bytes-pumpstockd");
    let out = pump(Kind::Tiny, &d, &t);
    t.assert_same(&out, "pump to stock distccd");
    assert_pumped(&out);
    assert_compiled_by(&d);
}

/// `gcc -> tinydcc` in a directory whose name is not UTF-8, early on PATH.
#[test]
fn masquerade_from_a_non_utf8_directory() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let t = Trees::new("bytes-masq");
    let bin = t.dir().join(os(b"bin\xfe"));
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(tinydcc(), bin.join("gcc")).unwrap();
    let mut path = bin.clone().into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut c = client_cmd(Kind::Tiny, t.dir(), &d.host(true));
    c.env("PATH", &path).env("DISTCC_FALLBACK", "0");
    // client_cmd runs tinydcc; run the link by its name instead.
    let mut m = Command::new(bin.join("gcc"));
    m.current_dir(t.dir())
        .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove("_DISTCC_SAFEGUARD")
        .args(compile_args());
    t.assert_same(&run(m), "masquerade");
    assert_compiled_by(&d);
}

/// DISTCC_SAVE_TEMPS in a `$TMPDIR` whose name is not UTF-8: the kept
/// files land there, and the argv file holds the argument bytes sent.
#[test]
fn save_temps_in_a_non_utf8_tmpdir() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let t = Trees::new("bytes-savetemps");
    let tmp = t.dir().join(os(b"tmp\xfd"));
    std::fs::create_dir(&tmp).unwrap();
    let mut c = client(Kind::Tiny, &t, &d.host(true), false);
    c.env("DISTCC_SAVE_TEMPS", "1").env("TMPDIR", &tmp);
    let out = run(c);
    t.assert_same(&out, "save temps");
    let kept: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let with_ext = |ext: &str| {
        kept.iter()
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .unwrap_or_else(|| panic!("no .{ext} kept in {kept:?}"))
    };
    let argv = std::fs::read(with_ext("argv")).unwrap();
    assert!(
        argv.windows(13).any(|w| w == b"\nsrc\xe8/caf\xe9.c\n"),
        "{}",
        String::from_utf8_lossy(&argv)
    );
    assert_eq!(
        std::fs::read(with_ext("o")).unwrap(),
        std::fs::read(t.dir().join(os(b"caf\xe9.o"))).unwrap()
    );
}

/// The client's state file for monitors holds the source's name as bytes,
/// as distcc writes it (distccmon-text shows what the user typed).
#[test]
fn monitor_state_names_the_source_by_its_bytes() {
    use std::process::Stdio;
    let t = Trees::new("bytes-state");
    // A host that accepts and never answers holds the client in its send.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    let mut c = client(Kind::Tiny, &t, &format!("127.0.0.1:{port}"), true);
    c.env("DISTCC_IO_TIMEOUT", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let _held = hole.accept().unwrap();
    let state = t
        .dir()
        .join(format!(".distcc-private/state/binstate_{}", child.id()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        seen = std::fs::read(&state).unwrap_or_default();
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SIGTERM: the client removes its state file and stops its cpp.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
    assert!(
        seen.windows(7).any(|w| w == b"caf\xe9.c\0"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
}
