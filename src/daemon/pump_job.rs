//! The server side of protocol 3 (pump): the client's files are laid out
//! under the job directory R as a mirror of its filesystem (R + path), the
//! compiler runs in R + the client's cwd on the real source, and absolute
//! paths in argv get R in front, as distccd does. Unlike distccd, every
//! name is checked (absolute, no `.`/`..`, never written through a
//! symlink), and the prefix R is mapped away with `-ffile-prefix-map`
//! instead of patching the object, so `__FILE__` and debug info match a
//! local build.

use std::ffi::CString;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::protocol::request::PumpEntry;

/// Options whose (separate or joined) value is a path searched on the server.
pub const PATH_OPTIONS: &[&str] = &[
    "-I",
    "-iquote",
    "-isystem",
    "-idirafter",
    "-iprefix",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-include",
    "-imacros",
];

/// The components of an absolute client path, or why it is not acceptable.
fn components(name: &str) -> Result<Vec<&str>, String> {
    let rest = name
        .strip_prefix('/')
        .ok_or_else(|| format!("'{name}' is not an absolute path"))?;
    if name.len() > 4096 || name.contains('\0') {
        return Err(format!("'{name}' is not a usable path"));
    }
    let parts: Vec<&str> = rest.split('/').filter(|c| !c.is_empty()).collect();
    if parts.iter().any(|c| *c == "." || *c == "..") {
        return Err(format!("'{name}' contains '.' or '..'"));
    }
    Ok(parts)
}

fn cstr(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("'{s}' contains NUL"))
}

/// Open (creating as needed) the directory `parts` below `root`, never
/// following a symlink: a hostile LINK cannot redirect later writes.
fn open_dir(root: &OwnedFd, parts: &[&str]) -> Result<OwnedFd, String> {
    // SAFETY: dup of a valid fd.
    let mut cur = unsafe { OwnedFd::from_raw_fd(libc::dup(root.as_raw_fd())) };
    for p in parts {
        let c = cstr(p)?;
        // SAFETY: mkdirat/openat on a valid dirfd with a NUL-terminated name.
        unsafe {
            let r = libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o755);
            if r != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
                return Err(format!(
                    "cannot create '{p}': {}",
                    std::io::Error::last_os_error()
                ));
            }
            let fd = libc::openat(
                cur.as_raw_fd(),
                c.as_ptr(),
                libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_RDONLY,
            );
            if fd < 0 {
                return Err(format!(
                    "'{p}' is not a plain directory: {}",
                    std::io::Error::last_os_error()
                ));
            }
            cur = OwnedFd::from_raw_fd(fd);
        }
    }
    Ok(cur)
}

/// Lay out the client's files under `root`; returns R + cwd, where the
/// compiler will run.
pub fn materialize(root: &Path, cwd: &str, files: &[PumpEntry]) -> Result<PathBuf, String> {
    let croot = cstr(&root.to_string_lossy())?;
    // SAFETY: open(2) of our own job directory.
    let fd = unsafe {
        libc::open(
            croot.as_ptr(),
            libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_RDONLY,
        )
    };
    if fd < 0 {
        return Err(format!(
            "cannot open job directory: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh fd we own.
    let rootfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cwd_parts = components(cwd)?;
    open_dir(&rootfd, &cwd_parts)?;
    let root_str = root.to_string_lossy();
    for e in files {
        let (name, is_file) = match e {
            PumpEntry::File { name, .. } => (name, true),
            PumpEntry::Link { name, .. } => (name, false),
        };
        let parts = components(name)?;
        let Some((last, dirs)) = parts.split_last() else {
            return Err(format!("'{name}' names the root"));
        };
        let dir = open_dir(&rootfd, dirs)?;
        let c = cstr(last)?;
        match e {
            PumpEntry::File { data, .. } => {
                // SAFETY: openat with O_NOFOLLOW|O_EXCL on a valid dirfd.
                let f = unsafe {
                    libc::openat(
                        dir.as_raw_fd(),
                        c.as_ptr(),
                        libc::O_WRONLY
                            | libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_NOFOLLOW
                            | libc::O_CLOEXEC,
                        0o644,
                    )
                };
                if f < 0 {
                    let err = std::io::Error::last_os_error();
                    if err.raw_os_error() == Some(libc::EEXIST) {
                        continue; // sent twice: the first copy stands
                    }
                    return Err(format!("cannot create '{name}': {err}"));
                }
                // SAFETY: a fresh fd we own.
                let mut f = unsafe { std::fs::File::from_raw_fd(f) };
                use std::io::Write;
                f.write_all(data)
                    .map_err(|e| format!("cannot write '{name}': {e}"))?;
            }
            PumpEntry::Link { target, .. } => {
                if target.is_empty() || target.len() > 4096 || target.contains('\0') {
                    return Err(format!("bad link target for '{name}'"));
                }
                // An absolute target points into the mirror, as with distccd.
                let t = if target.starts_with('/') {
                    format!("{root_str}{target}")
                } else {
                    target.clone()
                };
                let ct = cstr(&t)?;
                // SAFETY: symlinkat on a valid dirfd with NUL-terminated strings.
                let r = unsafe { libc::symlinkat(ct.as_ptr(), dir.as_raw_fd(), c.as_ptr()) };
                if r != 0 {
                    let err = std::io::Error::last_os_error();
                    if err.raw_os_error() != Some(libc::EEXIST) {
                        return Err(format!("cannot create link '{name}': {err}"));
                    }
                }
            }
        }
        let _ = is_file;
    }
    let mut run_dir = root.to_path_buf();
    for p in cwd_parts {
        run_dir.push(p);
    }
    Ok(run_dir)
}

/// True if relative `path`, taken from the client directory `cwd`, stays
/// inside the client's filesystem (never climbs above its `/`).
pub fn stays_inside(cwd: &str, path: &str) -> bool {
    if path.starts_with('/') {
        return !path.split('/').any(|c| c == "..");
    }
    let mut depth = cwd.split('/').filter(|c| !c.is_empty()).count() as i64;
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
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
    argv: &[String],
    input_index: usize,
    root: &Path,
    deps: &Path,
    target: &str,
) -> Vec<String> {
    let r = root.to_string_lossy();
    let mut out = Vec::with_capacity(argv.len() + 8);
    let mut i = 0;
    let (mut has_md, mut has_mt) = (false, false);
    while i < argv.len() {
        let a = &argv[i];
        if i == input_index && a.starts_with('/') {
            out.push(format!("{r}{a}"));
        } else if a == "-MF" {
            i += 2; // ours replaces it
            continue;
        } else if a.starts_with("-MF") {
            i += 1;
            continue;
        } else if let Some(opt) = PATH_OPTIONS.iter().find(|o| a == *o) {
            out.push(opt.to_string());
            if let Some(v) = argv.get(i + 1) {
                out.push(if v.starts_with('/') {
                    format!("{r}{v}")
                } else {
                    v.clone()
                });
            }
            i += 2;
            continue;
        } else if let Some(opt) = PATH_OPTIONS
            .iter()
            .filter(|o| a.starts_with(*o) && a.len() > o.len())
            .max_by_key(|o| o.len())
        {
            let v = &a[opt.len()..];
            out.push(if v.starts_with('/') {
                format!("{opt}{r}{v}")
            } else {
                a.clone()
            });
        } else {
            has_md |= a == "-MD" || a == "-MMD";
            has_mt |= a.starts_with("-MT") || a.starts_with("-MQ");
            out.push(a.clone());
        }
        i += 1;
    }
    if !has_md {
        out.push("-MMD".into());
    }
    if !has_mt {
        out.push("-MT".into());
        out.push(target.to_string());
    }
    out.push("-MF".into());
    out.push(deps.to_string_lossy().into_owned());
    out.push(format!("-ffile-prefix-map={r}="));
    out
}

/// The dependency file and the compiler's messages as the client would
/// have got them locally: the job directory removed from every path.
pub fn strip_root(text: &[u8], root: &Path) -> Vec<u8> {
    let r = root.to_string_lossy();
    String::from_utf8_lossy(text)
        .replace(r.as_ref(), "")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn names_are_checked() {
        assert!(components("/usr/include/stdio.h").is_ok());
        for bad in ["relative/x.h", "/a/../b", "/a/./b", "/a/..", "..", ""] {
            assert!(components(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_must_stay_inside() {
        assert!(stays_inside("/home/u/src", "../include"));
        assert!(stays_inside("/home/u/src", "../../../x"));
        assert!(!stays_inside("/home/u/src", "../../../../etc"));
        assert!(!stays_inside("/", "../etc"));
        assert!(stays_inside("/", "/usr/include"));
        assert!(!stays_inside("/", "/usr/../etc"));
    }

    #[test]
    fn argv_rewriting() {
        let root = Path::new("/tmp/tinydccd_abc");
        let a = v("gcc -I/src/inc -Iinc -isystem /opt/x -include /src/cfg.h -MD -MF x.d -c /src/p.c -o p.o");
        let out = rewrite_argv(&a, 11, root, Path::new("/tmp/tinydccd_abc/deps.d"), "p.o");
        assert_eq!(
            out,
            v("gcc -I/tmp/tinydccd_abc/src/inc -Iinc -isystem /tmp/tinydccd_abc/opt/x -include /tmp/tinydccd_abc/src/cfg.h -MD -c /tmp/tinydccd_abc/src/p.c -o p.o -MT p.o -MF /tmp/tinydccd_abc/deps.d -ffile-prefix-map=/tmp/tinydccd_abc=")
        );
        let a = v("gcc -MT foo -c p.c -o p.o");
        let out = rewrite_argv(&a, 4, root, Path::new("/d"), "p.o");
        assert_eq!(
            out,
            v("gcc -MT foo -c p.c -o p.o -MMD -MF /d -ffile-prefix-map=/tmp/tinydccd_abc=")
        );
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
        let e = materialize(&d, "/src", &files).unwrap_err();
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
        let run = materialize(&d2, "/src/build", &ok).unwrap();
        assert_eq!(run, d2.join("src/build"));
        assert_eq!(std::fs::read(d2.join("src/inc/b.h")).unwrap(), b"int a;\n");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&d2).unwrap();
    }
}
