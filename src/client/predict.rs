//! Predicted finish (`TINYDCC_CHOOSE=measured`): how long this job would
//! take on each host, from the measured speeds (speed.rs), and which slot
//! it finishes first on, counting the wait until a busy slot frees and the
//! clients already waiting. Pure functions: pick.rs gathers the inputs.

use super::speed::Record;

/// What a host says about its own load (running and queued jobs, free
/// memory), gathered by `client::load` from its stats port.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadReport {
    /// Seconds before the host would start one more job.
    pub start_delay: f64,
}

/// One host's inputs.
pub struct HostIn<'a> {
    /// `localhost`: compiled here by the compiler itself, cpp included.
    pub local: bool,
    /// It compiles on this machine (`localhost`, or a daemon on a loopback
    /// address): its compiles take CPU from this client's preprocessing.
    pub here: bool,
    pub record: Option<&'a Record>,
    pub load: Option<LoadReport>,
}

/// Seconds this job (`units` of work) would keep each host busy, until its
/// result is here; `None` when nothing is measured (choose as distcc does).
///
/// A remote host: the client's own preparation (cpp or include scan; it
/// runs while the slot is held), the transfer at the host's measured rate,
/// and the compile. A `localhost` slot: the local compile. A compile on
/// this machine (`localhost`, or a daemon on a loopback address) is
/// stretched by how much a running local compile slowed this machine's
/// preparation of other jobs (measured: `prep_busy` against `prep_idle`).
/// On a client whose CPUs are all spent preparing jobs, a local compile
/// takes its time from theirs one for one; on a client with CPU to spare
/// the two rates match and the local slot costs just its compile.
/// A host not measured yet is assumed twice as fast as the fastest
/// measured one, so it gets a job as soon as it has a free slot and is
/// measured from then on: one job per new host is the price of knowing.
pub fn job_times(hosts: &[HostIn], here: Option<&Record>, units: f64) -> Option<Vec<f64>> {
    let prep_rate = here.and_then(|r| r.prep_idle.rate()).unwrap_or(0.0);
    let slowdown = match (
        here.and_then(|r| r.prep_idle.rate()),
        here.and_then(|r| r.prep_busy.rate()),
    ) {
        (Some(idle), Some(busy)) if idle > 0.0 => (busy / idle - 1.0).max(0.0),
        _ => 0.0,
    };
    let measured: Vec<Option<f64>> = hosts
        .iter()
        .map(|h| {
            let j = &h.record?.job;
            let rate = j.rate()?;
            let (before, compile) = if h.local {
                (0.0, units * rate)
            } else {
                let transfer = units * j.send_rate().unwrap_or(0.0);
                (units * prep_rate + transfer, units * rate - transfer)
            };
            let stretch = if h.here { 1.0 + slowdown } else { 1.0 };
            Some(before + compile * stretch + h.load.map_or(0.0, |l| l.start_delay))
        })
        .collect();
    let known: Vec<f64> = measured.iter().flatten().copied().collect();
    if known.is_empty() {
        return None;
    }
    let prior = known.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    Some(measured.into_iter().map(|t| t.unwrap_or(prior)).collect())
}

/// A record unchanged for `RETRY` times the job it predicts while
/// another host's was updated is measured again: read as unmeasured, its
/// host gets the next free slot. Without
/// it a host whose first jobs were slow (cold caches, its header store
/// filling) got no job for the rest of the build: on the bed one board of
/// three got 3 of 205 kernel jobs, and the x86 client's build took 51.5 s
/// against 38.3 in distcc's order. A slow host is retried at most once per
/// three of its jobs' time.
const RETRY: f64 = 3.0;

/// `r`, unless it is due to be measured again (`RETRY`): `newest_ms` is
/// the last update of any host's record. A big job (job_size.rs) is no
/// trial: in a full bench run sed's `regex.c` went to a board retried so,
/// and its build ended 6-7 s after the others.
pub fn current(r: Option<&Record>, units: f64, newest_ms: u64) -> Option<&Record> {
    r.filter(|r| {
        super::speed::is_big(units)
            || r.job.rate().is_none_or(|rate| {
                (newest_ms.saturating_sub(r.updated_ms) as f64) < RETRY * 1e3 * units * rate
            })
    })
}

/// A slot as seen now.
#[derive(Debug, Clone, Copy)]
pub struct SlotView {
    /// Index into the host list given to `job_times`.
    pub host: usize,
    /// Seconds until it is free; 0 when free now.
    pub frees_in: f64,
    pub free: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Choice {
    /// Take this free slot (index into the views).
    Take(usize),
    /// A busy slot will finish the job first: wait about this long.
    Wait(f64),
}

/// A job waits for a busy slot only when it finishes there in a third of
/// the time the best free slot needs: while it waits it holds one of
/// make's jobs, which the free slot would put to work. Waiting whenever
/// the busy slot was sooner, the x86 client of the bed compiled 127-155
/// of 205 kernel units itself while its boards idled: 49.8-54.0 s against
/// 38-41 s in distcc's order; at 1.5 46.0-51.4 s, at 3 42.4-45.2 s, never
/// waiting 40.6-41.5 s, where the board client's build was no better.
const WAIT_GAIN: f64 = 3.0;

/// The slot where the job finishes first, or a free one that finishes it
/// within `WAIT_GAIN` of that (not for a `big` job: in a full bench run
/// sed's `regex.c` went to a free board and its build ended 5-9 s after
/// the others). `slots` come in distcc's order
/// (slot 0 of every host, then slot 1, ...), so equal predictions choose as
/// distcc does. `ahead` clients are already waiting: they get the first
/// openings (each the one that finishes it first for them, then that slot
/// runs their job), and this job the best that remains. A free slot a
/// waiter would get is left to it; it wakes up for it soon.
pub fn choose(times: &[f64], slots: &[SlotView], ahead: usize, big: bool) -> Option<Choice> {
    let mut open: Vec<f64> = slots
        .iter()
        .map(|s| if s.free { 0.0 } else { s.frees_in.max(0.0) })
        .collect();
    let finish = |open: &[f64], i: usize| open[i] + times[slots[i].host];
    let best = |open: &[f64]| {
        (0..slots.len()).min_by(|&a, &b| {
            finish(open, a)
                .partial_cmp(&finish(open, b))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        })
    };
    for _ in 0..ahead.min(1000) {
        let i = best(&open)?;
        open[i] += times[slots[i].host];
    }
    let i = best(&open)?;
    if open[i] == 0.0 && slots[i].free {
        return Some(Choice::Take(i));
    }
    // A big job's end is the build's: it waits whenever that is sooner.
    let gain = if big { 1.0 } else { WAIT_GAIN };
    // The best free slot: `best` over the free ones alone.
    let mut free = open.clone();
    for (j, s) in slots.iter().enumerate() {
        if free[j] != 0.0 || !s.free {
            free[j] = f64::INFINITY;
        }
    }
    match best(&free) {
        Some(j) if finish(&free, j) <= gain * finish(&open, i) => Some(Choice::Take(j)),
        _ => Some(Choice::Wait(open[i])),
    }
}

#[cfg(test)]
mod tests {
    use super::super::speed::{Group, Record, Sample};
    use super::*;

    fn rec(secs_per_unit: f64) -> Record {
        let mut r = Record::default();
        r.add(
            Group::Job,
            Sample {
                units: 10.0,
                secs: 10.0 * secs_per_unit,
                bytes: 1e5,
                send_s: 0.0,
            },
            0,
        );
        r
    }

    fn remote(r: Option<&Record>) -> HostIn<'_> {
        HostIn {
            local: false,
            here: false,
            record: r,
            load: None,
        }
    }

    fn free(host: usize) -> SlotView {
        SlotView {
            host,
            frees_in: 0.0,
            free: true,
        }
    }

    fn busy(host: usize, frees_in: f64) -> SlotView {
        SlotView {
            host,
            frees_in,
            free: false,
        }
    }

    #[test]
    fn nothing_measured_means_distcc_order() {
        let hosts = [remote(None), remote(None)];
        assert_eq!(job_times(&hosts, None, 10.0), None);
    }

    #[test]
    fn an_unmeasured_host_is_tried_next() {
        let (a, b) = (rec(0.1), rec(0.3));
        let hosts = [remote(Some(&a)), remote(None), remote(Some(&b))];
        let t = job_times(&hosts, None, 10.0).unwrap();
        assert!((t[0] - 1.0).abs() < 1e-9 && (t[2] - 3.0).abs() < 1e-9);
        assert!((t[1] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_record_unchanged_for_long_is_measured_again() {
        let r = Record {
            updated_ms: 100_000,
            ..rec(0.1)
        };
        // 10 units at 0.1 s: a 1 s job, retried after 3 s.
        assert!(current(Some(&r), 10.0, 102_999).is_some());
        assert!(current(Some(&r), 10.0, 103_001).is_none());
        assert!(current(None, 10.0, 0).is_none());
        // A big job goes by the record, however old.
        assert!(current(Some(&r), 72.0, 1_000_000).is_some());
    }

    #[test]
    fn equal_hosts_choose_like_distcc() {
        let t = [1.0, 1.0, 1.0];
        // Slot 0 of hosts 0..3, then slot 1 of host 0: host 0's slot 0 busy.
        let v = [busy(0, 0.5), free(1), free(2), free(0)];
        assert_eq!(choose(&t, &v, 0, false), Some(Choice::Take(1)));
    }

    #[test]
    fn the_fastest_free_slot_wins() {
        let t = [4.0, 1.0];
        let v = [free(0), free(1)];
        assert_eq!(choose(&t, &v, 0, false), Some(Choice::Take(1)));
    }

    #[test]
    fn wait_for_a_fast_slot_that_frees_sooner() {
        // A slow host free now finishes in 8 s; the fast one frees in 0.5 s
        // and then takes 1 s (1.5 s, within a third of 8): wait.
        let t = [8.0, 1.0];
        let v = [free(0), busy(1, 0.5)];
        assert_eq!(choose(&t, &v, 0, false), Some(Choice::Wait(0.5)));
        // Freeing in 2 s (done at 3, more than a third of 8): a job
        // waiting holds one of make's, so take the slow host.
        let v = [free(0), busy(1, 2.0)];
        assert_eq!(choose(&t, &v, 0, false), Some(Choice::Take(0)));
        // Sooner busy, but not three times sooner: the free one; a big
        // job waits.
        let t = [4.0, 1.0];
        let v = [free(0), busy(1, 0.5)];
        assert_eq!(choose(&t, &v, 0, false), Some(Choice::Take(0)));
        assert_eq!(choose(&t, &v, 0, true), Some(Choice::Wait(0.5)));
    }

    #[test]
    fn waiters_ahead_take_the_fast_openings_first() {
        let t = [8.0, 1.0];
        let v = [free(0), busy(1, 0.5)];
        // One ahead: it gets the fast slot at 0.5 (done at 1.5); this job
        // could have it at 1.5 (done at 2.5), within a third of 8: wait.
        assert!(
            matches!(choose(&t, &v, 1, false), Some(Choice::Wait(w)) if (w - 1.5).abs() < 1e-9)
        );
        // Two ahead: the fast slot opens for this job at 2.5, done at 3.5,
        // more than a third of the slow host's 8: go slow.
        assert_eq!(choose(&t, &v, 2, false), Some(Choice::Take(0)));
        // Three ahead and two slow slots free: the first of equals.
        let v = [free(0), busy(1, 0.5), free(0)];
        assert_eq!(choose(&t, &v, 3, false), Some(Choice::Take(0)));
    }

    #[test]
    fn local_slot_pays_for_slowing_this_machines_preprocessing() {
        let local = rec(0.1);
        let x86 = rec(0.1);
        let mut here = local;
        let s = |secs| Sample {
            units: 10.0,
            secs,
            bytes: 0.0,
            send_s: 0.0,
        };
        here.add(Group::PrepIdle, s(0.1), 0);
        here.add(Group::PrepBusy, s(0.3), 0);
        let hosts = [
            HostIn {
                local: true,
                here: true,
                record: Some(&local),
                load: None,
            },
            remote(Some(&x86)),
            // A daemon on 127.0.0.1: prep and transfer, then a compile
            // stretched like a local one.
            HostIn {
                local: false,
                here: true,
                record: Some(&x86),
                load: None,
            },
        ];
        let t = job_times(&hosts, Some(&here), 10.0).unwrap();
        // Local: 1 s compile stretched 3×; remote: 0.1 s prep + 1 s.
        assert!((t[0] - 3.0).abs() < 1e-9, "{t:?}");
        assert!((t[1] - 1.1).abs() < 1e-9, "{t:?}");
        assert!((t[2] - 3.1).abs() < 1e-9, "{t:?}");
        // Without a measured slowdown the local slot is just its compile.
        here.prep_busy = Default::default();
        let t = job_times(&hosts, Some(&here), 10.0).unwrap();
        assert!((t[0] - 1.0).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn a_load_report_delays_its_host() {
        let a = rec(0.1);
        let hosts = [HostIn {
            local: false,
            here: false,
            record: Some(&a),
            load: Some(LoadReport { start_delay: 2.0 }),
        }];
        assert!((job_times(&hosts, None, 10.0).unwrap()[0] - 3.0).abs() < 1e-9);
    }
}
