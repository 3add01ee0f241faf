//! Measured host speed for `TINYDCC_CHOOSE=measured`, shared by every
//! tinydcc client on this machine: one small text file per host under
//! `$DISTCC_DIR/speed/`, named like its backoff file (`speed_tcp_HOST_PORT_0`,
//! `speed_localhost_0`), replaced whole (temp file + rename) so a reader
//! never sees half of one. Stock distcc never looks in that directory.
//!
//! The unit of work is the source file's size plus a fixed 8 KiB for what
//! every job costs whatever its size (headers, process start-up), in KiB:
//! it is the only measure of a job known before its slot is taken (plain
//! mode runs cpp, pump mode the include scan, only once a slot is held, as
//! distcc does), it costs one `stat`, and it is the same number for every
//! host, so hosts are compared on the same jobs. A source that pulls in
//! many headers makes it noisy, not biased between hosts.
//!
//! A record holds decayed sums, so its rates are averages in which old
//! jobs count less: every update first multiplies the sums of the group it
//! adds to by `KEEP` (count decay: about the last 8 jobs matter), and all
//! sums by one half per `HALF_LIFE` since the last update (age decay). A
//! record whose weight has decayed below `MIN_WEIGHT` is no record.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::hosts::{Host, Mode};

/// Count decay per new sample of the same group.
const KEEP: f64 = 0.875;
/// Age decay: a measurement half as trusted after this long.
const HALF_LIFE: f64 = 3600.0;
/// A group with less weight than this (in jobs) is treated as unmeasured.
const MIN_WEIGHT: f64 = 0.05;
/// Fixed per-job cost, in bytes of source (see the module comment).
const FIXED_BYTES: u64 = 8192;
const MAGIC: &str = "tinydcc-speed";
const VERSION: &str = "1";

/// The work in a job whose source is `bytes` long.
pub fn units_of_size(bytes: u64) -> f64 {
    (bytes + FIXED_BYTES) as f64 / 1024.0
}

/// Whether `units` of work are a big job (`job_size::BIG`).
pub fn is_big(units: f64) -> bool {
    units >= units_of_size(super::job_size::BIG)
}

/// The work in compiling `input` (its source's bytes, job_size.rs; 0
/// when unreadable).
pub fn units_of(input: &std::ffi::OsStr) -> f64 {
    units_of_size(super::job_size::source_bytes(input))
}

/// Decayed sums for one kind of sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Jobs (decayed count).
    pub n: f64,
    /// Units of work.
    pub units: f64,
    /// Seconds they took.
    pub secs: f64,
    /// Bytes sent to the host (remote jobs only).
    pub bytes: f64,
    /// Seconds spent writing those bytes into the connection.
    pub send_s: f64,
}

impl Sums {
    fn scale(&mut self, f: f64) {
        self.n *= f;
        self.units *= f;
        self.secs *= f;
        self.bytes *= f;
        self.send_s *= f;
    }

    fn add(&mut self, s: Sample) {
        self.scale(KEEP);
        self.n += 1.0;
        self.units += s.units;
        self.secs += s.secs;
        self.bytes += s.bytes;
        self.send_s += s.send_s;
    }

    /// Seconds per unit, if measured.
    pub fn rate(&self) -> Option<f64> {
        (self.n >= MIN_WEIGHT && self.units > 0.0).then(|| self.secs / self.units)
    }

    /// Seconds per unit spent sending (the transfer part of `rate`).
    pub fn send_rate(&self) -> Option<f64> {
        (self.n >= MIN_WEIGHT && self.units > 0.0).then(|| self.send_s / self.units)
    }

    /// Bytes per second seen while sending (informational: `rate`
    /// already contains the transfer).
    pub fn throughput(&self) -> Option<f64> {
        (self.n >= MIN_WEIGHT && self.send_s > 0.0).then(|| self.bytes / self.send_s)
    }
}

/// One job's measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub units: f64,
    pub secs: f64,
    pub bytes: f64,
    pub send_s: f64,
}

/// Which group of a host's record a sample goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// A job on the host: for a remote host from connecting to the reply
    /// (the client's own cpp wait left out), for `localhost` the compile.
    Job,
    /// This client's preparation of a job (cpp, or the include scan) while
    /// no local compile ran (`localhost` record only).
    PrepIdle,
    /// The same while a local compile ran: how much a local compile slows
    /// this machine's preprocessing.
    PrepBusy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Record {
    /// Unix time of the last update, ms.
    pub updated_ms: u64,
    pub job: Sums,
    pub prep_idle: Sums,
    pub prep_busy: Sums,
}

fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// Milliseconds since the epoch (0 before it): the clock of the shared
/// files under `$DISTCC_DIR` (speed records, busy notes, cpu_room's sample).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// 0.5^h for h >= 0, linear between whole halvings (at most 6% high):
/// `powf` would link libm's pow into the static binary for this alone.
fn halvings(h: f64) -> f64 {
    if h.is_nan() || h >= 64.0 {
        return 0.0;
    }
    let whole = h.max(0.0) as u32;
    let frac = h.max(0.0) - whole as f64;
    0.5f64.powi(whole as i32) * (1.0 - frac / 2.0)
}

impl Record {
    fn group(&mut self, g: Group) -> &mut Sums {
        match g {
            Group::Job => &mut self.job,
            Group::PrepIdle => &mut self.prep_idle,
            Group::PrepBusy => &mut self.prep_busy,
        }
    }

    /// Age decay up to `now_ms` (a clock that went back counts as no age).
    fn age_to(&mut self, now_ms: u64) {
        let age = now_ms.saturating_sub(self.updated_ms) as f64 / 1000.0;
        let f = halvings(age / HALF_LIFE);
        self.job.scale(f);
        self.prep_idle.scale(f);
        self.prep_busy.scale(f);
        self.updated_ms = now_ms.max(self.updated_ms);
    }

    /// This record as seen now: weights decayed by its age.
    pub fn aged(mut self) -> Record {
        self.age_to(now_ms());
        self
    }

    pub fn add(&mut self, g: Group, s: Sample, now_ms: u64) {
        self.age_to(now_ms);
        self.group(g).add(s);
    }

    /// One line: magic, version, update time, then each group's sums in
    /// millionths as integers (core's float printing and parsing would
    /// cost the static binary about 30 KB; see decimal.rs).
    pub fn encode(&self) -> String {
        let mut t = format!("{MAGIC} {VERSION} {}", self.updated_ms);
        for g in [&self.job, &self.prep_idle, &self.prep_busy] {
            for v in [g.n, g.units, g.secs, g.bytes, g.send_s] {
                t.push_str(&format!(" {}", (v * 1e6).round() as u64));
            }
        }
        t.push_str(" end\n");
        t
    }

    /// `None` for anything but a whole record of this version: a file from
    /// elsewhere, a truncated or corrupt one, a newer format.
    pub fn decode(text: &[u8]) -> Option<Record> {
        let text = std::str::from_utf8(text).ok()?.strip_suffix('\n')?;
        let w: Vec<&str> = text.split(' ').collect();
        if w.len() != 19 || w[0] != MAGIC || w[1] != VERSION || w[18] != "end" {
            return None;
        }
        let updated_ms = w[2].parse().ok()?;
        let mut v = [0f64; 15];
        for (x, s) in v.iter_mut().zip(&w[3..18]) {
            // Digits only: u64's parser also takes a leading '+'.
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *x = s.parse::<u64>().ok()? as f64 / 1e6;
        }
        let sums = |i: usize| Sums {
            n: v[i],
            units: v[i + 1],
            secs: v[i + 2],
            bytes: v[i + 3],
            send_s: v[i + 4],
        };
        Some(Record {
            updated_ms,
            job: sums(0),
            prep_idle: sums(5),
            prep_busy: sums(10),
        })
    }
}

fn path(dir: &Path, mode: &Mode) -> PathBuf {
    dir.join(super::lock::file_name("speed", mode, 0))
}

/// The record of `host`, decayed to now; `None` when there is none or it
/// is unreadable.
pub fn read(dir: &Path, mode: &Mode) -> Option<Record> {
    let bytes = std::fs::read(path(dir, mode)).ok()?;
    Record::decode(&bytes).map(Record::aged)
}

/// Write `r` whole under `final_path`: a private temp file, then rename.
/// Concurrent writers each rename a whole file; the last one wins and the
/// other's sample is lost, which costs less than a lock every job takes.
fn write_whole(final_path: &Path, r: &Record) -> std::io::Result<()> {
    let dir = final_path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        crate::paths::random_suffix()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| f.write_all(r.encode().as_bytes()))
        .and_then(|_| std::fs::rename(&tmp, final_path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Add one sample to `mode`'s record (read, update, replace).
pub fn record(dir: &Path, mode: &Mode, g: Group, s: Sample) {
    if !(s.secs.is_finite() && s.secs >= 0.0 && s.units > 0.0) {
        return;
    }
    let p = path(dir, mode);
    let mut r = std::fs::read(&p)
        .ok()
        .and_then(|b| Record::decode(&b))
        .unwrap_or_default();
    r.add(g, s, now_ms());
    if let Err(e) = write_whole(&p, &r) {
        log::debug!(
            "cannot write {}: {}",
            p.display(),
            crate::errtext::reason(&e)
        );
    }
}

/// A note beside a held slot saying who holds it and when it should be
/// free (`busy_<lock name>`), for clients that wait for it; removed before
/// the slot's lock is released (see `pick::Held`), so a note never
/// outlives its job unless the client was killed (then its pid is gone).
#[derive(Debug)]
pub struct BusyNote(PathBuf);

impl BusyNote {
    pub fn write(dir: &Path, mode: &Mode, slot: u32, expected: Duration) -> Option<BusyNote> {
        let p = dir.join(super::lock::file_name("busy", mode, slot));
        let start = now_ms();
        let end = start + expected.as_millis() as u64;
        let text = format!("{} {start} {end}\n", std::process::id());
        std::fs::write(&p, text).ok().map(|_| BusyNote(p))
    }
}

impl Drop for BusyNote {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What a busy slot's note says: since when its job runs and when its
/// holder expects to be done, if a live tinydcc client wrote it.
pub fn busy_note(dir: &Path, mode: &Mode, slot: u32) -> Option<(SystemTime, SystemTime)> {
    read_note(dir, mode, slot).map(|(_, start, end)| (start, end))
}

/// A note's holder (alive), start and expected end.
fn read_note(dir: &Path, mode: &Mode, slot: u32) -> Option<(i32, SystemTime, SystemTime)> {
    let t = std::fs::read(dir.join(super::lock::file_name("busy", mode, slot))).ok()?;
    let t = std::str::from_utf8(&t).ok()?.strip_suffix('\n')?;
    let mut w = t.split(' ');
    let pid: i32 = w.next()?.parse().ok().filter(|p| *p > 0)?;
    let start: u64 = w.next()?.parse().ok()?;
    let end: u64 = w.next()?.parse().ok()?;
    if w.next().is_some() || !alive(pid) {
        return None;
    }
    let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
    Some((pid, at(start), at(end)))
}

fn alive(pid: i32) -> bool {
    // Signal 0 only checks that the process exists.
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// Does `host` compile on this machine: `localhost`, or a daemon on a
/// loopback address (the reference list's `127.0.0.1/2`)? Its compiles
/// take CPU from this client's preprocessing.
pub fn is_here(host: &Host) -> bool {
    match &host.mode {
        Mode::Local => true,
        Mode::Tcp { host, .. } => {
            host == "localhost"
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback())
        }
        Mode::Ssh { .. } => false,
    }
}

/// Is a compile running on this machine now (another live client's busy
/// note on a slot of a host that `is_here`; this client's own note is its
/// job being prepared, not compiled)?
pub fn local_compiling(dir: &Path, hosts: &[Host]) -> bool {
    let me = std::process::id() as i32;
    hosts.iter().filter(|h| is_here(h)).any(|h| {
        (0..h.slots.min(50))
            .any(|slot| read_note(dir, &h.mode, slot).is_some_and(|(pid, _, _)| pid != me))
    })
}

/// Preparation samples are taken for one job in this many: they go to
/// the `localhost` record, a second write for the job that takes one.
const PREP_SAMPLE_ONE_IN: u8 = 4;

/// Should this job's preparation be measured, and was a local compile
/// running when it started? Decided when it starts.
pub fn prep_sample(dir: &Path, hosts: &[Host]) -> Option<bool> {
    let mut b = [0u8; 1];
    getrandom::fill(&mut b).ok()?;
    (b[0] % PREP_SAMPLE_ONE_IN == 0).then(|| local_compiling(dir, hosts))
}

/// Record what a job cost the client's CPU before it was sent.
pub fn record_prep(dir: &Path, units: f64, busy: bool, secs: Duration) {
    let g = if busy {
        Group::PrepBusy
    } else {
        Group::PrepIdle
    };
    let s = Sample {
        units,
        secs: secs.as_secs_f64(),
        ..Sample::default()
    };
    record(dir, &Mode::Local, g, s);
}

/// Record a successful remote job: `total` from connecting to the reply,
/// of which `meter` saw the sending (and the client's own pause, left
/// out: that was cpp, not the host).
pub fn record_remote(dir: &Path, mode: &Mode, units: f64, total: Duration, meter: &Meter) {
    let s = Sample {
        units,
        secs: total.saturating_sub(meter.longest_gap).as_secs_f64(),
        bytes: meter.bytes as f64,
        send_s: meter.in_write.as_secs_f64(),
    };
    record(dir, mode, Group::Job, s);
}

/// Record a successful local compile.
pub fn record_local(dir: &Path, units: f64, secs: Duration) {
    let s = Sample {
        units,
        secs: secs.as_secs_f64(),
        ..Sample::default()
    };
    record(dir, &Mode::Local, Group::Job, s);
}

/// What one job measures for the records; does nothing unless the host
/// choice is measured, so the client's job code calls it unconditionally.
#[derive(Default)]
pub struct Watch {
    dir: Option<PathBuf>,
    units: f64,
    /// A sampled preparation: when it started, with a local compile
    /// running or not, and how long it took once known.
    prep: Option<(Instant, bool)>,
    prep_took: Option<Duration>,
    connect_at: Option<Instant>,
}

impl Watch {
    pub fn new(dir: Option<&Path>, input: &std::ffi::OsStr) -> Watch {
        Watch {
            units: dir.map_or(0.0, |_| units_of(input)),
            dir: dir.map(Path::to_path_buf),
            ..Watch::default()
        }
    }

    /// The job's preparation (cpp, or the include scan) starts now.
    pub fn prep_start(&mut self, hosts: &[Host]) {
        if let Some(busy) = self.dir.as_deref().and_then(|d| prep_sample(d, hosts)) {
            self.prep = Some((Instant::now(), busy));
            self.prep_took = None;
        } else {
            self.prep = None;
        }
    }

    /// Pump: the include server answered (`listed`), or not (then plain
    /// mode prepares the job again).
    pub fn prep_end(&mut self, listed: bool) {
        match self.prep {
            Some((start, _)) if listed => self.prep_took = Some(start.elapsed()),
            _ => self.prep = None,
        }
    }

    pub fn connecting(&mut self) {
        if self.dir.is_some() {
            self.connect_at = Some(Instant::now());
        }
    }

    /// The request is sent. Plain mode: cpp's text went out with the write
    /// after the longest pause, so that is when its preparation ended.
    pub fn sent(&mut self, meter: &Meter) {
        if let (Some((start, _)), None, Some(doti)) = (self.prep, self.prep_took, meter.after_gap) {
            self.prep_took = Some(doti.saturating_duration_since(start));
        }
    }

    /// The host answered with an object.
    pub fn remote_ok(&self, mode: &Mode, meter: &Meter) {
        let (Some(dir), Some(at)) = (&self.dir, self.connect_at) else {
            return;
        };
        record_remote(dir, mode, self.units, at.elapsed(), meter);
        if let (Some((_, busy)), Some(took)) = (self.prep, self.prep_took) {
            record_prep(dir, self.units, busy, took);
        }
    }

    /// A straggler's copy, started at `copy_at`, is the job now: its time
    /// counts from its own start. When its reply is a success (`beaten`),
    /// the original's host gets its time so far as a sample (a lower
    /// bound: it is chosen less); else the job failed and that is no
    /// sample.
    pub fn lost(&mut self, mode: &Mode, meter: &Meter, copy_at: Instant, beaten: bool) {
        if let (Some(dir), Some(at), true) = (&self.dir, self.connect_at, beaten) {
            record_remote(dir, mode, self.units, at.elapsed(), meter);
        }
        self.connect_at = self.connect_at.map(|_| copy_at);
    }

    /// A `localhost` slot compiled it, in `took`.
    pub fn local_ok(&self, took: Duration) {
        if let Some(dir) = &self.dir {
            record_local(dir, self.units, took);
        }
    }
}

/// What `Metered` saw, once the sending is over.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meter {
    pub bytes: u64,
    pub in_write: Duration,
    pub longest_gap: Duration,
    /// When the write after the longest pause started.
    pub after_gap: Option<Instant>,
}

/// A writer that counts what goes through it and times it: the bytes, the
/// time spent inside writes (the link's share of a job) and the longest
/// pause between two writes (plain mode: waiting for the local cpp).
pub struct Metered<'a, W: Write> {
    inner: &'a mut W,
    pub meter: Meter,
    last_end: Option<Instant>,
}

impl<'a, W: Write> Metered<'a, W> {
    pub fn new(inner: &'a mut W) -> Self {
        Metered {
            inner,
            meter: Meter::default(),
            last_end: None,
        }
    }
}

/// Reads pass through uncounted (the header store's NEED answer).
impl<W: Write + std::io::Read> std::io::Read for Metered<'_, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<W: Write> Write for Metered<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let t = Instant::now();
        let m = &mut self.meter;
        if let Some(end) = self.last_end {
            let gap = t - end;
            if gap > m.longest_gap {
                m.longest_gap = gap;
                m.after_gap = Some(t);
            }
        }
        let r = self.inner.write(buf);
        let end = Instant::now();
        m.in_write += end - t;
        self.last_end = Some(end);
        if let Ok(n) = r {
            m.bytes += n as u64;
        }
        r
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(units: f64, secs: f64) -> Sample {
        Sample {
            units,
            secs,
            bytes: units * 1000.0,
            send_s: secs / 10.0,
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut r = Record::default();
        r.add(Group::Job, sample(10.0, 1.0), 1_000_000);
        r.add(Group::PrepBusy, sample(10.0, 0.5), 1_000_000);
        let d = Record::decode(r.encode().as_bytes()).unwrap();
        // Millionths: exact for these values.
        assert_eq!(d, r);
        assert_eq!(
            r.encode(),
            "tinydcc-speed 1 1000000 1000000 10000000 1000000 10000000000 100000 \
             0 0 0 0 0 1000000 10000000 500000 10000000000 50000 end\n"
        );
        assert!((d.job.rate().unwrap() - 0.1).abs() < 1e-12);
        assert!((d.job.throughput().unwrap() - 100_000.0).abs() < 1e-6);
        assert_eq!(d.prep_idle.rate(), None);
    }

    #[test]
    fn corrupt_partial_and_foreign_files_are_ignored() {
        let mut r = Record::default();
        r.add(Group::Job, sample(10.0, 1.0), 5);
        let good = r.encode();
        // Every strict prefix is a partial write: never a record.
        for cut in 0..good.len() {
            assert_eq!(Record::decode(&good.as_bytes()[..cut]), None, "cut {cut}");
        }
        let bad = [
            good.replace(MAGIC, "distcc-speed"),
            good.replacen(" 1 ", " 2 ", 1),
            good.replace(" end", " xxx"),
            good.replacen(" 1000000 ", " 1e6 ", 1),
            good.replacen(" 1000000 ", " -1000000 ", 1),
            good.replacen(" 1000000 ", " +1000000 ", 1),
            good.replacen(" 1000000 ", " NaN ", 1),
            good.replacen(" 1000000 ", " 99999999999999999999999 ", 1),
            good.replacen(" 1000000 ", "  1000000 ", 1),
            format!("{good}{good}"),
            String::new(),
            "\u{0}\u{1}garbage\n".into(),
        ];
        for b in bad {
            assert_eq!(Record::decode(b.as_bytes()), None, "{b:?}");
        }
        assert!(Record::decode(&[0xff, 0xfe, b'\n']).is_none());
    }

    #[test]
    fn old_samples_decay_by_count_and_by_age() {
        let mut r = Record::default();
        // A slow past, then fast jobs: the rate follows the new ones.
        for _ in 0..4 {
            r.add(Group::Job, sample(10.0, 10.0), 0);
        }
        for _ in 0..24 {
            r.add(Group::Job, sample(10.0, 1.0), 0);
        }
        let rate = r.job.rate().unwrap();
        assert!(rate < 0.15, "count decay: rate {rate}");
        // Two hours on, the weight is a quarter; a day on, nothing is left.
        let mut later = r;
        later.age_to(7_200_000);
        assert!((later.job.n / r.job.n - 0.25).abs() < 1e-9);
        assert!((later.job.rate().unwrap() - rate).abs() < 1e-9);
        later.age_to(86_400_000);
        assert_eq!(later.job.rate(), None, "a day-old record is no record");
        // An update after a long pause is dominated by the new sample.
        let mut r2 = r;
        r2.add(Group::Job, sample(10.0, 5.0), 36_000_000);
        assert!(r2.job.rate().unwrap() > 0.45);
    }

    #[test]
    fn halvings_follow_powers_of_a_half() {
        for h in [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.7, 10.0, 63.9] {
            let exact = 0.5f64.powf(h);
            let got = halvings(h);
            assert!(
                got >= exact && got <= exact * 1.061,
                "{h}: {got} vs {exact}"
            );
        }
        assert_eq!(halvings(64.0), 0.0);
        assert_eq!(halvings(f64::INFINITY), 0.0);
        assert_eq!(halvings(f64::NAN), 0.0);
        assert_eq!(halvings(-1.0), 1.0);
    }

    #[test]
    fn concurrent_writers_never_leave_a_torn_file() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-speed-").unwrap();
        let mode = Mode::Tcp {
            host: "10.0.0.9".into(),
            port: 3632,
        };
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..4 {
                let d = &d;
                let mode = &mode;
                s.spawn(move || {
                    for i in 0..200 {
                        record(d, mode, Group::Job, sample(1.0 + w as f64, 0.01 * i as f64));
                    }
                });
            }
            s.spawn(|| {
                let mut seen = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(b) = std::fs::read(path(&d, &mode)) {
                        assert!(Record::decode(&b).is_some(), "torn: {:?}", b);
                        seen += 1;
                    }
                }
                assert!(seen > 0);
            });
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("speed_tcp_10.0.0.9_3632_0")]
        );
        assert!(read(&d, &mode).unwrap().job.rate().is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn busy_note_names_a_live_holder_and_goes_with_it() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-busy-").unwrap();
        let note = BusyNote::write(&d, &Mode::Local, 1, Duration::from_secs(3)).unwrap();
        let (since, until) = busy_note(&d, &Mode::Local, 1).unwrap();
        assert!(since.elapsed().unwrap() < Duration::from_secs(1));
        let left = until.duration_since(SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(2) && left <= Duration::from_secs(3));
        // Our own note is not another client's compile.
        let here = crate::hosts::parse("localhost/2", "test").unwrap().hosts;
        assert!(!local_compiling(&d, &here));
        drop(note);
        assert_eq!(busy_note(&d, &Mode::Local, 1), None);
        // Another live process's note is (pid 1 is always there).
        std::fs::write(d.join("busy_localhost_0"), "1 1 99999999999999\n").unwrap();
        assert!(local_compiling(&d, &here));
        std::fs::remove_file(d.join("busy_localhost_0")).unwrap();
        // A killed holder's note: its pid is gone.
        std::fs::write(d.join("busy_localhost_2"), "2147483646 1 99999999999999\n").unwrap();
        assert_eq!(busy_note(&d, &Mode::Local, 2), None);
        // A partial one.
        let me = std::process::id();
        std::fs::write(d.join("busy_localhost_3"), format!("{me} 1")).unwrap();
        assert_eq!(busy_note(&d, &Mode::Local, 3), None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn hosts_here_are_localhost_and_loopback_daemons() {
        let l = crate::hosts::parse(
            "localhost/2 127.0.0.1/2 [::1]:3633 127.0.0.2 10.0.0.1 @box",
            "test",
        )
        .unwrap();
        let here: Vec<bool> = l.hosts.iter().map(is_here).collect();
        assert_eq!(here, [true, true, true, true, false, false]);
    }

    #[test]
    fn metered_counts_bytes_and_finds_the_cpp_pause() {
        let mut sink = Vec::new();
        let mut m = Metered::new(&mut sink);
        m.write_all(b"header").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        m.write_all(b"preprocessed text").unwrap();
        assert_eq!(m.meter.bytes, 23);
        assert!(m.meter.longest_gap >= Duration::from_millis(30));
        assert!(m.meter.after_gap.is_some());
    }
}
