//! One scan's walk: from the source, through every file its include-like
//! directives reach (a queue of files to read), to the `Closure`. Lookups
//! are `lookup`'s, computed includes wait for `computed`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::Arc;

use super::bytepath::{abs_in, dir_name, normalize, under, under_textually};
use super::closure::{give_up, Closure, FileFacts, Gathered, GiveUp, ScanStats};
use super::compilers::Compiler;
use super::computed::Computed;
use super::files::ParseCache;
use super::lookup::{Lookup, Search};
use super::macros::HeaderName;
use super::node::{FoundIn, Node};
use super::parsed::{IncKind, Operand};
use super::probe::{FileKey, Fs, Probe};
use super::searchpath::{Chain, SearchOpts};
use super::tokens::{FxMap, FxSet};

/// One scan: what it was asked, what it has seen, what it found.
pub(super) struct ScanState<'s> {
    files: &'s mut ParseCache,
    stats: &'s mut ScanStats,
    cwd: Vec<u8>,
    comp: Arc<Compiler>,
    opts: SearchOpts,
    /// Textual (printed and real) spellings of the default dirs.
    sys_prefixes: Vec<Vec<u8>>,
    real_sys: Vec<Vec<u8>>,
    search: Search,
    fs: Fs,
    /// The files read, in the order found; the source is node 0.
    nodes: Vec<Node>,
    node_ids: FxMap<(Vec<u8>, FoundIn), usize>,
    /// (file dev, ino, how found, dev/ino of the dir it was named in).
    phys_nodes: FxMap<(u64, u64, FoundIn, (u64, u64)), usize>,
    /// Nodes to read.
    queue: VecDeque<usize>,
    /// Files found by lookups that do not read them (`__has_include`).
    classified: FxSet<(Vec<u8>, FoundIn)>,
    gathered: Gathered,
    computed: Computed,
}

impl<'s> ScanState<'s> {
    /// `clang`: the compiler is clang (a few lookups differ: both ways
    /// are shipped).
    pub(super) fn new(
        files: &'s mut ParseCache,
        stats: &'s mut ScanStats,
        cwd: Vec<u8>,
        chain: Chain,
        comp: Arc<Compiler>,
        opts: SearchOpts,
        clang: bool,
    ) -> Self {
        let mut sys_prefixes: Vec<Vec<u8>> = Vec::new();
        for d in comp.dirs.quote.iter().chain(&comp.dirs.bracket) {
            sys_prefixes.push(normalize(&abs_in(&cwd, d.as_bytes())));
        }
        let real_sys: Vec<Vec<u8>> = comp
            .canonical
            .iter()
            .map(|p| p.as_os_str().as_bytes().to_vec())
            .collect();
        sys_prefixes.extend(real_sys.iter().cloned());
        ScanState {
            files,
            stats,
            search: Search::new(cwd.clone(), chain, clang),
            cwd,
            comp,
            opts,
            sys_prefixes,
            real_sys,
            fs: Fs::default(),
            nodes: Vec::new(),
            node_ids: FxMap::default(),
            phys_nodes: FxMap::default(),
            queue: VecDeque::new(),
            classified: FxSet::default(),
            gathered: Gathered::default(),
            computed: Computed::default(),
        }
    }

    /// The scan, its filesystem lookups counted whatever its outcome.
    pub(super) fn run(&mut self) -> Result<Closure, GiveUp> {
        let r = self.walk();
        self.stats.lookups += std::mem::take(&mut self.fs.lookups);
        r
    }

    fn walk(&mut self) -> Result<Closure, GiveUp> {
        let input = self.opts.input.as_bytes().to_vec();
        let abs = abs_in(&self.cwd, &input);
        let (key, symlink) = match self.fs.probe(&abs)? {
            Probe::File { key, symlink } => (key, symlink),
            _ => {
                return give_up(format!(
                    "{}: no such source file",
                    self.opts.input.to_string_lossy()
                ))
            }
        };
        // The source is shipped whatever directory it is in.
        let facts = self.facts(&abs, symlink, key);
        self.gathered.add_file(&abs, facts);
        self.nodes.push(Node {
            path: input.clone(),
            found: FoundIn::Abs,
            main: true,
            symlink: false,
            key,
            parsed: None,
            pch: true,
        });
        self.node_ids.insert((input, FoundIn::Abs), 0);
        if let Some(d) = self.fs.dir_id(&dir_name(&abs)) {
            self.phys_nodes
                .insert((key.dev, key.ino, FoundIn::Abs, d), 0);
        }
        self.queue.push_back(0);
        // gcc's implicit `-include <stdc-predef.h>` (glibc targets) comes
        // from the bracket chain, so a user dir could provide it.
        if !self.opts.nostdinc {
            self.lookup(&Lookup {
                name: b"stdc-predef.h",
                angle: true,
                kind: IncKind::Include,
                cmdline: false,
                from: None,
                line: 0,
            })?;
        }
        for f in self.opts.preincludes.clone() {
            let found = self.lookup(&Lookup {
                name: f.as_bytes(),
                angle: false,
                kind: IncKind::Include,
                cmdline: true,
                from: None,
                line: 0,
            })?;
            if !found {
                return give_up(format!("-include {}: not found", f.to_string_lossy()));
            }
        }
        loop {
            self.drain()?;
            self.evaluate_round()?;
            if self.queue.is_empty() {
                break;
            }
        }
        if let Some(p) = self.computed.unresolved_cond() {
            let n = &self.nodes[p.node];
            let line = self.item_line(p.node, p.idx, true);
            return give_up(format!(
                "{}:{line}: cannot resolve __has_include operand: {}",
                String::from_utf8_lossy(&n.path),
                p.why.clone().unwrap_or_else(|| "it names no header".into())
            ));
        }
        // A computed #include that, now that nothing is left to find, no
        // definition in the closure, on the command line or among the
        // compiler's predefined macros turns into "FILENAME" or <FILENAME>
        // (Emacs's `#include TERM_HEADER` in a branch a --without-x build
        // never takes, TERM_HEADER defined nowhere) is an error wherever gcc
        // reaches it: up to there gcc read only files of this closure, so
        // its expansion is one of those tried. A compile that succeeds never
        // reaches it; one that does fails on the server as it would here.
        self.stats.rejected_includes += self.computed.unresolved_includes();
        std::mem::take(&mut self.gathered).into_closure(
            &self.cwd,
            &self.sys_prefixes,
            &self.comp.canonical,
        )
    }

    /// A found file's real path and version, for the mirror; `None` if it
    /// has no real path (gone since it was probed).
    fn facts(&mut self, abs: &[u8], symlink: bool, key: FileKey) -> Option<FileFacts> {
        let real = self.fs.real_path(abs, symlink)?;
        Some(FileFacts {
            real: PathBuf::from(OsString::from_vec(real)),
            stamp: key.stamp(),
        })
    }

    /// The line of a node's `idx`th include (or `#if` line, `cond`).
    fn item_line(&self, node: usize, idx: usize, cond: bool) -> u32 {
        let Some(parsed) = &self.nodes[node].parsed else {
            return 0;
        };
        if cond {
            parsed.conds.get(idx).map_or(0, |c| c.line)
        } else {
            parsed.includes.get(idx).map_or(0, |d| d.line)
        }
    }

    fn is_system(&self, norm: &[u8]) -> bool {
        self.sys_prefixes.iter().any(|s| under(norm, s))
    }

    fn drain(&mut self) -> Result<(), GiveUp> {
        while let Some(id) = self.queue.pop_front() {
            self.process(id)?;
        }
        Ok(())
    }

    /// Read one file and look up what its includes name; computed ones
    /// wait for the macros.
    fn process(&mut self, id: usize) -> Result<(), GiveUp> {
        let abs = abs_in(&self.cwd, &self.nodes[id].path);
        let key = self.nodes[id].key;
        let parsed = self
            .files
            .parse_file(&abs, key, self.stats)
            .map_err(|e| GiveUp(e.to_string()))?;
        if let Some((line, what)) = &parsed.unsupported {
            return give_up(format!(
                "{}:{line}: {what} is not supported",
                String::from_utf8_lossy(&self.nodes[id].path)
            ));
        }
        self.nodes[id].parsed = Some(parsed.clone());
        self.computed.join(&parsed);
        for (idx, d) in parsed.includes.iter().enumerate() {
            let (name, angle) = match &d.op {
                Operand::Quote(n) => (n, false),
                Operand::Angle(n) => (n, true),
                Operand::Computed(_) => {
                    self.computed.wait(id, idx, false);
                    continue;
                }
            };
            self.lookup(&Lookup {
                name,
                angle,
                kind: d.kind,
                cmdline: false,
                from: Some(id),
                line: d.line,
            })?;
        }
        Ok(())
    }

    /// Resolve one header name the way gcc would, ship what is found and
    /// queue what is read. True if found.
    fn lookup(&mut self, l: &Lookup) -> Result<bool, GiveUp> {
        let from = l.from.map(|f| self.nodes[f].path.clone());
        let where_ = || match &from {
            Some(p) => format!("{}:{}: ", String::from_utf8_lossy(p), l.line),
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
        let mut any = false;
        for start in self.search.starts(l, &self.nodes, &mut self.fs) {
            let hit = self
                .search
                .find(&mut self.fs, start, l.name, pch, &where_)?;
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

    /// One round of computed includes: look up what they name.
    fn evaluate_round(&mut self) -> Result<(), GiveUp> {
        let work = self.computed.evaluate_round(
            &self.nodes,
            &mut self.files.interner,
            &self.comp.predefined,
            &self.opts.defines,
        )?;
        for (node, kind, name, line) in work {
            let (n, angle) = match &name {
                HeaderName::Quote(n) => (n, false),
                HeaderName::Angle(n) => (n, true),
            };
            self.lookup(&Lookup {
                name: n,
                angle,
                kind,
                cmdline: false,
                from: Some(node),
                line,
            })?;
        }
        Ok(())
    }

    /// A lookup found the file `path`: ship it unless the server has its
    /// own copy, and queue it to be read if the lookup reads it.
    fn found(
        &mut self,
        path: Vec<u8>,
        found_in: FoundIn,
        key: FileKey,
        symlink: bool,
        l: &Lookup,
    ) -> Result<(), GiveUp> {
        let id_key = (path, found_in);
        if self.node_ids.contains_key(&id_key)
            || (!l.kind.reads() && self.classified.contains(&id_key))
        {
            return Ok(());
        }
        let abs = abs_in(&self.cwd, &id_key.0);
        let norm = normalize(&abs);
        let default_dir =
            matches!(found_in, FoundIn::Chain(i) if self.search.chain.dirs[i].default);
        let mut system = default_dir || self.is_system(&norm);
        let mut facts = None;
        if !system {
            // Where the name starts and where the file really is decide
            // together: under a system dir on both counts, it is the
            // server's own copy (`/usr/include/a/../b/x.h`); on one count
            // only, the server would follow its own system dir to another
            // file, or the mirror would have to write into it.
            let named_sys = self.sys_prefixes.iter().any(|s| under_textually(&norm, s));
            facts = self.facts(&abs, symlink, key);
            let real_sys = facts.as_ref().is_some_and(|f| {
                let r = f.real.as_os_str().as_bytes();
                self.real_sys.iter().any(|s| under(r, s))
            });
            match (named_sys, real_sys) {
                (true, true) => system = true,
                (false, false) => {}
                (true, false) => {
                    return give_up(format!(
                        "{} leaves a system dir through ..",
                        String::from_utf8_lossy(&norm)
                    ))
                }
                (false, true) => {
                    return give_up(format!(
                        "{} is reached through a symlink into a system dir",
                        String::from_utf8_lossy(&norm)
                    ))
                }
            }
        }
        if !system {
            self.gathered.add_file(&abs, facts);
        }
        if !l.kind.reads() {
            self.classified.insert(id_key);
            return Ok(());
        }
        // The same file, found the same way, from a directory that is
        // physically the same (`d/../d/` is `d/`), makes the same lookups
        // under longer names: reading it again would only lengthen the names
        // (`#include "../d/x.h"` cycles would never end, where gcc stops on
        // include guards). The longer name is shipped; the deeper ones
        // resolve on the server the same way.
        let dir = dir_name(&abs);
        let Some(dir_id) = self.fs.dir_id(&dir) else {
            return give_up(format!(
                "{}: cannot stat its directory",
                String::from_utf8_lossy(&norm)
            ));
        };
        let phys = (key.dev, key.ino, found_in, dir_id);
        if self.phys_nodes.contains_key(&phys) {
            self.node_ids.insert(id_key, usize::MAX);
            return Ok(());
        }
        let id = self.nodes.len();
        self.phys_nodes.insert(phys, id);
        self.nodes.push(Node {
            path: id_key.0.clone(),
            found: found_in,
            main: false,
            symlink,
            key,
            parsed: None,
            // gcc may use a .gch only for the first include of the main file
            // or of a -include file (the lookups of -include files themselves
            // are checked in `lookup`).
            pch: false,
        });
        self.node_ids.insert(id_key, id);
        self.queue.push_back(id);
        Ok(())
    }
}
