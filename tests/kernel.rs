//! Pump mode's proof on a real tree: Linux 6.1 (Debian's linux-source-6.1)
//! `tinyconfig` `make vmlinux` in pump mode through a local tinydcc daemon
//! and our include server, by tests/kernel/build.sh. Every object must be
//! byte-identical to a local build, nearly every translation unit must
//! reach the daemon as protocol 3, and the pump summary must say what was
//! preprocessed locally.
//!
//! The builds share one source tree per arch (and its cached local
//! reference build): they run one at a time, here by a lock in this
//! process, and across processes by build.sh's own lock.

use crate::common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What build.sh reported.
#[derive(Debug, Default)]
struct Report {
    /// Compiles make ran through the client.
    tus: usize,
    /// Compiles the daemon ran, and how many of them came as protocol 3.
    compiles: usize,
    protocol3: usize,
    /// Objects compared with the local build.
    identical: usize,
    /// The `pump:` summary line.
    summary: String,
    /// Compiles the summary counts as sent with their headers.
    sent: usize,
    /// C sources that did not reach the daemon as protocol 3.
    c_not_p3: usize,
}

/// The number in `text` right after `prefix` (on the same line).
fn number_after(text: &str, prefix: &str) -> Option<usize> {
    let at = text.find(prefix)? + prefix.len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn parse(out: &str) -> Report {
    let summary = out
        .lines()
        .find(|l| l.starts_with("pump:"))
        .unwrap_or("")
        .to_string();
    Report {
        tus: number_after(out, "TUs: ").unwrap_or(0),
        compiles: number_after(out, "daemon: ").unwrap_or(0),
        protocol3: out
            .lines()
            .find(|l| l.starts_with("daemon: "))
            .and_then(|l| number_after(l, "compiles, "))
            .unwrap_or(0),
        identical: number_after(out, "objects: ").unwrap_or(0),
        sent: number_after(&summary, "pump: ").unwrap_or(0),
        summary,
        // "not as protocol 3: 20 (18 .S, 2 .c): a.S ..."
        c_not_p3: out
            .lines()
            .find(|l| l.starts_with("not as protocol 3: "))
            .and_then(|l| {
                let counts = l.split_once(" (")?.1.split_once(")")?.0;
                counts
                    .split(", ")
                    .find_map(|c| c.strip_suffix(" .c")?.parse().ok())
            })
            .unwrap_or(0),
    }
}

fn kernel_build(client: &str, arch: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for tool in ["make", "bc", "flex", "bison", "flock", "python3", "distcc"] {
        require(tool);
    }
    if arch == "arm" {
        require(common::arm::CROSS_GCC);
    }
    let tarball = Path::new("/usr/src/linux-source-6.1.tar.xz");
    assert!(
        tarball.exists(),
        "{} is missing: run tests/run (it installs linux-source-6.1)",
        tarball.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kernel/build.sh");
    let started = std::time::Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .args(["pump", client, arch])
        .env("TINYDCC", tinydcc())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let all = format!("{stdout}\n--- stderr ---\n{stderr}");
    // Shown with --nocapture: the wall and CPU times, what went where.
    eprintln!(
        "kernel pump/{client}/{arch} ({:.0} s in all):\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    assert!(out.status.success(), "build.sh failed:\n{all}");
    let r = parse(&stdout);
    // tinyconfig vmlinux: ~450 objects on x86, ~400 on arm.
    assert!(r.identical >= 300, "too few objects compared: {r:?}\n{all}");
    assert!(
        r.tus >= 300,
        "too few compiles through the client: {r:?}\n{all}"
    );
    assert!(!r.summary.is_empty(), "no pump: summary line:\n{all}");
    // Stock distcc runs .S files itself (it does not count them as
    // sources: 18 of 444 on x86, 43 of 384 on arm); the C sources go out
    // with their headers unless the scanner gave up for a stated reason.
    assert!(
        r.protocol3 * 100 >= r.tus * 80,
        "fewer than 80% of the compiles reached the daemon as protocol 3: {r:?}\n{all}"
    );
    assert!(
        r.c_not_p3 * 100 <= r.tus * 5,
        "more than 5% of the C sources did not go as protocol 3: {r:?}\n{all}"
    );
    assert!(
        r.protocol3 * 100 >= r.compiles * 95,
        "more than 5% of the daemon's compiles were preprocessed locally: {r:?}\n{all}"
    );
    assert!(
        r.sent >= r.protocol3,
        "the summary counts fewer compiles sent than the daemon received: {r:?}\n{all}"
    );
}

#[test]
#[ignore = "slow tier (Linux kernel builds): tests/run runs it"]
fn pump_distcc_x86() {
    kernel_build("distcc", "x86");
}

#[test]
#[ignore = "slow tier (Linux kernel builds): tests/run runs it"]
fn pump_tinydcc_x86() {
    kernel_build("tinydcc", "x86");
}

#[test]
#[ignore = "slow tier (Linux kernel builds): tests/run runs it"]
fn pump_distcc_arm() {
    kernel_build("distcc", "arm");
}

/// The arm build with our own client too, not only stock distcc's. The
/// arm tree builds in about half the x86 time, so both clients are affordable.
#[test]
#[ignore = "slow tier (Linux kernel builds): tests/run runs it"]
fn pump_tinydcc_arm() {
    kernel_build("tinydcc", "arm");
}

/// The result cache's proof (issue 16 §3): the tree built twice through
/// one daemon with `--cache-dir`, `make clean` between, both builds'
/// objects and dependency files checked against the local build's by
/// build.sh, and the second answered from the cache.
fn cached_rebuild(mode: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for tool in ["make", "bc", "flex", "bison", "flock", "python3"] {
        require(tool);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kernel/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args([mode, "tinydcc", "x86"])
        .env("TINYDCC", tinydcc())
        .env("CACHE", "1")
        .env("REBUILD", "1")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let all = format!("{stdout}\n--- stderr ---\n{}", text(&out.stderr));
    eprintln!("kernel {mode}, cached rebuild:\n{stdout}");
    assert!(out.status.success(), "build.sh failed:\n{all}");
    let (cold, warm) = stdout
        .split_once("rebuild after make clean")
        .unwrap_or_else(|| panic!("no rebuild:\n{all}"));
    for (build, part) in [("cold", cold), ("warm", warm)] {
        let identical = number_after(part, "objects: ").unwrap_or(0);
        assert!(
            identical >= 300,
            "{build}: too few objects compared:\n{all}"
        );
    }
    let hits = |part: &str| {
        let line = part
            .lines()
            .find(|l| l.starts_with("daemon: "))
            .unwrap_or("");
        (
            number_after(line, "daemon: ").unwrap_or(0),
            number_after(line, " as protocol 3, ").unwrap_or(0),
        )
    };
    let (cold_jobs, cold_hits) = hits(cold);
    let (warm_jobs, warm_hits) = hits(warm);
    assert_eq!(cold_hits, 0, "a cold cache answered jobs:\n{all}");
    // Nearly all of the rebuild comes from the cache: a translation unit
    // mentioning __DATE__ or __TIME__ (pump) is compiled again.
    assert!(warm_jobs >= cold_jobs * 9 / 10, "{all}");
    assert!(
        warm_hits * 100 >= warm_jobs * 90,
        "fewer than 90% of the rebuild's jobs were cache hits:\n{all}"
    );
}

#[test]
#[ignore = "slow tier (Linux kernel builds): tests/run runs it"]
fn cached_rebuild_pump_x86() {
    cached_rebuild("pump");
}

#[test]
#[ignore = "slow tier (Linux kernel builds): tests/run runs it"]
fn cached_rebuild_plain_x86() {
    cached_rebuild("plain");
}

#[test]
#[ignore = "slow tier (Linux kernel builds): tests/run runs it"]
fn parse_reads_build_sh_output() {
    let r = parse(
        "pump: 426 compile(s) sent with their headers, 0 preprocessed locally\n\
         pump/distcc x86 -j4: 658.7 s (cpu: build side 10.0 s, daemon 1.0 s (its compilers 300.0 s))\n\
         TUs: 444 compiled through distcc\n\
         daemon: 426 compiles, 426 as protocol 3\n\
         not as protocol 3: 18 (18 .S): arch/x86/entry/entry.S\n\
         objects: 456 identical\n",
    );
    assert_eq!(
        (
            r.tus,
            r.compiles,
            r.protocol3,
            r.identical,
            r.sent,
            r.c_not_p3
        ),
        (444, 426, 426, 456, 426, 0)
    );
    assert!(r.summary.starts_with("pump: 426"));
    let r = parse("not as protocol 3: 20 (18 .S, 2 .c): a.S\n");
    assert_eq!(r.c_not_p3, 2);
}
