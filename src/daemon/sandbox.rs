//! Landlock confinement of each compiler: it may read and execute the
//! system and toolchain directories and read/write only its own job
//! directory. The argument rules in `harden` stop what argv can ask for;
//! this stops what the *source* can ask for (`.incbin "/home/…"` in inline
//! assembly, `#include` of an absolute path in a `-x c` job, …).
//! The raw syscalls are in `sys::landlock`.

use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd};

use crate::sys::landlock;
use std::path::{Path, PathBuf};

const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
/// Rights that make sense on a file (the rest only apply to directories).
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;

/// The Landlock ABI version the kernel offers, if any.
pub fn abi() -> Option<u32> {
    probe().ok()
}

/// The ABI version, or the errno that says why there is none.
fn probe() -> io::Result<u32> {
    landlock::abi()
}

/// Why there is no Landlock, in words for the start-up log: the ARM build
/// under qemu-user gets ENOSYS even on a Landlock kernel (qemu does not
/// pass these system calls through), a kernel built with Landlock but
/// booted without it in `lsm=` gets EOPNOTSUPP.
pub fn why_unavailable() -> String {
    match probe() {
        Ok(_) => "Landlock is available".into(),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOSYS) => "no Landlock system calls (kernel without Landlock, or an emulator such as qemu-user)".into(),
            Some(libc::EOPNOTSUPP) => {
                "Landlock is built in but disabled (add landlock to the lsm= boot parameter)".into()
            }
            _ => format!("Landlock probe failed: {}", crate::errtext::reason(&e)),
        },
    }
}

/// Every filesystem right this ABI knows.
fn handled(abi: u32) -> u64 {
    let mut m = (1u64 << 13) - 1; // ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2 {
        m |= 1 << 13; // REFER
    }
    if abi >= 3 {
        m |= TRUNCATE;
    }
    if abi >= 5 {
        m |= IOCTL_DEV;
    }
    m
}

/// System places every compiler needs to read (and run programs from).
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/bin",
    "/sbin",
    "/opt",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/proc/self",
    "/dev/urandom",
    "/dev/zero",
];

/// A ruleset built in the daemon for one job, applied in the child.
pub struct Ruleset {
    fd: OwnedFd,
}

fn add_rule(ruleset: &OwnedFd, path: &Path, access: u64) -> io::Result<()> {
    let fd = match crate::sys::open_path(path) {
        Ok(fd) => fd,
        // Places a system does not have are simply not granted.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
    let access = if is_dir { access } else { access & FILE_RIGHTS };
    landlock::add_path_rule(ruleset, &fd, access)
}

/// The directory a compiler's toolchain lives in: `/usr` for
/// `/usr/bin/gcc`, `~/x-tools/arm-…` for a crosstool-ng compiler.
pub fn toolchain_root(compiler: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let p = if compiler.as_bytes().contains(&b'/') {
        PathBuf::from(compiler)
    } else {
        crate::paths::which(compiler)?
    };
    let real = std::fs::canonicalize(p).ok()?;
    real.parent()?.parent().map(Path::to_path_buf)
}

impl Ruleset {
    /// Read/execute on the system and `toolchain`, everything in `job_dir`.
    pub fn for_job(abi: u32, job_dir: &Path, toolchain: Option<&Path>) -> io::Result<Ruleset> {
        let all = handled(abi);
        let fd = landlock::create_ruleset(all)?;
        let read = EXECUTE | READ_FILE | READ_DIR;
        for p in SYSTEM_READ {
            add_rule(&fd, Path::new(p), read)?;
        }
        if let Some(t) = toolchain {
            add_rule(&fd, t, read)?;
        }
        let rw_file = READ_FILE | WRITE_FILE | (all & (TRUNCATE | IOCTL_DEV));
        add_rule(&fd, Path::new("/dev/null"), rw_file)?;
        add_rule(&fd, job_dir, all)?;
        Ok(Ruleset { fd })
    }

    /// Make `cmd`'s child confine itself with this ruleset before exec;
    /// `self` must outlive the spawn.
    pub fn apply_to_child(&self, cmd: &mut std::process::Command) {
        landlock::restrict_child(cmd, self.fd.as_raw_fd());
    }
}
