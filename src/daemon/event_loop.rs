//! The daemon's event loop: one process, one mio poll, a thin driver of
//! the job machine (`machine`). It accepts connections, moves bytes,
//! spawns and reaps compilers and performs what each job's machine asks;
//! the machine decides. Compile slots are `slots`'; job directories are
//! removed a bounded step per turn (`trash`). A job's source goes straight
//! into its file, so a slow or large request costs a socket and a small
//! buffer, not its size in memory. Compiler exits arrive through a
//! signalfd, and nothing here waits for a child.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::exitcode::*;
use crate::fxhash::FxMap;
use crate::protocol::reply::Reply;
use crate::protocol::status::{JobResult, WaitStatus};
use crate::protocol::Limits;
use crate::store;

use super::access::{self, Cidr};
use super::admission::{self, Reader};
use super::cache::{self, Cache, Material, Probe};
use super::job::{JobDir, Prepared, Running};
use super::machine::{Action, Event, Job, Timeouts};
use super::outgoing::{Outgoing, Progress};
use super::slots::{JobId, Slots};
use super::spare_dirs::SpareDirs;
use super::stats::Stats;
use super::trash::{self, Trash};
use super::whitelist::Policy;

mod perform;

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const STATS: Token = Token(2);
const FIRST_TOKEN: usize = 3;
/// How long a job started early keeps its slot against whole requests
/// that wait (a client's cpp usually takes far less).
const EARLY_GRACE: Duration = Duration::from_secs(1);
/// Refused connections held open at once (see `machine::Job::refused`);
/// past this, a refused client gets its line and an immediate close.
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
    /// The pump header store's setting (`header_store::open`).
    pub header_store: Option<(Option<PathBuf>, u64)>,
    /// `--cache-dir`, `--cache-size`: the result cache, if on.
    pub cache: Option<cache::Settings>,
    /// The host's free memory, read before a slot is granted.
    pub memory: Reader,
}

/// What a poll token stands for.
#[derive(Clone, Copy, Debug)]
enum Source {
    Listener,
    StatsListener,
    Signals,
    Client(JobId),
    CompilerStdin(JobId),
}

/// What a job owns outside its machine.
#[derive(Default)]
enum Work {
    #[default]
    Nothing,
    /// Its job directory, receiving the source.
    Prepared(Box<Prepared>),
    Running(Box<Running>),
    /// Its compiler has been reaped: never signal its pid again (it may
    /// belong to someone else by now).
    Exited(Box<Running>),
}

struct Conn {
    stream: TcpStream,
    token: Token,
    peer: SocketAddr,
    job: Job,
    work: Work,
    /// The reply `Action::Finish` collected, until `Action::SendResult`.
    result: Option<(Reply, Option<(File, u64)>)>,
    out: Option<Outgoing>,
    writable: bool,
    /// The compiler's stdin pipe, while watched.
    feed_token: Option<Token>,
    /// Outside the access list (does not count against `max_conns`).
    refused: bool,
    /// Result cache: what the job's key is made of, until its lookup.
    material: Option<Material>,
    /// Result cache: the key of a job that missed, until it finishes.
    key: Option<store::Digest>,
    /// Result cache: a successful compile to keep once its reply is out.
    keep: Option<Keep>,
}

/// A successful compile's result, kept after its reply (`Action::Keep`).
struct Keep {
    key: store::Digest,
    /// The job directory, removed once the object is read from it.
    dir: PathBuf,
    object: PathBuf,
    stderr: Vec<u8>,
    dotd: Option<Vec<u8>>,
}

pub struct Server {
    poll: Poll,
    listener: TcpListener,
    stats_listener: Option<TcpListener>,
    signals: SignalFd,
    cfg: Config,
    sources: FxMap<Token, Source>,
    conns: FxMap<JobId, Conn>,
    slots: Slots,
    /// How many of `conns` are refused clients: they do not count against
    /// `max_conns`, so refused clients never keep allowed ones out.
    refused: usize,
    next_token: usize,
    accepting: bool,
    /// accept() ran out of descriptors; cleared when a connection closes.
    out_of_fds: bool,
    stop: bool,
    stats: Stats,
    /// Killed compilers not reaped yet, and the directory to remove then.
    dying: Vec<(Child, Option<JobDir>)>,
    trash: Trash,
    /// The pump header store, if on.
    store: Option<crate::store::ContentStore>,
    cache: Option<Cache>,
    /// Compilers whose identity is being read, and the jobs waiting for it.
    probes: Vec<(Probe, Vec<JobId>)>,
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
    pub fn new(
        listener: std::net::TcpListener,
        stats_listener: Option<std::net::TcpListener>,
        cfg: Config,
    ) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut sources = FxMap::default();
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        sources.insert(LISTENER, Source::Listener);
        let stats_listener = match stats_listener {
            Some(l) => {
                l.set_nonblocking(true)?;
                let mut l = TcpListener::from_std(l);
                poll.registry()
                    .register(&mut l, STATS, Interest::READABLE)?;
                sources.insert(STATS, Source::StatsListener);
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
        sources.insert(SIGNALS, Source::Signals);
        // Opened here, after privileges are dropped: its files belong to
        // the user the daemon runs as.
        let store = super::header_store::open(&cfg.header_store, &cfg.tmp);
        if let (Some((dir, size)), Some(_)) = (&cfg.header_store, &store) {
            let dir = dir
                .clone()
                .unwrap_or_else(|| super::header_store::default_dir(&cfg.tmp));
            log::info!(
                "pump header store in {}, up to {} MiB",
                dir.display(),
                size >> 20
            );
        }
        // Opened here, after privileges were dropped, so it can write.
        let cache = cfg.cache.clone().map(Cache::open);
        Ok(Server {
            store,
            poll,
            listener,
            stats_listener,
            signals,
            slots: Slots::new(cfg.jobs),
            trash: Trash::keeping(SpareDirs::open(&cfg.tmp)),
            cfg,
            sources,
            conns: FxMap::default(),
            refused: 0,
            next_token: FIRST_TOKEN,
            accepting: true,
            out_of_fds: false,
            stop: false,
            stats: Stats::default(),
            dying: Vec::new(),
            cache,
            probes: Vec::new(),
        })
    }

    /// Serve until SIGTERM/SIGINT. Returns the process exit code.
    pub fn run(&mut self) -> i32 {
        let mut events = Events::with_capacity(256);
        while !self.stop {
            let evicting = self.cache.as_ref().is_some_and(|c| c.needs_eviction());
            let timeout = if !self.trash.is_empty() || evicting {
                // Directories to remove, or cache entries to evict: between
                // events, not after them.
                Some(Duration::ZERO)
            } else if self.conns.is_empty() {
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
                match self.sources.get(&ev.token()).copied() {
                    Some(Source::Listener) => self.accept(false),
                    Some(Source::StatsListener) => self.accept(true),
                    Some(Source::Signals) => self.signals(),
                    Some(Source::CompilerStdin(id)) => self.run_job(id, Event::PipeWritable),
                    Some(Source::Client(id)) => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.on_readable(id);
                        }
                        if ev.is_writable() {
                            self.on_writable(id);
                        }
                    }
                    None => {}
                }
                self.settle();
            }
            self.tick();
            self.trash.work(trash::PER_TURN);
            if let Some(c) = self.cache.as_mut() {
                c.evict_step();
            }
        }
        self.shutdown();
        0
    }

    fn new_token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            io: self.cfg.io_timeout,
            job_lifetime: self.cfg.job_lifetime,
        }
    }

    /// Feed one event to a job's machine and perform what it asks, feeding
    /// the outcome of each piece of work back in.
    fn run_job(&mut self, id: JobId, ev: Event) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let mut todo: VecDeque<Action> = conn.job.handle(ev, Instant::now()).into();
        while let Some(a) = todo.pop_front() {
            let Some(back) = self.perform(id, a) else {
                continue;
            };
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            todo.extend(conn.job.handle(back, Instant::now()));
        }
    }

    /// Room for one more connection and one more queued request?
    fn has_room(&self) -> bool {
        !self.out_of_fds
            && self.conns.len() - self.refused < self.cfg.max_conns
            && self.slots.queued() < self.cfg.max_queued
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
            let token = self.new_token();
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
            let now = Instant::now();
            let who = peer.to_string();
            let job = if stats {
                Job::stats(&who, self.timeouts(), now)
            } else {
                self.stats.record(JobResult::TcpAccept);
                log::debug!("connection from {peer}");
                Job::request(&who, self.cfg.limits.clone(), self.timeouts(), now)
            };
            self.add_conn(token, stream, peer, job, None);
            self.update_accepting();
        }
    }

    fn add_conn(
        &mut self,
        token: Token,
        stream: TcpStream,
        peer: SocketAddr,
        job: Job,
        out: Option<Outgoing>,
    ) {
        let id = token.0;
        self.sources.insert(token, Source::Client(id));
        let refused = job.is_refused();
        self.conns.insert(
            id,
            Conn {
                stream,
                token,
                peer,
                job,
                work: Work::Nothing,
                result: None,
                writable: out.is_some(),
                out,
                feed_token: None,
                refused,
                material: None,
                key: None,
                keep: None,
            },
        );
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
        let token = self.new_token();
        let rest = (off < line.len()).then(|| Outgoing::new(line).from(off));
        let interest = if rest.is_some() {
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
        let job = Job::refused(&peer.to_string(), self.timeouts(), Instant::now());
        self.add_conn(token, stream, peer, job, rest);
    }

    /// Stop taking connections while full; start again once there is room.
    fn update_accepting(&mut self) {
        let room = self.has_room();
        if self.accepting && !room {
            log::info!(
                "{} connections, {} queued: not accepting more until a slot frees",
                self.conns.len(),
                self.slots.queued()
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

    /// Memory admission for one more compile (`admission::admit`). Read
    /// only when a slot would be granted; no readable /proc admits.
    fn room(&self) -> bool {
        self.memory_refusal().is_none()
    }

    /// Why one more compile may not start now, if so.
    fn memory_refusal(&self) -> Option<String> {
        let m = self.cfg.memory.read()?;
        let job = admission::per_job(admission::children_peak_rss());
        let running = self.slots.running().len();
        if admission::admit(m, running, job) {
            return None;
        }
        Some(format!(
            "not enough memory free for a compile ({} MiB available, {} running, about {} MiB each)",
            m.available >> 20,
            running,
            job >> 20
        ))
    }

    /// Give free slots to queued jobs, then see whether to accept more.
    fn settle(&mut self) {
        while self.slots.wants_grant() {
            let Some(id) = self.slots.next_grant(self.room()) else {
                break;
            };
            if self.conns.contains_key(&id) {
                self.run_job(id, Event::SlotGranted);
            } else {
                self.slots.remove(id);
            }
        }
        self.update_accepting();
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

    /// Collect every child that has exited, without waiting.
    fn reap(&mut self) {
        let mut done = Vec::new();
        for (id, conn) in self.conns.iter_mut() {
            if let Work::Running(r) = &mut conn.work {
                if let Ok(Some(st)) = r.child.try_wait() {
                    done.push((*id, st));
                    if let Work::Running(r) = std::mem::take(&mut conn.work) {
                        conn.work = Work::Exited(r);
                    }
                }
            }
        }
        for (id, st) in done {
            // Its stdin pipe closes: nobody reads it any more.
            self.stop_feed(id);
            self.run_job(id, Event::CompilerExited(WaitStatus::from_exit(st)));
        }
        self.reap_probes();
        let trash = &mut self.trash;
        self.dying.retain_mut(|(child, dir)| {
            if let Ok(None) = child.try_wait() {
                return true;
            }
            if let Some(d) = dir.take() {
                trash.add(d.into_path());
            }
            false
        });
        self.stats.sample_kids(self.slots.running().len());
    }

    /// The clock: timeouts, then whole requests take slots back.
    fn tick(&mut self) {
        let ids: Vec<JobId> = self.conns.keys().copied().collect();
        for id in ids {
            self.run_job(id, Event::Tick);
        }
        self.kill_slow_probes();
        self.preempt();
        // One bounded eviction step a tick keeps the header store in its
        // bound without holding up the loop.
        if let Some(st) = self.store.as_mut().filter(|s| s.needs_eviction()) {
            st.evict_step();
        }
        self.answer_busy();
        self.settle();
    }

    /// A slot is free but memory is short: requests that have waited
    /// `admission::MAX_WAIT` are answered busy, so their clients go
    /// elsewhere instead of waiting for memory that may not come.
    fn answer_busy(&mut self) {
        if !self.slots.wants_grant() {
            return;
        }
        let Some(why) = self.memory_refusal() else {
            return;
        };
        for id in self.slots.take_waited(Instant::now(), admission::MAX_WAIT) {
            self.run_job(id, Event::Busy(super::refusal::busy(&why)));
        }
    }

    /// Whole requests wait for a slot: take one back from a job that
    /// started early and has waited over `EARLY_GRACE` for its source (a
    /// client whose cpp is slow, or a slowloris, must not keep finished
    /// requests waiting). It starts again when its source is in.
    fn preempt(&mut self) {
        if self.slots.queued() == 0 {
            return;
        }
        let now = Instant::now();
        let found = self.slots.running().iter().copied().find(|id| {
            self.conns
                .get(id)
                .is_some_and(|c| c.job.preemptible(now, EARLY_GRACE))
        });
        if let Some(id) = found {
            self.run_job(id, Event::Preempt);
        }
    }

    fn on_readable(&mut self, id: JobId) {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            let ev = match conn.stream.read(&mut chunk) {
                Ok(0) => Event::Eof,
                Ok(n) => {
                    if conn.job.is_request() {
                        self.stats.request_bytes += n as u64;
                    }
                    Event::Bytes(&chunk[..n])
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Event::ReadFailed(crate::errtext::reason(&e)),
            };
            let more = matches!(ev, Event::Bytes(_));
            self.run_job(id, ev);
            if !more {
                return;
            }
        }
    }

    fn on_writable(&mut self, id: JobId) {
        if let Some(ev) = self.write_out(id) {
            self.run_job(id, ev);
        }
    }

    /// Send what is waiting; `Sent { done: true }` once all of it is out.
    fn write_out(&mut self, id: JobId) -> Option<Event<'static>> {
        let conn = self.conns.get_mut(&id)?;
        let out = conn.out.as_mut()?;
        match out.write(&conn.stream, conn.refused) {
            Progress::Blocked { moved } => return moved.then_some(Event::Sent { done: false }),
            Progress::Failed(why) => return Some(Event::WriteFailed(why)),
            Progress::Done => {}
        }
        conn.out = None;
        if conn.refused {
            // The line is out: only reading (and dropping) is left.
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            conn.writable = false;
            let _ =
                self.poll
                    .registry()
                    .reregister(&mut conn.stream, conn.token, Interest::READABLE);
        }
        Some(Event::Sent { done: true })
    }

    /// Drop a connection and anything it owns (a queued request, a running
    /// compiler, its job directory).
    fn close(&mut self, id: JobId) {
        self.stop_feed(id);
        self.abort(id);
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        if let Some(k) = conn.keep.take() {
            self.trash.add(k.dir);
        }
        self.sources.remove(&conn.token);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if conn.refused {
            self.refused -= 1;
        }
        self.slots.remove(id);
        self.out_of_fds = false;
    }

    fn shutdown(&mut self) {
        let ids: Vec<JobId> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        for (mut p, _) in self.probes.drain(..) {
            let _ = p.child.kill();
            let _ = p.child.wait();
            let _ = std::fs::remove_file(&p.out);
        }
        // Exiting: waiting for the killed is fine now.
        for (mut child, dir) in self.dying.drain(..) {
            let _ = child.wait();
            drop(dir);
        }
        self.trash.finish();
    }

    /// The jobs compiling now, for the HTML page.
    fn live_jobs(&self) -> Vec<super::status_page::Live> {
        let now = Instant::now();
        self.slots
            .running()
            .iter()
            .filter_map(|id| self.conns.get(id))
            .filter_map(|c| {
                c.job
                    .compiling(now)
                    .map(|(input, ms)| super::status_page::Live {
                        input: input.to_string(),
                        client: c.peer.to_string(),
                        ms,
                    })
            })
            .collect()
    }
}
