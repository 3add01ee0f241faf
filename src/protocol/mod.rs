//! distcc's wire protocol, versions 1 (plain), 2 (LZO) and 3 (pump).
//! `token` is the 12-byte header codec, `request` the client→server stream,
//! `reply` the server→client stream, `lzo` the payload compression.
//! `features` says what a version number means, `status` holds the STAT
//! wait status and distccd's job summary line, `store_form` tinydcc's
//! header-store additions to protocol 3 (doc/header-store.md).
//! Every length from the wire is checked against `Limits` before it is used.

pub(crate) mod access_denied;
pub mod features;
pub(crate) mod include;
pub mod lzo;
pub mod reply;
pub mod request;
pub mod status;
pub mod store_form;
pub mod token;

use std::fmt;

pub use features::Features;

/// Highest protocol version we speak (3 = pump).
pub(crate) const MAX_VERSION: u32 = 3;

/// Upper bounds on what a peer may make us hold in memory.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_argc: u32,
    pub max_arg_len: u32,
    pub max_argv_total: usize,
    /// Largest payload on the wire (DOTI, DOTO, FILE, SERR, ...).
    pub max_payload: u32,
    /// Largest payload after LZO decompression.
    pub max_decompressed: usize,
    /// Longest path (CDIR, NAME, LINK), as distcc's MAXPATHLEN.
    pub max_path: u32,
    /// Most files in one pump request.
    pub max_files: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Linux allows 128 KiB per argument and about 2 MiB of argv in all.
            max_argc: 65_536,
            max_arg_len: 128 * 1024,
            max_argv_total: 4 * 1024 * 1024,
            // A preprocessed C++ TU can reach tens of MB; 512 MiB is far past
            // that and still below what a 32-bit board can address.
            max_payload: 512 * 1024 * 1024,
            max_decompressed: 512 * 1024 * 1024,
            max_path: 4096,
            max_files: 100_000,
        }
    }
}

#[derive(Debug)]
pub enum ProtoError {
    Truncated,
    BadHex(String),
    UnexpectedToken {
        expected: &'static str,
        got: String,
    },
    TooLarge {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    BadVersion(u32),
    Lzo(&'static str),
    Io(std::io::Error),
    /// The daemon's access list does not include us (its refusal line).
    AccessDenied(access_denied::Denied),
    /// A reply that says success but carries no object: never installed.
    EmptyObject,
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::Truncated => write!(f, "connection closed in the middle of a message"),
            ProtoError::BadHex(t) => write!(f, "bad token '{t}': parameter is not 8 hex digits"),
            ProtoError::UnexpectedToken { expected, got } => {
                write!(f, "protocol derailment: expected {expected}, got '{got}'")
            }
            ProtoError::TooLarge { what, len, limit } => {
                write!(f, "{what} of {len} exceeds the limit of {limit}")
            }
            ProtoError::BadVersion(v) => write!(f, "can't handle requested protocol version {v}"),
            ProtoError::Lzo(why) => write!(f, "bad LZO data: {why}"),
            ProtoError::Io(e) => f.write_str(&crate::errtext::reason(e)),
            ProtoError::AccessDenied(d) => write!(f, "{d}"),
            ProtoError::EmptyObject => {
                write!(
                    f,
                    "the server reported success but sent an empty object file"
                )
            }
        }
    }
}

impl std::error::Error for ProtoError {}

impl From<std::io::Error> for ProtoError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ProtoError::Truncated
        } else {
            ProtoError::Io(e)
        }
    }
}

impl ProtoError {
    /// The distcc exit code that matches this failure.
    pub fn exit_code(&self) -> i32 {
        use crate::exitcode::*;
        match self {
            ProtoError::Truncated => EXIT_TRUNCATED,
            ProtoError::Io(_) => EXIT_IO_ERROR,
            ProtoError::AccessDenied(_) => EXIT_ACCESS_DENIED,
            _ => EXIT_PROTOCOL_ERROR,
        }
    }
}

fn check_len(what: &'static str, len: u32, limit: u64) -> Result<usize, ProtoError> {
    if len as u64 > limit {
        return Err(ProtoError::TooLarge {
            what,
            len: len as u64,
            limit,
        });
    }
    Ok(len as usize)
}
