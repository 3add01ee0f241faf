//! Stragglers: while a remote job runs, it is judged against its
//! prediction (measured choice). When it runs far past it, or a much
//! faster slot is free while it has long to go, the same request goes to
//! that slot too, and the first successful reply wins. Without
//! predictions (distcc's order), a job that has run `ORDER_AFTER` while a
//! host listed before its own idles is copied there: the tail of a build
//! no longer waits on a slow board while the x86 has nothing to do. The
//! other connection is dropped, so its daemon kills the compiler; only
//! the winner's reply reaches the output (written once, by the caller).
//! One copy at most.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use super::local_copy::LocalCopy;
use super::pick::Held;
use super::remote;
use super::speed::Meter;
use super::transport::Conn;
use crate::hosts::Host;
use crate::protocol::reply::Reply;
use crate::protocol::{Features, ProtoError};

/// How often a running job is looked at (besides its overdue moment).
const TICK: Duration = Duration::from_secs(1);
/// Without a prediction: how long a job runs before an idle host listed
/// before its own is looked for (a small unit on a board takes 0.4-0.7
/// s on the bed, on the x86 0.1), and how often then.
const ORDER_AFTER: f64 = 0.5;
const ORDER_TICK: Duration = Duration::from_millis(250);
/// How often a local copy is looked at (`waitpid`, no descriptor to poll).
const LOCAL_TICK: Duration = Duration::from_millis(50);

/// What a running job is judged by.
#[derive(Debug, Clone, Copy)]
pub enum Judge {
    /// When the slot was taken, and the job's predicted seconds there.
    Predicted(Instant, f64),
    /// Nothing predicted: copied when a faster-listed host idles.
    Order,
    /// No copies.
    Off,
}

/// The job's copy on a second host.
pub struct Copy<'h> {
    pub host: &'h Host,
    pub slot: Held,
    pub via: Via,
    pub started: Instant,
}

/// Where a copy runs.
pub enum Via {
    Remote {
        conn: Conn,
        features: Features,
        meter: Meter,
    },
    /// Here (`localhost`, distcc's order only), with the original's
    /// request features.
    Local(LocalCopy, Features),
}

impl Via {
    /// The copy's reply (a local copy's: what its compiler left).
    fn read(&mut self) -> Result<Reply, ProtoError> {
        match self {
            Via::Remote { conn, features, .. } => read(conn, *features),
            Via::Local(c, features) => c.finish(*features),
        }
    }

    /// Stop it: the daemon kills a remote compiler when its connection
    /// closes; a local one is killed when dropped.
    fn abandon(&mut self) {
        if let Via::Remote { conn, .. } = self {
            conn.abandon();
        }
    }
}

/// Which of the original (`conn`) and the copy has finished, waiting at
/// most `wait`: `ready` on both sockets, or on the original alone while
/// a local copy is looked at every 50 ms.
fn either(conn: &Conn, copy: &mut Via, wait: Duration) -> [bool; 2] {
    match copy {
        Via::Remote { conn: c, .. } => ready(&[Some(conn.reply_fd()), Some(c.reply_fd())], wait),
        Via::Local(c, _) => {
            let end = Instant::now() + wait;
            loop {
                let step = LOCAL_TICK.min(end.saturating_duration_since(Instant::now()));
                let first = ready(&[Some(conn.reply_fd()), None], step)[0];
                let second = c.done();
                if first || second || Instant::now() >= end {
                    return [first, second];
                }
            }
        }
    }
}

/// When a job that has run `ran` seconds of a predicted `pred` deserves a
/// copy: `Some(beat)` means a copy predicted to take less than `beat`
/// seconds is worth starting. Overdue (past twice its prediction, and 1.5
/// s past it): it needs about half as long again as it ran (as pick.rs
/// guesses for an overdue slot). On time: only a copy that would finish
/// well before it (twice as fast as what is left, and a second sooner).
pub fn due(ran: f64, pred: f64) -> Option<f64> {
    if ran >= overdue(pred) {
        Some(ran / 2.0)
    } else if ran < pred {
        Some((pred - ran - 1.0) / 2.0).filter(|b| *b > 0.0)
    } else {
        None
    }
}

/// How a job stands against its prediction, for the log.
fn judged(ran: f64, pred: f64) -> String {
    let p = crate::decimal::fixed(pred, 2);
    if ran >= pred {
        format!(
            "running {}s past its predicted {p}s",
            crate::decimal::fixed(ran - pred, 2)
        )
    } else {
        format!(
            "{}s of its predicted {p}s left",
            crate::decimal::fixed(pred - ran, 2)
        )
    }
}

fn overdue(pred: f64) -> f64 {
    (2.0 * pred).max(pred + 1.5)
}

/// Which of `fds` have something to read (or an error or hangup to
/// report), waiting at most `wait`. A failed poll says all: the reads
/// then report the real error.
fn ready(fds: &[Option<BorrowedFd>; 2], wait: Duration) -> [bool; 2] {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut polled: Vec<PollFd> = fds
        .iter()
        .flatten()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    let got = loop {
        match poll(&mut polled, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r,
        }
    };
    let mut out = [false; 2];
    let mut it = polled.iter();
    for (i, fd) in fds.iter().enumerate() {
        if fd.is_some() {
            let revents = it.next().and_then(|p| p.revents());
            out[i] = got.is_err() || revents.is_some_and(|r| !r.is_empty());
        }
    }
    out
}

/// The one call of `remote::receive` (each inlined copy costs the armv7
/// binary kilobytes).
#[inline(never)]
fn read(conn: &mut Conn, features: Features) -> Result<Reply, ProtoError> {
    remote::receive(conn, features)
}

fn won(r: &Result<Reply, ProtoError>) -> bool {
    matches!(r, Ok(r) if r.status.success())
}

fn timed_out() -> ProtoError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "I/O timeout").into()
}

fn shown(r: &Result<Reply, ProtoError>) -> String {
    match r {
        Ok(r) => format!("status {:#x}", r.status.0),
        Err(e) => e.to_string(),
    }
}

/// Read the job's reply from `conn` (on `host`); with a prediction, start
/// a copy through `start_copy(beat)` when it straggles. The result is the
/// copy's when the second value is `Some`: the caller then drops `conn`.
#[allow(clippy::too_many_arguments)]
pub fn receive<'h>(
    conn: &mut Conn,
    features: Features,
    judge: Judge,
    io_timeout: Duration,
    input: &str,
    host: &Host,
    start_copy: &mut dyn FnMut(f64) -> Option<Copy<'h>>,
) -> (Result<Reply, ProtoError>, Option<Copy<'h>>) {
    let sent = Instant::now();
    let (taken, pred, tick) = match judge {
        Judge::Predicted(taken, pred) => (taken, Some(pred), TICK),
        Judge::Order => (sent, None, ORDER_TICK),
        Judge::Off => return (read(conn, features), None),
    };
    let overdue_at = taken + Duration::from_secs_f64(pred.map_or(ORDER_AFTER, overdue).min(1e6));
    let mut copy = loop {
        let now = Instant::now();
        let Some(left) = io_timeout.checked_sub(now - sent).filter(|d| !d.is_zero()) else {
            return (Err(timed_out()), None);
        };
        let mut wait = tick.min(left);
        if now < overdue_at {
            wait = wait.min(overdue_at - now);
        }
        if ready(&[Some(conn.reply_fd()), None], wait)[0] {
            return (read(conn, features), None);
        }
        let ran = taken.elapsed().as_secs_f64();
        let beat = match pred {
            Some(pred) => due(ran, pred),
            None => (ran >= ORDER_AFTER).then_some(f64::INFINITY),
        };
        let Some(c) = beat.and_then(&mut *start_copy) else {
            continue;
        };
        let r = crate::decimal::fixed(ran, 2);
        let how = match pred {
            None => format!("running {r}s while {} idles", c.host.spec),
            Some(pred) => judged(ran, pred),
        };
        log::info!(
            "job {input} on {}: {how}; copy started on {}",
            host.spec,
            c.host.spec
        );
        break c;
    };
    let [first, second] = either(conn, &mut copy.via, io_timeout);
    // Read the first to answer (the original when both, or neither);
    // unless it succeeded, the other's reply is the result.
    let copy_first = second && !first;
    let r = match (copy_first, first) {
        (true, _) => copy.via.read(),
        (false, true) => read(conn, features),
        (false, false) => Err(timed_out()),
    };
    let names = [host.spec.as_str(), copy.host.spec.as_str()];
    let (a, b) = if copy_first {
        (format!("the copy on {}", names[1]), names[0].to_string())
    } else {
        (names[0].to_string(), format!("the copy on {}", names[1]))
    };
    if won(&r) {
        log::info!("job {input}: {a} won; {b} is dropped");
    } else {
        log::info!("job {input}: {a} failed ({}); waiting for {b}", shown(&r));
    }
    match (copy_first, won(&r)) {
        (true, true) => {
            conn.abandon();
            (r, Some(copy))
        }
        (false, true) => {
            copy.via.abandon();
            (r, None)
        }
        (true, false) => {
            copy.via.abandon();
            drop(copy);
            (read(conn, features), None)
        }
        (false, false) => {
            let r = copy.via.read();
            (r, Some(copy))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_past_twice_its_prediction_is_copied() {
        // 0.2 s predicted: overdue at 1.7 s (1.5 s past it).
        assert_eq!(due(1.0, 0.2), None);
        assert_eq!(due(1.8, 0.2), Some(0.9));
        // 10 s predicted: overdue at 20 s.
        assert_eq!(due(12.0, 10.0), None);
        assert_eq!(due(20.0, 10.0), Some(10.0));
    }

    #[test]
    fn a_job_on_time_is_copied_only_to_a_much_faster_slot() {
        // 10 s predicted, 2 s in: a copy under 3.5 s is worth it.
        assert_eq!(due(2.0, 10.0), Some(3.5));
        // Under a second left: never.
        assert_eq!(due(0.5, 1.2), None);
    }
}
