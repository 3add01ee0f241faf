//! One plain-mode job over an open stream (protocols 1 and 2): send the
//! header while cpp still runs, then the preprocessed text, then read the
//! reply. Blocking I/O with distcc's timeouts; the client is one job.
//! Pump mode (protocol 3) will add its own `send` beside this one; the
//! reply format is shared.

use std::io::{Read, Write};
use std::time::Duration;

use crate::protocol::access_denied::{self, Denied};
use crate::protocol::token::TOKEN_LEN;
use crate::protocol::{reply, request, Features, Limits, ProtoError};

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
                Ok((_, st)) => return Err(CppFailed(crate::exitcode::of_status(st))),
                Err(e) => {
                    log::error!("failed to run preprocessor: {}", crate::errtext::reason(&e));
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
    /// Pump, store form: the host did not answer the manifest (it is a
    /// stock distccd now).
    NoStore(ProtoError),
}

/// DIST/ARGC/ARGV now, DOTI once cpp is done. The socket stays fully open
/// afterwards: distccd kills the job when it sees EOF.
pub fn send<S: Write>(
    conn: &mut S,
    features: Features,
    argv: &[std::ffi::OsString],
    source: &mut Source,
) -> Result<(), SendError> {
    let header = request::encode_header(features, None, argv);
    conn.write_all(&header)
        .map_err(|e| SendError::Io(e.into()))?;
    let text = source.get().map_err(SendError::Cpp)?;
    let doti = request::encode_doti(features, text).map_err(SendError::Io)?;
    conn.write_all(&doti)
        .and_then(|_| conn.flush())
        .map_err(|e| SendError::Io(e.into()))
}

/// Read the reply. A success with an empty object is a failed job, never a
/// 0-byte `.o`: no compile of a source produces an empty object, but a
/// server whose compiler wrote nothing (or an unreadable file) may say so.
pub fn receive<S: Read>(conn: &mut S, features: Features) -> Result<reply::Reply, ProtoError> {
    let r = reply::read(conn, features, &Limits::default())?;
    if r.status.success() && r.object.is_empty() {
        return Err(ProtoError::EmptyObject);
    }
    Ok(r)
}

/// Sending failed: was it because the daemon refused us? It sends its
/// refusal line at once and may close before reading the whole request;
/// the line stays readable after the reset that causes.
pub fn refusal_after_send_error(conn: &mut super::transport::Conn) -> Option<Denied> {
    // Only TCP peers are refused: ssh connections are trusted.
    let super::transport::Conn::Tcp(s) = conn else {
        return None;
    };
    // Whatever the daemon sent is already here.
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut head = [0u8; TOKEN_LEN];
    s.read_exact(&mut head).ok()?;
    if !access_denied::may_start(&head) {
        return None;
    }
    access_denied::read_rest(&head, s)
}
