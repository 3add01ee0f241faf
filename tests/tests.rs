//! Every integration test, in one binary (one link of the library, not
//! one per file). A file per concern: `cargo test client_env::` runs one.
//! The slow tier is `#[ignore = "slow tier ..."]`; tests/run runs it.

mod common;

mod arm_qemu;
mod bytes_args;
mod check;
mod client;
mod client_args;
mod client_backoff;
mod client_ccache;
mod client_env;
mod client_hosts;
mod client_invoke;
mod client_native;
mod client_slots;
mod client_ssh;
mod cluster;
mod cluster_bed;
mod daemon_cache;
mod daemon_feed;
mod daemon_harden;
mod daemon_inetd;
mod daemon_input;
mod daemon_options;
mod daemon_pump;
mod distcc_fidelity;
mod faults;
mod fuzz_regressions;
mod header_store;
mod interop;
mod kernel;
mod load;
mod man_pages;
mod monitor;
mod pump;
mod pump_scanner;
mod runit;
mod store;
mod xbps_src;
