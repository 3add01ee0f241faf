//! The byte stream to a compile server: TCP, or the stdin/stdout of
//! `ssh HOST distccd --inetd` for `@host` entries (distcc's src/ssh.c).
//! Both honour `DISTCC_IO_TIMEOUT` on every read and write.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsFd, AsRawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::hosts::Mode;

/// distcc's connect timeout (src/clinet.c).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

pub enum Conn {
    Tcp(TcpStream),
    Ssh(Ssh),
}

pub struct Ssh {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    timeout: Duration,
}

/// Open a stream to `mode` (never `Local`). Not inlined: a job and a
/// straggler's copy open one.
#[inline(never)]
pub fn open(mode: &Mode, ssh_cmd: &[OsString], timeout: Duration) -> Result<Conn, String> {
    match mode {
        Mode::Tcp { host, port } => tcp(host, *port, timeout).map(Conn::Tcp),
        Mode::Ssh {
            user,
            host,
            command,
        } => ssh(ssh_cmd, user.as_deref(), host, command.as_deref(), timeout).map(Conn::Ssh),
        Mode::Local => Err("localhost needs no connection".into()),
    }
}

fn tcp(host: &str, port: u16, io_timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("failed to look up {host}: {}", crate::errtext::reason(&e)))?
        .collect();
    let mut last = format!("{host} has no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                // One request, written in two pieces: no Nagle delay between them.
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(io_timeout));
                let _ = s.set_write_timeout(Some(io_timeout));
                return Ok(s);
            }
            Err(e) => last = format!("failed to connect to {a}: {}", crate::errtext::reason(&e)),
        }
    }
    Err(last)
}

/// The ssh command line distcc builds: `$DISTCC_SSH` words, `-l USER`,
/// `HOST`, the remote daemon (default `distccd`), `--inetd
/// --enable-tcp-insecure` (the remote side serves only this pipe).
pub fn ssh_argv(
    ssh_cmd: &[OsString],
    user: Option<&str>,
    host: &str,
    command: Option<&str>,
) -> Vec<OsString> {
    let mut v: Vec<OsString> = ssh_cmd.to_vec();
    if let Some(u) = user {
        v.push("-l".into());
        v.push(u.into());
    }
    v.push(host.into());
    v.push(command.unwrap_or("distccd").into());
    v.push("--inetd".into());
    v.push("--enable-tcp-insecure".into());
    v
}

/// A command line for the log (lossy; what runs is the bytes).
fn shown(argv: &[OsString]) -> String {
    let words: Vec<_> = argv.iter().map(|a| a.to_string_lossy()).collect();
    words.join(" ")
}

fn ssh(
    ssh_cmd: &[OsString],
    user: Option<&str>,
    host: &str,
    command: Option<&str>,
    timeout: Duration,
) -> Result<Ssh, String> {
    let argv = ssh_argv(ssh_cmd, user, host, command);
    log::debug!("run {}", shown(&argv));
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "failed to run {}: {}",
                argv[0].to_string_lossy(),
                crate::errtext::reason(&e)
            )
        })?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or("ssh has no stdout")?;
    Ok(Ssh {
        child,
        stdin,
        stdout,
        timeout,
    })
}

/// Wait until `fd` is ready for `events`, at most `timeout`.
fn wait_ready<F: AsFd>(fd: &F, events: nix::poll::PollFlags, timeout: Duration) -> io::Result<()> {
    use nix::poll::{poll, PollFd, PollTimeout};
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(fd.as_fd(), events)];
    loop {
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::TimedOut, "I/O timeout")),
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Read for Ssh {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        wait_ready(&self.stdout, nix::poll::PollFlags::POLLIN, self.timeout)?;
        self.stdout.read(buf)
    }
}

impl Write for Ssh {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let w = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
        wait_ready(w, nix::poll::PollFlags::POLLOUT, self.timeout)?;
        w.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        // Closing stdin ends the remote daemon's input; it has already sent
        // the reply (or failed), so ssh exits on its own. Reap it.
        drop(self.stdin.take());
        let fd = self.stdout.as_raw_fd();
        log::trace!("closing ssh (stdout fd {fd})");
        match self.child.try_wait() {
            Ok(Some(_)) => {}
            _ => {
                let _ = self.child.wait();
            }
        }
    }
}

impl Ssh {
    /// Give up on a stuck connection: stop ssh instead of waiting for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Ssh(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Ssh(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Ssh(s) => s.flush(),
        }
    }
}

impl Conn {
    /// Where the reply arrives: what to poll while a job runs.
    pub fn reply_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Conn::Tcp(s) => s.as_fd(),
            Conn::Ssh(s) => s.stdout.as_fd(),
        }
    }

    /// The job failed: make sure dropping the connection cannot hang.
    pub fn abandon(&mut self) {
        if let Conn::Ssh(s) = self {
            s.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_command_line_is_distccs() {
        let ssh = vec![OsString::from("ssh"), "-o".into(), "BatchMode=yes".into()];
        assert_eq!(
            shown(&ssh_argv(&ssh, Some("pi"), "b1", None)),
            "ssh -o BatchMode=yes -l pi b1 distccd --inetd --enable-tcp-insecure"
        );
        assert_eq!(
            shown(&ssh_argv(&ssh[..1], None, "b1", Some("/opt/bin/distccd"))),
            "ssh b1 /opt/bin/distccd --inetd --enable-tcp-insecure"
        );
    }
}
