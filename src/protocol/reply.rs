//! Server → client reply: `DONE STAT SERR SOUT DOTO [DOTD]`.
//! In v2/v3 the SERR, SOUT, DOTO and DOTD payloads are LZO-compressed.

use std::io::Read;

use super::status::WaitStatus;
use super::token::{self, Name, TOKEN_LEN};
use super::{access_denied, check_len, lzo, Features, Limits, ProtoError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Those of the request it answers.
    pub features: Features,
    pub status: WaitStatus,
    pub stderr: Vec<u8>,
    pub stdout: Vec<u8>,
    pub object: Vec<u8>,
    /// v3 only, and only after a successful compile.
    pub dotd: Option<Vec<u8>>,
}

impl Reply {
    /// An empty reply with `status`, to a request with `features`.
    pub fn new(features: Features, status: WaitStatus) -> Reply {
        Reply {
            features,
            status,
            stderr: Vec::new(),
            stdout: Vec::new(),
            object: Vec::new(),
            dotd: None,
        }
    }
}

fn put_payload(
    out: &mut Vec<u8>,
    features: Features,
    name: Name,
    data: &[u8],
) -> Result<(), ProtoError> {
    if features.compress() {
        token::put_bytes(out, name, &lzo::compress(data))
    } else {
        token::put_bytes(out, name, data)
    }
}

/// Everything up to, and including, the DOTO header, for a request whose
/// payloads are not compressed (protocol 1, or 0): the object body
/// follows uncompressed, so the caller can send it straight from the file.
pub(crate) fn encode_head_v1(
    features: Features,
    status: WaitStatus,
    stderr: &[u8],
    stdout: &[u8],
    object_len: u32,
) -> Result<Vec<u8>, ProtoError> {
    let mut out = Vec::with_capacity(5 * TOKEN_LEN + stderr.len() + stdout.len());
    token::put(&mut out, token::DONE, features.version());
    token::put(&mut out, token::STAT, status.0);
    token::put_bytes(&mut out, token::SERR, stderr)?;
    token::put_bytes(&mut out, token::SOUT, stdout)?;
    token::put(&mut out, token::DOTO, object_len);
    Ok(out)
}

/// A whole reply in memory (any version).
pub(crate) fn encode(reply: &Reply) -> Result<Vec<u8>, ProtoError> {
    let v = reply.features;
    let mut out = Vec::with_capacity(6 * TOKEN_LEN + reply.object.len() + reply.stderr.len());
    token::put(&mut out, token::DONE, v.version());
    token::put(&mut out, token::STAT, reply.status.0);
    put_payload(&mut out, v, token::SERR, &reply.stderr)?;
    put_payload(&mut out, v, token::SOUT, &reply.stdout)?;
    put_payload(&mut out, v, token::DOTO, &reply.object)?;
    if let Some(d) = &reply.dotd {
        put_payload(&mut out, v, token::DOTD, d)?;
    }
    Ok(out)
}

fn read_header<R: Read>(r: &mut R, want: Name) -> Result<u32, ProtoError> {
    let mut hdr = [0u8; TOKEN_LEN];
    r.read_exact(&mut hdr)?;
    token::expect(&hdr, want)
}

/// Read exactly `len` bytes, growing the buffer only as data arrives.
fn read_body<R: Read>(r: &mut R, len: usize) -> Result<Vec<u8>, ProtoError> {
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    let got = r.take(len as u64).read_to_end(&mut buf)?;
    if got != len {
        return Err(ProtoError::Truncated);
    }
    Ok(buf)
}

fn read_payload<R: Read>(
    r: &mut R,
    features: Features,
    name: Name,
    limits: &Limits,
) -> Result<Vec<u8>, ProtoError> {
    let n = read_header(r, name)?;
    let n = check_len(token::name_str(name), n, limits.max_payload as u64)?;
    let body = read_body(r, n)?;
    if features.compress() {
        lzo::decompress(&body, limits.max_decompressed)
    } else {
        Ok(body)
    }
}

/// Blocking read of a whole reply to a request with `features`.
pub fn read<R: Read>(r: &mut R, features: Features, limits: &Limits) -> Result<Reply, ProtoError> {
    let mut hdr = [0u8; TOKEN_LEN];
    r.read_exact(&mut hdr)?;
    // A tinydcc daemon that refuses us says so in one line instead of DONE.
    if access_denied::may_start(&hdr) {
        if let Some(d) = access_denied::read_rest(&hdr, r) {
            return Err(ProtoError::AccessDenied(d));
        }
    }
    let got = token::expect(&hdr, token::DONE)?;
    if got != features.version() {
        return Err(ProtoError::UnexpectedToken {
            expected: "DONE with the request's version",
            got: format!("DONE{got:08x}"),
        });
    }
    let status = WaitStatus(read_header(r, token::STAT)?);
    let stderr = read_payload(r, features, token::SERR, limits)?;
    let stdout = read_payload(r, features, token::SOUT, limits)?;
    let object = read_payload(r, features, token::DOTO, limits)?;
    let dotd = if features.cpp_on_server() && status.success() {
        Some(read_payload(r, features, token::DOTD, limits)?)
    } else {
        None
    };
    Ok(Reply {
        features,
        status,
        stderr,
        stdout,
        object,
        dotd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(version: u32) -> Features {
        Features::from_version(version).unwrap()
    }

    fn sample(version: u32) -> Reply {
        Reply {
            features: f(version),
            status: WaitStatus(0),
            stderr: b"x.c:1:1: warning: something\n".to_vec(),
            stdout: vec![],
            object: b"\x7fELF".repeat(300),
            dotd: (version == 3).then(|| b"x.o: x.c\n".to_vec()),
        }
    }

    #[test]
    fn round_trip_all_versions() {
        for v in [1, 2, 3] {
            let r = sample(v);
            let wire = encode(&r).unwrap();
            assert_eq!(read(&mut &wire[..], f(v), &Limits::default()).unwrap(), r);
        }
    }

    #[test]
    fn v1_reply_matches_distcc_bytes() {
        let r = Reply {
            stderr: b"err".to_vec(),
            ..Reply::new(Features::PLAIN, WaitStatus(0x100))
        };
        assert_eq!(
            encode(&r).unwrap(),
            b"DONE00000001STAT00000100SERR00000003errSOUT00000000DOTO00000000"
        );
    }

    #[test]
    fn head_v1_then_object_equals_whole() {
        let r = sample(1);
        let mut wire = encode_head_v1(
            r.features,
            r.status,
            &r.stderr,
            &r.stdout,
            r.object.len() as u32,
        )
        .unwrap();
        wire.extend_from_slice(&r.object);
        assert_eq!(wire, encode(&r).unwrap());
    }

    #[test]
    fn version_zero_is_echoed_in_done() {
        // distccd takes 0 like 1 and answers DONE00000000; so do both encoders.
        let mut r = sample(0);
        assert!(encode(&r)
            .unwrap()
            .starts_with(b"DONE00000000STAT00000000SERR0000001c"));
        let head = encode_head_v1(r.features, r.status, &r.stderr, &r.stdout, 4).unwrap();
        assert!(head.starts_with(b"DONE00000000"));
        r.object = b"\x7fELF".to_vec();
        let wire = encode(&r).unwrap();
        assert_eq!(read(&mut &wire[..], f(0), &Limits::default()).unwrap(), r);
    }

    #[test]
    fn no_dotd_after_failure_in_v3() {
        let r = Reply::new(Features::PUMP, WaitStatus(0x100));
        let wire = encode(&r).unwrap();
        assert_eq!(
            read(&mut &wire[..], Features::PUMP, &Limits::default()).unwrap(),
            r
        );
    }

    #[test]
    fn wrong_version_in_done() {
        let wire = encode(&sample(1)).unwrap();
        assert!(read(&mut &wire[..], Features::LZO, &Limits::default()).is_err());
    }

    #[test]
    fn truncated_reply() {
        let wire = encode(&sample(2)).unwrap();
        for cut in [0, 6, 12, 30, wire.len() - 1] {
            let e = read(&mut &wire[..cut], Features::LZO, &Limits::default()).unwrap_err();
            assert!(matches!(e, ProtoError::Truncated), "cut {cut}: {e}");
        }
    }

    #[test]
    fn oversized_payload_claim() {
        let wire = b"DONE00000001STAT00000000SERRfffffff0";
        let limits = Limits {
            max_payload: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(
            read(&mut &wire[..], Features::PLAIN, &limits),
            Err(ProtoError::TooLarge { .. })
        ));
    }

    #[test]
    fn refusal_line_instead_of_done() {
        let d = access_denied::Denied {
            server: "10.0.0.1".parse().unwrap(),
            client: "192.168.0.80".parse().unwrap(),
        };
        let wire = access_denied::line(&d);
        for v in [1, 2, 3] {
            match read(&mut &wire[..], f(v), &Limits::default()) {
                Err(ProtoError::AccessDenied(got)) => assert_eq!(got, d),
                other => panic!("{other:?}"),
            }
        }
        // Not quite the line: still a derailment, as before.
        let e = read(
            &mut &b"distccd: no
"[..],
            Features::PLAIN,
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, ProtoError::UnexpectedToken { .. }), "{e}");
    }

    #[test]
    fn garbage_reply() {
        let e = read(
            &mut &b"HTTP/1.0 400 Bad Request\r\n"[..],
            Features::PLAIN,
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, ProtoError::UnexpectedToken { .. }));
    }
}
