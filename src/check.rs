//! `tinydcc --check`: compile the seed's hello-distcc program through every
//! configured host and compare each object with a local compile. With no
//! host configured anywhere, a private daemon on 127.0.0.1 is checked, so
//! the command proves a bare machine works too.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::exitcode::*;
use crate::hosts;

pub const HELLO: &str =
    "#include <stdio.h>\n\nint main(void)\n{\n\tprintf(\"Hello distcc\\n\");\n\treturn 0;\n}\n";

/// A daemon in a child process, serving 127.0.0.1 on an ephemeral port.
struct PrivateDaemon {
    pid: nix::unistd::Pid,
    port: u16,
}

impl PrivateDaemon {
    fn start() -> Result<PrivateDaemon, String> {
        use nix::unistd::{fork, ForkResult};
        let addr = "127.0.0.1".parse().ok();
        let listener = crate::daemon::bind(addr, 0).map_err(|e| format!("cannot listen: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // SAFETY: single-threaded; the child runs the event loop and exits.
        match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
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
                    crate::daemon::server::Server::new(listener, None, cfg)
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

/// Run our own client on `argv` in `dir` with `DISTCC_HOSTS=spec`: in a
/// forked child, not by executing our binary again, because that binary may
/// not be executable by path (the ARM build under qemu-user without
/// binfmt_misc, or a file replaced by an upgrade). Returns the exit code
/// and everything the client wrote.
fn run_client(dir: &Path, spec: &str, argv: &[&str]) -> Result<(i32, String), String> {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, pipe, ForkResult};
    use std::io::Read;
    use std::os::unix::io::AsRawFd;
    let (r, w) = pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: --check is single-threaded; the child only sets its own
    // environment, runs the client and exits.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(r);
            // SAFETY: dup2 onto the standard descriptors of this child.
            unsafe {
                libc::dup2(w.as_raw_fd(), 1);
                libc::dup2(w.as_raw_fd(), 2);
            }
            drop(w);
            std::env::set_var("DISTCC_HOSTS", spec);
            std::env::set_var("DISTCC_FALLBACK", "0");
            std::env::set_var("DISTCC_BACKOFF_PERIOD", "0");
            let code = match std::env::set_current_dir(dir) {
                Ok(()) => {
                    crate::client::main_explicit(argv.iter().map(|a| a.to_string()).collect())
                }
                Err(_) => EXIT_IO_ERROR,
            };
            std::process::exit(code);
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut out = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut out);
            let code = match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, c)) => c,
                Ok(_) => EXIT_DISTCC_FAILED,
                Err(e) => return Err(format!("waitpid: {e}")),
            };
            Ok((code, out))
        }
    }
}

/// Compile hello through `spec` with our own client; Ok(ms) if the object
/// matches `reference`.
fn check_host(dir: &Path, spec: &str, n: usize, reference: &[u8]) -> Result<u128, String> {
    let obj = format!("hello_{n}.o");
    let t = Instant::now();
    let (code, err) = run_client(dir, spec, &[compiler(), "-c", "hello_distcc.c", "-o", &obj])?;
    let ms = t.elapsed().as_millis();
    if code != 0 {
        // The first warning names the cause (refused, timed out, refused job).
        let why = err
            .lines()
            .find(|l| l.contains("WARNING"))
            .or_else(|| err.lines().last())
            .unwrap_or("compile failed");
        return Err(why
            .split_once("WARNING: ")
            .map(|(_, m)| m)
            .unwrap_or(why)
            .to_string());
    }
    let got = std::fs::read(dir.join(&obj)).map_err(|e| format!("no object: {e}"))?;
    if got != reference {
        return Err("object differs from a local compile".into());
    }
    Ok(ms)
}

pub fn main(_args: Vec<String>) -> i32 {
    crate::logging::init(
        "tinydcc",
        crate::logging::Target::Stderr,
        log::LevelFilter::Warn,
    );
    let (specs, daemon) = match hosts::load() {
        Ok(Some(l)) => (
            l.hosts.iter().map(|h| h.spec.clone()).collect::<Vec<_>>(),
            None,
        ),
        Ok(None) => match PrivateDaemon::start() {
            Ok(d) => {
                println!(
                    "no hosts configured: checking a private daemon on 127.0.0.1:{}",
                    d.port
                );
                (vec![format!("127.0.0.1:{}", d.port)], Some(d))
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
    let result = (|| {
        std::fs::write(dir.join("hello_distcc.c"), HELLO).map_err(|e| e.to_string())?;
        let st = Command::new(compiler())
            .args(["-c", "hello_distcc.c", "-o", "local.o"])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", compiler()))?;
        if !st.success() {
            return Err(format!(
                "local {} cannot compile hello_distcc.c",
                compiler()
            ));
        }
        std::fs::read(dir.join("local.o")).map_err(|e| e.to_string())
    })();
    let reference = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tinydcc --check: {e}");
            let _ = std::fs::remove_dir_all(&dir);
            return EXIT_COMPILER_MISSING;
        }
    };
    let mut failed = 0;
    for (i, spec) in specs.iter().enumerate() {
        match check_host(&dir, spec, i, &reference) {
            Ok(ms) => println!("OK    {spec:<30} {ms:>5} ms"),
            Err(e) => {
                failed += 1;
                println!("FAIL  {spec:<30} {e}");
            }
        }
    }
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
    if failed > 0 {
        println!("{failed} of {} host(s) failed", specs.len());
        EXIT_DISTCC_FAILED
    } else {
        0
    }
}
