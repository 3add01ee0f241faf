//! The include-server socket protocol (distcc's include_server_if.c): the
//! client asks `CDIR cwd ARGC n ARGV…` over a Unix socket and gets back
//! `ARGC m ARGV…`, the paths in the include server's client root to ship.
//! `ARGC00000000` means the server gave up. One query per connection.
//! Every string is bytes, as in distcc: paths and arguments need not be UTF-8.
//!
//! tinydcc's include server then appends `DIGS<40·m>`: for each listed
//! path in order, an FDIG body (the text's size and SHA-256) if it is a
//! file, or 40 bytes of 0xff if it is a link. A tinydcc client builds the
//! header store's manifest from it without opening a file; a stock
//! client has closed by then, and reads none of it.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::store_form::{fdig_body, parse_fdig, Fdig, FDIG_LEN};
use super::token::{self, TOKEN_LEN};
use super::{check_len, Limits, ProtoError};

pub fn encode_query(cwd: &OsStr, argv: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = token::put_bytes(&mut out, token::CDIR, cwd.as_bytes());
    put_list(&mut out, argv);
    out
}

pub fn encode_answer(paths: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    put_list(&mut out, paths);
    out
}

fn put_list(out: &mut Vec<u8>, items: &[OsString]) {
    token::put(out, token::ARGC, items.len() as u32);
    for a in items {
        let _ = token::put_bytes(out, token::ARGV, a.as_bytes());
    }
}

fn read_string<R: Read>(r: &mut R, name: token::Name, limit: u32) -> Result<OsString, ProtoError> {
    let mut hdr = [0u8; TOKEN_LEN];
    r.read_exact(&mut hdr)?;
    let n = check_len(
        token::name_str(name),
        token::expect(&hdr, name)?,
        limit as u64,
    )?;
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(OsString::from_vec(buf))
}

fn read_list<R: Read>(
    r: &mut R,
    limits: &Limits,
    max_items: u32,
) -> Result<Vec<OsString>, ProtoError> {
    let mut hdr = [0u8; TOKEN_LEN];
    r.read_exact(&mut hdr)?;
    let n = check_len("ARGC", token::expect(&hdr, token::ARGC)?, max_items as u64)?;
    let mut out = Vec::with_capacity(n.min(1024));
    let mut total = 0usize;
    for _ in 0..n {
        let s = read_string(r, token::ARGV, limits.max_arg_len)?;
        total += s.len();
        if total > limits.max_argv_total.max(64 << 20) {
            return Err(ProtoError::TooLarge {
                what: "list",
                len: total as u64,
                limit: limits.max_argv_total as u64,
            });
        }
        out.push(s);
    }
    Ok(out)
}

/// Each listed path's size and digest; `None` for a link.
pub type Digests = Vec<Option<Fdig>>;

/// The `DIGS` trailer for an answer.
pub fn encode_digests(digests: &[Option<Fdig>]) -> Vec<u8> {
    let mut body = Vec::with_capacity(digests.len() * FDIG_LEN);
    for d in digests {
        match d {
            Some((size, digest)) => body.extend_from_slice(&fdig_body(*size, digest)),
            None => body.extend_from_slice(&[0xff; FDIG_LEN]),
        }
    }
    let mut out = Vec::with_capacity(TOKEN_LEN + body.len());
    // An answer's list is bounded far below 4 GB (Limits::max_files).
    let _ = token::put_bytes(&mut out, token::DIGS, &body);
    out
}

/// The `DIGS` trailer after an answer of `n` paths, if the server sent one
/// of that length (a stock include server sends none: `None`).
pub fn read_digests<R: Read>(r: &mut R, n: usize) -> Option<Digests> {
    let mut hdr = [0u8; TOKEN_LEN];
    r.read_exact(&mut hdr).ok()?;
    let len = token::expect(&hdr, token::DIGS).ok()? as usize;
    if len != n.checked_mul(FDIG_LEN)? {
        return None;
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(
        body.chunks_exact(FDIG_LEN)
            .map(|c| (c != [0xff; FDIG_LEN]).then(|| parse_fdig(c)).flatten())
            .collect(),
    )
}

/// The server side: (cwd, argv).
pub fn read_query<R: Read>(
    r: &mut R,
    limits: &Limits,
) -> Result<(OsString, Vec<OsString>), ProtoError> {
    let cwd = read_string(r, token::CDIR, limits.max_path)?;
    let argv = read_list(r, limits, limits.max_argc)?;
    Ok((cwd, argv))
}

/// The client side: the listed paths (empty: the server gave up).
pub fn read_answer<R: Read>(r: &mut R, limits: &Limits) -> Result<Vec<OsString>, ProtoError> {
    read_list(r, limits, limits.max_files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_answer_round_trip() {
        let argv = vec![
            OsString::from("gcc"),
            "-c".into(),
            OsString::from_vec(b"caf\xe9.c".to_vec()),
        ];
        let q = encode_query("/tmp/dt".as_ref(), &argv);
        assert!(q.starts_with(b"CDIR00000007/tmp/dtARGC00000003ARGV00000003gcc"));
        let (cwd, got) = read_query(&mut &q[..], &Limits::default()).unwrap();
        assert_eq!((cwd, got), ("/tmp/dt".into(), argv));
        let listed = OsString::from_vec(b"/r/o/o/\xff.h.lzo".to_vec());
        let a = encode_answer(std::slice::from_ref(&listed));
        assert_eq!(
            read_answer(&mut &a[..], &Limits::default()).unwrap(),
            vec![listed]
        );
        assert!(read_answer(&mut &b"ARGC00000000"[..], &Limits::default())
            .unwrap()
            .is_empty());
        assert!(read_answer(&mut &b"ARGCffffffff"[..], &Limits::default()).is_err());
        assert!(read_query(&mut &b"CDIR0000"[..], &Limits::default()).is_err());
    }

    #[test]
    fn digests_follow_the_answer() {
        let digs = vec![Some((7, [3u8; 32])), None, Some((0, [0u8; 32]))];
        let t = encode_digests(&digs);
        assert!(t.starts_with(b"DIGS00000078"));
        assert_eq!(read_digests(&mut &t[..], 3), Some(digs));
        // Another count, a cut body or nothing at all: no digests.
        assert_eq!(read_digests(&mut &t[..], 2), None);
        assert_eq!(read_digests(&mut &t[..t.len() - 1], 3), None);
        assert_eq!(read_digests(&mut &b""[..], 0), None);
    }
}
