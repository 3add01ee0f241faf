//! Looking a header name up the way gcc does: where the search starts
//! (gcc's `search_path_head`: the includer's dir, the quote or bracket
//! chain, `#include_next` from the dir after the one the includer came
//! from), then each dir in turn, with precompiled headers ruled out.

use std::os::unix::ffi::OsStrExt;

use super::bytepath::{abs_in, append, dir_name, normalize};
use super::closure::{give_up, GiveUp};
use super::parsed::IncKind;
use super::probe::{FileKey, Probe};
use super::walk::ScanState;

/// Where a file was found, which decides where `#include_next` goes on.
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

/// A search's start and name: (made dir, first chain index, name).
pub(super) type SearchKey = (Option<Vec<u8>>, usize, Vec<u8>);
/// A file found by a search: gcc's name for it, where, its stat.
pub(super) type Hit = (Vec<u8>, FoundIn, FileKey, bool);

/// One header name to look up, and who asks.
pub(super) struct Lookup<'a> {
    pub(super) name: &'a [u8],
    pub(super) angle: bool,
    pub(super) kind: IncKind,
    /// `-include` / `-imacros`: the cwd first, then the quote chain.
    pub(super) cmdline: bool,
    /// The including node.
    pub(super) from: Option<usize>,
    pub(super) line: u32,
}

impl ScanState<'_> {
    /// Resolve one header name the way gcc would, ship what is found and
    /// queue what is read. True if found.
    pub(super) fn lookup(&mut self, l: &Lookup) -> Result<bool, GiveUp> {
        let from = l
            .from
            .map(|f| (self.nodes[f].path.clone(), self.nodes[f].found));
        let where_ = || match &from {
            Some((p, _)) => format!("{}:{}: ", String::from_utf8_lossy(p), l.line),
            None => String::new(),
        };
        let pch = l.cmdline || l.from.is_some_and(|f| self.nodes[f].pch);
        if l.name.is_empty() {
            return Ok(false);
        }
        if l.name[0] == b'/' {
            let norm = normalize(l.name);
            // The server rewrites absolute -I and -include paths into its
            // temporary root, but not an `#include "/abs/path"`: that would
            // read the server's own file.
            if !l.cmdline && !self.is_system(&norm) {
                return give_up(format!(
                    "{}absolute include of \"{}\" (outside the system dirs) would not be relocated on the server",
                    where_(),
                    String::from_utf8_lossy(l.name)
                ));
            }
            return match self.fs.probe(l.name)? {
                Probe::File { key, symlink } => {
                    self.found(l.name.to_vec(), FoundIn::Abs, key, symlink, l)?;
                    Ok(true)
                }
                _ => {
                    self.gathered.missing(l.name, l.angle);
                    Ok(false)
                }
            };
        }
        // Where the search starts (gcc's search_path_head). A quote include
        // from a file that is itself a symlink is also tried from the real
        // file's dir: gcc names files found in system dirs by their real
        // path when that is shorter.
        let mut starts: Vec<(Option<Vec<u8>>, usize)> = Vec::new();
        let next_from = match (l.kind.is_next(), &from) {
            (true, Some((_, FoundIn::Chain(i)))) => Some(i + 1),
            (true, Some((_, FoundIn::Made))) => Some(0),
            _ => None,
        };
        let main_next = l.kind.is_next() && l.from.is_some_and(|f| self.nodes[f].main);
        let mut normal = true;
        if let (Some(n), false) = (next_from, main_next) {
            starts.push((None, n));
            // For a file found next to its includer, gcc goes on from the
            // head of the chain; clang restarts the normal lookup: both.
            normal = matches!(from, Some((_, FoundIn::Made)));
        }
        if normal {
            if l.angle {
                starts.push((None, self.chain.bracket_start));
            } else if l.cmdline {
                starts.push((Some(b"./".to_vec()), 0));
                // clang looks for -include files next to the source too.
                if self.clang {
                    starts.push((Some(dir_name(&self.nodes[0].path)), 0));
                }
            } else if let Some(f) = l.from {
                let p = self.nodes[f].path.clone();
                starts.push((Some(dir_name(&p)), 0));
                if self.nodes[f].symlink {
                    let abs = abs_in(&self.cwd, &p);
                    if let Some(r) = self.fs.real_path(&abs, true) {
                        let d = dir_name(&r);
                        if d != dir_name(&p) {
                            starts.push((Some(d), 0));
                        }
                    }
                }
            } else {
                starts.push((None, self.chain.bracket_start));
            }
        }
        starts.dedup();
        let mut any = false;
        for (made, first) in starts {
            // Searches from the same start for the same name end the same way
            // within a scan (hundreds of files include <linux/types.h>).
            let memo_key = (made.clone(), first, l.name.to_vec());
            let hit = match self.searches.get(&memo_key) {
                Some(r) if !pch => r.clone(),
                _ => {
                    let r = self.search(made.as_deref(), first, l.name, pch, &where_)?;
                    self.searches.insert(memo_key, r.clone());
                    r
                }
            };
            if let Some((path, found_in, key, symlink)) = hit {
                self.found(path, found_in, key, symlink, l)?;
                any = true;
            }
        }
        if !any {
            self.gathered.missing(l.name, l.angle);
        }
        Ok(any)
    }

    /// Try `name` in the made dir (if any), then in the chain from `first`.
    fn search(
        &mut self,
        made: Option<&[u8]>,
        first: usize,
        name: &[u8],
        pch: bool,
        where_: &dyn Fn() -> String,
    ) -> Result<Option<Hit>, GiveUp> {
        let n = self.chain.dirs.len();
        let extra = usize::from(made.is_some());
        // A name with a directory part can be settled by that directory
        // being missing: one stat for all the headers it would hold.
        let sub = name.contains(&b'/');
        for k in 0..extra + n.saturating_sub(first) {
            let (path, found_in) = match made {
                Some(d) if k == 0 => (append(d, name), FoundIn::Made),
                _ => {
                    let i = first + k - extra;
                    (
                        append(self.chain.dirs[i].name.as_bytes(), name),
                        FoundIn::Chain(i),
                    )
                }
            };
            let abs = abs_in(&self.cwd, &path);
            if pch {
                let mut g = abs.clone();
                g.extend_from_slice(b".gch");
                if !matches!(self.fs.probe(&g)?, Probe::Missing) {
                    return give_up(format!(
                        "{}a precompiled header {} may be used",
                        where_(),
                        String::from_utf8_lossy(&g)
                    ));
                }
            }
            if sub && self.fs.parent_missing(&abs) {
                continue;
            }
            match self.fs.probe(&abs)? {
                Probe::File { key, symlink } => return Ok(Some((path, found_in, key, symlink))),
                Probe::Missing | Probe::Dir => {}
            }
        }
        Ok(None)
    }
}
