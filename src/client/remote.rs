//! One plain-mode job over an open stream (protocols 1 and 2): send the
//! header while cpp still runs, then the preprocessed text, then read the
//! reply. Blocking I/O with distcc's timeouts; the client is one job.
//! Pump mode (protocol 3) will add its own `send` beside this one; the
//! reply format is shared.

use std::io::{Read, Write};

use crate::protocol::{reply, request, Limits, ProtoError};

use super::cpp::Cpp;

/// The preprocessed source: still being produced by cpp, or ready.
pub enum Source {
    Running(Cpp),
    Ready(Vec<u8>),
}

/// cpp itself failed: its diagnostics are already on stderr.
pub struct CppFailed(pub i32);

impl Source {
    /// Wait for cpp (once) and return the text.
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

pub enum SendError {
    Cpp(CppFailed),
    Io(ProtoError),
    /// Pump: a file the include server listed could not be read here.
    Listed(String),
}

/// DIST/ARGC/ARGV now, DOTI once cpp is done. The socket stays fully open
/// afterwards: distccd kills the job when it sees EOF.
pub fn send<S: Write>(
    conn: &mut S,
    version: u32,
    argv: &[std::ffi::OsString],
    source: &mut Source,
) -> Result<(), SendError> {
    let header = request::encode_header(version, None, argv);
    conn.write_all(&header)
        .map_err(|e| SendError::Io(e.into()))?;
    let text = source.get().map_err(SendError::Cpp)?;
    let doti = request::encode_doti(version, text).map_err(SendError::Io)?;
    conn.write_all(&doti)
        .and_then(|_| conn.flush())
        .map_err(|e| SendError::Io(e.into()))
}

pub fn receive<S: Read>(conn: &mut S, version: u32) -> Result<reply::Reply, ProtoError> {
    reply::read(conn, version, &Limits::default())
}

/// Exit code and signal of a raw wait status from STAT.
pub fn wait_status(status: u32) -> (Option<i32>, Option<i32>) {
    let s = status as i32;
    if libc::WIFEXITED(s) {
        (Some(libc::WEXITSTATUS(s)), None)
    } else if libc::WIFSIGNALED(s) {
        (None, Some(libc::WTERMSIG(s)))
    } else {
        (None, None)
    }
}
