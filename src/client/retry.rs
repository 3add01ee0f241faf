//! What to do when the server's compiler failed (exit 1..127).
//!
//! distcc always recompiles locally (unless DISTCC_SKIP_LOCAL_RETRY), and
//! also puts the host in backoff. Both cost a Banana Pi dearly on a build
//! with errors, and the backoff punishes a host that did its job.
//!
//! What the remote output lacks: the server only had the preprocessed
//! text, not the source files, so gcc there prints every diagnostic without
//! the source excerpt and caret lines (`    4 |   int x = ;` / `| ^`) that
//! a local gcc reads from the files named in the line markers. Everything
//! else (messages, file:line:col, "In function", exit code) is identical.
//!
//! So a real compile error is never recompiled just to repeat it: the
//! remote diagnostics and exit code are final when they are already what
//! the user would see from a local compile, that is when no diagnostic
//! points into a file gcc could quote here, or quoting is off
//! (`-fno-diagnostics-show-caret`, a machine-readable
//! `-fdiagnostics-format=`). Only when the remote text would lack excerpts
//! is the compile re-run locally, solely to print the diagnostics exactly as
//! gcc does; that run's output and status are the answer. A host is never
//! put in backoff for a compile error.

/// Options after which gcc prints no source excerpts.
fn excerpts_disabled(argv: &[String]) -> bool {
    let mut off = false;
    for a in argv {
        match a.as_str() {
            "-fno-diagnostics-show-caret" => off = true,
            "-fdiagnostics-show-caret" => off = false,
            s if s.starts_with("-fdiagnostics-format=") => off = !s.ends_with("=text"),
            _ => {}
        }
    }
    off
}

/// `FILE:LINE:COL: ` or `FILE:LINE: ` at the start of a diagnostic line.
fn located_file(line: &str) -> Option<&str> {
    let mut parts = line.splitn(3, ':');
    let file = parts.next()?;
    let lineno = parts.next()?;
    if file.is_empty() || lineno.is_empty() || !lineno.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(file)
}

/// True if a local run would print something the remote stderr lacks.
pub fn local_run_shows_more(argv: &[String], remote_stderr: &[u8]) -> bool {
    if excerpts_disabled(argv) {
        return false;
    }
    let text = String::from_utf8_lossy(remote_stderr);
    text.lines()
        .filter_map(located_file)
        .any(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn decides_from_locations_and_options() {
        let dir = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-retry-").unwrap();
        let src = dir.join("bad.c");
        std::fs::write(&src, "int x = ;\n").unwrap();
        let err = format!("{}:1:9: error: expected expression\n", src.display());
        assert!(local_run_shows_more(&v("gcc -c bad.c"), err.as_bytes()));
        assert!(!local_run_shows_more(
            &v("gcc -fno-diagnostics-show-caret -c bad.c"),
            err.as_bytes()
        ));
        assert!(!local_run_shows_more(
            &v("gcc -fdiagnostics-format=json -c bad.c"),
            err.as_bytes()
        ));
        // Diagnostics without a quotable file (assembler, missing file).
        assert!(!local_run_shows_more(
            &v("gcc -c x.c"),
            b"{standard input}: Assembler messages:\n{standard input}:3: Error: bad\n"
        ));
        assert!(!local_run_shows_more(
            &v("gcc -c x.c"),
            b"/nonexistent/y.c:3:1: error: oops\n"
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
