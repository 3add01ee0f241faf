//! Running the compiler on this machine.

use std::process::Command;

/// Exit code the way a shell and distcc report it: the code, or 128+signal.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => crate::exitcode::EXIT_DISTCC_FAILED,
    }
}

/// Run `argv` here and return its exit code.
pub fn run(argv: &[std::ffi::OsString]) -> i32 {
    match Command::new(&argv[0]).args(&argv[1..]).status() {
        Ok(s) => exit_code(s),
        Err(e) => {
            log::error!("failed to exec {}: {e}", argv[0].to_string_lossy());
            crate::exitcode::EXIT_COMPILER_MISSING
        }
    }
}
