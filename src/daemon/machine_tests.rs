//! The job machine, transition by transition: events in, actions out, no
//! sockets, processes or files. Each action is shown as a short string
//! (`kind`), so a test reads as the exchange it checks.
//!
//! Over 800 lines on purpose: the transitions of `machine.rs`'s `match`,
//! each tested on its own, read best beside it.

use super::*;
use crate::exitcode::{EXIT_BAD_ARGUMENTS, EXIT_COMPILER_MISSING, EXIT_IO_ERROR};
use crate::protocol::request::{encode_doti, encode_header};
use crate::protocol::token;
use std::ffi::OsString;

const PEER: &str = "10.0.0.7:40000";

fn timeouts() -> Timeouts {
    Timeouts {
        io: Duration::from_secs(300),
        job_lifetime: Some(Duration::from_secs(60)),
    }
}

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn argv(s: &str) -> Vec<OsString> {
    s.split_whitespace().map(OsString::from).collect()
}

fn header(features: Features) -> Vec<u8> {
    encode_header(features, None, &argv("gcc -c x.c -o x.o"))
}

fn doti(source: &[u8]) -> Vec<u8> {
    encode_doti(Features::PLAIN, source).unwrap()
}

fn accepted(piped: bool) -> Accepted {
    Accepted {
        compiler: "gcc".into(),
        input: "x.c".into(),
        piped,
        cached: false,
    }
}

fn kind(a: &Action) -> String {
    match a {
        Action::Check => "Check".into(),
        Action::WantSlot { early: true } => "WantSlot(early)".into(),
        Action::WantSlot { early: false } => "WantSlot(whole)".into(),
        Action::Release => "Release".into(),
        Action::Lookup => "Lookup".into(),
        Action::Keep => "Keep".into(),
        Action::Spawn { complete: true } => "Spawn(complete)".into(),
        Action::Spawn { complete: false } => "Spawn(early)".into(),
        Action::LayOut(req) => format!("LayOut({} files)", req.files.len()),
        Action::Need { refused } => format!("Need(refused={refused})"),
        Action::CompleteSource => "CompleteSource".into(),
        Action::Feed => "Feed".into(),
        Action::Kill => "Kill".into(),
        Action::Abort => "Abort".into(),
        Action::Unstart => "Unstart".into(),
        Action::Finish { status } => format!("Finish({:#x})", status.0),
        Action::Reply(r) => format!(
            "Reply({}: {})",
            r.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&r.stderr).trim_end()
        ),
        Action::SendResult => "SendResult".into(),
        Action::StatsPage { html } => format!("StatsPage(html={html})"),
        Action::LoadLine => "LoadLine".into(),
        Action::Record(r) => format!("Record({})", r.name()),
        Action::Compiled { ok, ms, .. } => format!("Compiled(ok={ok}, {ms}ms)"),
        Action::Log(level, msg) => format!("{level}: {msg}"),
        Action::Close => "Close".into(),
    }
}

/// One event in, the actions out as strings.
fn step(job: &mut Job, ev: Event, now: Instant) -> Vec<String> {
    job.handle(ev, now).iter().map(kind).collect()
}

/// A plain job past its check: argv read, `Checked` answered as a driver
/// would (the source goes to a sink, or is discarded when refused).
fn checked(t0: Instant, verdict: Result<Accepted, Refusal>) -> (Job, Vec<String>) {
    let mut job = Job::request(PEER, Limits::default(), timeouts(), t0);
    assert_eq!(
        step(&mut job, Event::Bytes(&header(Features::PLAIN)), t0),
        ["Check"]
    );
    let dec = job.decoder().expect("the decoder, for the check");
    assert_eq!(dec.argv(), argv("gcc -c x.c -o x.o"));
    match &verdict {
        Ok(_) => dec.set_source_sink(Box::new(Vec::new())),
        Err(_) => dec.discard_payload(),
    }
    let out = step(&mut job, Event::Checked(verdict), t0);
    (job, out)
}

/// A plain, unpiped job whose whole request is in and has a slot and a compiler.
fn compiling(t0: Instant) -> Job {
    let (mut job, out) = checked(t0, Ok(accepted(false)));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        step(&mut job, Event::Bytes(&doti(b"int x;\n")), t0),
        ["WantSlot(whole)"]
    );
    assert_eq!(step(&mut job, Event::SlotGranted, t0), ["Spawn(complete)"]);
    assert_eq!(
        step(&mut job, Event::Spawned(Ok(())), at(t0, 1000)),
        ["Feed"]
    );
    job
}

/// A piped job whose compiler started early, its source still coming.
fn started_early(t0: Instant) -> Job {
    let (mut job, out) = checked(t0, Ok(accepted(true)));
    assert_eq!(out, ["WantSlot(early)"]);
    assert_eq!(step(&mut job, Event::SlotGranted, t0), ["Spawn(early)"]);
    assert!(step(&mut job, Event::Spawned(Ok(())), t0).is_empty());
    job
}

fn summary(result: &str, exit: i32, ms: u64) -> String {
    format!("INFO: client: {PEER} {result} exit:{exit} sig:0 core:0 ret:0 time:{ms}ms gcc x.c")
}

#[test]
fn a_whole_request_waits_for_a_slot_then_compiles_and_answers() {
    let t0 = Instant::now();
    let mut job = compiling(t0);
    assert_eq!(job.compiling(at(t0, 1100)), Some(("x.c", 100)));
    let exited = Event::CompilerExited(WaitStatus(0));
    assert_eq!(
        step(&mut job, exited, at(t0, 1250)),
        ["Release", "Finish(0x0)"]
    );
    assert_eq!(
        step(&mut job, Event::Finished { no_object: None }, at(t0, 1250)),
        ["Compiled(ok=true, 250ms)", "SendResult"]
    );
    assert!(step(&mut job, Event::Sent { done: false }, at(t0, 1300)).is_empty());
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, at(t0, 1300)),
        [
            summary("COMPILE_OK", 0, 250),
            "Record(COMPILE_OK)".into(),
            "Close".into()
        ]
    );
    assert!(job.is_closed());
    assert_eq!(job.exit_code(), 0);
    // A closed job ignores whatever still comes.
    assert!(step(&mut job, Event::Tick, at(t0, 999_999)).is_empty());
    assert!(step(&mut job, Event::Bytes(b"more"), at(t0, 2000)).is_empty());
}

#[test]
fn a_request_split_at_every_byte_reads_the_same() {
    let t0 = Instant::now();
    let mut job = Job::request(PEER, Limits::default(), timeouts(), t0);
    let mut wire = header(Features::PLAIN);
    let at_doti = wire.len();
    wire.extend(doti(b"int x;\n"));
    let mut seen = Vec::new();
    for (i, b) in wire.iter().enumerate() {
        let out = step(&mut job, Event::Bytes(std::slice::from_ref(b)), t0);
        if out == ["Check"] {
            assert_eq!(i + 1, at_doti, "checked exactly when the argv is whole");
            job.decoder().unwrap().set_source_sink(Box::new(Vec::new()));
            let out = step(&mut job, Event::Checked(Ok(accepted(false))), t0);
            assert!(out.is_empty(), "{out:?}");
        }
        seen.extend(out);
    }
    assert_eq!(seen, ["Check", "WantSlot(whole)"]);
}

#[test]
fn a_compiler_started_early_is_fed_once_its_source_is_in() {
    let t0 = Instant::now();
    let mut job = started_early(t0);
    let d = doti(&[b'\n'; 1000]);
    // Running already: no second slot asked for while the source comes.
    assert!(step(&mut job, Event::Bytes(&d[..500]), at(t0, 10)).is_empty());
    assert_eq!(
        step(&mut job, Event::Bytes(&d[500..]), at(t0, 400)),
        ["CompleteSource"]
    );
    assert_eq!(
        step(&mut job, Event::SourceReady(Ok(())), at(t0, 400)),
        ["Feed"]
    );
    // The compile's time starts with its whole source, not the early start.
    assert_eq!(job.compiling(at(t0, 450)), Some(("x.c", 50)));
    assert_eq!(step(&mut job, Event::PipeWritable, at(t0, 450)), ["Feed"]);
    assert_eq!(
        step(&mut job, Event::CompilerExited(WaitStatus(0)), at(t0, 500)),
        ["Release", "Finish(0x0)"]
    );
}

#[test]
fn without_a_free_slot_a_piped_job_keeps_asking_then_queues() {
    let t0 = Instant::now();
    let (mut job, out) = checked(t0, Ok(accepted(true)));
    assert_eq!(out, ["WantSlot(early)"]);
    let d = doti(b"int x;\n");
    // Not granted: it asks again as more comes (a slot may have freed).
    assert_eq!(
        step(&mut job, Event::Bytes(&d[..5]), t0),
        ["WantSlot(early)"]
    );
    assert_eq!(
        step(&mut job, Event::Bytes(&d[5..]), t0),
        ["WantSlot(whole)"]
    );
    assert_eq!(step(&mut job, Event::SlotGranted, t0), ["Spawn(complete)"]);
}

#[test]
fn a_compiler_gone_before_its_source_is_answered_once_the_request_is_in() {
    let t0 = Instant::now();
    let mut job = started_early(t0);
    let exited = Event::CompilerExited(WaitStatus::exited(3));
    assert_eq!(
        step(&mut job, exited, at(t0, 30)),
        [
            "Release".to_string(),
            format!("DEBUG: client {PEER}: {GONE_EARLY}")
        ]
    );
    // Not answered before the whole request is read, and never restarted.
    assert!(step(&mut job, Event::SlotGranted, at(t0, 40)).is_empty());
    let d = doti(&[b'\n'; 100]);
    assert!(step(&mut job, Event::Bytes(&d[..50]), at(t0, 50)).is_empty());
    assert_eq!(
        step(&mut job, Event::Bytes(&d[50..]), at(t0, 80)),
        ["Finish(0x300)"]
    );
    assert_eq!(
        step(&mut job, Event::Finished { no_object: None }, at(t0, 80)),
        ["Compiled(ok=false, 80ms)", "SendResult"]
    );
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, at(t0, 90))[0],
        summary("COMPILE_ERROR", 3, 80)
    );
}

#[test]
fn a_client_gone_while_queued_leaves_the_queue_without_a_spawn() {
    let t0 = Instant::now();
    let (mut job, _) = checked(t0, Ok(accepted(false)));
    assert_eq!(
        step(&mut job, Event::Bytes(&doti(b"x")), t0),
        ["WantSlot(whole)"]
    );
    assert_eq!(
        step(&mut job, Event::Eof, t0),
        [
            format!("WARN: client {PEER}: disconnected before the reply; job abandoned"),
            "Record(CLI_DISCONN)".into(),
            "Close".into()
        ]
    );
    // The slot it waited for comes too late: nothing starts.
    assert!(step(&mut job, Event::SlotGranted, t0).is_empty());
}

#[test]
fn a_job_queued_without_memory_is_answered_busy_and_never_starts() {
    let t0 = Instant::now();
    let (mut job, _) = checked(t0, Ok(accepted(false)));
    step(&mut job, Event::Bytes(&doti(b"x")), t0);
    let busy = crate::daemon::refusal::busy("not enough memory free");
    assert_eq!(
        step(&mut job, Event::Busy(busy), at(t0, 3000)),
        [
            format!("INFO: client {PEER}: busy: not enough memory free (gcc x.c)"),
            "Reply(114: distccd: job refused: busy: not enough memory free)".into()
        ]
    );
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, at(t0, 3000))[0],
        summary("REJ_OVERLOAD", 114, 0)
    );
    assert!(step(&mut job, Event::SlotGranted, at(t0, 3000)).is_empty());
}

#[test]
fn a_client_gone_while_compiling_kills_the_compiler() {
    let t0 = Instant::now();
    let mut job = compiling(t0);
    let out = step(&mut job, Event::Eof, at(t0, 1200));
    assert_eq!(
        out[1..],
        ["Record(CLI_DISCONN)", "Abort", "Release", "Close"]
    );
    // Aborted: its exit, reaped later, is no event for the job.
    assert!(step(&mut job, Event::CompilerExited(WaitStatus(9)), at(t0, 1300)).is_empty());
}

#[test]
fn data_after_the_request_drops_the_job() {
    let t0 = Instant::now();
    let mut job = compiling(t0);
    assert_eq!(
        step(&mut job, Event::Bytes(b"x"), at(t0, 1200)),
        [
            format!("WARN: client {PEER}: unexpected data after the request; dropping connection"),
            "Record(CLI_DISCONN)".into(),
            "Abort".into(),
            "Release".into(),
            "Close".into()
        ]
    );
}

#[test]
fn a_client_whose_cpp_failed_is_no_warning() {
    let t0 = Instant::now();
    let mut job = started_early(t0);
    assert_eq!(
        step(&mut job, Event::Eof, t0),
        [
            format!("DEBUG: client {PEER}: {NO_SOURCE}"),
            "Record(CLI_DISCONN)".into(),
            "Abort".into(),
            "Release".into(),
            "Close".into()
        ]
    );
    assert_eq!(job.exit_code(), EXIT_TRUNCATED);
}

#[test]
fn a_port_probe_and_a_cut_request_are_told_apart() {
    let t0 = Instant::now();
    let mut probe = Job::request(PEER, Limits::default(), timeouts(), t0);
    assert_eq!(
        step(&mut probe, Event::Eof, t0),
        [
            format!("DEBUG: client {PEER}: closed without sending a request"),
            "Close".into()
        ]
    );
    let mut cut = Job::request(PEER, Limits::default(), timeouts(), t0);
    assert!(step(&mut cut, Event::Bytes(&header(Features::PLAIN)[..20]), t0).is_empty());
    assert_eq!(
        step(&mut cut, Event::Eof, t0),
        [
            format!("WARN: client {PEER}: connection closed before the request was complete"),
            "Record(CLI_DISCONN)".into(),
            "Close".into()
        ]
    );
}

#[test]
fn a_compile_past_its_lifetime_is_killed_and_answered() {
    let t0 = Instant::now();
    let mut job = compiling(t0);
    assert!(step(&mut job, Event::Tick, at(t0, 60_000)).is_empty());
    assert_eq!(
        step(&mut job, Event::Tick, at(t0, 61_500)),
        [
            "Abort".to_string(),
            "Release".into(),
            format!("WARN: client {PEER}: gcc x.c ran past --job-lifetime; killed"),
            "Reply(118: distccd: job refused: compile exceeded the daemon's --job-lifetime)".into()
        ]
    );
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, at(t0, 61_500)),
        [
            format!(
                "INFO: client: {PEER} COMPILE_TIMEOUT exit:118 sig:0 core:0 ret:0 time:60500ms gcc x.c"
            ),
            "Record(COMPILE_TIMEOUT)".into(),
            "Close".into()
        ]
    );
    assert_eq!(job.exit_code(), EXIT_TIMEOUT);
}

#[test]
fn idle_clients_time_out_but_queued_and_compiling_jobs_do_not() {
    let t0 = Instant::now();
    let mut idle = Job::request(PEER, Limits::default(), timeouts(), t0);
    assert!(step(&mut idle, Event::Tick, at(t0, 300_000)).is_empty());
    assert_eq!(
        step(&mut idle, Event::Tick, at(t0, 300_001)),
        [
            format!("WARN: client {PEER}: I/O timeout; dropping connection"),
            "Close".into()
        ]
    );

    let (mut queued, _) = checked(t0, Ok(accepted(false)));
    step(&mut queued, Event::Bytes(&doti(b"x")), t0);
    assert!(step(&mut queued, Event::Tick, at(t0, 3_600_000)).is_empty());

    let lax = Timeouts {
        job_lifetime: None,
        ..timeouts()
    };
    let mut long = Job::request(PEER, Limits::default(), lax, t0);
    step(&mut long, Event::Bytes(&header(Features::PLAIN)), t0);
    long.decoder()
        .unwrap()
        .set_source_sink(Box::new(Vec::new()));
    step(&mut long, Event::Checked(Ok(accepted(false))), t0);
    step(&mut long, Event::Bytes(&doti(b"x")), t0);
    step(&mut long, Event::SlotGranted, t0);
    step(&mut long, Event::Spawned(Ok(())), t0);
    assert!(step(&mut long, Event::Tick, at(t0, 400_000)).is_empty());
    // Its reply gets the whole I/O timeout, however long it compiled.
    step(
        &mut long,
        Event::CompilerExited(WaitStatus(0)),
        at(t0, 400_000),
    );
    step(
        &mut long,
        Event::Finished { no_object: None },
        at(t0, 400_000),
    );
    assert!(step(&mut long, Event::Tick, at(t0, 401_000)).is_empty());
}

#[test]
fn malformed_bytes_are_refused_without_a_panic() {
    let t0 = Instant::now();
    let mut job = Job::request(PEER, Limits::default(), timeouts(), t0);
    let out = step(&mut job, Event::Bytes(b"GARBAGE0000000100000000"), t0);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(
        out[0].starts_with(&format!("WARN: client {PEER}: ")),
        "{out:?}"
    );
    assert!(out[0].ends_with("; dropping connection"), "{out:?}");
    assert_eq!(out[1..], ["Record(REJ_BAD_REQ)", "Close"]);
    assert_ne!(job.exit_code(), 0);
}

#[test]
fn a_refused_argv_is_answered_after_its_source_is_read() {
    let t0 = Instant::now();
    let why = Refusal {
        code: EXIT_BAD_ARGUMENTS,
        why: "-E cannot be run remotely".into(),
    };
    let (mut job, out) = checked(t0, Err(why));
    assert!(out.is_empty(), "no early start for a refused job: {out:?}");
    let d = doti(&[b'x'; 100]);
    assert!(step(&mut job, Event::Bytes(&d[..50]), t0).is_empty());
    assert_eq!(
        step(&mut job, Event::Bytes(&d[50..]), t0),
        [
            format!("WARN: client {PEER}: refused: -E cannot be run remotely"),
            "Reply(101: distccd: job refused: -E cannot be run remotely)".into()
        ]
    );
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, t0)[..2],
        [
            format!("INFO: client: {PEER} REJ_BAD_REQ exit:101 sig:0 core:0 ret:0 time:0ms gcc"),
            "Record(REJ_BAD_REQ)".into()
        ]
    );
    assert_eq!(job.exit_code(), EXIT_BAD_ARGUMENTS);
}

#[test]
fn a_compiler_that_cannot_start_is_answered_and_gives_its_slot_back() {
    let t0 = Instant::now();
    let (mut job, _) = checked(t0, Ok(accepted(false)));
    step(&mut job, Event::Bytes(&doti(b"x")), t0);
    step(&mut job, Event::SlotGranted, t0);
    let r = Refusal {
        code: EXIT_COMPILER_MISSING,
        why: "failed to exec gcc: No such file or directory".into(),
    };
    assert_eq!(
        step(&mut job, Event::Spawned(Err(r)), t0),
        [
            "Release".to_string(),
            format!("WARN: client {PEER}: failed to exec gcc: No such file or directory (gcc x.c)"),
            "Reply(110: distccd: job refused: failed to exec gcc: No such file or directory)"
                .into()
        ]
    );
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, t0)[0],
        summary("OTHER", 110, 0)
    );
}

#[test]
fn an_early_start_that_fails_is_answered_once_the_request_is_in() {
    let t0 = Instant::now();
    let (mut job, _) = checked(t0, Ok(accepted(true)));
    step(&mut job, Event::SlotGranted, t0);
    let r = Refusal {
        code: EXIT_IO_ERROR,
        why: "cannot set up the compiler's input: x".into(),
    };
    assert_eq!(step(&mut job, Event::Spawned(Err(r)), t0), ["Release"]);
    let out = step(&mut job, Event::Bytes(&doti(b"x")), t0);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[1].starts_with("Reply(107: "), "{out:?}");
}

#[test]
fn a_source_that_cannot_be_fed_kills_the_early_compiler() {
    let t0 = Instant::now();
    let mut job = started_early(t0);
    assert_eq!(
        step(&mut job, Event::Bytes(&doti(b"x")), t0),
        ["CompleteSource"]
    );
    let r = Refusal {
        code: crate::exitcode::EXIT_PROTOCOL_ERROR,
        why: "bad compressed source: x".into(),
    };
    let out = step(&mut job, Event::SourceReady(Err(r)), t0);
    assert_eq!(out[..2], ["Abort", "Release"]);
    assert!(out[3].starts_with("Reply(109: "), "{out:?}");
}

#[test]
fn a_failed_feed_kills_and_the_exit_answers() {
    let t0 = Instant::now();
    let mut job = compiling(t0);
    assert_eq!(
        step(
            &mut job,
            Event::FeedFailed("Input/output error".into()),
            at(t0, 1010)
        ),
        [
            format!("WARN: client {PEER}: feeding the compiler failed: Input/output error"),
            "Kill".into()
        ]
    );
    let killed = Event::CompilerExited(WaitStatus(9));
    assert_eq!(
        step(&mut job, killed, at(t0, 1020)),
        ["Release", "Finish(0x9)"]
    );
}

#[test]
fn a_success_without_an_object_is_answered_as_a_failure() {
    let t0 = Instant::now();
    let mut job = compiling(t0);
    step(&mut job, Event::CompilerExited(WaitStatus(0)), at(t0, 1100));
    let why = "compiler exited 0 but wrote no object file".to_string();
    assert_eq!(
        step(&mut job, Event::Finished { no_object: Some(why) }, at(t0, 1100)),
        [
            format!("WARN: client {PEER}: gcc x.c: compiler exited 0 but wrote no object file; answered as a failure"),
            "Compiled(ok=false, 100ms)".into(),
            "SendResult".into()
        ]
    );
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, at(t0, 1100))[0],
        summary("OTHER", EXIT_IO_ERROR, 100)
    );
}

#[test]
fn an_early_start_waiting_too_long_gives_its_slot_back() {
    let t0 = Instant::now();
    let grace = Duration::from_secs(1);
    let mut job = started_early(t0);
    assert!(!job.preemptible(at(t0, 1000), grace));
    assert!(job.preemptible(at(t0, 1001), grace));
    assert_eq!(
        step(&mut job, Event::Preempt, at(t0, 1001)),
        ["Unstart", "Release"]
    );
    assert!(!job.preemptible(at(t0, 5000), grace));
    // Its source in, it queues like any whole request.
    assert_eq!(
        step(&mut job, Event::Bytes(&doti(b"x")), at(t0, 2000)),
        ["WantSlot(whole)"]
    );
    assert_eq!(
        step(&mut job, Event::SlotGranted, at(t0, 2000)),
        ["Spawn(complete)"]
    );
}

/// A store-form manifest of two contents, one the daemon will lack.
fn manifest() -> Vec<u8> {
    use crate::protocol::request::{put_entry, PumpEntry};
    let mut wire = Vec::new();
    crate::protocol::store_form::put_ndig(&mut wire, 2);
    for (name, text) in [("/src/x.c", &b"int x;\n"[..]), ("/src/x.h", b"int h;\n")] {
        let e = PumpEntry::Stored {
            name: name.into(),
            size: text.len() as u64,
            digest: crate::store::Digest::of(text).0,
            data: None,
        };
        put_entry(&mut wire, &e).unwrap();
    }
    wire
}

#[test]
fn a_store_form_request_asks_for_what_is_missing_then_compiles() {
    // manifest -> need -> files -> lay out -> compile
    let t0 = Instant::now();
    let wire = encode_header(
        Features::PUMP,
        Some("/src".as_ref()),
        &argv("gcc -c x.c -o x.o"),
    );
    let mut job = Job::request(PEER, Limits::default(), timeouts(), t0);
    assert_eq!(step(&mut job, Event::Bytes(&wire), t0), ["Check"]);
    assert!(step(&mut job, Event::Checked(Ok(accepted(false))), t0).is_empty());
    let mut sent = manifest();
    let manifest_len = sent.len();
    // The client's FILE can only come after NEED; sent early here, it
    // waits in the buffer until the driver has answered.
    token::put_bytes(
        &mut sent,
        token::FILE,
        &crate::protocol::lzo::compress(b"int h;\n"),
    )
    .unwrap();
    assert_eq!(
        step(&mut job, Event::Bytes(&sent[..manifest_len]), t0),
        ["Need(refused=false)"]
    );
    // The driver: the store holds x.c only.
    let dec = job.decoder().expect("the manifest");
    assert!(dec.awaiting_need());
    dec.set_needed(&[false, true]);
    assert!(step(&mut job, Event::Needed, t0).is_empty());
    assert_eq!(
        step(&mut job, Event::Bytes(&sent[manifest_len..]), t0),
        ["LayOut(2 files)"]
    );
    assert_eq!(
        step(&mut job, Event::LaidOut(Ok(())), t0),
        ["WantSlot(whole)"]
    );
    assert_eq!(step(&mut job, Event::SlotGranted, t0), ["Spawn(complete)"]);

    // A refused argv: its NEED asks for nothing, then the refusal.
    let mut bad = Job::request(PEER, Limits::default(), timeouts(), t0);
    step(&mut bad, Event::Bytes(&wire), t0);
    let r = Refusal {
        code: EXIT_BAD_ARGUMENTS,
        why: "no".into(),
    };
    bad.decoder().unwrap().discard_payload();
    assert!(step(&mut bad, Event::Checked(Err(r)), t0).is_empty());
    assert_eq!(
        step(&mut bad, Event::Bytes(&manifest()), t0),
        ["Need(refused=true)"]
    );
    bad.decoder().unwrap().set_needed(&[false, false]);
    let out = step(&mut bad, Event::Needed, t0);
    assert!(out.iter().any(|a| a.starts_with("Reply(101")), "{out:?}");
}

#[test]
fn a_pump_request_lays_out_its_files_before_it_queues() {
    let t0 = Instant::now();
    let mut wire = encode_header(
        Features::PUMP,
        Some("/src".as_ref()),
        &argv("gcc -c x.c -o x.o"),
    );
    let mut job = Job::request(PEER, Limits::default(), timeouts(), t0);
    assert_eq!(step(&mut job, Event::Bytes(&wire), t0), ["Check"]);
    assert!(step(&mut job, Event::Checked(Ok(accepted(false))), t0).is_empty());
    wire.clear();
    token::put(&mut wire, token::NFIL, 0);
    assert_eq!(step(&mut job, Event::Bytes(&wire), t0), ["LayOut(0 files)"]);
    assert_eq!(
        step(&mut job, Event::LaidOut(Ok(())), t0),
        ["WantSlot(whole)"]
    );

    let mut bad = Job::request(PEER, Limits::default(), timeouts(), t0);
    let wire = encode_header(
        Features::PUMP,
        Some("/src".as_ref()),
        &argv("gcc -c x.c -o x.o"),
    );
    step(&mut bad, Event::Bytes(&wire), t0);
    step(&mut bad, Event::Checked(Ok(accepted(false))), t0);
    let mut nfil = Vec::new();
    token::put(&mut nfil, token::NFIL, 0);
    step(&mut bad, Event::Bytes(&nfil), t0);
    let r = Refusal {
        code: crate::exitcode::EXIT_PROTOCOL_ERROR,
        why: "bad pump request: x".into(),
    };
    assert_eq!(
        step(&mut bad, Event::LaidOut(Err(r)), t0),
        [
            format!("WARN: client {PEER}: refused: bad pump request: x"),
            "Reply(109: distccd: job refused: bad pump request: x)".into()
        ]
    );
}

#[test]
fn a_stats_connection_is_answered_once_then_closed() {
    let t0 = Instant::now();
    let mut web = Job::stats(PEER, timeouts(), t0);
    assert_eq!(
        step(
            &mut web,
            Event::Bytes(b"GET / HTTP/1.1\r\nAccept: text/html\r\n"),
            t0
        ),
        ["StatsPage(html=true)"]
    );
    assert!(step(&mut web, Event::Bytes(b"more headers"), t0).is_empty());
    assert_eq!(step(&mut web, Event::Sent { done: true }, t0), ["Close"]);

    // Any bytes, or none, will do (as with distccd).
    let mut nc = Job::stats(PEER, timeouts(), t0);
    assert_eq!(step(&mut nc, Event::Eof, t0), ["StatsPage(html=false)"]);
    assert_eq!(step(&mut nc, Event::Eof, t0), ["Close"]);

    // A tinydcc client asking for the load line gets that instead.
    let mut load = Job::stats(PEER, timeouts(), t0);
    assert_eq!(step(&mut load, Event::Bytes(b"load\n"), t0), ["LoadLine"]);
    assert_eq!(step(&mut load, Event::Sent { done: true }, t0), ["Close"]);
}

#[test]
fn a_refused_client_is_held_until_it_closes_or_sends_too_much() {
    let t0 = Instant::now();
    let mut r = Job::refused(PEER, timeouts(), t0);
    assert!(r.is_refused());
    assert!(step(&mut r, Event::Sent { done: true }, t0).is_empty());
    assert!(step(&mut r, Event::Bytes(&[0; 1000]), t0).is_empty());
    assert_eq!(step(&mut r, Event::Eof, t0), ["Close"]);

    let mut flood = Job::refused(PEER, timeouts(), t0);
    let big = vec![0; access::REFUSED_DRAIN + 1];
    assert_eq!(step(&mut flood, Event::Bytes(&big), t0), ["Close"]);

    let mut slow = Job::refused(PEER, timeouts(), t0);
    let linger = access::REFUSED_LINGER.as_millis() as u64;
    assert!(step(&mut slow, Event::Tick, at(t0, linger)).is_empty());
    assert_eq!(step(&mut slow, Event::Tick, at(t0, linger + 1)), ["Close"]);
}

#[test]
fn read_and_write_failures_close_with_a_warning() {
    let t0 = Instant::now();
    let mut job = compiling(t0);
    let out = step(
        &mut job,
        Event::ReadFailed("Connection reset by peer".into()),
        t0,
    );
    assert_eq!(
        out,
        [
            format!("WARN: client {PEER}: read failed: Connection reset by peer"),
            "Abort".into(),
            "Release".into(),
            "Close".into()
        ]
    );
    let mut job = compiling(t0);
    step(&mut job, Event::CompilerExited(WaitStatus(0)), t0);
    step(&mut job, Event::Finished { no_object: None }, t0);
    assert_eq!(
        step(
            &mut job,
            Event::WriteFailed("write failed: Broken pipe".into()),
            t0
        ),
        [
            format!("WARN: client {PEER}: write failed: Broken pipe"),
            "Close".into()
        ]
    );
    assert_eq!(job.exit_code(), EXIT_IO_ERROR);
    // A refused client's failures are not worth a line.
    let mut r = Job::refused(PEER, timeouts(), t0);
    assert_eq!(step(&mut r, Event::ReadFailed("x".into()), t0), ["Close"]);
}

/// Any event in any state, in any order: no panic, and once closed, silence.
#[test]
fn random_events_never_panic() {
    let t0 = Instant::now();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut wire = header(Features::PLAIN);
    wire.extend(doti(b"int x;\n"));
    for round in 0..300 {
        let mut job = match round % 3 {
            0 => Job::request(PEER, Limits::default(), timeouts(), t0),
            1 => Job::stats(PEER, timeouts(), t0),
            _ => Job::refused(PEER, timeouts(), t0),
        };
        let mut pos = 0;
        for i in 0..40u64 {
            let now = at(t0, i * 7_000);
            let r = Refusal {
                code: 101,
                why: "no".into(),
            };
            let ev = match next() % 17 {
                0..=2 => {
                    let end = (pos + 1 + next() as usize % 20).min(wire.len());
                    let ev = Event::Bytes(&wire[pos..end]);
                    pos = end;
                    ev
                }
                3 => Event::Eof,
                4 => Event::Checked(if next() % 2 == 0 {
                    Ok(Accepted {
                        cached: next() % 2 == 0,
                        ..accepted(next() % 2 == 0)
                    })
                } else {
                    Err(r)
                }),
                5 => Event::SlotGranted,
                6 => Event::Spawned(Ok(())),
                7 => Event::Spawned(Err(r)),
                8 => Event::LaidOut(Ok(())),
                9 => Event::SourceReady(Ok(())),
                10 => Event::PipeWritable,
                11 => Event::CompilerExited(WaitStatus(0)),
                12 => Event::Finished { no_object: None },
                13 => Event::Sent {
                    done: next() % 2 == 0,
                },
                14 if next() % 2 == 0 => Event::Preempt,
                14 => Event::Looked {
                    hit: next() % 2 == 0,
                },
                15 => Event::WriteFailed("x".into()),
                _ => Event::Tick,
            };
            if let Some(dec) = job.decoder() {
                if dec.argv_complete() {
                    dec.discard_payload();
                }
            }
            let out = job.handle(ev, now);
            if job.is_closed() {
                assert!(job.handle(Event::Tick, now).is_empty());
            }
            drop(out);
        }
    }
}

fn cached(piped: bool) -> Accepted {
    Accepted {
        cached: true,
        ..accepted(piped)
    }
}

#[test]
fn a_cached_job_is_looked_up_before_it_asks_for_a_slot() {
    let t0 = Instant::now();
    // A hit: answered without a slot or a compiler, logged as a hit.
    let (mut job, out) = checked(t0, Ok(cached(false)));
    assert!(out.is_empty());
    assert_eq!(
        step(&mut job, Event::Bytes(&doti(b"int x;\n")), t0),
        ["Lookup"]
    );
    assert!(step(&mut job, Event::SlotGranted, t0).is_empty());
    assert_eq!(
        step(&mut job, Event::Looked { hit: true }, t0),
        ["SendResult"]
    );
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, at(t0, 5)),
        [
            format!("{} (cache hit)", summary("COMPILE_OK", 0, 0)),
            "Record(COMPILE_OK)".into(),
            "Close".into()
        ]
    );

    // A miss queues and compiles as without a cache, then keeps the
    // result once the reply is out.
    let (mut job, _) = checked(t0, Ok(cached(false)));
    assert_eq!(
        step(&mut job, Event::Bytes(&doti(b"int x;\n")), t0),
        ["Lookup"]
    );
    assert_eq!(
        step(&mut job, Event::Looked { hit: false }, t0),
        ["WantSlot(whole)"]
    );
    assert_eq!(step(&mut job, Event::SlotGranted, t0), ["Spawn(complete)"]);
    assert_eq!(step(&mut job, Event::Spawned(Ok(())), t0), ["Feed"]);
    step(&mut job, Event::CompilerExited(WaitStatus(0)), at(t0, 100));
    step(&mut job, Event::Finished { no_object: None }, at(t0, 100));
    assert_eq!(
        step(&mut job, Event::Sent { done: true }, at(t0, 110)),
        [
            summary("COMPILE_OK", 0, 100),
            "Record(COMPILE_OK)".into(),
            "Keep".into(),
            "Close".into()
        ]
    );
}

#[test]
fn a_failed_compile_is_not_kept() {
    let t0 = Instant::now();
    let (mut job, _) = checked(t0, Ok(cached(false)));
    step(&mut job, Event::Bytes(&doti(b"int x;\n")), t0);
    step(&mut job, Event::Looked { hit: false }, t0);
    step(&mut job, Event::SlotGranted, t0);
    step(&mut job, Event::Spawned(Ok(())), t0);
    step(&mut job, Event::CompilerExited(WaitStatus::exited(1)), t0);
    step(&mut job, Event::Finished { no_object: None }, t0);
    let out = step(&mut job, Event::Sent { done: true }, t0);
    assert!(!out.contains(&"Keep".to_string()), "{out:?}");
}

#[test]
fn a_hit_kills_a_compiler_started_early_and_a_miss_feeds_it() {
    let t0 = Instant::now();
    let early = |t0| {
        let (mut job, out) = checked(t0, Ok(cached(true)));
        assert_eq!(out, ["WantSlot(early)"]);
        assert_eq!(step(&mut job, Event::SlotGranted, t0), ["Spawn(early)"]);
        assert!(step(&mut job, Event::Spawned(Ok(())), t0).is_empty());
        assert_eq!(
            step(&mut job, Event::Bytes(&doti(b"int x;\n")), t0),
            ["Lookup"]
        );
        job
    };
    // Never two writers of one output: the early compiler dies first.
    let mut job = early(t0);
    assert_eq!(
        step(&mut job, Event::Looked { hit: true }, t0),
        ["Abort", "Release", "SendResult"]
    );
    let mut job = early(t0);
    assert_eq!(
        step(&mut job, Event::Looked { hit: false }, t0),
        ["CompleteSource"]
    );
    assert_eq!(step(&mut job, Event::SourceReady(Ok(())), t0), ["Feed"]);
    // It may exit while the lookup waits (a compiler's identity is read).
    let mut job = early(t0);
    assert_eq!(
        step(
            &mut job,
            Event::CompilerExited(WaitStatus::exited(1)),
            at(t0, 5)
        ),
        ["Release"]
    );
    assert_eq!(
        step(&mut job, Event::Looked { hit: false }, at(t0, 9)),
        ["Finish(0x100)"]
    );
    // A client gone while it is looked up takes its early compiler along.
    let mut job = early(t0);
    let out = step(&mut job, Event::Eof, t0);
    assert_eq!(&out[out.len() - 3..], ["Abort", "Release", "Close"]);
}

#[test]
fn a_cached_pump_job_is_looked_up_once_laid_out() {
    let t0 = Instant::now();
    let mut wire = encode_header(
        Features::PUMP,
        Some("/src".as_ref()),
        &argv("gcc -c x.c -o x.o"),
    );
    let mut job = Job::request(PEER, Limits::default(), timeouts(), t0);
    assert_eq!(step(&mut job, Event::Bytes(&wire), t0), ["Check"]);
    assert!(step(&mut job, Event::Checked(Ok(cached(false))), t0).is_empty());
    wire.clear();
    token::put(&mut wire, token::NFIL, 0);
    assert_eq!(step(&mut job, Event::Bytes(&wire), t0), ["LayOut(0 files)"]);
    assert_eq!(step(&mut job, Event::LaidOut(Ok(())), t0), ["Lookup"]);
    assert_eq!(
        step(&mut job, Event::Looked { hit: false }, t0),
        ["WantSlot(whole)"]
    );
}
