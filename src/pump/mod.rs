//! Pump mode: the include server (`include_server`, with its client root
//! in `mirror` and the include `scanner`) and the `pump` command that runs
//! a build with it.

pub mod command;
pub mod include_server;
pub mod mirror;
pub mod scanner;
