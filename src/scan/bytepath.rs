//! Paths as bytes, spelled the way gcc spells them while it searches (a
//! path need not be UTF-8, and `a/../b` is left for the filesystem to
//! decide).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(super) fn path_of(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// `p` made absolute against `cwd` (bytes, as gcc would reach it).
pub(super) fn abs_in(cwd: &[u8], p: &[u8]) -> Vec<u8> {
    if p.first() == Some(&b'/') {
        return p.to_vec();
    }
    let mut v = cwd.to_vec();
    if !v.ends_with(b"/") {
        v.push(b'/');
    }
    v.extend_from_slice(p);
    v
}

/// Drop `.` components and doubled slashes (they never change what a path
/// names once it was found); keep `..` (which may cross a symlink).
pub(super) fn normalize(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for c in p.split(|&b| b == b'/') {
        if c.is_empty() || c == b"." {
            continue;
        }
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// gcc's `append_file_to_dir`.
pub(super) fn append(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = dir.to_vec();
    if !v.is_empty() && !v.ends_with(b"/") {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}

/// gcc's `dir_name_of_file`: up to and including the last slash.
pub(super) fn dir_name(p: &[u8]) -> Vec<u8> {
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => p[..=i].to_vec(),
        None => Vec::new(),
    }
}

/// `path` starts with `dir`'s components (whatever follows).
pub(super) fn under_textually(path: &[u8], dir: &[u8]) -> bool {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/'
}

/// `path` names something inside `dir` without leaving it through `..`.
pub(super) fn under(path: &[u8], dir: &[u8]) -> bool {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    path.len() > dir.len()
        && path.starts_with(dir)
        && path[dir.len()] == b'/'
        && !path[dir.len()..].split(|&c| c == b'/').any(|c| c == b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers() {
        assert_eq!(normalize(b"/a/./b//c/../d"), b"/a/b/c/../d");
        assert_eq!(append(b"", b"x.h"), b"x.h");
        assert_eq!(append(b"src/", b"x.h"), b"src/x.h");
        assert_eq!(append(b"inc", b"x.h"), b"inc/x.h");
        assert_eq!(dir_name(b"src/a.c"), b"src/");
        assert_eq!(dir_name(b"a.c"), b"");
        assert!(under(b"/usr/include/stdio.h", b"/usr/include"));
        assert!(!under(b"/usr/include/../x.h", b"/usr/include"));
        assert!(!under(b"/usr/includex/a.h", b"/usr/include"));
        assert_eq!(abs_in(b"/c", b"x/y.h"), b"/c/x/y.h");
    }
}
