//! Landlock's three syscalls, raw (libc has their numbers, not wrappers;
//! the numbers are the same on every Linux architecture). The policy,
//! which paths get which rights, is `daemon::sandbox`'s.

use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};

const SYS_CREATE_RULESET: libc::c_long = 444;
const SYS_ADD_RULE: libc::c_long = 445;
const SYS_RESTRICT_SELF: libc::c_long = 446;
const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: u32 = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version the kernel offers, or the errno that says why
/// there is none.
pub(crate) fn abi() -> io::Result<u32> {
    // SAFETY: the documented "get ABI version" call: no attr, size 0.
    let v = unsafe {
        libc::syscall(
            SYS_CREATE_RULESET,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if v > 0 {
        Ok(v as u32)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A new ruleset handling the file-system rights `handled`.
pub(crate) fn create_ruleset(handled: u64) -> io::Result<OwnedFd> {
    let attr = RulesetAttr {
        handled_access_fs: handled,
    };
    // SAFETY: attr is a valid ruleset_attr of the size given.
    let fd = unsafe {
        libc::syscall(
            SYS_CREATE_RULESET,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(super::owned(fd as RawFd))
}

/// Grant `access` beneath the file or directory `parent` (an O_PATH fd).
pub(crate) fn add_path_rule(ruleset: &OwnedFd, parent: &OwnedFd, access: u64) -> io::Result<()> {
    let attr = PathBeneath {
        allowed_access: access,
        parent_fd: parent.as_raw_fd(),
    };
    // SAFETY: attr lives across the call; the kernel copies it.
    let r = unsafe {
        libc::syscall(
            SYS_ADD_RULE,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            &attr as *const PathBeneath,
            0u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Apply ruleset `fd` to the calling process: no_new_privs, then
/// landlock_restrict_self. Two syscalls, no allocation: safe to run in a
/// forked child before exec.
fn restrict_self(fd: RawFd) -> io::Result<()> {
    nix::sys::prctl::set_no_new_privs()?;
    // SAFETY: landlock_restrict_self with plain integer args.
    if unsafe { libc::syscall(SYS_RESTRICT_SELF, fd, 0u32) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Make `cmd`'s child confine itself with ruleset `fd` before exec; the
/// ruleset must stay open until the spawn.
pub(crate) fn restrict_child(cmd: &mut std::process::Command, fd: RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only makes the two syscalls of restrict_self in
    // the forked child: async-signal-safe, no allocation, no locks.
    unsafe { cmd.pre_exec(move || restrict_self(fd)) };
}
