//! distcc's exit codes (src/exitcode.h): scripts and stock peers rely on
//! them; and how a child's end becomes one.

pub const EXIT_DISTCC_FAILED: i32 = 100;
pub const EXIT_BAD_ARGUMENTS: i32 = 101;
pub const EXIT_BIND_FAILED: i32 = 102;
pub const EXIT_BAD_HOSTSPEC: i32 = 106;
pub const EXIT_IO_ERROR: i32 = 107;
pub const EXIT_TRUNCATED: i32 = 108;
pub const EXIT_PROTOCOL_ERROR: i32 = 109;
pub const EXIT_COMPILER_MISSING: i32 = 110;
pub const EXIT_RECURSION: i32 = 111;
pub const EXIT_SETUID_FAILED: i32 = 112;
pub const EXIT_ACCESS_DENIED: i32 = 113;
/// distcc: a lock busy or a host in backoff; tinydccd: no memory for the job.
pub const EXIT_BUSY: i32 = 114;
pub const EXIT_NO_HOSTS: i32 = 116;
pub const EXIT_TIMEOUT: i32 = 118;

/// Exit code the way a shell and distcc report it: the code, or 128+signal.
pub fn of_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => EXIT_DISTCC_FAILED,
    }
}
