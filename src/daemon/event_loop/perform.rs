//! Performing what a job's machine asks (`machine::Action`): the work
//! itself (check, spawn, lay out, feed, kill, finish, reply), with its
//! outcome handed back as the next event. The loop's own plumbing
//! (accepting, reading, writing, the clock) is in the parent module.

use std::fs::File;
use std::os::unix::io::AsRawFd;

use mio::unix::SourceFd;
use mio::Interest;

use crate::exitcode::EXIT_DISTCC_FAILED;
use crate::protocol::reply::Reply;

use super::super::cache::{self, Cache, Compiler, Material};
use super::super::job::{self, Input, Prepared};
use super::super::machine::{Accepted, Action, Event};
use super::super::outgoing::Outgoing;
use super::super::refusal::Refusal;
use super::{JobId, Keep, Server, Source, Work};

fn accepted(p: &Prepared, cached: bool) -> Accepted {
    Accepted {
        compiler: p.plan.compiler(),
        input: p.plan.input.clone(),
        piped: p.input == Input::Piped,
        cached,
    }
}

/// An action that needs a job's resources found none: the machine and the
/// driver disagree. Answered as a failure, never a panic.
fn missing(what: &str) -> Refusal {
    Refusal {
        code: EXIT_DISTCC_FAILED,
        why: format!("internal error: {what}"),
    }
}

impl Server {
    pub(super) fn perform(&mut self, id: JobId, a: Action) -> Option<Event<'static>> {
        let max_source = self.cfg.limits.max_decompressed;
        let conn = self.conns.get_mut(&id)?;
        match a {
            Action::Check => {
                let Some(dec) = conn.job.decoder() else {
                    return Some(Event::Checked(Err(missing("no request to check"))));
                };
                let cached = self.cache.is_some();
                let features = dec.features().unwrap_or(crate::protocol::Features::PLAIN);
                // Pump jobs' material comes with their files (`LayOut`).
                let (material, hash) = match cached && !features.cpp_on_server() {
                    true => {
                        let (m, h) = Material::plain(features);
                        (Some(m), Some(h))
                    }
                    false => (None, None),
                };
                let checked =
                    job::prepare(dec, &self.cfg.policy, &self.cfg.tmp, true, hash).map(|p| {
                        let a = accepted(&p, cached);
                        conn.work = Work::Prepared(Box::new(p));
                        conn.material = material;
                        a
                    });
                Some(Event::Checked(checked))
            }
            Action::WantSlot { early } => {
                // Memory is read only when a slot is there to grant.
                let room = !self.slots.free() || self.room();
                let granted = if early {
                    self.slots.try_early(id, room)
                } else {
                    self.slots.request(id, room, std::time::Instant::now())
                };
                granted.then_some(Event::SlotGranted)
            }
            Action::Release => {
                self.slots.release(id);
                None
            }
            Action::Spawn { complete } => {
                let Work::Prepared(p) = std::mem::take(&mut conn.work) else {
                    return Some(Event::Spawned(Err(missing("no job to start"))));
                };
                let spawned = job::spawn(*p, self.cfg.sandbox, max_source, complete);
                let r = match spawned {
                    Ok(r) => {
                        conn.work = Work::Running(Box::new(r));
                        self.stats.sample_kids(self.slots.running().len());
                        Ok(())
                    }
                    Err((r, p)) => {
                        conn.work = Work::Prepared(p);
                        Err(r)
                    }
                };
                Some(Event::Spawned(r))
            }
            Action::Need { refused } => {
                let Some(dec) = conn.job.decoder() else {
                    log::error!("client {}: internal error: no manifest", conn.peer);
                    self.close(id);
                    return None;
                };
                let mut job = match &mut conn.work {
                    Work::Prepared(p) => Some(&mut **p),
                    _ => None,
                };
                let need = super::super::header_store::answer_need(
                    dec,
                    job.as_deref_mut(),
                    refused,
                    self.store.as_mut(),
                    self.trash.spares(),
                );
                if let Some(p) = job {
                    self.stats.pump_files(p.take_files());
                }
                match self.start_write(id, Outgoing::new(need)) {
                    Some(ev @ Event::WriteFailed(_)) => Some(ev),
                    _ => Some(Event::Needed),
                }
            }
            Action::LayOut(req) => {
                // On the loop, but bounded: the decoder's limits cap the
                // files and bytes a request may bring.
                if self.cache.is_some() {
                    conn.material = Some(Material::pump(&req));
                }
                let r = match &mut conn.work {
                    Work::Prepared(p) => {
                        let r = p.receive_files(*req, self.store.as_mut(), self.trash.spares());
                        self.stats.pump_jobs += 1;
                        self.stats.pump_files(p.take_files());
                        r
                    }
                    _ => Err(missing("no job directory")),
                };
                Some(Event::LaidOut(r))
            }
            Action::CompleteSource => {
                let r = match &mut conn.work {
                    Work::Running(r) => match r.feed.as_mut() {
                        Some(f) => f.source_complete(max_source),
                        None => Ok(()),
                    },
                    _ => Err(missing("no compiler to feed")),
                };
                Some(Event::SourceReady(r))
            }
            Action::Feed => self.feed(id),
            Action::Kill => {
                if let Work::Running(r) = &mut conn.work {
                    job::kill_group(&mut r.child);
                }
                None
            }
            Action::Abort => {
                self.stop_feed(id);
                self.abort(id);
                None
            }
            Action::Unstart => {
                self.stop_feed(id);
                let conn = self.conns.get_mut(&id)?;
                match std::mem::take(&mut conn.work) {
                    Work::Running(r) => {
                        let (p, child) = job::unstart(*r);
                        conn.work = Work::Prepared(Box::new(p));
                        self.dying.push((child, None));
                    }
                    other => conn.work = other,
                }
                None
            }
            Action::Finish { status } => {
                self.stop_feed(id);
                let conn = self.conns.get_mut(&id)?;
                let (Work::Running(r) | Work::Exited(r)) = std::mem::take(&mut conn.work) else {
                    log::error!(
                        "client {}: internal error: no compiler to finish",
                        conn.peer
                    );
                    self.close(id);
                    return None;
                };
                let object = r.output_path();
                let f = job::finish(*r, status);
                // A hit replays no stdout: a compile that printed some is
                // not kept.
                let kept = conn.key.take().filter(|_| {
                    f.no_object.is_none() && f.reply.status.success() && f.reply.stdout.is_empty()
                });
                // Answer first: removing a pump job's mirror (hundreds of
                // headers) would delay the client. An open object file
                // outlives its directory. A result to keep keeps its
                // directory until the reply is out (`Action::Keep`).
                match kept {
                    Some(key) => {
                        conn.keep = Some(Keep {
                            key,
                            dir: f.dir.into_path(),
                            object,
                            stderr: f.reply.stderr.clone(),
                            dotd: f.reply.dotd.clone(),
                        })
                    }
                    None => self.trash.add(f.dir.into_path()),
                }
                conn.result = Some((f.reply, f.object_file));
                Some(Event::Finished {
                    no_object: f.no_object,
                })
            }
            Action::Reply(r) => self.start_reply(id, r, None),
            Action::SendResult => {
                let Some((r, object)) = conn.result.take() else {
                    log::error!("client {}: internal error: no reply to send", conn.peer);
                    self.close(id);
                    return None;
                };
                self.start_reply(id, r, object)
            }
            Action::Lookup => self.lookup(id),
            Action::Keep => {
                self.keep(id);
                None
            }
            Action::StatsPage { html } => {
                self.stats.cache = self.cache.as_ref().and_then(Cache::counters);
                let page = if html {
                    let live = self.live_jobs();
                    super::super::status_page::page(
                        &self.stats,
                        &live,
                        self.slots.queued(),
                        self.cfg.jobs,
                    )
                } else {
                    self.stats.page(self.slots.running().len(), &self.cfg.tmp)
                };
                self.start_write(id, Outgoing::new(page.into_bytes()))
            }
            Action::LoadLine => {
                let m = self.cfg.memory.read();
                let line = crate::load_line::HostLoad {
                    running: self.slots.running().len() as u32,
                    queued: self.slots.queued() as u32,
                    slots: self.cfg.jobs as u32,
                    mem_mib: m.map(|m| m.available >> 20),
                    room: self.room(),
                    cpus: Some(crate::cgroup::usable_cpus()),
                }
                .line();
                self.start_write(id, Outgoing::new(line.into_bytes()))
            }
            Action::Record(r) => {
                self.stats.record(r);
                None
            }
            Action::Compiled {
                input,
                compiler,
                ms,
                ok,
            } => {
                self.stats.compiled(&input, &compiler, ms, ok);
                None
            }
            Action::Log(level, msg) => {
                log::log!(level, "{msg}");
                None
            }
            Action::Close => {
                self.close(id);
                None
            }
        }
    }

    /// `Action::Lookup`: the job's key, then the cache. None while its
    /// compiler's identity is being read: the probe's end answers
    /// (`reap_probes`).
    pub(super) fn lookup(&mut self, id: JobId) -> Option<Event<'static>> {
        let miss = Some(Event::Looked { hit: false });
        let Some(cache) = self.cache.as_mut() else {
            return miss;
        };
        let conn = self.conns.get_mut(&id)?;
        let (plan, features) = match &conn.work {
            Work::Prepared(p) => (&p.plan, p.features),
            Work::Running(r) | Work::Exited(r) => (&r.plan, r.features),
            Work::Nothing => return miss,
        };
        let Some(argv0) = plan.argv.first().cloned() else {
            return miss;
        };
        let (path, identity) = match cache.compiler(&argv0) {
            Compiler::Known { path, identity } => (path, identity),
            // Not found: the compile fails, and is not kept.
            Compiler::Missing => return miss,
            Compiler::Unknown { path, sig } => {
                if let Some((_, waiting)) = self.probes.iter_mut().find(|(p, _)| p.path == path) {
                    waiting.push(id);
                    return None;
                }
                return match cache::probe(&path, sig, &self.cfg.tmp) {
                    Ok(p) => {
                        self.probes.push((p, vec![id]));
                        None
                    }
                    Err(e) => {
                        log::warn!(
                            "result cache: cannot run {} -v: {}",
                            path.display(),
                            crate::errtext::reason(&e)
                        );
                        miss
                    }
                };
            }
        };
        let Some(material) = conn.material.take() else {
            return miss;
        };
        match Cache::key(&path, &identity, plan, &material) {
            Err(why) => {
                log::debug!("client {}: not cached: {why}", conn.peer);
                miss
            }
            Ok(key) => match cache.get(&key, features) {
                Some(reply) => {
                    conn.result = Some((reply, None));
                    Some(Event::Looked { hit: true })
                }
                None => {
                    conn.key = Some(key);
                    miss
                }
            },
        }
    }

    /// `Action::Keep`: store a successful compile's result, its reply
    /// being out, then give its directory to the trash.
    fn keep(&mut self, id: JobId) {
        let Some(k) = self.conns.get_mut(&id).and_then(|c| c.keep.take()) else {
            return;
        };
        if let (Some(cache), Ok(object)) = (self.cache.as_mut(), std::fs::read(&k.object)) {
            cache.put(
                &k.key,
                &crate::store::Entry {
                    object: &object,
                    stderr: &k.stderr,
                    dep: k.dotd.as_deref(),
                },
            );
        }
        self.trash.add(k.dir);
    }

    /// Identity probes that ended: learn what they said, then answer the
    /// jobs that waited for them.
    pub(super) fn reap_probes(&mut self) {
        let mut i = 0;
        while i < self.probes.len() {
            let st = match self.probes[i].0.child.try_wait() {
                Ok(None) => {
                    i += 1;
                    continue;
                }
                Ok(Some(st)) => Ok(st),
                Err(e) => Err(e),
            };
            let (p, waiting) = self.probes.swap_remove(i);
            if p.killed {
                // Nothing learnt: its jobs go on uncached.
                let _ = std::fs::remove_file(&p.out);
                for id in waiting {
                    self.run_job(id, Event::Looked { hit: false });
                }
                continue;
            }
            if let Some(c) = self.cache.as_mut() {
                c.learn(&p, st);
            }
            for id in waiting {
                if let Some(ev) = self.lookup(id) {
                    self.run_job(id, ev);
                }
            }
        }
    }

    /// Kill identity probes past `cache::PROBE_LIMIT` (reaped, and their
    /// jobs answered, by `reap_probes`).
    pub(super) fn kill_slow_probes(&mut self) {
        for (p, _) in &mut self.probes {
            if !p.killed && p.started.elapsed() > cache::PROBE_LIMIT {
                log::warn!(
                    "result cache: {} -v took over {} s; killed, its jobs go on uncached",
                    p.path.display(),
                    cache::PROBE_LIMIT.as_secs()
                );
                let _ = p.child.kill();
                p.killed = true;
            }
        }
    }

    /// Move more of the source into the compiler's stdin (watching the
    /// pipe from the first call), and close it once all is in.
    fn feed(&mut self, id: JobId) -> Option<Event<'static>> {
        let watched = self.conns.get(&id)?.feed_token.is_some();
        let token = (!watched).then(|| self.new_token());
        let conn = self.conns.get_mut(&id)?;
        let Work::Running(r) = &mut conn.work else {
            return None;
        };
        let f = r.feed.as_mut()?;
        if let Some(t) = token {
            let fd = f.pipe.as_raw_fd();
            match self
                .poll
                .registry()
                .register(&mut SourceFd(&fd), t, Interest::WRITABLE)
            {
                Ok(()) => {
                    self.sources.insert(t, Source::CompilerStdin(id));
                    conn.feed_token = Some(t);
                }
                Err(e) => log::warn!(
                    "cannot watch a compiler's input pipe: {}",
                    crate::errtext::reason(&e)
                ),
            }
        }
        let failed = match f.pump() {
            Ok(false) => return None,
            Ok(true) => None,
            // The compiler stopped reading: its exit status says why.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => None,
            Err(e) => Some(Event::FeedFailed(crate::errtext::reason(&e))),
        };
        self.stop_feed(id);
        failed
    }

    /// Close a job's stdin pipe (the compiler's EOF), if it is open.
    pub(super) fn stop_feed(&mut self, id: JobId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(t) = conn.feed_token.take() {
            self.sources.remove(&t);
        }
        if let Work::Running(r) | Work::Exited(r) = &mut conn.work {
            if let Some(f) = r.feed.take() {
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&f.pipe.as_raw_fd()));
            }
        }
    }

    /// Kill the job's compiler; it is reaped, and its directory removed,
    /// later. A job without one gives up its directory now.
    pub(super) fn abort(&mut self, id: JobId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match std::mem::take(&mut conn.work) {
            Work::Running(r) => {
                let (child, dir) = job::abort(*r);
                self.dying.push((child, Some(dir)));
            }
            Work::Prepared(p) => self.trash.add(p.dir.into_path()),
            Work::Exited(r) => self.trash.add(r.dir.into_path()),
            Work::Nothing => {}
        }
    }

    pub(super) fn start_reply(
        &mut self,
        id: JobId,
        r: Reply,
        object: Option<(File, u64)>,
    ) -> Option<Event<'static>> {
        let trailer = super::super::header_store::trailer(r.features, self.store.as_ref());
        match Outgoing::reply(&r, object, trailer) {
            Ok(out) => self.start_write(id, out),
            Err(e) => {
                log::warn!("cannot encode reply: {e}");
                self.close(id);
                None
            }
        }
    }

    pub(super) fn start_write(&mut self, id: JobId, out: Outgoing) -> Option<Event<'static>> {
        let conn = self.conns.get_mut(&id)?;
        // A NEED still waiting for room goes first, not lost.
        conn.out = Some(match conn.out.take() {
            Some(unsent) => unsent.then(out),
            None => out,
        });
        if !conn.writable {
            conn.writable = true;
            let _ = self.poll.registry().reregister(
                &mut conn.stream,
                conn.token,
                Interest::READABLE | Interest::WRITABLE,
            );
        }
        self.write_out(id)
    }
}
