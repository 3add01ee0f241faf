//! ssh hosts (`@host`, `user@host`, `:command`) through a fake `ssh` on
//! PATH that records its argv and runs the remote command locally, as
//! `ssh host distccd --inetd` would on a real cluster.

use crate::common;
use common::*;

struct FakeSsh {
    dir: TempDir,
}

impl FakeSsh {
    /// `ssh [opts] [-l user] host cmd...`: log, drop the ssh part, run cmd
    /// with a daemon log file appended (so the daemon's messages do not
    /// reach the client's stderr).
    fn new() -> FakeSsh {
        let dir = TempDir::new("fakessh");
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        script(
            &bin.join("ssh"),
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{log}'\n\
                 while [ $# -gt 0 ]; do\n  case \"$1\" in\n    -l|-o|-p) shift 2;;\n    -*) shift;;\n    *) shift; break;;\n  esac\ndone\n\
                 exec \"$@\" --log-file '{dlog}'\n",
                log = dir.join("ssh.log").display(),
                dlog = dir.join("daemon.log").display()
            ),
        );
        FakeSsh { dir }
    }
    fn path(&self) -> String {
        path_with(&self.dir.join("bin"))
    }
    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.join("ssh.log")).unwrap_or_default()
    }
    fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }
}

fn compile_over_ssh(
    ssh: &FakeSsh,
    hosts: &str,
    extra_env: &[(&str, &str)],
) -> (TempDir, std::process::Output) {
    let dir = TempDir::new("ssh");
    dir.write("s.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), hosts);
    c.args(["gcc", "-c", "s.c", "-o", "s.o"])
        .env("PATH", ssh.path())
        .env("DISTCC_FALLBACK", "0")
        .envs(extra_env.iter().copied());
    let out = run(c);
    (dir, out)
}

#[test]
fn ssh_host_runs_stock_distccd_inetd() {
    require("distccd");
    let ssh = FakeSsh::new();
    for lzo in [false, true] {
        let hosts = format!("pi@buildbox/2{}", if lzo { ",lzo" } else { "" });
        let (dir, out) = compile_over_ssh(&ssh, &hosts, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(local_gcc(dir.path(), &["-c", "s.c", "-o", "ref.o"])
            .status
            .success());
        assert_eq!(
            std::fs::read(dir.join("s.o")).unwrap(),
            std::fs::read(dir.join("ref.o")).unwrap()
        );
        assert!(
            entries(&dir.join(".distcc-private/lock")).contains(&"cpu_ssh_buildbox_0".to_string())
        );
    }
    let calls = ssh.calls();
    assert!(
        calls.contains("-l pi buildbox distccd --inetd --enable-tcp-insecure"),
        "{calls}"
    );
    assert!(
        ssh.daemon_log().contains("COMPILE_OK"),
        "{}",
        ssh.daemon_log()
    );
}

/// DISTCC_SSH is split on spaces (distcc does, whatever its man page says);
/// `:command` names the remote daemon.
#[test]
fn distcc_ssh_words_and_remote_command() {
    let ssh = FakeSsh::new();
    let fake = ssh.dir.join("bin/ssh");
    let distccd = require("distccd");
    let hosts = format!("@buildbox:{}", distccd.display());
    let ssh_cmd = format!("{} -o BatchMode=yes", fake.display());
    let (_dir, out) = compile_over_ssh(&ssh, &hosts, &[("DISTCC_SSH", &ssh_cmd)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls = ssh.calls();
    assert!(
        calls.contains(&format!(
            "-o BatchMode=yes buildbox {} --inetd --enable-tcp-insecure",
            distccd.display()
        )),
        "{calls}"
    );
}

/// DISTCC_SSH is run as given, bytes and all: an ssh in a directory whose
/// name is not UTF-8 is the one that runs (not a default `ssh`).
#[test]
fn distcc_ssh_path_need_not_be_utf8() {
    use std::os::unix::ffi::OsStringExt;
    let ssh = FakeSsh::new();
    let odd = ssh
        .dir
        .path()
        .join(std::ffi::OsString::from_vec(b"bin\xff".to_vec()));
    std::os::unix::fs::symlink(ssh.dir.join("bin"), &odd).unwrap();
    let mut ssh_cmd = odd.join("ssh").into_os_string();
    ssh_cmd.push(" -o BatchMode=yes");
    let distccd = require("distccd");
    let dir = TempDir::new("sshbytes");
    dir.write("s.c", HELLO);
    let mut c = client_cmd(
        Kind::Tiny,
        dir.path(),
        &format!("@buildbox:{}", distccd.display()),
    );
    c.args(["gcc", "-c", "s.c", "-o", "s.o"])
        .env("PATH", ssh.path())
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_SSH", &ssh_cmd);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls = ssh.calls();
    assert!(
        calls.contains(&format!(
            "-o BatchMode=yes buildbox {} --inetd --enable-tcp-insecure",
            distccd.display()
        )),
        "{calls}"
    );
}

/// A broken ssh (exits at once) is a failed host: fallback, with backoff.
#[test]
fn failing_ssh_falls_back() {
    let dir = TempDir::new("sshfail");
    dir.write("s.c", HELLO);
    let mut c = client_cmd(Kind::Tiny, dir.path(), "@nowhere");
    c.args(["gcc", "-c", "s.c", "-o", "s.o"])
        .env("DISTCC_SSH", "false");
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("running locally instead"));
    assert!(dir
        .join(".distcc-private/lock/backoff_ssh_nowhere_0")
        .exists());
}

/// The same through `tinydcc --daemon --inetd` on the far side (a link
/// named distccd, given as the remote command).
#[test]
fn ssh_host_runs_tinydcc_inetd() {
    let ssh = FakeSsh::new();
    let link = ssh.dir.join("bin/distccd");
    std::os::unix::fs::symlink(tinydcc(), &link).unwrap();
    for lzo in [false, true] {
        let hosts = format!(
            "pi@buildbox/2:{}{}",
            link.display(),
            if lzo { ",lzo" } else { "" }
        );
        let (dir, out) = compile_over_ssh(&ssh, &hosts, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(local_gcc(dir.path(), &["-c", "s.c", "-o", "ref.o"])
            .status
            .success());
        assert_eq!(
            std::fs::read(dir.join("s.o")).unwrap(),
            std::fs::read(dir.join("ref.o")).unwrap()
        );
    }
    assert!(
        ssh.daemon_log().contains("COMPILE_OK"),
        "{}",
        ssh.daemon_log()
    );
    assert!(ssh.calls().contains("--inetd --enable-tcp-insecure"));
}
