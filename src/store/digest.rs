//! The digest of the store (SHA-256, `sha2`'s portable code: doc/size.md
//! says why) and the result cache's key builder.
//!
//! A key is the digest of a sequence of typed fields, each framed as
//! `tag (1 byte) | length (8 bytes, little-endian) | bytes`. The framing is
//! prefix-free, so two different field sequences never hash the same bytes:
//! `-DA` `B` and `-DAB` differ, and so do a file's name and its content.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// The format of keys and entries; part of every key, so a change of
/// either makes old entries misses, never wrong hits.
pub const FORMAT_VERSION: u32 = 1;

/// A 32-byte content or key digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        let mut h = Hasher::new();
        h.update(data);
        h.finish()
    }

    /// The digest of everything `r` yields, read in 64 KiB pieces.
    pub fn of_reader(mut r: impl Read) -> io::Result<Digest> {
        let mut h = Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(h.finish()),
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Lowercase hex: the file name of an entry or blob.
    pub fn hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// The inverse of `hex` (lowercase only: the store writes no other).
    pub fn from_hex(s: &[u8]) -> Option<Digest> {
        if s.len() != 64 {
            return None;
        }
        let nib = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut d = [0u8; 32];
        for (i, pair) in s.chunks(2).enumerate() {
            d[i] = nib(pair[0])? << 4 | nib(pair[1])?;
        }
        Some(Digest(d))
    }
}

/// Incremental digest.
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new() -> Hasher {
        Hasher(Sha256::new())
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new()
    }
}

/// Field tags. Never reuse or renumber one: bump `FORMAT_VERSION` instead.
mod tag {
    pub const VERSION: u8 = 1;
    pub const MODE: u8 = 2;
    pub const COMPILER_PATH: u8 = 3;
    pub const COMPILER_IDENTITY: u8 = 4;
    pub const ARGC: u8 = 5;
    pub const ARG: u8 = 6;
    pub const INPUT: u8 = 7;
    pub const FILE_NAME: u8 = 8;
    pub const FILE_CONTENT: u8 = 9;
    pub const LINK_NAME: u8 = 10;
    pub const LINK_TARGET: u8 = 11;
    pub const CWD: u8 = 12;
}

/// How the job's input arrived: the same bytes mean different things.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// One preprocessed source (protocol 1 and 2).
    Plain,
    /// One preprocessed source as its LZO stream (protocol 2 with
    /// compression): the daemon hashes the bytes as they arrive, and the
    /// same bytes read as text would be another source.
    PlainLzo,
    /// The client's files, preprocessed on the server (protocol 3).
    Pump,
}

/// Builds a result-cache key from what the daemon received and will run.
/// The daemon adds, in this order: the compiler, the arguments, then the
/// input (`input` in plain mode; `file`/`link` for every entry and `cwd`
/// in pump mode, where the working directory reaches the object through
/// relative names and debug info).
pub struct KeyBuilder(Hasher);

impl KeyBuilder {
    pub fn new(mode: Mode) -> KeyBuilder {
        let mut k = KeyBuilder(Hasher::new());
        k.field(tag::VERSION, &FORMAT_VERSION.to_le_bytes());
        k.field(
            tag::MODE,
            match mode {
                Mode::Plain => b"plain",
                Mode::PlainLzo => b"plain-lzo",
                Mode::Pump => b"pump",
            },
        );
        k
    }

    fn field(&mut self, tag: u8, bytes: &[u8]) {
        self.0.update(&[tag]);
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// The compiler's resolved path and what it says about itself (e.g.
    /// its `-v` output with the executable's size and mtime): the caller
    /// re-reads the identity when the executable changes.
    pub fn compiler(&mut self, path: &[u8], identity: &[u8]) -> &mut Self {
        self.field(tag::COMPILER_PATH, path);
        self.field(tag::COMPILER_IDENTITY, identity);
        self
    }

    /// The argument list as the daemon runs it, with no temporary name in
    /// it (see `args_in`).
    pub fn args<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> &mut Self {
        self.field(tag::ARGC, &(argv.len() as u64).to_le_bytes());
        for a in argv {
            self.field(tag::ARG, a.as_ref());
        }
        self
    }

    /// `args` with every occurrence of the job directory's path `job_dir`
    /// in an argument replaced by one fixed word, so that the same job in
    /// another temporary directory has the same key. The word contains a
    /// NUL, which no argument can, so it never equals a real argument.
    pub fn args_in<A: AsRef<[u8]>>(&mut self, argv: &[A], job_dir: &[u8]) -> &mut Self {
        let plain: Vec<Vec<u8>> = argv.iter().map(|a| without(a.as_ref(), job_dir)).collect();
        self.args(&plain)
    }

    /// Plain mode: the digest of the preprocessed source.
    pub fn input(&mut self, content: &Digest) -> &mut Self {
        self.field(tag::INPUT, &content.0);
        self
    }

    /// Pump mode: one file, by the name the compiler sees and its
    /// content's digest.
    pub fn file(&mut self, name: &[u8], content: &Digest) -> &mut Self {
        self.field(tag::FILE_NAME, name);
        self.field(tag::FILE_CONTENT, &content.0);
        self
    }

    /// Pump mode: one symbolic link and its target.
    pub fn link(&mut self, name: &[u8], target: &[u8]) -> &mut Self {
        self.field(tag::LINK_NAME, name);
        self.field(tag::LINK_TARGET, target);
        self
    }

    /// Pump mode: the client's working directory.
    pub fn cwd(&mut self, cwd: &[u8]) -> &mut Self {
        self.field(tag::CWD, cwd);
        self
    }

    pub fn finish(self) -> Digest {
        self.0.finish()
    }
}

/// `a` with each `dir` in it replaced by `\0job\0`.
fn without(a: &[u8], dir: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return a.to_vec();
    }
    let mut out = Vec::with_capacity(a.len());
    let mut i = 0;
    while i < a.len() {
        if a[i..].starts_with(dir) {
            out.extend_from_slice(b"\0job\0");
            i += dir.len();
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_inputs() {
        assert_eq!(
            Digest::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Digest::of(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let big = vec![7u8; 200_000];
        assert_eq!(Digest::of_reader(&big[..]).ok(), Some(Digest::of(&big)));
    }

    #[test]
    fn hex_round_trips() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::from_hex(d.hex().as_bytes()), Some(d));
        assert_eq!(Digest::from_hex(b"00"), None);
        assert_eq!(Digest::from_hex(d.hex().to_uppercase().as_bytes()), None);
    }

    fn plain(argv: &[&str], src: &[u8]) -> Digest {
        let mut k = KeyBuilder::new(Mode::Plain);
        k.compiler(b"/usr/bin/gcc", b"gcc version 12.2.0")
            .args(argv)
            .input(&Digest::of(src));
        k.finish()
    }

    #[test]
    fn keys_differ_for_any_difference() {
        let base = plain(&["gcc", "-DA", "B", "-c"], b"int x;");
        assert_eq!(base, plain(&["gcc", "-DA", "B", "-c"], b"int x;"));
        // Argument boundaries count, not just the bytes.
        assert_ne!(base, plain(&["gcc", "-DAB", "-c"], b"int x;"));
        assert_ne!(base, plain(&["gcc", "-DA", "B", "-c", ""], b"int x;"));
        assert_ne!(base, plain(&["gcc", "-DA", "B", "-c"], b"int y;"));
        let mut k = KeyBuilder::new(Mode::Plain);
        k.compiler(b"/usr/bin/gcc", b"gcc version 12.3.0")
            .args(&["gcc", "-DA", "B", "-c"])
            .input(&Digest::of(b"int x;"));
        assert_ne!(base, k.finish());
        // The same bytes in pump mode are another job.
        let mut k = KeyBuilder::new(Mode::Pump);
        k.compiler(b"/usr/bin/gcc", b"gcc version 12.2.0")
            .args(&["gcc", "-DA", "B", "-c"])
            .input(&Digest::of(b"int x;"));
        assert_ne!(base, k.finish());
        let mut k = KeyBuilder::new(Mode::PlainLzo);
        k.compiler(b"/usr/bin/gcc", b"gcc version 12.2.0")
            .args(&["gcc", "-DA", "B", "-c"])
            .input(&Digest::of(b"int x;"));
        assert_ne!(base, k.finish());
    }

    #[test]
    fn temporary_names_do_not_reach_the_key() {
        let key = |dir: &str, out: &str| {
            let argv: Vec<String> = [
                "gcc",
                "-c",
                &format!("{dir}/in.i"),
                "-o",
                &format!("{dir}/{out}"),
                &format!("-ffile-prefix-map={dir}="),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let mut k = KeyBuilder::new(Mode::Plain);
            k.args_in(&argv, dir.as_bytes());
            k.finish()
        };
        let a = key("/tmp/tinydccd_abc", "out.o");
        assert_eq!(a, key("/tmp/tinydccd_xyz", "out.o"));
        assert_ne!(a, key("/tmp/tinydccd_xyz", "other.o"));
        assert_eq!(without(b"-I/j/x:/j", b"/j"), b"-I\0job\0/x:\0job\0");
        assert_eq!(without(b"abc", b""), b"abc");
    }

    #[test]
    fn pump_keys_separate_names_contents_and_cwd() {
        let key = |files: &[(&[u8], &[u8])], cwd: &[u8]| {
            let mut k = KeyBuilder::new(Mode::Pump);
            k.compiler(b"/usr/bin/gcc", b"12")
                .args(&["gcc", "-c", "a.c"]);
            for (n, c) in files {
                k.file(n, &Digest::of(c));
            }
            k.cwd(cwd);
            k.finish()
        };
        let base = key(&[(b"/s/a.c", b"x"), (b"/s/a.h", b"y")], b"/s");
        assert_ne!(base, key(&[(b"/s/a.c", b"x"), (b"/s/b.h", b"y")], b"/s"));
        assert_ne!(base, key(&[(b"/s/a.c", b"x"), (b"/s/a.h", b"z")], b"/s"));
        assert_ne!(base, key(&[(b"/s/a.c", b"x"), (b"/s/a.h", b"y")], b"/t"));
        assert_ne!(base, key(&[(b"/s/a.c", b"x")], b"/s"));
        let mut k = KeyBuilder::new(Mode::Pump);
        k.compiler(b"/usr/bin/gcc", b"12")
            .args(&["gcc", "-c", "a.c"])
            .file(b"/s/a.c", &Digest::of(b"x"))
            .link(b"/s/a.h", b"y")
            .cwd(b"/s");
        assert_ne!(base, k.finish());
    }
}
