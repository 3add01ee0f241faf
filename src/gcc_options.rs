//! gcc's options, as the client's scan (`args`), the daemon's checks
//! (`daemon::harden`, `daemon::pump_job`) and the include scanner
//! (`pump::searchpath`) see them.

#[cfg(test)]
mod pinned;
