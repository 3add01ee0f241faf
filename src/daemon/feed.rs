//! Plain-mode source fed to the compiler through its stdin.
//!
//! The client sends argv first and the preprocessed text only once its
//! local cpp is done. A piped job's compiler is started as soon as argv
//! passes, with `input.i` a symlink to `/proc/self/fd/0` (gcc still sees
//! the `.i` suffix and the object is the same): gcc's driver and cc1 start
//! up while the client's cpp runs, and block on the pipe until the text
//! arrives. The daemon then splices the received source file into the
//! pipe, nonblocking, from its event loop, and closes it for EOF.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag, SpliceFFlags};

use super::refusal::Refusal;
use crate::exitcode::{EXIT_IO_ERROR, EXIT_PROTOCOL_ERROR};

/// Where the compiler is told its input is.
pub const STDIN_LINK: &str = "/proc/self/fd/0";

/// The write end of a piped job's stdin, and its source once complete.
pub struct Feed {
    pub pipe: File,
    /// As received: the text (v1) or its LZO form (v2).
    wire: PathBuf,
    /// The whole text, decompressed.
    source: PathBuf,
    /// Open source, bytes fed so far, its length.
    src: Option<(File, u64, u64)>,
}

/// A pipe for a compiler's stdin: (read end for the child, our feed).
pub fn pipe(wire: PathBuf, source: PathBuf) -> io::Result<(OwnedFd, Feed)> {
    // Both ends close on exec (the child gets its end as fd 0 through dup2).
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let w = File::from(w);
    set_nonblocking(&w)?;
    let feed = Feed {
        pipe: w,
        wire,
        source,
        src: None,
    };
    Ok((r, feed))
}

fn set_nonblocking(f: &File) -> io::Result<()> {
    let fd = f.as_raw_fd();
    let fl = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

impl Feed {
    /// The request is complete: decompress a v2 source, open it for feeding.
    pub fn source_complete(&mut self, max_source: usize) -> Result<(), Refusal> {
        if self.wire != self.source {
            decompress(&self.wire, &self.source, max_source)?;
        }
        let f = File::open(&self.source).map_err(|e| Refusal {
            code: EXIT_IO_ERROR,
            why: format!(
                "cannot read the job's source: {}",
                crate::errtext::reason(&e)
            ),
        })?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        self.src = Some((f, 0, len));
        Ok(())
    }

    /// Move as much as the pipe takes. `Ok(true)`: all of it is in (drop
    /// the feed to close the pipe: the compiler's EOF); `Ok(false)`: the
    /// pipe is full, or the source is not complete yet. EPIPE means the
    /// compiler is gone; its exit status tells the rest.
    pub fn pump(&mut self) -> io::Result<bool> {
        let Some((src, off, len)) = self.src.as_mut() else {
            return Ok(false);
        };
        while *off < *len {
            match splice(src, *off, &self.pipe, *len - *off) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the job's source shrank while it was fed",
                    ))
                }
                Ok(n) => *off += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// splice(2) from `src` at `off` into the pipe; pread/write where the
/// source's filesystem cannot splice.
fn splice(src: &File, off: u64, pipe: &File, len: u64) -> io::Result<usize> {
    let mut o = off as libc::loff_t;
    let n = len.min(1 << 20) as usize;
    match nix::fcntl::splice(
        src,
        Some(&mut o),
        pipe,
        None,
        n,
        SpliceFFlags::SPLICE_F_NONBLOCK,
    ) {
        Ok(r) => return Ok(r),
        Err(Errno::EINVAL) => {}
        Err(e) => return Err(e.into()),
    }
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; n.min(64 * 1024)];
    let got = src.read_at(&mut buf, off)?;
    (&*pipe).write(&buf[..got])
}

/// A v2 request's LZO source, decompressed into `to`.
pub fn decompress(wire: &PathBuf, to: &PathBuf, max_source: usize) -> Result<(), Refusal> {
    let text = std::fs::read(wire)
        .map_err(|e| crate::errtext::reason(&e))
        .and_then(|c| crate::protocol::lzo::decompress(&c, max_source).map_err(|e| e.to_string()))
        .map_err(|e| Refusal {
            code: EXIT_PROTOCOL_ERROR,
            why: format!("bad compressed source: {e}"),
        })?;
    std::fs::write(to, text).map_err(|e| Refusal {
        code: EXIT_IO_ERROR,
        why: format!("cannot write the source: {}", crate::errtext::reason(&e)),
    })?;
    let _ = std::fs::remove_file(wire);
    Ok(())
}
