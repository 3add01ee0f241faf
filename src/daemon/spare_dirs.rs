//! Empty directories kept from finished pump jobs for the next ones.
//!
//! A pump job mirrors the client's directories (some 35 for a kernel
//! unit). On ext4 without a journal (a common choice on SD cards, and
//! CI's disks) each new inode makes the allocator step over every inode
//! freed in the last 30 seconds, so one `mkdir` cost 0.3 ms there and the
//! directories were most of the daemon's own CPU per pump job. The trash
//! therefore renames an emptied directory into this pool instead of
//! removing it, and the next job renames one into place instead of making
//! one: `rename` allocates no inode.
//!
//! A directory in the pool is empty: the trash renames it right after
//! finding it so, and the pool is this process's own temp directory,
//! named like its job directories (`tinydccd_<pid>_spare…`): removed at
//! shutdown, or by the next daemon's start if this one was killed
//! (`JobDir::remove_stale`).

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Directories kept at most (a few kernel units' worth): beyond that the
/// trash removes them.
const MAX_KEPT: usize = 512;

pub struct SpareDirs {
    pool: PathBuf,
    fd: OwnedFd,
    /// Names in the pool of the directories kept.
    kept: Vec<u32>,
    next: u32,
}

/// The pool's name for the `n`th directory kept.
fn name(n: u32, buf: &mut [u8; 10]) -> &OsStr {
    let (mut i, mut v) = (10, n);
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return OsStr::from_bytes(&buf[i..]);
        }
    }
}

impl SpareDirs {
    /// A pool in `tmp`, beside the job directories (renames cannot cross
    /// file systems), made by the daemon's user; None if it cannot be made
    /// (directories are then made and removed as they come).
    pub fn open(tmp: &Path) -> Option<SpareDirs> {
        let prefix = format!("tinydccd_{}_spare", std::process::id());
        let pool = crate::paths::make_temp_dir(tmp, &prefix).ok()?;
        match std::fs::File::open(&pool) {
            Ok(f) => Some(SpareDirs {
                pool,
                fd: f.into(),
                kept: Vec::new(),
                next: 0,
            }),
            Err(_) => {
                let _ = std::fs::remove_dir(&pool);
                None
            }
        }
    }

    /// Keep the empty directory `dir`; false if the pool is full or cannot
    /// take it (the caller removes it).
    pub fn keep(&mut self, dir: &Path) -> bool {
        if self.kept.len() >= MAX_KEPT {
            return false;
        }
        let mut buf = [0u8; 10];
        let n = name(self.next, &mut buf);
        if std::fs::rename(dir, self.pool.join(n)).is_err() {
            return false;
        }
        self.kept.push(self.next);
        self.next = self.next.wrapping_add(1);
        true
    }

    /// Move a kept directory to `to` in `parent`; false if there is none.
    pub fn take_into(&mut self, parent: &OwnedFd, to: &CStr) -> bool {
        while let Some(n) = self.kept.pop() {
            let mut buf = [0u8; 10];
            let moved = nix::fcntl::renameat(
                Some(self.fd.as_raw_fd()),
                name(n, &mut buf),
                Some(parent.as_raw_fd()),
                to,
            );
            if moved.is_ok() {
                return true;
            }
        }
        false
    }

    /// Remove the pool (at shutdown).
    pub fn remove(&mut self) -> io::Result<()> {
        self.kept.clear();
        std::fs::remove_dir_all(&self.pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_directory_is_taken_again_and_the_pool_goes_at_the_end() {
        let tmp = crate::paths::make_temp_dir(&std::env::temp_dir(), "spare-").unwrap();
        let mut s = SpareDirs::open(&tmp).unwrap();
        let parent: OwnedFd = std::fs::File::open(&tmp).unwrap().into();
        let to = c"d";
        assert!(!s.take_into(&parent, to), "nothing kept yet");
        std::fs::create_dir(tmp.join("old")).unwrap();
        assert!(s.keep(&tmp.join("old")));
        assert!(!tmp.join("old").exists());
        assert!(s.take_into(&parent, to));
        assert!(tmp.join("d").is_dir());
        assert!(!s.take_into(&parent, to), "one kept, one taken");
        s.remove().unwrap();
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert_eq!(left.len(), 1, "only d is left");
        let mut buf = [0u8; 10];
        assert_eq!(name(0, &mut buf), "0");
        assert_eq!(name(u32::MAX, &mut buf), "4294967295");

        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
