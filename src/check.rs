//! `tinydcc --check`: the usual first test of a distcc cluster, a
//! `hello_distcc.c` compiled through it, for every configured host: each
//! mode (plain, and pump for `,cpp` hosts) gets OK/FAIL, the median
//! latency of a few runs, and a suggested `/N` from the throughput measured
//! at growing concurrency. Every object is compared with a local compile.
//! With no host configured anywhere, a private daemon on 127.0.0.1 is
//! checked, so the command proves a bare machine works too.

mod measure;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::client::speed;
use crate::exitcode::*;
use crate::hosts::{self, Host};

pub(crate) const HELLO: &str =
    "#include <stdio.h>\n\nint main(void)\n{\n\tprintf(\"Hello distcc\\n\");\n\treturn 0;\n}\n";

/// A daemon in a child process, serving 127.0.0.1 on an ephemeral port.
struct PrivateDaemon {
    pid: nix::unistd::Pid,
    port: u16,
}

impl PrivateDaemon {
    fn start() -> Result<PrivateDaemon, String> {
        use crate::sys::ForkResult;
        let addr = "127.0.0.1".parse().ok();
        let listener = crate::daemon::bind(addr, 0).map_err(|e| format!("cannot listen: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // Single-threaded; the child runs the event loop and exits.
        match crate::sys::fork().map_err(|e| format!("fork: {e}"))? {
            ForkResult::Parent { child } => Ok(PrivateDaemon { pid: child, port }),
            ForkResult::Child => {
                let code = (|| {
                    crate::daemon::drop_privileges(None)
                        .map_err(|e| eprintln!("{e}"))
                        .ok()?;
                    let opts =
                        match crate::daemon::options::parse(vec!["--port".into(), "0".into()]) {
                            Ok(crate::daemon::options::Parsed::Run(o)) => o,
                            _ => return None,
                        };
                    let allow = vec![crate::daemon::access::Cidr::parse("127.0.0.1").ok()?];
                    let cfg = crate::daemon::server_config(&opts, allow);
                    crate::daemon::event_loop::Server::new(listener, None, cfg)
                        .ok()?
                        .run();
                    Some(0)
                })()
                .unwrap_or(EXIT_DISTCC_FAILED);
                std::process::exit(code);
            }
        }
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGTERM);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

fn compiler() -> &'static str {
    if crate::paths::which("gcc").is_some() {
        "gcc"
    } else {
        "cc"
    }
}

const USAGE: &str = "usage: tinydcc --check [--runs N] [--no-suggest]";

/// The local reference object and the preprocessed text sent to each
/// host, and how long a local compile and a local cpp of it took.
type Prepared = (Vec<u8>, Vec<u8>, Duration, Duration);

fn prepare(dir: &Path) -> Result<Prepared, String> {
    std::fs::write(dir.join("hello_distcc.c"), HELLO).map_err(|e| e.to_string())?;
    let run = |args: &[&str]| -> Result<Vec<u8>, String> {
        let out = Command::new(compiler())
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", compiler()))?;
        if !out.status.success() {
            return Err(format!(
                "local {} {}: {}",
                compiler(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(out.stdout)
    };
    // Timed the second time: the first also loads gcc from the disk.
    run(&["-c", "hello_distcc.c", "-o", "local.o"])?;
    let t = Instant::now();
    run(&["-c", "hello_distcc.c", "-o", "local.o"])?;
    let compile = t.elapsed();
    let reference = std::fs::read(dir.join("local.o")).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let preprocessed = run(&["-E", "hello_distcc.c"])?;
    Ok((reference, preprocessed, compile, t.elapsed()))
}

/// The median of `runs` jobs in one mode, or the first failure.
fn median_of(
    host: &Host,
    job: &measure::Job,
    pump: Option<&Pump>,
    runs: usize,
) -> Result<f64, String> {
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        times.push(measure::once(host, job, pump.map(|p| (&p.files, p.argv)))?);
    }
    Ok(measure::median(times).as_secs_f64() * 1e3)
}

/// The hello job as a pump client sends it: the include server's list.
struct Pump<'a> {
    files: crate::client::pump::Shipment,
    argv: &'a [std::ffi::OsString],
}

/// Seed `TINYDCC_CHOOSE=measured`'s speed record of a host that has none
/// (a real build's measurements are worth more than the hello job's).
fn seed(dir: Option<&Path>, host: &Host, sample: speed::Sample) {
    let Some(dir) = dir else { return };
    if speed::read(dir, &host.mode).is_some_and(|r| r.job.rate().is_some()) {
        return;
    }
    speed::record(dir, &host.mode, speed::Group::Job, sample);
}

fn check_host(
    host: &Host,
    job: &measure::Job,
    pump: Result<&Pump, &String>,
    runs: usize,
    suggest: bool,
    speed_dir: Option<&Path>,
) -> bool {
    let spec = &host.spec;
    if host.is_local() {
        println!("OK    {spec:<30} local  compiles on this machine");
        return true;
    }
    let median = match median_of(host, job, None, runs) {
        Ok(m) => m,
        Err(e) => {
            println!("FAIL  {spec:<30} plain  {e}");
            return false;
        }
    };
    seed(
        speed_dir,
        host,
        speed::Sample {
            units: speed::units_of_size(HELLO.len() as u64),
            secs: median / 1e3,
            bytes: job.preprocessed.len() as f64,
            send_s: 0.0,
        },
    );
    let mut line = format!(
        "OK    {spec:<30} plain  median {:>5} ms",
        crate::decimal::fixed(median, 1)
    );
    if suggest {
        match measure::suggest_slots(host, job) {
            Ok((n, rates)) => {
                let r: Vec<String> = rates
                    .iter()
                    .map(|(k, r)| format!("{k}:{}", crate::decimal::fixed(*r, 0)))
                    .collect();
                line.push_str(&format!(
                    "  suggest /{n} (configured /{}; jobs/s at 1,2,4,8 at once: {})",
                    host.slots,
                    r.join(" ")
                ));
            }
            Err(e) => line.push_str(&format!("  (no throughput: {e})")),
        }
    }
    println!("{line}");
    if !host.cpp {
        return true;
    }
    match pump
        .map_err(String::clone)
        .and_then(|p| median_of(host, job, Some(p), runs))
    {
        Ok(m) => {
            println!(
                "OK    {spec:<30} pump   median {:>5} ms",
                crate::decimal::fixed(m, 1)
            );
            true
        }
        Err(e) => {
            println!("FAIL  {spec:<30} pump   {e}");
            false
        }
    }
}

pub fn main(args: Vec<String>) -> i32 {
    crate::logging::init(
        "tinydcc",
        crate::logging::Target::Stderr,
        log::LevelFilter::Warn,
    );
    let mut runs = 5;
    let mut suggest = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => match it.next() {
                Some(n) => match n.parse() {
                    Ok(n) => runs = n,
                    Err(_) => {
                        eprintln!("tinydcc --check: --runs: '{n}' is not a number\n{USAGE}");
                        return EXIT_BAD_ARGUMENTS;
                    }
                },
                None => {
                    eprintln!("tinydcc --check: --runs: missing value\n{USAGE}");
                    return EXIT_BAD_ARGUMENTS;
                }
            },
            "--no-suggest" => suggest = false,
            other => {
                eprintln!("tinydcc --check: {other}: unknown option\n{USAGE}");
                return EXIT_BAD_ARGUMENTS;
            }
        }
    }
    let (hosts, daemon) = match hosts::load() {
        Ok(Some(l)) => (l.hosts, None),
        Ok(None) => match PrivateDaemon::start() {
            Ok(d) => {
                println!(
                    "no hosts configured: checking a private daemon on 127.0.0.1:{}",
                    d.port
                );
                let spec = format!("127.0.0.1:{}", d.port);
                match hosts::parse(&spec, "private daemon") {
                    Ok(l) => (l.hosts, Some(d)),
                    Err(e) => {
                        eprintln!("tinydcc --check: {e}");
                        return EXIT_DISTCC_FAILED;
                    }
                }
            }
            Err(e) => {
                eprintln!("tinydcc --check: cannot start a private daemon: {e}");
                return EXIT_DISTCC_FAILED;
            }
        },
        Err(e) => {
            eprintln!("tinydcc --check: {e}");
            return EXIT_BAD_HOSTSPEC;
        }
    };
    let dir = match crate::paths::make_temp_dir(&crate::paths::tmpdir(), "tinydcc-check-") {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tinydcc --check: cannot create a temp dir: {e}");
            return EXIT_IO_ERROR;
        }
    };
    let prepared = prepare(&dir);
    // Pump: our own include server lists what the hello job ships.
    let include_server = crate::pump::include_server::IncludeServer::new()
        .map_err(|e| format!("cannot start an include server: {e}"));
    let hello =
        [compiler(), "-c", "hello_distcc.c", "-o", "hello_distcc.o"].map(std::ffi::OsString::from);
    let cwd = dir.clone().into_os_string();
    let listed = include_server.and_then(|mut s| {
        let listed = s.answer(&cwd, &hello);
        Ok((s, listed?))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (reference, preprocessed, local_compile, local_cpp) = match prepared {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tinydcc --check: {e}");
            return EXIT_COMPILER_MISSING;
        }
    };
    let settings = match crate::client::settings::Settings::from_env() {
        Ok(s) => s,
        Err(code) => return code,
    };
    // This machine's own rates, for the measured host choice.
    let speed_dir = settings.sub_dir("speed").ok();
    if let Some(dir) = &speed_dir {
        let units = speed::units_of_size(HELLO.len() as u64);
        let local = |secs: Duration| speed::Sample {
            units,
            secs: secs.as_secs_f64(),
            ..Default::default()
        };
        let here = speed::read(dir, &hosts::Mode::Local).unwrap_or_default();
        if here.job.rate().is_none() {
            speed::record(
                dir,
                &hosts::Mode::Local,
                speed::Group::Job,
                local(local_compile),
            );
        }
        if here.prep_idle.rate().is_none() {
            speed::record(
                dir,
                &hosts::Mode::Local,
                speed::Group::PrepIdle,
                local(local_cpp),
            );
        }
    }
    let mut argv = hello.to_vec();
    // As a real compile does: DISTCC_NO_REWRITE_CROSS keeps the name as is.
    if !settings.no_rewrite_cross {
        crate::client::invoke::rewrite_for_server(&mut argv);
    }
    let job = measure::Job {
        argv: &argv,
        preprocessed: &preprocessed,
        reference: &reference,
        ssh: &settings.ssh,
        timeout: settings.io_timeout,
    };
    let (pump, mirror) = match listed {
        Ok((server, files)) => (
            Ok(Pump {
                files: crate::client::pump::Shipment::new(cwd, files.listed, Some(files.digests)),
                argv: &argv,
            }),
            Some(server.mirror_top()),
        ),
        Err(e) => (Err(format!("include scan: {e}")), None),
    };
    let failed = hosts
        .iter()
        .filter(|h| !check_host(h, &job, pump.as_ref(), runs, suggest, speed_dir.as_deref()))
        .count();
    drop(daemon);
    if let Some(top) = mirror {
        let _ = std::fs::remove_dir_all(top);
    }
    if failed > 0 {
        println!("{failed} of {} host(s) failed", hosts.len());
        EXIT_DISTCC_FAILED
    } else {
        0
    }
}
