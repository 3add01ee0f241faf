//! Bodies of the fuzz targets (tests/fuzz): shared with
//! tests/fuzz_regressions.rs, which replays every saved crash input.
//! Each must return normally for any input; a panic is a finding.

use crate::protocol::request::RequestDecoder;
use crate::protocol::{lzo, reply, token, Features, Limits};

fn small_limits() -> Limits {
    Limits {
        max_payload: 1 << 16,
        max_decompressed: 1 << 18,
        max_argc: 64,
        max_arg_len: 256,
        max_argv_total: 4096,
        max_files: 32,
        max_path: 256,
    }
}

/// Token headers: what parses re-encodes to the same name and value.
pub fn token(data: &[u8]) {
    if let Ok((name, val)) = token::parse(data) {
        let mut v = Vec::new();
        token::put(&mut v, name, val);
        assert_eq!(token::parse(&v).ok(), Some((name, val)));
    }
    let _ = token::expect(data, token::DIST);
}

/// The daemon's request decoder, fed in two chunks (the first byte picks
/// the split), with small limits so the size checks run.
pub fn request(data: &[u8]) {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let mut d = RequestDecoder::new(small_limits());
    let split = (cut as usize).min(rest.len());
    let mut buf = Vec::new();
    for piece in [&rest[..split], &rest[split..]] {
        buf.extend_from_slice(piece);
        loop {
            if d.awaiting_need() {
                // Store form: answer NEED as a daemon might, from `cut`'s bits.
                let needed: Vec<bool> = (0..d.entries().len())
                    .map(|i| (cut >> (i % 8)) & 1 == 1)
                    .collect();
                d.set_needed(&needed);
            }
            match d.feed(&buf) {
                Ok(0) if d.awaiting_need() => continue,
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.drain(..n);
                }
            }
            if d.is_done() {
                return;
            }
        }
    }
}

/// The header store's messages as a client reads them: NEED for a
/// manifest of as many entries as the first byte says, and the trailer
/// and FDIG parsers (doc/header-store.md).
pub fn store_form(data: &[u8]) {
    use crate::protocol::store_form as sf;
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    if let Ok(needed) = sf::read_need(&mut &rest[..], count as usize) {
        assert_eq!(needed.len(), count as usize);
        let again = sf::read_need(&mut &sf::encode_need(&needed)[..], needed.len());
        assert_eq!(again.ok(), Some(needed));
    }
    if let Some(v) = sf::parse_trailer(rest) {
        assert_eq!(sf::parse_trailer(&sf::trailer(v)), Some(v));
    }
    if let Some((size, d)) = sf::parse_fdig(rest) {
        assert_eq!(&sf::fdig_body(size, &d)[..], rest);
    }
}

/// The client's reply reader, every protocol version.
pub fn reply(data: &[u8]) {
    for f in [Features::PLAIN, Features::LZO, Features::PUMP] {
        let _ = reply::read(&mut &data[..], f, &small_limits());
    }
}

/// Host lists: any text parses or names a line that exists.
pub fn hosts(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = crate::hosts::parse(text, "fuzz") {
        assert!(e.line <= text.lines().count().max(1));
    }
}

/// The argument classifier and the daemon's checks, on NUL-separated words
/// of any bytes (arguments need not be UTF-8).
pub fn args(data: &[u8]) {
    use std::os::unix::ffi::OsStringExt;
    let argv: Vec<std::ffi::OsString> = data
        .split(|&b| b == 0)
        .map(|w| std::ffi::OsString::from_vec(w.to_vec()))
        .collect();
    if let Ok(scan) = crate::args::scan(&argv) {
        assert!(scan.input_index < scan.argv.len());
        let _ = crate::args::cpp_argv(&scan);
        let _ = crate::args::strip_local_args(&scan.argv);
    }
    let policy = crate::daemon::whitelist::Policy::Insecure;
    let _ = crate::daemon::job::plan(&argv, &policy);
    let pump = crate::daemon::harden::Mode::Pump;
    let _ = crate::daemon::job::plan_mode(&argv, &policy, pump, "/home/u/src".as_ref());
}

/// LZO: hostile streams stay within the limit; round trips are exact.
pub fn lzo(data: &[u8]) {
    if let Ok(out) = lzo::decompress(data, 1 << 20) {
        assert!(out.len() <= 1 << 20);
    }
    let c = lzo::compress(data);
    assert_eq!(
        lzo::decompress(&c, data.len().max(1)).ok().as_deref(),
        Some(data)
    );
}

/// The include scanner. The input is a flags byte, then up to three files
/// separated by NUL bytes: `main.c`, `inc/a.h` and `b.h`.
///
/// Always, in memory: each file is read (`directives::parse`), and every
/// computed include and every `#if` line of each is expanded over the
/// definitions of all three, the way the scanner does (`#if` lines both
/// fully and only through the names that may lead to `__has_include`), and
/// the results are read as header names. With flag bit 0, also a whole scan
/// of `gcc -Iinc … -c main.c` (other bits pick more options) on the files
/// written to a scratch directory on tmpfs.
pub fn scanner(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0);
    let files = [
        parts.next().unwrap_or(b""),
        parts.next().unwrap_or(b""),
        parts.next().unwrap_or(b""),
    ];
    scanner_in_memory(&files);
    if flags & 1 != 0 {
        scanner_on_disk(flags, &files);
    }
}

fn scanner_in_memory(files: &[&[u8]]) {
    use crate::scan::directives;
    use crate::scan::macros::{interpret, Expander, MacroTable};
    use crate::scan::parsed::{glue_angle, has_include_operand, Operand};
    use crate::scan::tokens::{sym, FxMap, FxSet, Interner, Kind, Tok};
    let mut interner = Interner::new();
    let parsed: Vec<_> = files
        .iter()
        .filter_map(|f| directives::parse(f, &mut interner).ok())
        .collect();
    let fixed = FxMap::default();
    let mut table = MacroTable::new(parsed.iter().collect(), &fixed);
    let mut hi: FxSet<_> = parsed
        .iter()
        .flat_map(|p| p.hi_macros.iter().copied())
        .collect();
    hi.insert(sym::HAS_INCLUDE);
    hi.insert(sym::HAS_INCLUDE_NEXT);
    for p in &parsed {
        assert!(p.undefs.windows(2).all(|w| w[0] < w[1]));
        assert!(p.cond_idents.windows(2).all(|w| w[0] < w[1]));
        for d in &p.includes {
            let Operand::Computed(toks) = &d.op else {
                continue;
            };
            let mut ex = Expander::new(&mut table, &mut interner);
            ex.file_names = vec![b"inc/a.h".to_vec()];
            ex.base_file = b"main.c".to_vec();
            if let Ok(res) = ex.expand(toks) {
                for r in &res {
                    let _ = interpret(r, ex.interner);
                }
            }
        }
        for c in &p.conds {
            for only in [Some(&hi), None] {
                let mut ex = Expander::new(&mut table, &mut interner);
                ex.file_names = vec![b"main.c".to_vec()];
                ex.only = only;
                ex.if_mode = true;
                let Ok(res) = ex.expand(&c.toks) else {
                    continue;
                };
                for r in &res {
                    let toks: Vec<Tok> = r.iter().map(|x| x.t).collect();
                    for (k, t) in toks.iter().enumerate() {
                        if t.kind == Kind::Ident && sym::has_include(t.sym).is_some() {
                            let _ = has_include_operand(&toks[k + 1..], ex.interner);
                        }
                        if t.sym == sym::LESS {
                            let _ = glue_angle(&toks[k..], ex.interner);
                        }
                    }
                }
            }
        }
    }
}

/// The scanner for `scanner_on_disk`: kept across inputs (its compiler
/// query runs gcc), started afresh now and then so its interned spellings
/// stay few.
static SCANNER: std::sync::Mutex<Option<(crate::scan::Scanner, u32)>> = std::sync::Mutex::new(None);

/// `scanner_on_disk`'s directory, made once per process.
static SCANNER_DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

extern "C" fn remove_scanner_dir() {
    if let Some(Some(d)) = SCANNER_DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn scanner_on_disk(flags: u8, files: &[&[u8]; 3]) {
    let dir = SCANNER_DIR.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let base = if nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let d = crate::paths::make_temp_dir(&base, "tinydcc-fuzz-scanner.").ok()?;
        crate::sys::at_exit(remove_scanner_dir);
        std::fs::create_dir(d.join("inc")).ok()?;
        Some(d)
    });
    let Some(dir) = dir else {
        return;
    };
    for (name, text) in ["main.c", "inc/a.h", "b.h"].iter().zip(files) {
        if std::fs::write(dir.join(name), text).is_err() {
            return;
        }
    }
    let mut argv: Vec<std::ffi::OsString> = vec!["gcc".into(), "-Iinc".into()];
    let options: [(u8, &[&str]); 6] = [
        (2, &["-include", "b.h"]),
        (4, &["-DCFG=<a.h>", "-DQ=\"b.h\""]),
        (8, &["-nostdinc"]),
        (16, &["-iquote", "inc"]),
        (32, &["-I."]),
        (64, &["-UCFG", "-imacros", "inc/a.h"]),
    ];
    for (bit, opts) in options {
        if flags & bit != 0 {
            argv.extend(opts.iter().map(std::ffi::OsString::from));
        }
    }
    argv.extend(["-c", "main.c", "-o", "main.o"].map(std::ffi::OsString::from));
    let mut guard = SCANNER.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_none_or(|(_, n)| *n >= 2000) {
        *guard = Some((crate::scan::Scanner::new(), 0));
    }
    let Some((sc, n)) = guard.as_mut() else {
        return;
    };
    *n += 1;
    // Two quick writes of the same size can leave the same stat on tmpfs,
    // and the heap must not grow with every input (libFuzzer's leak check
    // scans all of it when it does): no parse is kept from one input to
    // the next.
    sc.forget_files();
    let env = |v: &str| match v {
        "CPATH" | "C_INCLUDE_PATH" | "CPLUS_INCLUDE_PATH" | "OBJC_INCLUDE_PATH" => None,
        _ => std::env::var_os(v),
    };
    if let Ok(c) = sc.scan_with_env(dir, &argv, &env) {
        assert_eq!(c.files.first(), Some(&dir.join("main.c")));
        let mut seen = std::collections::HashSet::new();
        assert!(c.files.iter().all(|f| f.is_absolute() && seen.insert(f)));
    }
}

/// The result cache's entry check, on bytes read back from disk: under the
/// key the bytes name (so the digest check is reached) and under another;
/// an entry that passes re-encodes to the same bytes.
pub fn store(data: &[u8]) {
    use crate::store::{entry, Digest};
    let mut named = [0u8; 32];
    if let Some(k) = data.get(12..44) {
        named.copy_from_slice(k);
    }
    for key in [Digest(named), Digest::of(b"another key")] {
        if let Ok(e) = entry::decode(data, &key) {
            assert_eq!(e.encode(&key), data);
            assert_eq!(e.encoded_len(), data.len());
        }
    }
    // Bytes that do pass: the input as an object, cut and flipped.
    let key = Digest::of(data);
    let e = entry::Entry {
        object: data,
        stderr: b"warning\n",
        dep: data.first().map(|_| &data[..data.len() / 2]),
    };
    let mut v = e.encode(&key);
    assert_eq!(entry::decode(&v, &key), Ok(e));
    let at = data.len() % v.len();
    v[at] ^= 0x80;
    assert!(entry::decode(&v, &key).is_err());
    v.truncate(at);
    assert!(entry::decode(&v, &key).is_err());
}
