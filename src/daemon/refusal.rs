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
