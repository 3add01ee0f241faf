//! The daemon's event loop: one process, one mio poll. Each connection is
//! an explicit state machine (`State`); its source goes straight into the
//! job's file, so a slow or large request costs a socket and a small
//! buffer, not its size in memory. A compile slot belongs to whole
//! requests: a plain job may borrow a free one as soon as its argv is
//! checked, so its compiler starts up while the client's cpp still runs
//! (`feed`), but gives it back when a whole request has to wait. Compiler
//! exits arrive through a signalfd.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::exitcode::*;
use crate::protocol::request::RequestDecoder;
use crate::protocol::status::{JobResult, JobSummary};
use crate::protocol::{reply, Features, Limits};

use super::access::{self, Cidr};
use super::job::{self, Input, Prepared, Refusal, Running};
use super::stats::Stats;
use super::whitelist::Policy;

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const STATS: Token = Token(2);
const FIRST_CONN: usize = 3;
/// A connection's token with this bit set: its compiler's stdin pipe.
const FEED: usize = 1 << (usize::BITS - 1);
/// The log line (at info) for a client that ends the connection after its
/// argv, before any source: its preprocessor failed (a missing header or
/// source file), which is its normal behaviour, not a network fault.
pub const NO_SOURCE: &str =
    "sent its command line but no source (its preprocessor failed, most likely); job dropped";
/// How long a job started early keeps its slot against whole requests
/// that wait (a client's cpp usually takes far less).
const EARLY_GRACE: Duration = Duration::from_secs(1);
/// Refused connections held open at once (see `State::Refused`); past
/// this, a refused client gets its line and an immediate close.
const MAX_REFUSED: usize = 32;

pub struct Config {
    pub allow: Vec<Cidr>,
    pub policy: Policy,
    pub jobs: usize,
    pub tmp: PathBuf,
    pub io_timeout: Duration,
    pub job_lifetime: Option<Duration>,
    /// Connections held open at once; past this, new ones wait in the backlog.
    pub max_conns: usize,
    /// Whole requests waiting for a compile slot; past this, likewise.
    pub max_queued: usize,
    pub limits: Limits,
    /// Landlock ABI to confine compilers with, if the kernel has it.
    pub sandbox: Option<u32>,
}

/// A request whose argv has been checked.
enum Checked {
    /// Its job directory, receiving the source.
    Ready(Prepared),
    /// A piped job whose compiler started as soon as argv passed, because
    /// a slot was free: it starts up while the client's cpp runs (`feed`).
    Started(Box<Running>),
    /// Answered once the whole request is in.
    Refused(Refusal),
    /// The compiler could not be started: (why, compiler, input).
    Failed(Refusal, String, String),
}

enum State {
    /// Receiving the request; `job` is set once argv has been checked.
    Reading {
        dec: Box<RequestDecoder>,
        buf: Vec<u8>,
        job: Option<Checked>,
    },
    /// Whole request here, waiting for a compile slot.
    Queued {
        job: Box<Prepared>,
    },
    Compiling {
        job: Box<Running>,
    },
    /// Sending `head`, then (v1) the object straight from its file.
    Replying {
        head: Vec<u8>,
        off: usize,
        object: Option<(File, u64)>,
        sent: u64,
        summary: JobSummary,
    },
    /// A `--stats` request: read a little, answer, close.
    Stats {
        out: Vec<u8>,
        off: usize,
    },
    /// Outside the access list: sending the refusal line, then dropping
    /// what the client still sends until it closes (`access::REFUSED_*`).
    Refused {
        line: Vec<u8>,
        off: usize,
        drained: usize,
        since: Instant,
    },
}

impl State {
    /// The compiler this connection runs, started early or not.
    fn compiler(&mut self) -> Option<&mut Running> {
        match self {
            State::Compiling { job }
            | State::Reading {
                job: Some(Checked::Started(job)),
                ..
            } => Some(job),
            _ => None,
        }
    }
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
    last_io: Instant,
    writable: bool,
}

pub struct Server {
    poll: Poll,
    listener: TcpListener,
    stats_listener: Option<TcpListener>,
    signals: SignalFd,
    cfg: Config,
    conns: HashMap<Token, Conn>,
    /// How many of `conns` are `State::Refused`: they do not count
    /// against `max_conns`, so refused clients never keep allowed ones out.
    refused: usize,
    queue: VecDeque<Token>,
    running: Vec<Token>,
    next_token: usize,
    accepting: bool,
    /// accept() ran out of descriptors; cleared when a connection closes.
    out_of_fds: bool,
    stop: bool,
    stats: Stats,
}

/// Block the signals we take through the signalfd. Children get a clean
/// mask: std's Command resets it before exec.
fn signal_fd() -> io::Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    mask.thread_block().map_err(io::Error::from)?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(io::Error::from)
}

fn placeholder() -> State {
    State::Stats {
        out: Vec::new(),
        off: 0,
    }
}

impl Server {
    pub fn new(
        listener: std::net::TcpListener,
        stats_listener: Option<std::net::TcpListener>,
        cfg: Config,
    ) -> io::Result<Server> {
        let poll = Poll::new()?;
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let stats_listener = match stats_listener {
            Some(l) => {
                l.set_nonblocking(true)?;
                let mut l = TcpListener::from_std(l);
                poll.registry()
                    .register(&mut l, STATS, Interest::READABLE)?;
                Some(l)
            }
            None => None,
        };
        let signals = signal_fd()?;
        poll.registry().register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        Ok(Server {
            poll,
            listener,
            stats_listener,
            signals,
            cfg,
            conns: HashMap::new(),
            refused: 0,
            queue: VecDeque::new(),
            running: Vec::new(),
            next_token: FIRST_CONN,
            accepting: true,
            out_of_fds: false,
            stop: false,
            stats: Stats::default(),
        })
    }

    /// Serve until SIGTERM/SIGINT. Returns the process exit code.
    pub fn run(&mut self) -> i32 {
        let mut events = Events::with_capacity(256);
        while !self.stop {
            let timeout = if self.conns.is_empty() {
                None
            } else {
                Some(Duration::from_secs(1))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("poll failed: {}", crate::errtext::reason(&e));
                return EXIT_DISTCC_FAILED;
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(false),
                    STATS => self.accept(true),
                    SIGNALS => self.signals(),
                    Token(t) if t & FEED != 0 => self.on_feed(Token(t & !FEED)),
                    t => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.on_readable(t);
                        }
                        if ev.is_writable() {
                            self.on_writable(t);
                        }
                    }
                }
            }
            self.check_timeouts();
        }
        self.shutdown();
        0
    }

    /// Room for one more connection and one more queued request?
    fn has_room(&self) -> bool {
        !self.out_of_fds
            && self.conns.len() - self.refused < self.cfg.max_conns
            && self.queue.len() < self.cfg.max_queued
    }

    fn accept(&mut self, stats: bool) {
        loop {
            if !stats && !self.accepting {
                return;
            }
            let l = if stats {
                match self.stats_listener.as_ref() {
                    Some(l) => l,
                    None => return,
                }
            } else {
                &self.listener
            };
            let (mut stream, peer) = match l.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // Out of descriptors (EMFILE, ENFILE, ...): leave the rest
                    // in the backlog and pause until a connection closes;
                    // with edge-triggered polling nothing would wake us.
                    log::warn!(
                        "accept failed: {}; pausing until a connection closes",
                        crate::errtext::reason(&e)
                    );
                    if !stats {
                        self.out_of_fds = true;
                        self.update_accepting();
                    }
                    return;
                }
            };
            let peer = access::unmapped(peer);
            if !access::allowed(&self.cfg.allow, peer.ip()) {
                log::warn!("connection from {peer} denied by access list");
                if !stats {
                    self.refuse(stream, peer);
                }
                continue;
            }
            if stats && self.conns.len() >= self.cfg.max_conns {
                continue;
            }
            let token = Token(self.next_token);
            self.next_token += 1;
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
            {
                log::warn!(
                    "cannot watch connection from {peer}: {}",
                    crate::errtext::reason(&e)
                );
                continue;
            }
            let state = if stats {
                State::Stats {
                    out: Vec::new(),
                    off: 0,
                }
            } else {
                self.stats.record(JobResult::TcpAccept);
                log::debug!("connection from {peer}");
                State::Reading {
                    dec: Box::new(RequestDecoder::new(self.cfg.limits.clone())),
                    buf: Vec::new(),
                    job: None,
                }
            };
            self.conns.insert(
                token,
                Conn {
                    stream,
                    peer,
                    state,
                    last_io: Instant::now(),
                    writable: false,
                },
            );
            self.update_accepting();
        }
    }

    /// Tell a client outside the access list so, in a line a stock client
    /// shows too, and hold the connection until it has read it.
    fn refuse(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let line = access::refusal_line(stream.local_addr(), peer);
        // A new socket's send buffer is empty: this normally sends it all.
        let off = stream.write(&line).unwrap_or(0);
        if off == line.len() {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        if self.refused >= MAX_REFUSED {
            log::debug!(
                "{} refused connections held: closing {peer} now",
                self.refused
            );
            return;
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        let writable = off < line.len();
        let interest = if writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if self
            .poll
            .registry()
            .register(&mut stream, token, interest)
            .is_err()
        {
            return;
        }
        self.refused += 1;
        self.conns.insert(
            token,
            Conn {
                stream,
                peer,
                state: State::Refused {
                    line,
                    off,
                    drained: 0,
                    since: Instant::now(),
                },
                last_io: Instant::now(),
                writable,
            },
        );
    }

    /// Stop taking connections while full; start again once there is room.
    fn update_accepting(&mut self) {
        let room = self.has_room();
        if self.accepting && !room {
            log::info!(
                "{} connections, {} queued: not accepting more until a slot frees",
                self.conns.len(),
                self.queue.len()
            );
            let _ = self.poll.registry().deregister(&mut self.listener);
            self.accepting = false;
        } else if !self.accepting
            && room
            && self
                .poll
                .registry()
                .register(&mut self.listener, LISTENER, Interest::READABLE)
                .is_ok()
        {
            self.accepting = true;
        }
    }

    fn signals(&mut self) {
        let mut child_exited = false;
        while let Ok(Some(info)) = self.signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => child_exited = true,
                Ok(Signal::SIGTERM | Signal::SIGINT) => {
                    log::info!("got signal {}; shutting down", info.ssi_signo);
                    self.stop = true;
                }
                Ok(Signal::SIGHUP) => {
                    crate::logging::reopen();
                    log::info!("SIGHUP: log reopened");
                }
                _ => {}
            }
        }
        if child_exited {
            self.reap();
        }
    }

    fn reap(&mut self) {
        let mut done = Vec::new();
        for &t in &self.running {
            let Some(job) = self.conns.get_mut(&t).and_then(|c| c.state.compiler()) else {
                continue;
            };
            if let Ok(Some(st)) = job.child.try_wait() {
                done.push((t, st));
            }
        }
        for (t, st) in done {
            self.running.retain(|x| *x != t);
            self.stop_feed(t);
            let Some(conn) = self.conns.get_mut(&t) else {
                continue;
            };
            match std::mem::replace(&mut conn.state, placeholder()) {
                State::Compiling { job } => self.finished(t, job, st),
                State::Reading {
                    dec,
                    buf,
                    job: Some(Checked::Started(mut job)),
                } => {
                    // Gone before its source came (a bad option, a crash):
                    // answer once the request is complete.
                    job.exited = Some(st);
                    conn.state = State::Reading {
                        dec,
                        buf,
                        job: Some(Checked::Started(job)),
                    };
                }
                other => conn.state = other,
            }
        }
        self.stats.sample_kids(self.running.len());
        self.start_queued();
    }

    /// A compile ended: log it, answer, clean up.
    fn finished(&mut self, t: Token, job: Box<Running>, st: std::process::ExitStatus) {
        let Some(peer) = self.conns.get(&t).map(|c| c.peer.to_string()) else {
            return;
        };
        let ms = job.started.elapsed().as_millis();
        let mut summary = job::summary(&peer, &job, st, ms);
        let (input, compiler) = (job.plan.input.clone(), job.plan.compiler());
        let job::Finished {
            reply,
            object_file,
            dir,
            no_object,
        } = job::finish(*job, st);
        if let Some(why) = &no_object {
            log::warn!("client {peer}: {compiler} {input}: {why}; answered as a failure");
            summary = job::no_object_summary(&peer, &compiler, &input, ms);
        }
        let ok = summary.result == JobResult::CompileOk;
        self.stats.compiled(&input, &compiler, ms as u64, ok);
        // Answer first: removing a pump job's mirror (hundreds of headers)
        // would delay the client. An open object file outlives its directory.
        self.start_reply(t, reply, object_file, summary);
        drop(dir);
    }

    /// The whole request of a job started early is in: feed its compiler,
    /// or answer if the compiler is already gone.
    fn source_arrived(&mut self, t: Token, mut job: Box<Running>) {
        if let Some(st) = job.exited {
            return self.finished(t, job, st);
        }
        let ready = job
            .feed
            .as_mut()
            .map(|f| f.source_complete(self.cfg.limits.max_decompressed));
        if let Some(Err(r)) = ready {
            self.running.retain(|x| *x != t);
            let (compiler, input, features) =
                (job.plan.compiler(), job.plan.input.clone(), job.features);
            job::abort(*job);
            self.spawn_failed(t, features, &compiler, &input, r);
            return self.start_queued();
        }
        // The compile proper starts now; the wait for the client's cpp is
        // not its time (the log line, --job-lifetime).
        job.started = Instant::now();
        if let Some(c) = self.conns.get_mut(&t) {
            c.state = State::Compiling { job };
        }
        self.start_feed(t);
    }

    /// Watch a compiling job's stdin pipe and fill it.
    fn start_feed(&mut self, t: Token) {
        let Some(Conn {
            state: State::Compiling { job },
            ..
        }) = self.conns.get_mut(&t)
        else {
            return;
        };
        let Some(f) = &job.feed else {
            return;
        };
        let fd = f.pipe.as_raw_fd();
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), Token(t.0 | FEED), Interest::WRITABLE)
        {
            log::warn!(
                "cannot watch a compiler's input pipe: {}",
                crate::errtext::reason(&e)
            );
        }
        self.on_feed(t);
    }

    /// The pipe has room: move more of the source in; close it when done.
    fn on_feed(&mut self, t: Token) {
        let Some(Conn {
            state: State::Compiling { job },
            peer,
            ..
        }) = self.conns.get_mut(&t)
        else {
            return;
        };
        let Some(f) = job.feed.as_mut() else {
            return;
        };
        match f.pump() {
            Ok(false) => return,
            Ok(true) => {}
            // The compiler stopped reading: its exit status says why.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
            Err(e) => {
                // Never let the compiler see a cut-short source as whole.
                log::warn!(
                    "client {peer}: feeding the compiler failed: {}",
                    crate::errtext::reason(&e)
                );
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(job.child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        self.stop_feed(t);
    }

    /// Close a job's stdin pipe (the compiler's EOF), if it is open.
    fn stop_feed(&mut self, t: Token) {
        let Some(job) = self.conns.get_mut(&t).and_then(|c| c.state.compiler()) else {
            return;
        };
        if let Some(f) = job.feed.take() {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&f.pipe.as_raw_fd()));
        }
    }

    fn start_queued(&mut self) {
        while self.running.len() < self.cfg.jobs {
            let Some(t) = self.queue.pop_front() else {
                break;
            };
            let Some(conn) = self.conns.get_mut(&t) else {
                continue;
            };
            let State::Queued { job } = std::mem::replace(&mut conn.state, placeholder()) else {
                continue;
            };
            self.spawn(t, *job);
        }
        self.update_accepting();
    }

    /// Start a job whose whole request is in.
    fn spawn(&mut self, t: Token, job: Prepared) {
        let features = job.features;
        let compiler = job.plan.compiler();
        let input = job.plan.input.clone();
        match job::spawn(
            job,
            self.cfg.sandbox,
            self.cfg.limits.max_decompressed,
            true,
        ) {
            Ok(running) => {
                if let Some(c) = self.conns.get_mut(&t) {
                    c.state = State::Compiling {
                        job: Box::new(running),
                    };
                    self.running.push(t);
                    self.stats.sample_kids(self.running.len());
                    self.start_feed(t);
                }
            }
            Err(r) => self.spawn_failed(t, features, &compiler, &input, r),
        }
    }

    /// A piped job's argv is checked but its source is still coming: start
    /// its compiler now if a slot is free and nobody waits for one.
    fn start_early(&mut self, t: Token) {
        if self.running.len() >= self.cfg.jobs || !self.queue.is_empty() {
            return;
        }
        let Some(Conn {
            state: State::Reading { job, .. },
            ..
        }) = self.conns.get_mut(&t)
        else {
            return;
        };
        if !matches!(job, Some(Checked::Ready(p)) if p.input == Input::Piped) {
            return;
        }
        let Some(Checked::Ready(p)) = job.take() else {
            unreachable!()
        };
        let (compiler, input) = (p.plan.compiler(), p.plan.input.clone());
        *job = Some(
            match job::spawn(p, self.cfg.sandbox, self.cfg.limits.max_decompressed, false) {
                Ok(r) => {
                    self.running.push(t);
                    self.stats.sample_kids(self.running.len());
                    Checked::Started(Box::new(r))
                }
                Err(r) => Checked::Failed(r, compiler, input),
            },
        );
    }

    /// Whole requests wait for a slot: take one back from a job that
    /// started early and has waited over `EARLY_GRACE` for its source (a
    /// client whose cpp is slow, or a slowloris, must not keep finished
    /// requests waiting). It starts again when its source is in.
    fn preempt(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let early = |c: Option<&Conn>| {
            matches!(c.map(|c| &c.state), Some(State::Reading {
                job: Some(Checked::Started(j)),
                ..
            }) if j.exited.is_none() && j.started.elapsed() > EARLY_GRACE)
        };
        let Some(t) = self
            .running
            .iter()
            .copied()
            .find(|t| early(self.conns.get(t)))
        else {
            return;
        };
        self.stop_feed(t);
        self.running.retain(|x| *x != t);
        if let Some(Conn {
            state: State::Reading { job, .. },
            ..
        }) = self.conns.get_mut(&t)
        {
            if let Some(Checked::Started(r)) = job.take() {
                *job = Some(Checked::Ready(job::unstart(*r)));
            }
        }
        self.start_queued();
    }

    fn spawn_failed(
        &mut self,
        t: Token,
        features: Features,
        compiler: &str,
        input: &str,
        r: Refusal,
    ) {
        let peer = self
            .conns
            .get(&t)
            .map(|c| c.peer.to_string())
            .unwrap_or_default();
        log::warn!("client {peer}: {} ({compiler} {input})", r.why);
        let summary = JobSummary::faked(&peer, JobResult::Other, r.code, 0).job(compiler, input);
        let reply = job::refusal_reply(features, &r);
        self.start_reply(t, reply, None, summary);
    }

    fn start_reply(
        &mut self,
        t: Token,
        r: reply::Reply,
        object: Option<(File, u64)>,
        summary: JobSummary,
    ) {
        // Uncompressed, the object goes straight from its file.
        let from_file = !r.features.compress();
        let head = match &object {
            Some((_, len)) if from_file && *len <= u32::MAX as u64 => {
                reply::encode_head_v1(r.features, r.status, &r.stderr, &r.stdout, *len as u32)
            }
            _ => reply::encode(&r),
        };
        let head = match head {
            Ok(h) => h,
            Err(e) => {
                log::warn!("cannot encode reply: {e}");
                self.close(t);
                return;
            }
        };
        let object = object.filter(|_| from_file);
        let Some(conn) = self.conns.get_mut(&t) else {
            return;
        };
        conn.state = State::Replying {
            head,
            off: 0,
            object,
            sent: 0,
            summary,
        };
        conn.last_io = Instant::now();
        if !conn.writable {
            conn.writable = true;
            let _ = self.poll.registry().reregister(
                &mut conn.stream,
                t,
                Interest::READABLE | Interest::WRITABLE,
            );
        }
        self.on_writable(t);
    }

    fn on_readable(&mut self, t: Token) {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let Some(conn) = self.conns.get_mut(&t) else {
                return;
            };
            let n = match conn.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if !matches!(conn.state, State::Refused { .. }) {
                        log::warn!(
                            "client {}: read failed: {}",
                            conn.peer,
                            crate::errtext::reason(&e)
                        );
                    }
                    return self.close(t);
                }
            };
            conn.last_io = Instant::now();
            let peer = conn.peer;
            match &mut conn.state {
                State::Reading { dec, buf, job } => {
                    if n == 0 {
                        if dec.features().is_none() && buf.is_empty() {
                            // A port probe (nc -z, a health check): not worth a warning.
                            log::debug!("client {peer}: closed without sending a request");
                        } else if dec.awaiting_source() && buf.is_empty() {
                            // A client's normal way out when its cpp fails.
                            log::debug!("client {peer}: {}", NO_SOURCE);
                            self.stats.record(JobResult::CliDisconn);
                        } else {
                            log::warn!(
                                "client {peer}: connection closed before the request was complete"
                            );
                            self.stats.record(JobResult::CliDisconn);
                        }
                        return self.close(t);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // The decoder pauses once argv is complete; check it then.
                    loop {
                        let used = match dec.feed(buf) {
                            Ok(u) => u,
                            Err(e) => {
                                log::warn!("client {peer}: {e}; dropping connection");
                                self.stats.record(JobResult::RejBadReq);
                                return self.close(t);
                            }
                        };
                        buf.drain(..used);
                        if job.is_none() && dec.argv_complete() {
                            *job = Some(
                                match job::prepare(dec, &self.cfg.policy, &self.cfg.tmp, true) {
                                    Ok(p) => Checked::Ready(p),
                                    Err(r) => Checked::Refused(r),
                                },
                            );
                            continue;
                        }
                        if used == 0 || dec.is_done() {
                            break;
                        }
                    }
                    if dec.is_done() {
                        let features = dec.features().unwrap_or(Features::PLAIN);
                        let argv0 = dec
                            .argv()
                            .first()
                            .map(|a| a.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let mut job = job.take();
                        if features.cpp_on_server() {
                            // Pump: lay the client's files out now, so a queued
                            // job holds disk, not memory.
                            let State::Reading { dec, .. } =
                                std::mem::replace(&mut conn.state, placeholder())
                            else {
                                unreachable!()
                            };
                            if let Some(Checked::Ready(p)) = &mut job {
                                if let Err(r) = p.receive_files(dec.take()) {
                                    job = Some(Checked::Refused(r));
                                }
                            }
                        }
                        match job {
                            None => return self.close(t),
                            Some(Checked::Refused(r)) => {
                                log::warn!("client {peer}: refused: {}", r.why);
                                let summary = JobSummary {
                                    compiler: Some(argv0),
                                    ..JobSummary::faked(peer, JobResult::RejBadReq, r.code, 0)
                                };
                                let reply = job::refusal_reply(features, &r);
                                self.start_reply(t, reply, None, summary);
                            }
                            Some(Checked::Failed(r, compiler, input)) => {
                                self.spawn_failed(t, features, &compiler, &input, r);
                            }
                            Some(Checked::Started(r)) => self.source_arrived(t, r),
                            Some(Checked::Ready(p)) if self.running.len() < self.cfg.jobs => {
                                self.spawn(t, p);
                            }
                            Some(Checked::Ready(p)) => {
                                conn.state = State::Queued { job: Box::new(p) };
                                self.queue.push_back(t);
                                self.update_accepting();
                            }
                        }
                        return;
                    }
                    if matches!(job, Some(Checked::Ready(p)) if p.input == Input::Piped) {
                        self.start_early(t);
                    }
                }
                State::Stats { out, .. } => {
                    if out.is_empty() {
                        // Any request will do, as with distccd: answer now.
                        let page = if super::status_page::wants_html(&chunk[..n]) {
                            let live = live_jobs(&self.conns, &self.running);
                            super::status_page::page(
                                &self.stats,
                                &live,
                                self.queue.len(),
                                self.cfg.jobs,
                            )
                        } else {
                            self.stats.page(self.running.len(), &self.cfg.tmp)
                        };
                        let Some(conn) = self.conns.get_mut(&t) else {
                            return;
                        };
                        let State::Stats { out, .. } = &mut conn.state else {
                            return;
                        };
                        *out = page.into_bytes();
                        if !conn.writable {
                            conn.writable = true;
                            let _ = self.poll.registry().reregister(
                                &mut conn.stream,
                                t,
                                Interest::READABLE | Interest::WRITABLE,
                            );
                        }
                        self.on_writable(t);
                        return;
                    }
                    if n == 0 {
                        return self.close(t);
                    }
                }
                State::Refused { drained, .. } => {
                    *drained += n;
                    if n == 0 || *drained > access::REFUSED_DRAIN {
                        return self.close(t);
                    }
                }
                State::Queued { .. } | State::Compiling { .. } | State::Replying { .. } => {
                    if n == 0 {
                        log::warn!("client {peer}: disconnected before the reply; job abandoned");
                    } else {
                        log::warn!(
                            "client {peer}: unexpected data after the request; dropping connection"
                        );
                    }
                    self.stats.record(JobResult::CliDisconn);
                    return self.close(t);
                }
            }
        }
    }

    fn on_writable(&mut self, t: Token) {
        let Some(conn) = self.conns.get_mut(&t) else {
            return;
        };
        if let State::Refused { line, off, .. } = &mut conn.state {
            while *off < line.len() {
                match conn.stream.write(&line[*off..]) {
                    Ok(0) => return self.close(t),
                    Ok(n) => *off += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return self.close(t),
                }
            }
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            conn.writable = false;
            let _ = self
                .poll
                .registry()
                .reregister(&mut conn.stream, t, Interest::READABLE);
            return;
        }
        let (head, off) = match &mut conn.state {
            State::Replying { head, off, .. } => (head, off),
            State::Stats { out, off } if !out.is_empty() => (out, off),
            _ => return,
        };
        while *off < head.len() {
            match conn.stream.write(&head[*off..]) {
                Ok(0) => break,
                Ok(n) => {
                    *off += n;
                    conn.last_io = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!(
                        "client {}: write failed: {}",
                        conn.peer,
                        crate::errtext::reason(&e)
                    );
                    return self.close(t);
                }
            }
        }
        if let State::Replying {
            object: Some((file, len)),
            sent,
            ..
        } = &mut conn.state
        {
            while *sent < *len {
                match send_file(&conn.stream, file, *sent, *len - *sent) {
                    Ok(0) => break,
                    Ok(n) => {
                        *sent += n as u64;
                        conn.last_io = Instant::now();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        log::warn!(
                            "client {}: sending the object failed: {}",
                            conn.peer,
                            crate::errtext::reason(&e)
                        );
                        return self.close(t);
                    }
                }
            }
            if *sent < *len {
                // The file shrank under us: the client sees a short reply.
                log::warn!(
                    "client {}: the object file shrank while being sent",
                    conn.peer
                );
                return self.close(t);
            }
        }
        if let State::Replying { summary, .. } = &conn.state {
            log::info!("{summary}");
            self.stats.record(summary.result);
        }
        self.close(t);
    }

    fn check_timeouts(&mut self) {
        let now = Instant::now();
        let mut idle = Vec::new();
        let mut overdue = Vec::new();
        let mut refused = Vec::new();
        for (t, c) in &self.conns {
            match &c.state {
                State::Compiling { job } => {
                    if let Some(limit) = self.cfg.job_lifetime {
                        if now.duration_since(job.started) > limit {
                            overdue.push(*t);
                        }
                    }
                }
                State::Queued { .. } => {}
                State::Refused { since, .. } => {
                    if now.duration_since(*since) > access::REFUSED_LINGER {
                        refused.push(*t);
                    }
                }
                _ => {
                    if now.duration_since(c.last_io) > self.cfg.io_timeout {
                        idle.push(*t);
                    }
                }
            }
        }
        for t in idle {
            if let Some(c) = self.conns.get(&t) {
                log::warn!("client {}: I/O timeout; dropping connection", c.peer);
            }
            self.close(t);
        }
        for t in overdue {
            self.kill_overdue(t);
        }
        for t in refused {
            self.close(t);
        }
        self.preempt();
    }

    /// `--job-lifetime` ran out: kill the compiler and answer with distcc's
    /// EXIT_TIMEOUT status, as distccd does.
    fn kill_overdue(&mut self, t: Token) {
        self.running.retain(|x| *x != t);
        let Some(conn) = self.conns.get_mut(&t) else {
            return;
        };
        let State::Compiling { job } = std::mem::replace(&mut conn.state, placeholder()) else {
            return;
        };
        let peer = conn.peer;
        let (compiler, input, features) =
            (job.plan.compiler(), job.plan.input.clone(), job.features);
        let ms = job.started.elapsed().as_millis();
        job::abort(*job);
        log::warn!("client {peer}: {compiler} {input} ran past --job-lifetime; killed");
        let r = Refusal {
            code: EXIT_TIMEOUT,
            why: "compile exceeded the daemon's --job-lifetime".into(),
        };
        let summary = JobSummary::faked(peer, JobResult::CompileTimeout, EXIT_TIMEOUT, ms)
            .job(&compiler, &input);
        let reply = job::refusal_reply(features, &r);
        self.start_reply(t, reply, None, summary);
        self.start_queued();
    }

    /// Drop a connection and anything it owns (a queued request, a running
    /// compiler; job directories remove themselves).
    fn close(&mut self, t: Token) {
        let Some(mut conn) = self.conns.remove(&t) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        match std::mem::replace(&mut conn.state, placeholder()) {
            State::Compiling { job }
            | State::Reading {
                job: Some(Checked::Started(job)),
                ..
            } => job::abort(*job),
            State::Refused { .. } => self.refused -= 1,
            _ => {}
        }
        self.running.retain(|x| *x != t);
        self.queue.retain(|x| *x != t);
        self.out_of_fds = false;
        self.start_queued();
    }

    fn shutdown(&mut self) {
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for t in tokens {
            self.close(t);
        }
    }
}

/// The jobs compiling now, for the HTML page.
fn live_jobs(conns: &HashMap<Token, Conn>, running: &[Token]) -> Vec<super::status_page::Live> {
    running
        .iter()
        .filter_map(|t| conns.get(t))
        .filter_map(|c| match &c.state {
            State::Compiling { job } => Some(super::status_page::Live {
                input: job.plan.input.clone(),
                client: c.peer.to_string(),
                ms: job.started.elapsed().as_millis() as u64,
            }),
            _ => None,
        })
        .collect()
}

/// Send up to `len` bytes of `file` from `offset` with sendfile(2).
fn send_file(sock: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<usize> {
    let mut off = offset as libc::off_t;
    let n = len.min(1 << 30) as usize;
    Ok(nix::sys::sendfile::sendfile(sock, file, Some(&mut off), n)?)
}
