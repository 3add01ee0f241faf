//! How the client was called: `tinydcc gcc -c x.c`, `tinydcc -c x.c`
//! (implicit `cc`), or masquerading as the compiler itself (`gcc -> tinydcc`).
//! Also finds the real compiler on PATH without ever finding ourselves.

use std::path::{Path, PathBuf};

use crate::exitcode::*;

pub enum Invocation {
    Help,
    Version,
    ShowHosts,
    Jobs,
    /// A compiler command; argv[0] is the compiler name as given.
    Compile(Vec<String>),
    Fail(i32, String),
}

/// Interpret the arguments after our own name, when called as
/// `distcc`/`tinydcc`.
pub fn explicit(args: &[String]) -> Invocation {
    let Some(first) = args.first() else {
        return Invocation::Fail(
            EXIT_BAD_ARGUMENTS,
            "no compiler command given; try --help".into(),
        );
    };
    match first.as_str() {
        "--help" => return Invocation::Help,
        "--version" => return Invocation::Version,
        "--show-hosts" => return Invocation::ShowHosts,
        "-j" => return Invocation::Jobs,
        _ => {}
    }
    if first.starts_with('-') || crate::args::is_source(first) || first.ends_with(".o") {
        let mut v = Vec::with_capacity(args.len() + 1);
        v.push("cc".to_string());
        v.extend_from_slice(args);
        return Invocation::Compile(v);
    }
    Invocation::Compile(args.to_vec())
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// The real compiler for `name`: `name` itself if it has a slash, else the
/// first executable on PATH that is not this very program (a masquerade
/// directory such as /usr/lib/distcc/bin is usually first on PATH).
pub fn resolve_compiler(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let me = std::env::current_exe().ok();
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).find_map(|dir| {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        let m = std::fs::metadata(&p).ok()?;
        if !m.is_file() || m.permissions().mode() & 0o111 == 0 {
            return None;
        }
        if me.as_deref().is_some_and(|me| same_file(me, &p)) {
            return None;
        }
        Some(p)
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
