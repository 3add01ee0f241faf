//! Choosing where a job runs (distcc's src/where.c): drop hosts in backoff
//! and hosts that already failed this job, then take the first free slot,
//! slot 0 of every host before slot 1 of any, sleeping
//! `DISTCC_PAUSE_TIME_MSEC` between rounds while all are busy. A big job
//! (job_size.rs) first waits a while for the first host listed.
//! With `TINYDCC_CHOOSE=measured`, and once some host has been measured,
//! the slot where the job is predicted to finish first instead (predict.rs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::lock::{self, SlotLock};
use super::phase::{self, Phase};
use super::predict::{self, Choice, HostIn, SlotView};
use super::settings::Settings;
use super::{queue, speed};
use crate::hosts::{Host, Mode};

/// A big job (job_size.rs) waits this long for a slot of the first host
/// listed (`localhost` only while this machine's CPU has room) before it
/// takes another's: a board takes four times as long as the x86, and the
/// build's end would wait for it.
const BIG_WAIT: Duration = Duration::from_secs(3);
/// How often it looks meanwhile.
const BIG_LOOK: Duration = Duration::from_millis(50);
/// Measured choice waiting for a busy slot: the longest nap between looks.
const WAIT_LOOK: Duration = Duration::from_millis(100);

/// How hosts are chosen (`TINYDCC_CHOOSE`).
#[derive(Debug, Clone)]
pub struct Chooser {
    /// `measured`: where speeds are kept; `None`: distcc's order, nothing
    /// measured or written (the default: no cost per job).
    pub speed_dir: Option<PathBuf>,
    /// Copy a straggling job to a better free slot (`TINYDCC_STRAGGLERS=0`
    /// turns it off; straggler.rs).
    pub stragglers: bool,
}

impl Chooser {
    pub fn from_env(s: &Settings) -> Chooser {
        let measured = match std::env::var("TINYDCC_CHOOSE").as_deref() {
            Ok("measured") => true,
            Ok("") | Ok("distcc") | Ok("order") | Err(_) => false,
            Ok(v) => {
                log::warn!(
                    "TINYDCC_CHOOSE={v} is not measured, distcc or order; choosing hosts in distcc's order"
                );
                false
            }
        };
        let speed_dir = measured
            .then(|| {
                s.sub_dir("speed")
                    .map_err(|e| log::warn!("{e}; choosing hosts in distcc's order"))
                    .ok()
            })
            .flatten();
        let stragglers = std::env::var_os("TINYDCC_STRAGGLERS").is_none_or(|v| v != "0");
        Chooser {
            speed_dir,
            stragglers,
        }
    }
}

/// A held slot. The busy note goes before the lock is released, so the
/// next holder's note is never removed by this one.
#[derive(Debug)]
pub struct Held {
    pub slot: u32,
    /// When the slot was taken and the job's predicted seconds there
    /// (measured choice only): what a straggler is judged by.
    pub predicted: Option<(std::time::Instant, f64)>,
    _note: Option<speed::BusyNote>,
    /// A big job's mark while it compiles here (`BIG_RUN`).
    _claim: Option<SlotLock>,
    _lock: SlotLock,
}

impl Held {
    fn plain(l: SlotLock) -> Held {
        Held {
            slot: l.slot,
            predicted: None,
            _note: None,
            _claim: None,
            _lock: l,
        }
    }
}

pub enum Picked<'h> {
    Host(&'h Host, Held),
    /// Nothing left to try: every host is in backoff, failed, or `,down`.
    NoHosts,
}

/// Block until a slot on one of `hosts` (minus `exclude`) is ours.
pub fn pick<'h>(
    s: &Settings,
    chooser: &Chooser,
    lock_dir: &Path,
    hosts: &[&'h Host],
    exclude: &[&'h Host],
    input: &std::ffi::OsStr,
) -> std::io::Result<Picked<'h>> {
    let live: Vec<&Host> = hosts
        .iter()
        .copied()
        .filter(|h| !exclude.iter().any(|x| std::ptr::eq(*x, *h)))
        .filter(|h| {
            let off = super::backoff::is_backed_off(lock_dir, h, s.backoff_period);
            if off {
                log::debug!("skipping {}: in backoff", h.spec);
            }
            !off
        })
        .collect();
    // distcc waits forever when every remaining host is `,down`; there is
    // nothing to wait for, so treat it as no host at all.
    if live.iter().all(|h| h.down) {
        return Ok(Picked::NoHosts);
    }
    if let Some(dir) = &chooser.speed_dir {
        let live = without_busy_local(lock_dir, &live);
        if let Some(p) = measured(s, dir, lock_dir, &live, input)? {
            return Ok(p);
        }
    }
    let mut blocked = false;
    // Until when a big job takes only the first host's slots; judged
    // once, when there is a choice.
    let mut big_until: Option<Option<Instant>> = None;
    // A big job's claim on the first host's slots while it waits for them.
    let mut claim: Option<SlotLock> = None;
    // A big job leaves `localhost` out when the helper after it has more
    // slots than `localhost` and than this machine has CPUs: the list names
    // a more powerful host (a board client's `localhost/2 x86/4`), not
    // distcc's default of 4 (an x86 client's `localhost board1 board2`,
    // 8 CPUs, keeps its big jobs). On the bed the board's CPU check gave room
    // early in a short build and sed's `regex.c` waited for the board's
    // own slot: 8.1 s on its quarter core, the whole build 13.7 s.
    // Judged once: the list's shape and the CPUs do not change while the
    // job waits (up to BIG_WAIT, a look every BIG_LOOK).
    let mut no_local = false;
    let mut local_judged = false;
    loop {
        let mut usable = without_busy_local(lock_dir, &live);
        // A `,down` host never gets a job: none to wait for. Nor, for a big
        // job passing it over (below), `localhost`.
        usable.retain(|h| !(h.down || no_local && h.is_local()));
        let mut pool = &usable[..];
        let mut waiting_big = false;
        // The first host listed, the most powerful, is waited for:
        // `localhost` while its CPU has room (cpu_room.rs), else the first
        // helper (a board client's x86). Its claim keeps small jobs off
        // it, so the wait is for one of its jobs to end, not a race with
        // every small job make starts meanwhile (on the bed the big unit
        // went to a board, copied to the x86 2-3 s later).
        let here = usable.first();
        if let Some(&here) = here.filter(|_| usable.len() > 1) {
            let until = *big_until.get_or_insert_with(|| {
                let big = super::job_size::is_big(input);
                if big {
                    log::debug!(
                        "{} is big: waiting up to {} s for the first host",
                        input.to_string_lossy(),
                        BIG_WAIT.as_secs()
                    );
                }
                big.then(|| Instant::now() + BIG_WAIT)
            });
            if until.is_some() && !local_judged && here.is_local() {
                local_judged = true;
                if usable[1].slots > here.slots.max(crate::cgroup::usable_cpus()) {
                    no_local = true;
                    continue;
                }
            }
            if until.is_some_and(|t| Instant::now() < t) {
                if claim.is_none() {
                    claim = claim_for_big(lock_dir, here);
                }
                pool = &usable[..1];
                waiting_big = true;
            } else {
                claim = None;
                if until.is_none()
                    && (claimed_for_big(lock_dir, here)
                        || here.is_local() && crowds_big(s, lock_dir, here))
                {
                    // Left to the big job waiting for it, or beside one
                    // compiling here, no CPU of its own left.
                    pool = &usable[1..];
                }
            }
        }
        // Hosts where a big job compiles with their CPUs full are left
        // to it while another host has a free slot (`localhost` as
        // `here` above is left even when none has).
        let mut got = None;
        if !waiting_big {
            let roomy: Vec<&Host> = pool
                .iter()
                .copied()
                .filter(|h| !crowds_big(s, lock_dir, h))
                .collect();
            if roomy.len() < pool.len() {
                got = lock::lock_first_free(lock_dir, &roomy)?;
            }
        }
        if got.is_none() {
            got = lock::lock_first_free(lock_dir, pool)?;
        }
        if let Some((h, l)) = got {
            log::trace!("got slot {} of {}", l.slot, h.spec);
            let mut held = Held::plain(l);
            if waiting_big {
                held._claim = lock::take_kind(lock_dir, BIG_RUN, &h.mode, held.slot);
            }
            return Ok(Picked::Host(h, held));
        }
        if !blocked {
            phase::note(Phase::Blocked, input, "", 0);
            blocked = true;
        }
        let nap = if waiting_big { BIG_LOOK } else { s.pause };
        log::trace!("all slots busy; sleeping {}ms", nap.as_millis() as u64);
        std::thread::sleep(nap.min(s.pause).max(Duration::from_millis(1)));
    }
}

/// Big jobs waiting for `host` hold `tinydcc-big_<host>_<i>`, the lowest
/// free `i`: while one does, other jobs leave its slots to them.
const BIG_CLAIMS: u32 = 2;

fn claim_for_big(lock_dir: &Path, host: &Host) -> Option<SlotLock> {
    (0..BIG_CLAIMS).find_map(|i| lock::take_kind(lock_dir, "tinydcc-big", &host.mode, i))
}

/// A big job compiling in slot `slot` of the host it waited for holds
/// `tinydcc-bigrun_<host>_<slot>`: while one does and the host's busy
/// slots fill its CPUs, small jobs leave its free slots to other hosts.
/// A small job beside it would slow it, and the build's end waits for the
/// big one: on the bed's x86 client, two slots on one core, sed's
/// `regex.c` ran 3.0 s beside `quotearg.c` where it needs 2.5 alone; on
/// the board client's x86 helper (`/4` on one core) small units beside
/// it kept sed's idle tail at 0.9 s on average (15 runs), 0.6 s with one
/// small unit at most (18 runs). With a CPU per slot the busy slots never
/// fill the CPUs while one is free, and nothing changes.
const BIG_RUN: &str = "tinydcc-bigrun";

/// A helper's CPUs when it does not say (a stock daemon, one without
/// `--stats`: load.rs): two lets one small job run beside its big one,
/// which keeps at least half a core where the helper's slots share one,
/// and a helper with a core per slot loses, while its big job runs, only
/// the small jobs that find a free slot elsewhere.
const HELPER_CPUS: u32 = 2;

fn crowds_big(s: &Settings, lock_dir: &Path, host: &Host) -> bool {
    let n = host.slots.min(50);
    let busy = |kind| {
        (0..n)
            .filter(|&i| queue::kind_busy(lock_dir, kind, &host.mode, i).unwrap_or(false))
            .count() as u32
    };
    if busy(BIG_RUN) == 0 {
        return false;
    }
    let cpus = if host.is_local() {
        crate::cgroup::usable_cpus()
    } else {
        s.sub_dir("speed")
            .ok()
            .and_then(|d| super::load::get(&d, &host.mode))
            .and_then(|l| l.cpus)
            .unwrap_or(HELPER_CPUS)
    };
    busy("cpu") >= cpus
}

fn claimed_for_big(lock_dir: &Path, host: &Host) -> bool {
    (0..BIG_CLAIMS)
        .any(|i| queue::kind_busy(lock_dir, "tinydcc-big", &host.mode, i).unwrap_or(false))
}

/// `live` without `localhost` while this machine's CPU has no room for a
/// local compile (cpu_room.rs) and a helper is there to wait for.
fn without_busy_local<'h>(lock_dir: &Path, live: &[&'h Host]) -> Vec<&'h Host> {
    let local_slots = live.iter().filter(|h| h.is_local()).map(|h| h.slots).max();
    let helper = live.iter().any(|h| !h.is_local() && !h.down);
    match local_slots {
        Some(n) if helper && !super::cpu_room::room(lock_dir, n) => {
            log::trace!("no CPU to spare for a local compile: waiting for a helper");
            live.iter().copied().filter(|h| !h.is_local()).collect()
        }
        _ => live.to_vec(),
    }
}

/// The measured choice: the slot where this job should finish first,
/// waiting (queued) while that is a busy one. `None` when no host is
/// measured yet: then distcc's order, so a first build is never worse.
fn measured<'h>(
    s: &Settings,
    speed_dir: &Path,
    lock_dir: &Path,
    live: &[&'h Host],
    input: &std::ffi::OsStr,
) -> std::io::Result<Option<Picked<'h>>> {
    // The source is read once per job: the unit of work and whether it is big.
    let units = speed::units_of(input);
    let Some((times, records)) = predictions(speed_dir, live, units) else {
        return Ok(None);
    };
    log::debug!(
        "predicted seconds for {}: {}",
        input.to_string_lossy(),
        live.iter()
            .zip(&times)
            .zip(&records)
            .map(|((h, t), r)| {
                let t = crate::decimal::fixed(*t, 3);
                match r.and_then(|r| r.job.throughput()) {
                    Some(bps) => format!(
                        "{} {t} (sent {} kB/s)",
                        h.spec,
                        crate::decimal::fixed(bps / 1e3, 0)
                    ),
                    None => format!("{} {t}", h.spec),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let max = live.iter().map(|h| h.slots).max().unwrap_or(0).min(50);
    let big = speed::is_big(units);
    let mut ticket: Option<queue::Ticket> = None;
    let mut blocked = false;
    loop {
        let now = SystemTime::now();
        let mut views = Vec::new();
        let mut at = Vec::new();
        for slot in 0..max {
            for (i, h) in live.iter().enumerate() {
                if slot >= h.slots || h.down {
                    continue;
                }
                let busy = queue::slot_busy(lock_dir, &h.mode, slot)?;
                let frees_in = if !busy {
                    0.0
                } else {
                    match speed::busy_note(speed_dir, &h.mode, slot) {
                        Some((start, end)) => match end.duration_since(now) {
                            Ok(d) => d.as_secs_f64(),
                            // Overdue: the prediction was wrong; a job
                            // that ran this long needs about half as
                            // long again (more, the longer it runs).
                            Err(_) => {
                                let ran = now.duration_since(start).unwrap_or_default();
                                (ran.as_secs_f64() / 2.0).max(times[i] / 8.0)
                            }
                        },
                        // Held by stock distcc or a client that predicted
                        // nothing: half a job on average.
                        None => times[i] / 2.0,
                    }
                };
                views.push(SlotView {
                    host: i,
                    frees_in,
                    free: !busy,
                });
                at.push((i, slot));
            }
        }
        let ahead = queue::ahead(speed_dir, ticket.as_ref());
        match predict::choose(&times, &views, ahead, big) {
            None => return Ok(None),
            Some(Choice::Take(k)) => {
                let (i, slot) = at[k];
                let h = live[i];
                if let lock::Try::Got(l) = lock::try_lock(lock_dir, &h.mode, slot)? {
                    log::trace!(
                        "got slot {slot} of {} (predicted {} s)",
                        h.spec,
                        crate::decimal::fixed(times[i], 3)
                    );
                    let note = speed::BusyNote::write(
                        speed_dir,
                        &h.mode,
                        slot,
                        Duration::from_secs_f64(times[i]),
                    );
                    return Ok(Some(Picked::Host(
                        h,
                        Held {
                            slot,
                            predicted: Some((std::time::Instant::now(), times[i])),
                            _note: note,
                            _claim: None,
                            _lock: l,
                        },
                    )));
                }
                // Someone was quicker: look again.
            }
            Some(Choice::Wait(secs)) => {
                if ticket.is_none() {
                    ticket = queue::join(speed_dir);
                }
                if !blocked {
                    phase::note(Phase::Blocked, input, "", 0);
                    blocked = true;
                }
                // Predictions are rough: a slot predicted busy for half a
                // second may free in 50 ms, so look again soon.
                let most = s.pause.min(WAIT_LOOK).max(Duration::from_millis(2));
                let nap = Duration::from_secs_f64(secs.clamp(0.0, 3600.0))
                    .clamp(Duration::from_millis(2), most);
                log::trace!(
                    "a busy slot finishes sooner; sleeping {}ms",
                    nap.as_millis() as u64
                );
                std::thread::sleep(nap);
            }
        }
    }
}

/// Seconds a job of `units` would take on each of `live`, with their
/// records; `None` when no host is measured yet. Not inlined: two callers.
#[inline(never)]
fn predictions(
    speed_dir: &Path,
    live: &[&Host],
    units: f64,
) -> Option<(Vec<f64>, Vec<Option<speed::Record>>)> {
    let records: Vec<Option<speed::Record>> = live
        .iter()
        .map(|h| speed::read(speed_dir, &h.mode))
        .collect();
    let here = match live.iter().position(|h| h.is_local()) {
        Some(i) => records[i],
        None => speed::read(speed_dir, &Mode::Local),
    };
    // Against the newest record, not the clock: records of the last build
    // or of `--check` are as good as each other.
    let newest = records.iter().flatten().map(|r| r.updated_ms).max();
    let inputs: Vec<HostIn> = live
        .iter()
        .zip(&records)
        .map(|(h, r)| HostIn {
            local: h.is_local(),
            here: speed::is_here(h),
            record: predict::current(r.as_ref(), units, newest.unwrap_or(0)),
            // What the host says of its own load, so that clients of
            // other machines' builds are counted too.
            load: super::load::get(speed_dir, &h.mode).map(|l| {
                let job = r.and_then(|r| r.job.rate()).map_or(0.0, |x| x * units);
                predict::LoadReport {
                    start_delay: super::load::start_delay(&l, job),
                }
            }),
        })
        .collect();
    let times = predict::job_times(&inputs, here.as_ref(), units)?;
    Some((times, records))
}

/// A straggler's copy: the free remote slot among `hosts` (only `,cpp`
/// ones for a `pump` job) where the job is predicted to finish first,
/// taken without waiting, if it finishes sooner than `beat` seconds; with
/// its predicted seconds.
pub fn spare<'h>(
    s: &Settings,
    speed_dir: &Path,
    lock_dir: &Path,
    hosts: &[&'h Host],
    pump: bool,
    input: &std::ffi::OsStr,
    beat: f64,
) -> Option<(&'h Host, Held, f64)> {
    let mut live: Vec<&Host> = Vec::new();
    for h in hosts {
        if !h.is_local()
            && !h.down
            && (!pump || h.cpp)
            && !super::backoff::is_backed_off(lock_dir, h, s.backoff_period)
        {
            live.push(h);
        }
    }
    let (times, _) = predictions(speed_dir, &live, speed::units_of(input))?;
    // The fastest host with a free slot; no sort (it costs the armv7
    // binary kilobytes): a faster one found later replaces the lock.
    let mut best: Option<(usize, SlotLock)> = None;
    for (i, h) in live.iter().enumerate() {
        if times[i] >= beat || best.as_ref().is_some_and(|(b, _)| times[*b] <= times[i]) {
            continue;
        }
        if let Some(l) =
            (0..h.slots.min(50)).find_map(|slot| lock::take_kind(lock_dir, "cpu", &h.mode, slot))
        {
            best = Some((i, l));
        }
    }
    let (i, l) = best?;
    let h = live[i];
    Some((
        h,
        Held {
            slot: l.slot,
            predicted: Some((std::time::Instant::now(), times[i])),
            _note: speed::BusyNote::write(
                speed_dir,
                &h.mode,
                l.slot,
                Duration::from_secs_f64(times[i]),
            ),
            _claim: None,
            _lock: l,
        },
        times[i],
    ))
}

/// A straggler's copy in distcc's order (nothing measured): a slot of
/// one of `hosts` (those listed before the job's host, which the list
/// says are faster) seen free at two looks a pause apart, so that no
/// waiting client wants it (each looks again every pause). Not sooner: a
/// free slot of a host with more slots than cores is no free CPU (on the
/// bed, copying to the x86 after 200 ms made the board's kernel build
/// about 10% slower). `seen`: the free slots of the last looks, by index
/// into `hosts`, and since when.
pub fn spare_in_order<'h>(
    s: &Settings,
    lock_dir: &Path,
    hosts: &[&'h Host],
    seen: &mut Vec<(usize, u32, Instant)>,
) -> Option<(&'h Host, Held)> {
    let now = Instant::now();
    let mut free = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        if super::backoff::is_backed_off(lock_dir, h, s.backoff_period) {
            continue;
        }
        for slot in 0..h.slots.min(50) {
            if matches!(queue::slot_busy(lock_dir, &h.mode, slot), Ok(false)) {
                let since = seen
                    .iter()
                    .find(|(j, k, _)| (*j, *k) == (i, slot))
                    .map_or(now, |e| e.2);
                free.push((i, slot, since));
            }
        }
    }
    *seen = free;
    seen.iter()
        .filter(|(_, _, since)| now.duration_since(*since) >= s.pause)
        .find_map(|&(i, slot, _)| {
            lock::take_kind(lock_dir, "cpu", &hosts[i].mode, slot)
                .map(|l| (hosts[i], Held::plain(l)))
        })
}

/// Block until one of `n` local slots is free (`--localslots` for compiles,
/// `--localslots_cpp` for preprocessing).
pub fn local(s: &Settings, lock_dir: &Path, n: u32) -> std::io::Result<SlotLock> {
    loop {
        if let Some(l) = lock::lock_local_now(lock_dir, n)? {
            return Ok(l);
        }
        std::thread::sleep(s.pause.max(std::time::Duration::from_millis(1)));
    }
}

/// distcc's `--randomize`: shuffle the list once per invocation.
pub fn shuffle<T>(v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let mut b = [0u8; 4];
        let r = if getrandom::fill(&mut b).is_ok() {
            u32::from_le_bytes(b) as usize
        } else {
            std::process::id() as usize
        };
        v.swap(i, r % (i + 1));
    }
}
