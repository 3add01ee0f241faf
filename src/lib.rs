//! tinydcc: a distcc-compatible distributed C/C++ compiler in one binary.
//!
//! Where things live: `protocol` (wire format), `args` (local vs remote),
//! `hosts` (host lists), `client`, `daemon`, `check` (`--check`),
//! `pump` (include server, scanner, `pump` command), `logging`, `paths`,
//! `exitcode`, `errtext` (I/O errors as messages say them), `version`.

pub mod args;
pub mod check;
pub mod client;
pub mod daemon;
pub mod decimal;
pub mod errtext;
pub mod exitcode;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod hosts;
pub mod logging;
pub mod monitor;
pub mod paths;
pub mod protocol;
pub mod pump;
pub mod version;
