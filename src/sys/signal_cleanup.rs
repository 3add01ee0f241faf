//! Temp files beside the outputs (the object and .d being written) must not
//! outlive a ^C or a `make` that is killed: distcc removes its temp files on
//! SIGINT/SIGTERM/SIGHUP and re-raises the signal, and so do we. The
//! handler only calls unlink(2), signal(2) and raise(2), all
//! async-signal-safe, on paths registered beforehand.

use std::ffi::CString;
use std::path::Path;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::Once;

/// The object and .d being written, and a local copy's two temps.
const SLOTS: usize = 6;
static PATHS: [AtomicPtr<libc::c_char>; SLOTS] = [const { AtomicPtr::new(null_mut()) }; SLOTS];
static INSTALL: Once = Once::new();
/// The running preprocessor (it would write the .d), or a straggler's
/// local copy (a process group: its pid negated), which dies with us.
static CHILD: AtomicI32 = AtomicI32::new(0);
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(sig: libc::c_int) {
    let child = CHILD.load(Ordering::SeqCst);
    if child != 0 {
        // SAFETY: kill(2) is async-signal-safe; the pid is our own child.
        unsafe { libc::kill(child, libc::SIGTERM) };
    }
    for slot in &PATHS {
        let p = slot.load(Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: p is a NUL-terminated string leaked by `register`.
            unsafe { libc::unlink(p) };
        }
    }
    // SAFETY: restoring the default action and re-raising is the standard
    // way to die "of" the signal, so make sees the right status.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

fn install() {
    INSTALL.call_once(|| {
        for s in SIGNALS {
            // SAFETY: on_signal is an extern "C" fn doing only
            // async-signal-safe work.
            unsafe { libc::signal(s, on_signal as *const () as libc::sighandler_t) };
        }
    });
}

/// `pid` (our preprocessor; negated, a child's process group) is to be
/// stopped if we are; 0 clears it.
pub fn set_child(pid: i32) {
    install();
    CHILD.store(pid, Ordering::SeqCst);
}

/// A registered temp file; unregistered (not removed) on drop.
pub struct Guard(Option<usize>);

/// Remove `path` if a terminating signal arrives before the guard drops.
pub fn register(path: &Path) -> Guard {
    use std::os::unix::ffi::OsStrExt;
    install();
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return Guard(None);
    };
    let raw = c.into_raw();
    for (i, slot) in PATHS.iter().enumerate() {
        if slot
            .compare_exchange(null_mut(), raw, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Guard(Some(i));
        }
    }
    // SAFETY: raw came from into_raw above and was not stored.
    drop(unsafe { CString::from_raw(raw) });
    Guard(None)
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            let p = PATHS[i].swap(null_mut(), Ordering::SeqCst);
            if !p.is_null() {
                // SAFETY: p was leaked by `register` and is no longer shared.
                drop(unsafe { CString::from_raw(p) });
            }
        }
    }
}
