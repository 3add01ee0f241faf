//! Client → server request.
//!
//! v1/v2: `DIST ARGC ARGV… DOTI`; v3 (pump): `DIST CDIR ARGC ARGV… NFIL
//! {NAME (FILE|LINK)}…`, or its store form (`NDIG`, doc/header-store.md,
//! `store_form`) which pauses after the manifest for the daemon's NEED
//! and then reads the FILE bodies asked for. The encoder is used by the client, the incremental
//! decoder by the daemon's event loop: it accepts whatever bytes have arrived
//! and never allocates more than has actually been received.
//!
//! Over 800 lines with its tests (the code is the first 560): the
//! decoder's tests cut every message at every byte, so they stay beside it.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::store_form::{parse_fdig, FDIG_LEN};
use super::token::{self, TOKEN_LEN};
use super::{check_len, lzo, Features, Limits, ProtoError};

/// One file or symlink shipped in a pump request. Names, the argv and the
/// working directory are bytes on the wire, as in distcc: a file name need
/// not be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PumpEntry {
    File {
        name: OsString,
        data: Vec<u8>,
    },
    Link {
        name: OsString,
        target: OsString,
    },
    /// Store form (`NDIG`): a content named by size and digest; `data`
    /// (decompressed) once the client has sent it because the daemon
    /// lacked it. The digest is the client's word until checked.
    Stored {
        name: OsString,
        size: u64,
        digest: [u8; 32],
        data: Option<Vec<u8>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub features: Features,
    pub argv: Vec<OsString>,
    /// v3 only: the client's working directory.
    pub cwd: Option<OsString>,
    /// v1/v2: the preprocessed source, decompressed.
    pub doti: Vec<u8>,
    /// v3 only.
    pub files: Vec<PumpEntry>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            features: Features::PLAIN,
            argv: Vec::new(),
            cwd: None,
            doti: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// DIST + ARGC + ARGV…, sent while the client's cpp still runs.
pub fn encode_header(features: Features, cwd: Option<&OsStr>, argv: &[OsString]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + argv.iter().map(|a| a.len() + 12).sum::<usize>());
    token::put(&mut out, token::DIST, features.version());
    if let Some(cwd) = cwd {
        // Paths and args never approach 4 GiB; put_bytes cannot fail here.
        let _ = token::put_bytes(&mut out, token::CDIR, cwd.as_bytes());
    }
    token::put(&mut out, token::ARGC, argv.len() as u32);
    for a in argv {
        let _ = token::put_bytes(&mut out, token::ARGV, a.as_bytes());
    }
    out
}

/// The DOTI token and its payload, compressed for v2.
pub(crate) fn encode_doti(features: Features, source: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let mut out = Vec::new();
    if features.compress() {
        let c = lzo::compress(source);
        out.reserve(c.len() + TOKEN_LEN);
        token::put_bytes(&mut out, token::DOTI, &c)?;
    } else {
        out.reserve(source.len() + TOKEN_LEN);
        token::put_bytes(&mut out, token::DOTI, source)?;
    }
    Ok(out)
}

/// v3: the number of NAME entries that follow.
pub(crate) fn put_nfil(out: &mut Vec<u8>, count: u32) {
    token::put(out, token::NFIL, count);
}

/// v3: one NAME and its FILE or LINK. A FILE's `data` goes out as is: the
/// client ships the include server's `.lzo` bytes (the decoder hands the
/// daemon decompressed text).
pub(crate) fn put_entry(out: &mut Vec<u8>, entry: &PumpEntry) -> Result<(), ProtoError> {
    let (name, tok, body) = match entry {
        PumpEntry::File { name, data } => (name, token::FILE, data.as_slice()),
        PumpEntry::Link { name, target } => (name, token::LINK, target.as_bytes()),
        PumpEntry::Stored {
            name, size, digest, ..
        } => {
            return super::store_form::put_fdig(out, name.as_bytes(), *size, digest);
        }
    };
    token::put_bytes(out, token::NAME, name.as_bytes())?;
    token::put_bytes(out, tok, body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Cdir,
    Argv,
    Doti,
    Name,
    File,
    Link,
    Fdig,
    /// A FILE body the daemon asked for (store form).
    Sent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Dist,
    Cdir,
    Argc,
    Argv,
    Doti,
    Nfil,
    Name,
    FileOrLink,
    /// Store form: the manifest is whole; waiting for `set_needed`.
    Need,
    /// Store form: the next FILE asked for.
    Sent,
    Body(Body, usize),
    Done,
}

/// Incremental request decoder: a state machine fed with arbitrary chunks.
pub(crate) struct RequestDecoder {
    limits: Limits,
    phase: Phase,
    req: Request,
    argc: u32,
    argv_bytes: usize,
    nfil: u32,
    /// The request is in store form (NDIG).
    store_form: bool,
    /// Store form: the entries asked for, in order, not yet received.
    needed: std::collections::VecDeque<usize>,
    pending_name: Option<OsString>,
    partial: Vec<u8>,
    /// Bytes of the current body received so far.
    received: usize,
    /// Refused request: read the source to the end but keep none of it.
    discard: bool,
    /// Where the DOTI payload goes instead of memory (the job's file).
    sink: Option<Box<dyn std::io::Write>>,
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            phase: Phase::Dist,
            req: Request::default(),
            argc: 0,
            argv_bytes: 0,
            nfil: 0,
            store_form: false,
            needed: std::collections::VecDeque::new(),
            pending_name: None,
            partial: Vec::new(),
            received: 0,
            discard: false,
            sink: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// What the request's protocol version means, once DIST has been read.
    pub fn features(&self) -> Option<Features> {
        (self.phase != Phase::Dist).then_some(self.req.features)
    }

    /// v3: the client's working directory (sent before the argv).
    pub fn cwd(&self) -> Option<&OsStr> {
        self.req.cwd.as_deref()
    }

    /// Store form: the manifest is whole and the daemon must answer NEED
    /// (`set_needed`) before anything more can be read.
    pub fn awaiting_need(&self) -> bool {
        self.phase == Phase::Need
    }

    /// The request's entries (in store form, the manifest).
    pub fn entries(&self) -> &[PumpEntry] {
        &self.req.files
    }

    /// Store form: the daemon's answer, one flag per manifest entry (a
    /// LINK's is ignored); reading goes on with the FILE bodies asked for.
    pub fn set_needed(&mut self, needed: &[bool]) {
        if self.phase != Phase::Need {
            return;
        }
        self.needed = self
            .req
            .files
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                matches!(e, PumpEntry::Stored { .. }) && needed.get(*i).copied().unwrap_or(false)
            })
            .map(|(i, _)| i)
            .collect();
        self.phase = if self.needed.is_empty() {
            Phase::Done
        } else {
            Phase::Sent
        };
    }

    /// The argv so far (complete once the decoder is past ARGV).
    pub fn argv(&self) -> &[OsString] {
        &self.req.argv
    }

    /// True once the whole argv has arrived, so it can be checked before the
    /// (possibly large) source is read.
    pub fn argv_complete(&self) -> bool {
        matches!(
            self.phase,
            Phase::Doti
                | Phase::Nfil
                | Phase::Name
                | Phase::FileOrLink
                | Phase::Need
                | Phase::Sent
                | Phase::Done
        ) || matches!(
            self.phase,
            Phase::Body(
                Body::Doti | Body::Name | Body::File | Body::Link | Body::Fdig | Body::Sent,
                _
            )
        )
    }

    /// True between a whole argv and the first byte of the source (DOTI,
    /// or NFIL in pump mode): where a client stops when its preprocessor
    /// fails. The caller must also hold no unfed bytes.
    pub fn awaiting_source(&self) -> bool {
        matches!(self.phase, Phase::Doti | Phase::Nfil) && self.partial.is_empty()
    }

    /// Bytes of payload still buffered inside the decoder.
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Stream the DOTI payload (as it is on the wire: LZO-compressed in v2)
    /// into `w` instead of keeping it in memory.
    pub fn set_source_sink(&mut self, w: Box<dyn std::io::Write>) {
        self.sink = Some(w);
    }

    /// Keep reading the request but drop the source and files: the job is
    /// refused, and the reply must wait until the client has sent it all.
    pub fn discard_payload(&mut self) {
        self.discard = true;
    }

    pub fn take(self) -> Request {
        self.req
    }

    /// Consume as much of `input` as possible; returns how many bytes were
    /// used. Unused bytes must be offered again with more data appended.
    /// Feeding stops once right after the argv is complete, so the caller
    /// can check it (and call `set_source_sink`) before the source.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ProtoError> {
        let mut pos = 0;
        loop {
            match self.phase {
                Phase::Done => return Ok(pos),
                Phase::Body(what, len) => {
                    let dropping = self.discard && matches!(what, Body::Doti | Body::File);
                    let sinking = !dropping && what == Body::Doti && self.sink.is_some();
                    let want = len - self.received;
                    let n = want.min(input.len() - pos);
                    if n == 0 && want > 0 {
                        return Ok(pos);
                    }
                    let chunk = &input[pos..pos + n];
                    if let (true, Some(w)) = (sinking, self.sink.as_mut()) {
                        w.write_all(chunk)?;
                    } else if !dropping {
                        self.partial.extend_from_slice(chunk);
                    }
                    self.received += n;
                    pos += n;
                    if self.received == len {
                        let body = std::mem::take(&mut self.partial);
                        if sinking {
                            if let Some(mut w) = self.sink.take() {
                                w.flush()?;
                            }
                            self.phase = Phase::Done;
                        } else if dropping {
                            self.skip_body(what);
                        } else {
                            self.finish_body(what, body)?;
                            if what == Body::Argv && self.argv_complete() {
                                // Pause: the caller checks argv and may set a
                                // sink before any of the source is taken.
                                return Ok(pos);
                            }
                            if self.phase == Phase::Need {
                                // Pause: the daemon answers NEED first.
                                return Ok(pos);
                            }
                        }
                    }
                }
                Phase::Need => return Ok(pos),
                _ => {
                    if input.len() - pos < TOKEN_LEN {
                        return Ok(pos);
                    }
                    let hdr = &input[pos..pos + TOKEN_LEN];
                    pos += TOKEN_LEN;
                    self.header(hdr)?;
                }
            }
        }
    }

    fn start_body(&mut self, what: Body, len: usize) -> Result<(), ProtoError> {
        // Reserve a little, never the claimed length: the claim may be a lie.
        self.partial = Vec::with_capacity(len.min(64 * 1024));
        self.received = 0;
        self.phase = Phase::Body(what, len);
        if len == 0 {
            self.sink = None;
            self.finish_body(what, Vec::new())?;
        }
        Ok(())
    }

    /// A discarded DOTI or FILE body: advance as if it had been kept.
    fn skip_body(&mut self, what: Body) {
        self.pending_name = None;
        self.phase = match what {
            Body::File if (self.req.files.len() as u32) + 1 < self.nfil => {
                // Count the skipped file so NFIL still ends the request.
                self.req.files.push(PumpEntry::Link {
                    name: OsString::new(),
                    target: OsString::new(),
                });
                Phase::Name
            }
            _ => Phase::Done,
        };
    }

    fn header(&mut self, hdr: &[u8]) -> Result<(), ProtoError> {
        let l = &self.limits;
        match self.phase {
            Phase::Dist => {
                let features = Features::from_version(token::expect(hdr, token::DIST)?)?;
                self.req.features = features;
                self.phase = if features.cpp_on_server() {
                    Phase::Cdir
                } else {
                    Phase::Argc
                };
            }
            Phase::Cdir => {
                let n = token::expect(hdr, token::CDIR)?;
                let n = check_len("CDIR", n, l.max_path as u64)?;
                self.start_body(Body::Cdir, n)?;
            }
            Phase::Argc => {
                let n = token::expect(hdr, token::ARGC)?;
                check_len("ARGC", n, l.max_argc as u64)?;
                if n == 0 {
                    return Err(ProtoError::TooLarge {
                        what: "ARGC (empty argv)",
                        len: 0,
                        limit: 0,
                    });
                }
                self.argc = n;
                self.req.argv = Vec::with_capacity((n as usize).min(256));
                self.phase = Phase::Argv;
            }
            Phase::Argv => {
                let n = token::expect(hdr, token::ARGV)?;
                let n = check_len("ARGV", n, l.max_arg_len as u64)?;
                self.argv_bytes += n;
                if self.argv_bytes > l.max_argv_total {
                    return Err(ProtoError::TooLarge {
                        what: "argv",
                        len: self.argv_bytes as u64,
                        limit: l.max_argv_total as u64,
                    });
                }
                self.start_body(Body::Argv, n)?;
            }
            Phase::Doti => {
                let n = token::expect(hdr, token::DOTI)?;
                let n = check_len("DOTI", n, l.max_payload as u64)?;
                self.start_body(Body::Doti, n)?;
            }
            Phase::Nfil => {
                self.store_form = hdr.starts_with(&token::NDIG);
                let name = if self.store_form {
                    token::NDIG
                } else {
                    token::NFIL
                };
                let n = token::expect(hdr, name)?;
                check_len(token::name_str(name), n, l.max_files as u64)?;
                self.nfil = n;
                self.req.files = Vec::with_capacity((n as usize).min(1024));
                self.phase = match (n, self.store_form) {
                    (0, false) => Phase::Done,
                    (0, true) => Phase::Need,
                    _ => Phase::Name,
                };
            }
            Phase::Sent => {
                let n = token::expect(hdr, token::FILE)?;
                let n = check_len("FILE", n, l.max_payload as u64)?;
                self.start_body(Body::Sent, n)?;
            }
            Phase::Name => {
                let n = token::expect(hdr, token::NAME)?;
                let n = check_len("NAME", n, l.max_path as u64)?;
                self.start_body(Body::Name, n)?;
            }
            Phase::FileOrLink => {
                let (name, n) = token::parse(hdr)?;
                let (what, limit) = match name {
                    token::FILE if !self.store_form => (Body::File, l.max_payload as u64),
                    token::FDIG if self.store_form => (Body::Fdig, FDIG_LEN as u64),
                    token::LINK => (Body::Link, l.max_path as u64),
                    other => {
                        return Err(ProtoError::UnexpectedToken {
                            expected: if self.store_form {
                                "FDIG or LINK"
                            } else {
                                "FILE or LINK"
                            },
                            got: token::printable(&other),
                        })
                    }
                };
                let n = check_len(token::name_str(name), n, limit)?;
                self.start_body(what, n)?;
            }
            // feed() never reads a header in these phases.
            Phase::Body(..) | Phase::Need | Phase::Done => return Err(ProtoError::Truncated),
        }
        Ok(())
    }

    fn finish_body(&mut self, what: Body, body: Vec<u8>) -> Result<(), ProtoError> {
        let text = OsString::from_vec;
        match what {
            Body::Cdir => {
                self.req.cwd = Some(text(body));
                self.phase = Phase::Argc;
            }
            Body::Argv => {
                self.req.argv.push(text(body));
                self.phase = if self.req.argv.len() < self.argc as usize {
                    Phase::Argv
                } else if self.req.features.cpp_on_server() {
                    Phase::Nfil
                } else {
                    Phase::Doti
                };
            }
            Body::Doti => {
                self.req.doti = if self.req.features.compress() {
                    lzo::decompress(&body, self.limits.max_decompressed)?
                } else {
                    body
                };
                self.phase = Phase::Done;
            }
            Body::Name => {
                self.pending_name = Some(text(body));
                self.phase = Phase::FileOrLink;
            }
            Body::File | Body::Link | Body::Fdig => {
                let name = self.pending_name.take().unwrap_or_default();
                let entry = match what {
                    Body::File => PumpEntry::File {
                        name,
                        data: lzo::decompress(&body, self.limits.max_decompressed)?,
                    },
                    Body::Fdig => {
                        let (size, digest) = parse_fdig(&body).ok_or(ProtoError::TooLarge {
                            what: "FDIG (not 40 bytes)",
                            len: body.len() as u64,
                            limit: FDIG_LEN as u64,
                        })?;
                        PumpEntry::Stored {
                            name,
                            size,
                            digest,
                            data: None,
                        }
                    }
                    _ => PumpEntry::Link {
                        name,
                        target: text(body),
                    },
                };
                self.req.files.push(entry);
                self.phase = if self.req.files.len() < self.nfil as usize {
                    Phase::Name
                } else if self.store_form {
                    Phase::Need
                } else {
                    Phase::Done
                };
            }
            Body::Sent => {
                let data = lzo::decompress(&body, self.limits.max_decompressed)?;
                let at = self.needed.pop_front();
                if let Some(PumpEntry::Stored { data: slot, .. }) =
                    at.and_then(|i| self.req.files.get_mut(i))
                {
                    *slot = Some(data);
                }
                self.phase = if self.needed.is_empty() {
                    Phase::Done
                } else {
                    Phase::Sent
                };
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(version: u32) -> Features {
        Features::from_version(version).unwrap()
    }

    fn argv(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn plain(version: u32) -> (Vec<u8>, Request) {
        let a = argv(&["gcc", "-O2", "-c", "hello.c", "-o", "hello.o"]);
        let src = b"# 1 \"hello.c\"\nint main(void) { return 0; }\n".repeat(20);
        let mut wire = encode_header(f(version), None, &a);
        wire.extend(encode_doti(f(version), &src).unwrap());
        (
            wire,
            Request {
                features: f(version),
                argv: a,
                doti: src,
                ..Default::default()
            },
        )
    }

    fn decode_all(wire: &[u8], chunk: usize) -> Result<Request, ProtoError> {
        let mut d = RequestDecoder::new(Limits::default());
        let mut buf: Vec<u8> = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                let used = d.feed(&buf)?;
                buf.drain(..used);
                if used == 0 || d.is_done() {
                    break;
                }
            }
            if d.is_done() {
                break;
            }
        }
        if !d.is_done() {
            return Err(ProtoError::Truncated);
        }
        Ok(d.take())
    }

    #[test]
    fn v1_and_v2_decode_in_any_chunking() {
        for v in [1, 2] {
            let (wire, want) = plain(v);
            for chunk in [1, 5, 11, 12, 13, 100, wire.len()] {
                assert_eq!(
                    decode_all(&wire, chunk).unwrap(),
                    want,
                    "v{v} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn v2_payload_is_compressed_on_the_wire() {
        let (wire1, _) = plain(1);
        let (wire2, _) = plain(2);
        assert!(wire2.len() < wire1.len());
    }

    #[test]
    fn version_zero_is_handled_like_one() {
        let (mut wire, mut want) = plain(1);
        wire[11] = b'0';
        want.features = f(0);
        assert_eq!(decode_all(&wire, 7).unwrap(), want);
    }

    #[test]
    fn v3_pump_request() {
        let a = argv(&["gcc", "-c", "p.c", "-o", "p.o"]);
        let mut wire = encode_header(f(3), Some("/tmp/dt".as_ref()), &a);
        token::put(&mut wire, token::NFIL, 3);
        token::put_bytes(&mut wire, token::NAME, b"/tmp/dt/p.c").unwrap();
        token::put_bytes(&mut wire, token::FILE, &lzo::compress(b"int x;\n")).unwrap();
        token::put_bytes(&mut wire, token::NAME, b"/tmp/dt/empty.h").unwrap();
        token::put(&mut wire, token::FILE, 0);
        token::put_bytes(&mut wire, token::NAME, b"/usr/include").unwrap();
        token::put_bytes(&mut wire, token::LINK, b"../../usr/include").unwrap();
        let r = decode_all(&wire, 3).unwrap();
        assert_eq!(r.cwd, Some("/tmp/dt".into()));
        assert_eq!(r.argv, a);
        assert_eq!(
            r.files,
            vec![
                PumpEntry::File {
                    name: "/tmp/dt/p.c".into(),
                    data: b"int x;\n".to_vec()
                },
                PumpEntry::File {
                    name: "/tmp/dt/empty.h".into(),
                    data: vec![]
                },
                PumpEntry::Link {
                    name: "/usr/include".into(),
                    target: "../../usr/include".into()
                },
            ]
        );
    }

    #[test]
    fn v3_store_form_pauses_for_need_then_takes_what_was_asked() {
        let a = argv(&["gcc", "-c", "p.c"]);
        let (d1, d2) = ([1u8; 32], [2u8; 32]);
        let mut wire = encode_header(f(3), Some("/src".as_ref()), &a);
        super::super::store_form::put_ndig(&mut wire, 3);
        for e in [
            PumpEntry::Stored {
                name: "/src/p.c".into(),
                size: 7,
                digest: d1,
                data: None,
            },
            PumpEntry::Link {
                name: "/usr/include".into(),
                target: "../usr/include".into(),
            },
            PumpEntry::Stored {
                name: "/src/p.h".into(),
                size: 3,
                digest: d2,
                data: None,
            },
        ] {
            put_entry(&mut wire, &e).unwrap();
        }
        let manifest_len = wire.len();
        token::put_bytes(&mut wire, token::FILE, &lzo::compress(b"int x;\n")).unwrap();
        for chunk in [1, 5, 13, wire.len()] {
            let mut d = RequestDecoder::new(Limits::default());
            let (mut at, mut end) = (0, 0);
            while !d.awaiting_need() {
                end = (end + chunk).min(manifest_len);
                let n = d.feed(&wire[at..end]).unwrap();
                assert!(n > 0 || end < manifest_len, "stuck at {at}");
                at += n;
            }
            assert_eq!(at, manifest_len);
            assert_eq!(d.entries().len(), 3);
            // More bytes wait for the answer.
            assert_eq!(d.feed(&wire[at..]).unwrap(), 0);
            d.set_needed(&[true, true, false]);
            at += d.feed(&wire[at..]).unwrap();
            assert!(d.is_done() && at == wire.len());
            let r = d.take();
            assert!(
                matches!(&r.files[0], PumpEntry::Stored { data: Some(t), .. } if t == b"int x;\n")
            );
            assert!(matches!(&r.files[2], PumpEntry::Stored { data: None, .. }));
        }
        // Nothing needed: done at once. A FILE in the manifest is refused.
        let mut d = RequestDecoder::new(Limits::default());
        let argv_end = d.feed(&wire[..manifest_len]).unwrap();
        let rest = d.feed(&wire[argv_end..manifest_len]).unwrap();
        assert_eq!(argv_end + rest, manifest_len);
        d.set_needed(&[false; 3]);
        assert!(d.is_done());
        let mut bad = encode_header(f(3), Some("/".as_ref()), &a);
        super::super::store_form::put_ndig(&mut bad, 1);
        token::put_bytes(&mut bad, token::NAME, b"/x").unwrap();
        token::put(&mut bad, token::FILE, 0);
        assert!(matches!(
            decode_all(&bad, 100),
            Err(ProtoError::UnexpectedToken { .. })
        ));
        let mut bad = encode_header(f(3), Some("/".as_ref()), &a);
        super::super::store_form::put_ndig(&mut bad, 1);
        token::put_bytes(&mut bad, token::NAME, b"/x").unwrap();
        token::put_bytes(&mut bad, token::FDIG, &[0u8; 41]).unwrap();
        assert!(matches!(
            decode_all(&bad, 100),
            Err(ProtoError::TooLarge { .. })
        ));
    }

    #[test]
    fn wrong_first_token() {
        let e = decode_all(b"GET / HTTP/1.0\r\n\r\n", 100).unwrap_err();
        assert!(matches!(e, ProtoError::UnexpectedToken { .. }), "{e}");
    }

    #[test]
    fn bad_hex_in_stream() {
        let e = decode_all(b"DIST00000001ARGC0000000zARGV", 100).unwrap_err();
        assert!(matches!(e, ProtoError::BadHex(_)), "{e}");
    }

    #[test]
    fn unsupported_version() {
        let e = decode_all(b"DIST00000004", 100).unwrap_err();
        assert!(matches!(e, ProtoError::BadVersion(4)));
    }

    #[test]
    fn huge_lengths_rejected_before_allocation() {
        for wire in [
            &b"DIST00000001ARGCffffffff"[..],
            b"DIST00000001ARGC00000001ARGVffffffff",
            b"DIST00000001ARGC00000001ARGV00000003gccDOTIffffffff",
            b"DIST00000003CDIRffffffff",
            b"DIST00000003CDIR00000001/ARGC00000001ARGV00000001xNFILffffffff",
        ] {
            let e = decode_all(wire, 1000).unwrap_err();
            assert!(matches!(e, ProtoError::TooLarge { .. }), "{e}");
        }
    }

    #[test]
    fn argv_total_is_bounded() {
        let limits = Limits {
            max_argv_total: 100,
            ..Limits::default()
        };
        let mut d = RequestDecoder::new(limits);
        let a: Vec<OsString> = (0..20).map(|_| "x".repeat(10).into()).collect();
        let wire = encode_header(f(1), None, &a);
        assert!(matches!(d.feed(&wire), Err(ProtoError::TooLarge { .. })));
    }

    #[test]
    fn empty_argv_rejected() {
        assert!(decode_all(b"DIST00000001ARGC00000000", 100).is_err());
    }

    #[test]
    fn truncated_stream_is_not_done() {
        let (wire, _) = plain(2);
        for cut in [0, 5, 12, 30, wire.len() - 1] {
            assert!(matches!(
                decode_all(&wire[..cut], 1000),
                Err(ProtoError::Truncated)
            ));
        }
    }

    #[test]
    fn corrupt_lzo_payload() {
        let mut wire = encode_header(f(2), None, &argv(&["gcc", "-c", "x.c"]));
        token::put_bytes(&mut wire, token::DOTI, b"\xff\xff\xff\xff\x00").unwrap();
        assert!(matches!(decode_all(&wire, 1000), Err(ProtoError::Lzo(_))));
    }

    #[test]
    fn non_utf8_bytes_pass_through() {
        // distcc sends arguments, the cwd and file names as bytes: a
        // Latin-1 file name must arrive as it was sent, both ways.
        let a = vec![
            OsString::from("gcc"),
            OsString::from_vec(b"-DN=\"caf\xe9\"".to_vec()),
            OsString::from_vec(b"caf\xe9.c".to_vec()),
        ];
        let cwd = OsStr::from_bytes(b"/src/\xff");
        let mut wire = encode_header(f(3), Some(cwd), &a);
        assert!(contains(&wire, b"ARGV00000006caf\xe9.c"));
        put_nfil(&mut wire, 2);
        let name = OsString::from_vec(b"/src/\xff/caf\xe9.c".to_vec());
        let data = lzo::compress(b"int x;\n");
        let file = PumpEntry::File {
            name: name.clone(),
            data: data.clone(),
        };
        put_entry(&mut wire, &file).unwrap();
        let link = PumpEntry::Link {
            name: OsString::from_vec(b"/inc\xff".to_vec()),
            target: OsString::from_vec(b"../\xfe".to_vec()),
        };
        put_entry(&mut wire, &link).unwrap();
        let r = decode_all(&wire, 5).unwrap();
        assert_eq!(r.argv, a);
        assert_eq!(r.cwd.as_deref(), Some(cwd));
        let text = PumpEntry::File {
            name,
            data: b"int x;\n".to_vec(),
        };
        assert_eq!(r.files, vec![text, link]);
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn file_or_link_must_follow_name() {
        let mut wire = encode_header(f(3), Some("/".as_ref()), &argv(&["gcc"]));
        token::put(&mut wire, token::NFIL, 1);
        token::put_bytes(&mut wire, token::NAME, b"/x").unwrap();
        token::put(&mut wire, token::DOTI, 0);
        assert!(matches!(
            decode_all(&wire, 1000),
            Err(ProtoError::UnexpectedToken { .. })
        ));
    }

    #[test]
    fn discarded_source_is_not_kept() {
        let (wire, _) = plain(2);
        let mut d = RequestDecoder::new(Limits::default());
        let hdr = encode_header(
            f(2),
            None,
            &argv(&["gcc", "-O2", "-c", "hello.c", "-o", "hello.o"]),
        );
        assert_eq!(d.feed(&wire[..hdr.len()]).unwrap(), hdr.len());
        d.discard_payload();
        let mut buf = Vec::new();
        for piece in wire[hdr.len()..].chunks(7) {
            buf.extend_from_slice(piece);
            let used = d.feed(&buf).unwrap();
            buf.drain(..used);
            assert_eq!(d.buffered(), 0);
        }
        assert!(d.is_done() && buf.is_empty());
        assert!(d.take().doti.is_empty());
    }

    #[test]
    fn source_streams_into_a_sink() {
        struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.borrow_mut().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        for v in [1, 2] {
            let (wire, want) = plain(v);
            let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let mut d = RequestDecoder::new(Limits::default());
            let mut buf = Vec::new();
            let mut sunk = false;
            for piece in wire.chunks(5) {
                buf.extend_from_slice(piece);
                let used = d.feed(&buf).unwrap();
                buf.drain(..used);
                if d.argv_complete() && !sunk {
                    sunk = true;
                    d.set_source_sink(Box::new(Shared(got.clone())));
                    let used = d.feed(&buf).unwrap();
                    buf.drain(..used);
                }
                if sunk {
                    assert_eq!(d.buffered(), 0, "source kept in memory");
                }
            }
            assert!(d.is_done());
            let wire_payload = if v >= 2 {
                lzo::compress(&want.doti)
            } else {
                want.doti.clone()
            };
            assert_eq!(*got.borrow(), wire_payload);
        }
    }

    #[test]
    fn argv_complete_before_source() {
        let (wire, _) = plain(1);
        let hdr_len = encode_header(
            f(1),
            None,
            &argv(&["gcc", "-O2", "-c", "hello.c", "-o", "hello.o"]),
        )
        .len();
        let mut d = RequestDecoder::new(Limits::default());
        let used = d.feed(&wire[..hdr_len + 3]).unwrap();
        assert_eq!(used, hdr_len);
        assert!(d.argv_complete());
        assert_eq!(d.argv()[0], "gcc");
        assert!(!d.is_done());
    }
}
