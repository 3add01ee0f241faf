//! The monitor against stock distcc's own state files.

mod common;
use common::*;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A stock distcc client stuck waiting on a host that never answers shows
/// up in `tinydcc --mon` (and the name distccmon-text).
#[test]
fn mon_shows_a_running_stock_client() {
    let dir = TempDir::new("mon");
    dir.write("slow.c", HELLO);
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    let mut c = client_cmd(Kind::Stock, dir.path(), &format!("127.0.0.1:{port}"));
    c.args(["gcc", "-c", "slow.c", "-o", "slow.o"])
        .env("DISTCC_IO_TIMEOUT", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut client = c.spawn().unwrap();
    let _held = hole.accept().unwrap();
    let ddir = dir.join(".distcc-private");
    let link = dir.join("distccmon-text");
    std::os::unix::fs::symlink(tinydcc(), &link).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut a, mut b) = (String::new(), String::new());
    while Instant::now() < deadline {
        a = text(
            &Command::new(tinydcc())
                .arg("--mon")
                .env("DISTCC_DIR", &ddir)
                .output()
                .unwrap()
                .stdout,
        );
        b = text(
            &Command::new(&link)
                .env("DISTCC_DIR", &ddir)
                .output()
                .unwrap()
                .stdout,
        );
        if a.contains("slow.c") && b.contains("slow.c") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let line = a
        .lines()
        .find(|l| l.contains("slow.c"))
        .unwrap_or_else(|| panic!("{a}"));
    assert!(
        line.trim_start().starts_with(&client.id().to_string()),
        "{line}"
    );
    assert!(line.ends_with("127.0.0.1[0]"), "{line}");
    assert!(b.contains("slow.c"));
    assert!(a.ends_with("\n\n"));
    let _ = client.kill();
    let _ = client.wait();
    // A dead client's entry is dropped even while its file remains.
    let after = text(
        &Command::new(tinydcc())
            .arg("--mon")
            .env("DISTCC_DIR", &ddir)
            .output()
            .unwrap()
            .stdout,
    );
    assert!(!after.contains("slow.c"), "{after}");
    // Bad usage: distccmon-text's exit 1.
    let out = Command::new(tinydcc())
        .args(["--mon", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
