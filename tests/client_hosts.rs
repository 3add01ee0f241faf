//! Host lists through the binary: `--show-hosts` and `-j` print what stock
//! distcc prints for the same list (etc/distcc/hosts' example included),
//! the lookup order, and errors that name the file and line.

use crate::common;
use common::*;

const SEED_LINE_1: &str = "127.0.0.1/2 192.168.0.1/4 192.168.0.80/2 192.168.0.81/2 192.168.0.82/2";
const SEED_LINE_2: &str = "localhost my_power_machine baalue-01 baalue-02 baalue-03";

fn show(kind: Kind, dir: &TempDir, hosts: Option<&str>, arg: &str) -> (String, i32) {
    let mut c = client_cmd(kind, dir.path(), hosts.unwrap_or(""));
    if hosts.is_none() {
        c.env_remove("DISTCC_HOSTS");
    }
    c.arg(arg);
    let out = run(c);
    (text(&out.stdout), out.status.code().unwrap_or(-1))
}

#[test]
fn show_hosts_and_j_match_stock() {
    let dir = TempDir::new("hosts");
    for list in [
        SEED_LINE_1,
        SEED_LINE_2,
        &format!("{SEED_LINE_1}\n{SEED_LINE_2}\n"),
        "# comment\nbox1/3 # fast one\n\n  box2:4000/2,lzo\tbox3,lzo,cpp\n",
        "--localslots=3 --localslots_cpp=24 localhost/2 a/9 b",
        "--randomize a b c",
        "localhost/3 127.0.0.1:3632/6,lzo @b1/2:/opt/bin/distccd,lzo,cpp u@b2 [::1]:3632/2 hostb=7",
        "[fe80::1]:3633/5,lzo 10.0.0.1:1234 10.0.0.2/1:99",
        "a,down b/2",
    ] {
        for arg in ["--show-hosts", "-j"] {
            let (ours, code) = show(Kind::Tiny, &dir, Some(list), arg);
            let (theirs, scode) = show(Kind::Stock, &dir, Some(list), arg);
            assert_eq!(code, scode, "{arg} {list:?}");
            if list.starts_with("--randomize") && arg == "--show-hosts" {
                // Shuffled: the same names in some order.
                let mut a: Vec<&str> = ours.lines().collect();
                let mut b: Vec<&str> = theirs.lines().collect();
                a.sort();
                b.sort();
                assert_eq!(a, b, "{list:?}");
            } else {
                assert_eq!(ours, theirs, "{arg} {list:?}");
            }
        }
    }
}

#[test]
fn seed_hosts_file_in_distcc_dir() {
    let dir = TempDir::new("seedfile");
    let ddir = dir.join(".distcc-private");
    std::fs::create_dir_all(&ddir).unwrap();
    std::fs::write(
        ddir.join("hosts"),
        format!("# the seed's cluster\n{SEED_LINE_1}\n#{SEED_LINE_2}\n"),
    )
    .unwrap();
    let (ours, _) = show(Kind::Tiny, &dir, None, "--show-hosts");
    let (theirs, _) = show(Kind::Stock, &dir, None, "--show-hosts");
    assert_eq!(ours, theirs);
    assert_eq!(ours.lines().count(), 5);
    let (j, _) = show(Kind::Tiny, &dir, None, "-j");
    assert_eq!(j, "12\n");
}

/// `$DISTCC_HOSTS` wins over the file, even when empty ("contained no
/// hosts": local compile, exit 116 without fallback, as distcc).
#[test]
fn lookup_order_and_empty_list() {
    let dir = TempDir::new("order");
    dir.write("x.c", HELLO);
    std::fs::create_dir_all(dir.join(".distcc-private")).unwrap();
    std::fs::write(dir.join(".distcc-private/hosts"), "fromfile\n").unwrap();
    let (o, _) = show(Kind::Tiny, &dir, Some("fromenv"), "--show-hosts");
    assert_eq!(o, "fromenv\n");
    let (o, _) = show(Kind::Tiny, &dir, None, "--show-hosts");
    assert_eq!(o, "fromfile\n");
    for kind in [Kind::Tiny, Kind::Stock] {
        let mut c = client_cmd(kind, dir.path(), "");
        c.args(["gcc", "-c", "x.c", "-o", "x.o"]);
        let out = run(c);
        assert!(out.status.success(), "{kind:?}");
        assert!(
            text(&out.stderr).contains("no hosts"),
            "{kind:?}: {}",
            text(&out.stderr)
        );
        let mut c = client_cmd(kind, dir.path(), "");
        c.args(["gcc", "-c", "x.c", "-o", "x.o"])
            .env("DISTCC_FALLBACK", "0");
        assert_eq!(run(c).status.code(), Some(116), "{kind:?}");
    }
}

#[test]
fn malformed_line_names_file_and_line() {
    let dir = TempDir::new("malformed");
    let f = dir.join(".distcc-private/hosts");
    std::fs::create_dir_all(dir.join(".distcc-private")).unwrap();
    std::fs::write(&f, "# ok\ngood/2\nbad:port\n").unwrap();
    let mut c = client_cmd(Kind::Tiny, dir.path(), "");
    c.env_remove("DISTCC_HOSTS").arg("--show-hosts");
    let out = run(c);
    assert_eq!(out.status.code(), Some(0), "distcc exits 0 here too");
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:3:", f.display())), "{err}");
    assert!(err.contains("bad:port"), "{err}");
}

#[test]
fn zeroconf_is_accepted_with_one_warning() {
    let dir = TempDir::new("zeroconf");
    let mut c = client_cmd(Kind::Tiny, dir.path(), "+zeroconf box/2");
    c.arg("--show-hosts");
    let out = run(c);
    assert_eq!(text(&out.stdout), "box/2\n");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("+zeroconf") && err.contains("not supported"),
        "{err}"
    );
}
