//! The static armv7 binary under qemu-arm-static (no binfmt_misc: always
//! `qemu-arm-static <binary>`), against x86 peers, compiling for the Banana
//! Pi with Debian's arm-linux-gnueabihf-gcc:
//! (a) the ARM daemon serves an x86 tinydcc client and a stock distcc client;
//!     it fork/execs the x86 cross compiler from inside qemu-user;
//! (b) the ARM client sends to x86 daemons (tinydcc and stock distccd);
//! (c) the ARM binary's --version, --help and --check.
//! Every object must be byte-identical to a local cross compile.
//! The ARM client, like distcc, asks servers for `arm-linux-gnueabihf-gcc`
//! when it is called as `gcc` and that cross name is on PATH: right on a
//! board, wrong under emulation here, where the local `gcc` is x86. So the
//! `--check` tests (which compile hello with `gcc`) set
//! DISTCC_NO_REWRITE_CROSS; the compile tests name the cross compiler.

use crate::common;
use common::arm::*;
use common::*;
use std::process::Command;

/// Enough code that a wrong compiler, flag or target shows in the object.
const CALC: &str = "#include <math.h>\n\
double norm(const double *v, int n)\n{\n  double s = 0;\n  for (int i = 0; i < n; i++)\n    s += v[i] * v[i];\n  return sqrt(s);\n}\n\
int count(const char *s, char c)\n{\n  int k = 0;\n  for (; *s; s++)\n    k += *s == c;\n  return k;\n}\n";

/// The reference: `arm-linux-gnueabihf-gcc -O2 -c calc.c` here.
fn cross_reference(dir: &TempDir) -> Vec<u8> {
    dir.write("calc.c", CALC);
    let out = run({
        let mut c = Command::new(require(CROSS_GCC));
        c.args(["-O2", "-c", "calc.c", "-o", "ref.o"])
            .current_dir(dir.path());
        c
    });
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::read(dir.join("ref.o")).unwrap()
}

fn assert_same_object(dir: &TempDir, obj: &str, reference: &[u8], what: &str) {
    let got = std::fs::read(dir.join(obj)).unwrap_or_else(|e| panic!("{what}: no {obj}: {e}"));
    assert!(
        got == reference,
        "{what}: {obj} differs from a local cross compile"
    );
}

/// The number of COMPILE_OK lines for `input`, once it reaches `n` (the
/// daemon logs after replying) or after 10 s.
fn ok_jobs(d: &Daemon, input: &str, n: usize) -> usize {
    let count = || {
        d.log_text()
            .lines()
            .filter(|l| l.contains("COMPILE_OK") && l.contains(input))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count() < n && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    count()
}

#[test]
#[ignore = "slow tier (qemu-arm, static armv7 build): tests/run runs it"]
fn arm_binary_is_a_small_static_armv7_executable() {
    let bin = arm_bin();
    let out = run({
        let mut c = Command::new(require("file"));
        c.arg("-b").arg(&bin);
        c
    });
    let desc = text(&out.stdout);
    assert!(
        desc.starts_with("ELF 32-bit LSB executable, ARM, EABI5"),
        "{desc}"
    );
    assert!(desc.contains("statically linked"), "{desc}");
    assert!(
        desc.contains("stripped") && !desc.contains("not stripped"),
        "{desc}"
    );
    // The boards' budget: 700,000 bytes with the result cache and host
    // choice (600,000 for distcc's feature set). doc/size.md says what
    // each step cost.
    let size = std::fs::metadata(&bin).unwrap().len();
    assert!(
        size <= 700_000,
        "the armv7 binary is {size} bytes, over the 700,000-byte budget"
    );
}

/// (c) --version, --help (client and daemon) and distccd by argv[0].
#[test]
#[ignore = "slow tier (qemu-arm, static armv7 build): tests/run runs it"]
fn arm_version_and_help() {
    let q = qemu();
    let bin = arm_bin();
    let go = |args: &[&str]| {
        let out = run({
            let mut c = Command::new(&q);
            c.args(args);
            c
        });
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    let b = bin.to_str().unwrap();
    let v = go(&[b, "--version"]);
    assert!(
        v.starts_with(&format!("tinydcc {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(go(&[b, "--help"]).contains("Usage: tinydcc"));
    assert!(go(&[b, "--daemon", "--help"]).contains("Usage: tinydcc --daemon"));
    // The distccd link on the board: qemu's -0 sets argv[0].
    assert!(go(&["-0", "distccd", b, "--version"]).starts_with("tinydccd "));
}

/// (c) --check on a bare board: no hosts anywhere, so it checks a private
/// ARM daemon that compiles with this machine's gcc.
#[test]
#[ignore = "slow tier (qemu-arm, static armv7 build): tests/run runs it"]
fn arm_check_on_a_bare_machine() {
    let unshare = require("unshare");
    let dir = TempDir::new("arm-bare");
    let script = format!(
        "if [ -d /etc/distcc ]; then mount -t tmpfs tinydcc-test /etc/distcc || exit 99; fi; \
         exec {} {} --check",
        qemu().display(),
        arm_bin().display()
    );
    let out = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env_remove("DISTCC_HOSTS")
        .env_remove("DISTCC_DIR")
        .env("DISTCC_NO_REWRITE_CROSS", "1")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{o}\n{}", text(&out.stderr));
    assert!(o.contains("checking a private daemon on 127.0.0.1:"), "{o}");
    assert!(o.lines().any(|l| l.starts_with("OK    127.0.0.1:")), "{o}");
}

/// (c) --check through x86 daemons: one OK line per host, FAIL for a dead one.
#[test]
#[ignore = "slow tier (qemu-arm, static armv7 build): tests/run runs it"]
fn arm_check_reports_x86_hosts() {
    let tiny = Daemon::start(Kind::Tiny, &[]);
    let stock = Daemon::start(Kind::Stock, &[]);
    let dead = free_port();
    let dir = TempDir::new("arm-check");
    let hosts = format!("{} {} 127.0.0.1:{dead}", tiny.host(true), stock.host(false));
    let mut c = arm_client_cmd(dir.path(), &hosts);
    c.env("DISTCC_NO_REWRITE_CROSS", "1").arg("--check");
    let out = run(c);
    let o = text(&out.stdout);
    let ok: Vec<&str> = o.lines().filter(|l| l.starts_with("OK")).collect();
    assert_eq!(ok.len(), 2, "{o}\n{}", text(&out.stderr));
    assert!(
        o.lines()
            .any(|l| l.starts_with("FAIL") && l.contains(&format!(":{dead}"))),
        "{o}"
    );
    assert_eq!(out.status.code(), Some(100), "{o}");
    assert!(tiny.wait_job("COMPILE_OK", "hello_distcc.c"));
    assert!(stock.wait_job("COMPILE_OK", "hello_distcc.c"));
}

/// (a) The ARM daemon under qemu-user serves x86 clients: tinydcc and stock
/// distcc, plain and LZO, the cross compiler by name and by absolute path
/// (xbps-src's form); it execs the x86 cross compiler from inside qemu.
#[test]
#[ignore = "slow tier (qemu-arm, static armv7 build): tests/run runs it"]
fn arm_daemon_serves_x86_clients() {
    let dir = TempDir::new("arm-daemon");
    let reference = cross_reference(&dir);
    let wl = whitelist(&dir, &[CROSS_GCC]);
    let q = qemu();
    let bin = arm_bin();
    let mut d = Daemon::start_program(
        Kind::Tiny,
        &q,
        &[bin.as_path()],
        &["--whitelist-dir", wl.to_str().unwrap()],
        &[],
    );
    // qemu-user answers Landlock's syscalls with ENOSYS: the daemon says it
    // runs compilers unconfined and goes on.
    let log = d.wait_log("not confined");
    assert!(
        log.contains("qemu-user") && log.contains("not confined"),
        "{log}"
    );
    let gcc_abs = require(CROSS_GCC);
    let mut n = 0;
    for kind in [Kind::Tiny, Kind::Stock] {
        for lzo in [false, true] {
            for compiler in [CROSS_GCC, gcc_abs.to_str().unwrap()] {
                n += 1;
                let obj = format!("out{n}.o");
                let mut c = client_cmd(kind, dir.path(), &d.host(lzo));
                c.env("DISTCC_FALLBACK", "0")
                    .args([compiler, "-O2", "-c", "calc.c", "-o", &obj]);
                let out = run(c);
                let what = format!("{kind:?} client, lzo {lzo}, {compiler}");
                assert!(out.status.success(), "{what}: {}", text(&out.stderr));
                assert_same_object(&dir, &obj, &reference, &what);
            }
        }
    }
    assert_eq!(ok_jobs(&d, "calc.c", n), n, "{}", d.log_text());

    // A compile error comes back as the compiler's own message and status.
    dir.write("bad.c", BAD);
    let mut c = client_cmd(Kind::Stock, dir.path(), &d.host(false));
    c.env("DISTCC_FALLBACK", "0")
        .args([CROSS_GCC, "-c", "bad.c", "-o", "bad.o"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        compiler_lines(&out.stderr).contains("error"),
        "{}",
        text(&out.stderr)
    );
    assert!(d.wait_job("COMPILE_ERROR", "bad.c"), "{}", d.log_text());

    let st = d.stop();
    assert_eq!(st.code(), Some(0), "{}", d.log_text());
    assert!(d.leftovers_after_reply().is_empty(), "{:?}", d.leftovers());
}

/// (b) The ARM client under qemu sends to x86 daemons (tinydcc, and stock
/// distccd), plain and LZO, also as a masquerade link named like the
/// compiler.
#[test]
#[ignore = "slow tier (qemu-arm, static armv7 build): tests/run runs it"]
fn arm_client_sends_to_x86_daemons() {
    let dir = TempDir::new("arm-client");
    let reference = cross_reference(&dir);
    let wl = whitelist(&dir, &[CROSS_GCC]);
    let tiny = Daemon::start(Kind::Tiny, &["--whitelist-dir", wl.to_str().unwrap()]);
    // Stock distccd's whitelist is the machine's /usr/lib/distcc: not ours to rely on.
    let stock = Daemon::start(Kind::Stock, &["--enable-tcp-insecure"]);
    let mut n = 0;
    for d in [&tiny, &stock] {
        for lzo in [false, true] {
            n += 1;
            let obj = format!("arm{n}.o");
            let mut c = arm_client_cmd(dir.path(), &d.host(lzo));
            c.env("DISTCC_FALLBACK", "0")
                .args([CROSS_GCC, "-O2", "-c", "calc.c", "-o", &obj]);
            let out = run(c);
            let what = format!("ARM client to {:?} daemon, lzo {lzo}", d.kind);
            assert!(out.status.success(), "{what}: {}", text(&out.stderr));
            assert_same_object(&dir, &obj, &reference, &what);
        }
        assert!(d.wait_job("COMPILE_OK", "calc.c"), "{}", d.log_text());
    }
    // A masquerade link (`arm-linux-gnueabihf-gcc -> tinydcc`): argv[0] names
    // the compiler; the real one is found further along PATH.
    let mut c = Command::new(qemu());
    c.args(["-0", CROSS_GCC]).arg(arm_bin());
    private_client_env(&mut c, dir.path(), &tiny.host(true));
    c.env("DISTCC_FALLBACK", "0")
        .args(["-O2", "-c", "calc.c", "-o", "masq.o"]);
    let out = run(c);
    assert!(out.status.success(), "masquerade: {}", text(&out.stderr));
    assert_same_object(&dir, "masq.o", &reference, "masquerade");
    assert_eq!(ok_jobs(&tiny, "calc.c", 3), 3, "{}", tiny.log_text());
}

/// The board reads the shipped example files: the client lists their
/// five hosts from $DISTCC_DIR/hosts, and the daemon loads clients.allow
/// (192.168.0.0/24 only, so a loopback client is refused).
#[test]
#[ignore = "slow tier (qemu-arm, static armv7 build): tests/run runs it"]
fn arm_reads_the_example_files() {
    let dir = TempDir::new("arm-examples");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ddir = dir.join("distcc");
    std::fs::create_dir_all(&ddir).unwrap();
    std::fs::copy(repo.join("etc/distcc/hosts"), ddir.join("hosts")).unwrap();
    let out = run({
        let mut c = Command::new(qemu());
        c.arg(arm_bin())
            .arg("--show-hosts")
            .env_remove("DISTCC_HOSTS")
            .env("DISTCC_DIR", &ddir);
        c
    });
    assert_eq!(
        text(&out.stdout),
        "127.0.0.1/2\n192.168.0.1/4\n192.168.0.80/2\n192.168.0.81/2\n192.168.0.82/2\n",
        "{}",
        text(&out.stderr)
    );

    let allow = repo.join("etc/distcc/clients.allow");
    let q = qemu();
    let bin = arm_bin();
    let d = Daemon::start_program(
        Kind::Tiny,
        &q,
        &[bin.as_path()],
        &["--allow-file", allow.to_str().unwrap()],
        &[],
    );
    dir.write("hello_distcc.c", HELLO);
    let mut c = client_cmd(Kind::Stock, dir.path(), &d.host(false));
    c.env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-c", "hello_distcc.c", "-o", "h.o"]);
    assert!(
        !run(c).status.success(),
        "a client outside clients.allow was served"
    );
    let log = d.wait_log("denied by access list");
    assert!(log.contains("denied by access list"), "{log}");
}
