//! Argument classification: for every command line below, tinydcc's
//! table (`tinydcc::args::scan`) must decide local vs. remote exactly as
//! stock distcc 3.4 does, and stock distcc is asked in the same test
//! (DISTCC_VERBOSE=1 logs "compile from X to Y" only for distributable jobs).

use crate::common;
use common::*;
use std::os::unix::fs::PermissionsExt;

/// (command line, what we expect; the test also checks stock distcc agrees)
const VECTORS: &[(&str, Decision)] = &[
    ("gcc -c hello.c -o hello.o", Remote),
    ("gcc -c hello.c", Remote),
    ("gcc -c -o hello.o hello.c", Remote),
    ("gcc -c hello.c -ohello.o", Remote),
    ("gcc hello.c -o hello", Local),
    ("gcc a.o b.o -o prog", Local),
    ("gcc -fsyntax-only hello.c", Local),
    ("gcc -E hello.c", Cpp),
    ("gcc -E -c hello.c -o hello.o", Cpp),
    ("gcc -M -c hello.c", Local),
    ("gcc -MM -c hello.c", Local),
    ("gcc -MD -c hello.c -o hello.o", Remote),
    ("gcc -MMD -MP -MF h.d -MT h.o -c hello.c", Remote),
    ("gcc -MFh.d -MMD -c hello.c", Remote),
    ("gcc -MG -MD -c hello.c", Remote),
    ("gcc -c hello.c -MQ x -MD", Remote),
    ("gcc -Wp,-MD,h.d -c hello.c", Remote),
    ("gcc -Wp,-DX,-UY -c hello.c", Remote),
    ("gcc -S hello.c", Remote),
    ("gcc -S hello.c -o -", Local),
    ("gcc -c hello.c -o -", Local),
    ("gcc -c a.c b.c", Local),
    ("gcc -c x.s", Local),
    ("gcc -c x.S", Local),
    ("gcc -c -march=native hello.c", Local),
    ("gcc -c -mtune=native hello.c", Local),
    ("gcc -c -mcpu=native hello.c", Remote),
    ("gcc -c -march=armv7-a -mfpu=neon hello.c", Remote),
    ("gcc -c -fprofile-arcs hello.c", Local),
    ("gcc -c -ftest-coverage hello.c", Local),
    ("gcc -c --coverage hello.c", Local),
    ("gcc -c -frepo hello.cc", Local),
    ("gcc -c -flto hello.c", Local),
    ("gcc -c -flto=auto hello.c", Remote),
    ("gcc -c -fprofile-generate hello.c", Local),
    ("gcc -c -fprofile-use=prof hello.c", Local),
    ("gcc -c -fauto-profile hello.c", Local),
    ("gcc -c -fprofile-correction hello.c", Local),
    ("gcc -c -xc hello.c", Local),
    ("gcc -c -x go hello.c", Remote),
    ("gcc -c -x c hello.c", Remote),
    ("gcc -c -x c++ hello.cc", Remote),
    ("gcc -c -x assembler-with-cpp hello.c", Local),
    ("gcc -c -drA hello.c", Local),
    ("gcc -c -specs=foo hello.c", Local),
    ("gcc -c -Wa,-adhln=x.lst hello.c", Local),
    ("gcc -c -Wa,--MD,x.d hello.c", Local),
    ("gcc -c -Wa,--noexecstack hello.c", Remote),
    ("gcc -c conftest.c", Local),
    ("gcc -c tmp.conftest.c", Local),
    ("gcc -c hello.c -o a.o b.o", Local),
    ("gcc -c hello.c -o hello.o -o h2.o", Local),
    ("gcc -c", Local),
    ("gcc -c -", Local),
    ("gcc -c hello.i", Remote),
    ("gcc -c hello.ii", Remote),
    ("gcc -c hello.mi", Remote),
    ("g++ -c hello.cpp -o hello.o", Remote),
    ("g++ -c hello.cxx", Remote),
    ("g++ -c hello.C", Remote),
    ("g++ -c hello.c++", Remote),
    ("gcc -c hello.m", Remote),
    ("gcc -c hello.mm", Remote),
    ("gcc -c hello.c -save-temps", Remote),
    (
        "gcc -c -g -O2 -Wall -DX=1 -Iinc hello.c -o out/hello.o",
        Remote,
    ),
    ("gcc -c -include cfg.h hello.c", Remote),
    ("gcc -c hello.c x.o", Remote),
    ("gcc -c hello.f90", Local),
    ("gcc -c hello.c -fPIC -shared -o libh.so", Remote),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Remote,
    Local,
    /// `-E`: local, on a preprocessing slot.
    Cpp,
}
use Decision::*;

fn ours(argv: &[String]) -> Decision {
    let argv: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
    match tinydcc::args::scan(&argv) {
        Ok(_) => Remote,
        Err(tinydcc::args::Local::Preprocess) => Cpp,
        Err(_) => Local,
    }
}

fn stock(dir: &TempDir, bin: &std::path::Path, argv: &[String]) -> Decision {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // A dead host: distributable jobs try it (then back off) and fall back.
    let mut c = client_cmd(Kind::Stock, dir.path(), "127.0.0.1:1");
    c.args(argv)
        .env("PATH", path)
        .env("DISTCC_VERBOSE", "1")
        .env("DISTCC_NO_REWRITE_CROSS", "1");
    let out = c.output().expect("run distcc");
    let err = text(&out.stderr);
    if err.contains("-E call for cpp must be local") {
        Cpp
    } else if err.contains("output to stdout") {
        // distcc logs "compile from hello.c to -" before refusing "-o -".
        Local
    } else if err.contains(") compile from ") || err.contains("] compile from ") {
        Remote
    } else {
        Local
    }
}

#[test]
fn classification_matches_stock_distcc() {
    require("distcc");
    assert!(VECTORS.len() >= 40);
    let dir = TempDir::new("args");
    // A fake compiler: stock distcc runs it (for cpp and the local
    // fallback), which makes each probe fast and independent of gcc.
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for name in ["gcc", "g++"] {
        let p = bin.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut mismatches = Vec::new();
    for (line, expected) in VECTORS {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        let theirs = stock(&dir, &bin, &argv);
        let mine = ours(&argv);
        if theirs != mine || mine != *expected {
            mismatches.push(format!(
                "{line}: stock {theirs:?}, tinydcc {mine:?}, table says {expected:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The same decision as seen from the binary: a local-only job never
/// contacts a host, a distributable one does (checked for a few lines).
#[test]
fn binary_follows_the_table() {
    let dir = TempDir::new("args-bin");
    dir.write("hello.c", HELLO);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
    l.set_nonblocking(true).unwrap();
    for (line, remote) in [
        ("gcc -c hello.c -o h1.o", true),
        ("gcc -M hello.c", false),
        ("gcc -c -fprofile-arcs hello.c -o h2.o", false),
    ] {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &host);
        c.args(line.split_whitespace())
            .env("DISTCC_IO_TIMEOUT", "1")
            .env("DISTCC_BACKOFF_PERIOD", "0");
        let child = c.spawn().unwrap();
        let got = wait_accept(&l, child);
        assert_eq!(got, remote, "{line}");
    }
}

/// Accept (and drop) connections until the client exits; true if any came.
fn wait_accept(l: &std::net::TcpListener, mut child: std::process::Child) -> bool {
    let mut seen = false;
    loop {
        if let Ok((s, _)) = l.accept() {
            seen = true;
            drop(s);
        }
        if let Ok(Some(_)) = child.try_wait() {
            return seen || l.accept().is_ok();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
