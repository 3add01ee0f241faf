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

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::bytepath::{abs_in, path_of};
use super::closure::give_up;
pub use super::closure::{Closure, GiveUp, ScanStats};
use super::compiler_dirs::{self, DefaultDirs};
use super::directives;
use super::parsed::Parsed;
use super::probe::FileKey;
use super::searchpath::{self, SearchOpts};
use super::tokens::{FxMap, Interner};
use super::walk::ScanState;

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

/// What a compiler brings to every scan.
pub(super) struct Compiler {
    pub(super) dirs: DefaultDirs,
    /// Real paths of the default dirs.
    pub(super) canonical: Vec<PathBuf>,
    pub(super) predefined: Arc<Parsed>,
}

/// Files bigger than this are not read (a 1 GB board): give up.
const MAX_FILE: u64 = 64 << 20;
/// Parsed files kept at most (a kernel build reads about 5000).
const MAX_CACHED: usize = 100_000;

pub(super) type Cached = Result<Arc<Parsed>, Arc<str>>;

/// The include scanner and its caches.
pub struct Scanner {
    pub(super) interner: Interner,
    parsed: FxMap<FileKey, Cached>,
    /// The key last seen for each (dev, inode), to drop stale versions.
    latest: FxMap<(u64, u64), FileKey>,
    compilers: FxMap<CompilerKey, Arc<Compiler>>,
    pub(super) stats: ScanStats,
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
        let clang = crate::args::basename(scan.argv[0].as_bytes())
            .windows(5)
            .any(|w| w == b"clang");
        ScanState::new(self, cwdb, chain, compiler, opts, clang).run()
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
    pub(super) fn parse_file(&mut self, abs: &[u8], key: FileKey) -> Cached {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The include server may keep its scanner in a thread of its own.
    #[test]
    fn scanner_is_send() {
        fn send<T: Send>() {}
        send::<Scanner>();
    }
}
