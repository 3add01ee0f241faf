//! The client: decide local or remote, take a slot, preprocess, send,
//! receive, fall back. Each step lives in its own module; this one only
//! sequences them, following distcc's `dcc_build_somewhere`.

pub(crate) mod backoff;
pub(crate) mod cpp;
pub(crate) mod cpu_room;
pub(crate) mod depfile;
pub(crate) mod header_store;
pub(crate) mod invoke;
pub(crate) mod job_size;
pub(crate) mod load;
pub(crate) mod local;
pub(crate) mod local_copy;
pub(crate) mod lock;
pub(crate) mod native;
pub(crate) mod output;
pub(crate) mod phase;
pub(crate) mod pick;
pub(crate) mod predict;
pub(crate) mod pump;
mod pump_state;
pub(crate) mod queue;
pub(crate) mod remote;
pub(crate) mod scan_includes;
pub(crate) mod settings;
pub(crate) mod speed;
pub(crate) mod straggler;
pub(crate) mod temps;
pub(crate) mod transport;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::args;
use crate::exitcode::*;
use crate::hosts::{self, Host, HostList};
use crate::logging::USER;
use crate::protocol::Features;
use invoke::Invocation;
use phase::Phase;
use pump_state::PumpState;
use remote::{SendError, Source};
use settings::{env_bool, Settings};

fn init_logging() {
    use crate::logging::{init, tee_to_stderr, Target};
    use log::LevelFilter;
    let verbose = env_bool("DISTCC_VERBOSE", false);
    let lvl = if verbose {
        LevelFilter::Trace
    } else {
        LevelFilter::Warn
    };
    if let Some(f) = std::env::var_os("DISTCC_LOG").filter(|f| !f.is_empty()) {
        // distcc: a log file gets INFO, or everything with DISTCC_VERBOSE.
        let file_lvl = if verbose {
            LevelFilter::Trace
        } else {
            LevelFilter::Debug
        };
        if init("tinydcc", Target::File(f.into()), file_lvl) {
            // What ends a compile must still reach the user.
            tee_to_stderr();
        } else {
            // On stderr instead, at stderr's level (as distcc).
            log::set_max_level(lvl);
        }
        return;
    }
    // ccache hands its real stderr to the compiler as UNCACHED_ERR_FD so
    // our messages are not cached as compiler output. A closed fd would
    // swallow them: stderr then.
    match std::env::var("UNCACHED_ERR_FD")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        // SAFETY: F_GETFD only asks whether the fd is open.
        Some(fd) if fd > 2 && nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok() => {
            init("tinydcc", Target::Fd(fd), lvl);
        }
        _ => {
            init("tinydcc", Target::Stderr, lvl);
        }
    }
}

/// Entry point when called as `distcc`/`tinydcc` with `args` after the name.
pub fn main_explicit(args: Vec<OsString>) -> i32 {
    match invoke::explicit(&args) {
        Invocation::Help => {
            print!("{}", HELP);
            0
        }
        Invocation::Version => {
            print!("{}", crate::version::text("tinydcc"));
            0
        }
        Invocation::ShowHosts => {
            init_logging();
            match hosts::load() {
                Ok(Some(l)) => {
                    l.warnings.iter().for_each(|w| log::warn!("{w}"));
                    l.hosts.iter().for_each(|h| println!("{}", h.spec))
                }
                Ok(None) => log::warn!(target: USER, "no hostlist is set"),
                Err(e) => log::log!(target: USER, e.level(), "{e}"),
            }
            0
        }
        Invocation::Jobs => {
            init_logging();
            println!("{}", jobs());
            0
        }
        Invocation::Check(rest) => crate::check::main(rest),
        Invocation::ScanIncludes(rest) => {
            init_logging();
            scan_includes::main(&rest)
        }
        Invocation::Fail(code, msg) => {
            init_logging();
            log::error!("{msg}");
            code
        }
        Invocation::Compile(argv) => compile(argv, false),
    }
}

/// Entry point when a link named like a compiler points at us; `argv0` is
/// the name as called (with its directory, if any).
pub fn main_masquerade(argv0: &OsStr, args: Vec<OsString>) -> i32 {
    init_logging();
    let tweaked = invoke::trim_path_for_masquerade(argv0);
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(OsStr::from_bytes(args::basename(argv0.as_bytes())).to_os_string());
    argv.extend(args);
    compile(argv, tweaked)
}

/// `-j`: the list's slots. Without a usable list, distcc prints nothing,
/// and `make -j$(distcc -j)` becomes an unbounded `make -j`; the local
/// slot count is the safe answer then.
fn jobs() -> u32 {
    let why = match hosts::load() {
        Ok(Some(l)) => {
            l.warnings.iter().for_each(|w| log::warn!("{w}"));
            return l.hosts.iter().map(|h| h.slots).sum();
        }
        Ok(None) => "no hostlist is set".to_string(),
        Err(e) => {
            log::log!(target: USER, e.level(), "{e}");
            "failed to get host list".to_string()
        }
    };
    let n = hosts::DEFAULT_LOCALSLOTS;
    log::warn!(target: USER, "{why}; -j prints the local slot count, {n}");
    n
}

const HELP: &str = "\
Usage: tinydcc [COMPILER] [compile options] -o OBJECT -c SOURCE
       COMPILER [compile options]    (a link named gcc, cc, g++, ... to tinydcc)

Distributes C/C++ compiles to the hosts in $DISTCC_HOSTS, $DISTCC_DIR/hosts
(~/.distcc/hosts) or /etc/distcc/hosts, like distcc. Compiles that cannot be
distributed, and jobs whose hosts fail, run locally.

Other modes:
  tinydcc --show-hosts           print the host list in use, one host a line
  tinydcc -j                     print the number of slots (make -j$(tinydcc -j))
  tinydcc --scan-includes COMPILE...
                                 list the files pump mode would send, compile nothing
  tinydcc --check [--runs N] [--no-suggest]
                                 compile a test file on every host: OK or FAIL,
                                 latency and a suggested /N per host
  tinydcc --daemon [OPTIONS]     the daemon, as distccd (also named tinydccd,
                                 distccd); tinydcc --daemon --help lists OPTIONS
  tinydcc --pump COMMAND...      run a build with an include server (also named
                                 pump, distcc-pump); --pump --startup, --shutdown
  tinydcc --mon [SECS]           this machine's running jobs (also distccmon-text)
  tinydcc --mon --cluster [SECS] every host's slots, jobs and failures (--stats)
  tinydcc --help | --version

See tinydcc(1) and tinydccd(8).
";

/// Run one compiler command, remotely if possible. `tweaked_path` says a
/// masquerade link just cut PATH (distcc's recursion rule needs it).
pub(crate) fn compile(argv: Vec<OsString>, tweaked_path: bool) -> i32 {
    let code = compile_job(argv, tweaked_path);
    phase::finish();
    code
}

fn compile_job(argv: Vec<OsString>, tweaked_path: bool) -> i32 {
    init_logging();
    let level = invoke::bump_safeguard();
    let s = match Settings::from_env() {
        Ok(s) => s,
        Err(code) => return code,
    };
    if argv[0].as_bytes().starts_with(b"-") {
        log::error!("unrecognized distcc option: {}", argv[0].to_string_lossy());
        return EXIT_BAD_ARGUMENTS;
    }
    if level > tweaked_path as u32 {
        log::error!("tinydcc seems to have invoked itself recursively!");
        return EXIT_RECURSION;
    }
    let Some(real) = invoke::resolve_compiler(&argv[0]) else {
        // distcc's words when exec fails (it would try): scripts grep them.
        log::error!(
            "failed to exec {}: No such file or directory",
            argv[0].to_string_lossy()
        );
        return EXIT_COMPILER_MISSING;
    };
    let mut local_argv = argv.clone();
    local_argv[0] = real.into_os_string();
    if level > 0 {
        // A distcc client called us as its compiler: it holds the slot.
        return local::run(&local_argv);
    }
    let dist_argv = if native::has_native(&argv) {
        native::resolve(&s, Path::new(&local_argv[0]), &argv).unwrap_or_else(|| argv.clone())
    } else {
        argv.clone()
    };
    match args::scan(&dist_argv) {
        Ok(scan) => {
            log::debug!(
                "compile from {} to {}",
                scan.input.to_string_lossy(),
                scan.output.to_string_lossy()
            );
            distribute(&s, scan, &local_argv)
        }
        Err(args::Local::Preprocess) => {
            log::debug!("-E call for cpp must be local");
            run_local(&s, &local_argv, true, None)
        }
        Err(args::Local::Reason(why)) => {
            log::debug!("{why}; running locally");
            run_local(&s, &local_argv, false, None)
        }
    }
}

/// Compile here under a local slot (`--localslots`, or `--localslots_cpp`
/// for `-E`), as distcc does for local-only jobs and fallbacks.
fn run_local(s: &Settings, argv: &[OsString], cpp_only: bool, list: Option<&HostList>) -> i32 {
    let loaded;
    let list = match list {
        Some(l) => Some(l),
        None => {
            loaded = hosts::load().ok().flatten();
            loaded.as_ref()
        }
    };
    let n = match (list, cpp_only) {
        (Some(l), true) => l.local_slots_cpp,
        (Some(l), false) => l.local_slots,
        (None, true) => hosts::DEFAULT_LOCALSLOTS_CPP,
        (None, false) => hosts::DEFAULT_LOCALSLOTS,
    };
    let slot = s
        .sub_dir("lock")
        .and_then(|d| pick::local(s, &d, n))
        .map_err(|e| log::error!("{e}; running without a local slot"))
        .ok();
    let input = argv.iter().rev().find(|a| args::is_source(*a));
    phase::note(
        Phase::Compile,
        input.map_or(OsStr::new(""), |a| a.as_os_str()),
        "localhost",
        slot.as_ref().map(|l| l.slot).unwrap_or(0),
    );
    local::run(argv)
}

fn emit(stdout: &[u8], stderr: &[u8]) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(stderr);
}

/// Nothing more to try remotely: compile here, or fail as distcc does.
fn give_up(
    s: &Settings,
    argv: &[OsString],
    input: &str,
    host: Option<&Host>,
    list: Option<&HostList>,
) -> i32 {
    if !s.fallback {
        log::error!("failed to distribute and fallbacks are disabled");
        return EXIT_NO_HOSTS;
    }
    match host {
        Some(h) => log::warn!(
            "failed to distribute {input} to {}, running locally instead",
            h.spec
        ),
        None => log::warn!("failed to distribute, running locally instead"),
    }
    run_local(s, argv, false, list)
}

/// Server-side failures that distccd reports in-band with a made-up exit
/// code (compiler missing, job timeout, I/O error), and a status with no
/// exit code at all: the host, not the source, is at fault.
fn is_host_failure(code: Option<i32>) -> bool {
    matches!(
        code,
        Some(EXIT_IO_ERROR) | Some(EXIT_COMPILER_MISSING) | Some(EXIT_TIMEOUT) | None
    )
}

fn distribute(s: &Settings, scan: args::Scan, local_argv: &[OsString]) -> i32 {
    // The input's name for messages only; files are opened by `scan.input`.
    let input = scan.input.to_string_lossy().into_owned();
    let list = match hosts::load() {
        Ok(Some(l)) => l,
        Ok(None) => {
            log::warn!("no hostlist is set; can't distribute work");
            return give_up(s, local_argv, &input, None, None);
        }
        Err(e) => {
            log::log!(e.level(), "{e}");
            return give_up(s, local_argv, &input, None, None);
        }
    };
    for w in &list.warnings {
        log::warn!("{w}");
    }
    let lock_dir = match s.sub_dir("lock") {
        Ok(d) => d,
        Err(e) => {
            log::error!("{e}");
            return give_up(s, local_argv, &input, None, Some(&list));
        }
    };
    // Hosts known to have the pump header store; none if it cannot be made.
    let store_dir = s.sub_dir("store").ok();
    // Set once a host failed the store form: never twice in one job.
    let mut no_store = false;
    let mut order: Vec<&Host> = list.hosts.iter().collect();
    if list.randomize {
        pick::shuffle(&mut order);
    }
    let preprocessed = args::is_preprocessed(&scan.input);
    // Pump mode sends the whole argv; plain mode without what only the
    // local cpp needs.
    let mut full_argv = scan.argv.clone();
    if !s.no_rewrite_cross {
        invoke::rewrite_for_server(&mut full_argv);
    }
    let server_argv = if preprocessed {
        full_argv.clone()
    } else {
        args::strip_local_args(&full_argv)
    };
    let mut saved = s.save_temps.then(|| temps::SavedTemps::new(&s.tmpdir));
    let mut source: Option<Source> = None;
    let mut cpp_slot: Option<lock::SlotLock> = None;
    let mut deps: Option<depfile::DepFile> = None;
    let mut tried: Vec<&Host> = Vec::new();
    let mut refusal: Option<crate::protocol::reply::Reply> = None;
    let mut pump_state = PumpState::Untried;
    let chooser = pick::Chooser::from_env(s);
    let mut watch = speed::Watch::new(chooser.speed_dir.as_deref(), &scan.input);
    loop {
        let (host, slot) = match pick::pick(s, &chooser, &lock_dir, &order, &tried, &scan.input) {
            Ok(pick::Picked::Host(h, l)) => (h, l),
            Ok(pick::Picked::NoHosts) => break,
            Err(e) => {
                log::error!("failed to lock: {e}");
                break;
            }
        };
        if host.is_local() {
            // `localhost` in the list: its slot is the local compile slot.
            drop(deps.take());
            finish_cpp(&mut source, &mut cpp_slot);
            phase::note(Phase::Compile, &scan.input, "localhost", slot.slot);
            let started = std::time::Instant::now();
            let helpers = list.hosts.iter().any(|h| !h.is_local());
            let compiling = helpers.then(|| cpu_room::compiling(&lock_dir, slot.slot));
            let code = local::run(local_argv);
            drop(compiling);
            if code == 0 {
                watch.local_ok(started.elapsed());
            }
            return code;
        }
        let shipment = if host.cpp {
            let first = matches!(pump_state, PumpState::Untried);
            if first {
                watch.prep_start(&list.hosts);
            }
            let r = pump_state.prepare(s, &scan, &lock_dir, &list, &full_argv, local_argv);
            if first {
                watch.prep_end(r.is_some());
            }
            r
        } else {
            None
        };
        if shipment.is_none() && source.is_none() {
            if preprocessed {
                match std::fs::read(&scan.input) {
                    Ok(d) => source = Some(Source::Ready(d)),
                    Err(e) => {
                        log::error!("failed to read {input}: {}", crate::errtext::reason(&e));
                        return run_local(s, local_argv, false, Some(&list));
                    }
                }
            } else {
                // Lock order: the remote slot first, then the local cpp one.
                cpp_slot = pick::local(s, &lock_dir, list.local_slots_cpp)
                    .map_err(|e| log::error!("{e}"))
                    .ok();
                phase::note(
                    Phase::Preprocess,
                    &scan.input,
                    "localhost",
                    cpp_slot.as_ref().map_or(0, |l| l.slot),
                );
                let mut cpp_argv = args::cpp_argv(&scan);
                cpp_argv[0] = local_argv[0].clone();
                deps = depfile::plan(&scan, &mut cpp_argv, local_argv);
                watch.prep_start(&list.hosts);
                match cpp::Cpp::start(&cpp_argv) {
                    Ok(c) => source = Some(Source::Running(c)),
                    Err(e) => {
                        log::error!(
                            "failed to start preprocessor {}: {}",
                            local_argv[0].to_string_lossy(),
                            crate::errtext::reason(&e)
                        );
                        return EXIT_COMPILER_MISSING;
                    }
                }
            }
        }
        let features = match shipment {
            Some(_) => Features::PUMP,
            None => host.features().cpp_on_client(),
        };
        phase::note(Phase::Connect, &scan.input, host.hostname(), slot.slot);
        watch.connecting();
        let mut conn = match transport::open(&host.mode, &s.ssh, s.io_timeout) {
            Ok(c) => c,
            Err(why) => {
                log::warn!("{why}");
                backoff::mark(&lock_dir, host, s.backoff_period);
                tried.push(host);
                if let Some(code) = finish_cpp(&mut source, &mut cpp_slot) {
                    return code;
                }
                continue;
            }
        };
        phase::note(Phase::Send, &scan.input, host.hostname(), slot.slot);
        log::debug!(
            "sending {input} to {} (protocol {})",
            host.spec,
            features.version()
        );
        let mut metered = speed::Metered::new(&mut conn);
        let store_form = features.cpp_on_server()
            && !no_store
            && store_dir
                .as_deref()
                .is_some_and(|d| header_store::known(d, host).is_some());
        if let (Some(t), Some((_, argv))) = (saved.as_mut(), shipment) {
            t.argv(&host.spec, argv);
        }
        let sent = send_request(
            &mut metered,
            shipment,
            store_form,
            source.as_mut(),
            features,
            &server_argv,
        );
        if let (Some(t), None, Some(Source::Ready(text))) = (saved.as_mut(), shipment, &source) {
            t.source(&scan.input, text);
            t.argv(&host.spec, &server_argv);
        }
        let meter = metered.meter;
        watch.sent(&meter);
        drop(cpp_slot.take());
        // A straggler's copy whose reply is the result.
        let mut copy: Option<straggler::Copy> = None;
        let result = match sent {
            Err(SendError::Cpp(c)) => return c.0,
            Err(SendError::Io(e)) => Err(remote::refusal_after_send_error(&mut conn)
                .map_or(e, crate::protocol::ProtoError::AccessDenied)),
            Err(SendError::Listed(why)) => {
                // Our side's problem, not the host's: plain mode, same host.
                conn.abandon();
                pump_state.failed(&input, why, false);
                continue;
            }
            Err(SendError::NoStore(e)) => {
                // The host answered the store form as a stock distccd
                // would (it was replaced): forget its store and send the
                // job again in plain protocol 3, no backoff. Without the
                // record the next attempt cannot come back here.
                conn.abandon();
                log::info!(
                    "{} did not answer the header store's manifest ({e}); sending {input} again without it",
                    host.spec
                );
                if let Some(d) = store_dir.as_deref() {
                    header_store::forget(d, host);
                }
                no_store = true;
                continue;
            }
            Ok(()) => {
                phase::note(Phase::Compile, &scan.input, host.hostname(), slot.slot);
                let judge = match (chooser.stragglers, slot.predicted) {
                    (false, _) => straggler::Judge::Off,
                    (true, Some((t, p))) => straggler::Judge::Predicted(t, p),
                    // The first host listed has none before it to copy to:
                    // its reply is read as distcc does, no looking.
                    (true, None) if std::ptr::eq(order[0], host) => straggler::Judge::Off,
                    (true, None) => straggler::Judge::Order,
                };
                let pump = shipment.is_some();
                let request = features;
                // Distcc's order: free slots of hosts listed before this one.
                let mut idle = Vec::new();
                // Set when a local copy could not start: not tried again.
                let mut no_local = false;
                // The CPU check's verdict, looked at once a second (the
                // copy search runs four times a second on a board).
                let mut room_at: Option<(std::time::Instant, bool)> = None;
                let mut start_copy = |beat: f64| {
                    if shipment.is_none() && source.is_none() {
                        return None;
                    }
                    // The other hosts not yet tried; in distcc's order
                    // only those listed before this one.
                    let mut others: Vec<&Host> = Vec::new();
                    let measured = chooser.speed_dir.as_deref();
                    for &h in &order {
                        if std::ptr::eq(h, host) {
                            if measured.is_none() {
                                break;
                            }
                        } else if !tried.iter().any(|t| std::ptr::eq(*t, h)) {
                            others.push(h);
                        }
                    }
                    // A pump request only goes to `,cpp` hosts; the copy
                    // uses the plain form, no header store.
                    let (h, held) = match measured {
                        Some(dir) => {
                            let (h, held, _) =
                                pick::spare(s, dir, &lock_dir, &others, pump, &scan.input, beat)?;
                            (h, held)
                        }
                        None => {
                            // `localhost` only while the CPU has room (a
                            // board's goes to preparing jobs).
                            others.retain(|h| {
                                !h.down
                                    && if h.is_local() {
                                        if room_at.is_none_or(|(t, _)| t.elapsed().as_secs() >= 1) {
                                            let r = cpu_room::room(&lock_dir, h.slots);
                                            room_at = Some((std::time::Instant::now(), r));
                                        }
                                        !no_local && room_at.is_some_and(|(_, r)| r)
                                    } else {
                                        !pump || h.cpp
                                    }
                            });
                            pick::spare_in_order(s, &lock_dir, &others, &mut idle)?
                        }
                    };
                    let started = std::time::Instant::now();
                    if h.is_local() {
                        let c = local_copy::LocalCopy::start(
                            &scan,
                            &local_argv[0],
                            local_argv,
                            &lock_dir,
                            held.slot,
                        );
                        no_local = c.is_none();
                        let c = c?;
                        return Some(straggler::Copy {
                            host: h,
                            slot: held,
                            via: straggler::Via::Local(c, request),
                            started,
                        });
                    }
                    let mut conn = transport::open(&h.mode, &s.ssh, s.io_timeout)
                        .map_err(|why| log::info!("no copy of {input}: {why}"))
                        .ok()?;
                    let features = if pump {
                        Features::PUMP
                    } else {
                        h.features().cpp_on_client()
                    };
                    let mut metered = speed::Metered::new(&mut conn);
                    let sent = send_request(
                        &mut metered,
                        shipment,
                        false,
                        source.as_mut(),
                        features,
                        &server_argv,
                    );
                    let meter = metered.meter;
                    if sent.is_err() {
                        log::info!("no copy of {input}: sending to {} failed", h.spec);
                        conn.abandon();
                        return None;
                    }
                    Some(straggler::Copy {
                        host: h,
                        slot: held,
                        via: straggler::Via::Remote {
                            conn,
                            features,
                            meter,
                        },
                        started,
                    })
                };
                let (r, c) = straggler::receive(
                    &mut conn,
                    features,
                    judge,
                    s.io_timeout,
                    &input,
                    host,
                    &mut start_copy,
                );
                copy = c;
                if let (Ok(_), None, true, Some(d), transport::Conn::Tcp(tcp)) = (
                    &r,
                    &copy,
                    features.cpp_on_server(),
                    store_dir.as_deref(),
                    &mut conn,
                ) {
                    if let Some(said) = header_store::read_trailer(tcp) {
                        header_store::record(d, host, said);
                    }
                }
                r
            }
        };
        // The copy won (or outlived the original): it is the job now; the
        // original's connection closes here, its daemon drops the job.
        let (host, slot, mut conn, features, meter) = match copy {
            Some(straggler::Copy {
                host: here,
                slot: held,
                via: straggler::Via::Local(copy, _),
                ..
            }) => {
                // Compiled here: its reply is in `result`, its temps go.
                conn.abandon();
                drop(conn);
                drop(copy);
                let r = match result {
                    Ok(r) if r.status.success() => r,
                    Ok(r) => {
                        // Both failed; this one is the local compiler's word.
                        emit(&r.stdout, &r.stderr);
                        return r.status.code().unwrap_or(EXIT_DISTCC_FAILED);
                    }
                    Err(e) => {
                        log::warn!("the local copy of {input} failed: {e}");
                        return run_local(s, local_argv, false, Some(&list));
                    }
                };
                drop(held);
                if features.cpp_on_server() {
                    match server_deps(&scan, local_argv, &r) {
                        Ok(d) => deps = d,
                        Err(()) => return run_local(s, local_argv, false, Some(&list)),
                    }
                }
                return accept_object(s, &scan, local_argv, &r, deps.as_mut(), &list, here);
            }
            Some(straggler::Copy {
                host: h,
                slot: held,
                via:
                    straggler::Via::Remote {
                        conn: c,
                        features: f,
                        meter: m,
                    },
                started,
            }) => {
                conn.abandon();
                drop(conn);
                let beaten = matches!(&result, Ok(r) if r.status.success());
                watch.lost(&host.mode, &meter, started, beaten);
                (h, held, c, f, m)
            }
            None => (host, slot, conn, features, meter),
        };
        let r = match result {
            Ok(r) => r,
            Err(crate::protocol::ProtoError::AccessDenied(d)) => {
                backoff::refused(&lock_dir, host, &d, s.backoff_period);
                tried.push(host);
                continue;
            }
            Err(e) => {
                conn.abandon();
                log::warn!("failed to distribute {input} to {}: {e}", host.spec);
                backoff::mark(&lock_dir, host, s.backoff_period);
                tried.push(host);
                continue;
            }
        };
        phase::note(Phase::Receive, &scan.input, host.hostname(), slot.slot);
        drop(conn);
        if let Some(t) = saved.as_mut() {
            t.object(&r.object);
            t.stderr(&r.stderr);
        }
        let (code, sig) = (r.status.code(), r.status.signal());
        if r.status.success() {
            backoff::clear(&lock_dir, host, s.backoff_period);
            watch.remote_ok(&host.mode, &meter);
            drop(slot);
            if features.cpp_on_server() {
                match server_deps(&scan, local_argv, &r) {
                    Ok(d) => deps = d,
                    Err(()) => return run_local(s, local_argv, false, Some(&list)),
                }
            } else if let PumpState::FailedRemotely(why) = &pump_state {
                log::warn!("{input} compiled in plain mode after failing in pump mode");
                pump::note_fallback(pump::Stage::After, &input, why, true);
            }
            return accept_object(s, &scan, local_argv, &r, deps.as_mut(), &list, host);
        }
        if crate::daemon::refusal::is_busy(code, &r.stderr) {
            // A tinydcc daemon without memory for the job: busy, not failed.
            // No backoff (it may have room for the next job); another host,
            // else a local compile.
            log::info!(
                "{} is busy, {input} goes elsewhere: {}",
                host.spec,
                String::from_utf8_lossy(&r.stderr).trim_end()
            );
            tried.push(host);
            continue;
        }
        if code == Some(EXIT_BAD_ARGUMENTS) {
            // tinydcc's daemon refuses some command lines in-band (exit 101
            // and the reason in SERR). That is about this job, not the host:
            // no backoff; another host may take it, else compile here.
            log::warn!(
                "{} refused {input}: {}",
                host.spec,
                String::from_utf8_lossy(&r.stderr).trim_end()
            );
            backoff::clear(&lock_dir, host, s.backoff_period);
            if features.cpp_on_server() {
                // Maybe only the pump request: the same host, plain mode.
                pump_state.failed(&input, format!("refused by {}", host.spec), false);
                continue;
            }
            tried.push(host);
            refusal = Some(r);
            continue;
        }
        if is_host_failure(code) || sig.is_some() {
            log::warn!(
                "compile of {input} on {} failed on the server (status {:#x})",
                host.spec,
                r.status.0
            );
            backoff::mark(&lock_dir, host, s.backoff_period);
            if !s.fallback {
                emit(&r.stdout, &r.stderr);
            }
            drop(slot);
            return give_up(s, local_argv, &input, Some(host), Some(&list));
        }
        // A real compile error: the host did its job.
        backoff::clear(&lock_dir, host, s.backoff_period);
        if features.cpp_on_server() && pump::maybe_incomplete(&r.stderr) {
            // The server may have lacked a file the scan missed: plain
            // mode decides (distcc recompiles locally instead).
            pump_state.failed(&input, format!("compile failed on {}", host.spec), true);
            continue;
        }
        log::info!(
            "compile {input} on {} failed with exit code {}",
            host.spec,
            code.unwrap_or(EXIT_DISTCC_FAILED)
        );
        // Never compiled again: these are gcc's diagnostics and exit code.
        // Plain mode lacks only gcc's source excerpts (the server had no
        // sources); pump mode has them too.
        emit(&r.stdout, &r.stderr);
        return code.unwrap_or(EXIT_DISTCC_FAILED);
    }
    drop(deps.take());
    if let Some(code) = finish_cpp(&mut source, &mut cpp_slot) {
        return code;
    }
    if let (Some(r), false) = (&refusal, s.fallback) {
        emit(&r.stdout, &r.stderr);
    }
    give_up(s, local_argv, &input, tried.last().copied(), Some(&list))
}

/// Send the request: pump (`store`: the header store's form) or plain.
/// One place for the job and a straggler's copy (each send inlined twice
/// would cost the armv7 binary kilobytes).
fn send_request(
    conn: &mut speed::Metered<transport::Conn>,
    shipment: Option<(&pump::Shipment, &[OsString])>,
    store: bool,
    source: Option<&mut Source>,
    features: Features,
    server_argv: &[OsString],
) -> Result<(), SendError> {
    match (shipment, source) {
        (Some((files, argv)), _) if store => pump::send_store(conn, argv, files),
        (Some((files, argv)), _) => pump::send(conn, argv, files),
        (None, Some(src)) => remote::send(conn, features, server_argv, src),
        (None, None) => unreachable!("plain mode always has a source"),
    }
}

/// Let a running cpp finish and free its slot (so no lock is held while
/// waiting for another host); `Some(code)` if cpp itself failed, whose
/// diagnostics are then already on stderr, as from the local compiler.
fn finish_cpp(source: &mut Option<Source>, slot: &mut Option<lock::SlotLock>) -> Option<i32> {
    let r = match source {
        Some(src) => src.get().err().map(|c| c.0),
        None => None,
    };
    drop(slot.take());
    r
}

/// Pump mode: the dependency file the reply carries, in its temp file
/// beside the target (committed with the object); `Err` (logged) when it
/// cannot be written.
fn server_deps(
    scan: &args::Scan,
    local_argv: &[OsString],
    r: &crate::protocol::reply::Reply,
) -> Result<Option<depfile::DepFile>, ()> {
    let deps = depfile::plan(scan, &mut args::cpp_argv(scan), local_argv);
    if let Some(d) = &deps {
        if let Err(e) = d.fill(r.dotd.as_deref().unwrap_or_default()) {
            log::error!(
                "cannot write {}: {}",
                d.temp.display(),
                crate::errtext::reason(&e)
            );
            return Err(());
        }
    }
    Ok(deps)
}

/// The server compiled it: write .d and object whole, relay the output.
fn accept_object(
    s: &Settings,
    scan: &args::Scan,
    local_argv: &[OsString],
    r: &crate::protocol::reply::Reply,
    deps: Option<&mut depfile::DepFile>,
    list: &HostList,
    host: &Host,
) -> i32 {
    let written =
        output::write_atomic(Path::new(&scan.output), &r.object).and_then(|_| match deps {
            Some(d) => d.commit(),
            None => Ok(()),
        });
    if let Err(e) = written {
        // Let the compiler itself report it (e.g. a missing output dir),
        // exactly as a local build would.
        log::debug!(
            "cannot write {}: {}; compiling locally",
            scan.output.to_string_lossy(),
            crate::errtext::reason(&e)
        );
        return run_local(s, local_argv, false, Some(list));
    }
    log::debug!(
        "compile {} on {} completed ok",
        scan.input.to_string_lossy(),
        host.spec
    );
    emit(&r.stdout, &r.stderr);
    0
}
