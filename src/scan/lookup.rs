//! Looking a header name up the way gcc does: where the search starts
//! (gcc's `search_path_head`: the includer's dir, the quote or bracket
//! chain, `#include_next` from the dir after the one the includer came
//! from), then each dir in turn, with precompiled headers ruled out.
//! Searches are remembered for the scan.

use std::os::unix::ffi::OsStrExt;

use super::bytepath::{abs_in, append, dir_name};
use super::closure::{give_up, GiveUp};
use super::node::{FoundIn, Node};
use super::parsed::IncKind;
use super::probe::{FileKey, Fs, Probe};
use super::searchpath::Chain;
use super::tokens::FxMap;

/// A search's start and name: (made dir, first chain index, name).
type SearchKey = (Option<Vec<u8>>, usize, Vec<u8>);
/// A file found by a search: gcc's name for it, where, its stat.
pub(super) type Hit = (Vec<u8>, FoundIn, FileKey, bool);
/// Where a search starts: a made dir (tried first), then the chain from
/// an index.
pub(super) type Start = (Option<Vec<u8>>, usize);

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

/// gcc's search rules for one scan's command line.
pub(super) struct Search {
    cwd: Vec<u8>,
    pub(super) chain: Chain,
    /// The compiler is clang (a few lookups differ: both ways are shipped).
    clang: bool,
    /// Results of searches, this scan.
    searches: FxMap<SearchKey, Option<Hit>>,
}

impl Search {
    pub(super) fn new(cwd: Vec<u8>, chain: Chain, clang: bool) -> Search {
        Search {
            cwd,
            chain,
            clang,
            searches: FxMap::default(),
        }
    }

    /// Where the searches for a relative name start, in order. `nodes`:
    /// the files read so far (node 0 is the source).
    pub(super) fn starts(&self, l: &Lookup, nodes: &[Node], fs: &mut Fs) -> Vec<Start> {
        let from = l.from.map(|f| nodes[f].found);
        // Where the search starts (gcc's search_path_head). A quote include
        // from a file that is itself a symlink is also tried from the real
        // file's dir: gcc names files found in system dirs by their real
        // path when that is shorter.
        let mut starts: Vec<Start> = Vec::new();
        let next_from = match (l.kind.is_next(), &from) {
            (true, Some(FoundIn::Chain(i))) => Some(i + 1),
            (true, Some(FoundIn::Made)) => Some(0),
            _ => None,
        };
        let main_next = l.kind.is_next() && l.from.is_some_and(|f| nodes[f].main);
        let mut normal = true;
        if let (Some(n), false) = (next_from, main_next) {
            starts.push((None, n));
            // For a file found next to its includer, gcc goes on from the
            // head of the chain; clang restarts the normal lookup: both.
            normal = matches!(from, Some(FoundIn::Made));
        }
        if normal {
            if l.angle {
                starts.push((None, self.chain.bracket_start));
            } else if l.cmdline {
                starts.push((Some(b"./".to_vec()), 0));
                // clang looks for -include files next to the source too.
                if self.clang {
                    starts.push((Some(dir_name(&nodes[0].path)), 0));
                }
            } else if let Some(f) = l.from {
                let p = nodes[f].path.clone();
                starts.push((Some(dir_name(&p)), 0));
                if nodes[f].symlink {
                    let abs = abs_in(&self.cwd, &p);
                    if let Some(r) = fs.real_path(&abs, true) {
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
        starts
    }

    /// The file `name` names from `start` (remembered unless `pch`).
    pub(super) fn find(
        &mut self,
        fs: &mut Fs,
        start: Start,
        name: &[u8],
        pch: bool,
        where_: &dyn Fn() -> String,
    ) -> Result<Option<Hit>, GiveUp> {
        let (made, first) = start;
        // Searches from the same start for the same name end the same way
        // within a scan (hundreds of files include <linux/types.h>).
        let memo_key = (made.clone(), first, name.to_vec());
        Ok(match self.searches.get(&memo_key) {
            Some(r) if !pch => r.clone(),
            _ => {
                let r = self.search(fs, made.as_deref(), first, name, pch, where_)?;
                self.searches.insert(memo_key, r.clone());
                r
            }
        })
    }

    /// Try `name` in the made dir (if any), then in the chain from `first`.
    fn search(
        &mut self,
        fs: &mut Fs,
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
                if !matches!(fs.probe(&g)?, Probe::Missing) {
                    return give_up(format!(
                        "{}a precompiled header {} may be used",
                        where_(),
                        String::from_utf8_lossy(&g)
                    ));
                }
            }
            if sub && fs.parent_missing(&abs) {
                continue;
            }
            match fs.probe(&abs)? {
                Probe::File { key, symlink } => return Ok(Some((path, found_in, key, symlink))),
                Probe::Missing | Probe::Dir => {}
            }
        }
        Ok(None)
    }
}
