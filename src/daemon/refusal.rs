//! Why a request is not run, and the reply that tells the client so. Its
//! own module so that the job machine, the spawner and the feed can all
//! name it without importing each other.

use crate::protocol::reply::Reply;
use crate::protocol::status::WaitStatus;
use crate::protocol::Features;

/// Why a request is not run: a distcc exit code and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: i32,
    pub why: String,
}

/// A reply for a job that was refused or could not start.
pub fn refusal_reply(features: Features, r: &Refusal) -> Reply {
    Reply {
        stderr: format!("distccd: job refused: {}\n", r.why).into_bytes(),
        ..Reply::new(features, WaitStatus::exited(r.code))
    }
}

/// What a busy answer's reason starts with: a tinydcc client that sees it
/// with `EXIT_BUSY` tries another host without backing this one off. A
/// stock client sees a remote failure and compiles locally.
pub const BUSY: &str = "busy: ";

/// The host cannot take the job now (memory): try elsewhere.
pub fn busy(why: &str) -> Refusal {
    Refusal {
        code: crate::exitcode::EXIT_BUSY,
        why: format!("{BUSY}{why}"),
    }
}

/// Is a reply with this exit code and stderr a busy answer?
pub fn is_busy(code: Option<i32>, stderr: &[u8]) -> bool {
    code == Some(crate::exitcode::EXIT_BUSY)
        && stderr.starts_with(format!("distccd: job refused: {BUSY}").as_bytes())
}
