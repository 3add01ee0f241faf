//! Every `unsafe` block of the crate, each with its SAFETY reason; the
//! rest of the crate is `#![deny(unsafe_code)]`. What `nix` wraps safely
//! is used from `nix` directly; what is left is here: `fork`, taking
//! ownership of a raw fd a syscall returned, the libc time and lock calls
//! without a safe wrapper, Landlock's raw syscalls (`landlock`) and the
//! client's signal handler (`signal_cleanup`).

pub(crate) mod landlock;
pub(crate) mod signal_cleanup;

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::unix::io::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub(crate) use nix::unistd::ForkResult;

/// fork(2). Callers are single-threaded processes (the client, the
/// daemon, the `pump` command, `--check`) or a test child that only calls
/// async-signal-safe code before `exit_now`.
pub(crate) fn fork() -> nix::Result<ForkResult> {
    // SAFETY: see above: no other thread holds a lock the child could need.
    unsafe { nix::unistd::fork() }
}

/// _exit(2): leave a forked child without running the parent's atexit
/// handlers or flushing its buffers.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// Own the fd a successful open-like syscall just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass a fresh fd nothing else owns or will close.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// openat(2) relative to `dir`, as an owned fd.
pub(crate) fn openat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: nix::fcntl::OFlag,
    mode: nix::sys::stat::Mode,
) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::openat(Some(dir.as_raw_fd()), name, flags, mode)?;
    Ok(owned(fd))
}

/// open(2) of `path` with O_PATH (a handle for Landlock rules, not for I/O).
pub(crate) fn open_path(path: &std::path::Path) -> io::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let fd = nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    Ok(owned(fd))
}

/// A file for an fd this process inherited and keeps open for its whole
/// life (`UNCACHED_ERR_FD`); the caller checked that it is open.
pub(crate) fn inherited_file(fd: RawFd) -> File {
    // SAFETY: the fd was handed to us by our parent for this use alone and
    // nothing else in the process closes it.
    unsafe { File::from_raw_fd(fd) }
}

/// The time now as `fmt` makes it, local time or UTC: strftime's `%Y %m
/// %d %b %H %M %S` (all the log stamps use) and plain characters, in the
/// C locale. Not libc's strftime: it links musl's formatter and locale
/// code (about 2 KB of the armv7 binary).
pub(crate) fn strftime_now(fmt: &str, utc: bool) -> String {
    use std::fmt::Write;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: libc::tm is plain data; all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: plain libc calls on a stack value. `now`'s type is
    // inferred: naming libc::time_t warns on musl targets.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        if utc {
            libc::gmtime_r(&now, &mut tm);
        } else {
            libc::localtime_r(&now, &mut tm);
        }
    }
    let mut out = String::with_capacity(24);
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (v, width) = match it.next() {
            Some('Y') => (tm.tm_year + 1900, 4),
            Some('m') => (tm.tm_mon + 1, 2),
            Some('d') => (tm.tm_mday, 2),
            Some('H') => (tm.tm_hour, 2),
            Some('M') => (tm.tm_min, 2),
            Some('S') => (tm.tm_sec, 2),
            Some('b') => {
                out.push_str(MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("?"));
                continue;
            }
            other => {
                out.push('%');
                out.extend(other);
                continue;
            }
        };
        let _ = write!(out, "{v:0width$}");
    }
    out
}

/// nice(2): add `inc` to this process's niceness (inherited by compilers).
pub(crate) fn nice(inc: i32) {
    // SAFETY: nice takes and returns plain integers.
    unsafe { libc::nice(inc) };
}

/// A whole-file POSIX write lock (fcntl F_SETLK), not waiting: Ok(true)
/// when taken, Ok(false) when another process holds it. distcc's lock
/// files use exactly this kind of lock, so both see each other's slots.
pub(crate) fn try_lock_whole_file(file: &File) -> io::Result<bool> {
    // SAFETY: flock is plain data; zeroed is a valid initial value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    // l_start 0, l_len 0: the whole file.
    match nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_SETLK(&fl)) {
        Ok(_) => Ok(true),
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EACCES) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Run `f` when the process exits normally (fuzzing's scratch directory).
#[cfg(feature = "fuzzing")]
pub(crate) fn at_exit(f: extern "C" fn()) {
    // SAFETY: f is a plain extern "C" fn with no captured state.
    unsafe { libc::atexit(f) };
}

/// The 1, 5 and 15 minute load averages (zeros where unknown).
pub(crate) fn load_average() -> [f64; 3] {
    let mut l = [0f64; 3];
    // SAFETY: getloadavg fills at most 3 doubles of the array given.
    unsafe { libc::getloadavg(l.as_mut_ptr(), 3) };
    l
}

/// Does another process hold a POSIX lock on any part of `file` that would
/// stop our whole-file write lock (fcntl F_GETLK: asks without taking)?
pub(crate) fn locked_by_other(file: &File) -> io::Result<bool> {
    // SAFETY: flock is plain data; zeroed is a valid initial value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_GETLK(&mut fl))?;
    Ok(fl.l_type != libc::F_UNLCK as _)
}

#[cfg(test)]
mod tests {
    /// libc's strftime of the time now, as the stamps were made before.
    fn libc_strftime(fmt: &std::ffi::CStr, utc: bool) -> String {
        // SAFETY: as in strftime_now; the buffer is large enough.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            let now = libc::time(std::ptr::null_mut());
            if utc {
                libc::gmtime_r(&now, &mut tm);
            } else {
                libc::localtime_r(&now, &mut tm);
            }
            let mut buf = [0u8; 64];
            let n = libc::strftime(buf.as_mut_ptr() as *mut _, buf.len(), fmt.as_ptr(), &tm);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        }
    }

    #[test]
    fn log_stamps_are_what_libc_strftime_makes() {
        for (fmt, c, utc) in [
            ("%b %d %H:%M:%S", c"%b %d %H:%M:%S", true),
            ("%Y-%m-%d %H:%M:%S", c"%Y-%m-%d %H:%M:%S", false),
        ] {
            // Either side of libc's call: the second may turn between.
            let before = super::strftime_now(fmt, utc);
            let want = libc_strftime(c, utc);
            let after = super::strftime_now(fmt, utc);
            assert!(
                want == before || want == after,
                "{want} vs {before}/{after}"
            );
        }
    }
}
