//! The store form of protocol 3 (doc/header-store.md), spoken only between
//! a tinydcc client and a tinydcc daemon that has the header store:
//!
//! - the reply trailer `HSTO<version>`, sent after the last token of every
//!   protocol-3 reply (stock clients have closed by then);
//! - in the request, `NDIG<n>` instead of `NFIL<n>`, each entry `NAME` then
//!   `LINK` as usual or `FDIG<40>`: the content's size (u64, little-endian)
//!   and SHA-256;
//! - the daemon's `NEED<len>` bitmap (bit i, least significant first, set:
//!   send entry i), then one `FILE` (LZO, as in protocol 3) per set bit.

use std::io::Read;

use super::token::{self, TOKEN_LEN};
use super::ProtoError;

/// The header store's version in the trailer; 0: the daemon has it off.
pub const STORE_VERSION: u32 = 1;

/// An FDIG body's length: size u64 and a 32-byte digest.
pub const FDIG_LEN: usize = 40;

/// A text's size and SHA-256, as an FDIG body carries them.
pub type Fdig = (u64, [u8; 32]);

/// The trailer a tinydcc daemon appends to a protocol-3 reply.
pub fn trailer(version: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(TOKEN_LEN);
    token::put(&mut out, token::HSTO, version);
    out
}

/// What follows the last token of a protocol-3 reply: a tinydcc daemon's
/// store version (`Some(0)`: store off), or `None` for anything else (a
/// stock distccd sends nothing).
pub fn parse_trailer(bytes: &[u8]) -> Option<u32> {
    if bytes.len() != TOKEN_LEN {
        return None;
    }
    token::expect(bytes, token::HSTO).ok()
}

/// `NDIG<n>`: a manifest of `n` entries follows.
pub fn put_ndig(out: &mut Vec<u8>, count: u32) {
    token::put(out, token::NDIG, count);
}

/// One content entry: `NAME` then `FDIG` with its size and digest.
pub fn put_fdig(
    out: &mut Vec<u8>,
    name: &[u8],
    size: u64,
    digest: &[u8; 32],
) -> Result<(), ProtoError> {
    token::put_bytes(out, token::NAME, name)?;
    token::put_bytes(out, token::FDIG, &fdig_body(size, digest))
}

pub fn fdig_body(size: u64, digest: &[u8; 32]) -> [u8; FDIG_LEN] {
    let mut b = [0u8; FDIG_LEN];
    b[..8].copy_from_slice(&size.to_le_bytes());
    b[8..].copy_from_slice(digest);
    b
}

/// An FDIG body's size and digest; `None` unless exactly `FDIG_LEN` bytes.
pub fn parse_fdig(b: &[u8]) -> Option<Fdig> {
    if b.len() != FDIG_LEN {
        return None;
    }
    let mut size = [0u8; 8];
    size.copy_from_slice(&b[..8]);
    let mut d = [0u8; 32];
    d.copy_from_slice(&b[8..]);
    Some((u64::from_le_bytes(size), d))
}

/// `NEED` and its bitmap for a manifest of `needed.len()` entries.
pub fn encode_need(needed: &[bool]) -> Vec<u8> {
    let mut map = vec![0u8; needed.len().div_ceil(8)];
    for (i, _) in needed.iter().enumerate().filter(|(_, n)| **n) {
        map[i / 8] |= 1 << (i % 8);
    }
    let mut out = Vec::with_capacity(TOKEN_LEN + map.len());
    // A manifest is capped by `Limits::max_files`: far below 4 GiB.
    let _ = token::put_bytes(&mut out, token::NEED, &map);
    out
}

/// Read the daemon's NEED for a manifest of `count` entries (blocking).
pub fn read_need<R: Read>(r: &mut R, count: usize) -> Result<Vec<bool>, ProtoError> {
    let mut hdr = [0u8; TOKEN_LEN];
    r.read_exact(&mut hdr)?;
    let len = token::expect(&hdr, token::NEED)? as usize;
    if len != count.div_ceil(8) {
        return Err(ProtoError::UnexpectedToken {
            expected: "NEED with one bit per manifest entry",
            got: token::printable(&hdr),
        });
    }
    let mut map = vec![0u8; len];
    r.read_exact(&mut map)?;
    Ok((0..count)
        .map(|i| map[i / 8] & (1 << (i % 8)) != 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_round_trips_for_every_length() {
        for n in [0usize, 1, 7, 8, 9, 700] {
            let needed: Vec<bool> = (0..n).map(|i| i % 3 == 1).collect();
            let wire = encode_need(&needed);
            assert_eq!(wire.len(), TOKEN_LEN + n.div_ceil(8));
            assert_eq!(read_need(&mut &wire[..], n).unwrap(), needed);
        }
        assert_eq!(encode_need(&[true, false, true]), b"NEED00000001\x05");
    }

    #[test]
    fn need_of_the_wrong_length_is_refused() {
        let wire = encode_need(&[true; 9]);
        assert!(read_need(&mut &wire[..], 8).is_err());
        assert!(matches!(
            read_need(&mut &wire[..5], 9),
            Err(ProtoError::Truncated)
        ));
        // A stock distccd answers a request it cannot read by closing.
        assert!(matches!(
            read_need(&mut &b""[..], 3),
            Err(ProtoError::Truncated)
        ));
    }

    #[test]
    fn trailer_and_fdig_round_trip() {
        assert_eq!(trailer(1), b"HSTO00000001");
        assert_eq!(parse_trailer(&trailer(1)), Some(1));
        assert_eq!(parse_trailer(&trailer(0)), Some(0));
        assert_eq!(parse_trailer(b""), None);
        assert_eq!(parse_trailer(b"DOTD00000000"), None);
        assert_eq!(parse_trailer(b"HSTO0000000"), None);
        let d = [7u8; 32];
        assert_eq!(parse_fdig(&fdig_body(12345, &d)), Some((12345, d)));
        assert_eq!(parse_fdig(&[0u8; 39]), None);
        let mut out = Vec::new();
        put_fdig(&mut out, b"/a.h", 3, &d).unwrap();
        assert!(out.starts_with(b"NAME00000004/a.hFDIG00000028"));
    }
}
