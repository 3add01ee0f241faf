//! The include scanner: from a compiler command line to every file the
//! compile may read, following gcc's search rules, with caches that live
//! as long as the include server (a whole `make -j20`).
//!
//! What is cached, and why it is safe:
//! - each file's directives and definitions, keyed by (dev, inode, size,
//!   mtime, ctime): a changed file is read again;
//! - the compiler's default dirs and predefined macros, keyed by the
//!   compiler binary (path, inode, size, mtime), the language and the flags
//!   that can change them.
//!
//! What is not: whether a path exists, which is looked up again by every
//! scan (headers are generated during builds), once per path per scan.
//!
//! When the scanner gives up (`GiveUp`, with the file and line when there is
//! one): the command is not a distributable compile or reads preprocessed
//! input; `@file`, `-I-`, `-Xpreprocessor`, traditional cpp, modules, PCH,
//! plugins, sysroot-relative or non-directory include dirs and other options
//! whose effect it does not model; CPATH & co. set for the client; the
//! compiler cannot be found or queried; a file cannot be read, is not a
//! regular file, is too big, or has an unterminated comment; `#embed`; a
//! `.gch` next to a header gcc may take it for; an absolute `#include` of a
//! file outside the system dirs (the server would read its own); a user path
//! that resolves into a system dir; a `__has_include` reached through a
//! macro whose operand no definition turns into a header name; a computed
//! include or `__has_include` operand that depends on `__LINE__`-like
//! macros, or has too many alternative expansions.
//!
//! A computed include (or a `__has_include` written out in an `#if`) that
//! no definition turns into a header name is left out instead: gcc rejects
//! it wherever it reaches it, so only a compile that fails reaches it
//! (`ScanStats::rejected_includes` counts them).

use super::compiler_dirs::{self, DefaultDirs};
use super::directives::{self, has_include_operand, IncKind, MacroDef, Operand, Parsed};
use super::macros::{interpret, ExpandError, Expander, HeaderName, Interpreted, MacroTable};
use super::searchpath::{self, Chain, SearchOpts};
use super::tokens::{sym, FxMap, FxSet, Interner, Kind, Sym, Tok};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

fn give_up<T>(why: impl Into<String>) -> Result<T, GiveUp> {
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

/// A file's identity and version.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileKey {
    fn of(m: &std::fs::Metadata) -> FileKey {
        FileKey {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct CompilerKey {
    path: PathBuf,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    lang: String,
    flags: Vec<OsString>,
    env: Vec<Option<OsString>>,
    /// Only when a flag names a relative path.
    cwd: Option<PathBuf>,
}

struct Compiler {
    dirs: DefaultDirs,
    /// Real paths of the default dirs.
    canonical: Vec<PathBuf>,
    predefined: Arc<Parsed>,
}

/// Files bigger than this are not read (a 1 GB board): give up.
const MAX_FILE: u64 = 64 << 20;
/// Parsed files kept at most (a kernel build reads about 5000).
const MAX_CACHED: usize = 100_000;

type Cached = Result<Arc<Parsed>, Arc<str>>;

/// The include scanner and its caches.
pub struct Scanner {
    interner: Interner,
    parsed: FxMap<FileKey, Cached>,
    /// The key last seen for each (dev, inode), to drop stale versions.
    latest: FxMap<(u64, u64), FileKey>,
    compilers: FxMap<CompilerKey, Arc<Compiler>>,
    stats: ScanStats,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner {
            interner: Interner::new(),
            parsed: FxMap::default(),
            latest: FxMap::default(),
            compilers: FxMap::default(),
            stats: ScanStats::default(),
        }
    }

    /// Files parsed so far and cache hits, for a summary line.
    pub fn stats(&self) -> ScanStats {
        ScanStats {
            cached_files: self.parsed.len() as u64,
            ..self.stats
        }
    }

    /// Drop every file's cached parse (the compilers' stay): for a caller
    /// that knows its files changed in ways a stat may not show.
    #[cfg(feature = "fuzzing")]
    pub fn forget_files(&mut self) {
        self.parsed.clear();
        self.latest.clear();
    }

    /// `argv` is the full compiler command line as the client would run it
    /// (argv[0] is the compiler), `cwd` the client's working directory;
    /// relative paths in argv are relative to cwd.
    pub fn scan(&mut self, cwd: &Path, argv: &[OsString]) -> Result<Closure, GiveUp> {
        self.scan_with_env(cwd, argv, &|v| std::env::var_os(v))
    }

    /// `scan` for a client whose environment is not this process's (the
    /// include server outlives the shells that use it): `env` looks up one
    /// of the client's variables.
    pub fn scan_with_env(
        &mut self,
        cwd: &Path,
        argv: &[OsString],
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Closure, GiveUp> {
        self.stats.scans += 1;
        let r = self.scan_inner(cwd, argv, env);
        if r.is_err() {
            self.stats.give_ups += 1;
        }
        r
    }

    fn scan_inner(
        &mut self,
        cwd: &Path,
        argv: &[OsString],
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Closure, GiveUp> {
        for v in [
            "CPATH",
            "C_INCLUDE_PATH",
            "CPLUS_INCLUDE_PATH",
            "OBJC_INCLUDE_PATH",
        ] {
            if env(v).is_some() {
                return give_up(format!(
                    "{v} is set: the search path depends on the environment"
                ));
            }
        }
        if !cwd.is_absolute() {
            return give_up("the working directory is not absolute");
        }
        let scan = match crate::args::scan(argv) {
            Ok(s) => s,
            Err(crate::args::Local::Preprocess) => return give_up("not a compile (-E)"),
            Err(crate::args::Local::Reason(r)) => {
                return give_up(format!("not distributable: {r}"))
            }
        };
        if crate::args::is_preprocessed(&scan.input) {
            return give_up(format!(
                "{}: already preprocessed",
                scan.input.to_string_lossy()
            ));
        }
        let opts = searchpath::parse(&scan.argv, scan.input_index).map_err(GiveUp)?;
        for v in compiler_dirs::ENV_AFFECTING {
            if env(v) != std::env::var_os(v) {
                return give_up(format!("{v} differs from the include server's"));
            }
        }
        let compiler = self.compiler(&scan.argv[0], cwd, env("PATH"), &opts)?;
        let cwdb = cwd.as_os_str().as_bytes().to_vec();
        let mut not_dirs = Vec::new();
        let chain = searchpath::build_chain(&opts, &compiler.dirs, |n| {
            self.stats.lookups += 1;
            match std::fs::metadata(path_of(&abs_in(&cwdb, n.as_bytes()))) {
                Ok(m) if m.is_dir() => Some(Some((m.dev(), m.ino()))),
                Ok(_) => {
                    not_dirs.push(n.to_string_lossy().into_owned());
                    Some(None)
                }
                Err(_) => None,
            }
        });
        // gcc ignores an include "dir" that is a file, clang reads it as a
        // header map: either way, not something to guess about.
        if let Some(n) = not_dirs.first() {
            return give_up(format!("include dir {n} is not a directory"));
        }
        let mut st = ScanState::new(self, cwdb, chain, compiler, opts);
        st.clang = crate::args::basename(scan.argv[0].as_bytes())
            .windows(5)
            .any(|w| w == b"clang");
        st.run()
    }

    fn compiler(
        &mut self,
        argv0: &OsStr,
        cwd: &Path,
        path_env: Option<OsString>,
        opts: &SearchOpts,
    ) -> Result<Arc<Compiler>, GiveUp> {
        let Some(path) = compiler_dirs::resolve_compiler(argv0, cwd, path_env.as_deref()) else {
            return give_up(format!("compiler {} not found", argv0.to_string_lossy()));
        };
        let real =
            std::fs::canonicalize(&path).map_err(|e| GiveUp(format!("{}: {e}", path.display())))?;
        let m = std::fs::metadata(&real).map_err(|e| GiveUp(format!("{}: {e}", real.display())))?;
        let relative_flag = opts.query_flags.iter().enumerate().any(|(i, f)| {
            let path_opt = [
                "-B",
                "--sysroot",
                "-isysroot",
                "-resource-dir",
                "--gcc-toolchain",
                "--gcc-install-dir",
            ];
            let f = f.as_bytes();
            let is_path_opt = |o: &[u8]| path_opt.iter().any(|p| p.as_bytes() == o);
            let v = if let Some(eq) = f.iter().position(|&b| b == b'=') {
                is_path_opt(&f[..eq]).then_some(&f[eq + 1..])
            } else if is_path_opt(f) {
                opts.query_flags.get(i + 1).map(|v| v.as_bytes())
            } else {
                f.strip_prefix(b"-B")
            };
            v.is_some_and(|v| !v.starts_with(b"/"))
        });
        let key = CompilerKey {
            path: real,
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            lang: opts.lang.clone(),
            flags: opts.query_flags.clone(),
            env: compiler_dirs::ENV_AFFECTING
                .iter()
                .map(std::env::var_os)
                .collect(),
            cwd: relative_flag.then(|| cwd.to_path_buf()),
        };
        if let Some(c) = self.compilers.get(&key) {
            self.stats.compiler_hits += 1;
            return Ok(c.clone());
        }
        self.stats.compiler_runs += 1;
        let out =
            compiler_dirs::query_in(&path, cwd, &opts.lang, &opts.query_flags).map_err(GiveUp)?;
        let cwdb = cwd.as_os_str().as_bytes();
        let canonical = out
            .dirs
            .quote
            .iter()
            .chain(&out.dirs.bracket)
            .filter_map(|d| std::fs::canonicalize(path_of(&abs_in(cwdb, d.as_bytes()))).ok())
            .collect();
        let predefined = directives::parse(&out.predefined, &mut self.interner)
            .map(Arc::new)
            .map_err(|e| GiveUp(format!("the compiler's predefined macros: {e}")))?;
        let c = Arc::new(Compiler {
            dirs: out.dirs,
            canonical,
            predefined,
        });
        self.compilers.insert(key, c.clone());
        Ok(c)
    }

    /// The parse of the file at `abs` whose stat gave `key`.
    fn parse_file(&mut self, abs: &[u8], key: FileKey) -> Cached {
        if let Some(c) = self.parsed.get(&key) {
            self.stats.parse_hits += 1;
            return c.clone();
        }
        if self.parsed.len() >= MAX_CACHED {
            // Far more files than any one build reads: start over rather
            // than grow without bound (files in use stay alive through
            // the scan's own references).
            self.parsed.clear();
            self.latest.clear();
        }
        let r = self.read_and_parse(abs, key);
        if let Some(old) = self.latest.insert((key.dev, key.ino), key) {
            if old != key {
                self.parsed.remove(&old);
            }
        }
        self.parsed.insert(key, r.clone());
        r
    }

    fn read_and_parse(&mut self, abs: &[u8], key: FileKey) -> Cached {
        let shown = String::from_utf8_lossy(abs);
        if key.size > MAX_FILE {
            return Err(format!("{shown}: too big to scan ({} bytes)", key.size).into());
        }
        let bytes = std::fs::read(path_of(abs)).map_err(|e| format!("{shown}: {e}"))?;
        self.stats.files_parsed += 1;
        self.stats.bytes_parsed += bytes.len() as u64;
        directives::parse(&bytes, &mut self.interner)
            .map(Arc::new)
            .map_err(|e| format!("{shown}: {e}").into())
    }
}

fn path_of(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// `p` made absolute against `cwd` (bytes, as gcc would reach it).
fn abs_in(cwd: &[u8], p: &[u8]) -> Vec<u8> {
    if p.first() == Some(&b'/') {
        return p.to_vec();
    }
    let mut v = cwd.to_vec();
    if !v.ends_with(b"/") {
        v.push(b'/');
    }
    v.extend_from_slice(p);
    v
}

/// Drop `.` components and doubled slashes (they never change what a path
/// names once it was found); keep `..` (which may cross a symlink).
fn normalize(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for c in p.split(|&b| b == b'/') {
        if c.is_empty() || c == b"." {
            continue;
        }
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// gcc's `append_file_to_dir`.
fn append(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = dir.to_vec();
    if !v.is_empty() && !v.ends_with(b"/") {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}

/// gcc's `dir_name_of_file`: up to and including the last slash.
fn dir_name(p: &[u8]) -> Vec<u8> {
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => p[..=i].to_vec(),
        None => Vec::new(),
    }
}

/// `path` starts with `dir`'s components (whatever follows).
fn under_textually(path: &[u8], dir: &[u8]) -> bool {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/'
}

/// `path` names something inside `dir` without leaving it through `..`.
fn under(path: &[u8], dir: &[u8]) -> bool {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    path.len() > dir.len()
        && path.starts_with(dir)
        && path[dir.len()] == b'/'
        && !path[dir.len()..].split(|&c| c == b'/').any(|c| c == b"..")
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum FoundIn {
    /// By an absolute name, or the main file (gcc's `no_search_path`).
    Abs,
    /// In the including file's own directory or, for -include, the cwd
    /// (a dir gcc makes on the fly; `#include_next` goes on from the start
    /// of the quote chain).
    Made,
    Chain(usize),
}

#[derive(Clone, Copy, Debug)]
enum Probe {
    Missing,
    Dir,
    File { key: FileKey, symlink: bool },
}

struct Node {
    /// As gcc spells it (relative to the cwd, or absolute).
    path: Vec<u8>,
    found: FoundIn,
    main: bool,
    symlink: bool,
    key: FileKey,
    parsed: Option<Arc<Parsed>>,
    /// Lookups from this file may hit a precompiled header.
    pch: bool,
}

/// A computed include or `__has_include` waiting for the macro table.
struct Pending {
    node: usize,
    /// Index in the node's `includes` (or in its `conds` for `cond`).
    idx: usize,
    cond: bool,
    last_round: u32,
    touched: FxSet<Sym>,
    resolved: bool,
    why: Option<String>,
}

type SearchKey = (Option<Vec<u8>>, usize, Vec<u8>);
/// A file found by a search: gcc's name for it, where, its stat.
type Hit = (Vec<u8>, FoundIn, FileKey, bool);

struct Lookup<'a> {
    name: &'a [u8],
    angle: bool,
    kind: IncKind,
    /// `-include` / `-imacros`: the cwd first, then the quote chain.
    cmdline: bool,
    from: Option<usize>,
    line: u32,
}

struct ScanState<'s> {
    sc: &'s mut Scanner,
    cwd: Vec<u8>,
    chain: Chain,
    comp: Arc<Compiler>,
    opts: SearchOpts,
    probes: FxMap<Vec<u8>, Probe>,
    /// Directories known to exist (false) or not (true), this scan.
    missing_dirs: FxMap<Vec<u8>, bool>,
    /// Results of searches, this scan: (made dir, first chain index, name).
    searches: FxMap<SearchKey, Option<Hit>>,
    /// Files found by lookups that do not read them (`__has_include`).
    classified: FxSet<(Vec<u8>, FoundIn)>,
    real_dirs: FxMap<Vec<u8>, Option<Vec<u8>>>,
    nodes: Vec<Node>,
    node_ids: FxMap<(Vec<u8>, FoundIn), usize>,
    /// (file dev, ino, how found, dev/ino of the dir it was named in).
    phys_nodes: FxMap<(u64, u64, FoundIn, (u64, u64)), usize>,
    dir_ids: FxMap<Vec<u8>, Option<(u64, u64)>>,
    /// When each parsed file joined (the round), for re-evaluations.
    joined: Vec<(Arc<Parsed>, u32)>,
    joined_ptrs: FxSet<*const Parsed>,
    queue: VecDeque<usize>,
    files: Vec<Vec<u8>>,
    file_set: FxSet<Vec<u8>>,
    not_found: Vec<String>,
    not_found_set: FxSet<String>,
    pending: Vec<Pending>,
    pending_conds: FxSet<(usize, usize)>,
    /// Textual (printed and real) spellings of the default dirs.
    sys_prefixes: Vec<Vec<u8>>,
    real_sys: Vec<Vec<u8>>,
    cmdline: Option<Arc<Vec<(bool, Parsed)>>>,
    round: u32,
    /// The compiler is clang (a few lookups differ: both ways are shipped).
    clang: bool,
}

impl<'s> ScanState<'s> {
    fn new(
        sc: &'s mut Scanner,
        cwd: Vec<u8>,
        chain: Chain,
        comp: Arc<Compiler>,
        opts: SearchOpts,
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
            sc,
            cwd,
            chain,
            comp,
            opts,
            probes: FxMap::default(),
            missing_dirs: FxMap::default(),
            searches: FxMap::default(),
            classified: FxSet::default(),
            real_dirs: FxMap::default(),
            nodes: Vec::new(),
            node_ids: FxMap::default(),
            phys_nodes: FxMap::default(),
            dir_ids: FxMap::default(),
            joined: Vec::new(),
            joined_ptrs: FxSet::default(),
            queue: VecDeque::new(),
            files: Vec::new(),
            file_set: FxSet::default(),
            not_found: Vec::new(),
            not_found_set: FxSet::default(),
            pending: Vec::new(),
            pending_conds: FxSet::default(),
            sys_prefixes,
            real_sys,
            cmdline: None,
            round: 0,
            clang: false,
        }
    }

    fn run(&mut self) -> Result<Closure, GiveUp> {
        let input = self.opts.input.as_bytes().to_vec();
        let abs = abs_in(&self.cwd, &input);
        let key = match self.probe(&abs)? {
            Probe::File { key, .. } => key,
            _ => {
                return give_up(format!(
                    "{}: no such source file",
                    self.opts.input.to_string_lossy()
                ))
            }
        };
        // The source is shipped whatever directory it is in.
        self.add_file(&abs);
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
        if let Some(d) = self.dir_id(&dir_name(&abs)) {
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
        if let Some(p) = self.pending.iter().find(|p| p.cond && !p.resolved) {
            let n = &self.nodes[p.node];
            let line = self.item_line(p);
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
        self.sc.stats.rejected_includes += self
            .pending
            .iter()
            .filter(|p| !p.cond && !p.resolved)
            .count() as u64;
        self.finish()
    }

    fn item_line(&self, p: &Pending) -> u32 {
        let Some(parsed) = &self.nodes[p.node].parsed else {
            return 0;
        };
        if p.cond {
            parsed.conds.get(p.idx).map_or(0, |c| c.line)
        } else {
            parsed.includes.get(p.idx).map_or(0, |d| d.line)
        }
    }

    fn finish(&mut self) -> Result<Closure, GiveUp> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut seen = FxSet::default();
        let mut add_dir = |d: Vec<u8>, dirs: &mut Vec<PathBuf>| {
            if seen.insert(d.clone()) {
                dirs.push(path_of(&d).to_path_buf());
            }
        };
        add_dir(normalize(&self.cwd), &mut dirs);
        for f in &self.files {
            let comps: Vec<&[u8]> = f.split(|&c| c == b'/').filter(|c| !c.is_empty()).collect();
            for (i, c) in comps.iter().enumerate() {
                if *c == b".." && i > 0 {
                    let mut d = Vec::new();
                    for c in &comps[..i] {
                        d.push(b'/');
                        d.extend_from_slice(c);
                    }
                    if self.sys_prefixes.iter().any(|s| under(&d, s) || d == *s) {
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
        for d in &self.comp.canonical {
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
            system_dirs,
            dirs,
            not_found: std::mem::take(&mut self.not_found),
        })
    }

    fn add_file(&mut self, abs: &[u8]) {
        let n = normalize(abs);
        if self.file_set.insert(n.clone()) {
            self.files.push(n);
        }
    }

    /// Look a path up (once per scan): gcc's `open` + `fstat`.
    fn probe(&mut self, abs: &[u8]) -> Result<Probe, GiveUp> {
        if let Some(p) = self.probes.get(abs) {
            return Ok(*p);
        }
        self.sc.stats.lookups += 1;
        let shown = || String::from_utf8_lossy(abs).into_owned();
        let missing = |e: &io::Error| {
            e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
        };
        let p = match std::fs::symlink_metadata(path_of(abs)) {
            Err(e) if missing(&e) => Probe::Missing,
            Err(e) => return give_up(format!("{}: {e}", shown())),
            Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(path_of(abs)) {
                Err(e) if missing(&e) => Probe::Missing,
                Err(e) => return give_up(format!("{}: {e}", shown())),
                Ok(m) if m.is_dir() => Probe::Dir,
                Ok(m) if m.is_file() => Probe::File {
                    key: FileKey::of(&m),
                    symlink: true,
                },
                Ok(_) => return give_up(format!("{}: not a regular file", shown())),
            },
            Ok(m) if m.is_dir() => Probe::Dir,
            Ok(m) if m.is_file() => Probe::File {
                key: FileKey::of(&m),
                symlink: false,
            },
            // gcc would open a FIFO or a device and read it: nothing the
            // scanner can read ahead or ship.
            Ok(_) => return give_up(format!("{}: not a regular file", shown())),
        };
        self.probes.insert(abs.to_vec(), p);
        Ok(p)
    }

    /// The real path of a directory (cached per scan).
    fn real_dir(&mut self, dir: &[u8]) -> Option<Vec<u8>> {
        if let Some(r) = self.real_dirs.get(dir) {
            return r.clone();
        }
        let r = std::fs::canonicalize(path_of(dir))
            .ok()
            .map(|p| p.into_os_string().into_vec());
        self.real_dirs.insert(dir.to_vec(), r.clone());
        r
    }

    fn real_path(&mut self, abs: &[u8], symlink: bool) -> Option<Vec<u8>> {
        if symlink {
            return std::fs::canonicalize(path_of(abs))
                .ok()
                .map(|p| p.into_os_string().into_vec());
        }
        let d = dir_name(abs);
        let mut r = self.real_dir(&d)?;
        r.push(b'/');
        r.extend_from_slice(&abs[d.len()..]);
        Some(r)
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

    fn process(&mut self, id: usize) -> Result<(), GiveUp> {
        let abs = abs_in(&self.cwd, &self.nodes[id].path);
        let key = self.nodes[id].key;
        let parsed = self
            .sc
            .parse_file(&abs, key)
            .map_err(|e| GiveUp(e.to_string()))?;
        if let Some((line, what)) = &parsed.unsupported {
            return give_up(format!(
                "{}:{line}: {what} is not supported",
                String::from_utf8_lossy(&self.nodes[id].path)
            ));
        }
        self.nodes[id].parsed = Some(parsed.clone());
        if self.joined_ptrs.insert(Arc::as_ptr(&parsed)) {
            self.joined.push((parsed.clone(), self.round + 1));
        }
        for (idx, d) in parsed.includes.iter().enumerate() {
            let (name, angle) = match &d.op {
                Operand::Quote(n) => (n, false),
                Operand::Angle(n) => (n, true),
                Operand::Computed(_) => {
                    self.pending.push(Pending {
                        node: id,
                        idx,
                        cond: false,
                        last_round: 0,
                        touched: FxSet::default(),
                        resolved: false,
                        why: None,
                    });
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
            return match self.probe(l.name)? {
                Probe::File { key, symlink } => {
                    self.found(l.name.to_vec(), FoundIn::Abs, key, symlink, l)?;
                    Ok(true)
                }
                _ => {
                    self.missing(l);
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
                    if let Some(r) = self.real_path(&abs, true) {
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
            self.missing(l);
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
                if !matches!(self.probe(&g)?, Probe::Missing) {
                    return give_up(format!(
                        "{}a precompiled header {} may be used",
                        where_(),
                        String::from_utf8_lossy(&g)
                    ));
                }
            }
            if sub && self.parent_missing(&abs) {
                continue;
            }
            match self.probe(&abs)? {
                Probe::File { key, symlink } => return Ok(Some((path, found_in, key, symlink))),
                Probe::Missing | Probe::Dir => {}
            }
        }
        Ok(None)
    }

    /// (dev, ino) of a directory, once per scan.
    fn dir_id(&mut self, dir: &[u8]) -> Option<(u64, u64)> {
        if let Some(&d) = self.dir_ids.get(dir) {
            return d;
        }
        self.sc.stats.lookups += 1;
        let d = std::fs::metadata(path_of(dir))
            .ok()
            .map(|m| (m.dev(), m.ino()));
        self.dir_ids.insert(dir.to_vec(), d);
        d
    }

    /// The directory holding `abs` is known not to exist (stat'ed once per
    /// scan).
    fn parent_missing(&mut self, abs: &[u8]) -> bool {
        let Some(slash) = abs.iter().rposition(|&c| c == b'/') else {
            return false;
        };
        let parent = &abs[..slash];
        if let Some(&m) = self.missing_dirs.get(parent) {
            return m;
        }
        self.sc.stats.lookups += 1;
        let m = match std::fs::metadata(path_of(parent)) {
            Ok(md) => !md.is_dir(),
            Err(e) => {
                e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
            }
        };
        self.missing_dirs.insert(parent.to_vec(), m);
        m
    }

    fn missing(&mut self, l: &Lookup) {
        let n = String::from_utf8_lossy(l.name);
        let s = if l.angle {
            format!("<{n}>")
        } else {
            format!("\"{n}\"")
        };
        if self.not_found_set.insert(s.clone()) {
            self.not_found.push(s);
        }
    }

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
        let default_dir = matches!(found_in, FoundIn::Chain(i) if self.chain.dirs[i].default);
        let mut system = default_dir || self.is_system(&norm);
        if !system {
            // Where the name starts and where the file really is decide
            // together: under a system dir on both counts, it is the
            // server's own copy (`/usr/include/a/../b/x.h`); on one count
            // only, the server would follow its own system dir to another
            // file, or the mirror would have to write into it.
            let named_sys = self.sys_prefixes.iter().any(|s| under_textually(&norm, s));
            let real_sys = match self.real_path(&abs, symlink) {
                Some(real) => self.real_sys.iter().any(|s| under(&real, s)),
                None => false,
            };
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
            self.add_file(&abs);
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
        let Some(dir_id) = self.dir_id(&dir) else {
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

    /// The command line's `-D`/`-U`, in order, each read as a directive.
    fn cmdline_defs(&mut self) -> Result<Arc<Vec<(bool, Parsed)>>, GiveUp> {
        if let Some(f) = &self.cmdline {
            return Ok(f.clone());
        }
        let mut v = Vec::new();
        for (def, d) in self.opts.defines.clone() {
            // Bytes: a macro's value need not be UTF-8.
            let d = d.as_bytes();
            let text = if def {
                match d.iter().position(|&b| b == b'=') {
                    Some(eq) => [b"#define ", &d[..eq], b" ", &d[eq + 1..], b"\n"].concat(),
                    None => [b"#define ", d, b" 1\n"].concat(),
                }
            } else {
                [b"#undef ", d, b"\n"].concat()
            };
            let p = directives::parse(&text, &mut self.sc.interner)
                .map_err(|e| GiveUp(format!("-D{}: {e}", String::from_utf8_lossy(d))))?;
            v.push((def, p));
        }
        let rc = Arc::new(v);
        self.cmdline = Some(rc.clone());
        Ok(rc)
    }

    /// Names that may expand to a use-site dependent `__has_include`.
    fn hi_names(&self) -> FxSet<Sym> {
        let mut h: FxSet<Sym> = FxSet::default();
        for (p, _) in &self.joined {
            h.extend(p.hi_macros.iter().copied());
        }
        if h.is_empty() {
            return h;
        }
        h.insert(sym::HAS_INCLUDE);
        h.insert(sym::HAS_INCLUDE_NEXT);
        loop {
            let mut grew = false;
            for (p, _) in &self.joined {
                if !h.iter().any(|s| p.body_idents.binary_search(s).is_ok()) {
                    continue;
                }
                for d in p.defines() {
                    if !h.contains(&d.name) && d.body.iter().any(|t| h.contains(&t.sym)) {
                        h.insert(d.name);
                        grew = true;
                    }
                }
            }
            if !grew {
                return h;
            }
        }
    }

    /// Expand the computed includes and `#if` lines waiting for macros,
    /// with every definition seen so far; look up what they name.
    fn evaluate_round(&mut self) -> Result<(), GiveUp> {
        // `#if` lines that may reach `__has_include` through a macro.
        let hi = self.hi_names();
        if !hi.is_empty() {
            for id in 0..self.nodes.len() {
                let Some(p) = self.nodes[id].parsed.clone() else {
                    continue;
                };
                if !hi.iter().any(|s| p.cond_idents.binary_search(s).is_ok()) {
                    continue;
                }
                for (ci, c) in p.conds.iter().enumerate() {
                    let uses = c.toks.iter().any(|t| {
                        t.kind == Kind::Ident
                            && hi.contains(&t.sym)
                            && sym::has_include(t.sym).is_none()
                    });
                    if uses && self.pending_conds.insert((id, ci)) {
                        self.pending.push(Pending {
                            node: id,
                            idx: ci,
                            cond: true,
                            last_round: 0,
                            touched: FxSet::default(),
                            resolved: false,
                            why: None,
                        });
                    }
                }
            }
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        self.round += 1;
        let round = self.round;
        let todo: Vec<usize> = (0..self.pending.len())
            .filter(|&i| {
                let p = &self.pending[i];
                p.last_round == 0
                    || self.joined.iter().any(|(f, r)| {
                        *r > p.last_round
                            && p.touched
                                .iter()
                                .any(|&s| f.defines_any(s) || f.undefines(s))
                    })
            })
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        // Predefined macros, then -D/-U in order: one definition each.
        let predefined = self.comp.predefined.clone();
        let cmdline = self.cmdline_defs()?;
        let mut fixed: FxMap<Sym, MacroDef<'_>> = FxMap::default();
        for d in predefined.defines() {
            fixed.insert(d.name, d);
        }
        for (def, p) in cmdline.iter() {
            if *def {
                for d in p.defines() {
                    fixed.insert(d.name, d);
                }
            } else {
                for u in &p.undefs {
                    fixed.remove(u);
                }
            }
        }
        let files: Vec<Arc<Parsed>> = self.joined.iter().map(|(p, _)| p.clone()).collect();
        let main_path = self.nodes[0].path.clone();
        let mut work: Vec<(usize, IncKind, HeaderName, u32)> = Vec::new();
        {
            let mut table = MacroTable::new(files.iter().map(|p| &**p).collect(), &fixed);
            for &i in &todo {
                let (node, idx, cond) = (
                    self.pending[i].node,
                    self.pending[i].idx,
                    self.pending[i].cond,
                );
                let Some(parsed) = self.nodes[node].parsed.clone() else {
                    continue;
                };
                let mut file_names = vec![self.nodes[node].path.clone()];
                file_names.extend(parsed.line_names.iter().map(|n| n.to_vec()));
                let shown = String::from_utf8_lossy(&self.nodes[node].path).into_owned();
                let p = &mut self.pending[i];
                p.last_round = round;
                if cond {
                    let Some(c) = parsed.conds.get(idx) else {
                        continue;
                    };
                    let line = c.line;
                    let mut ops: Vec<(IncKind, Operand)> = Vec::new();
                    // Expand only the names that lead to `__has_include`,
                    // then, if an operand cannot be read, everything.
                    for only in [Some(&hi), None] {
                        ops.clear();
                        let mut ex = Expander::new(&mut table, &mut self.sc.interner);
                        ex.file_names = file_names.clone();
                        ex.base_file = main_path.clone();
                        ex.only = only;
                        ex.if_mode = true;
                        let res = ex.expand(&c.toks);
                        p.touched.extend(ex.touched.iter().copied());
                        let res = res.map_err(|e| expand_give_up(&shown, line, e))?;
                        let mut ok = true;
                        for r in &res {
                            let toks: Vec<Tok> = r.iter().map(|x| x.t).collect();
                            for (k, t) in toks.iter().enumerate() {
                                let Some(next) = (t.kind == Kind::Ident)
                                    .then(|| sym::has_include(t.sym))
                                    .flatten()
                                else {
                                    continue;
                                };
                                let after_defined = (k >= 1 && toks[k - 1].sym == sym::DEFINED)
                                    || (k >= 2
                                        && toks[k - 1].sym == sym::LPAREN
                                        && toks[k - 2].sym == sym::DEFINED);
                                if after_defined {
                                    continue;
                                }
                                let kind = if next {
                                    IncKind::HasIncludeNext
                                } else {
                                    IncKind::HasInclude
                                };
                                match has_include_operand(&toks[k + 1..], ex.interner) {
                                    Some(op) => ops.push((kind, op)),
                                    None => ok = false,
                                }
                            }
                        }
                        if ok {
                            break;
                        }
                        if only.is_none() {
                            return give_up(format!(
                                "{shown}:{line}: cannot read a __has_include operand"
                            ));
                        }
                    }
                    p.resolved = true;
                    for (kind, op) in ops {
                        match op {
                            Operand::Quote(n) => {
                                work.push((node, kind, HeaderName::Quote(n.into()), line))
                            }
                            Operand::Angle(n) => {
                                work.push((node, kind, HeaderName::Angle(n.into()), line))
                            }
                            Operand::Computed(t) => {
                                let mut ex = Expander::new(&mut table, &mut self.sc.interner);
                                ex.file_names = file_names.clone();
                                ex.base_file = main_path.clone();
                                let res = ex.expand(&t);
                                p.touched.extend(ex.touched.iter().copied());
                                let res = res.map_err(|e| expand_give_up(&shown, line, e))?;
                                let names = names_of(&res, ex.interner, &shown, line)?;
                                if names.is_empty() {
                                    p.resolved = false;
                                    p.why = Some("its operand names no header".into());
                                }
                                work.extend(names.into_iter().map(|n| (node, kind, n, line)));
                            }
                        }
                    }
                } else {
                    let Some(d) = parsed.includes.get(idx) else {
                        continue;
                    };
                    let Operand::Computed(toks) = &d.op else {
                        continue;
                    };
                    let mut ex = Expander::new(&mut table, &mut self.sc.interner);
                    ex.file_names = file_names;
                    ex.base_file = main_path.clone();
                    let res = ex.expand(toks);
                    p.touched.extend(ex.touched.iter().copied());
                    let res = res.map_err(|e| expand_give_up(&shown, d.line, e))?;
                    let names = names_of(&res, ex.interner, &shown, d.line)?;
                    // None yet: a file found later may define the macro.
                    p.resolved |= !names.is_empty();
                    work.extend(names.into_iter().map(|n| (node, d.kind, n, d.line)));
                }
            }
        }
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
}

fn expand_give_up(file: &str, line: u32, e: ExpandError) -> GiveUp {
    match e {
        ExpandError::TooComplex => GiveUp(format!(
            "{file}:{line}: computed include has too many possible expansions"
        )),
        ExpandError::Unsupported(w) => GiveUp(format!(
            "{file}:{line}: computed include uses {w}, not supported"
        )),
    }
}

/// The header names of a set of expansions. An unknowable one (built from
/// `__LINE__`...) is a give-up.
fn names_of(
    res: &[Vec<super::macros::XTok>],
    interner: &Interner,
    file: &str,
    line: u32,
) -> Result<Vec<HeaderName>, GiveUp> {
    let mut out: Vec<HeaderName> = Vec::new();
    for r in res {
        match interpret(r, interner) {
            Interpreted::Names(ns) => {
                for n in ns {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
            Interpreted::Unknowable => {
                return give_up(format!(
                    "{file}:{line}: computed include depends on __LINE__, __COUNTER__ or the like"
                ))
            }
            Interpreted::NotAName => {}
        }
    }
    Ok(out)
}

trait IntoVec {
    fn into_vec(self) -> Vec<u8>;
}

impl IntoVec for OsString {
    fn into_vec(self) -> Vec<u8> {
        std::os::unix::ffi::OsStringExt::into_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The include server may keep its scanner in a thread of its own.
    #[test]
    fn scanner_is_send() {
        fn send<T: Send>() {}
        send::<Scanner>();
    }

    #[test]
    fn path_helpers() {
        assert_eq!(normalize(b"/a/./b//c/../d"), b"/a/b/c/../d");
        assert_eq!(append(b"", b"x.h"), b"x.h");
        assert_eq!(append(b"src/", b"x.h"), b"src/x.h");
        assert_eq!(append(b"inc", b"x.h"), b"inc/x.h");
        assert_eq!(dir_name(b"src/a.c"), b"src/");
        assert_eq!(dir_name(b"a.c"), b"");
        assert!(under(b"/usr/include/stdio.h", b"/usr/include"));
        assert!(!under(b"/usr/include/../x.h", b"/usr/include"));
        assert!(!under(b"/usr/includex/a.h", b"/usr/include"));
        assert_eq!(abs_in(b"/c", b"x/y.h"), b"/c/x/y.h");
    }
}
