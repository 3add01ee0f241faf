//! Talking to one daemon: connect, send the request while cpp runs, read the
//! reply. Blocking I/O with distcc's timeouts; the client is one job.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::protocol::{reply, request, Limits, ProtoError};

use super::cpp::Cpp;

/// distcc's connect timeout (src/clinet.c).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// The preprocessed source: still being produced by cpp, or ready.
pub enum Source {
    Running(Cpp),
    Ready(Vec<u8>),
}

/// cpp itself failed: its diagnostics are already on stderr.
pub struct CppFailed(pub i32);

impl Source {
    pub fn get(&mut self) -> Result<&[u8], CppFailed> {
        if let Source::Running(_) = self {
            let Source::Running(cpp) = std::mem::replace(self, Source::Ready(Vec::new())) else {
                unreachable!()
            };
            match cpp.finish() {
                Ok((out, st)) if st.success() => *self = Source::Ready(out),
                Ok((_, st)) => return Err(CppFailed(super::local::exit_code(st))),
                Err(e) => {
                    log::error!("failed to run preprocessor: {e}");
                    return Err(CppFailed(crate::exitcode::EXIT_DISTCC_FAILED));
                }
            }
        }
        match self {
            Source::Ready(v) => Ok(v),
            Source::Running(_) => unreachable!(),
        }
    }
}

#[derive(Debug)]
pub enum Failure {
    Connect(String),
    Protocol(ProtoError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(m) => write!(f, "{m}"),
            Failure::Protocol(e) => write!(f, "{e}"),
        }
    }
}

pub enum Outcome {
    Reply(reply::Reply),
    Failed(Failure),
    Cpp(CppFailed),
}

pub fn connect(host: &str, port: u16, io_timeout: Duration) -> Result<TcpStream, Failure> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Connect(format!("failed to look up {host}: {e}")))?
        .collect();
    let mut last = format!("{host} has no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                // One request, written in two pieces: no Nagle delay between them.
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(io_timeout));
                let _ = s.set_write_timeout(Some(io_timeout));
                return Ok(s);
            }
            Err(e) => last = format!("failed to connect to {a}: {e}"),
        }
    }
    Err(Failure::Connect(last))
}

/// Send one plain-mode job over `conn` and read the reply.
pub fn run_job<S: std::io::Read + Write>(
    conn: &mut S,
    version: u32,
    argv: &[String],
    source: &mut Source,
) -> Outcome {
    let header = request::encode_header(version, None, argv);
    if let Err(e) = conn.write_all(&header) {
        return Outcome::Failed(Failure::Protocol(e.into()));
    }
    let text = match source.get() {
        Ok(t) => t,
        Err(c) => return Outcome::Cpp(c),
    };
    let doti = match request::encode_doti(version, text) {
        Ok(d) => d,
        Err(e) => return Outcome::Failed(Failure::Protocol(e)),
    };
    if let Err(e) = conn.write_all(&doti).and_then(|_| conn.flush()) {
        return Outcome::Failed(Failure::Protocol(e.into()));
    }
    drop(doti);
    // Keep the socket fully open: distccd kills the job when it sees EOF.
    match reply::read(conn, version, &Limits::default()) {
        Ok(r) => Outcome::Reply(r),
        Err(e) => Outcome::Failed(Failure::Protocol(e)),
    }
}
