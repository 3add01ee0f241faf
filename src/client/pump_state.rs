//! Whether this job goes in pump mode: the include server is asked once,
//! on the first `,cpp` host, and a pump compile that fails on a server
//! turns the job to plain mode for the hosts after it.

use std::ffi::OsString;
use std::path::Path;

use super::phase::{self, Phase};
use super::settings::Settings;
use super::{depfile, pick, pump};
use crate::args;
use crate::hosts::HostList;

/// Pump mode for this job: not yet tried, the include server's list with
/// the argv for the server, or off (plain mode) and why.
pub(super) enum PumpState {
    Untried,
    Ready(pump::Shipment, Vec<OsString>),
    Off,
    /// The pump compile failed on a server; plain mode now. If that
    /// succeeds, it was a pump discrepancy.
    FailedRemotely(String),
}

impl PumpState {
    /// The files and argv for a `,cpp` host, asking the include server on
    /// first use (under a local cpp slot, as distcc); `None`: plain mode.
    pub(super) fn prepare(
        &mut self,
        s: &Settings,
        scan: &args::Scan,
        lock_dir: &Path,
        list: &HostList,
        server_argv: &[OsString],
        original: &[OsString],
    ) -> Option<(&pump::Shipment, &[OsString])> {
        if let PumpState::Untried = self {
            *self = PumpState::Off;
            let input = scan.input.to_string_lossy();
            if let Some(why) = pump::unusable(&scan.input) {
                log::warn!("{why}; preprocessing locally");
                pump::note_fallback(pump::Stage::Before, &input, &why, false);
            } else {
                let slot = pick::local(s, lock_dir, list.local_slots_cpp)
                    .map_err(|e| log::error!("{e}"))
                    .ok();
                phase::note(
                    Phase::Preprocess,
                    &scan.input,
                    "localhost",
                    slot.as_ref().map_or(0, |l| l.slot),
                );
                match pump::ask(server_argv, s.io_timeout) {
                    Ok(files) => {
                        let target = depfile::pump_target(scan, original);
                        *self = PumpState::Ready(
                            files,
                            pump::server_argv(server_argv.to_vec(), target),
                        );
                    }
                    Err(pump::NoList::GaveUp) => {
                        log::warn!("include server gave up analyzing; preprocessing locally");
                    }
                    Err(pump::NoList::Failed(why)) => {
                        log::warn!(
                            "failed to get includes from include server ({why}); preprocessing locally"
                        );
                        pump::note_fallback(pump::Stage::Before, &input, &why, false);
                    }
                }
            }
        }
        match self {
            PumpState::Ready(files, argv) => Some((files, argv)),
            _ => None,
        }
    }

    /// The pump attempt failed on a server: plain mode from now on.
    pub(super) fn failed(&mut self, input: &str, why: String, compile_error: bool) {
        log::info!("pump-mode compile of {input} failed ({why}); retrying in plain mode");
        if compile_error {
            *self = PumpState::FailedRemotely(why);
        } else {
            pump::note_fallback(pump::Stage::After, input, &why, false);
            *self = PumpState::Off;
        }
    }
}
