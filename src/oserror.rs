//! An OS error as a user reads it: the system's own text ("No such file or
//! directory"), without the " (os error 2)" that Rust's Display adds.

use std::io;

pub fn text(e: &io::Error) -> String {
    let s = e.to_string();
    match e.raw_os_error() {
        Some(code) => match s.strip_suffix(&format!(" (os error {code})")) {
            Some(t) => t.to_string(),
            None => s,
        },
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_os_error_number() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(text(&e), "No such file or directory");
        assert_eq!(text(&io::Error::other("plain")), "plain");
    }
}
