//! `--inetd`: one job on stdin/stdout, as inetd or a client's ssh runs it.

use crate::common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn one_job_over_pipes() {
    let dir = TempDir::new("inetd");
    dir.write("p.c", HELLO);
    let pre = local_gcc(dir.path(), &["-E", "p.c"]);
    assert!(local_gcc(dir.path(), &["-c", "p.c", "-o", "local.o"])
        .status
        .success());
    let req = request_v1(&["gcc", "-c", "p.c", "-o", "p.o"], &pre.stdout);
    let mut child = Command::new(tinydcc())
        .args(["--daemon", "--inetd", "--log-stderr"])
        .env("TMPDIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(&req).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let local = std::fs::read(dir.join("local.o")).unwrap();
    let head = format!(
        "DONE00000001STAT00000000SERR00000000SOUT00000000DOTO{:08x}",
        local.len()
    );
    assert!(
        out.stdout.starts_with(head.as_bytes()),
        "{:?}",
        text(&out.stdout[..60.min(out.stdout.len())])
    );
    assert_eq!(&out.stdout[head.len()..], &local[..]);
    assert!(text(&out.stderr).contains("COMPILE_OK"));
    // Only p.c, the reference files and nothing of the job's are left.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn truncated_request_on_stdin() {
    let mut child = Command::new(tinydcc())
        .args(["--daemon", "--inetd", "--log-stderr"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"DIST00000001ARGC0000")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(108));
    assert!(out.stdout.is_empty());
}

/// Stock distcc's ssh mode (`@host`) runs `distccd --inetd` through $DISTCC_SSH;
/// a fake ssh on PATH runs our daemon instead.
#[test]
fn stock_client_over_fake_ssh() {
    let dir = TempDir::new("ssh");
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(tinydcc(), bin.join("distccd")).unwrap();
    let ssh = bin.join("fake-ssh");
    std::fs::write(
        &ssh,
        "#!/bin/sh\n# drop ssh options and the host name, run the command here\n\
         while [ $# -gt 0 ]; do case \"$1\" in -l) shift 2;; -*) shift;; *) break;; esac; done\n\
         shift\nexec \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir.write("s.c", HELLO);
    assert!(local_gcc(dir.path(), &["-c", "s.c", "-o", "local.o"])
        .status
        .success());
    for host in ["@buildbox", "user@buildbox/2,lzo"] {
        let mut c = client_cmd(Kind::Stock, dir.path(), host);
        c.env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("DISTCC_SSH", &ssh)
        .env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-c", "s.c", "-o", "s.o"]);
        let out = run(c);
        assert!(out.status.success(), "{host}: {}", text(&out.stderr));
        assert_eq!(
            std::fs::read(dir.join("s.o")).unwrap(),
            std::fs::read(dir.join("local.o")).unwrap()
        );
        std::fs::remove_file(dir.join("s.o")).unwrap();
    }
}

/// inetd hands the daemon a TCP socket: a peer outside `--allow` gets the
/// refusal line (whole, though it was still sending) and exit 113.
#[test]
fn tcp_peer_outside_allow_is_told() {
    use std::io::Read;
    use std::os::fd::OwnedFd;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    let stdout = server.try_clone().unwrap();
    let mut child = Command::new(tinydcc())
        .args([
            "--daemon",
            "--inetd",
            "--allow",
            "10.0.0.0/8",
            "--log-stderr",
        ])
        .stdin(Stdio::from(OwnedFd::from(server)))
        .stdout(Stdio::from(OwnedFd::from(stdout)))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The request arrives after the daemon has answered.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let req = request_v1(&["gcc", "-c", "x.c", "-o", "x.o"], &vec![b' '; 1 << 20]);
    client.write_all(&req).unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(
        text(&got),
        "distccd: 127.0.0.1 refused this client (127.0.0.1 is not in its --allow list)\n"
    );
    drop(client);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(113), "{err}");
    assert!(err.contains("denied by access list"), "{err}");
}

/// Over ssh, a client whose cpp failed sends its argv and closes: logged at
/// info (not a WARNING), exit 108 as for any short request.
#[test]
fn client_whose_cpp_fails_is_logged_at_info() {
    let mut req = request_v1(&["gcc", "-c", "p.c", "-o", "p.o"], b"");
    req.truncate(req.len() - 12); // no DOTI at all
    let mut child = Command::new(tinydcc())
        .args(["--daemon", "--inetd", "--log-stderr", "--log-level", "info"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(&req).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(108));
    let err = text(&out.stderr);
    assert!(
        err.contains("] info: client stdin: sent its command line but no source (its preprocessor failed, most likely); job dropped\n"),
        "{err}"
    );
    assert!(!err.contains("WARNING"), "{err}");
    assert!(out.stdout.is_empty());
}

/// The header store's form of protocol 3 works on stdin/stdout too: NEED
/// asks for the content once; a second inetd job finds it in the store.
#[test]
fn store_form_over_pipes() {
    use std::io::Read;
    use tinydcc::protocol::{lzo, request, store_form, token, Features, Limits};
    require("gcc");
    let dir = TempDir::new("inetdstore");
    let source = b"int x = 1;\n";
    let argv: Vec<std::ffi::OsString> = ["gcc", "-c", "x.c", "-o", "x.o"]
        .iter()
        .map(Into::into)
        .collect();
    let mut wire = request::encode_header(Features::PUMP, Some("/src".as_ref()), &argv);
    store_form::put_ndig(&mut wire, 1);
    let digest = tinydcc::store::Digest::of(source).0;
    store_form::put_fdig(&mut wire, b"/src/x.c", source.len() as u64, &digest).unwrap();
    let mut file = Vec::new();
    token::put_bytes(&mut file, token::FILE, &lzo::compress(source)).unwrap();
    for want in [true, false] {
        let mut child = Command::new(tinydcc())
            .args(["--daemon", "--inetd", "--log-stderr"])
            .env("TMPDIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        stdin.write_all(&wire).unwrap();
        let need = store_form::read_need(&mut stdout, 1).unwrap();
        assert_eq!(need, [want]);
        if want {
            stdin.write_all(&file).unwrap();
        }
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let mut r = std::io::Cursor::new(&rest[..]);
        let reply =
            tinydcc::protocol::reply::read(&mut r, Features::PUMP, &Limits::default()).unwrap();
        assert!(reply.status.success(), "{}", text(&out.stderr));
        assert_eq!(&rest[r.position() as usize..], b"HSTO00000001");
    }
}
