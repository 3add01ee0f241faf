//! Bodies of the fuzz targets (tests/fuzz): shared with
//! tests/fuzz_regressions.rs, which replays every saved crash input.
//! Each must return normally for any input; a panic is a finding.

use crate::protocol::request::RequestDecoder;
use crate::protocol::{lzo, reply, token, Limits};

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
            match d.feed(&buf) {
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

/// The client's reply reader, every protocol version.
pub fn reply(data: &[u8]) {
    for v in 1..=3 {
        let _ = reply::read(&mut &data[..], v, &small_limits());
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

/// The argument classifier and the daemon's checks, on NUL-separated words.
pub fn args(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let argv: Vec<String> = text.split('\0').map(String::from).collect();
    if let Ok(scan) = crate::args::scan(&argv) {
        assert!(scan.input_index < scan.argv.len());
        let _ = crate::args::cpp_argv(&scan);
        let _ = crate::args::strip_local_args(&scan.argv);
    }
    let policy = crate::daemon::whitelist::Policy::Insecure;
    let _ = crate::daemon::job::plan(&argv, &policy);
    let pump = crate::daemon::harden::Mode::Pump;
    let _ = crate::daemon::job::plan_mode(&argv, &policy, pump, "/home/u/src");
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
