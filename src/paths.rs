//! Well-known directories and private temporary names.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// `$DISTCC_DIR`, else `$HOME/.distcc` (distcc's `dcc_get_top_dir`).
pub fn distcc_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DISTCC_DIR") {
        return Some(PathBuf::from(d));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".distcc"))
}

/// `$TMPDIR`, default `/tmp`.
pub fn tmpdir() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/tmp"),
    }
}

/// Eight random lowercase hex/alnum characters for temp names.
pub fn random_suffix() -> String {
    let mut b = [0u8; 6];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: pid and time still make a name O_EXCL can settle.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        b[..4].copy_from_slice(&t.to_le_bytes());
        b[4..].copy_from_slice(&(std::process::id() as u16).to_le_bytes());
    }
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    b.iter()
        .map(|x| ALPHA[*x as usize % ALPHA.len()] as char)
        .collect()
}

/// Create a fresh private (0700) directory `<parent>/<prefix>XXXXXXXX`.
pub fn make_temp_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    for _ in 0..100 {
        let p = parent.join(format!("{prefix}{}", random_suffix()));
        match std::fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no unique temp name",
    ))
}

/// Find an executable called `name` in `path` (a PATH value).
pub fn which_in<S: AsRef<std::ffi::OsStr> + ?Sized>(name: &S, path: &OsString) -> Option<PathBuf> {
    let name = name.as_ref();
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path).find_map(|dir| {
        let p = dir.join(name);
        let m = std::fs::metadata(&p).ok()?;
        (m.is_file() && m.permissions().mode() & 0o111 != 0).then_some(p)
    })
}

pub fn which<S: AsRef<std::ffi::OsStr> + ?Sized>(name: &S) -> Option<PathBuf> {
    which_in(name, &std::env::var_os("PATH").unwrap_or_default())
}
