//! An I/O error as a user reads it: the system's reason ("No such file or
//! directory"), without the `(os error N)` that Rust's Display appends.
//! Messages add the file or host themselves.

use std::io;

/// `e`'s reason, e.g. `Permission denied`.
pub fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(n) => match text.strip_suffix(&format!(" (os error {n})")) {
            Some(r) => r.to_string(),
            None => text,
        },
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_lose_their_number() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(reason(&e), "No such file or directory");
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(reason(&e), "Connection refused");
        assert_eq!(reason(&io::Error::other("I/O timeout")), "I/O timeout");
    }
}
