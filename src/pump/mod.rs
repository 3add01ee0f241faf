//! Pump mode's include scanner: which files a translation unit may read.
//!
//! The client ships the source and every header it needs; the server
//! preprocesses and compiles. A header left out, or the wrong one of two
//! same-named headers, can silently change the object (`__has_include`,
//! `#include_next`), so the scanner errs on the side of shipping more and
//! gives up (the job is then preprocessed locally) when it cannot be sure.
//!
//! - `scanner`: the entry point (`Scanner::scan`) and its caches;
//! - `searchpath`: gcc's include search path from the command line;
//! - `compiler_dirs`: the compiler's default dirs and predefined macros;
//! - `directives`: reading one file (include-like directives, defines);
//! - `macros`: expanding computed includes over every definition seen;
//! - `tokens`: interned preprocessing tokens.

pub mod compiler_dirs;
pub mod directives;
pub mod macros;
pub mod scanner;
pub mod searchpath;
pub mod tokens;

pub use scanner::{Closure, GiveUp, ScanStats, Scanner};
