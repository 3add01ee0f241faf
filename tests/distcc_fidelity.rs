//! What a user or a script sees, side by side with Debian's distcc 3.4 on
//! the same case: `--version` lines, `--scan-includes`, the warnings users
//! grep for, the `DISTCC_LOG` lines. Where tinydcc differs on purpose (the
//! README's list), the test asserts the difference.

use crate::common;
use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// `kind`'s client with `args` in `dir`, a private DISTCC_DIR, `hosts`,
/// and `env` on top.
fn client(kind: Kind, dir: &Path, hosts: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = client_cmd(kind, dir, hosts);
    c.args(args).envs(env.iter().copied());
    run(c)
}

fn lines(b: &[u8]) -> Vec<String> {
    text(b).lines().map(String::from).collect()
}

/// Every message line of tinydcc's stderr carries one program name.
fn all_ours(stderr: &[u8]) {
    for l in text(stderr).lines() {
        assert!(l.starts_with("tinydcc["), "not tinydcc's shape: {l:?}");
    }
}

#[test]
fn version_lines_have_distccs_shape() {
    let dir = TempDir::new("version");
    for (stock, ours) in [
        (
            Command::new(require("distcc")).arg("--version").output(),
            Command::new(tinydcc()).arg("--version").output(),
        ),
        (
            Command::new(require("distccd")).arg("--version").output(),
            Command::new(tinydcc())
                .args(["--daemon", "--version"])
                .current_dir(dir.path())
                .output(),
        ),
    ] {
        let (stock, ours) = (stock.unwrap(), ours.unwrap());
        assert_eq!(
            (stock.status.code(), ours.status.code()),
            (Some(0), Some(0))
        );
        let (s, o) = (lines(&stock.stdout), lines(&ours.stdout));
        // "distcc 3.4 x86_64-pc-linux-gnu": name, version, target.
        let sf: Vec<&str> = s[0].split(' ').collect();
        let of: Vec<&str> = o[0].split(' ').collect();
        assert_eq!((sf.len(), of.len()), (3, 3), "{s:?} {o:?}");
        assert!(of[0] == "tinydcc" || of[0] == "tinydccd", "{o:?}");
        assert_eq!(of[0].ends_with('d'), sf[0].ends_with('d'));
        assert_eq!(of[1], env!("CARGO_PKG_VERSION"));
        assert_eq!(of[2], sf[2], "the same target triplet");
        // "  (protocols 1, 2 and 3) (default port 3632)"
        assert_eq!(o[1], s[1]);
    }
}

/// With `DISTCC_LOG` set and fallback off, a compile that
/// ends in an error still says why on stderr (stock distcc is silent here),
/// and the log file has it too.
#[test]
fn an_error_that_ends_a_compile_reaches_stderr_with_distcc_log() {
    let dir = TempDir::new("teelog");
    dir.write("x.c", HELLO);
    let log = dir.join("client.log");
    let logs = log.to_str().unwrap();
    let dead = format!("127.0.0.1:{}", free_port());
    std::fs::write(dir.join("x.i"), "int x;\n").unwrap();
    let env = [("DISTCC_LOG", logs), ("DISTCC_FALLBACK", "0")];
    let out = client(
        Kind::Tiny,
        dir.path(),
        &dead,
        &["nosuchcc", "-c", "x.i"],
        &env,
    );
    assert_eq!(out.status.code(), Some(110));
    let err = text(&out.stderr);
    assert!(
        err.contains("ERROR: failed to exec nosuchcc: No such file or directory"),
        "{err}"
    );
    all_ours(&out.stderr);
    let l = std::fs::read_to_string(&log).unwrap();
    assert!(l.contains("failed to exec nosuchcc"), "{l}");
    // A dead host without fallback: distcc's 116, and the reason.
    std::fs::remove_file(&log).unwrap();
    let args = ["gcc", "-c", "x.c", "-o", "x.o"];
    let out = client(Kind::Tiny, dir.path(), &dead, &args, &env);
    assert_eq!(out.status.code(), Some(116));
    let err = text(&out.stderr);
    assert!(
        err.contains("failed to distribute and fallbacks are disabled"),
        "{err}"
    );
    // Only what ended the compile: the warnings stay in the log.
    assert!(!err.contains("WARNING"), "{err}");
    let l = std::fs::read_to_string(&log).unwrap();
    assert!(l.contains("failed to connect to"), "{l}");
    // Stock distcc says nothing on stderr here; the exit code agrees.
    let sdir = TempDir::new("teelog-stock");
    sdir.write("x.c", HELLO);
    let slog = sdir.join("client.log");
    let senv = [
        ("DISTCC_LOG", slog.to_str().unwrap()),
        ("DISTCC_FALLBACK", "0"),
    ];
    let out = client(Kind::Stock, sdir.path(), &dead, &args, &senv);
    assert_eq!(out.status.code(), Some(116));
    assert_eq!(text(&out.stderr), "");
}

/// `make -j$(tinydcc -j)` must not become `make -j`: without a usable
/// list, the local slot count and a warning (stock distcc prints nothing).
#[test]
fn j_without_a_usable_list_prints_the_local_slot_count() {
    let dir = TempDir::new("jsafe");
    let log = dir.join("client.log");
    for hosts in ["", "a,bogus", "box:notaport"] {
        let out = client(Kind::Stock, dir.path(), hosts, &["-j"], &[]);
        assert_eq!(text(&out.stdout), "", "stock, {hosts:?}");
        for env in [&[][..], &[("DISTCC_LOG", log.to_str().unwrap())][..]] {
            let out = client(Kind::Tiny, dir.path(), hosts, &["-j"], env);
            assert_eq!(out.status.code(), Some(0));
            assert_eq!(text(&out.stdout), "4\n", "{hosts:?} {env:?}");
            let err = text(&out.stderr);
            assert!(
                err.contains("-j prints the local slot count, 4"),
                "{hosts:?} {env:?}: {err}"
            );
            all_ours(&out.stderr);
        }
    }
    // A good list: the sum, as before and as distcc.
    let out = client(Kind::Tiny, dir.path(), "a/3 b/2", &["-j"], &[]);
    assert_eq!(text(&out.stdout), "5\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn empty_host_list_warns_in_distccs_words() {
    for kind in [Kind::Stock, Kind::Tiny] {
        let dir = TempDir::new("emptylist");
        dir.write("x.c", HELLO);
        let out = client(
            kind,
            dir.path(),
            "",
            &["gcc", "-c", "x.c", "-o", "x.o"],
            &[],
        );
        assert!(out.status.success(), "{kind:?}");
        let err = text(&out.stderr);
        for phrase in [
            "Warning: $DISTCC_HOSTS contained no hosts; can't distribute work",
            "Warning: failed to distribute, running locally instead",
        ] {
            // distcc writes "Warning:", tinydcc "WARNING:".
            assert!(
                err.to_lowercase().contains(&phrase.to_lowercase()),
                "{kind:?}: {err}"
            );
        }
    }
}

#[test]
fn unwritable_distcc_log_falls_back_to_stderr() {
    for kind in [Kind::Stock, Kind::Tiny] {
        let dir = TempDir::new("badlog");
        dir.write("x.c", HELLO);
        let bad = dir.join("no-such-dir/client.log");
        let dead = format!("127.0.0.1:{}", free_port());
        let args = ["gcc", "-c", "x.c", "-o", "x.o"];
        let out = client(
            kind,
            dir.path(),
            &dead,
            &args,
            &[("DISTCC_LOG", bad.to_str().unwrap())],
        );
        assert!(out.status.success(), "{kind:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "ERROR: failed to open logfile {}: No such file or directory",
                bad.display()
            )),
            "{kind:?}: {err}"
        );
        assert!(err.contains("running locally instead"), "{kind:?}: {err}");
        // At stderr's level, as distcc: no info lines.
        assert!(!err.contains("compile from x.c"), "{kind:?}: {err}");
        if kind == Kind::Tiny {
            all_ours(&out.stderr);
        }
    }
}

/// `compile FILE on HOST completed ok`, for remote and local jobs, in
/// both clients' logs.
#[test]
fn completed_ok_lines_in_distcc_log() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dead = format!("127.0.0.1:{}/2", free_port());
    for kind in [Kind::Stock, Kind::Tiny] {
        let dir = TempDir::new("okline");
        dir.write("x.c", HELLO);
        let log = dir.join("client.log");
        let env = [("DISTCC_LOG", log.to_str().unwrap())];
        let args = ["gcc", "-c", "x.c", "-o", "x.o"];
        let host = format!("{},lzo", d.host(false));
        let out = client(kind, dir.path(), &host, &args, &env);
        assert!(out.status.success(), "{kind:?}");
        let out = client(kind, dir.path(), &dead, &args, &env);
        assert!(out.status.success(), "{kind:?}");
        let l = std::fs::read_to_string(&log).unwrap();
        for want in [
            format!("compile x.c on {host} completed ok"),
            "compile x.c on localhost completed ok".to_string(),
        ] {
            assert!(l.contains(&want), "{kind:?} lacks {want:?}:\n{l}");
        }
    }
}

/// A host that failed is backed off: the first job names it, the next
/// skips it; both clients say so in the same words.
#[test]
fn backed_off_host_warnings_match() {
    let dead = format!("127.0.0.1:{}", free_port());
    for kind in [Kind::Stock, Kind::Tiny] {
        let dir = TempDir::new("backoffmsg");
        dir.write("x.c", HELLO);
        let args = ["gcc", "-c", "x.c", "-o", "x.o"];
        let first = client(kind, dir.path(), &dead, &args, &[]);
        let second = client(kind, dir.path(), &dead, &args, &[]);
        assert!(first.status.success() && second.status.success());
        let (a, b) = (text(&first.stderr), text(&second.stderr));
        assert!(
            a.contains(&format!(
                "failed to distribute x.c to {dead}, running locally instead"
            )),
            "{kind:?}: {a}"
        );
        assert!(a.contains("Connection refused"), "{kind:?}: {a}");
        assert!(
            b.contains("failed to distribute, running locally instead"),
            "{kind:?}: {b}"
        );
        assert!(!b.contains("Connection refused"), "{kind:?}: {b}");
        if kind == Kind::Tiny {
            assert!(!a.contains("(os error"), "{a}");
            assert!(
                a.contains(&format!("failed to connect to {dead}: Connection refused")),
                "{a}"
            );
        }
    }
}

/// A compiler that cannot be run: exit 110 and distcc's words.
#[test]
fn missing_compiler_in_distccs_words() {
    let dead = format!("127.0.0.1:{}", free_port());
    for kind in [Kind::Stock, Kind::Tiny] {
        let dir = TempDir::new("nocc");
        dir.write("x.c", HELLO);
        let out = client(kind, dir.path(), &dead, &["nosuchcc", "-c", "x.c"], &[]);
        assert_eq!(out.status.code(), Some(110), "{kind:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("ERROR: failed to exec nosuchcc: No such file or directory"),
            "{kind:?}: {err}"
        );
    }
}

/// README: a compile error is never compiled a second time; distcc
/// retries it locally and says so. Same exit code either way.
#[test]
fn compile_error_is_not_retried_unlike_distcc() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let mut codes = Vec::new();
    for kind in [Kind::Stock, Kind::Tiny] {
        let dir = TempDir::new("noretrymsg");
        dir.write("bad.c", BAD);
        let out = client(
            kind,
            dir.path(),
            &d.host(false),
            &["gcc", "-c", "bad.c"],
            &[],
        );
        let err = text(&out.stderr);
        let retried = err.contains("remote compilation of 'bad.c' failed, retrying locally");
        assert_eq!(retried, kind == Kind::Stock, "{kind:?}: {err}");
        assert!(
            err.contains("error: expected expression"),
            "{kind:?}: {err}"
        );
        codes.push(out.status.code());
    }
    assert_eq!(codes[0], codes[1]);
}

fn scan_project(dir: &TempDir) {
    std::fs::create_dir_all(dir.join("inc")).unwrap();
    dir.write("inc/a.h", "#define A 0\n");
    dir.write(
        "s.c",
        "#include \"inc/a.h\"\n#include <stdio.h>\nint main(void) { return A; }\n",
    );
}

/// `--scan-includes` under `pump`: the same listing as stock distcc's,
/// from the same include server; and distcc's errors outside pump mode.
#[test]
fn scan_includes_lists_what_stock_distcc_lists() {
    let dir = TempDir::new("scanincl");
    scan_project(&dir);
    let cpp = "127.0.0.1:1/2,lzo,cpp";
    let mut listings = Vec::new();
    for bin in [require("distcc"), tinydcc()] {
        let mut c = client_cmd(Kind::Tiny, dir.path(), cpp);
        c.arg("--pump")
            .arg(&bin)
            .args(["--scan-includes", "gcc", "-c", "s.c", "-o", "s.o"]);
        let out = run(c);
        assert_eq!(out.status.code(), Some(0), "{bin:?}: {}", text(&out.stderr));
        assert!(!dir.join("s.o").exists(), "nothing is compiled");
        listings.push(text(&out.stdout));
    }
    assert_eq!(listings[0], listings[1]);
    let l = &listings[1];
    let src = dir.path().canonicalize().unwrap();
    assert!(
        l.contains(&format!("FILE      {}/s.c\n", src.display())),
        "{l}"
    );
    assert!(
        l.contains(&format!("FILE      {}/inc/a.h\n", src.display())),
        "{l}"
    );
    assert!(l.contains("SYSTEMDIR /usr/include\n"), "{l}");
    // No ',cpp' host: distcc's error and exit 100. Not under pump: 1.
    for (hosts, code, phrase) in [
        (
            "127.0.0.1:1/2,lzo",
            100,
            "wouldn't have used include server",
        ),
        (cpp, 1, "failed to get includes from include server"),
    ] {
        for kind in [Kind::Stock, Kind::Tiny] {
            let out = client(
                kind,
                dir.path(),
                hosts,
                &["--scan-includes", "gcc", "-c", "s.c"],
                &[],
            );
            assert_eq!(out.status.code(), Some(code), "{kind:?} {hosts}");
            let err = text(&out.stderr);
            assert!(err.contains(phrase), "{kind:?} {hosts}: {err}");
            assert_eq!(text(&out.stdout), "");
        }
    }
}

/// README: tinydcc lists nothing for a command that would run locally
/// (stock distcc runs it: `--scan-includes gcc s.c` links a.out).
#[test]
fn scan_includes_never_compiles() {
    let dir = TempDir::new("scanlocal");
    scan_project(&dir);
    let mut c = client_cmd(Kind::Tiny, dir.path(), "127.0.0.1:1/2,lzo,cpp");
    c.arg("--pump")
        .arg(tinydcc())
        .args(["--scan-includes", "gcc", "s.c"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(100));
    assert!(text(&out.stderr).contains("wouldn't have used include server"));
    assert!(!dir.join("a.out").exists());
}

/// One program name per process, and no bare "(os error N)".
#[test]
fn messages_name_tinydcc_and_the_reason() {
    let dir = TempDir::new("names1");
    let out = client(Kind::Tiny, dir.path(), "x", &[], &[]);
    assert_eq!(out.status.code(), Some(101));
    all_ours(&out.stderr);
    // A preprocessed source that is not there.
    let dead = format!("127.0.0.1:{}", free_port());
    let out = client(Kind::Tiny, dir.path(), &dead, &["gcc", "-c", "gone.i"], &[]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains("failed to read gone.i: No such file or directory"),
        "{err}"
    );
    assert!(!err.contains("(os error"), "{err}");
}
