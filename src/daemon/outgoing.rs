//! Bytes on their way to a client, written as the socket takes them:
//! the reply's head, then (v1) the object straight from its file with
//! sendfile(2), so a large object never sits in the daemon's memory.

use std::fs::File;
use std::io::{self, Write};

use mio::net::TcpStream;

use crate::protocol::reply::{self, Reply};
use crate::protocol::ProtoError;

pub struct Outgoing {
    head: Vec<u8>,
    off: usize,
    object: Option<(File, u64)>,
    sent: u64,
}

/// How far a `write` got.
pub enum Progress {
    /// The socket is full; `moved`: some bytes went out first.
    Blocked {
        moved: bool,
    },
    Done,
    /// Why the rest cannot be sent (for the log, after `client PEER: `).
    Failed(String),
}

impl Outgoing {
    pub fn new(bytes: Vec<u8>) -> Outgoing {
        Outgoing {
            head: bytes,
            off: 0,
            object: None,
            sent: 0,
        }
    }

    /// The first `off` bytes have gone already.
    pub fn from(mut self, off: usize) -> Outgoing {
        self.off = off;
        self
    }

    /// A reply; an uncompressed object goes straight from its file.
    /// `trailer` follows the reply (protocol 3 only: its object is in
    /// the head, never sent from the file).
    pub fn reply(
        r: &Reply,
        object: Option<(File, u64)>,
        trailer: Vec<u8>,
    ) -> Result<Outgoing, ProtoError> {
        let from_file = !r.features.compress();
        let mut head = match &object {
            Some((_, len)) if from_file && *len <= u32::MAX as u64 => {
                reply::encode_head_v1(r.features, r.status, &r.stderr, &r.stdout, *len as u32)
            }
            _ => reply::encode(r),
        }?;
        if !from_file {
            head.extend_from_slice(&trailer);
        }
        Ok(Outgoing {
            object: object.filter(|_| from_file),
            ..Outgoing::new(head)
        })
    }

    /// `next` queued behind what is left of this one (a NEED the socket
    /// has not taken yet, then the reply). Only bytes in memory can go
    /// first; a reply streaming its object is never followed.
    pub fn then(self, next: Outgoing) -> Outgoing {
        if self.object.is_some() || self.off >= self.head.len() {
            return next;
        }
        let mut head = self.head[self.off..].to_vec();
        head.extend_from_slice(&next.head[next.off..]);
        Outgoing {
            object: next.object,
            ..Outgoing::new(head)
        }
    }

    /// Write what the socket takes. `strict`: a write of 0 bytes is a
    /// failure (a refused client's line), else the head counts as sent.
    pub fn write(&mut self, sock: &TcpStream, strict: bool) -> Progress {
        let mut moved = false;
        while self.off < self.head.len() {
            match (&*sock).write(&self.head[self.off..]) {
                Ok(0) if strict => return Progress::Failed("write failed".into()),
                Ok(0) => break,
                Ok(n) => {
                    self.off += n;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Progress::Blocked { moved }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let why = crate::errtext::reason(&e);
                    return Progress::Failed(format!("write failed: {why}"));
                }
            }
        }
        let Some((file, len)) = &self.object else {
            return Progress::Done;
        };
        while self.sent < *len {
            match send_file(sock, file, self.sent, *len - self.sent) {
                Ok(0) => break,
                Ok(n) => {
                    self.sent += n as u64;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Progress::Blocked { moved }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let why = crate::errtext::reason(&e);
                    return Progress::Failed(format!("sending the object failed: {why}"));
                }
            }
        }
        if self.sent < *len {
            // The file shrank under us: the client sees a short reply.
            return Progress::Failed("the object file shrank while being sent".into());
        }
        Progress::Done
    }
}

/// Send up to `len` bytes of `file` from `offset` with sendfile(2).
fn send_file(sock: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<usize> {
    let mut off = offset as libc::off_t;
    let n = len.min(1 << 30) as usize;
    Ok(nix::sys::sendfile::sendfile(sock, file, Some(&mut off), n)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsent_need_goes_before_the_reply() {
        let need = Outgoing::new(b"NEED00000001\x01".to_vec()).from(4);
        let both = need.then(Outgoing::new(b"DONE00000003".to_vec()));
        assert_eq!(both.head, b"00000001\x01DONE00000003");
        let sent = Outgoing::new(b"NEED00000000".to_vec()).from(12);
        assert_eq!(sent.then(Outgoing::new(b"DONE".to_vec())).head, b"DONE");
    }
}
