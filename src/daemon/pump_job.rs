//! The server side of protocol 3 (pump): the client's files are laid out
//! under the job directory R as a mirror of its filesystem (R + path), the
//! compiler runs in R + the client's cwd on the real source, and absolute
//! paths in argv get R in front, as distccd does. Unlike distccd, every
//! name is checked (absolute, no `.`/`..`, never written through a
//! symlink), and the prefix R is mapped away with `-ffile-prefix-map`
//! instead of patching the object, so `__FILE__` and debug info match a
//! local build. Names, link targets and arguments are bytes throughout: a
//! client's file names need not be UTF-8.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::spare_dirs::SpareDirs;
use crate::gcc_options::{self as gcc, flag::CPP_PATH, Kind, Spelling};
use crate::protocol::request::PumpEntry;
use crate::store::{ContentStore, Digest};

/// A name for messages (lossy: never used to reach a file).
fn shown(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The components of an absolute client path, or why it is not acceptable.
fn components(name: &[u8]) -> Result<Vec<&[u8]>, String> {
    let rest = name
        .strip_prefix(b"/")
        .ok_or_else(|| format!("'{}' is not an absolute path", shown(name)))?;
    if name.len() > 4096 || name.contains(&0) {
        return Err(format!("'{}' is not a usable path", shown(name)));
    }
    let parts: Vec<&[u8]> = rest
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    if parts.iter().any(|c| *c == b"." || *c == b"..") {
        return Err(format!("'{}' contains '.' or '..'", shown(name)));
    }
    Ok(parts)
}

fn cstr(s: &[u8]) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("'{}' contains NUL", shown(s)))
}

/// `openat(dir, name)` of a directory, never following a symlink.
fn open_sub(dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    crate::sys::openat(
        dir.as_fd(),
        name,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
}

/// Directory fds `DirWalker` keeps open at most (more are opened again
/// for each file): a kernel unit's headers are in 30 to 40 directories.
/// The daemon's descriptor budget keeps room for them (`fd_budget`).
pub(crate) const MAX_HELD: usize = 48;

/// Open (creating as needed, from `spares` first) directory `p` in
/// `parent`, never following a symlink.
fn open_or_create(
    parent: &OwnedFd,
    p: &[u8],
    spares: Option<&mut SpareDirs>,
) -> Result<OwnedFd, String> {
    let c = cstr(p)?;
    let p = shown(p);
    match open_sub(parent, &c) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let mode = nix::sys::stat::Mode::from_bits_truncate(0o755);
            let made = if spares.is_some_and(|s| s.take_into(parent, &c)) {
                Ok(())
            } else {
                nix::sys::stat::mkdirat(Some(parent.as_raw_fd()), c.as_c_str(), mode)
            };
            match made {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => {
                    return Err(format!(
                        "cannot create '{p}': {}",
                        crate::errtext::reason(&e.into())
                    ))
                }
            }
            open_sub(parent, &c).map_err(|e| {
                format!(
                    "'{p}' is not a plain directory: {}",
                    crate::errtext::reason(&e)
                )
            })
        }
        Err(e) => Err(format!(
            "'{p}' is not a plain directory: {}",
            crate::errtext::reason(&e)
        )),
    }
}

/// The directories below the root, opened (created as needed) one
/// component at a time and never through a symlink: a hostile LINK cannot
/// redirect later writes. Each directory opened stays open (up to
/// `MAX_HELD`), by its path below the root: a unit's headers alternate
/// between a few dozen directories (include/linux, arch/…/asm, …), and
/// reopening the path from the last common one cost more `openat` calls
/// than there were headers.
struct DirWalker<'r> {
    root: &'r OwnedFd,
    spares: Option<&'r mut SpareDirs>,
    /// (path below the root, its fd); a short list searched in order is
    /// smaller code than a map and as fast for a few dozen.
    held: Vec<(Vec<u8>, OwnedFd)>,
    /// The last directory opened when `held` was full.
    spare: Option<OwnedFd>,
}

impl<'r> DirWalker<'r> {
    fn new(root: &'r OwnedFd, spares: Option<&'r mut SpareDirs>) -> Self {
        DirWalker {
            root,
            spares,
            held: Vec::new(),
            spare: None,
        }
    }

    fn find(&self, key: &[u8]) -> Option<usize> {
        self.held.iter().position(|(k, _)| k == key)
    }

    fn open(&mut self, parts: &[&[u8]]) -> Result<&OwnedFd, String> {
        let key = |n: usize| parts[..n].join(b"/".as_slice());
        // The deepest directory of the path already open (the root at
        // worst), and its index in `held`.
        let mut have = parts.len();
        let mut at = None;
        while have > 0 {
            at = self.find(&key(have));
            if at.is_some() {
                break;
            }
            have -= 1;
        }
        // Once `held` is full, the rest of the path is opened unheld.
        let mut unheld: Option<OwnedFd> = None;
        for n in have + 1..=parts.len() {
            let fd = {
                let parent = match (&unheld, at) {
                    (Some(fd), _) => fd,
                    (None, Some(i)) => &self.held[i].1,
                    (None, None) => self.root,
                };
                open_or_create(parent, parts[n - 1], self.spares.as_deref_mut())?
            };
            if unheld.is_none() && self.held.len() < MAX_HELD {
                self.held.push((key(n), fd));
                at = Some(self.held.len() - 1);
            } else {
                unheld = Some(fd);
            }
        }
        Ok(match (unheld, at) {
            (Some(fd), _) => self.spare.insert(fd),
            (None, Some(i)) => &self.held[i].1,
            (None, None) => self.root,
        })
    }
}

/// Create `c` in `dir` holding `data`; false if it exists already (sent
/// twice: the first copy stands).
fn write_new(dir: &OwnedFd, c: &std::ffi::CStr, data: &[u8], name: &str) -> Result<bool, String> {
    use nix::fcntl::OFlag;
    let f = crate::sys::openat(
        dir.as_fd(),
        c,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    );
    let mut f = match f {
        Ok(f) => std::fs::File::from(f),
        Err(err) if err.raw_os_error() == Some(libc::EEXIST) => return Ok(false),
        Err(err) => return Err(format!("cannot create '{name}': {err}")),
    };
    use std::io::Write;
    f.write_all(data)
        .map_err(|e| format!("cannot write '{name}': {}", crate::errtext::reason(&e)))?;
    Ok(true)
}

/// Lay out the client's files under `root`; returns R + cwd, where the
/// compiler will run, and for each entry whether its content is still
/// missing (store form: a digest the header store does not hold, or no
/// store). A content the client sent must match the digest it announced,
/// and goes into the store for the next job.
pub fn materialize(
    root: &Path,
    cwd: &OsStr,
    files: &[PumpEntry],
    mut store: Option<&mut ContentStore>,
    spares: Option<&mut SpareDirs>,
) -> Result<(PathBuf, Vec<bool>), String> {
    let mut missing = vec![false; files.len()];
    let croot = cstr(root.as_os_str().as_bytes())?;
    let rootfd: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(OsStr::from_bytes(croot.as_bytes()))
        .map_err(|e| format!("cannot open job directory: {e}"))?
        .into();
    let cwd_parts = components(cwd.as_bytes())?;
    let mut dirs = DirWalker::new(&rootfd, spares);
    dirs.open(&cwd_parts)?;
    let root_bytes = root.as_os_str().as_bytes();
    for (i, e) in files.iter().enumerate() {
        let name = match e {
            PumpEntry::File { name, .. }
            | PumpEntry::Link { name, .. }
            | PumpEntry::Stored { name, .. } => name.as_bytes(),
        };
        let parts = components(name)?;
        let name = shown(name);
        let Some((last, parent)) = parts.split_last() else {
            return Err(format!("'{name}' names the root"));
        };
        let dir = dirs.open(parent)?;
        let c = cstr(last)?;
        match e {
            PumpEntry::File { data, .. } => {
                write_new(dir, &c, data, &name)?;
            }
            PumpEntry::Stored {
                size,
                digest,
                data: Some(data),
                ..
            } => {
                // The client's word is checked: nobody chooses what another
                // client gets for a digest.
                let d = Digest::of(data);
                if d.0 != *digest || data.len() as u64 != *size {
                    return Err(format!("'{name}' does not match its digest"));
                }
                // A content naming the time is never stored: the result
                // cache can then trust that a linked one does not. A stored
                // one is linked from the store like the others: a link
                // makes no inode, a copy does (slow on ext4 without a
                // journal, `spare_dirs`).
                if let Some(st) = store.as_deref_mut() {
                    if !crate::store::cacheable::mentions_time(data) {
                        st.put_hashed(&d, data);
                        if st.link_into(&d, *size, dir.as_fd(), &c).is_ok() {
                            continue;
                        }
                    }
                }
                write_new(dir, &c, data, &name)?;
            }
            PumpEntry::Stored {
                size,
                digest,
                data: None,
                ..
            } => {
                let linked = match store.as_deref_mut() {
                    Some(st) => st.link_into(&Digest(*digest), *size, dir.as_fd(), &c),
                    None => Err(std::io::ErrorKind::NotFound.into()),
                };
                match linked {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    // Not there (evicted, never sent) or not linkable: ask.
                    Err(_) => missing[i] = true,
                }
            }
            PumpEntry::Link { target, .. } => {
                let target = target.as_bytes();
                if target.is_empty() || target.len() > 4096 || target.contains(&0) {
                    return Err(format!("bad link target for '{name}'"));
                }
                // An absolute target points into the mirror, as with distccd.
                let t = if target.starts_with(b"/") {
                    [root_bytes, target].concat()
                } else {
                    target.to_vec()
                };
                let ct = cstr(&t)?;
                match nix::unistd::symlinkat(ct.as_c_str(), Some(dir.as_raw_fd()), c.as_c_str()) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => {
                        let err = std::io::Error::from(e);
                        return Err(format!("cannot create link '{name}': {err}"));
                    }
                }
            }
        }
    }
    let mut run_dir = root.to_path_buf();
    for p in cwd_parts {
        run_dir.push(OsStr::from_bytes(p));
    }
    Ok((run_dir, missing))
}

/// True if relative `path`, taken from the client directory `cwd`, stays
/// inside the client's filesystem (never climbs above its `/`).
pub fn stays_inside(cwd: &[u8], path: &[u8]) -> bool {
    let parts = |p: &[u8]| {
        p.split(|&b| b == b'/')
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    if path.starts_with(b"/") {
        return !parts(path).iter().any(|c| c == b"..");
    }
    let mut depth = parts(cwd).iter().filter(|c| !c.is_empty()).count() as i64;
    for c in parts(path) {
        match c.as_slice() {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => depth += 1,
        }
    }
    true
}

/// The compiler's argv on the server: absolute search paths and an
/// absolute source moved under `root`; dependency output into the job
/// directory with the target the client would have got; the root mapped
/// out of `__FILE__` and debug info.
pub fn rewrite_argv(
    argv: &[OsString],
    input_index: usize,
    root: &Path,
    deps: &Path,
    target: &OsStr,
) -> Vec<OsString> {
    let r = root.as_os_str().as_bytes();
    let cat = |parts: &[&[u8]]| OsString::from_vec(parts.concat());
    let mut out = Vec::with_capacity(argv.len() + 8);
    let mut i = 0;
    let (mut has_md, mut has_mt) = (false, false);
    while i < argv.len() {
        let a = argv[i].as_bytes();
        let dep = gcc::find(a, |o| {
            matches!(o.kind, Kind::DepsFile | Kind::DepsToFile | Kind::DepsTarget)
        });
        let path = gcc::find(a, |o| o.has(CPP_PATH));
        if i == input_index && a.starts_with(b"/") {
            out.push(cat(&[r, a]));
        } else if let Some(h) = dep.filter(|h| h.kind() == Kind::DepsFile) {
            // ours replaces it
            i += 1 + usize::from(h.takes_next());
            continue;
        } else if let Some(h) = path.filter(|h| h.takes_next()) {
            out.push(cat(&[h.spec.name]));
            if let Some(v) = argv.get(i + 1) {
                let v = v.as_bytes();
                out.push(if v.starts_with(b"/") {
                    cat(&[r, v])
                } else {
                    cat(&[v])
                });
            }
            i += 2;
            continue;
        } else if let Some((h, v)) = path.and_then(|h| match h.spelling {
            Spelling::Joined(v) if !v.is_empty() => Some((h, v)),
            _ => None,
        }) {
            out.push(if v.starts_with(b"/") {
                cat(&[h.spec.name, r, v])
            } else {
                cat(&[a])
            });
        } else {
            match dep.map(|h| (h.kind(), h.spelling)) {
                Some((Kind::DepsToFile, Spelling::Alone)) => has_md = true,
                Some((Kind::DepsTarget, _)) => has_mt = true,
                _ => {}
            }
            out.push(cat(&[a]));
        }
        i += 1;
    }
    if !has_md {
        out.push("-MMD".into());
    }
    if !has_mt {
        out.push("-MT".into());
        out.push(target.to_os_string());
    }
    out.push("-MF".into());
    out.push(deps.as_os_str().to_os_string());
    out.push(cat(&[b"-ffile-prefix-map=", r, b"="]));
    out
}

/// The dependency file and the compiler's messages as the client would
/// have got them locally: the job directory removed from every path
/// (bytes: a path in them need not be UTF-8).
pub fn strip_root(text: &[u8], root: &Path) -> Vec<u8> {
    let r = root.as_os_str().as_bytes();
    if r.is_empty() {
        return text.to_vec();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.windows(r.len()).position(|w| w == r) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + r.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn names_are_checked() {
        assert!(components(b"/usr/include/stdio.h").is_ok());
        for bad in ["relative/x.h", "/a/../b", "/a/./b", "/a/..", "..", ""] {
            assert!(components(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_must_stay_inside() {
        assert!(stays_inside(
            "/home/u/src".as_bytes(),
            "../include".as_bytes()
        ));
        assert!(stays_inside(
            "/home/u/src".as_bytes(),
            "../../../x".as_bytes()
        ));
        assert!(!stays_inside(
            "/home/u/src".as_bytes(),
            "../../../../etc".as_bytes()
        ));
        assert!(!stays_inside("/".as_bytes(), "../etc".as_bytes()));
        assert!(stays_inside("/".as_bytes(), "/usr/include".as_bytes()));
        assert!(!stays_inside("/".as_bytes(), "/usr/../etc".as_bytes()));
    }

    #[test]
    fn argv_rewriting() {
        let root = Path::new("/tmp/tinydccd_abc");
        let a = v("gcc -I/src/inc -Iinc -isystem /opt/x -include /src/cfg.h -MD -MF x.d -c /src/p.c -o p.o");
        let out = rewrite_argv(
            &a,
            11,
            root,
            Path::new("/tmp/tinydccd_abc/deps.d"),
            "p.o".as_ref(),
        );
        assert_eq!(
            out,
            v("gcc -I/tmp/tinydccd_abc/src/inc -Iinc -isystem /tmp/tinydccd_abc/opt/x -include /tmp/tinydccd_abc/src/cfg.h -MD -c /tmp/tinydccd_abc/src/p.c -o p.o -MT p.o -MF /tmp/tinydccd_abc/deps.d -ffile-prefix-map=/tmp/tinydccd_abc=")
        );
        let a = v("gcc -MT foo -c p.c -o p.o");
        let out = rewrite_argv(&a, 4, root, Path::new("/d"), "p.o".as_ref());
        assert_eq!(
            out,
            v("gcc -MT foo -c p.c -o p.o -MMD -MF /d -ffile-prefix-map=/tmp/tinydccd_abc=")
        );
    }

    #[test]
    fn materialize_deep_and_scattered_paths() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "pumpjob-").unwrap();
        let deep: String = (0..40).map(|i| format!("/d{i}")).collect();
        let file = |name: String| PumpEntry::File {
            name: name.into(),
            data: b"x".to_vec(),
        };
        let files = vec![
            file("/src/inc/a.h".into()),
            file(format!("{deep}/deep.h")),
            file("/src/inc/sub/b.h".into()),
            file(format!("{deep}/e/deeper.h")),
            file("/src/c.h".into()),
            file("/usr/x.h".into()),
            file("/src/inc/sub/b2.h".into()),
            // A link first, then a file through it: refused.
            PumpEntry::Link {
                name: "/src/inc/l".into(),
                target: "/usr".into(),
            },
        ];
        materialize(&d, "/src/build".as_ref(), &files, None, None).unwrap();
        for f in [
            "src/inc/a.h".to_string(),
            format!("{deep}/deep.h")[1..].to_string(),
            format!("{deep}/e/deeper.h")[1..].to_string(),
            "src/inc/sub/b.h".into(),
            "src/inc/sub/b2.h".into(),
            "src/c.h".into(),
            "usr/x.h".into(),
        ] {
            assert_eq!(std::fs::read(d.join(&f)).unwrap(), b"x", "{f}");
        }
        assert!(d.join("src/build").is_dir());
        let through = vec![file("/src/inc/l/evil.h".into())];
        let e = materialize(&d, "/src/build".as_ref(), &through, None, None).unwrap_err();
        assert!(e.contains("not a plain directory"), "{e}");
        assert!(!d.join("usr/evil.h").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_finished_jobs_directories_lay_out_the_next_one() {
        use crate::daemon::spare_dirs::SpareDirs;
        use crate::daemon::trash::Trash;
        let tmp = crate::paths::make_temp_dir(&std::env::temp_dir(), "pumpjob-").unwrap();
        let files = vec![
            PumpEntry::File {
                name: "/src/inc/sub/a.h".into(),
                data: b"a".to_vec(),
            },
            PumpEntry::File {
                name: "/usr/b.h".into(),
                data: b"b".to_vec(),
            },
        ];
        let mut trash = Trash::keeping(SpareDirs::open(&tmp));
        let pool = || {
            let pools: Vec<_> = std::fs::read_dir(&tmp)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("_spare"))
                .collect();
            pools
                .first()
                .map_or(0, |p| std::fs::read_dir(p.path()).unwrap().count())
        };
        let job = |n: &str| {
            let j = tmp.join(n);
            std::fs::create_dir(&j).unwrap();
            j
        };
        let job1 = job("job1");
        materialize(&job1, "/src".as_ref(), &files, None, trash.spares()).unwrap();
        trash.add(job1);
        while !trash.is_empty() {
            trash.work(usize::MAX);
        }
        // src, src/inc, src/inc/sub and usr are kept, emptied.
        assert_eq!(pool(), 4);
        let job2 = job("job2");
        materialize(&job2, "/src".as_ref(), &files, None, trash.spares()).unwrap();
        assert_eq!(pool(), 0);
        assert_eq!(std::fs::read(job2.join("src/inc/sub/a.h")).unwrap(), b"a");
        assert_eq!(std::fs::read(job2.join("usr/b.h")).unwrap(), b"b");
        trash.add(job2);
        trash.finish();
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "all gone");
        std::fs::remove_dir(&tmp).unwrap();
    }

    #[test]
    fn materialize_more_directories_than_it_holds_open() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "pumpjob-").unwrap();
        let file = |name: String| PumpEntry::File {
            data: name.clone().into_bytes(),
            name: name.into(),
        };
        // Alternating between a first directory and ever new ones, past
        // the bound, then back to the early ones.
        let mut files = Vec::new();
        for i in 0..MAX_HELD + 40 {
            files.push(file(format!("/inc/d{i}/sub/h{i}.h")));
            files.push(file(format!("/inc/first/a{i}.h")));
        }
        for i in 0..20 {
            files.push(file(format!("/inc/d{i}/sub/again{i}.h")));
        }
        // In the same request: a link, then a file through it, is refused
        // although its parent directory is held open.
        files.push(PumpEntry::Link {
            name: "/inc/first/l".into(),
            target: "/usr".into(),
        });
        files.push(file("/inc/first/l/evil.h".into()));
        let e = materialize(&d, "/inc".as_ref(), &files, None, None).unwrap_err();
        assert!(e.contains("not a plain directory"), "{e}");
        assert!(!d.join("usr/evil.h").exists());
        for f in &files[..files.len() - 2] {
            let PumpEntry::File { name, data } = f else {
                continue;
            };
            let rel = &name.as_bytes()[1..];
            assert_eq!(
                &std::fs::read(d.join(OsStr::from_bytes(rel))).unwrap(),
                data
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn materialize_refuses_escapes() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "pumpjob-").unwrap();
        let files = vec![
            PumpEntry::Link {
                name: "/src/evil".into(),
                target: "../../../../../../tmp".into(),
            },
            PumpEntry::File {
                name: "/src/evil/escaped".into(),
                data: b"x".to_vec(),
            },
        ];
        let e = materialize(&d, "/src".as_ref(), &files, None, None).unwrap_err();
        assert!(e.contains("not a plain directory"), "{e}");
        assert!(!Path::new("/tmp/escaped").exists());
        let ok = vec![
            PumpEntry::File {
                name: "/src/inc/a.h".into(),
                data: b"int a;\n".to_vec(),
            },
            PumpEntry::Link {
                name: "/src/inc/b.h".into(),
                target: "/src/inc/a.h".into(),
            },
        ];
        let d2 = crate::paths::make_temp_dir(&std::env::temp_dir(), "pumpjob-").unwrap();
        let (run, _) = materialize(&d2, "/src/build".as_ref(), &ok, None, None).unwrap();
        assert_eq!(run, d2.join("src/build"));
        assert_eq!(std::fs::read(d2.join("src/inc/b.h")).unwrap(), b"int a;\n");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&d2).unwrap();
    }

    #[test]
    fn stored_entries_link_from_the_store_and_sent_ones_are_checked() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "pumpjob-").unwrap();
        let mut st = ContentStore::open(&d.join("store"), 1 << 20).unwrap();
        let a = b"int a;\n".to_vec();
        let b = b"int b;\n".to_vec();
        let entry = |name: &str, t: &[u8], data: Option<Vec<u8>>| PumpEntry::Stored {
            name: name.into(),
            size: t.len() as u64,
            digest: Digest::of(t).0,
            data,
        };
        // First job: nothing stored, both missing; the sent contents go
        // into the store.
        let job1 = d.join("j1");
        std::fs::create_dir(&job1).unwrap();
        let manifest = [entry("/s/a.h", &a, None), entry("/s/b.h", &b, None)];
        let (_, missing) =
            materialize(&job1, "/s".as_ref(), &manifest, Some(&mut st), None).unwrap();
        assert_eq!(missing, vec![true, true]);
        let sent = [
            entry("/s/a.h", &a, Some(a.clone())),
            entry("/s/b.h", &b, Some(b.clone())),
        ];
        materialize(&job1, "/s".as_ref(), &sent, Some(&mut st), None).unwrap();
        assert_eq!(std::fs::read(job1.join("s/b.h")).unwrap(), b);
        // Second job: both linked from the store, nothing missing.
        let job2 = d.join("j2");
        std::fs::create_dir(&job2).unwrap();
        let (_, missing) =
            materialize(&job2, "/s".as_ref(), &manifest, Some(&mut st), None).unwrap();
        assert_eq!(missing, vec![false, false]);
        assert_eq!(std::fs::read(job2.join("s/a.h")).unwrap(), a);
        // A content that is not what its digest says is refused, and not
        // stored under that digest.
        let job3 = d.join("j3");
        std::fs::create_dir(&job3).unwrap();
        let lie = [PumpEntry::Stored {
            name: "/s/c.h".into(),
            size: 7,
            digest: Digest::of(b"int c;\n").0,
            data: Some(b"int d;\n".to_vec()),
        }];
        let e = materialize(&job3, "/s".as_ref(), &lie, Some(&mut st), None).unwrap_err();
        assert!(e.contains("does not match its digest"), "{e}");
        assert!(!st.has(&Digest::of(b"int c;\n"), 7));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
