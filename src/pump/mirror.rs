//! The include server's "client root": a tree that names every file a
//! translation unit needs, in the form stock distcc's pump client reads
//! (doc/distcc-protocol.md, "Pump mode: the client root"). A path
//! `<root>/<original path>.lzo` holds the file's LZO-compressed text; a
//! symlink in the tree is sent as a LINK; an empty
//! `forcing_technique_271828` file makes a directory exist on the server.
//! The root always has exactly three components, because the
//! client strips three to get the original path back.
//!
//! Compressed copies are made once per version of a file (inode, size,
//! mtime, ctime) and reused for every later request of the include
//! server's life. Only the mirror writes in the root: what it made is
//! remembered, not looked up again, unless the root itself has gone.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::fxhash::{FxMap, FxSet};
use crate::protocol::store_form::Fdig;
use crate::scan::Stamp;

/// distcc's name for the empty file that forces a directory into existence.
pub const FORCING_FILE: &str = "forcing_technique_271828";
/// Components of the server's job root that system-dir links must climb.
const MAX_SERVER_ROOT_DEPTH: usize = 20;

pub struct Mirror {
    root: PathBuf,
    /// realpath → the version its compressed copy was made from, and that
    /// text's size and SHA-256 (the header store's FDIG, hashed once per
    /// version of a header, not per job).
    made: FxMap<PathBuf, (Stamp, Fdig)>,
    /// Every symlink in the root (only the mirror writes there).
    links: FxSet<PathBuf>,
    /// Forcing files made.
    forced: FxSet<PathBuf>,
}

/// Where the root lives: `$DISTCC_CLIENT_TMP`, else /dev/shm if writable,
/// else $TMPDIR, padded to three components.
fn make_root() -> io::Result<PathBuf> {
    let parent = std::env::var_os("DISTCC_CLIENT_TMP")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.components().count() <= 3)
        .or_else(|| {
            let shm = Path::new("/dev/shm");
            nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK)
                .ok()
                .map(|_| shm.to_path_buf())
        })
        .unwrap_or_else(crate::paths::tmpdir);
    let mut root = crate::paths::make_temp_dir(
        &parent,
        &format!("tinydcc.include_server-{}-", std::process::id()),
    )?;
    // Components after "/": pad with "padding" dirs up to exactly three.
    while root.components().count() - 1 < 3 {
        root.push("padding");
        std::fs::create_dir(&root)?;
    }
    if root.components().count() - 1 != 3 {
        return Err(io::Error::other(format!(
            "{} is deeper than the three components pump clients strip; set DISTCC_CLIENT_TMP to a short directory",
            root.display()
        )));
    }
    Ok(root)
}

/// `<root>` + an absolute path.
fn under(root: &Path, abs: &Path) -> PathBuf {
    let mut p = root.to_path_buf();
    for c in abs.components() {
        if let Component::Normal(n) = c {
            p.push(n);
        }
    }
    p
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Mirror {
    pub fn new() -> io::Result<Mirror> {
        Ok(Mirror {
            root: make_root()?,
            made: FxMap::default(),
            links: FxSet::default(),
            forced: FxSet::default(),
        })
    }

    #[cfg(test)]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Start answering a new query: forget everything made if the root
    /// has gone (a cleaner of /dev/shm).
    pub fn new_query(&mut self) -> io::Result<()> {
        if !self.root.is_dir() {
            self.made.clear();
            self.links.clear();
            self.forced.clear();
            std::fs::create_dir_all(&self.root)?;
        }
        Ok(())
    }

    /// The top directory to remove at shutdown (the root minus padding).
    pub fn top(&self) -> PathBuf {
        let mut p = self.root.clone();
        while p.file_name().is_some_and(|n| n == "padding") {
            p.pop();
        }
        p
    }

    /// A symlink `<root><name>` → `target` (made once; relinked if changed).
    fn link(&mut self, name: &Path, target: &Path) -> io::Result<PathBuf> {
        let at = under(&self.root, name);
        if !self.links.contains(&at) {
            // Never create anything through a link of ours: it may lead out
            // of the root (system dirs lead to the real ones).
            if self.through_link(&at) {
                return Ok(at);
            }
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir()) {
                return Ok(at); // a real directory already stands there
            }
            match std::fs::read_link(&at) {
                Ok(t) if t == target => {}
                Ok(_) => {
                    std::fs::remove_file(&at)?;
                    std::os::unix::fs::symlink(target, &at)?;
                }
                Err(_) => std::os::unix::fs::symlink(target, &at)?,
            }
            self.links.insert(at.clone());
        }
        Ok(at)
    }

    /// True if a proper ancestor of `at` (inside the root) is a symlink:
    /// one of the mirror's own links, the only ones in the root. Paths in
    /// the root are made by `under`, so bytes compare as components do.
    fn through_link(&self, at: &Path) -> bool {
        let at = at.as_os_str().as_bytes();
        self.links.iter().any(|l| {
            let l = l.as_os_str().as_bytes();
            at.len() > l.len() && at.starts_with(l) && at[l.len()] == b'/'
        })
    }

    /// A system include dir: a link that climbs past any server job root
    /// to the server's own copy of the directory.
    pub fn system_link(&mut self, dir: &Path) -> io::Result<PathBuf> {
        let rel = dir.strip_prefix("/").unwrap_or(dir);
        let depth = rel.components().count();
        let target = Path::new(&"../".repeat(MAX_SERVER_ROOT_DEPTH + depth)).join(rel);
        self.link(dir, &target)
    }

    /// Every symlink among the ancestors of `path` (as the compiler names
    /// it), mirrored with its canonical target, so the server resolves the
    /// same path to the same file.
    pub fn ancestor_links(&mut self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut cur = PathBuf::from("/");
        for c in path.components() {
            match c {
                Component::RootDir => continue,
                Component::Normal(n) => cur.push(n),
                Component::ParentDir => {
                    cur.pop();
                    continue;
                }
                _ => continue,
            }
            // A symlinked file is a link too, to the real file shipped beside.
            // Asked only for names that are not their own real path (and
            // the few directories forced), so no cache of these `lstat`s.
            if std::fs::symlink_metadata(&cur).is_ok_and(|m| m.file_type().is_symlink()) {
                let real = std::fs::canonicalize(&cur)?;
                out.push(self.link(&cur, &real)?);
                cur = real;
            }
        }
        Ok(out)
    }

    /// The compressed copy of the file at its real path `real`, at
    /// `<root><realpath>.lzo`, made or refreshed if the file changed since,
    /// and its text's size and digest. `stamp`: its version as the caller
    /// has just seen it (the scan's `stat`).
    pub fn file(&mut self, real: &Path, stamp: Stamp) -> io::Result<(PathBuf, Fdig)> {
        let at = with_suffix(&under(&self.root, real), ".lzo");
        if self.through_link(&at) {
            return Err(io::Error::other(format!(
                "{} lies behind a link in the client root",
                real.display()
            )));
        }
        if let Some((made, fdig)) = self.made.get(real) {
            if *made == stamp {
                return Ok((at, *fdig));
            }
        }
        let text = std::fs::read(real)?;
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Write beside and rename: a client reading the old copy never
        // sees half a file.
        let tmp = with_suffix(&at, ".tmp");
        std::fs::write(&tmp, crate::protocol::lzo::compress(&text))?;
        std::fs::rename(&tmp, &at)?;
        let fdig = (text.len() as u64, crate::store::Digest::of(&text).0);
        self.made.insert(real.to_path_buf(), (stamp, fdig));
        Ok((at, fdig))
    }

    /// An empty forcing file that makes `dir` exist on the server.
    pub fn forcing_file(&mut self, dir: &Path) -> io::Result<PathBuf> {
        let at = under(&self.root, dir).join(FORCING_FILE);
        if self.through_link(&at) {
            return Err(io::Error::other(format!(
                "{} lies behind a link in the client root",
                dir.display()
            )));
        }
        if !self.forced.contains(&at) {
            std::fs::create_dir_all(at.parent().unwrap_or(&self.root))?;
            std::fs::write(&at, b"")?;
            self.forced.insert(at.clone());
        }
        Ok(at)
    }
}

/// How a pump client turns a listed path back into the NAME it sends:
/// drop the root's three components, then `.abs`, then `.lzo`.
pub fn client_name<S: AsRef<std::ffi::OsStr> + ?Sized>(listed: &S) -> Option<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let mut rest = listed.as_ref().as_bytes();
    for _ in 0..3 {
        rest = rest.strip_prefix(b"/")?;
        let i = rest.iter().position(|&b| b == b'/')?;
        rest = &rest[i..];
    }
    let rest = rest.strip_suffix(b".abs").unwrap_or(rest);
    let rest = rest.strip_suffix(b".lzo").unwrap_or(rest);
    Some(std::ffi::OsStr::from_bytes(rest).to_os_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(
            client_name("/dev/shm/tmpX.include_server-1-1/usr/include/x.h.lzo"),
            Some("/usr/include/x.h".into())
        );
        assert_eq!(
            client_name("/tmp/a/padding/src/p.c.lzo.abs"),
            Some("/src/p.c".into())
        );
        assert_eq!(
            client_name("/tmp/a/padding/usr/include"),
            Some("/usr/include".into())
        );
        assert_eq!(client_name("/x"), None);
    }

    #[test]
    fn root_has_three_components_and_files_are_compressed() {
        let mut m = Mirror::new().unwrap();
        assert_eq!(m.root().components().count(), 4, "{}", m.root().display());
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "mirror-").unwrap();
        std::fs::create_dir(d.join("real")).unwrap();
        std::fs::write(d.join("real/a.h"), "int a;\n").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("alias")).unwrap();
        let real = std::fs::canonicalize(d.join("alias/a.h")).unwrap();
        let (f, _) = m.file(&real, (1, 7, 0, 0)).unwrap();
        let name = client_name(f.to_str().unwrap()).unwrap();
        assert_eq!(
            Path::new(&name),
            std::fs::canonicalize(d.join("real/a.h")).unwrap()
        );
        let text = crate::protocol::lzo::decompress(&std::fs::read(&f).unwrap(), 1 << 20).unwrap();
        assert_eq!(text, b"int a;\n");
        std::os::unix::fs::symlink("a.h", d.join("real/b.h")).unwrap();
        assert_eq!(m.ancestor_links(&d.join("real/b.h")).unwrap().len(), 1);
        let links = m.ancestor_links(&d.join("alias/a.h")).unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(
            std::fs::read_link(&links[0]).unwrap(),
            std::fs::canonicalize(d.join("real")).unwrap()
        );
        // A changed file is compressed again.
        std::fs::write(d.join("real/a.h"), "int a, b;\n").unwrap();
        let (f, fdig) = m.file(&real, (1, 10, 0, 0)).unwrap();
        let text = crate::protocol::lzo::decompress(&std::fs::read(&f).unwrap(), 1 << 20).unwrap();
        assert_eq!(text, b"int a, b;\n");
        // Its digest is refreshed with it.
        assert_eq!(fdig, (10, crate::store::Digest::of(b"int a, b;\n").0));
        let sys = m.system_link(Path::new("/usr/include")).unwrap();
        assert_eq!(
            std::fs::read_link(&sys).unwrap().to_string_lossy(),
            format!("{}usr/include", "../".repeat(22))
        );
        // A root removed behind the mirror's back is made again, whole.
        std::fs::remove_dir_all(m.top()).unwrap();
        m.new_query().unwrap();
        let (f, _) = m.file(&real, (1, 10, 0, 0)).unwrap();
        let text = crate::protocol::lzo::decompress(&std::fs::read(&f).unwrap(), 1 << 20).unwrap();
        assert_eq!(text, b"int a, b;\n");
        assert!(m
            .system_link(Path::new("/usr/include"))
            .unwrap()
            .is_symlink());
        std::fs::remove_dir_all(m.top()).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
