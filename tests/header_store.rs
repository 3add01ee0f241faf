//! The pump header store end to end (doc/header-store.md): a tinydcc
//! client sends a tinydcc daemon each header once, a stock distccd never
//! sees the store form, and a host that turned stock is retried.

use crate::common;
use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TCP proxy on 127.0.0.1 in front of `port` that counts the bytes
/// clients send through it.
struct Counting {
    port: u16,
    sent: Arc<AtomicUsize>,
}

impl Counting {
    fn new(to: u16) -> Counting {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let sent = Arc::new(AtomicUsize::new(0));
        let count = sent.clone();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                let Ok(d) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let (c2, d2) = (c.try_clone().unwrap(), d.try_clone().unwrap());
                let count = count.clone();
                std::thread::spawn(move || pipe(c, d, Some(count)));
                std::thread::spawn(move || pipe(d2, c2, None));
            }
        });
        Counting { port, sent }
    }

    fn take(&self) -> usize {
        self.sent.swap(0, Ordering::SeqCst)
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, count: Option<Arc<AtomicUsize>>) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(c) = &count {
                    c.fetch_add(n, Ordering::SeqCst);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A unit with two sizeable headers.
fn project(dir: &TempDir) {
    std::fs::create_dir_all(dir.join("inc")).unwrap();
    // Varied numbers, so LZO does not shrink the headers to nothing: a
    // real header costs more on the wire than its manifest entry.
    let big = |tag: &str| {
        let mut n: u64 = tag.len() as u64;
        (0..1500)
            .map(|i| {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!(
                    "static inline long {tag}_{i}(long x) {{ return x * {} + {}; }}\n",
                    n >> 40,
                    n & 0xffff_ffff
                )
            })
            .collect::<String>()
    };
    dir.write("inc/a.h", &big("a"));
    dir.write("inc/b.h", &big("b"));
    dir.write(
        "u.c",
        "#include <stdio.h>\n#include \"a.h\"\n#include \"b.h\"\nint main(void) { printf(\"%d\\n\", a_3(1) + b_5(2)); return 0; }\n",
    );
}

/// `tinydcc --pump tinydcc gcc -Iinc -c u.c -o u.o` through `port`.
fn pump(dir: &TempDir, port: u16) -> std::process::Output {
    let mut c = client_cmd(Kind::Tiny, dir.path(), &format!("127.0.0.1:{port},lzo,cpp"));
    c.arg("--pump")
        .arg(tinydcc())
        .args(["gcc", "-Iinc", "-c", "u.c", "-o", "u.o"])
        .env("DISTCC_FALLBACK", "0");
    run(c)
}

fn same_as_local(dir: &TempDir) {
    let local = local_gcc(dir.path(), &["-Iinc", "-c", "u.c", "-o", "local.o"]);
    assert!(local.status.success());
    assert_eq!(
        std::fs::read(dir.join("u.o")).unwrap(),
        std::fs::read(dir.join("local.o")).unwrap()
    );
}

fn record(dir: &TempDir, port: u16) -> PathBuf {
    dir.join(&format!(
        ".distcc-private/store/hsto_tcp_127.0.0.1_{port}_0"
    ))
}

#[test]
fn a_second_pump_compile_sends_only_what_the_daemon_lacks() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let proxy = Counting::new(d.port);
    let dir = TempDir::new("hsto");
    project(&dir);

    // First: plain protocol 3 (the host is not known yet); the reply's
    // trailer tells the client this daemon has the store.
    let out = pump(&dir, proxy.port);
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(&dir);
    let today = proxy.take();
    assert_eq!(
        std::fs::read_to_string(record(&dir, proxy.port)).unwrap(),
        "1\n"
    );

    // Second: store form, the store is cold: everything is asked for.
    let out = pump(&dir, proxy.port);
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(&dir);
    let cold = proxy.take();

    // Third: warm, only the manifest goes.
    let out = pump(&dir, proxy.port);
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(&dir);
    let warm = proxy.take();
    assert!(
        warm * 20 <= today,
        "warm: {warm} bytes, today: {today} (cold store form: {cold})"
    );

    // One header changes: that one is sent, the other is not.
    let a = std::fs::read_to_string(dir.join("inc/a.h")).unwrap();
    let changed_a: String = a
        .lines()
        .map(|l| {
            if l.starts_with("static inline long a_3(") {
                "static inline long a_3(long x) { return x * 2 + 1; }\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(changed_a, a);
    dir.write("inc/a.h", &changed_a);
    let out = pump(&dir, proxy.port);
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(&dir);
    let changed = proxy.take();
    let one_header = lzo_len(&dir.join("inc/a.h"));
    assert!(
        changed > warm + one_header / 2 && changed < warm + 2 * one_header,
        "one header changed: {changed} bytes, warm {warm}, the header {one_header}"
    );
    eprintln!("client bytes per unit: today {today}, store form cold {cold}, warm {warm}, one header changed {changed}");
    assert!(d.wait_job("COMPILE_OK", "u.c"));
    assert!(d.leftovers_after_reply().is_empty(), "{:?}", d.leftovers());
}

/// What a header costs on the wire in protocol 3, roughly: these
/// headers compress by about a half with LZO1X-1.
fn lzo_len(p: &std::path::Path) -> usize {
    std::fs::metadata(p).unwrap().len() as usize / 2
}

#[test]
fn our_client_never_sends_the_store_form_to_a_stock_distccd() {
    let d = Daemon::start(Kind::Stock, &[]);
    let dir = TempDir::new("hstostock");
    project(&dir);
    for _ in 0..2 {
        let out = pump(&dir, d.port);
        assert!(out.status.success(), "{}", text(&out.stderr));
        same_as_local(&dir);
    }
    assert!(!record(&dir, d.port).exists());
    assert!(d.wait_job("COMPILE_OK", "u.c"));
    // (The harness's port probe costs one "magic fairy dust" error.)
    // The second job's line may come just after the reply: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = d.log_text();
    while log.matches("COMPILE_OK").count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        log = d.log_text();
    }
    assert_eq!(log.matches("COMPILE_OK").count(), 2, "{log}");
    assert!(!log.contains("derail") && !log.contains("NDIG"), "{log}");
}

#[test]
fn a_host_that_became_stock_is_retried_without_the_store() {
    let d = Daemon::start(Kind::Stock, &[]);
    let dir = TempDir::new("hstoswitch");
    project(&dir);
    // The client last saw a tinydcc daemon with the store on this port.
    let rec = record(&dir, d.port);
    std::fs::create_dir_all(rec.parent().unwrap()).unwrap();
    std::fs::write(&rec, "1\n").unwrap();
    let out = pump(&dir, d.port);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    same_as_local(&dir);
    assert!(!rec.exists(), "the record is forgotten");
    assert!(
        err.contains("pump: 1 compile(s) sent with their headers, 0 preprocessed locally"),
        "{err}"
    );
    // Sent again to the same host, without backoff.
    let backoff = dir.join(&format!(
        ".distcc-private/lock/backoff_tcp_127.0.0.1_{}_0",
        d.port
    ));
    assert!(!backoff.exists());
}

/// A store-form request by hand: `gcc -c x.c -o x.o` in /src, whose x.c
/// is announced as `announced`; the daemon's NEED is read, then `sent`
/// goes if asked for. Returns the NEED bitmap, the reply and what came
/// after it.
fn by_hand(
    port: u16,
    announced: &[u8],
    sent: &[u8],
) -> (u8, tinydcc::protocol::reply::Reply, Vec<u8>) {
    use tinydcc::protocol::{lzo, request, store_form, token, Features, Limits};
    let argv: Vec<std::ffi::OsString> = ["gcc", "-c", "x.c", "-o", "x.o"]
        .iter()
        .map(Into::into)
        .collect();
    let mut wire = request::encode_header(Features::PUMP, Some("/src".as_ref()), &argv);
    store_form::put_ndig(&mut wire, 1);
    let digest = tinydcc::store::Digest::of(announced).0;
    store_form::put_fdig(&mut wire, b"/src/x.c", announced.len() as u64, &digest).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    s.write_all(&wire).unwrap();
    let need = store_form::read_need(&mut s, 1).unwrap();
    if need[0] {
        let mut file = Vec::new();
        token::put_bytes(&mut file, token::FILE, &lzo::compress(sent)).unwrap();
        s.write_all(&file).unwrap();
    }
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let mut r = std::io::Cursor::new(&rest[..]);
    let reply = tinydcc::protocol::reply::read(&mut r, Features::PUMP, &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {}", text(&rest)));
    let after = rest[r.position() as usize..].to_vec();
    (need[0] as u8, reply, after)
}

#[test]
fn the_daemon_checks_each_content_against_its_digest_before_keeping_it() {
    require("gcc");
    let d = Daemon::start(Kind::Tiny, &[]);
    let good = b"int x = 1;\n";
    let lie = b"int x = 2;\n";
    // A content that is not what its digest says: refused, not kept.
    let (need, r, after) = by_hand(d.port, good, lie);
    assert_eq!(need, 1);
    assert_eq!(r.status.code(), Some(109), "{}", text(&r.stderr));
    assert!(
        text(&r.stderr).contains("does not match its digest"),
        "{}",
        text(&r.stderr)
    );
    assert_eq!(after, b"HSTO00000001");
    // So the true content is asked for again, and compiles.
    let (need, r, after) = by_hand(d.port, good, good);
    assert_eq!(need, 1);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert_eq!(after, b"HSTO00000001");
    // Then it is in the store: not asked for, and the object is the same.
    let (need, again, _) = by_hand(d.port, good, b"");
    assert_eq!(need, 0);
    assert_eq!(again.object, r.object);
}

#[test]
fn a_daemon_without_the_store_says_so_and_asks_for_everything() {
    require("gcc");
    let d = Daemon::start(Kind::Tiny, &["--no-header-store"]);
    let good = b"int x = 1;\n";
    for _ in 0..2 {
        let (need, r, after) = by_hand(d.port, good, good);
        assert_eq!(need, 1);
        assert!(r.status.success(), "{}", text(&r.stderr));
        assert_eq!(after, b"HSTO00000000");
    }
    assert!(!d.tmp.join("tinydcc-headers").exists());
}

/// The daemon's `--stats` counters for the header store (issue 16 §3):
/// (dcc_request_bytes, dcc_pump_jobs, dcc_pump_files_written,
/// dcc_pump_files_linked).
fn store_counters(d: &Daemon) -> [u64; 4] {
    let page = text(&raw_exchange(
        d.port + 1,
        b"GET / HTTP/1.0\r\n\r\n",
        std::time::Duration::from_secs(5),
    ));
    [
        "dcc_request_bytes",
        "dcc_pump_jobs",
        "dcc_pump_files_written",
        "dcc_pump_files_linked",
    ]
    .map(|k| {
        page.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in\n{page}"))
    })
}

/// What one pump compile moved the counters by.
fn one_job(d: &Daemon, dir: &TempDir) -> [u64; 4] {
    let before = store_counters(d);
    let out = pump(dir, d.port);
    assert!(out.status.success(), "{}", text(&out.stderr));
    same_as_local(dir);
    let after = store_counters(d);
    [0, 1, 2, 3].map(|i| after[i] - before[i])
}

#[test]
fn the_stats_page_counts_request_bytes_and_the_files_a_pump_job_writes() {
    require("gcc");
    let d = Daemon::start(Kind::Tiny, &["--stats", "--stats-port", "STATS_PORT"]);
    let dir = TempDir::new("hstostats");
    project(&dir);
    // Plain protocol 3 (host not known yet), the store form cold, warm.
    let [today_bytes, jobs, today_written, linked] = one_job(&d, &dir);
    assert_eq!(jobs, 1);
    assert!(
        today_written >= 3,
        "u.c, a.h, b.h at least: {today_written}"
    );
    assert_eq!(linked, 0);
    let [_, jobs, cold_written, linked] = one_job(&d, &dir);
    assert_eq!((jobs, cold_written, linked), (1, today_written, 0));
    let [warm_bytes, jobs, written, linked] = one_job(&d, &dir);
    assert_eq!((jobs, written, linked), (1, 0, today_written));
    assert!(
        warm_bytes * 20 <= today_bytes,
        "warm {warm_bytes} bytes, today {today_bytes}"
    );

    // `--no-header-store` is "today": the client is told so and sends
    // plain protocol 3 every time, every content written.
    let off = Daemon::start(
        Kind::Tiny,
        &["--no-header-store", "--stats", "--stats-port", "STATS_PORT"],
    );
    for _ in 0..2 {
        let [bytes, jobs, written, linked] = one_job(&off, &dir);
        assert_eq!((jobs, written, linked), (1, today_written, 0));
        // The same request as the first one above (the port's digits
        // aside, none of which are in it).
        assert_eq!(bytes, today_bytes);
        assert!(!record(&dir, off.port).exists());
    }
}
