//! `pump COMMAND…` / `tinydcc --pump COMMAND…`: start an include server on
//! a private Unix socket, run the build with `INCLUDE_SERVER_PORT` set (so
//! both our client and stock distcc use it), stop the server, and say how
//! many compiles went out with their headers and how many were preprocessed
//! locally, and why.

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;

use crate::exitcode::*;
use crate::hosts;

use super::include_server;
use super::session::Session;

const USAGE: &str = "\
Usage: pump COMMAND [ARGS...]      (also: tinydcc --pump COMMAND...)
       eval `pump --startup`; ...; pump --shutdown

Runs COMMAND (usually make -jN CC=tinydcc) with an include server, so that
hosts marked ,cpp,lzo receive sources with their headers and preprocess
them themselves.
";

/// The summary line, from the include server's query log and the clients'
/// fallback log (`before`/`after` the server listed the files: see
/// `client::pump::note_fallback`).
pub(crate) fn summary(session: &Session) -> String {
    let t = session.tally();
    let mut s = format!(
        "pump: {} compile(s) sent with their headers, {} preprocessed locally",
        t.listed.saturating_sub(t.after_listing),
        t.gave_up.len() + t.fell_back.len()
    );
    if let Some(first) = t.gave_up.first() {
        s.push_str(&format!(
            "; {} because the include scan was not sure (first: {first})",
            t.gave_up.len()
        ));
    }
    if let Some(first) = t.fell_back.first() {
        s.push_str(&format!(
            "; {} for other reasons (first: {first})",
            t.fell_back.len()
        ));
    }
    s
}

/// Fork the include server. `detach`: it outlives this process
/// (`--startup`), so it lets go of stdin, stdout and stderr, or
/// `eval \`pump --startup\`` would wait for its output to end.
fn start_server(session: &Session, detach: bool) -> Result<(nix::unistd::Pid, PathBuf), String> {
    let socket = session.socket();
    let listener = UnixListener::bind(&socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let null = if detach {
        Some(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|e| format!("/dev/null: {e}"))?,
        )
    } else {
        None
    };
    // Single-threaded here; the child only serves and exits.
    match crate::sys::fork().map_err(|e| format!("fork: {e}"))? {
        crate::sys::ForkResult::Parent { child } => Ok((child, socket)),
        crate::sys::ForkResult::Child => {
            if let Some(n) = null {
                use std::os::unix::io::AsRawFd;
                for fd in 0..=2 {
                    let _ = nix::unistd::dup2(n.as_raw_fd(), fd);
                }
            }
            std::process::exit(include_server::serve(listener, session));
        }
    }
}

fn stop_server(pid: nix::unistd::Pid, session: &Session) {
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    if nix::sys::wait::waitpid(pid, None).is_err() {
        // Started by `--startup` in another process: not ours to reap, so
        // wait (a few seconds at most) until it is gone or a zombie before
        // removing the files it may still be writing.
        for _ in 0..100 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            match stat.rsplit(") ").next().and_then(|r| r.chars().next()) {
                None | Some('Z') | Some('X') => break,
                _ => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }
    if let Some(top) = session.mirror() {
        use std::os::unix::ffi::OsStrExt;
        if top
            .as_os_str()
            .as_bytes()
            .windows(14)
            .any(|w| w == b"include_server")
        {
            let _ = std::fs::remove_dir_all(top);
        }
    }
}

/// Pump needs at least one `,cpp` host, as with distcc's pump script.
fn check_hosts() -> Result<(), String> {
    match hosts::load() {
        Ok(Some(l)) if l.hosts.iter().any(|h| h.cpp) => Ok(()),
        Ok(_) => Err(
            "pump mode requested, but distcc hosts list does not contain any hosts with ',cpp' option"
                .into(),
        ),
        Err(e) => Err(e.to_string()),
    }
}

/// `args`: `--startup`, `--shutdown`, or the command to run under the
/// include server (bytes as given: it is executed).
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    crate::logging::init(
        "pump",
        crate::logging::Target::Stderr,
        log::LevelFilter::Warn,
    );
    match args.first().map(|a| a.to_str()) {
        None | Some(Some("--help")) | Some(Some("-h")) => {
            print!("{USAGE}");
            return if args.is_empty() {
                EXIT_BAD_ARGUMENTS
            } else {
                0
            };
        }
        Some(Some("--shutdown")) => {
            let pid = std::env::var("INCLUDE_SERVER_PID")
                .ok()
                .and_then(|p| p.parse::<i32>().ok());
            let dir = std::env::var_os("INCLUDE_SERVER_DIR").map(PathBuf::from);
            let (Some(pid), Some(dir)) = (pid, dir) else {
                eprintln!("pump --shutdown: INCLUDE_SERVER_PID and INCLUDE_SERVER_DIR are not set");
                return 1;
            };
            let session = Session::new(&dir);
            stop_server(nix::unistd::Pid::from_raw(pid), &session);
            eprintln!("{}", summary(&session));
            let _ = std::fs::remove_dir_all(&dir);
            return 0;
        }
        _ => {}
    }
    if let Err(e) = check_hosts() {
        eprintln!("pump: {e}");
        return 1;
    }
    let dir = match crate::paths::make_temp_dir(&crate::paths::tmpdir(), "distcc-pump.") {
        Ok(d) => d,
        Err(e) => {
            eprintln!("pump: cannot create a temp dir: {e}");
            return EXIT_IO_ERROR;
        }
    };
    let session = Session::new(&dir);
    let (pid, socket) = match start_server(&session, args[0] == "--startup") {
        Ok(x) => x,
        Err(e) => {
            eprintln!("pump: cannot start the include server: {e}");
            let _ = std::fs::remove_dir_all(&dir);
            return EXIT_DISTCC_FAILED;
        }
    };
    if args[0] == "--startup" {
        println!("export INCLUDE_SERVER_PID='{pid}'");
        println!("export INCLUDE_SERVER_DIR='{}'", dir.display());
        println!("export INCLUDE_SERVER_PORT='{}'", socket.display());
        return 0;
    }
    let status = Command::new(&args[0])
        .args(&args[1..])
        .env("INCLUDE_SERVER_PORT", &socket)
        .env("INCLUDE_SERVER_DIR", &dir)
        .env("INCLUDE_SERVER_PID", pid.to_string())
        .status();
    stop_server(pid, &session);
    eprintln!("{}", summary(&session));
    let _ = std::fs::remove_dir_all(&dir);
    match status {
        Ok(s) => crate::exitcode::of_status(s),
        Err(e) => {
            eprintln!("pump: cannot run {}: {e}", args[0].to_string_lossy());
            127
        }
    }
}
