//! ccache with CCACHE_PREFIX=tinydcc: a miss is compiled remotely, a hit
//! never reaches the client (no job on the daemon).

use crate::common;
use common::*;
use std::process::Command;

fn ccache_compile(dir: &TempDir, cache: &TempDir, hosts: &str, obj: &str) -> std::process::Output {
    let c = client_cmd(Kind::Tiny, dir.path(), hosts);
    let mut cmd = Command::new(require("ccache"));
    cmd.current_dir(dir.path())
        .envs(
            c.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .env("CCACHE_DIR", cache.path())
        .env("CCACHE_PREFIX", tinydcc())
        .env("CCACHE_NOHASHDIR", "1")
        .env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-c", "c.c", "-o", obj]);
    cmd.output().unwrap()
}

fn jobs(d: &Daemon) -> usize {
    d.log_text()
        .lines()
        .filter(|l| l.contains("COMPILE_OK"))
        .count()
}

#[test]
fn ccache_miss_goes_remote_hit_does_not() {
    for kind in [Kind::Tiny, Kind::Stock] {
        let d = Daemon::start(kind, &[]);
        let dir = TempDir::new("ccache");
        let cache = TempDir::new("ccache-dir");
        dir.write("c.c", HELLO);
        let out = ccache_compile(&dir, &cache, &d.host(true), "c1.o");
        assert!(out.status.success(), "{kind:?}: {}", text(&out.stderr));
        assert!(
            d.wait_job("COMPILE_OK", "c.c"),
            "{kind:?}: miss not remote:\n{}",
            d.log_text()
        );
        let after_miss = jobs(&d);
        assert_eq!(after_miss, 1);
        let out = ccache_compile(&dir, &cache, &d.host(true), "c2.o");
        assert!(out.status.success(), "{}", text(&out.stderr));
        // A hit must not reach the client at all: the daemon saw no job.
        assert_eq!(jobs(&d), after_miss, "{kind:?}: a cache hit was sent");
        assert_eq!(
            std::fs::read(dir.join("c1.o")).unwrap(),
            std::fs::read(dir.join("c2.o")).unwrap()
        );
        let stats = Command::new(require("ccache"))
            .env("CCACHE_DIR", cache.path())
            .arg("-s")
            .output()
            .unwrap();
        let s = text(&stats.stdout);
        assert!(s.contains("Hits:") && s.contains("Misses:"), "{s}");
    }
}
