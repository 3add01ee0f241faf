//! Monitoring: distcc's client state files (`state`), the
//! distccmon-text view (`text`).

pub mod state;
pub mod text;
