//! `DISTCC_SAVE_TEMPS=1`: keep what went over the wire for debugging. The
//! client normally holds the preprocessed text and the object in memory
//! (no temp files on an SD card), so "keeping" means writing them once,
//! on request, to `$TMPDIR/distcc_XXXXXXXX.*`, and saying where.

use std::path::{Path, PathBuf};

pub struct SavedTemps {
    stem: PathBuf,
    kept: Vec<PathBuf>,
}

impl SavedTemps {
    pub fn new(tmpdir: &Path) -> SavedTemps {
        SavedTemps {
            stem: tmpdir.join(format!("distcc_{}", crate::paths::random_suffix())),
            kept: Vec::new(),
        }
    }

    fn save(&mut self, ext: &str, data: &[u8]) {
        // Bytes: $TMPDIR need not be UTF-8.
        let mut p = self.stem.clone().into_os_string();
        p.push(format!(".{ext}"));
        let p = PathBuf::from(p);
        match std::fs::write(&p, data) {
            Ok(()) => self.kept.push(p),
            Err(e) => log::warn!(
                "DISTCC_SAVE_TEMPS: cannot write {}: {}",
                p.display(),
                crate::errtext::reason(&e)
            ),
        }
    }

    /// The preprocessed source, with the extension distcc uses for it.
    pub fn source(&mut self, input: &std::ffi::OsStr, text: &[u8]) {
        self.save(crate::args::preprocessed_ext(input), text);
    }

    /// The argv sent to the server, one argument per line, host first.
    pub fn argv(&mut self, host: &str, argv: &[std::ffi::OsString]) {
        use std::os::unix::ffi::OsStrExt;
        let mut s = format!("# sent to {host}\n").into_bytes();
        for a in argv {
            s.extend_from_slice(a.as_bytes());
            s.push(b'\n');
        }
        self.save("argv", &s);
    }

    pub fn object(&mut self, data: &[u8]) {
        self.save("o", data);
    }

    pub fn stderr(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.save("stderr", data);
        }
    }
}

impl Drop for SavedTemps {
    fn drop(&mut self) {
        if !self.kept.is_empty() {
            let list: Vec<String> = self.kept.iter().map(|p| p.display().to_string()).collect();
            log::warn!("DISTCC_SAVE_TEMPS: kept {}", list.join(" "));
        }
    }
}
