//! The include scanner: from a compiler command line to every file the
//! compile may read, following gcc's search rules, with caches that live
//! as long as the include server (a whole `make -j20`).
//!
//! What is cached, and why it is safe:
//! - each file's directives and definitions, keyed by (dev, inode, size,
//!   mtime, ctime): a changed file is read again (`files`);
//! - the compiler's default dirs and predefined macros, keyed by the
//!   compiler binary (path, inode, size, mtime), the language and the flags
//!   that can change them (`compilers`).
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

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::bytepath::{abs_in, path_of};
use super::closure::{give_up, Closure, GiveUp, ScanStats};
use super::compiler_dirs;
use super::compilers::Compilers;
use super::files::ParseCache;
use super::searchpath;
use super::walk::ScanState;

/// The include scanner and its caches.
pub struct Scanner {
    files: ParseCache,
    compilers: Compilers,
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
            files: ParseCache::new(),
            compilers: Compilers::default(),
            stats: ScanStats::default(),
        }
    }

    /// Files parsed so far and cache hits, for a summary line.
    pub fn stats(&self) -> ScanStats {
        ScanStats {
            cached_files: self.files.len() as u64,
            ..self.stats
        }
    }

    /// Drop every file's cached parse (the compilers' stay): for a caller
    /// that knows its files changed in ways a stat may not show.
    #[cfg(feature = "fuzzing")]
    pub fn forget_files(&mut self) {
        self.files.clear();
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
        let compiler = self.compilers.get(
            &scan.argv[0],
            cwd,
            env("PATH"),
            &opts,
            &mut self.files.interner,
            &mut self.stats,
        )?;
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
        ScanState::new(
            &mut self.files,
            &mut self.stats,
            cwdb,
            chain,
            compiler,
            opts,
            clang,
        )
        .run()
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
