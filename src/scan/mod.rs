//! Pump mode's include scanner: which files a translation unit may read.
//!
//! The client ships the source and every header it needs; the server
//! preprocesses and compiles. A header left out, or the wrong one of two
//! same-named headers, can silently change the object (`__has_include`,
//! `#include_next`), so the scanner errs on the side of shipping more and
//! gives up (the job is then preprocessed locally) when it cannot be sure.
//!
//! How it stays a superset of what gcc reads:
//! - conditionals are not evaluated: every `#include` of every branch is
//!   followed, every `#define` of a name is an alternative when a computed
//!   include is expanded;
//! - lookups follow gcc's search rules exactly (search_path_head,
//!   remove_duplicates, include_next from the dir a file was found in), with
//!   the filesystem deciding what `a/../b` names;
//! - system headers are read too (not shipped): a `<bits/x.h>` that glibc
//!   includes may be found in a user dir first.
//!
//! What the mirror on the server must do with a `Closure`: create each of
//! `files` at its path under the root (recreating the symlinks met on the
//! way, as gcc names files through them), create `dirs` (empty if nothing
//! else lands there), and make each of `system_dirs` lead to the server's own
//! copy. Then every lookup the server's gcc makes finds what the client's
//! would have found, or nothing where the client found nothing.
//!
//! The engine knows nothing of sockets or sessions: the include server
//! (`crate::pump`) and the fuzz targets drive it.
//!
//! - `scanner`: the entry point (`Scanner::scan`), over two caches that
//!   last the include server's life: `files` (each file's parse) and
//!   `compilers` (each compiler's dirs and macros);
//! - `walk`: one scan, file by file (`node`), to the `Closure` (`closure`);
//! - `lookup`: where gcc finds a header name; `probe`: the filesystem as
//!   one scan sees it; `bytepath`: paths as gcc spells them;
//! - `computed`: computed includes and `__has_include` behind macros;
//! - `searchpath`: gcc's include search path from the command line;
//! - `compiler_dirs`: the compiler's default dirs and predefined macros;
//! - `directives`: reading one file (include-like directives, defines)
//!   into a `parsed::Parsed`;
//! - `macros`: expanding computed includes over every definition seen
//!   (`table`: the definitions; `expand`: the expander; `header_name`:
//!   what an expansion names; `xtok`: tokens with hide sets);
//! - `tokens`: interned preprocessing tokens.

mod bytepath;
mod closure;
pub(crate) mod compiler_dirs;
mod compilers;
mod computed;
pub(crate) mod directives;
mod files;
mod lookup;
pub(crate) mod macros;
mod node;
pub(crate) mod parsed;
mod probe;
pub(crate) mod scanner;
pub(crate) mod searchpath;
pub(crate) mod tokens;
mod walk;

pub use closure::{Closure, FileFacts, GiveUp, ScanStats, Stamp};
pub use scanner::Scanner;
