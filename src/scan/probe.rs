//! What one scan asks the filesystem: each path is looked up once per
//! scan (headers are generated during builds, so nothing is kept from one
//! scan to the next), and the lookups are counted for the stats.

use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;

use super::bytepath::{dir_name, path_of};
use super::closure::{give_up, GiveUp, Stamp};
use super::tokens::FxMap;

/// A file's identity and version.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct FileKey {
    pub(super) dev: u64,
    pub(super) ino: u64,
    pub(super) size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileKey {
    fn of(m: &std::fs::Metadata) -> FileKey {
        FileKey {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The version a mirror keeps a copy for: inode, size, mtime, ctime.
    pub(super) fn stamp(&self) -> Stamp {
        let ns = |(s, n): (i64, i64)| s.wrapping_mul(1_000_000_000).wrapping_add(n);
        (self.ino, self.size, ns(self.mtime), ns(self.ctime))
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Probe {
    Missing,
    Dir,
    File { key: FileKey, symlink: bool },
}

/// One scan's view of the filesystem.
#[derive(Default)]
pub(super) struct Fs {
    probes: FxMap<Vec<u8>, Probe>,
    /// Directories known to exist (false) or not (true).
    missing_dirs: FxMap<Vec<u8>, bool>,
    real_dirs: FxMap<Vec<u8>, Option<Vec<u8>>>,
    dir_ids: FxMap<Vec<u8>, Option<(u64, u64)>>,
    /// `stat`s made.
    pub(super) lookups: u64,
}

fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

impl Fs {
    /// Look a path up: gcc's `open` + `fstat`.
    pub(super) fn probe(&mut self, abs: &[u8]) -> Result<Probe, GiveUp> {
        if let Some(p) = self.probes.get(abs) {
            return Ok(*p);
        }
        self.lookups += 1;
        let shown = || String::from_utf8_lossy(abs).into_owned();
        let p = match std::fs::symlink_metadata(path_of(abs)) {
            Err(e) if is_missing(&e) => Probe::Missing,
            Err(e) => return give_up(format!("{}: {e}", shown())),
            Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(path_of(abs)) {
                Err(e) if is_missing(&e) => Probe::Missing,
                Err(e) => return give_up(format!("{}: {e}", shown())),
                Ok(m) if m.is_dir() => Probe::Dir,
                Ok(m) if m.is_file() => Probe::File {
                    key: FileKey::of(&m),
                    symlink: true,
                },
                Ok(_) => return give_up(format!("{}: not a regular file", shown())),
            },
            Ok(m) if m.is_dir() => Probe::Dir,
            Ok(m) if m.is_file() => Probe::File {
                key: FileKey::of(&m),
                symlink: false,
            },
            // gcc would open a FIFO or a device and read it: nothing the
            // scanner can read ahead or ship.
            Ok(_) => return give_up(format!("{}: not a regular file", shown())),
        };
        self.probes.insert(abs.to_vec(), p);
        Ok(p)
    }

    /// The real path of a directory.
    fn real_dir(&mut self, dir: &[u8]) -> Option<Vec<u8>> {
        if let Some(r) = self.real_dirs.get(dir) {
            return r.clone();
        }
        let r = std::fs::canonicalize(path_of(dir))
            .ok()
            .map(|p| p.into_os_string().into_vec());
        self.real_dirs.insert(dir.to_vec(), r.clone());
        r
    }

    /// The real path of a file; `symlink`: the file itself is a link.
    pub(super) fn real_path(&mut self, abs: &[u8], symlink: bool) -> Option<Vec<u8>> {
        if symlink {
            return std::fs::canonicalize(path_of(abs))
                .ok()
                .map(|p| p.into_os_string().into_vec());
        }
        let d = dir_name(abs);
        let mut r = self.real_dir(&d)?;
        r.push(b'/');
        r.extend_from_slice(&abs[d.len()..]);
        Some(r)
    }

    /// (dev, ino) of a directory.
    pub(super) fn dir_id(&mut self, dir: &[u8]) -> Option<(u64, u64)> {
        if let Some(&d) = self.dir_ids.get(dir) {
            return d;
        }
        self.lookups += 1;
        let d = std::fs::metadata(path_of(dir))
            .ok()
            .map(|m| (m.dev(), m.ino()));
        self.dir_ids.insert(dir.to_vec(), d);
        d
    }

    /// The directory holding `abs` is known not to exist.
    pub(super) fn parent_missing(&mut self, abs: &[u8]) -> bool {
        let Some(slash) = abs.iter().rposition(|&c| c == b'/') else {
            return false;
        };
        let parent = &abs[..slash];
        if let Some(&m) = self.missing_dirs.get(parent) {
            return m;
        }
        self.lookups += 1;
        let m = match std::fs::metadata(path_of(parent)) {
            Ok(md) => !md.is_dir(),
            Err(e) => is_missing(&e),
        };
        self.missing_dirs.insert(parent.to_vec(), m);
        m
    }
}
