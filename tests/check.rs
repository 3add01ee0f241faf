//! `tinydcc --check`: one line per host, OK/FAIL, exit status; and the
//! bare-machine case with a private daemon.

mod common;
use common::*;
use std::process::Command;

#[test]
fn check_reports_each_host() {
    let tiny = Daemon::start(Kind::Tiny, &[]);
    let stock = Daemon::start(Kind::Stock, &[]);
    let dead = free_port();
    let dir = TempDir::new("check");
    let hosts = format!("{} {} 127.0.0.1:{dead}", tiny.host(false), stock.host(true));
    let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
    c.arg("--check");
    let out = run(c);
    let o = text(&out.stdout);
    let lines: Vec<&str> = o.lines().collect();
    assert!(
        lines[0].starts_with("OK") && lines[0].contains(&tiny.host(false)),
        "{o}"
    );
    assert!(
        lines[1].starts_with("OK") && lines[1].contains(&stock.host(true)),
        "{o}"
    );
    assert!(
        lines[2].starts_with("FAIL") && lines[2].contains("Connection refused"),
        "{o}"
    );
    assert!(lines[0].trim_end().ends_with(" ms"));
    assert_eq!(out.status.code(), Some(100));
    assert!(tiny.wait_job("COMPILE_OK", "hello_distcc.c"));
    assert!(stock.wait_job("COMPILE_OK", "hello_distcc.c"));

    let mut c = client_cmd(Kind::Tiny, dir.path(), &tiny.host(true));
    c.arg("--check");
    let out = run(c);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

/// No host anywhere (no $DISTCC_HOSTS, no ~/.distcc/hosts, and an empty
/// /etc/distcc in a private mount namespace): a private daemon is checked.
#[test]
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
