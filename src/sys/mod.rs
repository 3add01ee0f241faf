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
#[cfg(test)]
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

/// The time now as strftime's `fmt` makes it, local time or UTC.
pub(crate) fn strftime_now(fmt: &CStr, utc: bool) -> String {
    // SAFETY: libc::tm is plain data; all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let mut buf = [0u8; 32];
    // SAFETY: plain libc calls on stack buffers of adequate size. `now`'s
    // type is inferred: naming libc::time_t warns on musl targets.
    let n = unsafe {
        let now = libc::time(std::ptr::null_mut());
        if utc {
            libc::gmtime_r(&now, &mut tm);
        } else {
            libc::localtime_r(&now, &mut tm);
        }
        libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            fmt.as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
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
