//! How much compiling a job holds, known before a slot is taken: its
//! source's size plus that of the source files it includes by name
//! (gnulib's `regex.c` is 3 KB around `#include "regcomp.c"` and two
//! more: 290 KB of code). Headers are left out: units include much the
//! same ones, and declarations cost little to compile.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A job with this much source is big: in distcc's order it waits a while
/// for the first host listed, the most powerful (pick.rs). On the bed a
/// 64 KB unit takes the x86 about a second and a board four.
pub const BIG: u64 = 64 * 1024;

/// Bytes of source: `input`'s size and the sizes of the source files its
/// `#include "..."` lines name (looked up beside it; not recursive). A
/// preprocessed input (`.i`) is its size: its headers are in it already.
pub fn source_bytes(input: &OsStr) -> u64 {
    let path = Path::new(input);
    // Regular files only: opening a FIFO would wait for a writer, reading
    // a device would take its bytes from the compiler.
    let own = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        _ => return 0,
    };
    if own >= BIG || crate::args::is_preprocessed(input) {
        return own;
    }
    let Ok(mut f) = std::fs::File::open(path) else {
        return own;
    };
    let mut text = Vec::with_capacity(own as usize);
    if f.by_ref().take(BIG).read_to_end(&mut text).is_err() {
        return own;
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    text.split(|&b| b == b'\n')
        .filter_map(included_source)
        .map(|name| {
            let name = Path::new(OsStr::from_bytes(name));
            std::fs::metadata(dir.join(name)).map_or(0, |m| m.len())
        })
        .fold(own, u64::saturating_add)
}

/// Whether `input` is a big job (`BIG`). A preprocessed input never is:
/// its size is mostly headers.
pub fn is_big(input: &OsStr) -> bool {
    !crate::args::is_preprocessed(input) && source_bytes(input) >= BIG
}

/// The name in `#include "NAME"` when NAME is a source file (`.c`, `.cc`...).
fn included_source(line: &[u8]) -> Option<&[u8]> {
    let rest = line.trim_ascii_start().strip_prefix(b"#")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"include")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let name = &rest[..rest.iter().position(|&b| b == b'"')?];
    crate::args::is_source(OsStr::from_bytes(name)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn included_sources_count_headers_do_not() {
        assert_eq!(
            included_source(b"  #  include \"regcomp.c\" // x"),
            Some(&b"regcomp.c"[..])
        );
        assert_eq!(included_source(b"#include \"regex_internal.h\""), None);
        assert_eq!(included_source(b"#include <stdio.c>"), None);
        assert_eq!(included_source(b"x = \"#include \\\"a.c\\\"\";"), None);
        assert_eq!(included_source(b"#include \"a.c"), None);

        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-size-").unwrap();
        std::fs::write(d.join("part.c"), vec![b'x'; 70_000]).unwrap();
        std::fs::write(d.join("part.h"), vec![b'x'; 70_000]).unwrap();
        let src = "#include \"part.h\"\n#include \"part.c\"\n#include \"gone.c\"\n";
        std::fs::write(d.join("whole.c"), src).unwrap();
        std::fs::write(d.join("small.c"), "#include \"part.h\"\nint x;\n").unwrap();
        std::fs::write(d.join("big.i"), vec![b'x'; 70_000]).unwrap();
        let whole = d.join("whole.c");
        assert_eq!(source_bytes(whole.as_os_str()), src.len() as u64 + 70_000);
        assert!(is_big(whole.as_os_str()));
        assert!(!is_big(d.join("small.c").as_os_str()));
        assert!(!is_big(d.join("big.i").as_os_str()), "headers, mostly");
        assert!(!is_big(d.join("missing.c").as_os_str()));
        assert_eq!(source_bytes(d.join("missing.c").as_os_str()), 0);
        let fifo = d.join("fifo.c");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(source_bytes(fifo.as_os_str()), 0, "not opened: no writer");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
