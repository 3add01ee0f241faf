//! The interop matrix: {stock distcc, tinydcc} client × {stock distccd,
//! tinydcc daemon} × {protocol 1, protocol 2 (LZO)}. In every cell the
//! object equals a local `gcc -c`, a syntax error gives local gcc's exit
//! status and diagnostics, and a warning is relayed.

use crate::common;
use common::*;

fn cell(client: Kind, daemon: Kind, lzo: bool) {
    let d = Daemon::start(daemon, &[]);
    let dir = TempDir::new("interop");
    let tag = format!(
        "{client:?}_{daemon:?}_{}",
        if lzo { "lzo" } else { "plain" }
    )
    .to_lowercase();
    let host = d.host(lzo);

    // 1. A good compile: byte-identical object, and it really ran remotely.
    let src = format!("hello_{tag}.c");
    dir.write(&src, HELLO);
    let local = local_gcc(dir.path(), &["-c", &src, "-o", "local.o"]);
    assert!(local.status.success());
    let mut c = client_cmd(client, dir.path(), &host);
    c.args(["gcc", "-c", &src, "-o", "remote.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(
        out.status.success(),
        "{tag}: client failed: {}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.join("local.o")).unwrap(),
        std::fs::read(dir.join("remote.o")).unwrap(),
        "{tag}: object differs from local gcc -c"
    );
    assert!(
        d.wait_job("COMPILE_OK", &src),
        "{tag}: daemon did not compile {src}:\n{}",
        d.log_text()
    );

    // 2. A syntax error: same exit status and diagnostics as local gcc.
    // Stock distcc recompiles locally to print them; tinydcc never
    // compiles twice, so its text lacks only gcc's source excerpts.
    let bad = format!("bad_{tag}.c");
    dir.write(&bad, BAD);
    let local = local_gcc(dir.path(), &["-c", &bad, "-o", "bad_local.o"]);
    let mut c = client_cmd(client, dir.path(), &host);
    c.args(["gcc", "-c", &bad, "-o", "bad_remote.o"]);
    let out = run(c);
    assert_eq!(
        out.status.code(),
        local.status.code(),
        "{tag}: exit status differs"
    );
    assert_ne!(out.status.code(), Some(0));
    let want = match client {
        Kind::Stock => text(&local.stderr),
        Kind::Tiny => without_excerpts(&text(&local.stderr)),
    };
    assert_eq!(
        compiler_lines(&out.stderr),
        want,
        "{tag}: diagnostics differ from local gcc"
    );
    if client == Kind::Tiny {
        // Our client adds nothing of its own to a compile error.
        assert_eq!(text(&out.stderr), want);
    }
    assert!(!dir.join("bad_remote.o").exists());
    assert!(
        d.wait_job("COMPILE_ERROR", &bad),
        "{tag}: the failing job did not reach the daemon:\n{}",
        d.log_text()
    );

    // 3. A warning is relayed from the server, and the object is still right.
    let warn = format!("warn_{tag}.c");
    dir.write(&warn, WARN);
    let local = local_gcc(dir.path(), &["-Wall", "-c", &warn, "-o", "warn_local.o"]);
    let mut c = client_cmd(client, dir.path(), &host);
    c.args(["gcc", "-Wall", "-c", &warn, "-o", "warn_remote.o"])
        .env("DISTCC_FALLBACK", "0");
    let out = run(c);
    assert!(out.status.success(), "{tag}: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{warn}:3:7: warning: unused variable")),
        "{tag}: warning not relayed: {err}"
    );
    assert!(text(&local.stderr).contains("warning: unused variable"));
    assert_eq!(
        std::fs::read(dir.join("warn_local.o")).unwrap(),
        std::fs::read(dir.join("warn_remote.o")).unwrap()
    );
    assert!(d.wait_job("COMPILE_OK", &warn), "{tag}:\n{}", d.log_text());
}

macro_rules! matrix {
    ($($name:ident: $client:expr, $daemon:expr, $lzo:expr;)*) => {
        $(#[test] fn $name() { cell($client, $daemon, $lzo); })*
    };
}

matrix! {
    stock_client_stock_daemon_v1: Kind::Stock, Kind::Stock, false;
    stock_client_stock_daemon_v2: Kind::Stock, Kind::Stock, true;
    stock_client_tiny_daemon_v1: Kind::Stock, Kind::Tiny, false;
    stock_client_tiny_daemon_v2: Kind::Stock, Kind::Tiny, true;
    tiny_client_stock_daemon_v1: Kind::Tiny, Kind::Stock, false;
    tiny_client_stock_daemon_v2: Kind::Tiny, Kind::Stock, true;
    tiny_client_tiny_daemon_v1: Kind::Tiny, Kind::Tiny, false;
    tiny_client_tiny_daemon_v2: Kind::Tiny, Kind::Tiny, true;
}

/// Our daemon leaves nothing in its scratch dir and exits 0 on SIGTERM.
#[test]
fn tiny_daemon_cleans_up_and_stops() {
    let mut d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("cleanup");
    dir.write("x.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
    c.args(["gcc", "-c", "x.c"]).env("DISTCC_FALLBACK", "0");
    assert!(run(c).status.success());
    assert!(dir.join("x.o").exists(), "default output name x.o");
    assert!(
        d.leftovers_after_reply().is_empty(),
        "left in scratch: {:?}",
        d.leftovers()
    );
    let st = d.stop();
    assert_eq!(st.code(), Some(0));
}
