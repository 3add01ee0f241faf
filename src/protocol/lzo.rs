//! LZO1X as distcc uses it: one raw LZO1X-1 block per payload, no header, no
//! length, no checksum. Compression comes from the `lzo1x` crate. The
//! decompressor is our own because the receiver never learns the
//! uncompressed size: it grows the output as it goes and stops at a hard
//! limit, so a small hostile stream cannot make us allocate without bound.
//! The format follows the kernel's description (Documentation/staging/lzo.rst).

use super::ProtoError;

/// Compress a whole payload. Empty input stays empty: distcc sends a
/// zero-length token with no LZO stream for empty files.
pub fn compress(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    // Level 3 is lzo1x_1 with 14 dictionary bits, what distcc's minilzo uses.
    lzo1x::compress(data, lzo1x::CompressLevel::new(3))
}

fn bad(why: &'static str) -> ProtoError {
    ProtoError::Lzo(why)
}

struct In<'a> {
    src: &'a [u8],
    pos: usize,
}

impl In<'_> {
    fn byte(&mut self) -> Result<u8, ProtoError> {
        let b = *self.src.get(self.pos).ok_or(bad("truncated stream"))?;
        self.pos += 1;
        Ok(b)
    }
    fn le16(&mut self) -> Result<usize, ProtoError> {
        let lo = self.byte()? as usize;
        let hi = self.byte()? as usize;
        Ok(lo | (hi << 8))
    }
    /// Length extension: zero bytes add 255 each, then a non-zero byte ends it.
    fn long_len(&mut self, base: usize) -> Result<usize, ProtoError> {
        let mut n = base;
        loop {
            let b = self.byte()?;
            if b == 0 {
                n = n.checked_add(255).ok_or(bad("length overflow"))?;
                if n > (1 << 30) {
                    return Err(bad("length overflow"));
                }
            } else {
                return Ok(n + b as usize);
            }
        }
    }
    fn take(&mut self, n: usize) -> Result<&[u8], ProtoError> {
        let end = self.pos.checked_add(n).ok_or(bad("truncated stream"))?;
        let s = self.src.get(self.pos..end).ok_or(bad("truncated stream"))?;
        self.pos = end;
        Ok(s)
    }
}

fn copy_literals(inp: &mut In, out: &mut Vec<u8>, n: usize, max: usize) -> Result<(), ProtoError> {
    if out.len() + n > max {
        return Err(ProtoError::TooLarge {
            what: "decompressed payload",
            len: (out.len() + n) as u64,
            limit: max as u64,
        });
    }
    out.extend_from_slice(inp.take(n)?);
    Ok(())
}

fn copy_match(out: &mut Vec<u8>, dist: usize, len: usize, max: usize) -> Result<(), ProtoError> {
    if dist == 0 || dist > out.len() {
        return Err(bad("match distance before start of output"));
    }
    if out.len() + len > max {
        return Err(ProtoError::TooLarge {
            what: "decompressed payload",
            len: (out.len() + len) as u64,
            limit: max as u64,
        });
    }
    let start = out.len() - dist;
    if dist >= len {
        out.extend_from_within(start..start + len);
    } else {
        // Overlapping copy repeats the last `dist` bytes.
        for i in 0..len {
            let b = out[start + i];
            out.push(b);
        }
    }
    Ok(())
}

/// Decompress one LZO1X stream, refusing to produce more than `max` bytes.
/// An empty input is an empty payload.
pub(crate) fn decompress(src: &[u8], max: usize) -> Result<Vec<u8>, ProtoError> {
    if src.is_empty() {
        return Ok(Vec::new());
    }
    let mut inp = In { src, pos: 0 };
    // Start with a guess and let the Vec grow; never trust a size from the wire.
    let mut out = Vec::with_capacity((src.len() * 3).min(max).min(1 << 20));
    // `state`: literals copied by the previous instruction (4 means "4 or more").
    let mut state: usize;
    let first = src[0];
    if first > 17 {
        inp.pos = 1;
        let n = first as usize - 17;
        copy_literals(&mut inp, &mut out, n, max)?;
        state = n.min(4);
    } else {
        state = 0;
    }
    loop {
        let insn = inp.byte()? as usize;
        let (len, dist, next_lits) = if insn < 16 {
            match state {
                0 => {
                    // Long literal run of at least 4 bytes.
                    let n = if insn == 0 { inp.long_len(15)? } else { insn } + 3;
                    copy_literals(&mut inp, &mut out, n, max)?;
                    state = 4;
                    continue;
                }
                1..=3 => {
                    let h = inp.byte()? as usize;
                    (2, (h << 2) + (insn >> 2) + 1, insn & 3)
                }
                _ => {
                    let h = inp.byte()? as usize;
                    (3, (h << 2) + (insn >> 2) + 2049, insn & 3)
                }
            }
        } else if insn < 32 {
            let l = insn & 7;
            let len = if l == 0 { inp.long_len(7)? } else { l } + 2;
            let v = inp.le16()?;
            let dist = 16384 + ((insn & 8) << 11) + (v >> 2);
            if dist == 16384 {
                // End-of-stream marker; it must be the last thing in the input.
                if inp.pos != src.len() {
                    return Err(bad("data after end of stream"));
                }
                return Ok(out);
            }
            (len, dist, v & 3)
        } else if insn < 64 {
            let l = insn & 31;
            let len = if l == 0 { inp.long_len(31)? } else { l } + 2;
            let v = inp.le16()?;
            (len, (v >> 2) + 1, v & 3)
        } else {
            let h = inp.byte()? as usize;
            let dist = (h << 3) + ((insn >> 2) & 7) + 1;
            let len = if insn < 128 {
                3 + ((insn >> 5) & 1)
            } else {
                5 + ((insn >> 5) & 3)
            };
            (len, dist, insn & 3)
        };
        copy_match(&mut out, dist, len, max)?;
        copy_literals(&mut inp, &mut out, next_lits, max)?;
        state = next_lits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, seed: u32) -> Vec<u8> {
        // Text-like data with repeats, plus some noise, so every instruction kind appears.
        let words = [
            &b"int "[..],
            b"static ",
            b"return ",
            b"#include <stdio.h>\n",
            b"{\n",
            b"}\n",
            b"printf(\"Hello distcc\\n\");\n",
        ];
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if x % 7 == 0 {
                v.push((x >> 8) as u8);
            } else {
                v.extend_from_slice(words[(x as usize >> 3) % words.len()]);
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn round_trips_against_the_crate() {
        for (i, n) in [1usize, 2, 3, 4, 17, 18, 100, 1000, 4096, 70_000, 300_000]
            .iter()
            .enumerate()
        {
            let data = sample(*n, i as u32);
            for level in [1u8, 3, 9, 13] {
                let c = lzo1x::compress(&data, lzo1x::CompressLevel::new(level));
                assert_eq!(
                    decompress(&c, 1 << 24).unwrap(),
                    data,
                    "n={n} level={level}"
                );
            }
            assert_eq!(decompress(&compress(&data), 1 << 24).unwrap(), data);
        }
    }

    #[test]
    fn highly_repetitive_data() {
        let data = vec![0xaa; 1 << 20];
        let c = compress(&data);
        assert!(c.len() < 10_000);
        assert_eq!(decompress(&c, 1 << 21).unwrap(), data);
    }

    #[test]
    fn empty_is_empty() {
        assert!(compress(b"").is_empty());
        assert!(decompress(b"", 10).unwrap().is_empty());
    }

    #[test]
    fn output_limit_enforced() {
        let data = vec![0u8; 100_000];
        let c = compress(&data);
        assert!(matches!(
            decompress(&c, 50_000),
            Err(ProtoError::TooLarge { .. })
        ));
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let data = sample(20_000, 7);
        let c = compress(&data);
        for cut in [1, 2, 5, c.len() / 2, c.len() - 1] {
            assert!(decompress(&c[..cut], 1 << 24).is_err(), "cut {cut}");
        }
        // Flip bytes everywhere: must return Ok or Err, never panic.
        for i in 0..c.len().min(3000) {
            let mut m = c.clone();
            m[i] ^= 0x5a;
            let _ = decompress(&m, 1 << 22);
        }
        let mut x = 12345u32;
        for len in 0..400 {
            let g: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = decompress(&g, 1 << 20);
        }
    }

    #[test]
    fn trailing_bytes_after_end_marker_rejected() {
        let mut c = compress(b"hello hello hello hello");
        c.push(0);
        assert!(decompress(&c, 1000).is_err());
    }
}
