//! The files one scan reads, and how each was found (which decides where
//! its `#include_next` goes on).

use std::sync::Arc;

use super::parsed::Parsed;
use super::probe::FileKey;

/// Where a file was found.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum FoundIn {
    /// By an absolute name, or the main file (gcc's `no_search_path`).
    Abs,
    /// In the including file's own directory or, for -include, the cwd
    /// (a dir gcc makes on the fly; `#include_next` goes on from the start
    /// of the quote chain).
    Made,
    Chain(usize),
}

/// A file the scan reads.
pub(super) struct Node {
    /// As gcc spells it (relative to the cwd, or absolute).
    pub(super) path: Vec<u8>,
    pub(super) found: FoundIn,
    pub(super) main: bool,
    pub(super) symlink: bool,
    pub(super) key: FileKey,
    pub(super) parsed: Option<Arc<Parsed>>,
    /// Lookups from this file may hit a precompiled header.
    pub(super) pch: bool,
}
