//! tinydcc: a distcc-compatible distributed C/C++ compiler in one binary.
//!
//! Where things live: `protocol` (wire format), `gcc_options` (gcc's
//! options, one table), `args` (local vs remote),
//! `hosts` (host lists), `client`, `daemon`, `check` (`--check`),
//! `pump` (include server, `pump` command), `scan` (the include
//! scanner), `store` (the daemon's result cache and header store),
//! `logging`, `paths`,
//! `exitcode`, `errtext` (I/O errors as messages say them), `version`,
//! `sys` (every `unsafe` call, each with its reason).

#![deny(unsafe_code)]

pub mod args;
pub(crate) mod cgroup;
pub mod check;
pub mod client;
pub mod daemon;
pub(crate) mod decimal;
pub(crate) mod errtext;
pub(crate) mod exitcode;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub(crate) mod fxhash;
pub(crate) mod gcc_options;
pub(crate) mod hosts;
pub(crate) mod load_line;
pub(crate) mod logging;
pub mod monitor;
pub(crate) mod paths;
pub mod protocol;
pub mod pump;
pub mod scan;
pub mod store;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub(crate) mod version;
