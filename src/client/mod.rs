//! The client: decide local or remote, preprocess, send, receive, fall back.

pub mod cpp;
pub mod invoke;
pub mod local;
pub mod output;
pub mod remote;

use std::path::Path;
use std::time::Duration;

use crate::args;
use crate::exitcode::*;
use crate::hosts::{self, Host, Mode};
use invoke::Invocation;
use remote::{Outcome, Source};

/// A distcc boolean: only "0" and "1" count; anything else is the default.
fn env_bool(name: &str, default: bool) -> bool {
    match std::env::var(name).as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => default,
    }
}

fn init_logging() {
    use crate::logging::{init, Target};
    use log::LevelFilter;
    let verbose = env_bool("DISTCC_VERBOSE", false);
    if let Some(f) = std::env::var_os("DISTCC_LOG").filter(|f| !f.is_empty()) {
        let lvl = if verbose {
            LevelFilter::Trace
        } else {
            LevelFilter::Debug
        };
        init("tinydcc", Target::File(f.into()), lvl);
        return;
    }
    let lvl = if verbose {
        LevelFilter::Trace
    } else {
        LevelFilter::Warn
    };
    match std::env::var("UNCACHED_ERR_FD")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        Some(fd) if fd > 2 => init("tinydcc", Target::Fd(fd), lvl),
        _ => init("tinydcc", Target::Stderr, lvl),
    }
}

/// `DISTCC_IO_TIMEOUT` in seconds (default 300); a bad value is exit 101.
fn io_timeout() -> Result<Duration, i32> {
    match std::env::var("DISTCC_IO_TIMEOUT") {
        Err(_) => Ok(Duration::from_secs(300)),
        Ok(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n as u64)),
            _ => {
                log::error!("DISTCC_IO_TIMEOUT must be a positive number of seconds, not '{v}'");
                Err(EXIT_BAD_ARGUMENTS)
            }
        },
    }
}

/// Entry point when called as `distcc`/`tinydcc` with `args` after the name.
pub fn main_explicit(args: Vec<String>) -> i32 {
    match invoke::explicit(&args) {
        Invocation::Help => {
            print!("{}", HELP);
            0
        }
        Invocation::Version => {
            println!(
                "tinydcc {} (distcc 3.4 compatible)",
                env!("CARGO_PKG_VERSION")
            );
            0
        }
        Invocation::ShowHosts => {
            init_logging();
            match hosts::load() {
                Ok(Some(l)) => l.hosts.iter().for_each(|h| println!("{}", h.spec)),
                Ok(None) => log::warn!("no hostlist is set"),
                Err(e) => log::error!("{e}"),
            }
            0
        }
        Invocation::Jobs => {
            init_logging();
            if let Ok(Some(l)) = hosts::load() {
                println!("{}", l.hosts.iter().map(|h| h.slots).sum::<u32>());
            }
            0
        }
        Invocation::Fail(code, msg) => {
            eprintln!("tinydcc: {msg}");
            code
        }
        Invocation::Compile(argv) => compile(argv),
    }
}

/// Entry point when a symlink named like a compiler points at us.
pub fn main_masquerade(name: &str, args: Vec<String>) -> i32 {
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(name.to_string());
    argv.extend(args);
    compile(argv)
}

const HELP: &str = "\
Usage: tinydcc [COMPILER] [compile options] -o OBJECT -c SOURCE
       tinydcc --show-hosts | -j | --check | --help | --version
       tinydcc --daemon [distccd options]

Distributes C/C++ compiles to the hosts in $DISTCC_HOSTS, $DISTCC_DIR/hosts
(~/.distcc/hosts) or /etc/distcc/hosts, like distcc. Compiles that cannot be
distributed, and jobs whose hosts fail, run locally.
";

/// Run one compiler command, remotely if possible.
pub fn compile(argv: Vec<String>) -> i32 {
    init_logging();
    let level = invoke::bump_safeguard();
    let timeout = match io_timeout() {
        Ok(t) => t,
        Err(code) => return code,
    };
    if argv[0].starts_with('-') {
        log::error!("unrecognized distcc option: {}", argv[0]);
        return EXIT_BAD_ARGUMENTS;
    }
    let Some(real) = invoke::resolve_compiler(&argv[0]) else {
        log::error!("compiler '{}' not found on PATH", argv[0]);
        return EXIT_COMPILER_MISSING;
    };
    let mut local_argv = argv.clone();
    local_argv[0] = real.to_string_lossy().into_owned();
    if level > 0 {
        // We called ourselves through a wrapper: compile here, do not recurse.
        return local::run(&local_argv);
    }
    let scan = match args::scan(&argv) {
        Ok(s) => s,
        Err(why) => {
            log::debug!("{why:?}; running locally");
            return local::run(&local_argv);
        }
    };
    let list = match hosts::load() {
        Ok(Some(l)) => l,
        Ok(None) => {
            log::warn!("no hostlist is set; can't distribute work");
            return local::run(&local_argv);
        }
        Err(e) => {
            log::error!("{e}");
            if !env_bool("DISTCC_FALLBACK", true) {
                return EXIT_BAD_HOSTSPEC;
            }
            return local::run(&local_argv);
        }
    };
    for w in &list.warnings {
        log::warn!("{w}");
    }
    let candidates: Vec<&Host> = list.hosts.iter().filter(|h| !h.down).collect();
    if candidates.first().is_none_or(|h| h.is_local()) {
        return local::run(&local_argv);
    }
    distribute(&scan, &local_argv, &candidates, timeout)
}

/// The preprocessor command: distcc's `-E` form, plus an explicit dependency
/// file and target when `-MD`/`-MMD` would otherwise name them after the
/// (removed) `-o`.
fn cpp_command(scan: &args::Scan, real: &str) -> Vec<String> {
    let mut v = args::cpp_argv(scan);
    v[0] = real.to_string();
    let has = |p: &str| scan.argv.iter().any(|a| a.starts_with(p));
    if scan.argv.iter().any(|a| a == "-MD" || a == "-MMD") {
        if !has("-MF") {
            let stem = match scan.output.rfind('.') {
                Some(i) if !scan.output[i..].contains('/') => &scan.output[..i],
                _ => &scan.output,
            };
            v.push("-MF".into());
            v.push(format!("{stem}.d"));
        }
        if !has("-MT") && !has("-MQ") {
            v.push("-MT".into());
            v.push(scan.output.clone());
        }
    }
    v
}

fn wait_status_code(status: u32) -> (Option<i32>, Option<i32>) {
    let s = status as i32;
    if libc::WIFEXITED(s) {
        (Some(libc::WEXITSTATUS(s)), None)
    } else if libc::WIFSIGNALED(s) {
        (None, Some(libc::WTERMSIG(s)))
    } else {
        (None, None)
    }
}

fn emit(stdout: &[u8], stderr: &[u8]) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(stderr);
}

fn distribute(scan: &args::Scan, local_argv: &[String], hosts: &[&Host], timeout: Duration) -> i32 {
    let fallback = env_bool("DISTCC_FALLBACK", true);
    let preprocessed = args::is_preprocessed(&scan.input);
    let mut source = if preprocessed {
        match std::fs::read(&scan.input) {
            Ok(d) => Source::Ready(d),
            Err(e) => {
                log::error!("failed to read {}: {e}", scan.input);
                return local::run(local_argv);
            }
        }
    } else {
        match cpp::Cpp::start(&cpp_command(scan, &local_argv[0])) {
            Ok(c) => Source::Running(c),
            Err(e) => {
                log::error!("failed to start preprocessor {}: {e}", local_argv[0]);
                return EXIT_COMPILER_MISSING;
            }
        }
    };
    let server_argv = if preprocessed {
        scan.argv.clone()
    } else {
        args::strip_local_args(&scan.argv)
    };
    let mut last_host = String::new();
    for host in hosts {
        if host.is_local() {
            break;
        }
        let (name, port) = match &host.mode {
            Mode::Tcp { host, port } => (host.as_str(), *port),
            Mode::Ssh { host, .. } => {
                log::warn!("ssh host {host} is not supported yet; skipped");
                continue;
            }
            Mode::Local => unreachable!(),
        };
        last_host = host.spec.clone();
        // Pump (v3) needs the include server; until then such hosts get v2.
        let version = host.protocol().min(2);
        let mut conn = match remote::connect(name, port, timeout) {
            Ok(c) => c,
            Err(f) => {
                log::warn!("{f}");
                continue;
            }
        };
        log::debug!("sending {} to {}", scan.input, host.spec);
        match remote::run_job(&mut conn, version, &server_argv, &mut source) {
            Outcome::Cpp(c) => return c.0,
            Outcome::Failed(f) => {
                log::warn!("failed to distribute {} to {}: {f}", scan.input, host.spec);
                continue;
            }
            Outcome::Reply(r) => {
                let (code, _sig) = wait_status_code(r.status);
                if r.status == 0 {
                    if let Err(e) = output::write_atomic(Path::new(&scan.output), &r.object) {
                        log::error!("failed to write {}: {e}", scan.output);
                        return EXIT_IO_ERROR;
                    }
                    emit(&r.stdout, &r.stderr);
                    return 0;
                }
                match code {
                    Some(c @ 1..=127) if std::env::var_os("DISTCC_SKIP_LOCAL_RETRY").is_some() => {
                        emit(&r.stdout, &r.stderr);
                        return c;
                    }
                    Some(c @ 1..=127) if !fallback => {
                        emit(&r.stdout, &r.stderr);
                        return c;
                    }
                    Some(1..=127) => {
                        // The local run prints the compiler's own diagnostics (with
                        // source excerpts the server cannot show); saying more
                        // would make them differ from a local build's.
                        log::debug!(
                            "remote compilation of '{}' failed, retrying locally",
                            scan.input
                        );
                        return local::run(local_argv);
                    }
                    _ => {
                        log::warn!(
                            "compile of {} on {} ended with status {:#x}",
                            scan.input,
                            host.spec,
                            r.status
                        );
                        if !fallback {
                            emit(&r.stdout, &r.stderr);
                        }
                        break;
                    }
                }
            }
        }
    }
    // Reap cpp before running the compiler again, so no stray process is left.
    if let Source::Running(_) = source {
        let _ = source.get();
    }
    if !fallback {
        log::error!("failed to distribute and fallbacks are disabled");
        return EXIT_DISTCC_FAILED;
    }
    log::warn!(
        "failed to distribute {} to {}, running locally instead",
        scan.input,
        if last_host.is_empty() {
            "any host"
        } else {
            &last_host
        }
    );
    local::run(local_argv)
}
