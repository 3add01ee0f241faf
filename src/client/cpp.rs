//! Local preprocessing for plain mode. The output goes through a pipe into
//! memory: no temp file on the SD card (DISTCC_SAVE_TEMPS writes one on purpose).

use std::io::{self, Read};
use std::process::{Child, Command, Stdio};

pub struct Cpp {
    child: Child,
}

impl Cpp {
    /// Start `argv` (already turned into a `-E` command) with stdout captured.
    pub fn start(argv: &[std::ffi::OsString]) -> io::Result<Cpp> {
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        crate::sys::signal_cleanup::set_child(child.id() as i32);
        Ok(Cpp { child })
    }

    /// Collect the preprocessed text and the exit status.
    pub fn finish(mut self) -> io::Result<(Vec<u8>, std::process::ExitStatus)> {
        let mut out = Vec::with_capacity(256 * 1024);
        if let Some(mut s) = self.child.stdout.take() {
            s.read_to_end(&mut out)?;
        }
        let status = self.child.wait();
        crate::sys::signal_cleanup::set_child(0);
        Ok((out, status?))
    }
}
