//! The static armv7 binary and the x86 cross toolchain for the qemu-arm
//! tests. tests/run builds the binary once with cross/build-armv7.sh and
//! exports its path as TINYDCC_ARM_BIN; a test that cannot find it fails.
//! binfmt_misc is not assumed: the binary always runs as
//! `qemu-arm-static <binary> ...`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{private_client_env, require, TempDir};

/// Debian's cross compiler: the compiler a Banana Pi's jobs need on x86.
pub const CROSS_GCC: &str = "arm-linux-gnueabihf-gcc";

/// The armv7 tinydcc named by TINYDCC_ARM_BIN, checked to be a 32-bit ARM ELF.
pub fn arm_bin() -> PathBuf {
    let hint = "run tests/run (it builds the ARM binary with cross/build-armv7.sh and exports \
                its path), or: export TINYDCC_ARM_BIN=$(cross/build-armv7.sh --print-path) \
                after running cross/build-armv7.sh";
    let p = match std::env::var_os("TINYDCC_ARM_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!("TINYDCC_ARM_BIN is not set: {hint}"),
    };
    let head = std::fs::read(&p)
        .unwrap_or_else(|e| panic!("TINYDCC_ARM_BIN={}: {e}: {hint}", p.display()));
    // ELF magic, ELFCLASS32, little-endian, e_machine 40 (EM_ARM).
    let ok = head.len() > 20
        && head[..4] == *b"\x7fELF"
        && head[4] == 1
        && head[5] == 1
        && u16::from_le_bytes([head[18], head[19]]) == 40;
    assert!(
        ok,
        "TINYDCC_ARM_BIN={} is not a 32-bit ARM ELF executable: {hint}",
        p.display()
    );
    p
}

/// qemu-user, which runs the ARM binary and lets it exec x86 programs.
pub fn qemu() -> PathBuf {
    require("qemu-arm-static")
}

/// `qemu-arm-static <arm tinydcc>` as a client in `dir`, private like
/// `client_cmd`.
pub fn arm_client_cmd(dir: &Path, hosts: &str) -> Command {
    let mut c = Command::new(qemu());
    c.arg(arm_bin());
    private_client_env(&mut c, dir, hosts);
    c
}

/// A compiler whitelist directory (`--whitelist-dir`) naming `compilers`,
/// each a link to the real one on PATH: the daemon under test must not
/// depend on the machine's /usr/lib/distcc.
pub fn whitelist(dir: &TempDir, compilers: &[&str]) -> PathBuf {
    let wl = dir.join("whitelist");
    std::fs::create_dir_all(&wl).unwrap();
    std::fs::set_permissions(&wl, std::fs::Permissions::from_mode(0o755)).unwrap();
    for c in compilers {
        let _ = std::os::unix::fs::symlink(require(c), wl.join(c));
    }
    wl
}
