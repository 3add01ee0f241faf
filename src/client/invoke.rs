//! How the client was called: `tinydcc gcc -c x.c`, `tinydcc -c x.c`
//! (implicit `cc`), or masquerading as the compiler itself (`gcc -> tinydcc`
//! early on PATH). Also finds the real compiler without ever finding a
//! distcc client (ourselves or a stock masquerade link), and applies
//! distcc's compiler-name rewriting for the server (`cc` → `gcc`, `gcc` →
//! `<triplet>-gcc`: `rewrite_for_server`), so the server runs the same
//! compiler for this machine's target, as it would for a stock client.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::exitcode::*;

pub enum Invocation {
    Help,
    Version,
    ShowHosts,
    Jobs,
    Check(Vec<String>),
    /// `--scan-includes COMMAND...`: list what pump mode would send.
    ScanIncludes(Vec<OsString>),
    /// A compiler command; argv[0] is the compiler name as given.
    Compile(Vec<OsString>),
    Fail(i32, String),
}

/// Interpret the arguments after our own name, when called as
/// `distcc`/`tinydcc`.
pub fn explicit(args: &[OsString]) -> Invocation {
    let Some(first) = args.first() else {
        return Invocation::Fail(
            EXIT_BAD_ARGUMENTS,
            "missing option/operand; try --help".into(),
        );
    };
    match first.to_str() {
        Some("--help") => return Invocation::Help,
        Some("--version") => return Invocation::Version,
        Some("--show-hosts") => return Invocation::ShowHosts,
        Some("-j") => return Invocation::Jobs,
        Some("--check") => {
            // Its options are words of our own, never file names.
            let rest = args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            return Invocation::Check(rest);
        }
        Some("--scan-includes") => return Invocation::ScanIncludes(args[1..].to_vec()),
        _ => {}
    }
    // distcc's dcc_find_compiler: an option, a source or an object first
    // means the compiler was left out and is `cc`.
    let b = first.as_bytes();
    if b.starts_with(b"-") || crate::args::is_source(first) || b.ends_with(b".o") {
        let mut v = Vec::with_capacity(args.len() + 1);
        v.push("cc".into());
        v.extend_from_slice(args);
        return Invocation::Compile(v);
    }
    Invocation::Compile(args.to_vec())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Masquerading as `name` (argv[0] as called): cut PATH after the directory
/// we were found in, so the real compiler is found further down and a
/// child never finds us again. Returns true if PATH was trimmed (distcc's
/// `dcc_support_masquerade`).
pub fn trim_path_for_masquerade(argv0: &OsStr) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    let a = argv0.as_bytes();
    let base = crate::args::basename(a);
    let found = if a.contains(&b'/') {
        let mut dir = &a[..a.len() - base.len()];
        while let [rest @ .., b'/'] = dir {
            dir = rest;
        }
        let dir = if dir.is_empty() { b"/" } else { dir };
        dirs.iter().position(|d| d.as_os_str().as_bytes() == dir)
    } else {
        let base = OsStr::from_bytes(base);
        dirs.iter().position(|d| is_executable(&d.join(base)))
    };
    let Some(i) = found else {
        return false;
    };
    let rest = std::env::join_paths(&dirs[i + 1..]).unwrap_or_else(|_| OsString::new());
    log::trace!(
        "masquerading as {}: PATH trimmed after {}",
        String::from_utf8_lossy(base),
        dirs[i].display()
    );
    std::env::set_var("PATH", rest);
    true
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// A distcc client in compiler's clothing: this very binary, or a link
/// that ends in a program named like distcc (Debian's /usr/lib/distcc/gcc).
fn is_distcc_client(p: &Path, me: Option<&Path>) -> bool {
    if me.is_some_and(|me| same_file(me, p)) {
        return true;
    }
    std::fs::canonicalize(p).is_ok_and(|real| {
        real.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains("distcc") || n.contains("tinydcc"))
    })
}

/// The real compiler for `name`: `name` itself if it has a slash, else the
/// first executable on PATH that is not a distcc client.
pub fn resolve_compiler(name: &OsStr) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(name));
    }
    let me = std::env::current_exe().ok();
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).find_map(|dir| {
        let p = dir.join(name);
        (is_executable(&p) && !is_distcc_client(&p, me.as_deref())).then_some(p)
    })
}

/// Recursion guard shared with distcc (`_DISTCC_SAFEGUARD`): returns the
/// current level and sets the next one for our children.
pub fn bump_safeguard() -> u32 {
    let level = std::env::var("_DISTCC_SAFEGUARD")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    std::env::set_var("_DISTCC_SAFEGUARD", (level + 1).to_string());
    level
}

/// The triplets this build's host may be called (distcc uses its configure
/// GNU_HOST minus "-pc"; Debian and Void name their cross tools differently,
/// so try each known spelling and keep the first that is installed).
fn host_triplets() -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        &["x86_64-linux-gnu"]
    } else if cfg!(target_arch = "aarch64") {
        &["aarch64-linux-gnu", "aarch64-linux-musl"]
    } else if cfg!(all(target_arch = "arm", target_env = "musl")) {
        &[
            "armv7l-linux-musleabihf",
            "arm-linux-musleabihf",
            "arm-linux-gnueabihf",
        ]
    } else if cfg!(target_arch = "arm") {
        &[
            "arm-linux-gnueabihf",
            "armv7l-linux-gnueabihf",
            "armv7l-linux-musleabihf",
        ]
    } else {
        &[]
    }
}

/// `cc`/`c++` name whatever /usr/bin/cc points at (through
/// /etc/alternatives); distcc sends that name so the server runs the same
/// kind of compiler.
fn rewrite_generic(name: &OsStr) -> Option<&'static str> {
    let name = name.to_str()?;
    if name != "cc" && name != "c++" {
        return None;
    }
    let p = crate::paths::which(name)?;
    let mut target = std::fs::read_link(&p).ok()?;
    if target.starts_with("/etc/alternatives") {
        target = std::fs::read_link(&target).unwrap_or(target);
    }
    let t = target.file_name()?.to_str()?;
    match (name, t) {
        ("c++", "g++") => Some("g++"),
        ("c++", "clang++") => Some("clang++"),
        ("cc", "gcc") => Some("gcc"),
        ("cc", "clang") => Some("clang"),
        _ => None,
    }
}

/// distcc's compiler rewriting for the server: `cc` → `gcc`, `gcc-12` →
/// `<triplet>-gcc-12` when that exists here (so an x86 server uses its ARM
/// cross compiler for a Banana Pi's job), clang gets `-target <triplet>`.
pub fn rewrite_for_server(argv: &mut Vec<OsString>) {
    let name = argv[0].clone();
    let mut name: OsString = rewrite_generic(&name).map(OsString::from).unwrap_or(name);
    let base = crate::args::basename(name.as_bytes()).to_vec();
    let named = |family: &[&str]| {
        family.iter().any(|g| {
            base == g.as_bytes()
                || base
                    .strip_prefix(g.as_bytes())
                    .is_some_and(|r| r.starts_with(b"-"))
        })
    };
    let is_gcc = named(&["gcc", "g++"]);
    if is_gcc && !name.as_bytes().contains(&b'/') {
        let cross = |t: &str| {
            let mut n = format!("{t}-").into_bytes();
            n.extend_from_slice(&base);
            OsString::from_vec(n)
        };
        if let Some(t) = host_triplets()
            .iter()
            .find(|t| crate::paths::which(&cross(t)).is_some())
        {
            name = cross(t);
        }
    }
    let is_clang = named(&["clang", "clang++"]);
    argv[0] = name;
    if is_clang && !argv.iter().any(|a| a == "-target") {
        if let Some(t) = host_triplets().first() {
            argv.push("-target".into());
            argv.push(t.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn implicit_cc() {
        for a in ["-c x.c", "x.c -c", "x.o -o prog"] {
            match explicit(&v(a)) {
                Invocation::Compile(argv) => assert_eq!(argv[0], "cc", "{a}"),
                _ => panic!("{a}"),
            }
        }
        match explicit(&v("gcc -c x.c")) {
            Invocation::Compile(argv) => assert_eq!(argv, v("gcc -c x.c")),
            _ => panic!(),
        }
    }

    #[test]
    fn clang_gets_a_target_once() {
        let mut a = v("clang -c x.c");
        rewrite_for_server(&mut a);
        if !host_triplets().is_empty() {
            assert_eq!(a[a.len() - 2], "-target");
        }
        let mut b = v("clang -target foo -c x.c");
        rewrite_for_server(&mut b);
        assert_eq!(b, v("clang -target foo -c x.c"));
    }
}
