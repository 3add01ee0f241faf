//! `-MD`/`-MMD` dependency files in plain mode. The local cpp writes them,
//! but distcc runs cpp without `-o`, so gcc names the file and the make
//! target after the *source* (`x.d`, `x.o` in the cwd) instead of the object
//! (`sub/x.d`, `sub/x.o`). We name both explicitly, as gcc would for the
//! real command, and let cpp write into a temp file beside the target that
//! is renamed over it only when the whole job succeeded: a .d is whole or
//! absent, never from a failed compile.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::args::Scan;

fn joined(a: &[u8], b: &[u8]) -> OsString {
    OsString::from_vec([a, b].concat())
}

pub struct DepFile {
    pub target: PathBuf,
    pub temp: PathBuf,
    committed: bool,
    _on_signal: crate::sys::signal_cleanup::Guard,
}

/// The `-MF` value (separate or joined), if any.
fn explicit_mf(argv: &[OsString]) -> Option<(usize, bool)> {
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == "-MF" {
            Some((i, false))
        } else if a.as_bytes().starts_with(b"-MF") {
            Some((i, true))
        } else {
            None
        }
    })
}

/// gcc's default: the object name with its suffix replaced by `.d`.
fn default_target(output: &OsStr) -> OsString {
    let output = output.as_bytes();
    let base_start = output.len() - crate::args::basename(output).len();
    match output[base_start..].iter().rposition(|&b| b == b'.') {
        Some(i) => joined(&output[..base_start + i], b".d"),
        None => joined(output, b".d"),
    }
}

/// `-Wp,-MD,f` goes straight to cc1, which then names the target after the
/// source (`x.o`), not after `-o`: gcc's driver adds its `-MQ` only for its
/// own `-MD`.
fn md_through_wp(original: &[OsString]) -> bool {
    original.iter().any(|a| {
        a.as_bytes()
            .strip_prefix(b"-Wp,")
            .is_some_and(|r| r.split(|&b| b == b',').any(|p| p == b"-MD" || p == b"-MMD"))
    })
}

fn names_target(argv: &[OsString]) -> bool {
    argv.iter().any(|a| {
        let a = a.as_bytes();
        a.starts_with(b"-MT") || a.starts_with(b"-MQ")
    })
}

/// Rewrite the cpp argv (already `-E`) so deps go to a temp file; `None`
/// if the command writes no dependency file. `original` is the user's argv
/// (before distcc's `-Wp,` expansion).
pub fn plan(scan: &Scan, cpp_argv: &mut Vec<OsString>, original: &[OsString]) -> Option<DepFile> {
    if !cpp_argv.iter().any(|a| a == "-MD" || a == "-MMD") {
        return None;
    }
    let target = match explicit_mf(cpp_argv) {
        Some((i, false)) => cpp_argv.get(i + 1)?.clone(),
        Some((i, true)) => OsStr::from_bytes(&cpp_argv[i].as_bytes()[3..]).to_os_string(),
        None => default_target(&scan.output),
    };
    let target = PathBuf::from(target);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name()?.as_bytes();
    let suffix = format!(".tinydcc-{}", crate::paths::random_suffix());
    let temp = dir.join(OsString::from_vec([b".", name, suffix.as_bytes()].concat()));
    let temp_s = temp.clone().into_os_string();
    match explicit_mf(cpp_argv) {
        Some((i, false)) => cpp_argv[i + 1] = temp_s,
        Some((i, true)) => cpp_argv[i] = joined(b"-MF", temp_s.as_bytes()),
        None => {
            cpp_argv.push("-MF".into());
            cpp_argv.push(temp_s);
        }
    }
    if !names_target(cpp_argv) && !md_through_wp(original) {
        // -MQ quotes like gcc's own default target does.
        cpp_argv.push("-MQ".into());
        cpp_argv.push(scan.output.clone());
    }
    Some(DepFile {
        _on_signal: crate::sys::signal_cleanup::register(&temp),
        target,
        temp,
        committed: false,
    })
}

/// Pump mode: the `.d` target to name for the server (which otherwise
/// uses the object name), or `None` when no dependency file is wanted or
/// the argv names its target already. Same rules as the local gcc.
pub fn pump_target(scan: &Scan, original: &[OsString]) -> Option<OsString> {
    let argv = &scan.argv;
    if !argv.iter().any(|a| a == "-MD" || a == "-MMD") || names_target(argv) {
        return None;
    }
    if md_through_wp(original) {
        // cc1 on its own: the source's basename with `.o`.
        let base = crate::args::basename(scan.input.as_bytes());
        let stem = base
            .iter()
            .rposition(|&b| b == b'.')
            .map_or(base, |i| &base[..i]);
        return Some(joined(stem, b".o"));
    }
    Some(scan.output.clone())
}

impl DepFile {
    /// Pump mode: the server sent the file's text; it is committed with
    /// the object.
    pub fn fill(&self, text: &[u8]) -> std::io::Result<()> {
        std::fs::write(&self.temp, text)
    }

    /// The job succeeded: move the file into place.
    pub fn commit(&mut self) -> std::io::Result<()> {
        std::fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for DepFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
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
    fn names_follow_the_object() {
        let scan = crate::args::scan(&v("gcc -MD -c src/x.c -o out/x.o")).unwrap();
        let mut cpp = crate::args::cpp_argv(&scan);
        let d = plan(&scan, &mut cpp, &[]).unwrap();
        assert_eq!(d.target, PathBuf::from("out/x.d"));
        assert!(cpp.contains(&"-MQ".into()) && cpp.contains(&"out/x.o".into()));
        let mf = cpp.iter().position(|a| a == "-MF").unwrap();
        assert!(cpp[mf + 1].as_bytes().starts_with(b"out/.x.d.tinydcc-"));
    }

    #[test]
    fn explicit_mf_and_mt_are_kept() {
        let scan = crate::args::scan(&v("gcc -MMD -MFdeps/x.dep -MT t -c x.c")).unwrap();
        let mut cpp = crate::args::cpp_argv(&scan);
        let d = plan(&scan, &mut cpp, &[]).unwrap();
        assert_eq!(d.target, PathBuf::from("deps/x.dep"));
        assert!(cpp
            .iter()
            .any(|a| a.as_bytes().starts_with(b"-MFdeps/.x.dep.tinydcc-")));
        assert!(!cpp.contains(&"-MQ".into()));
        assert!(plan(&scan, &mut v("gcc -E x.c"), &[]).is_none());
    }

    #[test]
    fn pump_targets_match_local_gcc() {
        let t = |s: &str| {
            let a = v(s);
            let scan = crate::args::scan(&a).unwrap();
            pump_target(&scan, &a)
        };
        assert_eq!(t("gcc -MD -c sub/a.c -o out/b.o"), Some("out/b.o".into()));
        assert_eq!(
            t("gcc -Wp,-MD,x.d -c sub/a.c -o out/b.o"),
            Some("a.o".into())
        );
        assert_eq!(t("gcc -MD -MT t -c a.c"), None);
        assert_eq!(t("gcc -c a.c"), None);
    }
}
