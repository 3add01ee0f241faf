//! `-MD`/`-MMD` dependency files in plain mode. The local cpp writes them,
//! but distcc runs cpp without `-o`, so gcc names the file and the make
//! target after the *source* (`x.d`, `x.o` in the cwd) instead of the object
//! (`sub/x.d`, `sub/x.o`). We name both explicitly, as gcc would for the
//! real command, and let cpp write into a temp file beside the target that
//! is renamed over it only when the whole job succeeded: a .d is whole or
//! absent, never from a failed compile.

use std::path::PathBuf;

use crate::args::Scan;

pub struct DepFile {
    pub target: PathBuf,
    pub temp: PathBuf,
    committed: bool,
    _on_signal: super::cleanup::Guard,
}

/// The `-MF` value (separate or joined), if any.
fn explicit_mf(argv: &[String]) -> Option<(usize, bool)> {
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == "-MF" {
            Some((i, false))
        } else if a.starts_with("-MF") {
            Some((i, true))
        } else {
            None
        }
    })
}

/// gcc's default: the object name with its suffix replaced by `.d`.
fn default_target(output: &str) -> String {
    let base_start = output.rfind('/').map(|i| i + 1).unwrap_or(0);
    match output[base_start..].rfind('.') {
        Some(i) => format!("{}.d", &output[..base_start + i]),
        None => format!("{output}.d"),
    }
}

/// `-Wp,-MD,f` goes straight to cc1, which then names the target after the
/// source (`x.o`), not after `-o`: gcc's driver adds its `-MQ` only for its
/// own `-MD`.
fn md_through_wp(original: &[String]) -> bool {
    original.iter().any(|a| {
        a.strip_prefix("-Wp,")
            .is_some_and(|r| r.split(',').any(|p| p == "-MD" || p == "-MMD"))
    })
}

/// Rewrite the cpp argv (already `-E`) so deps go to a temp file; `None`
/// if the command writes no dependency file. `original` is the user's argv
/// (before distcc's `-Wp,` expansion).
pub fn plan(scan: &Scan, cpp_argv: &mut Vec<String>, original: &[String]) -> Option<DepFile> {
    if !cpp_argv.iter().any(|a| a == "-MD" || a == "-MMD") {
        return None;
    }
    let target = match explicit_mf(cpp_argv) {
        Some((i, false)) => cpp_argv.get(i + 1)?.clone(),
        Some((i, true)) => cpp_argv[i][3..].to_string(),
        None => default_target(&scan.output),
    };
    let target = PathBuf::from(target);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name()?.to_string_lossy().into_owned();
    let temp = dir.join(format!(".{name}.tinydcc-{}", crate::paths::random_suffix()));
    let temp_s = temp.to_string_lossy().into_owned();
    match explicit_mf(cpp_argv) {
        Some((i, false)) => cpp_argv[i + 1] = temp_s,
        Some((i, true)) => cpp_argv[i] = format!("-MF{temp_s}"),
        None => {
            cpp_argv.push("-MF".into());
            cpp_argv.push(temp_s);
        }
    }
    let names_target = cpp_argv
        .iter()
        .any(|a| a.starts_with("-MT") || a.starts_with("-MQ"));
    if !names_target && !md_through_wp(original) {
        // -MQ quotes like gcc's own default target does.
        cpp_argv.push("-MQ".into());
        cpp_argv.push(scan.output.clone());
    }
    Some(DepFile {
        _on_signal: super::cleanup::register(&temp),
        target,
        temp,
        committed: false,
    })
}

/// Pump mode: the `.d` target to name for the server (which otherwise
/// uses the object name), or `None` when no dependency file is wanted or
/// the argv names its target already. Same rules as the local gcc.
pub fn pump_target(scan: &Scan, original: &[String]) -> Option<String> {
    let argv = &scan.argv;
    if !argv.iter().any(|a| a == "-MD" || a == "-MMD")
        || argv
            .iter()
            .any(|a| a.starts_with("-MT") || a.starts_with("-MQ"))
    {
        return None;
    }
    if md_through_wp(original) {
        // cc1 on its own: the source's basename with `.o`.
        let base = scan.input.rsplit('/').next().unwrap_or(&scan.input);
        let stem = base.rfind('.').map_or(base, |i| &base[..i]);
        return Some(format!("{stem}.o"));
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

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn names_follow_the_object() {
        let scan = crate::args::scan(&v("gcc -MD -c src/x.c -o out/x.o")).unwrap();
        let mut cpp = crate::args::cpp_argv(&scan);
        let d = plan(&scan, &mut cpp, &[]).unwrap();
        assert_eq!(d.target, PathBuf::from("out/x.d"));
        assert!(cpp.contains(&"-MQ".to_string()) && cpp.contains(&"out/x.o".to_string()));
        let mf = cpp.iter().position(|a| a == "-MF").unwrap();
        assert!(cpp[mf + 1].starts_with("out/.x.d.tinydcc-"));
    }

    #[test]
    fn explicit_mf_and_mt_are_kept() {
        let scan = crate::args::scan(&v("gcc -MMD -MFdeps/x.dep -MT t -c x.c")).unwrap();
        let mut cpp = crate::args::cpp_argv(&scan);
        let d = plan(&scan, &mut cpp, &[]).unwrap();
        assert_eq!(d.target, PathBuf::from("deps/x.dep"));
        assert!(cpp.iter().any(|a| a.starts_with("-MFdeps/.x.dep.tinydcc-")));
        assert!(!cpp.contains(&"-MQ".to_string()));
        assert!(plan(&scan, &mut v("gcc -E x.c"), &[]).is_none());
    }

    #[test]
    fn pump_targets_match_local_gcc() {
        let t = |s: &str| {
            let a = v(s);
            let scan = crate::args::scan(&a).unwrap();
            pump_target(&scan, &a)
        };
        assert_eq!(
            t("gcc -MD -c sub/a.c -o out/b.o").as_deref(),
            Some("out/b.o")
        );
        assert_eq!(
            t("gcc -Wp,-MD,x.d -c sub/a.c -o out/b.o").as_deref(),
            Some("a.o")
        );
        assert_eq!(t("gcc -MD -MT t -c a.c"), None);
        assert_eq!(t("gcc -c a.c"), None);
    }
}
