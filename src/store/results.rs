//! The result cache: a successful compile's object, warnings and `.d`
//! file under the key of everything that decided them (`KeyBuilder`).
//! An entry is checked whole when read; a damaged one is deleted, logged
//! and reported as a miss, so the job is compiled as if never cached.

use std::io;
use std::path::Path;

use super::digest::Digest;
use super::entry::{self, Entry, Spans};
use super::evict::worth_storing;
use super::shelf::Shelf;
use super::Counters;

pub struct ResultCache {
    shelf: Shelf,
}

/// A cache hit: the entry's bytes, checked.
pub struct Hit {
    bytes: Vec<u8>,
    spans: Spans,
}

impl Hit {
    pub fn entry(&self) -> Entry<'_> {
        self.spans.entry(&self.bytes)
    }
}

impl ResultCache {
    /// Open the cache in `dir` (created as needed), holding at most
    /// `limit` bytes.
    pub fn open(dir: &Path, limit: u64) -> io::Result<ResultCache> {
        Ok(ResultCache {
            shelf: Shelf::open(dir, limit, "result cache", 0o600)?,
        })
    }

    /// `open` without adding up the cache's bytes (see
    /// `Shelf::open_unscanned`): for inetd, one process per job.
    pub fn open_unscanned(dir: &Path, limit: u64) -> io::Result<ResultCache> {
        Ok(ResultCache {
            shelf: Shelf::open_unscanned(dir, limit, "result cache", 0o600)?,
        })
    }

    /// The entry stored under `key`, if it is there and intact.
    pub fn get(&mut self, key: &Digest) -> Option<Hit> {
        let Some((file, bytes)) = self.shelf.read(key) else {
            self.shelf.stats.misses += 1;
            return None;
        };
        match entry::check(&bytes, key) {
            Ok(spans) => {
                Shelf::touch(&file);
                self.shelf.stats.hits += 1;
                Some(Hit { bytes, spans })
            }
            Err(why) => {
                log::warn!(
                    "result cache: entry {} is damaged ({why}); deleted",
                    key.hex()
                );
                self.shelf.remove(key);
                self.shelf.stats.corrupt += 1;
                self.shelf.stats.misses += 1;
                None
            }
        }
    }

    /// Keep `e` under `key`. False if not kept: too large for the cache,
    /// or the cache is (or just went) off. Never an error for the job.
    pub fn put(&mut self, key: &Digest, e: &Entry) -> bool {
        if !worth_storing(e.encoded_len() as u64, self.shelf.limit()) {
            return false;
        }
        let (head, body, trailer) = e.pieces(key);
        self.shelf
            .write(key, &[&head, body[0], body[1], body[2], &trailer])
    }

    /// See `Shelf::needs_eviction` and `Shelf::evict_step`.
    pub fn needs_eviction(&self) -> bool {
        self.shelf.needs_eviction()
    }

    pub fn evict_step(&mut self) -> bool {
        self.shelf.evict_step()
    }

    pub fn is_on(&self) -> bool {
        self.shelf.is_on()
    }

    pub fn counters(&self) -> Counters {
        self.shelf.stats
    }
}
