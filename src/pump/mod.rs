//! The pump session: the `pump` command (`command`) starts an include
//! server (`include_server`) on a private Unix socket and runs a build with
//! it; the server answers each query with the include scanner's closure
//! (`crate::scan`) laid out in its client root (`mirror`). `session` owns
//! the session folder's layout, which the clients write into too.

pub mod command;
pub(crate) mod include_server;
pub(crate) mod mirror;
pub(crate) mod session;
