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

use crate::protocol::{include, Limits};

use super::mirror::Mirror;
use super::session::Session;
use crate::scan::Scanner;

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
    pub fn answer(&mut self, cwd: &OsStr, argv: &[OsString]) -> Result<Vec<OsString>, String> {
        if !cwd.as_bytes().starts_with(b"/") {
            return Err("the client sent no absolute working directory".into());
        }
        let closure = self.scanner.scan(Path::new(cwd), argv).map_err(|g| g.0)?;
        self.mirror.new_query();
        let io = |e: std::io::Error| format!("cannot prepare the client root: {e}");
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
        for f in &closure.files {
            let Ok(real) = self.mirror.real_path(f) else {
                continue; // gone since the scan: not there on the server either
            };
            if sys.iter().any(|s| real.starts_with(s)) {
                continue; // the server has its own copy
            }
            for l in self.mirror.ancestor_links(f).map_err(io)? {
                if seen.insert(l.clone()) {
                    links.push(l);
                }
            }
            let at = self.mirror.file(f).map_err(io)?;
            if seen.insert(at.clone()) {
                files.push(at);
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
            let Ok(real) = self.mirror.real_path(d) else {
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
        let mut out = strings(sys_links);
        out.extend(strings(links));
        out.extend(strings(files));
        out.extend(strings(forcing));
        Ok(out)
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
        let (cwd, argv) = match include::read_query(&mut s, &limits) {
            Ok(q) => q,
            Err(e) => {
                log::warn!("include server: bad query: {e}");
                continue;
            }
        };
        let (answer, gave_up) = match server.answer(&cwd, &argv) {
            Ok(list) => (list, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        let _ = s.write_all(&include::encode_answer(&answer));
        let Some(l) = log.as_mut() else { continue };
        match gave_up {
            None => l.listed(answer.len()),
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
