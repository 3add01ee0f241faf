//! The daemon's on-disk stores (issue 16): the result cache (`results`:
//! a successful compile's object, warnings and `.d` file by a key built
//! from everything that decides them) and the pump header store (`blobs`:
//! the files pump clients send, by content). doc/cache.md describes the
//! format, the key and eviction.
//!
//! Both are a `shelf`: a directory of whole files named by digest in 256
//! shard directories, bounded in bytes. Nothing is indexed in memory:
//! the byte total is recomputed when a shelf opens, recency is a file's
//! mtime (touched on each use; a header blob at most once a minute), and
//! eviction scans a few shards per step (`Shelf::evict_step`), so the
//! daemon's memory does not grow with the number of entries and its event
//! loop never waits long. The decisions
//! (what to evict, what to keep, what is cacheable) are pure functions in
//! `evict` and `cacheable`; everything else is plain file calls for the
//! daemon's driver.

pub(crate) mod blobs;
pub(crate) mod cacheable;
pub(crate) mod digest;
pub(crate) mod entry;
pub(crate) mod evict;
pub(crate) mod results;
pub(crate) mod shelf;
pub(crate) mod size;

pub use blobs::ContentStore;
pub use digest::{Digest, KeyBuilder, Mode};
pub use entry::Entry;
pub use results::ResultCache;
pub use size::parse_size;

/// What a store has done since it opened (`bytes` and `entries`: what it
/// holds now), for `--stats` and the monitors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub hits: u64,
    pub misses: u64,
    pub bytes: u64,
    pub entries: u64,
    pub evictions: u64,
    /// Entries found damaged (and deleted) when read.
    pub corrupt: u64,
}
