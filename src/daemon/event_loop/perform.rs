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

use super::super::job::{self, Input, Prepared};
use super::super::machine::{Accepted, Action, Event};
use super::super::outgoing::Outgoing;
use super::super::refusal::Refusal;
use super::{JobId, Server, Source, Work};

fn accepted(p: &Prepared) -> Accepted {
    Accepted {
        compiler: p.plan.compiler(),
        input: p.plan.input.clone(),
        piped: p.input == Input::Piped,
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
                let checked = job::prepare(dec, &self.cfg.policy, &self.cfg.tmp, true).map(|p| {
                    let a = accepted(&p);
                    conn.work = Work::Prepared(Box::new(p));
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
            Action::LayOut(req) => {
                // On the loop, but bounded: the decoder's limits cap the
                // files and bytes a request may bring.
                let r = match &mut conn.work {
                    Work::Prepared(p) => p.receive_files(*req),
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
                let f = job::finish(*r, status);
                // Answer first: removing a pump job's mirror (hundreds of
                // headers) would delay the client. An open object file
                // outlives its directory.
                self.trash.add(f.dir.into_path());
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
            Action::StatsPage { html } => {
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
        match Outgoing::reply(&r, object) {
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
        conn.out = Some(out);
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
