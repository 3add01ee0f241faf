//! Pump mode on the client (protocol 3, hosts marked `,cpp`): ask the
//! include server which files the translation unit needs, then ship them
//! with the argv so the server preprocesses. Whatever stops that (no
//! include server, a scan it was not sure of, a failure on the server)
//! sends the job in plain mode instead, as distcc 3.4 does
//! (doc/distcc-protocol.md, "Pump mode: when a job is not pumped"), and
//! says why in the pump directory.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::remote::SendError;
use crate::protocol::include::{self, Digests};
use crate::protocol::store_form::{self, Fdig};
use crate::protocol::{request, token, Limits};
use crate::pump::mirror::client_name;
use crate::pump::session::Session;
pub use crate::pump::session::Stage;

/// The files one translation unit needs, as the include server listed
/// them (paths in its client root), and each one's size and digest when
/// tinydcc's include server sent them.
pub struct Shipment {
    cwd: OsString,
    listed: Vec<OsString>,
    digests: Option<Digests>,
}

/// How long to wait for the digests after the list: tinydcc's include
/// server writes them with it, a stock one closes at once.
const DIGESTS_WAIT: Duration = Duration::from_millis(20);

impl Shipment {
    pub fn new(cwd: OsString, listed: Vec<OsString>, digests: Option<Digests>) -> Shipment {
        Shipment {
            cwd,
            listed,
            digests,
        }
    }

    /// The include server said the `i`th listed path is a file.
    fn known_file(&self, i: usize) -> bool {
        self.digests
            .as_ref()
            .is_some_and(|d| d.get(i).is_some_and(Option::is_some))
    }

    /// The include server's paths, in its order.
    pub fn listed(&self) -> &[OsString] {
        &self.listed
    }
}

/// The pump session whose include server is at `$INCLUDE_SERVER_PORT`.
fn session() -> Option<Session> {
    Session::of_socket(Path::new(&std::env::var_os("INCLUDE_SERVER_PORT")?))
}

/// Why this job cannot use pump mode at all, checked before the include
/// server is asked.
pub fn unusable(input: &OsStr) -> Option<String> {
    if crate::args::is_preprocessed(input) {
        return Some("cannot use distcc_pump on already preprocessed file".into());
    }
    for v in ["CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH"] {
        if std::env::var_os(v).is_some() {
            return Some(format!("{v} is set"));
        }
    }
    if std::env::var_os("INCLUDE_SERVER_PORT").is_none() {
        return Some("INCLUDE_SERVER_PORT is not set; did you forget to run under 'pump'?".into());
    }
    // One `@` per job that failed in pump mode but compiled in plain
    // mode; past DISTCC_MAX_DISCREPANCY (default 1) pump is off.
    let max = std::env::var("DISTCC_MAX_DISCREPANCY")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    let seen = session().map_or(0, |s| s.discrepancies());
    if seen >= max {
        return Some(format!(
            "{seen} pump compile(s) failed on a server but compiled locally; pump mode is off"
        ));
    }
    None
}

/// Why the include server gave no list.
pub enum NoList {
    /// It answered "gave up" (and logged why itself).
    GaveUp,
    /// It could not be asked or answered nonsense.
    Failed(String),
}

/// One query to the include server at `$INCLUDE_SERVER_PORT`.
pub fn ask(argv: &[OsString], timeout: Duration) -> Result<Shipment, NoList> {
    let port = std::env::var_os("INCLUDE_SERVER_PORT").unwrap_or_default();
    let cwd = std::env::current_dir()
        .map_err(|e| {
            NoList::Failed(format!(
                "cannot read the current directory: {}",
                crate::errtext::reason(&e)
            ))
        })?
        .into_os_string();
    let fail = |e: std::io::Error| {
        NoList::Failed(format!(
            "include server at {}: {}",
            Path::new(&port).display(),
            crate::errtext::reason(&e)
        ))
    };
    let mut s = UnixStream::connect(&port).map_err(fail)?;
    s.set_read_timeout(Some(timeout)).map_err(fail)?;
    s.set_write_timeout(Some(timeout)).map_err(fail)?;
    s.write_all(&include::encode_query(&cwd, argv))
        .map_err(fail)?;
    // Buffered: a list of 900 paths is 1,800 tokens.
    let mut r = std::io::BufReader::with_capacity(64 << 10, &s);
    let listed = include::read_answer(&mut r, &Limits::default())
        .map_err(|e| NoList::Failed(format!("include server answered badly: {e}")))?;
    if listed.is_empty() {
        return Err(NoList::GaveUp);
    }
    s.set_read_timeout(Some(DIGESTS_WAIT)).map_err(fail)?;
    let digests = include::read_digests(&mut r, listed.len());
    Ok(Shipment::new(cwd, listed, digests))
}

/// The protocol-3 request: DIST CDIR ARGC ARGV… NFIL {NAME FILE|LINK}…,
/// written as it is read so only one file is in memory at a time. FILE
/// carries the include server's `.lzo` bytes as they are: they are the
/// LZO1X-1 stream protocol 3 expects, so nothing is compressed again.
pub fn send<W: Write>(conn: &mut W, argv: &[OsString], files: &Shipment) -> Result<(), SendError> {
    let io = |e: std::io::Error| SendError::Io(e.into());
    let mut out = request::encode_header(crate::protocol::Features::PUMP, Some(&files.cwd), argv);
    request::put_nfil(&mut out, files.listed.len() as u32);
    for (i, listed) in files.listed.iter().enumerate() {
        let entry = entry(listed, files.known_file(i)).map_err(|e| {
            SendError::Listed(format!(
                "{}: {}",
                Path::new(listed).display(),
                crate::errtext::reason(&e)
            ))
        })?;
        request::put_entry(&mut out, &entry).map_err(SendError::Io)?;
        if out.len() >= 64 << 10 {
            conn.write_all(&out).map_err(io)?;
            out.clear();
        }
    }
    conn.write_all(&out).map_err(io)?;
    conn.flush().map_err(io)
}

/// The store form of the request, for a host whose daemon has the header
/// store (doc/header-store.md): the manifest (each content by size and
/// digest, as the include server sent them), the daemon's NEED, then only
/// the contents it lacks, read from disk only then. A connection closed
/// before NEED means the host no longer has the store:
/// `SendError::NoStore`. Without digests (a stock include server) the
/// files go whole, as distcc sends them.
pub fn send_store<C: Read + Write>(
    conn: &mut C,
    argv: &[OsString],
    files: &Shipment,
) -> Result<(), SendError> {
    let io = |e: std::io::Error| SendError::Io(e.into());
    let listed_error = |listed: &OsStr, e: std::io::Error| {
        SendError::Listed(format!(
            "{}: {}",
            Path::new(listed).display(),
            crate::errtext::reason(&e)
        ))
    };
    let Some(digests) = files.digests.as_deref() else {
        return send(conn, argv, files);
    };
    let mut out = request::encode_header(crate::protocol::Features::PUMP, Some(&files.cwd), argv);
    store_form::put_ndig(&mut out, files.listed.len() as u32);
    for (listed, said) in files.listed.iter().zip(digests) {
        let entry = digest_entry(listed, *said).map_err(|e| listed_error(listed, e))?;
        request::put_entry(&mut out, &entry).map_err(SendError::Io)?;
        if out.len() >= 64 << 10 {
            conn.write_all(&out).map_err(io)?;
            out.clear();
        }
    }
    conn.write_all(&out).map_err(io)?;
    conn.flush().map_err(io)?;
    let needed = store_form::read_need(conn, files.listed.len()).map_err(SendError::NoStore)?;
    out.clear();
    for (listed, _) in files.listed.iter().zip(needed).filter(|(_, n)| *n) {
        let data = std::fs::read(listed).map_err(|e| listed_error(listed, e))?;
        token::put_bytes(&mut out, token::FILE, &data).map_err(SendError::Io)?;
        if out.len() >= 64 << 10 {
            conn.write_all(&out).map_err(io)?;
            out.clear();
        }
    }
    conn.write_all(&out).map_err(io)?;
    conn.flush().map_err(io)
}

/// One listed path as a manifest entry: a file by the size and digest of
/// its text as the include server sent them (`said`), a link (`None`) as
/// in protocol 3. No file of the root is opened.
fn digest_entry(listed: &OsStr, said: Option<Fdig>) -> std::io::Result<request::PumpEntry> {
    let name = name_of(listed)?;
    Ok(match said {
        Some((size, digest)) => request::PumpEntry::Stored {
            name,
            size,
            digest,
            data: None,
        },
        None => request::PumpEntry::Link {
            name,
            target: std::fs::read_link(listed)?.into_os_string(),
        },
    })
}

/// One listed path as the entry a pump client sends for it; a `known_file`
/// (the include server said so) needs no `lstat`.
fn entry(listed: &OsStr, known_file: bool) -> std::io::Result<request::PumpEntry> {
    let name = name_of(listed)?;
    let path = Path::new(listed);
    Ok(
        if !known_file && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
            request::PumpEntry::Link {
                name,
                target: std::fs::read_link(path)?.into_os_string(),
            }
        } else {
            request::PumpEntry::File {
                name,
                data: std::fs::read(path)?,
            }
        },
    )
}

/// The NAME a listed path is sent under.
fn name_of(listed: &OsStr) -> std::io::Result<OsString> {
    client_name(listed)
        .ok_or_else(|| std::io::Error::other("not in an include server's client root"))
}

/// A failed pump compile that may be the include scan's fault: gcc
/// missed a file (`fatal error: x.h: No such file or directory`). Any other
/// error is the source's, with the client's files on the server.
pub fn maybe_incomplete(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("No such file or directory")
}

/// The argv for the server: the user's, with the target of the `.d` named
/// (`-MQ`) when the server could not know it, since it names it after the
/// object the client asked for.
pub fn server_argv(mut argv: Vec<OsString>, dep_target: Option<OsString>) -> Vec<OsString> {
    if let Some(t) = dep_target {
        argv.push("-MQ".into());
        argv.push(t);
    }
    argv
}

/// Note in the pump session (read by `pump` for its summary) that this
/// job went in plain mode, and why; `discrepancy`: also count it towards
/// `DISTCC_MAX_DISCREPANCY`, past which pump mode is off.
pub fn note_fallback(stage: Stage, input: &str, why: &str, discrepancy: bool) {
    let Some(s) = session() else { return };
    s.note_fallback(stage, input, why);
    if discrepancy {
        s.note_discrepancy();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client root (exactly three components) holding `src/p.c.lzo`
    /// (`int x;`) and the link `sys`: the temp dir, the `listed` paths in
    /// that order, and the file's LZO bytes.
    fn client_root(listed: &[&str]) -> (std::path::PathBuf, Vec<OsString>, Vec<u8>) {
        let d = crate::paths::make_temp_dir(Path::new("/tmp"), "pumpcl-").unwrap();
        let root = d.join("pad");
        std::fs::create_dir_all(root.join("src")).unwrap();
        let lzo = crate::protocol::lzo::compress(b"int x;\n");
        std::fs::write(root.join("src/p.c.lzo"), &lzo).unwrap();
        std::os::unix::fs::symlink("../../../x/usr/include", root.join("sys")).unwrap();
        let listed = listed
            .iter()
            .map(|p| root.join(p).into_os_string())
            .collect();
        (d, listed, lzo)
    }

    #[test]
    fn request_names_files_and_links_by_client_path() {
        let (d, listed, _) = client_root(&["src/p.c.lzo", "sys"]);
        let files = Shipment::new("/src".into(), listed, None);
        let mut out = Vec::new();
        assert!(send(&mut out, &["gcc".into(), "-c".into(), "p.c".into()], &files).is_ok());
        let mut dec = request::RequestDecoder::new(Limits::default());
        let mut at = 0;
        while !dec.is_done() {
            let n = dec.feed(&out[at..]).unwrap();
            assert!(n > 0, "decoder stuck at {at}");
            at += n;
        }
        assert_eq!(at, out.len());
        let req = dec.take();
        assert_eq!(req.features, crate::protocol::Features::PUMP);
        assert_eq!(req.cwd, Some("/src".into()));
        let names: Vec<OsString> = req
            .files
            .iter()
            .map(|e| match e {
                request::PumpEntry::File { name, .. }
                | request::PumpEntry::Link { name, .. }
                | request::PumpEntry::Stored { name, .. } => name.clone(),
            })
            .collect();
        assert_eq!(names, vec!["/src/p.c", "/sys"]);
        assert!(
            matches!(&req.files[1], request::PumpEntry::Link { target, .. }
            if *target == *"../../../x/usr/include")
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A connection whose daemon needs the `want`ed entries.
    struct Peer {
        sent: Vec<u8>,
        reply: std::io::Cursor<Vec<u8>>,
    }
    impl Read for Peer {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.reply.read(b)
        }
    }
    impl Write for Peer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.sent.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_manifest_comes_from_the_include_servers_digests() {
        let (d, listed, lzo) = client_root(&["sys", "src/p.c.lzo"]);
        let root = d.join("pad");
        let text = b"int x;\n";
        let digest = crate::store::Digest::of(text).0;
        let argv = ["gcc".into(), "-c".into(), "p.c".into()];
        let sent = |digests: Option<Digests>, need: &[bool]| {
            let files = Shipment::new("/src".into(), listed.clone(), digests);
            let mut peer = Peer {
                sent: Vec::new(),
                reply: std::io::Cursor::new(store_form::encode_need(need)),
            };
            send_store(&mut peer, &argv, &files).ok().map(|_| peer.sent)
        };
        let digests = Some(vec![None, Some((7, digest))]);
        let needed = sent(digests.clone(), &[false, true]).unwrap();
        let mut manifest = request::encode_header(
            crate::protocol::Features::PUMP,
            Some("/src".as_ref()),
            &argv,
        );
        store_form::put_ndig(&mut manifest, 2);
        let link = request::PumpEntry::Link {
            name: "/sys".into(),
            target: "../../../x/usr/include".into(),
        };
        request::put_entry(&mut manifest, &link).unwrap();
        store_form::put_fdig(&mut manifest, b"/src/p.c", 7, &digest).unwrap();
        assert!(needed.starts_with(&manifest));
        // The needed file follows the manifest, as the include server wrote it.
        assert!(needed.ends_with(&lzo));
        // The manifest itself reads no file of the root.
        std::fs::remove_file(root.join("src/p.c.lzo")).unwrap();
        assert_eq!(
            sent(digests, &[false, false]).unwrap().len(),
            manifest.len()
        );
        // Without digests (a stock include server) the files go whole.
        std::fs::write(root.join("src/p.c.lzo"), &lzo).unwrap();
        let whole = sent(None, &[]).unwrap();
        assert!(whole.windows(4).any(|w| w == b"NFIL") && whole.ends_with(&lzo));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
