//! The include server's "client root": a tree that names every file a
//! translation unit needs, in the form stock distcc's pump client reads
//! (doc/distcc-protocol.md, "Pump mode: the client root"). A path
//! `<root>/<original path>.lzo` holds the file's LZO-compressed text; a
//! symlink in the tree is sent as a LINK; an empty
//! `forcing_technique_271828` file makes a directory exist on the server.
//! The root always has exactly three components, because the
//! client strips three to get the original path back.
//!
//! Compressed copies are made once per (file, size, mtime) and reused for
//! every later request of the include server's life.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::fxhash::FxMap;

/// distcc's name for the empty file that forces a directory into existence.
pub const FORCING_FILE: &str = "forcing_technique_271828";
/// Beside each `.lzo` copy: its text's size and SHA-256, as an FDIG body
/// (doc/header-store.md). Never listed, so stock clients never see it.
pub const DIGEST_SUFFIX: &str = ".dig";
/// Components of the server's job root that system-dir links must climb.
const MAX_SERVER_ROOT_DEPTH: usize = 20;

pub struct Mirror {
    root: PathBuf,
    /// realpath → (size, mtime) of the compressed copy made for it.
    made: FxMap<PathBuf, (u64, i64)>,
    /// Every symlink in the root (only the mirror writes there).
    links: FxMap<PathBuf, ()>,
    /// This query's lookups, forgotten by `new_query` (the tree may
    /// change between queries): what `lstat` said of a client path, and
    /// the real paths of directories. A kernel file's 900 headers share a
    /// few dozen directories.
    kinds: FxMap<PathBuf, Kind>,
    real_dirs: FxMap<PathBuf, PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    Symlink,
    Other,
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
            links: FxMap::default(),
            kinds: FxMap::default(),
            real_dirs: FxMap::default(),
        })
    }

    #[cfg(test)]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Start answering a new query: forget what the last one looked up.
    pub fn new_query(&mut self) {
        self.kinds.clear();
        self.real_dirs.clear();
    }

    fn kind(&mut self, p: &Path) -> Kind {
        if let Some(&k) = self.kinds.get(p) {
            return k;
        }
        let k = match std::fs::symlink_metadata(p) {
            Err(_) => Kind::Missing,
            Ok(m) if m.file_type().is_symlink() => Kind::Symlink,
            Ok(_) => Kind::Other,
        };
        self.kinds.insert(p.to_path_buf(), k);
        k
    }

    /// What `std::fs::canonicalize(p)` says, from this query's lookups
    /// where they answer it: the real dir plus the name, unless `p` itself
    /// is a link.
    pub fn real_path(&mut self, p: &Path) -> io::Result<PathBuf> {
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
            return std::fs::canonicalize(p);
        };
        match self.kind(p) {
            Kind::Missing => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: not found", p.display()),
                ))
            }
            Kind::Symlink => return std::fs::canonicalize(p),
            Kind::Other => {}
        }
        if let Some(r) = self.real_dirs.get(dir) {
            return Ok(r.join(name));
        }
        let r = std::fs::canonicalize(dir)?;
        self.real_dirs.insert(dir.to_path_buf(), r.clone());
        Ok(r.join(name))
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
        if !self.links.contains_key(&at) {
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
            self.links.insert(at.clone(), ());
        }
        Ok(at)
    }

    /// True if a proper ancestor of `at` (inside the root) is a symlink:
    /// one of the mirror's own links, the only ones in the root.
    fn through_link(&self, at: &Path) -> bool {
        let mut p = at.parent();
        while let Some(d) = p {
            if d == self.root || !d.starts_with(&self.root) {
                return false;
            }
            if self.links.contains_key(d) {
                return true;
            }
            p = d.parent();
        }
        false
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
        let comps: Vec<_> = path.components().collect();
        for (i, c) in comps.iter().enumerate() {
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
            let _last = i + 1 == comps.len();
            if self.kind(&cur) == Kind::Symlink {
                let real = std::fs::canonicalize(&cur)?;
                out.push(self.link(&cur, &real)?);
                cur = real;
            }
        }
        Ok(out)
    }

    /// The compressed copy of a file, at `<root><realpath>.lzo`, made or
    /// refreshed if the file changed since.
    pub fn file(&mut self, path: &Path) -> io::Result<PathBuf> {
        let real = self.real_path(path)?;
        let meta = std::fs::metadata(&real)?;
        let stamp = (
            meta.size(),
            meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        );
        let at = with_suffix(&under(&self.root, &real), ".lzo");
        if self.through_link(&at) {
            return Err(io::Error::other(format!(
                "{} lies behind a link in the client root",
                real.display()
            )));
        }
        if self.made.get(&real) != Some(&stamp) || !at.exists() {
            let text = std::fs::read(&real)?;
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent)?;
            }
            // Write beside and rename: a client reading the old copy never
            // sees half a file.
            let tmp = with_suffix(&at, ".tmp");
            // The size and digest for tinydcc's header store (FDIG), made
            // here so a header is hashed once per build, not per job.
            let dig = crate::protocol::store_form::fdig_body(
                text.len() as u64,
                &crate::store::Digest::of(&text).0,
            );
            std::fs::write(&tmp, dig)?;
            std::fs::rename(&tmp, with_suffix(&at, DIGEST_SUFFIX))?;
            std::fs::write(&tmp, crate::protocol::lzo::compress(&text))?;
            std::fs::rename(&tmp, &at)?;
            self.made.insert(real, stamp);
        }
        Ok(at)
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
        if !at.exists() {
            std::fs::create_dir_all(at.parent().unwrap_or(&self.root))?;
            std::fs::write(&at, b"")?;
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
    fn real_path_agrees_with_canonicalize() {
        let mut m = Mirror::new().unwrap();
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "mirror-").unwrap();
        std::fs::create_dir_all(d.join("real/sub")).unwrap();
        std::fs::write(d.join("real/a.h"), "").unwrap();
        std::fs::write(d.join("real/sub/b.h"), "").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("alias")).unwrap();
        std::os::unix::fs::symlink("sub/b.h", d.join("real/c.h")).unwrap();
        for p in [
            "real/a.h",
            "alias/a.h",
            "alias/sub/b.h",
            "real/c.h",
            "alias/c.h",
            "alias/sub/../a.h",
            "real/sub/../../alias/c.h",
        ] {
            let p = d.join(p);
            assert_eq!(
                m.real_path(&p).unwrap(),
                std::fs::canonicalize(&p).unwrap(),
                "{}",
                p.display()
            );
        }
        assert!(m.real_path(&d.join("real/missing.h")).is_err());
        // A file that appears later is seen by the next query.
        std::fs::write(d.join("real/missing.h"), "").unwrap();
        assert!(m.real_path(&d.join("real/missing.h")).is_err());
        m.new_query();
        assert!(m.real_path(&d.join("real/missing.h")).is_ok());
        std::fs::remove_dir_all(m.top()).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn root_has_three_components_and_files_are_compressed() {
        let mut m = Mirror::new().unwrap();
        assert_eq!(m.root().components().count(), 4, "{}", m.root().display());
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "mirror-").unwrap();
        std::fs::create_dir(d.join("real")).unwrap();
        std::fs::write(d.join("real/a.h"), "int a;\n").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("alias")).unwrap();
        let f = m.file(&d.join("alias/a.h")).unwrap();
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
        let f = m.file(&d.join("real/a.h")).unwrap();
        let text = crate::protocol::lzo::decompress(&std::fs::read(&f).unwrap(), 1 << 20).unwrap();
        assert_eq!(text, b"int a, b;\n");
        // Its digest is refreshed with it.
        let dig = std::fs::read(with_suffix(&f, DIGEST_SUFFIX)).unwrap();
        let want = crate::store::Digest::of(b"int a, b;\n").0;
        assert_eq!(
            crate::protocol::store_form::parse_fdig(&dig),
            Some((10, want))
        );
        let sys = m.system_link(Path::new("/usr/include")).unwrap();
        assert_eq!(
            std::fs::read_link(&sys).unwrap().to_string_lossy(),
            format!("{}usr/include", "../".repeat(22))
        );
        std::fs::remove_dir_all(m.top()).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
