//! `--inetd`: serve exactly one job on stdin/stdout (inetd, or a client's
//! ssh connection running `distccd --inetd`). Blocking I/O: one job, no
//! event loop; the job itself is `machine`'s, as in the daemon.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::exitcode::*;
use crate::protocol::reply::{self, Reply};
use crate::protocol::status::WaitStatus;
use crate::protocol::Limits;
use crate::store::ContentStore;

use super::access::{self, Cidr};
use super::cache::{self, Cache, Compiler, Material};
use super::job;
use super::machine::{Accepted, Action, Event, Job, Timeouts};
use super::refusal::Refusal;
use super::whitelist::Policy;

/// stdin as a socket (a duplicate: dropping it leaves stdin open).
fn stdin_socket() -> Option<TcpStream> {
    std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(TcpStream::from)
}

/// The peer of stdin, when stdin is a TCP socket (inetd), else None (a pipe).
fn stdin_peer() -> Option<SocketAddr> {
    stdin_socket()?.peer_addr().ok().map(access::unmapped)
}

/// Send a client outside the access list its refusal line, then read and
/// drop what it still sends (bounded), so closing does not reset the
/// connection before it has read the line. Blocking: this process serves
/// only this client.
fn refuse(peer: SocketAddr) {
    let Some(mut s) = stdin_socket() else {
        return;
    };
    let line = access::refusal_line(s.local_addr(), peer);
    let _ = s.set_write_timeout(Some(access::REFUSED_LINGER));
    if s.write_all(&line).is_err() || s.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + access::REFUSED_LINGER;
    let mut chunk = [0u8; 64 * 1024];
    let mut drained = 0;
    while drained <= access::REFUSED_DRAIN {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// True when stdin is a socket: distccd then defaults to inetd mode.
pub fn stdin_is_socket() -> bool {
    nix::sys::stat::fstat(0)
        .map(|st| (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK)
        .unwrap_or(false)
}

/// Serve one connection. A TCP peer must be in `allow` (an empty list
/// refuses it, as in daemon mode); pipes (a client's ssh) are trusted, as
/// with distccd. The job is the same machine the event loop drives
/// (`machine`), driven with blocking I/O.
pub fn serve(
    allow: &[Cidr],
    policy: &Policy,
    tmp: &std::path::Path,
    sandbox: Option<u32>,
    store: Option<(Option<std::path::PathBuf>, u64)>,
    cache: Option<cache::Settings>,
) -> i32 {
    let peer = stdin_peer();
    if let Some(p) = peer {
        if !access::allowed(allow, p.ip()) {
            log::warn!("connection from {p} denied by access list");
            refuse(p);
            return EXIT_ACCESS_DENIED;
        }
    }
    let who = peer
        .map(|p| p.to_string())
        .unwrap_or_else(|| "stdin".into());
    // Duplicates of stdin and stdout: fds 0 and 1 stay open until exit.
    let dups = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(|i| Ok((i, std::io::stdout().as_fd().try_clone_to_owned()?)));
    let (input, output) = match dups {
        Ok((i, o)) => (std::fs::File::from(i), std::fs::File::from(o)),
        Err(e) => {
            log::error!(
                "cannot use stdin and stdout: {}",
                crate::errtext::reason(&e)
            );
            return EXIT_IO_ERROR;
        }
    };
    // Only the event loop's clocks use these.
    let timeouts = Timeouts {
        io: Duration::MAX,
        job_lifetime: None,
    };
    let mut d = Driver {
        job: Job::request(&who, Limits::default(), timeouts, Instant::now()),
        who,
        policy,
        tmp,
        sandbox,
        input,
        output,
        prepared: None,
        running: None,
        result: None,
        fatal: None,
        store_setting: store,
        store: None,
        // Opened at the first lookup, without adding up what it holds.
        cache: cache.map(Cache::lazy),
        material: None,
        key: None,
        sent: None,
    };
    let code = d.serve();
    // One job, then one bounded eviction step: the store stays near its
    // bound across inetd's processes.
    if let Some(st) = d.store.as_mut().filter(|s| s.needs_eviction()) {
        st.evict_step();
    }
    code
}

/// What inetd's one job owns outside its machine.
struct Driver<'a> {
    job: Job,
    who: String,
    policy: &'a Policy,
    tmp: &'a std::path::Path,
    sandbox: Option<u32>,
    input: std::fs::File,
    output: std::fs::File,
    prepared: Option<job::Prepared>,
    running: Option<job::Running>,
    result: Option<Reply>,
    /// A failure of the driver itself: the exit code.
    fatal: Option<i32>,
    /// The header store, opened by the first pump job that needs it (a
    /// plain job never touches it).
    store_setting: Option<(Option<std::path::PathBuf>, u64)>,
    store: Option<ContentStore>,
    cache: Option<Cache>,
    /// Result cache: what the job's key is made of, until its lookup.
    material: Option<Material>,
    /// Result cache: the key of a job that missed.
    key: Option<crate::store::Digest>,
    /// A successful compile's reply, sent, kept for `Action::Keep`.
    sent: Option<Reply>,
}

impl Driver<'_> {
    fn open_store(&mut self) {
        if let Some(setting) = self.store_setting.take() {
            self.store = super::header_store::open(&Some(setting), self.tmp);
        }
    }

    fn serve(&mut self) -> i32 {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(code) = self.fatal {
                return code;
            }
            if self.job.is_closed() {
                return self.job.exit_code();
            }
            if self.job.wants_input() {
                let ev = match self.input.read(&mut chunk) {
                    Ok(0) => Event::Eof,
                    Ok(n) => Event::Bytes(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Event::ReadFailed(crate::errtext::reason(&e)),
                };
                self.run(ev);
            } else if let Some(r) = self.running.as_mut() {
                let st = match r.child.wait() {
                    Ok(st) => st,
                    Err(e) => {
                        log::error!("cannot collect compiler: {}", crate::errtext::reason(&e));
                        return EXIT_DISTCC_FAILED;
                    }
                };
                self.run(Event::CompilerExited(WaitStatus::from_exit(st)));
            } else {
                log::error!("client {}: internal error: the job is stuck", self.who);
                return EXIT_DISTCC_FAILED;
            }
        }
    }

    fn run(&mut self, ev: Event) {
        let mut todo: VecDeque<Action> = self.job.handle(ev, Instant::now()).into();
        while let Some(a) = todo.pop_front() {
            if self.fatal.is_some() {
                return;
            }
            if let Some(back) = self.perform(a) {
                todo.extend(self.job.handle(back, Instant::now()));
            }
        }
    }

    fn perform(&mut self, a: Action) -> Option<Event<'static>> {
        let max_source = Limits::default().max_decompressed;
        let missing = |what: &str| Refusal {
            code: EXIT_DISTCC_FAILED,
            why: format!("internal error: {what}"),
        };
        match a {
            Action::Check => {
                let Some(dec) = self.job.decoder() else {
                    return Some(Event::Checked(Err(missing("no request to check"))));
                };
                let cached = self.cache.is_some();
                let features = dec.features().unwrap_or(crate::protocol::Features::PLAIN);
                let mut hash = None;
                if cached && !features.cpp_on_server() {
                    let (m, h) = Material::plain(features);
                    self.material = Some(m);
                    hash = Some(h);
                }
                // No early start here: nothing would feed a pipe.
                let checked = job::prepare(dec, self.policy, self.tmp, false, hash).map(|p| {
                    let a = Accepted {
                        compiler: p.plan.compiler(),
                        input: p.plan.input.clone(),
                        piped: false,
                        cached,
                    };
                    self.prepared = Some(p);
                    a
                });
                Some(Event::Checked(checked))
            }
            // One job, one slot; never an early start.
            Action::WantSlot { early } => (!early).then_some(Event::SlotGranted),
            Action::Release | Action::Feed | Action::Unstart => None,
            Action::Spawn { complete } => {
                let Some(p) = self.prepared.take() else {
                    return Some(Event::Spawned(Err(missing("no job to start"))));
                };
                let r = match job::spawn(p, self.sandbox, max_source, complete) {
                    Ok(r) => {
                        self.running = Some(r);
                        Ok(())
                    }
                    Err((r, p)) => {
                        self.prepared = Some(*p);
                        Err(r)
                    }
                };
                Some(Event::Spawned(r))
            }
            Action::Need { refused } => {
                self.open_store();
                let Some(dec) = self.job.decoder() else {
                    self.fatal = Some(EXIT_PROTOCOL_ERROR);
                    return None;
                };
                let need = super::header_store::answer_need(
                    dec,
                    self.prepared.as_mut(),
                    refused,
                    self.store.as_mut(),
                    None,
                );
                match self
                    .output
                    .write_all(&need)
                    .and_then(|_| self.output.flush())
                {
                    Ok(()) => Some(Event::Needed),
                    Err(e) => Some(Event::WriteFailed(format!(
                        "write failed: {}",
                        crate::errtext::reason(&e)
                    ))),
                }
            }
            Action::LayOut(req) => Some(Event::LaidOut(match self.prepared.as_mut() {
                Some(p) => {
                    if self.cache.is_some() {
                        self.material = Some(Material::pump(&req));
                    }
                    p.receive_files(*req, self.store.as_mut(), None)
                }
                None => Err(missing("no job directory")),
            })),
            Action::CompleteSource => Some(Event::SourceReady(Ok(()))),
            Action::Kill => {
                if let Some(r) = self.running.as_mut() {
                    job::kill_group(&mut r.child);
                }
                None
            }
            Action::Abort => {
                if let Some(mut r) = self.running.take() {
                    job::kill_group(&mut r.child);
                    // One job: waiting for it blocks nobody else.
                    let _ = r.child.wait();
                }
                None
            }
            Action::Finish { status } => {
                let r = self.running.take()?;
                let (reply, no_object) = job::finish(r, status).into_reply();
                self.result = Some(reply);
                Some(Event::Finished { no_object })
            }
            Action::Reply(r) => self.send(&r),
            Action::SendResult => {
                let r = self.result.take()?;
                let ev = self.send(&r);
                self.sent = Some(r);
                ev
            }
            Action::Lookup => Some(Event::Looked { hit: self.lookup() }),
            Action::Keep => {
                if let (Some(c), Some(key), Some(r)) = (self.cache.as_mut(), self.key, &self.sent) {
                    // A hit replays no stdout: a compile that printed some
                    // is not kept.
                    if r.status.success() && r.stdout.is_empty() {
                        c.put(
                            &key,
                            &crate::store::Entry {
                                object: &r.object,
                                stderr: &r.stderr,
                                dep: r.dotd.as_deref(),
                            },
                        );
                    }
                }
                None
            }
            Action::StatsPage { .. }
            | Action::LoadLine
            | Action::Record(_)
            | Action::Compiled { .. } => None,
            Action::Log(level, msg) => {
                log::log!(level, "{msg}");
                None
            }
            Action::Close => None,
        }
    }

    /// The job's key, then the cache: true on a hit (its reply is then
    /// `result`). The compiler's identity is read here when needed: this
    /// process serves one job, so waiting blocks nobody.
    fn lookup(&mut self) -> bool {
        let (Some(cache), Some(p), Some(material)) = (
            self.cache.as_mut(),
            self.prepared.as_ref(),
            self.material.take(),
        ) else {
            return false;
        };
        let Some(argv0) = p.plan.argv.first() else {
            return false;
        };
        let (path, identity) = match cache.compiler(argv0) {
            Compiler::Known { path, identity } => (path, identity),
            Compiler::Missing => return false,
            Compiler::Unknown { path, sig } => match cache.learn_now(&path, sig, self.tmp) {
                Some(id) => (path, id),
                None => return false,
            },
        };
        match Cache::key(&path, &identity, &p.plan, &material) {
            Err(why) => {
                log::debug!("client {}: not cached: {why}", self.who);
                false
            }
            Ok(key) => match cache.get(&key, p.features) {
                Some(reply) => {
                    self.result = Some(reply);
                    true
                }
                None => {
                    self.key = Some(key);
                    false
                }
            },
        }
    }

    fn send(&mut self, r: &Reply) -> Option<Event<'static>> {
        if r.features.cpp_on_server() {
            self.open_store();
        }
        let wire = match reply::encode(r) {
            Ok(mut w) => {
                w.extend(super::header_store::trailer(
                    r.features,
                    self.store.as_ref(),
                ));
                w
            }
            Err(e) => {
                log::error!("cannot encode reply: {e}");
                self.fatal = Some(EXIT_PROTOCOL_ERROR);
                return None;
            }
        };
        match self
            .output
            .write_all(&wire)
            .and_then(|_| self.output.flush())
        {
            Ok(()) => Some(Event::Sent { done: true }),
            Err(e) => Some(Event::WriteFailed(format!(
                "write failed: {}",
                crate::errtext::reason(&e)
            ))),
        }
    }
}
