//! One result-cache entry on disk, checked as a whole when read:
//!
//! ```text
//! magic "tdcentry" | format u32 | key 32 | flags u32 |
//! object length u64 | stderr length u64 | .d length u64 |
//! object | stderr | .d | digest of everything before it (32)
//! ```
//!
//! Integers are little-endian. `flags` bit 0: a `.d` file is present (an
//! empty one differs from none). Any mismatch (magic, format, key, lengths
//! against the file's size, trailing digest) makes the entry corrupt.

use std::ops::Range;

use super::digest::{Digest, Hasher, FORMAT_VERSION};

const MAGIC: &[u8; 8] = b"tdcentry";
pub const HEADER: usize = 8 + 4 + 32 + 4 + 3 * 8;
pub const TRAILER: usize = 32;
const HAS_DEP: u32 = 1;

/// What a successful compile produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub object: &'a [u8],
    /// The compiler's warnings (its stderr), replayed on a hit.
    pub stderr: &'a [u8],
    /// The dependency file (pump mode), when the compile wrote one.
    pub dep: Option<&'a [u8]>,
}

impl Entry<'_> {
    /// Bytes of the encoded entry.
    pub fn encoded_len(&self) -> usize {
        HEADER + self.object.len() + self.stderr.len() + self.dep.map_or(0, <[u8]>::len) + TRAILER
    }

    /// The entry as stored under `key`, in pieces to write one after the
    /// other (the object is not copied).
    pub fn pieces<'a>(&'a self, key: &Digest) -> ([u8; HEADER], [&'a [u8]; 3], [u8; TRAILER]) {
        let mut head = [0u8; HEADER];
        head[..8].copy_from_slice(MAGIC);
        head[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        head[12..44].copy_from_slice(&key.0);
        let flags = if self.dep.is_some() { HAS_DEP } else { 0 };
        head[44..48].copy_from_slice(&flags.to_le_bytes());
        let body = [self.object, self.stderr, self.dep.unwrap_or_default()];
        for (i, part) in body.iter().enumerate() {
            head[48 + 8 * i..56 + 8 * i].copy_from_slice(&(part.len() as u64).to_le_bytes());
        }
        let mut h = Hasher::new();
        h.update(&head);
        for part in body {
            h.update(part);
        }
        (head, body, h.finish().0)
    }

    /// The entry as stored under `key`, in one buffer.
    pub fn encode(&self, key: &Digest) -> Vec<u8> {
        let (head, body, trailer) = self.pieces(key);
        let mut v = Vec::with_capacity(self.encoded_len());
        v.extend_from_slice(&head);
        for part in body {
            v.extend_from_slice(part);
        }
        v.extend_from_slice(&trailer);
        v
    }
}

/// Where an intact entry's parts lie in its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spans {
    pub object: Range<usize>,
    pub stderr: Range<usize>,
    pub dep: Option<Range<usize>>,
}

impl Spans {
    pub fn entry<'a>(&self, bytes: &'a [u8]) -> Entry<'a> {
        Entry {
            object: &bytes[self.object.clone()],
            stderr: &bytes[self.stderr.clone()],
            dep: self.dep.clone().map(|r| &bytes[r]),
        }
    }
}

/// Why stored bytes are not a usable entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corrupt {
    /// Shorter than its header, or its lengths do not add up to its size
    /// (a truncated or grown file).
    Length,
    /// Not an entry of this format (magic, format version or flags).
    Format,
    /// Stored under another key.
    Key,
    /// The trailing digest does not match the bytes.
    Digest,
}

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Corrupt::Length => "truncated or wrong length",
            Corrupt::Format => "not an entry of this format",
            Corrupt::Key => "stored under another key",
            Corrupt::Digest => "digest mismatch",
        })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// The entry in `bytes`, if they are one whole, intact entry for `key`
/// (the daemon uses `check`, which keeps the bytes where they are).
#[cfg(any(test, feature = "fuzzing"))]
pub fn decode<'a>(bytes: &'a [u8], key: &Digest) -> Result<Entry<'a>, Corrupt> {
    Ok(check(bytes, key)?.entry(bytes))
}

/// Where the parts of the entry in `bytes` lie, if they are one whole,
/// intact entry for `key`.
pub fn check(bytes: &[u8], key: &Digest) -> Result<Spans, Corrupt> {
    if bytes.len() < HEADER + TRAILER {
        return Err(Corrupt::Length);
    }
    if &bytes[..8] != MAGIC || u32_at(bytes, 8) != FORMAT_VERSION {
        return Err(Corrupt::Format);
    }
    let flags = u32_at(bytes, 44);
    if flags & !HAS_DEP != 0 || (flags & HAS_DEP == 0 && u64_at(bytes, 64) != 0) {
        return Err(Corrupt::Format);
    }
    let lens = [u64_at(bytes, 48), u64_at(bytes, 56), u64_at(bytes, 64)];
    let body = bytes.len() - HEADER - TRAILER;
    let total = lens
        .iter()
        .try_fold(0u64, |acc, &n| acc.checked_add(n))
        .ok_or(Corrupt::Length)?;
    if total != body as u64 {
        return Err(Corrupt::Length);
    }
    let (signed, trailer) = bytes.split_at(bytes.len() - TRAILER);
    if Digest::of(signed).0 != trailer {
        return Err(Corrupt::Digest);
    }
    if bytes[12..44] != key.0 {
        return Err(Corrupt::Key);
    }
    // The lengths add up to `body`, so each fits in usize.
    let o = HEADER + lens[0] as usize;
    let e = o + lens[1] as usize;
    Ok(Spans {
        object: HEADER..o,
        stderr: o..e,
        dep: (flags & HAS_DEP != 0).then_some(e..e + lens[2] as usize),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Digest, Vec<u8>) {
        let key = Digest::of(b"key");
        let e = Entry {
            object: b"\x7fELF object",
            stderr: b"a.c:1: warning: x\n",
            dep: Some(b"a.o: a.c a.h\n"),
        };
        let v = e.encode(&key);
        assert_eq!(v.len(), e.encoded_len());
        (key, v)
    }

    #[test]
    fn round_trip() {
        let (key, v) = sample();
        let e = decode(&v, &key).unwrap();
        assert_eq!(e.object, b"\x7fELF object");
        assert_eq!(e.stderr, b"a.c:1: warning: x\n");
        assert_eq!(e.dep, Some(&b"a.o: a.c a.h\n"[..]));
        for dep in [None, Some(&b""[..])] {
            let e = Entry {
                object: b"",
                stderr: b"",
                dep,
            };
            assert_eq!(decode(&e.encode(&key), &key), Ok(e));
        }
    }

    #[test]
    fn every_damage_is_caught() {
        let (key, v) = sample();
        for cut in [0, 10, HEADER, v.len() - 1] {
            assert_eq!(decode(&v[..cut], &key), Err(Corrupt::Length), "cut {cut}");
        }
        let mut longer = v.clone();
        longer.push(0);
        assert!(decode(&longer, &key).is_err());
        // Any flipped bit anywhere is caught.
        for i in 0..v.len() {
            let mut w = v.clone();
            w[i] ^= 0x10;
            assert!(decode(&w, &key).is_err(), "byte {i}");
        }
        assert_eq!(decode(&v, &Digest::of(b"other")), Err(Corrupt::Key));
    }

    #[test]
    fn the_fuzz_seed_is_an_entry() {
        let v = include_bytes!("../../tests/fuzz/regressions/store/valid-with-dep");
        let mut key = Digest([0; 32]);
        key.0.copy_from_slice(&v[12..44]);
        let e = decode(v, &key).unwrap();
        assert_eq!(e.dep, Some(&b"a.o: a.c a.h\n"[..]));
        assert_eq!(e.encode(&key), v);
    }

    #[test]
    fn lengths_that_overflow_are_corrupt() {
        let (key, mut v) = sample();
        v[48..56].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode(&v, &key), Err(Corrupt::Length));
    }
}
