//! Writing results: an output file appears whole or not at all.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Write `data` to `path` through a temp file in the same directory and a
/// rename, so a crash, a full disk or a signal never leaves a partial file.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "output has no file name"))?;
    let mut last = None;
    for _ in 0..20 {
        // Bytes: the object's name need not be UTF-8.
        let suffix = format!(".tinydcc-{}", crate::paths::random_suffix());
        let tmp = dir.join(OsString::from_vec(
            [b".", name.as_bytes(), suffix.as_bytes()].concat(),
        ));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666) // the umask applies, as for a file the compiler writes
            .open(&tmp);
        let mut f = match f {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let _on_signal = crate::sys::signal_cleanup::register(&tmp);
        let r = f.write_all(data).and_then(|_| f.flush());
        drop(f);
        let r = r.and_then(|_| std::fs::rename(&tmp, path));
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        return r;
    }
    Err(last.unwrap_or_else(|| io::Error::other("no temp name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-test-").unwrap();
        let p = d.join("x.o");
        std::fs::write(&p, b"old old old old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failure_leaves_old_file() {
        let p = Path::new("/nonexistent-dir-tinydcc/x.o");
        assert!(write_atomic(p, b"data").is_err());
    }
}
