//! Running the compiler on this machine.

use std::process::Command;

/// Run `argv` here and return its exit code. The log says how it ended,
/// in distcc's words (`compile x.c on localhost completed ok`).
pub fn run(argv: &[std::ffi::OsString]) -> i32 {
    let input = argv
        .iter()
        .rev()
        .find(crate::args::is_source)
        .map(|a| a.to_string_lossy())
        .unwrap_or_default();
    match Command::new(&argv[0]).args(&argv[1..]).status() {
        Ok(s) => {
            let code = crate::exitcode::of_status(s);
            if code == 0 {
                log::debug!("compile {input} on localhost completed ok");
            } else {
                log::info!("compile {input} on localhost failed with exit code {code}");
            }
            code
        }
        Err(e) => {
            log::error!(
                "failed to exec {}: {}",
                argv[0].to_string_lossy(),
                crate::errtext::reason(&e)
            );
            crate::exitcode::EXIT_COMPILER_MISSING
        }
    }
}
