//! One connection's life on the daemon, as a state machine with no I/O.
//!
//! A driver (the event loop in `event_loop`, or `inetd` for one job on
//! stdin) feeds `Event`s in: bytes from the client, the outcome of work it
//! was asked to do, a compiler's exit, a clock tick. `Job::handle` answers
//! with `Action`s for the driver to perform, in order: check the argv, ask
//! for a compile slot, spawn, feed, kill, reply, log, close. Work whose
//! outcome matters (check, spawn, lay out, finish) is the last action of
//! its step, and the driver feeds its outcome straight back as the next
//! event; the states named for that work (`Checking`, `Starting`, ...)
//! only exist in between. Every transition is one arm of the `match` in
//! `step`, and an event a state does not expect is ignored, never a panic.
//!
//! The request decoder lives here: it is pure, and writes the source only
//! into the sink the driver gave it when the argv was checked.
//!
//! Over 800 lines on purpose: the states, the events and actions they
//! speak, and every transition read best side by side; the tests are in
//! `machine_tests.rs`.

use std::time::{Duration, Instant};

use crate::exitcode::{EXIT_PROTOCOL_ERROR, EXIT_TIMEOUT, EXIT_TRUNCATED};
use crate::protocol::reply::Reply;
use crate::protocol::request::{Request, RequestDecoder};
use crate::protocol::status::{JobResult, JobSummary, WaitStatus};
use crate::protocol::{Features, Limits};

use super::access;
use super::refusal::{refusal_reply, Refusal};

/// The log line (at info) for a client that ends the connection after its
/// argv, before any source: its preprocessor failed (a missing header or
/// source file), which is its normal behaviour, not a network fault.
pub const NO_SOURCE: &str =
    "sent its command line but no source (its preprocessor failed, most likely); job dropped";
/// The log line (at info) for a compiler started early that ended before
/// its source came (a bad option, a crash); it is answered once the whole
/// request is in.
pub const GONE_EARLY: &str = "compiler exited before its source came; answering once it is in";

/// The clocks a connection is held to (`Event::Tick`).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// No byte moved either way for this long: the client is dropped.
    pub io: Duration,
    /// `--job-lifetime`: a compile running longer is killed.
    pub job_lifetime: Option<Duration>,
}

/// A checked argv, as the driver reports it (`Event::Checked`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub compiler: String,
    pub input: String,
    /// The compiler reads the source from a pipe, so it may start before
    /// the source is in (`feed`).
    pub piped: bool,
    /// The driver keeps a result cache: look the job up once its whole
    /// request is in (`Action::Lookup`), keep its result after the reply
    /// (`Action::Keep`).
    pub cached: bool,
}

#[derive(Debug)]
pub enum Event<'a> {
    /// Bytes from the client.
    Bytes(&'a [u8]),
    /// The client closed its side.
    Eof,
    /// Reading from the client failed: why.
    ReadFailed(String),
    /// Outcome of `Action::Check`.
    Checked(Result<Accepted, Refusal>),
    /// A compile slot for this job (after `Action::WantSlot`).
    SlotGranted,
    /// Outcome of `Action::Spawn`.
    Spawned(Result<(), Refusal>),
    /// Outcome of `Action::LayOut`.
    LaidOut(Result<(), Refusal>),
    /// `Action::Need` is done: NEED is on its way, the decoder knows.
    Needed,
    /// Outcome of `Action::Lookup`; on a hit the driver holds the reply,
    /// sent with `Action::SendResult`.
    Looked { hit: bool },
    /// Outcome of `Action::CompleteSource`.
    SourceReady(Result<(), Refusal>),
    /// The compiler's stdin pipe has room.
    PipeWritable,
    /// Feeding the compiler failed (not because it left): why.
    FeedFailed(String),
    /// The compiler exited (not after `Abort` or `Unstart`).
    CompilerExited(WaitStatus),
    /// Outcome of `Action::Finish`: why a success has no object, if so.
    Finished { no_object: Option<String> },
    /// Some of the reply went out; `done`: all of it.
    Sent { done: bool },
    /// Writing to the client failed: why (`write failed: ...`).
    WriteFailed(String),
    /// Whole requests wait: give back a slot borrowed early.
    Preempt,
    /// The clock; drivers send it about once a second.
    Tick,
    /// Queued too long for memory (`admission`): answer busy. The driver
    /// has taken the job out of the queue.
    Busy(Refusal),
}

#[derive(Debug)]
pub enum Action {
    /// Check the argv (complete in `Job::decoder`) and, if it passes, lay
    /// out the job directory and point the decoder's source at it; else
    /// make it discard the source. Answer with `Event::Checked`.
    Check,
    /// Ask for a compile slot; `early`: the source is still coming, so
    /// only a free slot nobody waits for will do. Answer with
    /// `Event::SlotGranted`, now or later (or never, for `early`).
    WantSlot {
        early: bool,
    },
    /// The job holds no compile slot any more.
    Release,
    /// Look the whole request up in the result cache, before it asks for
    /// a slot (a hit needs none). Answer with `Event::Looked`, now or
    /// once the compiler's identity is known.
    Lookup,
    /// The reply of a successful compile is out: keep its result in the
    /// cache (after the reply, so it never delays it).
    Keep,
    /// Start the compiler; `complete`: its whole source is in. Answer
    /// with `Event::Spawned`.
    Spawn {
        complete: bool,
    },
    /// Pump: lay out the client's files. Answer with `Event::LaidOut`.
    LayOut(Box<Request>),
    /// Pump, store form: the manifest is in (`Job::decoder`). Lay out
    /// what the header store holds, tell the decoder which contents to
    /// read (none if `refused`: only the refusal is coming) and send the
    /// client NEED. Answer with `Event::Needed`.
    Need {
        refused: bool,
    },
    /// The source of a compiler started early is in: open it for feeding.
    /// Answer with `Event::SourceReady`.
    CompleteSource,
    /// Move more of the source into the compiler's stdin, closing it when
    /// all is in (nothing for a job without a pipe).
    Feed,
    /// Signal the compiler to die; its exit still comes as an event.
    Kill,
    /// Kill the compiler and forget it: it is reaped, and its job
    /// directory removed, in the background.
    Abort,
    /// Kill a compiler started early but keep its job directory: it
    /// starts again once its source is in.
    Unstart,
    /// The compiler exited with this status: collect its results into
    /// the reply. Answer with `Event::Finished`.
    Finish {
        status: WaitStatus,
    },
    /// Send this reply (built here: a refusal).
    Reply(Reply),
    /// Send the reply `Finish` collected.
    SendResult,
    /// Send the statistics page, HTML or distccd's text.
    StatsPage {
        html: bool,
    },
    /// Send the one-line load report (`load_line`).
    LoadLine,
    /// Count a result in the statistics.
    Record(JobResult),
    /// Count a compile that ran, for the statistics pages.
    Compiled {
        input: String,
        compiler: String,
        ms: u64,
        ok: bool,
    },
    Log(log::Level, String),
    /// Drop the connection and whatever it still owns.
    Close,
}

/// Where a compiler started early stands while the source comes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Early {
    No,
    Starting,
    Running {
        since: Instant,
    },
    Exited {
        status: WaitStatus,
        since: Instant,
    },
    /// It could not start: answered once the request is in.
    Failed(Refusal),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Its names are in `Job::names`.
    Accepted {
        piped: bool,
    },
    Refused(Refusal),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Reading the request until its argv is whole.
    Header,
    /// `Action::Check` out.
    Checking,
    /// Reading the source (kept nowhere if refused).
    Body {
        verdict: Verdict,
        early: Early,
    },
    /// `Action::Need` out (store form).
    Needing {
        verdict: Verdict,
        early: Early,
    },
    /// `Action::LayOut` out.
    LayingOut,
    /// `Action::Lookup` out; `early`: a compiler started early, killed
    /// on a hit (never two writers of one output).
    LookingUp {
        early: Early,
    },
    /// Whole request in, waiting for a compile slot.
    Queued,
    /// `Action::Spawn { complete: true }` out.
    Starting,
    /// `Action::CompleteSource` out.
    SourceCompleting,
    Compiling {
        since: Instant,
    },
    /// `Action::Finish` out.
    Finishing {
        status: WaitStatus,
        ms: u64,
    },
    /// Sending the reply; `Job::summary` is logged once it is out.
    Replying,
    /// A `--stats` connection: read a little, answer, close.
    Stats {
        answered: bool,
    },
    /// Outside the access list: the driver sends the refusal line; we drop
    /// what the client still sends until it closes (`access::REFUSED_*`).
    Refused {
        since: Instant,
        drained: usize,
    },
    Closed,
}

/// One connection: a compile job, a statistics request or a refused client.
pub struct Job {
    peer: String,
    state: State,
    dec: Option<Box<RequestDecoder>>,
    /// Bytes the decoder has not taken yet.
    buf: Vec<u8>,
    features: Features,
    argv0: String,
    names: Option<Accepted>,
    /// distccd's log line for the job, once it is being answered.
    summary: Option<JobSummary>,
    /// Answered from the result cache.
    hit: bool,
    last_io: Instant,
    timeouts: Timeouts,
    exit: i32,
}

impl Job {
    fn with_state(
        peer: &str,
        state: State,
        limits: Option<Limits>,
        t: Timeouts,
        now: Instant,
    ) -> Job {
        Job {
            peer: peer.to_string(),
            state,
            dec: limits.map(|l| Box::new(RequestDecoder::new(l))),
            buf: Vec::new(),
            features: Features::PLAIN,
            argv0: String::new(),
            names: None,
            summary: None,
            hit: false,
            last_io: now,
            timeouts: t,
            exit: 0,
        }
    }

    /// A client's compile request.
    pub fn request(peer: &str, limits: Limits, t: Timeouts, now: Instant) -> Job {
        Job::with_state(peer, State::Header, Some(limits), t, now)
    }

    /// A connection to the statistics port.
    pub fn stats(peer: &str, t: Timeouts, now: Instant) -> Job {
        Job::with_state(peer, State::Stats { answered: false }, None, t, now)
    }

    /// A client outside the access list, its refusal line on its way.
    pub fn refused(peer: &str, t: Timeouts, now: Instant) -> Job {
        let state = State::Refused {
            since: now,
            drained: 0,
        };
        Job::with_state(peer, state, None, t, now)
    }

    /// The decoder, for `Action::Check`.
    pub fn decoder(&mut self) -> Option<&mut RequestDecoder> {
        self.dec.as_deref_mut()
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Still reading a compile request (not a stats or refused connection).
    pub fn is_request(&self) -> bool {
        self.dec.is_some()
    }

    pub fn is_refused(&self) -> bool {
        matches!(self.state, State::Refused { .. })
    }

    /// Still reading the request (inetd reads only then).
    pub fn wants_input(&self) -> bool {
        matches!(self.state, State::Header | State::Body { .. })
    }

    /// The distcc exit code the job ended with (inetd's exit status).
    pub fn exit_code(&self) -> i32 {
        self.exit
    }

    /// For the HTML status page: the source and how long it has compiled.
    pub fn compiling(&self, now: Instant) -> Option<(&str, u64)> {
        match (&self.state, &self.names) {
            (State::Compiling { since }, Some(n)) => {
                Some((&n.input, now.duration_since(*since).as_millis() as u64))
            }
            _ => None,
        }
    }

    /// A compiler started early, waiting for its source longer than
    /// `grace`: its slot may be taken back (`Event::Preempt`).
    pub fn preemptible(&self, now: Instant, grace: Duration) -> bool {
        matches!(&self.state, State::Body { early: Early::Running { since }, .. }
            if now.duration_since(*since) > grace)
    }

    pub fn handle(&mut self, ev: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.step(ev, now, &mut out);
        out
    }

    fn log(&self, out: &mut Vec<Action>, level: log::Level, msg: impl std::fmt::Display) {
        out.push(Action::Log(level, format!("client {}: {msg}", self.peer)));
    }

    fn step(&mut self, ev: Event, now: Instant, out: &mut Vec<Action>) {
        use Event as E;
        use State as S;
        let was_replying = matches!(self.state, S::Replying);
        let next = match (self.state.clone(), ev) {
            (S::Closed, _) => return,

            // Reading the request.
            (s @ (S::Header | S::Body { .. }), E::Bytes(b)) => {
                self.last_io = now;
                self.buf.extend_from_slice(b);
                self.decode(s, now, out)
            }
            (s @ (S::Header | S::Body { .. }), E::Eof) => {
                self.last_io = now;
                self.cut_short(out);
                self.drop_job(&s, out)
            }
            (S::Checking, E::Checked(verdict)) => {
                let verdict = match verdict {
                    Ok(a) => {
                        let piped = a.piped;
                        self.names = Some(a);
                        Verdict::Accepted { piped }
                    }
                    Err(r) => Verdict::Refused(r),
                };
                let early = Early::No;
                self.decode(S::Body { verdict, early }, now, out)
            }

            // A compiler started early, while the source comes.
            (
                S::Body {
                    verdict,
                    early: Early::No,
                },
                E::SlotGranted,
            ) => {
                out.push(Action::Spawn { complete: false });
                let early = Early::Starting;
                S::Body { verdict, early }
            }
            (
                S::Body {
                    verdict,
                    early: Early::Starting,
                },
                E::Spawned(r),
            ) => {
                let early = match r {
                    Ok(()) => Early::Running { since: now },
                    Err(r) => {
                        out.push(Action::Release);
                        Early::Failed(r)
                    }
                };
                S::Body { verdict, early }
            }
            (
                S::Body {
                    verdict,
                    early: Early::Running { since },
                },
                E::CompilerExited(status),
            ) => {
                out.push(Action::Release);
                self.log(out, log::Level::Debug, GONE_EARLY);
                let early = Early::Exited { status, since };
                S::Body { verdict, early }
            }
            (
                S::Body {
                    verdict,
                    early: Early::Running { .. },
                },
                E::Preempt,
            ) => {
                out.push(Action::Unstart);
                out.push(Action::Release);
                let early = Early::No;
                S::Body { verdict, early }
            }

            // Store form: the manifest is answered, its contents come.
            (S::Needing { verdict, early }, E::Needed) => {
                self.decode(S::Body { verdict, early }, now, out)
            }

            // Whole request in.
            (S::LayingOut, E::LaidOut(Ok(()))) => self.look_up(Early::No, out),
            (S::LayingOut, E::LaidOut(Err(r))) => self.refuse(r, out),
            // The result cache.
            (S::LookingUp { early }, E::Looked { hit: true }) => {
                if !matches!(early, Early::No | Early::Starting) {
                    out.push(Action::Abort);
                }
                if matches!(early, Early::Running { .. }) {
                    out.push(Action::Release);
                }
                self.hit = true;
                let (compiler, input) = self.names();
                out.push(Action::SendResult);
                self.replying(JobSummary {
                    peer: self.peer.clone(),
                    result: JobResult::CompileOk,
                    status: WaitStatus::exited(0),
                    ms: 0,
                    compiler: Some(compiler),
                    input: Some(input),
                })
            }
            (S::LookingUp { early }, E::Looked { hit: false }) => match early {
                Early::Running { .. } => {
                    out.push(Action::CompleteSource);
                    S::SourceCompleting
                }
                Early::Exited { status, since } => self.finish(status, since, now, out),
                _ => self.queue(out),
            },
            (
                S::LookingUp {
                    early: Early::Running { since },
                },
                E::CompilerExited(status),
            ) => {
                out.push(Action::Release);
                let early = Early::Exited { status, since };
                S::LookingUp { early }
            }
            (S::Queued, E::Busy(r)) => self.busy(r, out),

            (S::Queued, E::SlotGranted) => {
                out.push(Action::Spawn { complete: true });
                S::Starting
            }
            (S::Starting, E::Spawned(Ok(()))) => {
                out.push(Action::Feed);
                S::Compiling { since: now }
            }
            (S::Starting, E::Spawned(Err(r))) => {
                out.push(Action::Release);
                self.spawn_failed(r, out)
            }
            (S::SourceCompleting, E::SourceReady(Ok(()))) => {
                // The compile proper starts now; the wait for the client's
                // cpp is not its time (the log line, --job-lifetime).
                out.push(Action::Feed);
                S::Compiling { since: now }
            }
            (S::SourceCompleting, E::SourceReady(Err(r))) => {
                out.push(Action::Abort);
                out.push(Action::Release);
                self.spawn_failed(r, out)
            }

            // Compiling.
            (s @ S::Compiling { .. }, E::PipeWritable) => {
                out.push(Action::Feed);
                s
            }
            (s @ S::Compiling { .. }, E::FeedFailed(why)) => {
                // Never let the compiler see a cut-short source as whole.
                self.log(
                    out,
                    log::Level::Warn,
                    format!("feeding the compiler failed: {why}"),
                );
                out.push(Action::Kill);
                s
            }
            (S::Compiling { since }, E::CompilerExited(status)) => {
                out.push(Action::Release);
                self.finish(status, since, now, out)
            }
            (S::Compiling { since }, E::Tick) if self.overdue(since, now) => {
                self.kill_overdue(since, now, out)
            }
            (S::Finishing { status, ms }, E::Finished { no_object }) => {
                let (compiler, input) = self.names();
                let summary = match &no_object {
                    Some(why) => {
                        self.log(
                            out,
                            log::Level::Warn,
                            format!("{compiler} {input}: {why}; answered as a failure"),
                        );
                        JobSummary::faked(
                            &self.peer,
                            JobResult::Other,
                            crate::exitcode::EXIT_IO_ERROR,
                            ms,
                        )
                        .job(&compiler, &input)
                    }
                    None => JobSummary {
                        peer: self.peer.clone(),
                        result: if status.success() {
                            JobResult::CompileOk
                        } else {
                            JobResult::CompileError
                        },
                        status,
                        ms,
                        compiler: Some(compiler.clone()),
                        input: Some(input.clone()),
                    },
                };
                out.push(Action::Compiled {
                    input,
                    compiler,
                    ms,
                    ok: summary.result == JobResult::CompileOk,
                });
                out.push(Action::SendResult);
                self.replying(summary)
            }

            // Replying.
            (S::Replying, E::Sent { done: true }) => {
                if let Some(summary) = self.summary.take() {
                    let line = if self.hit {
                        format!("{summary} (cache hit)")
                    } else {
                        summary.to_string()
                    };
                    out.push(Action::Log(log::Level::Info, line));
                    out.push(Action::Record(summary.result));
                    if self.cached() && !self.hit && summary.result == JobResult::CompileOk {
                        out.push(Action::Keep);
                    }
                }
                out.push(Action::Close);
                S::Closed
            }
            (s @ (S::Replying | S::Stats { .. }), E::Sent { done: false }) => {
                self.last_io = now;
                s
            }

            // The client talks or leaves while its job is past reading.
            (
                s @ (S::Queued
                | S::LookingUp { .. }
                | S::Starting
                | S::SourceCompleting
                | S::Compiling { .. }
                | S::Finishing { .. }
                | S::Replying),
                ev @ (E::Bytes(_) | E::Eof),
            ) => {
                if let E::Eof = ev {
                    self.log(
                        out,
                        log::Level::Warn,
                        "disconnected before the reply; job abandoned",
                    );
                } else {
                    self.log(
                        out,
                        log::Level::Warn,
                        "unexpected data after the request; dropping connection",
                    );
                }
                out.push(Action::Record(JobResult::CliDisconn));
                self.drop_job(&s, out)
            }

            // A statistics request: any bytes (or none) will do, as with distccd.
            (S::Stats { answered: false }, ev @ (E::Bytes(_) | E::Eof)) => {
                self.last_io = now;
                match ev {
                    // A tinydcc client asking how busy we are.
                    E::Bytes(b) if b.starts_with(crate::load_line::QUERY) => {
                        out.push(Action::LoadLine)
                    }
                    E::Bytes(b) => out.push(Action::StatsPage {
                        html: super::status_page::wants_html(b),
                    }),
                    _ => out.push(Action::StatsPage { html: false }),
                }
                S::Stats { answered: true }
            }
            (S::Stats { answered: true }, E::Eof) | (S::Stats { .. }, E::Sent { done: true }) => {
                out.push(Action::Close);
                S::Closed
            }

            // A refused client.
            (S::Refused { since, drained }, E::Bytes(b)) => {
                let drained = drained + b.len();
                if drained > access::REFUSED_DRAIN {
                    out.push(Action::Close);
                    S::Closed
                } else {
                    S::Refused { since, drained }
                }
            }
            (S::Refused { .. }, E::Eof | E::ReadFailed(_) | E::WriteFailed(_)) => {
                out.push(Action::Close);
                S::Closed
            }
            (S::Refused { since, .. }, E::Tick)
                if now.duration_since(since) > access::REFUSED_LINGER =>
            {
                out.push(Action::Close);
                S::Closed
            }

            // Failures and the clock, in any other state.
            (s, E::ReadFailed(why)) => {
                self.log(out, log::Level::Warn, format!("read failed: {why}"));
                self.exit = crate::exitcode::EXIT_IO_ERROR;
                self.drop_job(&s, out)
            }
            (s, E::WriteFailed(why)) => {
                self.log(out, log::Level::Warn, why);
                self.exit = crate::exitcode::EXIT_IO_ERROR;
                self.drop_job(&s, out)
            }
            (s @ (S::Header | S::Body { .. } | S::Replying | S::Stats { .. }), E::Tick)
                if now.duration_since(self.last_io) > self.timeouts.io =>
            {
                self.log(out, log::Level::Warn, "I/O timeout; dropping connection");
                self.drop_job(&s, out)
            }
            (s, _) => s,
        };
        if !was_replying && matches!(next, S::Replying) {
            // The reply's own clock starts now, however long the compile took.
            self.last_io = now;
        }
        self.state = next;
    }

    /// Feed the decoder what has arrived. It pauses once the argv is
    /// whole, to have it checked before the source.
    fn decode(&mut self, state: State, now: Instant, out: &mut Vec<Action>) -> State {
        let Some(dec) = self.dec.as_deref_mut() else {
            return state;
        };
        let fed = feed(dec, &mut self.buf, state == State::Header);
        match fed {
            Err(e) => {
                self.exit = e.exit_code();
                self.log(out, log::Level::Warn, format!("{e}; dropping connection"));
                out.push(Action::Record(JobResult::RejBadReq));
                self.drop_job(&state, out)
            }
            Ok(Fed::Argv) => {
                if let Some(dec) = self.dec.as_deref() {
                    self.features = dec.features().unwrap_or(Features::PLAIN);
                    self.argv0 = dec
                        .argv()
                        .first()
                        .map(|a| a.to_string_lossy().into_owned())
                        .unwrap_or_default();
                }
                out.push(Action::Check);
                State::Checking
            }
            Ok(Fed::Manifest) => match state {
                State::Body { verdict, early } => {
                    let refused = matches!(verdict, Verdict::Refused(_));
                    out.push(Action::Need { refused });
                    State::Needing { verdict, early }
                }
                other => {
                    self.exit = EXIT_PROTOCOL_ERROR;
                    self.drop_job(&other, out)
                }
            },
            Ok(Fed::More) => {
                if let State::Body {
                    verdict: Verdict::Accepted { piped: true },
                    early: Early::No,
                } = &state
                {
                    out.push(Action::WantSlot { early: true });
                }
                state
            }
            Ok(Fed::Done) => {
                let dec = self.dec.take();
                self.buf = Vec::new();
                self.source_complete(state, dec, now, out)
            }
        }
    }

    fn source_complete(
        &mut self,
        state: State,
        dec: Option<Box<RequestDecoder>>,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> State {
        let State::Body { verdict, early } = state else {
            // Done without a whole argv: nothing to answer.
            self.exit = EXIT_PROTOCOL_ERROR;
            return self.drop_job(&state, out);
        };
        match (verdict, early) {
            (Verdict::Refused(r), _) => self.refuse(r, out),
            (Verdict::Accepted { .. }, _) if self.features.cpp_on_server() => {
                // Pump: lay the client's files out now, so a queued job
                // holds disk, not memory.
                let req = dec.map(|d| d.take()).unwrap_or_default();
                out.push(Action::LayOut(Box::new(req)));
                State::LayingOut
            }
            (
                Verdict::Accepted { .. },
                early @ (Early::No | Early::Starting | Early::Running { .. }),
            ) => self.look_up(early, out),
            (Verdict::Accepted { .. }, Early::Exited { status, since }) => {
                self.finish(status, since, now, out)
            }
            (Verdict::Accepted { .. }, Early::Failed(r)) => self.spawn_failed(r, out),
        }
    }

    fn replying(&mut self, summary: JobSummary) -> State {
        self.summary = Some(summary);
        State::Replying
    }

    fn cached(&self) -> bool {
        self.names.as_ref().is_some_and(|n| n.cached)
    }

    /// The whole request is in: look it up if the driver has a cache,
    /// else wait for a slot (a compiler started early gets its source).
    fn look_up(&mut self, early: Early, out: &mut Vec<Action>) -> State {
        if self.cached() {
            out.push(Action::Lookup);
            return State::LookingUp { early };
        }
        match early {
            Early::Running { .. } => {
                out.push(Action::CompleteSource);
                State::SourceCompleting
            }
            _ => self.queue(out),
        }
    }

    fn queue(&mut self, out: &mut Vec<Action>) -> State {
        out.push(Action::WantSlot { early: false });
        State::Queued
    }

    fn names(&self) -> (String, String) {
        match &self.names {
            Some(n) => (n.compiler.clone(), n.input.clone()),
            None => (self.argv0.clone(), String::new()),
        }
    }

    fn finish(
        &mut self,
        status: WaitStatus,
        since: Instant,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> State {
        let ms = now.duration_since(since).as_millis() as u64;
        out.push(Action::Finish { status });
        State::Finishing { status, ms }
    }

    fn reply(&mut self, r: &Refusal, summary: JobSummary, out: &mut Vec<Action>) -> State {
        self.exit = r.code;
        out.push(Action::Reply(refusal_reply(self.features, r)));
        self.replying(summary)
    }

    /// The request breaks a rule: answered once all of it is read.
    fn refuse(&mut self, r: Refusal, out: &mut Vec<Action>) -> State {
        self.log(out, log::Level::Warn, format!("refused: {}", r.why));
        let summary = JobSummary {
            compiler: Some(self.argv0.clone()),
            ..JobSummary::faked(&self.peer, JobResult::RejBadReq, r.code, 0)
        };
        self.reply(&r, summary, out)
    }

    /// No memory for the compile: the client tries elsewhere (REJ_OVERLOAD
    /// in the stats, as distccd counts a refusal for load).
    fn busy(&mut self, r: Refusal, out: &mut Vec<Action>) -> State {
        let (compiler, input) = self.names();
        self.log(
            out,
            log::Level::Info,
            format!("{} ({compiler} {input})", r.why),
        );
        let summary =
            JobSummary::faked(&self.peer, JobResult::RejOverload, r.code, 0).job(&compiler, &input);
        self.reply(&r, summary, out)
    }

    /// The compiler could not be started, or its source not be read.
    fn spawn_failed(&mut self, r: Refusal, out: &mut Vec<Action>) -> State {
        let (compiler, input) = self.names();
        self.log(
            out,
            log::Level::Warn,
            format!("{} ({compiler} {input})", r.why),
        );
        let summary =
            JobSummary::faked(&self.peer, JobResult::Other, r.code, 0).job(&compiler, &input);
        self.reply(&r, summary, out)
    }

    fn overdue(&self, since: Instant, now: Instant) -> bool {
        self.timeouts
            .job_lifetime
            .is_some_and(|limit| now.duration_since(since) > limit)
    }

    /// `--job-lifetime` ran out: kill the compiler and answer with
    /// distcc's EXIT_TIMEOUT status, as distccd does.
    fn kill_overdue(&mut self, since: Instant, now: Instant, out: &mut Vec<Action>) -> State {
        let (compiler, input) = self.names();
        out.push(Action::Abort);
        out.push(Action::Release);
        self.log(
            out,
            log::Level::Warn,
            format!("{compiler} {input} ran past --job-lifetime; killed"),
        );
        let r = Refusal {
            code: EXIT_TIMEOUT,
            why: "compile exceeded the daemon's --job-lifetime".into(),
        };
        let ms = now.duration_since(since).as_millis() as u64;
        let summary = JobSummary::faked(&self.peer, JobResult::CompileTimeout, EXIT_TIMEOUT, ms)
            .job(&compiler, &input);
        self.reply(&r, summary, out)
    }

    /// The client left while sending its request: say why, as it matters.
    fn cut_short(&mut self, out: &mut Vec<Action>) {
        self.exit = EXIT_TRUNCATED;
        let Some(dec) = self.dec.as_deref() else {
            return;
        };
        if dec.features().is_none() && self.buf.is_empty() {
            // A port probe (nc -z, a health check): not worth a warning.
            self.log(out, log::Level::Debug, "closed without sending a request");
            return;
        }
        if dec.awaiting_source() && self.buf.is_empty() {
            // A client's normal way out when its cpp fails.
            self.log(out, log::Level::Debug, NO_SOURCE);
        } else {
            self.log(
                out,
                log::Level::Warn,
                "connection closed before the request was complete",
            );
        }
        out.push(Action::Record(JobResult::CliDisconn));
    }

    /// Close the connection; a compiler it runs is killed first.
    fn drop_job(&mut self, state: &State, out: &mut Vec<Action>) -> State {
        let runs = matches!(
            state,
            State::Compiling { .. }
                | State::SourceCompleting
                | State::LookingUp {
                    early: Early::Running { .. },
                }
                | State::Body {
                    early: Early::Running { .. },
                    ..
                }
        );
        if runs {
            out.push(Action::Abort);
            out.push(Action::Release);
        }
        out.push(Action::Close);
        State::Closed
    }
}

enum Fed {
    /// The argv is whole: check it before the source.
    Argv,
    /// All of the request is in.
    Done,
    /// Store form: the manifest is in; NEED before anything more.
    Manifest,
    /// More bytes needed.
    More,
}

/// Give the decoder the buffered bytes until it needs more, pausing where
/// the argv is whole if `check`.
fn feed(
    dec: &mut RequestDecoder,
    buf: &mut Vec<u8>,
    check: bool,
) -> Result<Fed, crate::protocol::ProtoError> {
    loop {
        let used = dec.feed(buf)?;
        buf.drain(..used);
        if check && dec.argv_complete() {
            return Ok(Fed::Argv);
        }
        if dec.is_done() {
            return Ok(Fed::Done);
        }
        if dec.awaiting_need() {
            return Ok(Fed::Manifest);
        }
        if used == 0 {
            return Ok(Fed::More);
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
