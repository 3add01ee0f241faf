//! Argument hardening, end to end: each attack a client could send to a
//! stock distccd is refused by ours before anything runs. Where the attack
//! would leave a marker file, the marker must not exist afterwards.

use crate::common;
use common::*;
use std::path::Path;
use std::time::Duration;

const SRC: &[u8] = b"# 1 \"x.c\"\nint main(void) { return 0; }\n";

/// Send `argv` as a plain-mode job; return the raw reply.
fn send(d: &Daemon, argv: &[&str]) -> Vec<u8> {
    raw_exchange(d.port, &request_v1(argv, SRC), Duration::from_secs(10))
}

fn assert_refused(d: &Daemon, argv: &[&str], marker: Option<&Path>) {
    let reply = send(d, argv);
    assert!(
        reply.starts_with(b"DONE00000001STAT00006500SERR"),
        "{argv:?} was not refused: {:?}",
        text(&reply[..reply.len().min(80)])
    );
    assert!(text(&reply).contains("job refused"));
    if let Some(m) = marker {
        assert!(!m.exists(), "{argv:?} created {}", m.display());
    }
}

#[test]
fn attacks_are_refused_and_never_run() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let lab = TempDir::new("attack");
    let m = |n: &str| lab.join(n);
    let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();

    // -wrapper: the compiler would run a shell (CVE-2004-2687 all over again).
    let wrap = format!("/bin/sh,-c,touch {};exec \"$0\" \"$@\"", s(m("wrapper")));
    assert_refused(
        &d,
        &["gcc", "-wrapper", &wrap, "-c", "x.c", "-o", "x.o"],
        Some(&m("wrapper")),
    );

    // -B: the compiler would run our own `as`.
    let bdir = lab.join("bdir");
    std::fs::create_dir(&bdir).unwrap();
    let fake_as = bdir.join("as");
    std::fs::write(&fake_as, format!("#!/bin/sh\ntouch {}\n", s(m("bdir-as")))).unwrap();
    std::fs::set_permissions(
        &fake_as,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let b = format!("-B{}/", bdir.display());
    assert_refused(
        &d,
        &["gcc", &b, "-c", "x.c", "-o", "x.o"],
        Some(&m("bdir-as")),
    );
    assert_refused(
        &d,
        &[
            "gcc",
            "--prefix",
            &s(bdir.clone()),
            "-c",
            "x.c",
            "-o",
            "x.o",
        ],
        Some(&m("bdir-as")),
    );

    // @file: a response file smuggling the wrapper in.
    let rsp = lab.join("rsp");
    std::fs::write(
        &rsp,
        format!("-wrapper /bin/sh,-c,touch\\ {}", s(m("rsp-marker"))),
    )
    .unwrap();
    let at = format!("@{}", rsp.display());
    assert_refused(
        &d,
        &["gcc", &at, "-c", "x.c", "-o", "x.o"],
        Some(&m("rsp-marker")),
    );

    // Writing outside the job directory.
    for (opt, marker) in [
        ("-MF", "dep"),
        ("-aux-info", "aux"),
        ("-dumpdir", "dumpdir/"),
    ] {
        let target = s(m(marker));
        assert_refused(
            &d,
            &["gcc", "-MD", opt, &target, "-c", "x.c", "-o", "x.o"],
            Some(&m(marker)),
        );
        assert_refused(
            &d,
            &["gcc", opt, &target, "-c", "x.c", "-o", "x.o"],
            Some(&m(marker)),
        );
    }
    let dump = format!("-fdump-tree-original={}", s(m("dump")));
    assert_refused(
        &d,
        &["gcc", &dump, "-c", "x.c", "-o", "x.o"],
        Some(&m("dump")),
    );
    let prof = format!("-fprofile-generate={}", s(m("prof")));
    assert_refused(
        &d,
        &["gcc", &prof, "-c", "x.c", "-o", "x.o"],
        Some(&m("prof")),
    );
    let listing = format!("-Wa,-adhln={}", s(m("listing")));
    assert_refused(
        &d,
        &["gcc", &listing, "-c", "x.c", "-o", "x.o"],
        Some(&m("listing")),
    );
    assert_refused(
        &d,
        &[
            "gcc",
            "-Xassembler",
            &format!("-a={}", s(m("xa"))),
            "-c",
            "x.c",
            "-o",
            "x.o",
        ],
        Some(&m("xa")),
    );
    assert_refused(
        &d,
        &["gcc", "-save-temps=/tmp", "-c", "x.c", "-o", "x.o"],
        None,
    );

    // Loading code or reading files.
    for argv in [
        &["gcc", "-fplugin=/tmp/evil.so", "-c", "x.c", "-o", "x.o"][..],
        &["gcc", "-fplugin-arg-evil-x=1", "-c", "x.c", "-o", "x.o"],
        &["gcc", "-specs=/tmp/evil.specs", "-c", "x.c", "-o", "x.o"],
        &[
            "gcc",
            "--specs",
            "/tmp/evil.specs",
            "-c",
            "x.c",
            "-o",
            "x.o",
        ],
        &["gcc", "-include", "/etc/passwd", "-c", "x.c", "-o", "x.o"],
        &["gcc", "-imacros", "/etc/passwd", "-c", "x.c", "-o", "x.o"],
        &["gcc", "-x", "assembler", "-c", "x.c", "-o", "x.o"],
        &["gcc", "-x", "assembler-with-cpp", "-c", "x.c", "-o", "x.o"],
        &["gcc", "-Wp,-MD,/tmp/x", "-c", "x.c", "-o", "x.o"],
        &[
            "gcc",
            "-Xclang",
            "-load",
            "-Xclang",
            "/tmp/evil.so",
            "-c",
            "x.c",
            "-o",
            "x.o",
        ],
        &["gcc", "-c", "x.c", "/etc/passwd", "-o", "x.o"],
        &[
            "gcc",
            "-fauto-profile=/etc/shadow",
            "-c",
            "x.c",
            "-o",
            "x.o",
        ],
        &["gcc", "--unknown-long-option", "-c", "x.c", "-o", "x.o"],
    ] {
        assert_refused(&d, argv, None);
    }
    let log = d.log_text();
    assert!(!log.contains("COMPILE_"), "a refused job ran:\n{log}");
    assert!(
        log.contains("WARNING: client 127.0.0.1:") && log.contains("refused: argument '-wrapper'"),
        "{log}"
    );
    assert!(d.leftovers_after_reply().is_empty());
}

/// `-o` is rewritten into the job directory, as distccd does.
#[test]
fn output_path_is_rewritten_not_written() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let lab = TempDir::new("outpath");
    let target = lab.join("elsewhere.o");
    let reply = send(&d, &["gcc", "-c", "x.c", "-o", target.to_str().unwrap()]);
    assert!(
        reply.starts_with(b"DONE00000001STAT00000000"),
        "{:?}",
        text(&reply[..60.min(reply.len())])
    );
    assert!(!target.exists());
    // The job dir is removed just after the reply is sent: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !d.leftovers_after_reply().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(d.leftovers_after_reply().is_empty(), "{:?}", d.leftovers());
}

/// Stock clients send `-x c` for `-x c` compiles; it is rewritten to the
/// preprocessed language, so the server never preprocesses (and #includes).
#[test]
fn language_is_rewritten_to_preprocessed() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let lab = TempDir::new("lang");
    let secret = lab.write("secret.h", "int leaked = 42;\n");
    let evil = format!(
        "#include \"{}\"\nint main(void) {{ return 0; }}\n",
        secret.display()
    );
    let reply = raw_exchange(
        d.port,
        &request_v1(
            &["gcc", "-x", "c", "-c", "x.c", "-o", "x.o"],
            evil.as_bytes(),
        ),
        Duration::from_secs(10),
    );
    // As preprocessed input, the #include line is an error, not a file read.
    assert!(
        reply.starts_with(b"DONE00000001STAT00000100"),
        "{:?}",
        text(&reply)
    );
    assert!(!text(&reply).contains("leaked"));
    // And a stock client with -x c still compiles correctly through us.
    let dir = TempDir::new("langok");
    dir.write("y.c", HELLO);
    let mut c = client_cmd(Kind::Stock, dir.path(), &d.host(false));
    c.args(["gcc", "-x", "c", "-c", "y.c", "-o", "y.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        local_gcc(dir.path(), &["-x", "c", "-c", "y.c", "-o", "ref.o"])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(dir.join("y.o")).unwrap(),
        std::fs::read(dir.join("ref.o")).unwrap()
    );
    assert!(d.wait_job("COMPILE_OK", "y.c"));
}

/// The source itself can read files: `.incbin` in inline assembly. The
/// Landlock sandbox keeps the compiler to the system, its toolchain and its
/// job directory; without it (`--no-sandbox`) the attack works, which shows
/// the test is real.
#[test]
fn sandbox_stops_incbin_of_outside_files() {
    let lab = TempDir::new("secret");
    let secret = lab.write("secret.txt", "TOPSECRET-tinydcc-42\n");
    let src = format!(
        "# 1 \"x.c\"\n__asm__(\".section .rodata\\n.incbin \\\"{}\\\"\\n.text\");\nint main(void) {{ return 0; }}\n",
        secret.display()
    );
    let req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], src.as_bytes());

    let open = Daemon::start(Kind::Tiny, &["--no-sandbox"]);
    let reply = raw_exchange(open.port, &req, Duration::from_secs(10));
    assert!(
        reply.starts_with(b"DONE00000001STAT00000000"),
        "{:?}",
        text(&reply)
    );
    assert!(
        text(&reply).contains("TOPSECRET-tinydcc-42"),
        "the unconfined attack should work"
    );

    let d = Daemon::start(Kind::Tiny, &[]);
    assert!(
        d.wait_log("Landlock ABI").contains("active"),
        "{}",
        d.log_text()
    );
    let reply = raw_exchange(d.port, &req, Duration::from_secs(10));
    assert!(
        reply.starts_with(b"DONE00000001STAT0000"),
        "{:?}",
        text(&reply)
    );
    assert!(
        !reply.starts_with(b"DONE00000001STAT00000000"),
        "confined compile succeeded"
    );
    assert!(!text(&reply).contains("TOPSECRET"));
    assert!(
        text(&reply).contains("secret.txt"),
        "the assembler's error names the file"
    );
    assert!(d.leftovers_after_reply().is_empty());
}
