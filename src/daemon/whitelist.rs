//! Which compilers a client may run: distccd's rule (an executable entry in
//! /usr/lib/distcc named like the compiler, after stripping a leading
//! /usr/bin/ or /bin/), with a fallback to well-known compiler-driver names
//! found on PATH when that directory is missing or empty (as on Void).

use std::path::{Path, PathBuf};

pub const MASQ_DIR: &str = "/usr/lib/distcc";

#[derive(Debug, Clone)]
pub enum Policy {
    /// `--enable-tcp-insecure`: any compiler name.
    Insecure,
    /// Entries of a masquerade directory.
    Dir(PathBuf),
    /// Built-in driver names that exist on PATH.
    Builtin,
}

/// Pick the policy at start-up; the bool says whether the fallback is in use.
pub fn policy(insecure: bool, dir: &Path) -> Policy {
    if insecure {
        return Policy::Insecure;
    }
    let has_entries = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .any(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        })
        .unwrap_or(false);
    if has_entries {
        Policy::Dir(dir.to_path_buf())
    } else {
        Policy::Builtin
    }
}

fn is_version_suffix(s: &str) -> bool {
    // "-12", "-12.2", or nothing
    s.is_empty()
        || s.strip_prefix('-')
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// `cc c++ gcc g++ clang clang++`, optionally `<triplet>-` before and a
/// version after (`arm-linux-gnueabihf-gcc-12`).
pub fn is_driver_name(name: &str) -> bool {
    const DRIVERS: &[&str] = &["clang++", "clang", "gcc", "g++", "cc", "c++"];
    for d in DRIVERS {
        let mut start = 0;
        while let Some(i) = name[start..].find(d) {
            let at = start + i;
            let prefix = &name[..at];
            let suffix = &name[at + d.len()..];
            let prefix_ok = prefix.is_empty()
                || (prefix.ends_with('-')
                    && prefix.len() > 1
                    && prefix[..prefix.len() - 1]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'));
            if prefix_ok && is_version_suffix(suffix) {
                return true;
            }
            start = at + 1;
        }
    }
    false
}

/// Check `compiler` (the client's argv[0]). Ok, or the reason for refusal.
pub fn check<S: AsRef<std::ffi::OsStr> + ?Sized>(
    policy: &Policy,
    compiler: &S,
) -> Result<(), String> {
    let compiler = compiler.as_ref();
    if let Policy::Insecure = policy {
        return Ok(());
    }
    // Driver names are ASCII; a whitelist is never matched lossily.
    let Some(compiler) = compiler.to_str() else {
        return Err(format!(
            "compiler '{}' is not a known compiler name",
            compiler.to_string_lossy()
        ));
    };
    let lower = compiler.to_ascii_lowercase();
    let name = if lower.starts_with("/usr/bin/") {
        &compiler["/usr/bin/".len()..]
    } else if lower.starts_with("/bin/") {
        &compiler["/bin/".len()..]
    } else {
        compiler
    };
    if name.is_empty() || name.contains('/') {
        return Err(format!(
            "compiler '{compiler}' cannot be an absolute or relative path"
        ));
    }
    match policy {
        Policy::Dir(d) => {
            let p = d.join(name);
            if nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK).is_ok() {
                Ok(())
            } else {
                Err(format!("{name} not in {} whitelist", d.display()))
            }
        }
        Policy::Builtin => {
            if is_driver_name(name) && crate::paths::which(name).is_some() {
                Ok(())
            } else {
                Err(format!(
                    "{name} is not a known compiler driver on this host's PATH"
                ))
            }
        }
        Policy::Insecure => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_names() {
        for n in [
            "cc",
            "gcc",
            "g++",
            "c++",
            "clang",
            "clang++",
            "gcc-12",
            "clang-14",
            "x86_64-linux-gnu-gcc",
            "x86_64-linux-gnu-gcc-12",
            "arm-linux-gnueabihf-gcc",
            "armv7l-linux-musleabihf-g++",
        ] {
            assert!(is_driver_name(n), "{n}");
        }
        for n in [
            "sh", "bash", "gcc-ar", "ld", "gccx", "python", "-gcc", "gcc-", "cc1", "xgcc",
        ] {
            assert!(!is_driver_name(n), "{n}");
        }
    }

    #[test]
    fn paths_are_stripped_or_refused() {
        let p = Policy::Builtin;
        assert!(check(&p, "/opt/gcc").is_err());
        assert!(check(&p, "../gcc").is_err());
        assert!(check(&p, "/bin/sh").is_err());
        assert!(check(&Policy::Insecure, "/bin/sh").is_ok());
    }

    #[test]
    fn dir_policy() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "wl-").unwrap();
        std::os::unix::fs::symlink("/bin/true", d.join("gcc")).unwrap();
        let p = policy(false, &d);
        assert!(matches!(p, Policy::Dir(_)));
        assert!(check(&p, "gcc").is_ok());
        assert!(check(&p, "/usr/bin/gcc").is_ok());
        assert!(check(&p, "g++").is_err());
        std::fs::remove_dir_all(&d).unwrap();
        let empty = crate::paths::make_temp_dir(&std::env::temp_dir(), "wl-").unwrap();
        std::fs::create_dir(empty.join("bin")).unwrap();
        assert!(matches!(policy(false, &empty), Policy::Builtin));
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
