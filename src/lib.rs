//! tinydcc: a distcc-compatible distributed C/C++ compiler in one binary.
//!
//! Where things live: `protocol` (wire format), `args` (local vs remote),
//! `hosts` (host lists), `client`, `daemon`, `check` (`--check`),
//! `logging`, `paths`, `exitcode`.

pub mod args;
pub mod check;
pub mod client;
pub mod daemon;
pub mod exitcode;
pub mod hosts;
pub mod logging;
pub mod paths;
pub mod protocol;
pub mod pump;
