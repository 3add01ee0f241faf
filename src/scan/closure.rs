//! What a scan yields: the `Closure` of files a compile may read, or
//! why the scanner is not sure (`GiveUp`); the counters a summary shows;
//! and `Gathered`, where one scan collects its results.

use std::fmt;
use std::path::PathBuf;

use super::bytepath::{normalize, path_of, under};
use super::tokens::FxSet;

/// Why the scanner is not sure (shown to the user); the job is then
/// preprocessed locally.
#[derive(Clone, PartialEq, Eq)]
pub struct GiveUp(pub String);

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GiveUp({:?})", self.0)
    }
}

pub(super) fn give_up<T>(why: impl Into<String>) -> Result<T, GiveUp> {
    Err(GiveUp(why.into()))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// Every file the compile may read, as absolute paths exactly as the
    /// compiler would name them when searching (NOT canonicalized: symlinked
    /// components and `..` kept; `.` components and doubled slashes, which
    /// never change what a path names, are dropped), deduplicated, the
    /// source first. Includes -include / -imacros files and headers found
    /// through __has_include. A path may go through symlinks: whoever mirrors
    /// it must recreate those links.
    pub files: Vec<PathBuf>,
    /// What the scan learned of `files[i]` when it found it, so that whoever
    /// mirrors the file need not ask the filesystem again (None: it had no
    /// real path, gone since it was found).
    pub facts: Vec<Option<FileFacts>>,
    /// The compiler's default system include dirs (from `CC -E -v`), real
    /// paths, whose files are NOT shipped: the server uses its own copies.
    pub system_dirs: Vec<PathBuf>,
    /// Directories the preprocessor must be able to traverse even though no
    /// shipped file lies in them (a `d` in `d/../x.h`, and the cwd): the
    /// server will create them empty. Spelled like `files`.
    pub dirs: Vec<PathBuf>,
    /// Headers looked up and found nowhere (`"x.h"` / `<x.h>`): nothing to
    /// ship, and the server will not find them either.
    pub not_found: Vec<String>,
}

/// A file's version: inode, size, mtime and ctime in nanoseconds.
pub type Stamp = (u64, u64, i64, i64);

/// A shipped file as the scan's `stat` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// Its canonical path.
    pub real: PathBuf,
    pub stamp: Stamp,
}

/// Counters for a summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub scans: u64,
    pub give_ups: u64,
    /// Files read and parsed (cache misses), and their bytes.
    pub files_parsed: u64,
    pub bytes_parsed: u64,
    /// Files whose cached parse was used.
    pub parse_hits: u64,
    /// Path lookups (`stat`) made.
    pub lookups: u64,
    pub compiler_runs: u64,
    pub compiler_hits: u64,
    /// Parsed files held in the cache now.
    pub cached_files: u64,
    /// Computed `#include`s (and written-out `__has_include`s) left out
    /// because no definition makes them name a header: gcc rejects them
    /// wherever it reaches them.
    pub rejected_includes: u64,
}

/// What one scan has found so far: files to ship (spelled normalized,
/// first seen first) and names found nowhere.
#[derive(Default)]
pub(super) struct Gathered {
    files: Vec<Vec<u8>>,
    facts: Vec<Option<FileFacts>>,
    file_set: FxSet<Vec<u8>>,
    not_found: Vec<String>,
    not_found_set: FxSet<String>,
}

impl Gathered {
    /// Ship the file at `abs` (once).
    pub(super) fn add_file(&mut self, abs: &[u8], facts: Option<FileFacts>) {
        let n = normalize(abs);
        if self.file_set.insert(n.clone()) {
            self.files.push(n);
            self.facts.push(facts);
        }
    }

    /// A header looked up and found nowhere (`"x.h"` / `<x.h>`).
    pub(super) fn missing(&mut self, name: &[u8], angle: bool) {
        let n = String::from_utf8_lossy(name);
        let s = if angle {
            format!("<{n}>")
        } else {
            format!("\"{n}\"")
        };
        if self.not_found_set.insert(s.clone()) {
            self.not_found.push(s);
        }
    }

    /// The closure: these files, the dirs their names pass through with
    /// `..` (and `cwd`), the system dirs. `sys_prefixes`: the spellings of
    /// the system dirs, which no name may leave through `..`.
    pub(super) fn into_closure(
        self,
        cwd: &[u8],
        sys_prefixes: &[Vec<u8>],
        canonical: &[PathBuf],
    ) -> Result<Closure, GiveUp> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut seen = FxSet::default();
        let mut add_dir = |d: Vec<u8>, dirs: &mut Vec<PathBuf>| {
            if seen.insert(d.clone()) {
                dirs.push(path_of(&d).to_path_buf());
            }
        };
        add_dir(normalize(cwd), &mut dirs);
        for f in &self.files {
            let comps: Vec<&[u8]> = f.split(|&c| c == b'/').filter(|c| !c.is_empty()).collect();
            for (i, c) in comps.iter().enumerate() {
                if *c == b".." && i > 0 {
                    let mut d = Vec::new();
                    for c in &comps[..i] {
                        d.push(b'/');
                        d.extend_from_slice(c);
                    }
                    if sys_prefixes.iter().any(|s| under(&d, s) || d == *s) {
                        return give_up(format!(
                            "{}: the path leaves a system dir through ..",
                            String::from_utf8_lossy(f)
                        ));
                    }
                    add_dir(d, &mut dirs);
                }
            }
        }
        let mut system_dirs: Vec<PathBuf> = Vec::new();
        for d in canonical {
            if !system_dirs.contains(d) {
                system_dirs.push(d.clone());
            }
        }
        Ok(Closure {
            files: self
                .files
                .iter()
                .map(|f| path_of(f).to_path_buf())
                .collect(),
            facts: self.facts,
            system_dirs,
            dirs,
            not_found: self.not_found,
        })
    }
}
