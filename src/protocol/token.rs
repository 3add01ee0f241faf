//! distcc tokens: 4 ASCII name bytes followed by 8 hex digits (a u32, most
//! significant digit first). Strings and files are a token whose parameter is
//! the payload length, followed by the payload.

use super::ProtoError;

/// Every token header is exactly this long.
pub(crate) const TOKEN_LEN: usize = 12;

pub type Name = [u8; 4];

pub(crate) const DIST: Name = *b"DIST";
pub(crate) const ARGC: Name = *b"ARGC";
pub(crate) const ARGV: Name = *b"ARGV";
pub(crate) const DOTI: Name = *b"DOTI";
pub(crate) const DONE: Name = *b"DONE";
pub(crate) const STAT: Name = *b"STAT";
pub(crate) const SERR: Name = *b"SERR";
pub(crate) const SOUT: Name = *b"SOUT";
pub(crate) const DOTO: Name = *b"DOTO";
pub(crate) const DOTD: Name = *b"DOTD";
pub(crate) const CDIR: Name = *b"CDIR";
pub const NFIL: Name = *b"NFIL";
pub const NAME: Name = *b"NAME";
pub const FILE: Name = *b"FILE";
pub const LINK: Name = *b"LINK";
/// tinydcc's header store (doc/header-store.md): the manifest count, one
/// entry's size and digest, the daemon's bitmap of contents it lacks, and
/// the reply trailer that says a daemon has the store.
pub const NDIG: Name = *b"NDIG";
pub const FDIG: Name = *b"FDIG";
pub const NEED: Name = *b"NEED";
pub const HSTO: Name = *b"HSTO";
/// tinydcc's include server: each listed file's size and digest, after
/// the answer (protocol/include.rs).
pub const DIGS: Name = *b"DIGS";

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append a token header; the sender always writes lowercase hex, as distcc does.
pub fn put(out: &mut Vec<u8>, name: Name, param: u32) {
    out.extend_from_slice(&name);
    for shift in (0..8).rev() {
        out.push(HEX[((param >> (shift * 4)) & 0xf) as usize]);
    }
}

/// Append a string/file token: header with the length, then the bytes.
pub fn put_bytes(out: &mut Vec<u8>, name: Name, body: &[u8]) -> Result<(), ProtoError> {
    let len = u32::try_from(body.len()).map_err(|_| ProtoError::TooLarge {
        what: name_str(name),
        len: body.len() as u64,
        limit: u32::MAX as u64,
    })?;
    put(out, name, len);
    out.extend_from_slice(body);
    Ok(())
}

/// Parse one 12-byte header. Uppercase hex is accepted (distcc reads with
/// strtoul), but every one of the 8 characters must be a hex digit.
pub(crate) fn parse(hdr: &[u8]) -> Result<(Name, u32), ProtoError> {
    if hdr.len() < TOKEN_LEN {
        return Err(ProtoError::Truncated);
    }
    let mut name = [0u8; 4];
    name.copy_from_slice(&hdr[..4]);
    let mut val: u32 = 0;
    for &c in &hdr[4..TOKEN_LEN] {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(ProtoError::BadHex(printable(&hdr[..TOKEN_LEN]))),
        };
        val = (val << 4) | d as u32;
    }
    Ok((name, val))
}

/// Parse a header and insist on its name.
pub(crate) fn expect(hdr: &[u8], want: Name) -> Result<u32, ProtoError> {
    // The name is checked first: "GET / HTTP" is a wrong token, not bad hex.
    if hdr.len() >= 4 && hdr[..4] != want {
        return Err(ProtoError::UnexpectedToken {
            expected: name_str(want),
            got: printable(&hdr[..hdr.len().min(TOKEN_LEN)]),
        });
    }
    Ok(parse(hdr)?.1)
}

pub(crate) fn name_str(name: Name) -> &'static str {
    match &name {
        b"DIST" => "DIST",
        b"ARGC" => "ARGC",
        b"ARGV" => "ARGV",
        b"DOTI" => "DOTI",
        b"DONE" => "DONE",
        b"STAT" => "STAT",
        b"SERR" => "SERR",
        b"SOUT" => "SOUT",
        b"DOTO" => "DOTO",
        b"DOTD" => "DOTD",
        b"CDIR" => "CDIR",
        b"NFIL" => "NFIL",
        b"NAME" => "NAME",
        b"FILE" => "FILE",
        b"LINK" => "LINK",
        b"NDIG" => "NDIG",
        b"FDIG" => "FDIG",
        b"NEED" => "NEED",
        b"HSTO" => "HSTO",
        _ => "????",
    }
}

/// Bytes shown in an error message: never raw control characters in a log.
pub(crate) fn printable(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lowercase_fixed_width() {
        let mut v = Vec::new();
        put(&mut v, DOTI, 0x127d);
        assert_eq!(v, b"DOTI0000127d");
        v.clear();
        put(&mut v, STAT, u32::MAX);
        assert_eq!(v, b"STATffffffff");
        v.clear();
        put(&mut v, DIST, 0);
        assert_eq!(v, b"DIST00000000");
    }

    #[test]
    fn every_token_round_trips() {
        for name in [
            DIST, ARGC, ARGV, DOTI, DONE, STAT, SERR, SOUT, DOTO, DOTD, CDIR, NFIL, NAME, FILE,
            LINK, NDIG, FDIG, NEED, HSTO,
        ] {
            for val in [0u32, 1, 0x100, 0xdead_beef, u32::MAX] {
                let mut v = Vec::new();
                put(&mut v, name, val);
                assert_eq!(v.len(), TOKEN_LEN);
                assert_eq!(parse(&v).unwrap(), (name, val));
                assert_eq!(expect(&v, name).unwrap(), val);
                assert_eq!(name_str(name).as_bytes(), &name);
            }
        }
    }

    #[test]
    fn uppercase_hex_accepted() {
        assert_eq!(parse(b"DOTO0000ABCD").unwrap(), (DOTO, 0xabcd));
    }

    #[test]
    fn bad_hex_rejected() {
        for bad in [
            &b"DOTI0000127g"[..],
            b"DOTI 000127d",
            b"DOTI-0000001",
            b"DOTI0x00127d",
            b"DOTI\0\0\0\0\0\0\0\0",
        ] {
            assert!(matches!(parse(bad), Err(ProtoError::BadHex(_))), "{bad:?}");
        }
    }

    #[test]
    fn wrong_token_rejected() {
        let e = expect(b"ARGC00000001", DIST).unwrap_err();
        assert!(matches!(e, ProtoError::UnexpectedToken { .. }));
        assert!(e.to_string().contains("DIST"));
        assert!(e.to_string().contains("ARGC"));
        // garbage names are shown escaped, never raw
        let e = expect(b"\x01\x02GE00000001", DIST).unwrap_err();
        assert!(e.to_string().contains("\\x01"));
    }

    #[test]
    fn truncated_rejected() {
        assert!(matches!(parse(b"DIST0000"), Err(ProtoError::Truncated)));
        assert!(matches!(parse(b""), Err(ProtoError::Truncated)));
    }

    #[test]
    fn put_bytes_writes_length_then_body() {
        let mut v = Vec::new();
        put_bytes(&mut v, ARGV, b"gcc").unwrap();
        assert_eq!(v, b"ARGV00000003gcc");
    }
}
