//! The include server: answers pump clients (ours and stock distcc 3.4)
//! on a Unix socket with the files each translation unit needs, laid out
//! in the client root (`mirror`). One process, one query at a time: each
//! answer is a scan against warm caches, far shorter than a compile.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::protocol::include::{self, Digests};
use crate::protocol::Limits;

use super::mirror::Mirror;
use super::session::Session;
use crate::scan::Scanner;

/// One query's answer: the paths to ship, and each one's size and digest
/// (`None`: a link), sent after the list for tinydcc's clients.
#[derive(Default)]
pub struct Answer {
    pub listed: Vec<OsString>,
    pub digests: Digests,
}

pub struct IncludeServer {
    scanner: Scanner,
    mirror: Mirror,
}

fn strings(v: Vec<PathBuf>) -> Vec<OsString> {
    v.into_iter().map(PathBuf::into_os_string).collect()
}

impl IncludeServer {
    pub fn new() -> std::io::Result<IncludeServer> {
        Ok(IncludeServer {
            scanner: Scanner::new(),
            mirror: Mirror::new()?,
        })
    }

    pub fn mirror_top(&self) -> PathBuf {
        self.mirror.top()
    }

    /// The list for one translation unit, in distcc's order: system links,
    /// mirrored links, files, forcing files. Err: why the scan gave up.
    pub fn answer(&mut self, cwd: &OsStr, argv: &[OsString]) -> Result<Answer, String> {
        if !cwd.as_bytes().starts_with(b"/") {
            return Err("the client sent no absolute working directory".into());
        }
        let closure = self.scanner.scan(Path::new(cwd), argv).map_err(|g| g.0)?;
        let io = |e: std::io::Error| format!("cannot prepare the client root: {e}");
        self.mirror.new_query().map_err(io)?;
        let sys: Vec<PathBuf> = closure
            .system_dirs
            .iter()
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .collect();
        let mut sys_links = Vec::new();
        let mut linked: Vec<&Path> = Vec::new();
        let mut sys_dirs: Vec<&PathBuf> = closure.system_dirs.iter().collect();
        sys_dirs.sort();
        for d in sys_dirs {
            // A system dir inside another one is reached through that one's
            // link (creating it would write through the link, outside the root).
            if linked.iter().any(|l| d.starts_with(l)) {
                continue;
            }
            sys_links.push(self.mirror.system_link(d).map_err(io)?);
            linked.push(d);
        }
        let mut links = Vec::new();
        let mut seen = crate::fxhash::FxSet::default();
        let mut files = Vec::new();
        for (f, facts) in closure.files.iter().zip(&closure.facts) {
            // What the scan saw of a file spares the mirror its stat calls
            // (four per header per query were a third of this server's CPU).
            let Some(facts) = facts else {
                continue; // gone since the scan: not on the server either
            };
            let real = &facts.real;
            if sys.iter().any(|s| real.starts_with(s)) {
                continue; // the server has its own copy
            }
            // A name with no `..` that is its own real path crosses no link.
            let dotdot = f.as_os_str().as_bytes().windows(3).any(|w| w == b"/..");
            if real != f || dotdot {
                for l in self.mirror.ancestor_links(f).map_err(io)? {
                    if seen.insert(l.clone()) {
                        links.push(l);
                    }
                }
            }
            let (at, fdig) = self.mirror.file(real, facts.stamp).map_err(io)?;
            if seen.insert(at.clone()) {
                files.push((at, fdig));
            }
        }
        let mut forcing = Vec::new();
        for d in &closure.dirs {
            // Named as the compiler names it, perhaps through symlinks: the
            // links are mirrored and the directory made where it really is
            // (never written through a link).
            for l in self.mirror.ancestor_links(d).map_err(io)? {
                if seen.insert(l.clone()) {
                    links.push(l);
                }
            }
            let Ok(real) = std::fs::canonicalize(d) else {
                continue; // gone since the scan: not there on the server either
            };
            if sys.iter().any(|s| real.starts_with(s)) {
                continue; // the server has its own
            }
            let at = self.mirror.forcing_file(&real).map_err(io)?;
            if seen.insert(at.clone()) {
                forcing.push(at);
            }
        }
        let n_links = sys_links.len() + links.len();
        let empty = (0, crate::store::Digest::of(b"").0);
        let mut digests: Digests = vec![None; n_links];
        digests.extend(files.iter().map(|(_, d)| Some(*d)));
        digests.extend(forcing.iter().map(|_| Some(empty)));
        let mut listed = strings(sys_links);
        listed.extend(strings(links));
        listed.extend(files.into_iter().map(|(at, _)| at.into_os_string()));
        listed.extend(strings(forcing));
        Ok(Answer { listed, digests })
    }
}

/// Serve queries on `listener` until killed, logging each in `session`.
pub fn serve(listener: UnixListener, session: &Session) -> i32 {
    let mut server = match IncludeServer::new() {
        Ok(s) => s,
        Err(e) => {
            log::error!("include server: {e}");
            return crate::exitcode::EXIT_IO_ERROR;
        }
    };
    session.record_mirror(&server.mirror_top());
    let mut log = session.query_log();
    let limits = Limits::default();
    for conn in listener.incoming() {
        let Ok(mut s) = conn else { continue };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
        // Buffered: a query is some 60 tokens, each one read call unbuffered.
        let (cwd, argv) = match include::read_query(&mut std::io::BufReader::new(&s), &limits) {
            Ok(q) => q,
            Err(e) => {
                log::warn!("include server: bad query: {e}");
                continue;
            }
        };
        let (answer, gave_up) = match server.answer(&cwd, &argv) {
            Ok(a) => (a, None),
            Err(why) => (Answer::default(), Some(why)),
        };
        // One write: the trailer is there when a client reads the list's end.
        let mut out = include::encode_answer(&answer.listed);
        if !answer.listed.is_empty() {
            out.extend(include::encode_digests(&answer.digests));
        }
        let _ = s.write_all(&out);
        let Some(l) = log.as_mut() else { continue };
        match gave_up {
            None => l.listed(answer.listed.len()),
            Some(why) => {
                let input = crate::args::scan(&argv)
                    .map(|s| s.input.to_string_lossy().into_owned())
                    .unwrap_or_default();
                l.gave_up(&input, &why);
            }
        }
    }
    0
}
