//! `-march=native`, `-mtune=native`, `-mcpu=native` name *this* CPU, so
//! distcc keeps such jobs local (or, for `-mcpu=native`, sends them and gets
//! code for the server's CPU). We ask the local gcc driver what it turns
//! them into (the explicit `-march=X -mfoo -mno-bar --param ...` it passes to
//! cc1) and send those instead: every host then builds exactly the object a
//! local compile would. The answer is cached per compiler binary (path, size,
//! mtime) in `$DISTCC_DIR/native/`, so the probe runs once, not per job.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use super::settings::Settings;

const NATIVE_FLAGS: &[&str] = &["-march=native", "-mtune=native", "-mcpu=native"];

fn is_native(a: &OsString) -> bool {
    NATIVE_FLAGS.iter().any(|f| a == f)
}

pub fn has_native(argv: &[OsString]) -> bool {
    argv.iter().any(is_native)
}

/// The cc1 command line the driver runs for `flags` (gcc's `-v` output).
fn cc1_line(compiler: &Path, flags: &[&str]) -> Option<Vec<String>> {
    let out = Command::new(compiler)
        .args(flags)
        .args(["-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stderr);
    // gcc prints the cc1 command unquoted, starting with a space; clang's
    // "-cc1" lines are quoted driver-internal flags we cannot send back.
    let line = text.lines().find(|l| {
        l.starts_with(' ')
            && l.split_whitespace()
                .next()
                .is_some_and(|p| p.ends_with("/cc1"))
    })?;
    Some(line.split_whitespace().map(String::from).collect())
}

/// What the native flags add to cc1's command line: the tokens present with
/// them and absent without them (a multiset difference, so repeated
/// `--param` keep their count).
fn probe(compiler: &Path, native: &[&str]) -> Option<Vec<String>> {
    let with = cc1_line(compiler, native)?;
    let mut base = cc1_line(compiler, &[])?;
    let mut added = Vec::new();
    for t in with {
        if let Some(i) = base.iter().position(|b| *b == t) {
            base.remove(i);
        } else {
            added.push(t);
        }
    }
    // Sanity: the expansion must consist of -m options and --param pairs.
    let ok = !added.is_empty()
        && added
            .iter()
            .all(|t| t.starts_with("-m") || t == "--param" || t.contains('='));
    ok.then_some(added)
}

/// FNV-1a: a stable file name for a cache key (no cryptographic need).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn cache_key(compiler: &Path, native: &[&str]) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(compiler).ok()?;
    let m = std::fs::metadata(&real).ok()?;
    Some(format!(
        "{}\n{}\n{}.{}\n{}",
        real.display(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        native.join(" ")
    ))
}

/// The expansion of the native flags in `argv` for `compiler`, cached.
fn expansion(s: &Settings, compiler: &Path, native: &[&str]) -> Option<Vec<String>> {
    let key = cache_key(compiler, native)?;
    let file = s
        .sub_dir("native")
        .ok()
        .map(|d| d.join(format!("{:016x}", fnv(&key))));
    if let Some(f) = &file {
        if let Ok(text) = std::fs::read_to_string(f) {
            // First lines repeat the key, so a hash collision is harmless.
            if let Some(rest) = text.strip_prefix(&format!("{key}\n")) {
                return Some(rest.lines().map(String::from).collect());
            }
        }
    }
    let flags = probe(compiler, native)?;
    if let Some(f) = &file {
        let body = format!("{key}\n{}\n", flags.join("\n"));
        let _ = super::output::write_atomic(f, body.as_bytes());
    }
    Some(flags)
}

/// `argv` with its native flags replaced by what the local compiler makes
/// of them, or `None` if that cannot be found out (the job then follows
/// distcc's rules).
pub fn resolve(s: &Settings, compiler: &Path, argv: &[OsString]) -> Option<Vec<OsString>> {
    let native: Vec<&str> = argv
        .iter()
        .filter(|a| is_native(a))
        .filter_map(|a| a.to_str())
        .collect();
    let flags = expansion(s, compiler, &native)?;
    log::debug!("{} means {}", native.join(" "), flags.join(" "));
    let mut out = Vec::with_capacity(argv.len() + flags.len());
    let mut placed = false;
    for a in argv {
        if is_native(a) {
            if !placed {
                out.extend(flags.iter().map(OsString::from));
                placed = true;
            }
        } else {
            out.push(a.clone());
        }
    }
    Some(out)
}
