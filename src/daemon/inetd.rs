//! `--inetd`: serve exactly one job on stdin/stdout (inetd, or a client's
//! ssh connection running `distccd --inetd`). Blocking I/O: one job, no loop.

use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::io::FromRawFd;
use std::time::Instant;

use crate::exitcode::*;
use crate::protocol::request::RequestDecoder;
use crate::protocol::status::{JobResult, JobSummary};
use crate::protocol::{reply, Features, Limits};

use super::access::{self, Cidr};
use super::job;
use super::whitelist::Policy;

/// stdin as a socket, borrowed: never closed.
fn stdin_socket() -> ManuallyDrop<TcpStream> {
    // SAFETY: fd 0 stays open for the whole process; ManuallyDrop never
    // closes it.
    ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(0) })
}

/// The peer of stdin, when stdin is a TCP socket (inetd), else None (a pipe).
fn stdin_peer() -> Option<SocketAddr> {
    stdin_socket().peer_addr().ok().map(access::unmapped)
}

/// Send a client outside the access list its refusal line, then read and
/// drop what it still sends (bounded), so closing does not reset the
/// connection before it has read the line. Blocking: this process serves
/// only this client.
fn refuse(peer: SocketAddr) {
    let mut s = stdin_socket();
    let line = access::refusal_line(s.local_addr(), peer);
    let _ = s.set_write_timeout(Some(access::REFUSED_LINGER));
    if s.write_all(&line).is_err() || s.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + access::REFUSED_LINGER;
    let mut chunk = [0u8; 64 * 1024];
    let mut drained = 0;
    while drained <= access::REFUSED_DRAIN {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// True when stdin is a socket: distccd then defaults to inetd mode.
pub fn stdin_is_socket() -> bool {
    nix::sys::stat::fstat(0)
        .map(|st| (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK)
        .unwrap_or(false)
}

/// Serve one connection. A TCP peer must be in `allow` (an empty list
/// refuses it, as in daemon mode); pipes (a client's ssh) are trusted, as
/// with distccd.
pub fn serve(allow: &[Cidr], policy: &Policy, tmp: &std::path::Path, sandbox: Option<u32>) -> i32 {
    let peer = stdin_peer();
    if let Some(p) = peer {
        if !access::allowed(allow, p.ip()) {
            log::warn!("connection from {p} denied by access list");
            refuse(p);
            return EXIT_ACCESS_DENIED;
        }
    }
    let who = peer
        .map(|p| p.to_string())
        .unwrap_or_else(|| "stdin".into());
    // SAFETY: fds 0 and 1 belong to this process for its whole life; the
    // Files are leaked (never closed) on purpose below.
    let mut input = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(0) });
    let mut output = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let mut dec = RequestDecoder::new(Limits::default());
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut job = None;
    while !dec.is_done() {
        let n = match input.read(&mut chunk) {
            Ok(0) if dec.awaiting_source() && buf.is_empty() => {
                log::debug!("client {who}: {}", super::server::NO_SOURCE);
                return EXIT_TRUNCATED;
            }
            Ok(0) => {
                log::warn!("client {who}: connection closed before the request was complete");
                return EXIT_TRUNCATED;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("client {who}: read failed: {}", crate::errtext::reason(&e));
                return EXIT_IO_ERROR;
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let used = match dec.feed(&buf) {
                Ok(u) => u,
                Err(e) => {
                    log::warn!("client {who}: {e}; dropping connection");
                    return e.exit_code();
                }
            };
            buf.drain(..used);
            if job.is_none() && dec.argv_complete() {
                job = Some(job::prepare(&mut dec, policy, tmp, false));
                continue;
            }
            if used == 0 || dec.is_done() {
                break;
            }
        }
    }
    drop(chunk);
    let features = dec.features().unwrap_or(Features::PLAIN);
    if let Some(Ok(p)) = &mut job {
        if features.cpp_on_server() {
            if let Err(r) = p.receive_files(dec.take()) {
                job = Some(Err(r));
            }
        }
    }
    let (r, summary, code) = match job {
        None => return EXIT_PROTOCOL_ERROR,
        Some(Err(r)) => {
            log::warn!("client {who}: refused: {}", r.why);
            let s = JobSummary::faked(&who, JobResult::RejBadReq, r.code, 0);
            (job::refusal_reply(features, &r), s, r.code)
        }
        Some(Ok(p)) => {
            let (compiler, input_name) = (p.plan.compiler(), p.plan.input.clone());
            match job::spawn(p, sandbox, Limits::default().max_decompressed, true) {
                Ok(mut running) => {
                    let st = match running.child.wait() {
                        Ok(st) => st,
                        Err(e) => {
                            log::error!("cannot collect compiler: {}", crate::errtext::reason(&e));
                            job::abort(running);
                            return EXIT_DISTCC_FAILED;
                        }
                    };
                    let ms = running.started.elapsed().as_millis();
                    let mut summary = job::summary(&who, &running, st, ms);
                    let (reply, no_object) = job::finish(running, st).into_reply();
                    if let Some(why) = no_object {
                        log::warn!(
                            "client {who}: {compiler} {input_name}: {why}; answered as a failure"
                        );
                        summary = job::no_object_summary(&who, &compiler, &input_name, ms);
                    }
                    (reply, summary, 0)
                }
                Err(r) => {
                    let s = JobSummary::faked(&who, JobResult::Other, r.code, 0)
                        .job(&compiler, &input_name);
                    (job::refusal_reply(features, &r), s, r.code)
                }
            }
        }
    };
    let wire = match reply::encode(&r) {
        Ok(w) => w,
        Err(e) => {
            log::error!("cannot encode reply: {e}");
            return EXIT_PROTOCOL_ERROR;
        }
    };
    if let Err(e) = output.write_all(&wire).and_then(|_| output.flush()) {
        log::warn!("client {who}: write failed: {}", crate::errtext::reason(&e));
        return EXIT_IO_ERROR;
    }
    log::info!("{summary}");
    code
}
