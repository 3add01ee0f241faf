//! A directory of files named by digest (`DIR/ab/abcd…`), each written
//! whole (a temporary file in `DIR/tmp`, then rename) and bounded in bytes
//! by evicting the least recently used. A write that fails (a full disk,
//! a read-only or over-quota file system, anything else) turns the shelf
//! off with one log line: the job it came from goes on as if uncached.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::digest::Digest;
use super::evict::{low_water, Candidate, Oldest};
use super::Counters;

const SHARDS: usize = 256;
/// Shard directories one eviction step reads.
const SHARDS_PER_STEP: usize = 8;
/// Victims one scan pass collects at most (about 60 bytes each).
const MAX_VICTIMS: usize = 1024;
/// Files one eviction step deletes at most.
const DELETES_PER_STEP: usize = 64;
/// Seconds within which a header blob used again is not touched again
/// (`Shelf::stale`).
pub const TOUCH_GRAIN: i64 = 60;

enum Pass {
    Scan {
        next: usize,
        oldest: Oldest,
    },
    /// `freed`: victims deleted so far in this pass.
    Delete {
        victims: Vec<Candidate>,
        at: usize,
        freed: usize,
    },
}

pub struct Shelf {
    dir: PathBuf,
    /// "result cache" or "header store", for the log.
    what: &'static str,
    limit: u64,
    /// Permissions of new files.
    mode: u32,
    off: bool,
    /// The last pass freed nothing: wait for the next write.
    stuck: bool,
    pass: Option<Pass>,
    pub stats: Counters,
}

fn used(m: &fs::Metadata) -> i128 {
    m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128
}

impl Shelf {
    /// Open (creating as needed) the shelf in `dir`; removes temporary
    /// files a crash left and adds up what the shelf holds (one pass over
    /// the directory, at start only).
    pub fn open(dir: &Path, limit: u64, what: &'static str, mode: u32) -> io::Result<Shelf> {
        let mut s = Shelf::open_unscanned(dir, limit, what, mode)?;
        for e in fs::read_dir(dir.join("tmp"))?.flatten() {
            let _ = fs::remove_file(e.path());
        }
        // Shard directories are made by the first write into them.
        for i in 0..SHARDS {
            let Ok(rd) = fs::read_dir(dir.join(format!("{i:02x}"))) else {
                continue;
            };
            for e in rd.flatten() {
                if Digest::from_hex(e.file_name().as_encoded_bytes()).is_none() {
                    continue;
                }
                if let Ok(m) = e.metadata() {
                    s.stats.bytes += m.len();
                    s.stats.entries += 1;
                }
            }
        }
        Ok(s)
    }

    /// Open without adding up what the shelf holds (inetd: one process
    /// per job must not read every shard). Its byte count then starts at
    /// zero, so it never evicts: whoever opens it with `open` does. Nor
    /// does it remove temporary files: another process may be writing
    /// them.
    pub fn open_unscanned(
        dir: &Path,
        limit: u64,
        what: &'static str,
        mode: u32,
    ) -> io::Result<Shelf> {
        use std::os::unix::fs::DirBuilderExt;
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b.create(dir)?;
        b.create(dir.join("tmp"))?;
        Ok(Shelf {
            dir: dir.to_path_buf(),
            what,
            limit,
            mode,
            off: false,
            stuck: false,
            pass: None,
            stats: Counters::default(),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// False once a write failed: the shelf then stores and finds nothing.
    pub fn is_on(&self) -> bool {
        !self.off
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.dir.join(&hex[..2]).join(hex)
    }

    /// The file stored under `d` and its bytes (at most the limit's worth:
    /// a longer file is returned cut, and fails its check), or None.
    pub fn read(&self, d: &Digest) -> Option<(File, Vec<u8>)> {
        if self.off {
            return None;
        }
        let mut f = File::open(self.path(d)).ok()?;
        let mut bytes = Vec::new();
        (&mut f).take(self.limit).read_to_end(&mut bytes).ok()?;
        Some((f, bytes))
    }

    /// Mark `f` (an entry just used) as recently used.
    pub fn touch(f: &File) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }

    /// Whether a file used now with metadata `m` needs `touch_path`: not
    /// when it was marked used within `TOUCH_GRAIN`. A kernel build links
    /// each header blob into nearly every job, and each touch is an inode
    /// write (and an open and close); eviction's order only needs recency
    /// to the minute.
    pub fn stale(m: &fs::Metadata) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        m.mtime() < now - TOUCH_GRAIN
    }

    /// `touch` by name (one system call, no open), never following a
    /// symlink.
    pub fn touch_path(p: &Path) {
        use nix::sys::stat::{utimensat, UtimensatFlags};
        use nix::sys::time::TimeSpec;
        let _ = utimensat(
            None,
            p,
            &TimeSpec::UTIME_OMIT,
            &TimeSpec::UTIME_NOW,
            UtimensatFlags::NoFollowSymlink,
        );
    }

    /// Delete the entry `d` (found damaged).
    pub fn remove(&mut self, d: &Digest) {
        let p = self.path(d);
        let Ok(m) = fs::symlink_metadata(&p) else {
            return;
        };
        if fs::remove_file(&p).is_ok() {
            self.stats.bytes = self.stats.bytes.saturating_sub(m.len());
            self.stats.entries = self.stats.entries.saturating_sub(1);
        }
    }

    /// Store `parts`, concatenated, under `d`, replacing what was there.
    /// False if not stored (the shelf is off, or goes off now).
    pub fn write(&mut self, d: &Digest, parts: &[&[u8]]) -> bool {
        if self.off {
            return false;
        }
        let tmp =
            self.dir
                .join("tmp")
                .join(format!("{}.{}", d.hex(), crate::paths::random_suffix()));
        let fin = self.path(d);
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(self.mode)
                .open(&tmp)?;
            for p in parts {
                f.write_all(p)?;
            }
            drop(f);
            let old = fs::symlink_metadata(&fin).ok().map(|m| m.len());
            if let Err(e) = fs::rename(&tmp, &fin) {
                if e.kind() != io::ErrorKind::NotFound {
                    return Err(e);
                }
                if let Some(shard) = fin.parent() {
                    match fs::create_dir(shard) {
                        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                        _ => {}
                    }
                }
                fs::rename(&tmp, &fin)?;
            }
            Ok::<_, io::Error>(old)
        })();
        match result {
            Ok(old) => {
                let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
                self.stats.bytes = self.stats.bytes - old.unwrap_or(0).min(self.stats.bytes) + len;
                self.stats.entries += u64::from(old.is_none());
                self.stuck = false;
                true
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                self.turn_off(&e);
                false
            }
        }
    }

    fn turn_off(&mut self, e: &io::Error) {
        self.off = true;
        self.pass = None;
        log::warn!(
            "{} off: cannot write in {}: {}",
            self.what,
            self.dir.display(),
            crate::errtext::reason(e)
        );
    }

    /// True while the shelf holds more than its limit and eviction can
    /// make progress: the driver then calls `evict_step`.
    pub fn needs_eviction(&self) -> bool {
        !self.off && (self.pass.is_some() || (self.stats.bytes > self.limit && !self.stuck))
    }

    /// One bounded step of eviction: reads a few shard directories, or
    /// deletes a few victims of a finished scan. Returns
    /// `needs_eviction()`.
    pub fn evict_step(&mut self) -> bool {
        if !self.needs_eviction() {
            return false;
        }
        let pass = self.pass.take().unwrap_or_else(|| Pass::Scan {
            next: 0,
            oldest: Oldest::new(self.stats.bytes - low_water(self.limit), MAX_VICTIMS),
        });
        self.pass = match pass {
            Pass::Scan { next, mut oldest } => {
                let end = (next + SHARDS_PER_STEP).min(SHARDS);
                for shard in next..end {
                    self.scan_shard(shard, &mut oldest);
                }
                Some(if end == SHARDS {
                    Pass::Delete {
                        victims: oldest.into_victims(),
                        at: 0,
                        freed: 0,
                    }
                } else {
                    Pass::Scan { next: end, oldest }
                })
            }
            Pass::Delete {
                victims,
                at,
                mut freed,
            } => {
                let end = (at + DELETES_PER_STEP).min(victims.len());
                for c in &victims[at..end] {
                    freed += usize::from(self.evict(c));
                }
                if end < victims.len() {
                    Some(Pass::Delete {
                        victims,
                        at: end,
                        freed,
                    })
                } else {
                    // A pass that freed nothing (files that cannot be
                    // deleted) is not repeated until the next write.
                    self.stuck = freed == 0;
                    None
                }
            }
        };
        self.needs_eviction()
    }

    fn scan_shard(&self, shard: usize, oldest: &mut Oldest) {
        let Ok(rd) = fs::read_dir(self.dir.join(format!("{shard:02x}"))) else {
            return;
        };
        for e in rd.flatten() {
            let Some(name) = Digest::from_hex(e.file_name().as_encoded_bytes()) else {
                continue;
            };
            if let Ok(m) = e.metadata() {
                oldest.offer(Candidate {
                    used: used(&m),
                    name,
                    size: m.len(),
                });
            }
        }
    }

    /// Delete a victim unless it was used (or replaced) since the scan.
    fn evict(&mut self, c: &Candidate) -> bool {
        let p = self.path(&c.name);
        match fs::symlink_metadata(&p) {
            Ok(m) if used(&m) == c.used && m.len() == c.size => {}
            _ => return false,
        }
        if fs::remove_file(&p).is_err() {
            return false;
        }
        self.stats.bytes = self.stats.bytes.saturating_sub(c.size);
        self.stats.entries = self.stats.entries.saturating_sub(1);
        self.stats.evictions += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn writes_replace_and_count() {
        let t = Dir(crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-shelf.").unwrap());
        let dir = t.0.join("s");
        let mut s = Shelf::open(&dir, 1000, "test", 0o600).unwrap();
        let d = Digest::of(b"a");
        assert!(s.write(&d, &[b"12345", b"678"]));
        assert_eq!((s.stats.bytes, s.stats.entries), (8, 1));
        assert!(s.write(&d, &[b"12"]));
        assert_eq!((s.stats.bytes, s.stats.entries), (2, 1));
        let (_, bytes) = s.read(&d).unwrap();
        assert_eq!(bytes, b"12");
        assert!(s.read(&Digest::of(b"b")).is_none());
        s.remove(&d);
        assert_eq!((s.stats.bytes, s.stats.entries), (0, 0));
        assert!(!s.needs_eviction() && !s.evict_step());
    }

    #[test]
    fn a_pass_that_frees_nothing_waits_for_the_next_write() {
        let t = Dir(crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-shelf.").unwrap());
        let mut s = Shelf::open(&t.0, 10, "test", 0o600).unwrap();
        assert!(s.write(&Digest::of(b"a"), &[b"0123456789ab"]));
        // Counted bytes with no file behind them cannot be evicted.
        fs::remove_file(s.path(&Digest::of(b"a"))).unwrap();
        let mut steps = 0;
        while s.evict_step() {
            steps += 1;
        }
        assert_eq!(steps, SHARDS / SHARDS_PER_STEP);
        assert!(!s.needs_eviction());
        assert!(s.write(&Digest::of(b"b"), &[b"x"]));
        assert!(s.needs_eviction());
    }
}
