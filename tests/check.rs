//! `tinydcc --check`: one line per host, OK/FAIL, exit status; and the
//! bare-machine case with a private daemon. Also the README's first set-up
//! command's toolchain step, cross/host-tools.sh, on stand-in machines.

use crate::common;
use common::*;
use std::process::Command;

#[test]
fn check_reports_each_host() {
    let tiny = Daemon::start(Kind::Tiny, &[]);
    let stock = Daemon::start(Kind::Stock, &[]);
    let dead = free_port();
    let dir = TempDir::new("check");
    let pump = format!("{},cpp", stock.host(true));
    let hosts = format!("{} {pump} 127.0.0.1:{dead} localhost/2", tiny.host(false));
    let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
    c.args(["--check", "--runs", "3"]);
    let out = run(c);
    let o = text(&out.stdout);
    let lines: Vec<&str> = o.lines().collect();
    let ok = |l: &str, spec: &str| {
        l.starts_with("OK") && l.contains(spec) && l.contains(" plain ") && l.contains("median")
    };
    assert!(ok(lines[0], &tiny.host(false)), "{o}");
    assert!(lines[0].contains("suggest /"), "{o}");
    assert!(ok(lines[1], &pump), "{o}");
    // The ,cpp host is also checked in pump mode (protocol 3 to distccd).
    assert!(
        lines[2].starts_with("OK") && lines[2].contains(" pump ") && lines[2].contains("median"),
        "{o}"
    );
    assert!(
        lines[3].starts_with("FAIL") && lines[3].contains("Connection refused"),
        "{o}"
    );
    assert!(
        lines[4].starts_with("OK") && lines[4].contains("localhost/2"),
        "{o}"
    );
    assert!(lines[5].contains("1 of 4 host(s) failed"), "{o}");
    assert_eq!(out.status.code(), Some(100));
    assert!(tiny.wait_job("COMPILE_OK", "hello_distcc.c"));
    assert!(stock.wait_job("COMPILE_OK", "hello_distcc.c"));

    let mut c = client_cmd(Kind::Tiny, dir.path(), &tiny.host(true));
    c.args(["--check", "--runs", "1", "--no-suggest"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("suggest"));
    let mut c = client_cmd(Kind::Tiny, dir.path(), &tiny.host(true));
    c.args(["--check", "--bogus"]);
    assert_eq!(run(c).status.code(), Some(101));
}

/// A daemon that refuses the compiler (stock distccd without whitelist
/// entry) is a FAIL with a reason, not a hang.
#[test]
fn check_names_a_refusing_daemon() {
    let d = Daemon::start(Kind::Stock, &["--allow", "10.9.8.7"]);
    let dir = TempDir::new("check-refuse");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["--check", "--runs", "1", "--no-suggest"]);
    let out = run(c);
    let o = text(&out.stdout);
    assert!(o.starts_with("FAIL"), "{o}");
    assert_eq!(out.status.code(), Some(100));
}

/// A tinydcc daemon whose access list leaves this client out says so, and
/// --check names it.
#[test]
fn check_names_a_host_that_refuses_this_client() {
    let d = Daemon::start(Kind::Tiny, &["--allow", "10.0.0.0/8"]);
    let dir = TempDir::new("check-not-allowed");
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["--check", "--runs", "1", "--no-suggest"]);
    let out = run(c);
    let o = text(&out.stdout);
    let first = o.lines().next().unwrap_or("");
    assert!(
        first.starts_with("FAIL") && first.contains(&d.host(false)),
        "{o}"
    );
    assert!(
        first.ends_with(" plain  refused: not allowed (127.0.0.1 is not in its --allow list)"),
        "{o}"
    );
    assert_eq!(out.status.code(), Some(100));
    assert!(d.wait_log("denied").contains("denied by access list"));
}

/// No host anywhere (no $DISTCC_HOSTS, no ~/.distcc/hosts, and an empty
/// /etc/distcc in a private mount namespace): a private daemon is checked.
#[test]
#[ignore = "slow tier (root, mount namespace): tests/run runs it"]
fn check_on_a_bare_machine() {
    let unshare = require("unshare");
    let dir = TempDir::new("bare");
    let script = format!(
        "if [ -d /etc/distcc ]; then mount -t tmpfs tinydcc-test /etc/distcc || exit 99; fi; \
         exec {} --check",
        tinydcc().display()
    );
    let out = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env_remove("DISTCC_HOSTS")
        .env_remove("DISTCC_DIR")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{o}\n{}", text(&out.stderr));
    assert!(o.contains("checking a private daemon on 127.0.0.1:"), "{o}");
    assert!(o.lines().any(|l| l.starts_with("OK    127.0.0.1:")), "{o}");
}

/// A stand-in machine for cross/host-tools.sh: a PATH with the few real
/// tools it uses, gcc, and a recording apt-get whose "install" of
/// cargo-web puts a Rust 1.96 on that PATH.
fn fake_machine(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sh", "sed", "grep", "id", "env", "cp"] {
        std::os::unix::fs::symlink(require(tool), bin.join(tool)).unwrap();
    }
    script(&bin.join("gcc"), "#!/bin/sh\n");
    // Run by a user, the script asks sudo for apt-get (a contributor's
    // `cargo test` is not root).
    script(&bin.join("sudo"), "#!/bin/sh\nexec \"$@\"\n");
    let log = dir.join("apt.log");
    // What the packages would bring, put in place by apt-get.
    let pkg = dir.join("rustc-web");
    script(&pkg, "#!/bin/sh\necho 'rustc 1.96.0 (Debian)'\n");
    script(
        &bin.join("apt-get"),
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{log}'\n\
             case \"$*\" in *cargo-web*) cp '{pkg}' '{bin}/rustc'; cp '{pkg}' '{bin}/cargo';; esac\n",
            log = log.display(),
            pkg = pkg.display(),
            bin = bin.display(),
        ),
    );
    (bin, log)
}

fn host_tools(bin: &std::path::Path) -> std::process::Output {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cross/host-tools.sh");
    Command::new(require("sh"))
        .arg(script)
        .env("PATH", bin)
        .output()
        .unwrap()
}

#[test]
fn host_tools_installs_debians_rust_only_when_missing() {
    // A fresh Debian 12: no cargo. rustc-web and cargo-web are installed.
    let dir = TempDir::new("host-tools-fresh");
    let (bin, log) = fake_machine(&dir);
    let out = host_tools(&bin);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let apt = std::fs::read_to_string(&log).unwrap();
    assert!(
        apt.contains("install -y -q --no-install-recommends rustc-web cargo-web"),
        "{apt}"
    );
    // Run again: everything is there, apt is not called.
    std::fs::remove_file(&log).unwrap();
    let out = host_tools(&bin);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!log.exists());

    // rustup's Rust too old: told to update it, apt left alone.
    let dir = TempDir::new("host-tools-rustup");
    let (bin, log) = fake_machine(&dir);
    script(
        &bin.join("rustc"),
        "#!/bin/sh\necho 'rustc 1.80.1 (3f5fd8dd4 2024-08-06)'\n",
    );
    script(&bin.join("cargo"), "#!/bin/sh\n");
    script(&bin.join("rustup"), "#!/bin/sh\n");
    let out = host_tools(&bin);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("rustup's Rust is older than 1.85: run 'rustup update stable'"),
        "{}",
        text(&out.stderr)
    );
    assert!(!log.exists());
}

#[test]
fn check_option_errors_name_the_option() {
    for (args, want) in [
        (
            &["--check", "--bogus"][..],
            "tinydcc --check: --bogus: unknown option",
        ),
        (
            &["--check", "--runs", "x"][..],
            "tinydcc --check: --runs: 'x' is not a number",
        ),
        (
            &["--check", "--runs"][..],
            "tinydcc --check: --runs: missing value",
        ),
    ] {
        let out = Command::new(tinydcc()).args(args).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(101), "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
        assert!(err.contains("usage: tinydcc --check"), "{err}");
    }
}

/// `--check` seeds `TINYDCC_CHOOSE=measured`'s speed records: one per
/// checked host and this machine's own (compile and cpp), whole.
#[test]
fn check_seeds_the_speed_records() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("check-seed");
    let mut c = client_cmd(
        Kind::Tiny,
        dir.path(),
        &format!("{} localhost/2", d.host(false)),
    );
    c.args(["--check", "--runs", "1", "--no-suggest"]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let speed = dir.join(".distcc-private/speed");
    let mut names = entries(&speed);
    names.sort();
    assert_eq!(
        names,
        vec![
            "speed_localhost_0".to_string(),
            format!("speed_tcp_127.0.0.1_{}_0", d.port)
        ]
    );
    for n in names {
        let t = std::fs::read_to_string(speed.join(&n)).unwrap();
        let w: Vec<&str> = t.trim_end().split(' ').collect();
        assert!(
            t.ends_with(" end\n") && w[..2] == ["tinydcc-speed", "1"],
            "{t}"
        );
        // One job measured (sums in millionths): n = 1, a positive time.
        assert_eq!(w[3], "1000000", "{t}");
        assert!(w[5].parse::<u64>().unwrap() > 0, "{t}");
    }
}
