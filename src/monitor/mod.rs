//! Monitoring: distcc's client state files (`state`), the
//! distccmon-text view (`text`), the cluster view from each host's
//! stats port (`cluster`).

pub mod cluster;
pub(crate) mod state;
pub mod text;
