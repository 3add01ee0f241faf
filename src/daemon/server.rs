//! The daemon's event loop: one process, one mio poll. Connections are
//! explicit state machines; a connection holds a compile slot only once its
//! whole request has arrived. Compiler exits arrive through a signalfd.

use std::collections::{HashMap, VecDeque};
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

use crate::protocol::request::{Request, RequestDecoder};
use crate::protocol::{reply, Limits};

use super::access::{self, Cidr};
use super::job::{self, Plan, Running};
use super::whitelist::Policy;

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);

pub struct Config {
    pub allow: Vec<Cidr>,
    pub policy: Policy,
    pub jobs: usize,
    pub tmp: PathBuf,
    pub io_timeout: Duration,
    pub job_lifetime: Option<Duration>,
    /// Connections held open at once; past this, new ones wait in the backlog.
    pub max_conns: usize,
    pub limits: Limits,
}

enum State {
    /// Receiving the request; `plan` is set once argv has been checked
    /// (an Err is a refusal, answered once the whole request is in).
    Reading {
        dec: Box<RequestDecoder>,
        buf: Vec<u8>,
        plan: Option<Result<Plan, String>>,
    },
    /// Whole request here, waiting for a compile slot.
    Queued {
        req: Box<Request>,
        plan: Plan,
    },
    Compiling {
        job: Box<Running>,
    },
    Replying {
        out: Vec<u8>,
        off: usize,
        summary: String,
    },
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
    signals: SignalFd,
    cfg: Config,
    conns: HashMap<Token, Conn>,
    queue: VecDeque<Token>,
    running: Vec<Token>,
    next_token: usize,
    accepting: bool,
    stop: bool,
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

impl Server {
    pub fn new(listener: std::net::TcpListener, cfg: Config) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        let signals = signal_fd()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        poll.registry().register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        Ok(Server {
            poll,
            listener,
            signals,
            cfg,
            conns: HashMap::new(),
            queue: VecDeque::new(),
            running: Vec::new(),
            next_token: 2,
            accepting: true,
            stop: false,
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
                log::error!("poll failed: {e}");
                return crate::exitcode::EXIT_DISTCC_FAILED;
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    SIGNALS => self.signals(),
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

    fn accept(&mut self) {
        while self.accepting {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for now.
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            if !access::allowed(&self.cfg.allow, peer.ip()) {
                log::warn!("connection from {peer} denied by access list");
                continue;
            }
            let token = Token(self.next_token);
            self.next_token += 1;
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
            {
                log::warn!("cannot watch connection from {peer}: {e}");
                continue;
            }
            log::debug!("connection from {peer}");
            self.conns.insert(
                token,
                Conn {
                    stream,
                    peer,
                    state: State::Reading {
                        dec: Box::new(RequestDecoder::new(self.cfg.limits.clone())),
                        buf: Vec::new(),
                        plan: None,
                    },
                    last_io: Instant::now(),
                    writable: false,
                },
            );
            if self.conns.len() >= self.cfg.max_conns {
                log::info!(
                    "{} connections open; not accepting more until one ends",
                    self.conns.len()
                );
                let _ = self.poll.registry().deregister(&mut self.listener);
                self.accepting = false;
            }
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
            if let Some(Conn {
                state: State::Compiling { job },
                ..
            }) = self.conns.get_mut(&t)
            {
                if let Ok(Some(st)) = job.child.try_wait() {
                    done.push((t, st));
                }
            }
        }
        for (t, st) in done {
            self.running.retain(|x| *x != t);
            let Some(conn) = self.conns.get_mut(&t) else {
                continue;
            };
            let State::Compiling { job } = std::mem::replace(&mut conn.state, placeholder()) else {
                continue;
            };
            let ms = job.started.elapsed().as_millis();
            let summary = job::summary(&conn.peer.to_string(), &job, st, ms);
            let r = job::finish(*job, st);
            self.start_reply(t, r, summary);
        }
        self.start_queued();
    }

    fn start_queued(&mut self) {
        while self.running.len() < self.cfg.jobs {
            let Some(t) = self.queue.pop_front() else {
                return;
            };
            let Some(conn) = self.conns.get_mut(&t) else {
                continue;
            };
            let State::Queued { req, plan } = std::mem::replace(&mut conn.state, placeholder())
            else {
                continue;
            };
            self.spawn(t, *req, plan);
        }
    }

    fn spawn(&mut self, t: Token, req: Request, plan: Plan) {
        let compiler = plan.argv[0].clone();
        let input = plan.input.clone();
        match job::spawn(plan, &req, &self.cfg.tmp) {
            Ok(job) => {
                if let Some(c) = self.conns.get_mut(&t) {
                    c.state = State::Compiling { job: Box::new(job) };
                    self.running.push(t);
                }
            }
            Err(e) => {
                let peer = self
                    .conns
                    .get(&t)
                    .map(|c| c.peer.to_string())
                    .unwrap_or_default();
                log::warn!(
                    "client {peer}: {} ({compiler} {input})",
                    String::from_utf8_lossy(&e.stderr).trim()
                );
                let summary = format!(
                    "client: {peer} OTHER exit:{} sig:0 core:0 ret:0 time:0ms {compiler} {input}",
                    e.status >> 8
                );
                let r = job::failed_reply(req.version, e);
                self.start_reply(t, r, summary);
            }
        }
    }

    fn start_reply(&mut self, t: Token, r: reply::Reply, summary: String) {
        let out = match reply::encode(&r) {
            Ok(o) => o,
            Err(e) => {
                log::warn!("cannot encode reply: {e}");
                self.close(t);
                return;
            }
        };
        let Some(conn) = self.conns.get_mut(&t) else {
            return;
        };
        conn.state = State::Replying {
            out,
            off: 0,
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
                    log::warn!("client {}: read failed: {e}", conn.peer);
                    return self.close(t);
                }
            };
            conn.last_io = Instant::now();
            let peer = conn.peer;
            match &mut conn.state {
                State::Reading { dec, buf, plan } => {
                    if n == 0 {
                        if dec.version().is_none() && buf.is_empty() {
                            // A port probe (nc -z, a health check): not worth a warning.
                            log::debug!("client {peer}: closed without sending a request");
                        } else {
                            log::warn!(
                                "client {peer}: connection closed before the request was complete"
                            );
                        }
                        return self.close(t);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let used = match dec.feed(buf) {
                        Ok(u) => u,
                        Err(e) => {
                            log::warn!("client {peer}: {e}; dropping connection");
                            return self.close(t);
                        }
                    };
                    buf.drain(..used);
                    if plan.is_none() && dec.argv_complete() {
                        if dec.version().unwrap_or(0) >= 3 {
                            log::warn!("client {peer}: pump mode (protocol 3) is not supported yet; dropping connection");
                            return self.close(t);
                        }
                        let p = job::plan(dec.argv(), &self.cfg.policy);
                        if p.is_err() {
                            dec.discard_payload();
                        }
                        *plan = Some(p);
                    }
                    if dec.is_done() {
                        let Some(p) = plan.take() else {
                            return self.close(t);
                        };
                        let State::Reading { dec, .. } =
                            std::mem::replace(&mut conn.state, placeholder())
                        else {
                            unreachable!()
                        };
                        let req = dec.take();
                        match p {
                            Err(why) => {
                                log::warn!("client {peer}: refused: {why}");
                                let summary = format!(
                                    "client: {peer} REJ_BAD_REQ exit:{} sig:0 core:0 ret:0 time:0ms {}",
                                    crate::exitcode::EXIT_BAD_ARGUMENTS,
                                    req.argv.first().map(String::as_str).unwrap_or("")
                                );
                                self.start_reply(t, job::refusal(req.version, &why), summary);
                            }
                            Ok(p) if self.running.len() < self.cfg.jobs => self.spawn(t, req, p),
                            Ok(p) => {
                                conn.state = State::Queued {
                                    req: Box::new(req),
                                    plan: p,
                                };
                                self.queue.push_back(t);
                            }
                        }
                        return;
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
                    return self.close(t);
                }
            }
        }
    }

    fn on_writable(&mut self, t: Token) {
        let Some(conn) = self.conns.get_mut(&t) else {
            return;
        };
        let State::Replying { out, off, summary } = &mut conn.state else {
            return;
        };
        while *off < out.len() {
            match conn.stream.write(&out[*off..]) {
                Ok(0) => break,
                Ok(n) => {
                    *off += n;
                    conn.last_io = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("client {}: write failed: {e}", conn.peer);
                    return self.close(t);
                }
            }
        }
        log::info!("{summary}");
        self.close(t);
    }

    fn check_timeouts(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for (t, c) in &self.conns {
            match &c.state {
                State::Compiling { job } => {
                    if let Some(limit) = self.cfg.job_lifetime {
                        if now.duration_since(job.started) > limit {
                            expired.push((*t, "job lifetime exceeded"));
                        }
                    }
                }
                State::Queued { .. } => {}
                _ => {
                    if now.duration_since(c.last_io) > self.cfg.io_timeout {
                        expired.push((*t, "I/O timeout"));
                    }
                }
            }
        }
        for (t, why) in expired {
            if let Some(c) = self.conns.get(&t) {
                log::warn!("client {}: {why}; dropping connection", c.peer);
            }
            self.close(t);
        }
    }

    /// Drop a connection and anything it owns (a queued request, a running
    /// compiler and its job directory).
    fn close(&mut self, t: Token) {
        let Some(mut conn) = self.conns.remove(&t) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if let State::Compiling { job } = std::mem::replace(&mut conn.state, placeholder()) {
            job::abort(*job);
        }
        self.running.retain(|x| *x != t);
        self.queue.retain(|x| *x != t);
        if !self.accepting
            && self.conns.len() < self.cfg.max_conns
            && self
                .poll
                .registry()
                .register(&mut self.listener, LISTENER, Interest::READABLE)
                .is_ok()
        {
            self.accepting = true;
        }
        self.start_queued();
    }

    fn shutdown(&mut self) {
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for t in tokens {
            self.close(t);
        }
    }
}

fn placeholder() -> State {
    State::Replying {
        out: Vec::new(),
        off: 0,
        summary: String::new(),
    }
}
