//! `-march=native` / `-mtune=native`: the client resolves them to the
//! explicit flags the local gcc uses, so the job goes remote, the server
//! never sees `native`, and the object equals a local compile.

use crate::common;
use common::*;

const VEC: &str = "void scale(float *restrict a, const float *restrict b, int n)\n\
{\n  for (int i = 0; i < n; i++)\n    a[i] = b[i] * 3.0f + a[i];\n}\n";

#[test]
fn native_flags_are_resolved_and_distributed() {
    for daemon in [Kind::Tiny, Kind::Stock] {
        let dir = TempDir::new("native");
        let log = dir.join("server-jobs.log");
        let wrap = TempDir::new("native-wrap");
        let bin = logging_compilers(&wrap, &log);
        let d = Daemon::start_env(
            daemon,
            &wrapper_daemon_args(daemon, &[]),
            &[("PATH", &path_with(&bin))],
        );
        dir.write("v.c", VEC);
        for (i, flags) in [
            &["-march=native"][..],
            &["-mtune=native"],
            &["-march=native", "-mtune=native"],
        ]
        .iter()
        .enumerate()
        {
            let obj = format!("v{i}.o");
            let mut args: Vec<&str> = vec!["-O3"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["-c", "v.c", "-o", &obj]);
            let local = local_gcc(
                dir.path(),
                &[&args[..args.len() - 1], &["local.o"]].concat(),
            );
            assert!(local.status.success());
            let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(true));
            c.arg("gcc").args(&args).env("DISTCC_FALLBACK", "0");
            let out = run(c);
            assert!(
                out.status.success(),
                "{daemon:?} {flags:?}: {}",
                text(&out.stderr)
            );
            assert_eq!(
                std::fs::read(dir.join(&obj)).unwrap(),
                std::fs::read(dir.join("local.o")).unwrap(),
                "{daemon:?} {flags:?}: object differs from local"
            );
        }
        let jobs = std::fs::read_to_string(&log).unwrap();
        let starts: Vec<&str> = jobs.lines().filter(|l| l.starts_with("start")).collect();
        assert_eq!(
            starts.len(),
            3,
            "{daemon:?}: not all jobs went remote:\n{jobs}"
        );
        assert!(!jobs.contains("native"), "the server saw 'native':\n{jobs}");
        assert!(jobs.contains("-march="), "{jobs}");
    }
}

#[test]
fn native_answer_is_cached() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let dir = TempDir::new("native-cache");
    dir.write("v.c", VEC);
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["gcc", "-march=native", "-c", "v.c", "-o", "v.o"]);
    assert!(run(c).status.success());
    let cache = dir.join(".distcc-private/native");
    let files = entries(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    let body = std::fs::read_to_string(cache.join(&files[0])).unwrap();
    assert!(
        body.contains("-march=") && body.contains("-march=native"),
        "{body}"
    );
}
