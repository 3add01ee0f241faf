//! What the compiler adds on its own: its default include directories and
//! its predefined macros, read from one run of
//! `CC <flags> -x LANG -E -v -dM /dev/null` per compiler and flag set (and
//! cached by the scanner: a build asks thousands of times).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the compiler searches by default, as it prints the directories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultDirs {
    pub quote: Vec<OsString>,
    pub bracket: Vec<OsString>,
}

#[derive(Debug, Clone)]
pub struct CompilerOutput {
    pub dirs: DefaultDirs,
    /// `#define` lines of every predefined macro.
    pub predefined: Vec<u8>,
}

/// Environment variables that change where the compiler finds its own
/// headers: part of the cache key, and the client's must match the
/// scanner's (the query runs in the scanner's environment).
pub const ENV_AFFECTING: &[&str] = &["GCC_EXEC_PREFIX", "COMPILER_PATH"];

/// Run the compiler once, in the client's cwd (flags may name relative
/// paths). `flags` are the options that can change the default dirs or
/// predefined macros (see `searchpath`).
pub fn query_in(
    compiler: &Path,
    cwd: &Path,
    lang: &str,
    flags: &[OsString],
) -> Result<CompilerOutput, String> {
    let out = Command::new(compiler)
        .current_dir(cwd)
        .args(flags)
        .args(["-x", lang, "-E", "-v", "-dM", "/dev/null"])
        // The search list headings are translated in other locales.
        .env("LC_ALL", "C")
        .env("LANG", "C")
        // These would make the compiler write a dependency file.
        .env_remove("DEPENDENCIES_OUTPUT")
        .env_remove("SUNPRO_DEPENDENCIES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", compiler.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "`{} {} -x {lang} -E -v /dev/null` failed ({}): {last}",
            compiler.display(),
            flags
                .iter()
                .map(|f| f.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            out.status
        ));
    }
    let dirs = parse_search_list(&out.stderr)?;
    Ok(CompilerOutput {
        dirs,
        predefined: out.stdout,
    })
}

/// The directories between `#include "..." search starts here:` /
/// `#include <...> search starts here:` and `End of search list.`.
/// Bytes: a directory need not be UTF-8.
pub fn parse_search_list(stderr: &[u8]) -> Result<DefaultDirs, String> {
    #[derive(PartialEq)]
    enum S {
        Before,
        Quote,
        Bracket,
        Done,
    }
    let mut s = S::Before;
    let mut d = DefaultDirs::default();
    for line in stderr.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"#include \"...\" search starts here:") {
            s = S::Quote;
            continue;
        }
        if line.starts_with(b"#include <...> search starts here:") {
            s = S::Bracket;
            continue;
        }
        if line.starts_with(b"End of search list.") {
            s = S::Done;
            break;
        }
        if s != S::Quote && s != S::Bracket {
            continue;
        }
        let Some(dir) = line.strip_prefix(b" ") else {
            return Err(format!(
                "unexpected line in the compiler's search list: {}",
                String::from_utf8_lossy(line)
            ));
        };
        // clang marks macOS framework dirs; frameworks are not supported,
        // but the dir still is a system dir.
        let dir = dir.strip_suffix(b" (framework directory)").unwrap_or(dir);
        let v = if s == S::Quote {
            &mut d.quote
        } else {
            &mut d.bracket
        };
        v.push(OsString::from_vec(dir.to_vec()));
    }
    if s != S::Done {
        return Err("the compiler printed no include search list (-v)".into());
    }
    Ok(d)
}

/// The compiler as the client would run it: a name is looked up in the
/// client's PATH (relative entries from its cwd), a path with a slash is
/// taken relative to the client's cwd.
pub fn resolve_compiler(argv0: &OsStr, cwd: &Path, path: Option<&OsStr>) -> Option<PathBuf> {
    if argv0.as_bytes().contains(&b'/') {
        let p = cwd.join(argv0);
        return p.is_file().then_some(p);
    }
    let path = path?;
    let dirs: Vec<PathBuf> = std::env::split_paths(path).map(|d| cwd.join(d)).collect();
    let joined = std::env::join_paths(dirs).ok()?;
    crate::paths::which_in(argv0, &joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_list() {
        let e = "ignoring nonexistent directory \"/x\"\n#include \"...\" search starts here:\n \
                 q\n#include <...> search starts here:\n /usr/lib/gcc/x86_64-linux-gnu/12/include\n \
                 /usr/include\n /Library/Frameworks (framework directory)\nEnd of search list.\n";
        let d = parse_search_list(e.as_bytes()).unwrap();
        assert_eq!(d.quote, ["q"]);
        assert_eq!(
            d.bracket,
            [
                "/usr/lib/gcc/x86_64-linux-gnu/12/include",
                "/usr/include",
                "/Library/Frameworks"
            ]
        );
        assert!(parse_search_list(b"nothing").is_err());
    }
}
