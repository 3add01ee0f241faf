//! The compilers a build uses, each queried once (`CC -E -v` for its
//! default dirs, `-dM -E` for its predefined macros) and kept for the
//! include server's life, keyed by the binary (path, inode, size, mtime),
//! the language and the flags and environment that can change them.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::bytepath::{abs_in, path_of};
use super::closure::{give_up, GiveUp, ScanStats};
use super::compiler_dirs::{self, DefaultDirs};
use super::directives;
use super::parsed::Parsed;
use super::searchpath::SearchOpts;
use super::tokens::{FxMap, Interner};

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

/// The compilers queried so far.
#[derive(Default)]
pub(super) struct Compilers {
    map: FxMap<CompilerKey, Arc<Compiler>>,
}

impl Compilers {
    /// The compiler `argv0` (looked up in `path_env` from `cwd`), queried
    /// with the flags of `opts` that can change what it says.
    pub(super) fn get(
        &mut self,
        argv0: &OsStr,
        cwd: &Path,
        path_env: Option<OsString>,
        opts: &SearchOpts,
        interner: &mut Interner,
        stats: &mut ScanStats,
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
        if let Some(c) = self.map.get(&key) {
            stats.compiler_hits += 1;
            return Ok(c.clone());
        }
        stats.compiler_runs += 1;
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
        let predefined = directives::parse(&out.predefined, interner)
            .map(Arc::new)
            .map_err(|e| GiveUp(format!("the compiler's predefined macros: {e}")))?;
        let c = Arc::new(Compiler {
            dirs: out.dirs,
            canonical,
            predefined,
        });
        self.map.insert(key, c.clone());
        Ok(c)
    }
}
