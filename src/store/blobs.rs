//! The pump header store: the files pump jobs send, by the digest of
//! their content, and a job directory laid out from it with hard links
//! (a copy where the store and the job are on different file systems), so
//! the daemon writes each content once. Blobs are read-only (0444): a job
//! reads its headers, never writes them.

use std::ffi::{CStr, CString};
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

use super::digest::Digest;
use super::evict::worth_storing;
use super::shelf::Shelf;
use super::Counters;

pub struct ContentStore {
    shelf: Shelf,
}

impl ContentStore {
    /// Open the store in `dir` (created as needed), holding at most
    /// `limit` bytes.
    pub fn open(dir: &Path, limit: u64) -> io::Result<ContentStore> {
        Ok(ContentStore {
            shelf: Shelf::open(dir, limit, "header store", 0o444)?,
        })
    }

    /// Whether the store holds the content `d` of `size` bytes. A blob of
    /// another size is not it: cut short by a crash, or the size is a
    /// client's mistake. It stays until the right content replaces it
    /// (`put`) or eviction takes it: a client's word deletes nothing.
    pub fn has(&mut self, d: &Digest, size: u64) -> bool {
        let found = self.shelf.is_on()
            && fs::symlink_metadata(self.shelf.path(d)).is_ok_and(|m| m.len() == size);
        if found {
            self.shelf.stats.hits += 1;
        } else {
            self.shelf.stats.misses += 1;
        }
        found
    }

    /// Keep `data`; returns its digest (computed here: a name comes from
    /// the content, never from a client's word), whether it was kept or
    /// not (too large, store off).
    pub fn put(&mut self, data: &[u8]) -> Digest {
        let d = Digest::of(data);
        self.put_hashed(&d, data);
        d
    }

    /// `put` of `data` whose digest `d` the caller has just computed from
    /// it (a pump job checks each content a client sends against its
    /// announced digest): a cold kernel unit's ~5 MB of headers are then
    /// hashed once, not twice.
    pub fn put_hashed(&mut self, d: &Digest, data: &[u8]) {
        let there =
            fs::symlink_metadata(self.shelf.path(d)).is_ok_and(|m| m.len() == data.len() as u64);
        if !there && worth_storing(data.len() as u64, self.shelf.limit()) {
            self.shelf.write(d, &[data]);
        }
    }

    /// Hash the blob `d` again; a blob whose content no longer matches is
    /// deleted. For a check now and then, not for every job. False also
    /// when there is no such blob.
    pub fn verify(&mut self, d: &Digest) -> bool {
        let Ok(f) = File::open(self.shelf.path(d)) else {
            return false;
        };
        if Digest::of_reader(f).is_ok_and(|got| got == *d) {
            return true;
        }
        log::warn!("header store: blob {} is damaged; deleted", d.hex());
        self.shelf.remove(d);
        self.shelf.stats.corrupt += 1;
        false
    }

    /// Make `name` in directory `dir` the content `d` of `size` bytes: a
    /// hard link to the blob, or a copy when a link cannot be made (another
    /// file system, too many links). `name` must not exist; it is never
    /// followed if it is a symlink. NotFound when the store lacks the blob
    /// (evicted since `has`, or of another size): the caller asks for the
    /// content.
    pub fn link_into(
        &mut self,
        d: &Digest,
        size: u64,
        dir: BorrowedFd<'_>,
        name: &CStr,
    ) -> io::Result<()> {
        let src = self.shelf.path(d);
        let m = fs::symlink_metadata(&src)?;
        if m.len() != size {
            return Err(io::ErrorKind::NotFound.into());
        }
        let csrc = CString::new(src.as_os_str().as_bytes())?;
        match nix::unistd::linkat(
            None,
            csrc.as_c_str(),
            Some(dir.as_raw_fd()),
            name,
            AtFlags::empty(),
        ) {
            Ok(()) => {}
            Err(Errno::EXDEV | Errno::EMLINK | Errno::EPERM) => copy_into(&src, dir, name)?,
            Err(e) => return Err(e.into()),
        }
        if Shelf::stale(&m) {
            Shelf::touch_path(&src);
        }
        Ok(())
    }

    pub fn needs_eviction(&self) -> bool {
        self.shelf.needs_eviction()
    }

    pub fn evict_step(&mut self) -> bool {
        self.shelf.evict_step()
    }

    pub fn is_on(&self) -> bool {
        self.shelf.is_on()
    }

    pub fn counters(&self) -> Counters {
        self.shelf.stats
    }
}

fn copy_into(src: &Path, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let mut from = File::open(src)?;
    let mut to = File::from(crate::sys::openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?);
    if let Err(e) = io::copy(&mut from, &mut to) {
        // No half header for the compiler to read.
        let _ = nix::unistd::unlinkat(
            Some(dir.as_raw_fd()),
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        return Err(e);
    }
    Ok(())
}
