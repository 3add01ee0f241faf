//! Void's xbps-src with XBPS_DISTCC=yes, recreated without void-packages:
//! tinydcc installed as `distcc` (a symlink), Void's masquerade directory
//! (`/usr/lib/distcc/bin`: compiler names -> /usr/bin/distcc) first on PATH,
//! DISTCC_DIR and DISTCC_HOSTS as xbps-src sets them (with the README's
//! `--localslots_cpp=24`); with XBPS_CCACHE, ccache first with
//! CCACHE_PREFIX=<distcc>; for cross builds, xbps-src's wrapper that runs
//! `distcc /usr/bin/<triplet>-gcc` with an absolute compiler path.
//! A generated multi-file C project builds with make through a tinydcc
//! daemon, every object identical to a plain local build.

use crate::common;
use common::arm::{qemu, whitelist, CROSS_GCC};
use common::*;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: usize = 12;

/// The generated project: `FILES` units plus main.c, a header and a
/// Makefile that uses make's own `$(CC)` (cc unless given).
fn project(dir: &Path) -> (Vec<String>, String) {
    std::fs::create_dir_all(dir).unwrap();
    let mut header = String::from("#define OFFSET 3\n");
    let mut main =
        String::from("#include <stdio.h>\n#include \"proj.h\"\nint main(void)\n{\n  long s = 0;\n");
    let mut objs = vec!["main.o".to_string()];
    let mut expect = 0i64;
    for i in 0..FILES {
        header.push_str(&format!("int f{i}(int x);\n"));
        main.push_str(&format!("  s += f{i}(10);\n"));
        std::fs::write(
            dir.join(format!("f{i}.c")),
            format!(
                "#include \"proj.h\"\nint f{i}(int x)\n{{\n  int s = 0;\n  for (int k = 0; k < x; k++)\n    s += (k * {i}) % 7;\n  return s + OFFSET;\n}}\n"
            ),
        )
        .unwrap();
        objs.push(format!("f{i}.o"));
        expect += (0..10).map(|k| (k * i as i64) % 7).sum::<i64>() + 3;
    }
    main.push_str("  printf(\"sum %ld\\n\", s);\n  return 0;\n}\n");
    std::fs::write(dir.join("proj.h"), header).unwrap();
    std::fs::write(dir.join("main.c"), main).unwrap();
    let makefile = format!(
        "OBJS = {objs}\nCFLAGS = -O2 -Wall\n\nprog: $(OBJS)\n\t$(CC) $(CFLAGS) -o prog $(OBJS)\n\n\
         %.o: %.c proj.h\n\t$(CC) $(CFLAGS) -c $< -o $@\n\nclean:\n\trm -f prog $(OBJS)\n",
        objs = objs.join(" ")
    );
    std::fs::write(dir.join("Makefile"), makefile).unwrap();
    (objs, format!("sum {expect}\n"))
}

fn make(dir: &Path, args: &[&str], env: &[(&str, String)]) {
    let out = Command::new(require("make"))
        .args(["-j4"])
        .args(args)
        .current_dir(dir)
        .env_remove("DISTCC_VERBOSE")
        .env_remove("DISTCC_LOG")
        .env_remove("DISTCC_FALLBACK")
        .env_remove("_DISTCC_SAFEGUARD")
        .env_remove("CCACHE_PREFIX")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make {args:?} failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// What xbps-src installs and sets up, under a private root: tinydcc as
/// usr/bin/distcc, Void's masquerade dir, and hostdir/distcc-<arch>.
struct VoidRoot {
    dir: TempDir,
    distcc: PathBuf,
    masq: PathBuf,
}

impl VoidRoot {
    fn new(tag: &str) -> VoidRoot {
        let dir = TempDir::new(tag);
        let bin = dir.join("usr/bin");
        let masq = dir.join("usr/lib/distcc/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&masq).unwrap();
        let distcc = bin.join("distcc");
        symlink(tinydcc(), &distcc).unwrap();
        // Void's distcc package: these names, each -> /usr/bin/distcc.
        let mut names: Vec<String> = ["gcc", "cc", "c++", "g++", "clang", "clang++"]
            .map(String::from)
            .to_vec();
        for t in [
            "arm-linux-gnueabi",
            "arm-linux-gnueabihf",
            "armv7l-linux-gnueabihf",
            "arm-linux-musleabihf",
            "armv7l-linux-musleabihf",
        ] {
            for c in ["gcc", "cc", "c++", "g++"] {
                names.push(format!("{t}-{c}"));
            }
        }
        for n in names {
            symlink(&distcc, masq.join(n)).unwrap();
        }
        VoidRoot { dir, distcc, masq }
    }

    /// xbps-src's `mkdir -p $DISTCC_DIR` under the hostdir.
    fn distcc_dir(&self, arch: &str) -> String {
        let d = self.dir.join(&format!("hostdir/distcc-{arch}"));
        std::fs::create_dir_all(&d).unwrap();
        d.display().to_string()
    }
}

/// XBPS_DISTCC_HOSTS with the README example's parts: our daemon, this machine for
/// two jobs, and the cpp limit. Like distcc, the client hands out slot 0 of
/// every host before slot 1 of any, so `make -j4` compiles some files here.
fn xbps_hosts(d: &Daemon) -> String {
    format!("127.0.0.1:{}/9 localhost/2 --localslots_cpp=24", d.port)
}

/// The daemon as the only compiling host: every job goes there.
fn remote_only(d: &Daemon) -> String {
    format!("127.0.0.1:{}/9 --localslots_cpp=24", d.port)
}

fn path_with(dirs: &[&Path]) -> String {
    let mut v: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    v.push(std::env::var("PATH").unwrap_or_default());
    v.join(":")
}

/// Build `reference` with plain compilers and compare every object.
fn assert_same_objects(built: &Path, reference: &Path, objs: &[String], cc: &str) {
    make(reference, &[&format!("CC={cc}")], &[]);
    for o in objs {
        assert!(
            std::fs::read(built.join(o)).unwrap() == std::fs::read(reference.join(o)).unwrap(),
            "{o} differs from a local build"
        );
    }
}

fn ok_jobs(d: &Daemon, n: usize) -> usize {
    let count = || {
        d.log_text()
            .lines()
            .filter(|l| l.contains("COMPILE_OK"))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count() < n && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    count()
}

/// XBPS_DISTCC=yes: /usr/lib/distcc/bin first on PATH; make's `cc` is the
/// masquerade link, i.e. tinydcc by way of the `distcc` symlink.
#[test]
#[ignore = "slow tier (xbps-src): tests/run runs it"]
fn xbps_src_native_build_through_the_masquerade_dir() {
    let root = VoidRoot::new("xbps-native");
    let wl = whitelist(&root.dir, &["cc", "gcc", "x86_64-linux-gnu-gcc"]);
    let d = Daemon::start(Kind::Tiny, &["--whitelist-dir", wl.to_str().unwrap()]);
    let src = root.dir.join("build/proj");
    let (objs, expect) = project(&src);
    let env = [
        ("PATH", path_with(&[&root.masq])),
        ("DISTCC_DIR", root.distcc_dir("x86_64")),
        ("DISTCC_HOSTS", xbps_hosts(&d)),
        ("HOME", root.dir.path().display().to_string()),
    ];
    make(&src, &[], &env);
    // The first job always takes the daemon's slot 0; the rest share.
    let remote = ok_jobs(&d, 1);
    assert!(
        (1..=objs.len()).contains(&remote),
        "{remote} jobs: {}",
        d.log_text()
    );
    let out = run({
        let mut c = Command::new(src.join("prog"));
        c.current_dir(&src);
        c
    });
    assert_eq!(text(&out.stdout), expect);
    let reference = root.dir.join("reference");
    project(&reference);
    assert_same_objects(&src, &reference, &objs, "cc");
    // The link ran here: no job for it.
    assert!(!d.log_text().contains("prog"), "{}", d.log_text());
}

/// XBPS_DISTCC=yes with XBPS_CCACHE=yes: ccache's masquerade dir first,
/// CCACHE_PREFIX=/usr/bin/distcc. Misses go to the daemon; after a clean,
/// every object is a cache hit and nothing is sent.
#[test]
#[ignore = "slow tier (xbps-src): tests/run runs it"]
fn xbps_src_ccache_with_distcc_as_prefix() {
    let ccache = require("ccache");
    let root = VoidRoot::new("xbps-ccache");
    let ccbin = root.dir.join("usr/lib/ccache/bin");
    std::fs::create_dir_all(&ccbin).unwrap();
    for n in ["cc", "gcc", "c++", "g++"] {
        symlink(&ccache, ccbin.join(n)).unwrap();
    }
    let wl = whitelist(&root.dir, &["cc", "gcc", "x86_64-linux-gnu-gcc"]);
    let d = Daemon::start(Kind::Tiny, &["--whitelist-dir", wl.to_str().unwrap()]);
    let src = root.dir.join("build/proj");
    let (objs, expect) = project(&src);
    let env = [
        ("PATH", path_with(&[&ccbin])),
        ("CCACHE_PREFIX", root.distcc.display().to_string()),
        (
            "CCACHE_DIR",
            root.dir.join("hostdir/ccache").display().to_string(),
        ),
        ("CCACHE_COMPILERCHECK", "content".to_string()),
        ("CCACHE_COMPRESS", "1".to_string()),
        ("DISTCC_DIR", root.distcc_dir("x86_64")),
        ("DISTCC_HOSTS", remote_only(&d)),
        ("HOME", root.dir.path().display().to_string()),
    ];
    make(&src, &[], &env);
    assert_eq!(ok_jobs(&d, objs.len()), objs.len(), "{}", d.log_text());
    assert_eq!(text(&run(Command::new(src.join("prog"))).stdout), expect);
    let reference = root.dir.join("reference");
    project(&reference);
    assert_same_objects(&src, &reference, &objs, "cc");

    make(&src, &["clean"], &env);
    make(&src, &[], &env);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(ok_jobs(&d, objs.len()), objs.len(), "cache hits were sent");
    assert_same_objects(&src, &reference, &objs, "cc");
}

/// A cross build (XBPS_CROSS_BUILD): xbps-src's wrapper for the target's
/// compiler names runs `distcc /usr/bin/<triplet>-gcc ...`, so the client
/// gets an absolute compiler path and the daemon strips /usr/bin/.
#[test]
#[ignore = "slow tier (xbps-src): tests/run runs it"]
fn xbps_src_cross_build_with_absolute_compiler_path() {
    let root = VoidRoot::new("xbps-cross");
    let cross = require(CROSS_GCC);
    let wrappers = root.dir.join("wrappers");
    std::fs::create_dir_all(&wrappers).unwrap();
    // Like xbps-src's cross wrapper: drop the build machine's include and
    // library dirs, then distribute with the absolute compiler path.
    let body = format!(
        "#!/bin/sh\nfor a; do\n  shift\n  case \"$a\" in\n    -I/usr/include|-L/usr/lib|-L/usr/lib64) ;;\n    *) set -- \"$@\" \"$a\" ;;\n  esac\ndone\n\
         exec {distcc} {cross} \"$@\"\n",
        distcc = root.distcc.display(),
        cross = cross.display()
    );
    for n in [CROSS_GCC, "arm-linux-gnueabihf-cc"] {
        let p = wrappers.join(n);
        std::fs::write(&p, &body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let wl = whitelist(&root.dir, &[CROSS_GCC]);
    let d = Daemon::start(Kind::Tiny, &["--whitelist-dir", wl.to_str().unwrap()]);
    let src = root.dir.join("build/proj");
    let (objs, expect) = project(&src);
    let env = [
        ("PATH", path_with(&[&wrappers, &root.masq])),
        ("DISTCC_DIR", root.distcc_dir("armv7l")),
        ("DISTCC_HOSTS", remote_only(&d)),
        ("HOME", root.dir.path().display().to_string()),
    ];
    make(&src, &[&format!("CC={CROSS_GCC}")], &env);
    let log = d.log_text();
    assert_eq!(ok_jobs(&d, objs.len()), objs.len(), "{log}");
    assert!(d.log_text().contains(CROSS_GCC), "{log}");
    let reference = root.dir.join("reference");
    project(&reference);
    assert_same_objects(&src, &reference, &objs, cross.to_str().unwrap());
    // The ARM program runs under qemu-user with the armhf libraries.
    let out = run({
        let mut c = Command::new(qemu());
        c.args(["-L", "/usr/arm-linux-gnueabihf"])
            .arg(src.join("prog"));
        c
    });
    assert_eq!(text(&out.stdout), expect, "{}", text(&out.stderr));
}
