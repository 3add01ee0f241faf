//! The daemon's result cache (`--cache-dir`, issue 16): a repeated job is
//! answered from the cache with what the compile would send (the object
//! equals a local compile's), for our client and distcc's, plain and pump;
//! jobs that differ in anything that decides the output get their own
//! entries; damaged entries, failed compiles and `__DATE__` in pump mode
//! are never replayed; a full cache never fails a job.

use crate::common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const HIT: &str = "(cache hit)";

/// A daemon of ours with its result cache in a private directory.
fn cached_daemon(cache: &TempDir, extra: &[&str]) -> Daemon {
    let dir = cache.join("cache");
    let mut args = vec!["--cache-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    Daemon::start(Kind::Tiny, &args)
}

/// The entry files in the cache (`DIR/ab/ab…`).
fn cache_entries(cache: &TempDir) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for shard in entries(&cache.join("cache")) {
        if shard.len() != 2 {
            continue;
        }
        for e in entries(&cache.join("cache").join(&shard)) {
            v.push(cache.join("cache").join(&shard).join(e));
        }
    }
    v.sort();
    v
}

/// The cache's entries once there are `n` (a result is kept just after
/// the job's log line is written).
fn wait_entries(cache: &TempDir, n: usize) -> Vec<PathBuf> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = cache_entries(cache);
        if e.len() >= n || std::time::Instant::now() > deadline {
            return e;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Summary lines of jobs for `input` in the log.
fn job_lines(d: &Daemon, input: &str) -> Vec<String> {
    d.log_text()
        .lines()
        .filter(|l| l.contains("COMPILE_") && l.contains(input))
        .map(str::to_string)
        .collect()
}

/// Wait for the `n`th job line of `input`; returns it.
fn nth_job(d: &Daemon, input: &str, n: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let lines = job_lines(d, input);
        if lines.len() >= n {
            return lines[n - 1].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no job line {n} for {input}:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Compile `src` in `dir` through `kind`'s client; the object's bytes.
fn compile(kind: Kind, d: &Daemon, lzo: bool, dir: &Path, args: &[&str], out: &str) -> Vec<u8> {
    let _ = std::fs::remove_file(dir.join(out));
    let mut c = client_cmd(kind, dir, &d.host(lzo));
    c.arg("gcc").args(args).args(["-o", out]);
    c.env("DISTCC_FALLBACK", "0");
    let o = run(c);
    assert!(
        o.status.success(),
        "{kind:?}: {}\ndaemon:\n{}",
        text(&o.stderr),
        d.log_text()
    );
    std::fs::read(dir.join(out)).unwrap()
}

#[test]
fn a_repeated_job_is_a_hit_equal_to_a_local_compile() {
    for (kind, lzo) in [
        (Kind::Tiny, false),
        (Kind::Tiny, true),
        (Kind::Stock, false),
        (Kind::Stock, true),
    ] {
        let cache = TempDir::new("cache");
        let d = cached_daemon(&cache, &[]);
        let dir = TempDir::new("cachesrc");
        dir.write("hello.c", HELLO);
        let local = local_gcc(dir.path(), &["-O2", "-c", "hello.c", "-o", "local.o"]);
        assert!(local.status.success());
        let local = std::fs::read(dir.join("local.o")).unwrap();
        let tag = format!("{kind:?} lzo={lzo}");
        let first = compile(kind, &d, lzo, dir.path(), &["-O2", "-c", "hello.c"], "a.o");
        assert!(!nth_job(&d, "hello.c", 1).contains(HIT), "{tag}");
        let second = compile(kind, &d, lzo, dir.path(), &["-O2", "-c", "hello.c"], "b.o");
        let line = nth_job(&d, "hello.c", 2);
        assert!(
            line.contains("COMPILE_OK exit:0") && line.ends_with(HIT),
            "{tag}: {line}"
        );
        assert_eq!(first, local, "{tag}: compiled object");
        assert_eq!(second, local, "{tag}: cached object");
        assert_eq!(wait_entries(&cache, 1).len(), 1, "{tag}");
        assert!(
            d.leftovers_after_reply().is_empty(),
            "{tag}: {:?}",
            d.leftovers()
        );
    }
}

#[test]
fn warnings_are_replayed_on_a_hit() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(&cache, &[]);
    let dir = TempDir::new("cachewarn");
    dir.write("w.c", WARN);
    let mut outs = Vec::new();
    for n in 1..=2 {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
        c.args(["gcc", "-Wall", "-c", "w.c", "-o", "w.o"])
            .env("DISTCC_FALLBACK", "0");
        let o = run(c);
        assert!(o.status.success());
        outs.push(compiler_lines(&o.stderr));
        nth_job(&d, "w.c", n);
    }
    assert!(outs[0].contains("unused variable"), "{}", outs[0]);
    assert_eq!(outs[0], outs[1]);
    assert!(nth_job(&d, "w.c", 2).ends_with(HIT));
}

#[test]
fn jobs_that_differ_get_their_own_entries() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(&cache, &[]);
    let dir = TempDir::new("cachediff");
    dir.write("k.c", "#include \"k.h\"\nint f(void) { return K + V; }\n");
    std::fs::create_dir(dir.join("a")).unwrap();
    std::fs::create_dir(dir.join("b")).unwrap();
    std::fs::write(dir.join("a/k.h"), "#define K 1\n").unwrap();
    std::fs::write(dir.join("b/k.h"), "#define K 1\n").unwrap();
    let runs: [(&str, &[&str]); 5] = [
        ("base", &["-DV=1", "-Ia", "-c", "k.c"]),
        ("one -D", &["-DV=2", "-Ia", "-c", "k.c"]),
        // The same header in another directory: another job.
        ("one include dir", &["-DV=1", "-Ib", "-c", "k.c"]),
        ("another compiler", &["-DV=1", "-Ia", "-c", "k.c"]),
        ("base again", &["-DV=1", "-Ia", "-c", "k.c"]),
    ];
    for (n, (tag, args)) in runs.iter().enumerate() {
        let _ = std::fs::remove_file(dir.join("k.o"));
        let compiler = if *tag == "another compiler" {
            "arm-linux-gnueabihf-gcc"
        } else {
            "gcc"
        };
        require(compiler);
        let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
        c.arg(compiler)
            .args(*args)
            .args(["-o", "k.o"])
            .env("DISTCC_FALLBACK", "0");
        let o = run(c);
        assert!(o.status.success(), "{tag}: {}", text(&o.stderr));
        let line = nth_job(&d, "k.c", n + 1);
        assert_eq!(line.ends_with(HIT), *tag == "base again", "{tag}: {line}");
        assert_eq!(
            wait_entries(&cache, (n + 1).min(4)).len(),
            (n + 1).min(4),
            "{tag}"
        );
    }
}

#[test]
fn a_damaged_entry_is_detected_deleted_and_recompiled() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(&cache, &[]);
    let dir = TempDir::new("cachebad");
    dir.write("hello.c", HELLO);
    local_gcc(dir.path(), &["-c", "hello.c", "-o", "local.o"]);
    let local = std::fs::read(dir.join("local.o")).unwrap();
    compile(Kind::Tiny, &d, false, dir.path(), &["-c", "hello.c"], "a.o");
    nth_job(&d, "hello.c", 1);
    let e = wait_entries(&cache, 1);
    assert_eq!(e.len(), 1);
    let mut bytes = std::fs::read(&e[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&e[0], &bytes).unwrap();
    let again = compile(Kind::Tiny, &d, false, dir.path(), &["-c", "hello.c"], "b.o");
    assert!(!nth_job(&d, "hello.c", 2).contains(HIT));
    assert!(d
        .log_text()
        .contains("is damaged (digest mismatch); deleted"));
    assert_eq!(again, local);
    // Kept again, whole: the third compile is a hit.
    let third = compile(Kind::Tiny, &d, false, dir.path(), &["-c", "hello.c"], "c.o");
    assert!(nth_job(&d, "hello.c", 3).ends_with(HIT));
    assert_eq!(third, local);
}

#[test]
fn a_failed_compile_is_not_kept() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(&cache, &[]);
    let dir = TempDir::new("cachefail");
    dir.write("bad.c", BAD);
    for n in 1..=2 {
        let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
        c.args(["gcc", "-c", "bad.c", "-o", "bad.o"])
            .env("DISTCC_FALLBACK", "0");
        let o = run(c);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("error"), "{}", text(&o.stderr));
        assert!(nth_job(&d, "bad.c", n).contains("COMPILE_ERROR"));
    }
    assert!(cache_entries(&cache).is_empty());
}

#[test]
fn stats_show_hits_misses_and_bytes() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(&cache, &["--stats", "--stats-port", "STATS_PORT"]);
    let dir = TempDir::new("cachestats");
    dir.write("hello.c", HELLO);
    compile(Kind::Tiny, &d, false, dir.path(), &["-c", "hello.c"], "a.o");
    compile(Kind::Tiny, &d, false, dir.path(), &["-c", "hello.c"], "b.o");
    nth_job(&d, "hello.c", 2);
    let page = text(&raw_exchange(
        d.port + 1,
        b"GET / HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    ));
    let bytes = std::fs::metadata(&wait_entries(&cache, 1)[0])
        .unwrap()
        .len();
    for line in [
        "dcc_cache_hits 1\n".to_string(),
        "dcc_cache_misses 1\n".to_string(),
        format!("dcc_cache_bytes {bytes}\n"),
        "dcc_cache_evictions 0\n".to_string(),
        "dcc_compile_ok 2\n".to_string(),
    ] {
        assert!(page.contains(&line), "{line} in\n{page}");
    }
    // The cluster view shows them below its table.
    let mut c = client_cmd(Kind::Tiny, dir.path(), &d.host(false));
    c.args(["--mon", "--cluster", "--stats-port"]).arg(format!(
        "127.0.0.1:{}={}",
        d.port,
        d.port + 1
    ));
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let want = format!("\n{}: result cache: 1 hits, 1 misses, ", d.host(false));
    assert!(
        t.contains(&want) && t.trim_end().ends_with(" held, 0 evictions"),
        "{t}"
    );
    assert!(t.lines().all(|l| l.len() <= 80), "{t}");
}

#[test]
fn pump_hits_replay_object_and_dep_file_and_follow_header_contents() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(&cache, &[]);
    let tree = TempDir::new("cachepump");
    let src = tree.join("src");
    std::fs::create_dir_all(src.join("inc")).unwrap();
    std::fs::write(
        src.join("p.c"),
        "#include \"x.h\"\nint main(void) { return X; }\n",
    )
    .unwrap();
    let argv = ["gcc", "-Iinc", "-O2", "-MD", "-c", "p.c", "-o", "p.o"];
    let files = [src.join("p.c"), src.join("inc/x.h")];
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    for (n, (header, hit)) in [("1", false), ("1", true), ("2", false), ("1", true)]
        .iter()
        .enumerate()
    {
        std::fs::write(src.join("inc/x.h"), format!("#define X {header}\n")).unwrap();
        let local = std::process::Command::new("gcc")
            .args(["-Iinc", "-O2", "-MD", "-c", "p.c", "-o", "local.o"])
            .current_dir(&src)
            .output()
            .unwrap();
        assert!(local.status.success());
        let r = pump_exchange(d.port, &pump_request(&src, &argv, &files, &[]));
        assert_eq!(r.status.0, 0, "{}", text(&r.stderr));
        let line = nth_job(&d, "p.c", n + 1);
        assert_eq!(line.ends_with(HIT), *hit, "run {n}: {line}");
        assert_eq!(
            r.object,
            std::fs::read(src.join("local.o")).unwrap(),
            "run {n}"
        );
        let local_d = std::fs::read_to_string(src.join("local.d"))
            .unwrap()
            .replace("local.o", "p.o");
        assert_eq!(text(r.dotd.as_deref().unwrap()), local_d, "run {n}");
    }
    assert_eq!(wait_entries(&cache, 2).len(), 2);
}

#[test]
fn pump_jobs_that_use_date_are_not_cached() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(&cache, &[]);
    let tree = TempDir::new("cachedate");
    std::fs::write(tree.join("t.c"), "const char *built = __DATE__;\n").unwrap();
    let argv = ["gcc", "-c", "t.c", "-o", "t.o"];
    let f = tree.join("t.c");
    for n in 1..=2 {
        let r = pump_exchange(d.port, &pump_request(tree.path(), &argv, &[&f], &[]));
        assert_eq!(r.status.0, 0, "{}", text(&r.stderr));
        assert!(!nth_job(&d, "t.c", n).contains(HIT));
    }
    assert!(cache_entries(&cache).is_empty());
}

#[test]
fn pump_clients_get_hits_ours_and_distccs() {
    for kind in [Kind::Tiny, Kind::Stock] {
        let cache = TempDir::new("cache");
        // At debug, the daemon logs each protocol 3 request.
        let d = cached_daemon(&cache, &["--log-level", "debug"]);
        let dir = TempDir::new("cachepumpclient");
        std::fs::create_dir(dir.join("inc")).unwrap();
        std::fs::write(dir.join("inc/y.h"), "#define Y 3\n").unwrap();
        dir.write("q.c", "#include \"y.h\"\nint q(void) { return Y; }\n");
        local_gcc(dir.path(), &["-Iinc", "-c", "q.c", "-o", "local.o"]);
        let local = std::fs::read(dir.join("local.o")).unwrap();
        let hosts = format!("{},cpp,lzo", d.host(false));
        // The same output name: in pump mode it is the `.d` file's target,
        // so part of the key.
        for n in 1..=2 {
            let out = "q.o";
            let _ = std::fs::remove_file(dir.join(out));
            // distcc's client through our include server (Debian's
            // distcc-pump needs its Python include server).
            let mut c = client_cmd(Kind::Tiny, dir.path(), &hosts);
            c.arg("--pump").arg(match kind {
                Kind::Tiny => tinydcc(),
                Kind::Stock => require("distcc"),
            });
            c.args(["gcc", "-Iinc", "-c", "q.c", "-o", out])
                .env("DISTCC_FALLBACK", "0");
            let o = run(c);
            assert!(o.status.success(), "{kind:?}: {}", text(&o.stderr));
            assert_eq!(std::fs::read(dir.join(out)).unwrap(), local, "{kind:?}");
            let line = nth_job(&d, "q.c", n);
            assert_eq!(line.ends_with(HIT), n == 2, "{kind:?}: {line}");
        }
        assert!(
            d.log_text().contains("protocol 3 request for q.c"),
            "{kind:?}: not a pump job:\n{}",
            d.log_text()
        );
    }
}

#[test]
#[ignore = "slow tier (root, tmpfs): tests/run runs it"]
fn a_full_cache_never_fails_a_job() {
    let cache = TempDir::new("cache");
    let mnt = cache.join("cache");
    std::fs::create_dir(&mnt).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,mode=0777", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs (needs root)");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(mnt.clone());
    let d = cached_daemon(&cache, &["--cache-size", "1G"]);
    // Fill it to the last byte, once the daemon has made its directories.
    let mut fill = std::fs::File::create(mnt.join("filler")).unwrap();
    while fill.write_all(&[0u8; 512]).is_ok() {}
    drop(fill);
    let dir = TempDir::new("cachefull");
    dir.write("hello.c", HELLO);
    local_gcc(dir.path(), &["-c", "hello.c", "-o", "local.o"]);
    let local = std::fs::read(dir.join("local.o")).unwrap();
    for (n, out) in [(1, "a.o"), (2, "b.o"), (3, "c.o")] {
        let got = compile(Kind::Tiny, &d, false, dir.path(), &["-c", "hello.c"], out);
        assert_eq!(got, local);
        assert!(!nth_job(&d, "hello.c", n).contains(HIT));
    }
    let log = d.log_text();
    assert_eq!(
        log.matches("result cache off: cannot write in").count(),
        1,
        "{log}"
    );
}

#[test]
fn inetd_processes_share_the_cache() {
    let cache = TempDir::new("cache");
    let dir = TempDir::new("cacheinetd");
    dir.write("p.c", HELLO);
    let pre = local_gcc(dir.path(), &["-E", "p.c"]);
    assert!(local_gcc(dir.path(), &["-c", "p.c", "-o", "local.o"])
        .status
        .success());
    let local = std::fs::read(dir.join("local.o")).unwrap();
    let req = request_v1(&["gcc", "-c", "p.c", "-o", "p.o"], &pre.stdout);
    let mut replies = Vec::new();
    for n in 1..=2 {
        let mut child = std::process::Command::new(tinydcc())
            .args(["--daemon", "--inetd", "--log-stderr", "--cache-dir"])
            .arg(cache.join("cache"))
            .env("TMPDIR", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.as_mut().unwrap().write_all(&req).unwrap();
        let out = child.wait_with_output().unwrap();
        let log = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{log}");
        let line = log.lines().find(|l| l.contains("COMPILE_OK")).unwrap_or("");
        assert_eq!(line.ends_with(HIT), n == 2, "{log}");
        assert!(out.stdout.ends_with(&local));
        replies.push(out.stdout);
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(cache_entries(&cache).len(), 1);
}

#[test]
fn the_cache_stays_under_its_size() {
    let cache = TempDir::new("cache");
    let d = cached_daemon(
        &cache,
        &[
            "--cache-size",
            "16K",
            "--stats",
            "--stats-port",
            "STATS_PORT",
        ],
    );
    let dir = TempDir::new("cachesize");
    dir.write("e.c", "int f(void) { return V; }\n");
    for v in 0..16 {
        compile(
            Kind::Tiny,
            &d,
            false,
            dir.path(),
            &[&format!("-DV={v}"), "-c", "e.c"],
            "e.o",
        );
        nth_job(&d, "e.c", v + 1);
    }
    // Eviction runs between events, a bounded step at a time.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let held: u64 = cache_entries(&cache)
            .iter()
            .map(|e| std::fs::metadata(e).map(|m| m.len()).unwrap_or(0))
            .sum();
        let page = text(&raw_exchange(
            d.port + 1,
            b"GET / HTTP/1.0\r\n\r\n",
            Duration::from_secs(5),
        ));
        // The last job's entry may still be on its way into place (the
        // job's log line comes first): the page and the directory agree
        // once it is in.
        if held <= 16 * 1024
            && !page.contains("dcc_cache_evictions 0\n")
            && page.contains(&format!("dcc_cache_bytes {held}\n"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{held} bytes held:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The newest job is still there.
    compile(
        Kind::Tiny,
        &d,
        false,
        dir.path(),
        &["-DV=15", "-c", "e.c"],
        "e.o",
    );
    assert!(nth_job(&d, "e.c", 17).ends_with(HIT));
}

/// A compiler whose `-v` never ends: its jobs wait `PROBE_LIMIT` (10 s),
/// then go on uncached (inetd bounds its wait the same way).
#[test]
#[ignore = "slow tier (a 10 s limit, twice): tests/run runs it"]
fn a_compiler_that_hangs_on_v_does_not_hold_its_jobs() {
    let bin = TempDir::new("cachehang");
    let real = require("gcc");
    // The client sends gcc by its full name, as distcc does.
    for name in ["gcc", "x86_64-linux-gnu-gcc"] {
        script(
            &bin.join(name),
            &format!(
                "#!/bin/sh\nfor a; do [ \"$a\" = -v ] && exec sleep 600; done\nexec {} \"$@\"\n",
                real.display()
            ),
        );
    }
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let cache = TempDir::new("cache");
    let d = Daemon::start_env(
        Kind::Tiny,
        &[
            "--cache-dir",
            cache.join("cache").to_str().unwrap(),
            "--enable-tcp-insecure",
            "--no-sandbox",
        ],
        &[("DISTCCD_PATH", &path)],
    );
    let dir = TempDir::new("cachehangsrc");
    dir.write("hello.c", HELLO);
    local_gcc(dir.path(), &["-c", "hello.c", "-o", "local.o"]);
    let local = std::fs::read(dir.join("local.o")).unwrap();
    let t = std::time::Instant::now();
    let got = compile(Kind::Tiny, &d, false, dir.path(), &["-c", "hello.c"], "a.o");
    assert_eq!(got, local);
    assert!(t.elapsed() < Duration::from_secs(30));
    assert!(d
        .log_text()
        .contains("-v took over 10 s; killed, its jobs go on uncached"));
    assert!(cache_entries(&cache).is_empty());
}
