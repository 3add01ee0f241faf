//! Each file's parse, kept for the include server's life and keyed by
//! (dev, inode, size, mtime, ctime): a changed file is read again, and the
//! stale version dropped.

use std::sync::Arc;

use super::bytepath::path_of;
use super::closure::ScanStats;
use super::directives;
use super::parsed::Parsed;
use super::probe::FileKey;
use super::tokens::{FxMap, Interner};

/// Files bigger than this are not read (a 1 GB board): give up.
const MAX_FILE: u64 = 64 << 20;
/// Parsed files kept at most (a kernel build reads about 5000).
const MAX_CACHED: usize = 100_000;

pub(super) type Cached = Result<Arc<Parsed>, Arc<str>>;

/// Parsed files, and the interner their tokens' spellings live in.
pub(super) struct ParseCache {
    pub(super) interner: Interner,
    parsed: FxMap<FileKey, Cached>,
    /// The key last seen for each (dev, inode), to drop stale versions.
    latest: FxMap<(u64, u64), FileKey>,
}

impl ParseCache {
    pub(super) fn new() -> ParseCache {
        ParseCache {
            interner: Interner::new(),
            parsed: FxMap::default(),
            latest: FxMap::default(),
        }
    }

    /// Parsed files held now.
    pub(super) fn len(&self) -> usize {
        self.parsed.len()
    }

    /// Forget every parse.
    pub(super) fn clear(&mut self) {
        self.parsed.clear();
        self.latest.clear();
    }

    /// The parse of the file at `abs` whose stat gave `key`.
    pub(super) fn parse_file(&mut self, abs: &[u8], key: FileKey, stats: &mut ScanStats) -> Cached {
        if let Some(c) = self.parsed.get(&key) {
            stats.parse_hits += 1;
            return c.clone();
        }
        if self.parsed.len() >= MAX_CACHED {
            // Far more files than any one build reads: start over rather
            // than grow without bound (files in use stay alive through
            // the scan's own references).
            self.clear();
        }
        let r = self.read_and_parse(abs, key, stats);
        if let Some(old) = self.latest.insert((key.dev, key.ino), key) {
            if old != key {
                self.parsed.remove(&old);
            }
        }
        self.parsed.insert(key, r.clone());
        r
    }

    fn read_and_parse(&mut self, abs: &[u8], key: FileKey, stats: &mut ScanStats) -> Cached {
        let shown = String::from_utf8_lossy(abs);
        if key.size > MAX_FILE {
            return Err(format!("{shown}: too big to scan ({} bytes)", key.size).into());
        }
        let bytes = std::fs::read(path_of(abs)).map_err(|e| format!("{shown}: {e}"))?;
        stats.files_parsed += 1;
        stats.bytes_parsed += bytes.len() as u64;
        directives::parse(&bytes, &mut self.interner)
            .map(Arc::new)
            .map_err(|e| format!("{shown}: {e}").into())
    }
}
