//! The include server: answers pump clients (ours and stock distcc 3.4)
//! on a Unix socket with the files each translation unit needs, laid out
//! in the client root (`mirror`). One process, one query at a time: each
//! answer is a scan against warm caches, far shorter than a compile.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::protocol::{include, Limits};

use super::mirror::Mirror;
use crate::scan::Scanner;

/// One line per query in `<dir>/log` ("ok N" or "gave-up REASON"), read by
/// the `pump` command for its summary.
pub const LOG_NAME: &str = "log";
/// The mirror's top directory, for the `pump` command to remove.
pub const MIRROR_NAME: &str = "mirror";

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
        let mut seen = HashSet::new();
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

/// Serve queries on `listener` until killed; `dir` is the pump directory
/// that holds the socket and the query log.
pub fn serve(listener: UnixListener, dir: &Path) -> i32 {
    let mut server = match IncludeServer::new() {
        Ok(s) => s,
        Err(e) => {
            log::error!("include server: {e}");
            return crate::exitcode::EXIT_IO_ERROR;
        }
    };
    let _ = std::fs::write(
        dir.join(MIRROR_NAME),
        server.mirror_top().as_os_str().as_bytes(),
    );
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_NAME))
        .ok();
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
        let (answer, line) = match server.answer(&cwd, &argv) {
            Ok(list) => {
                let n = list.len();
                (list, format!("ok {n}\n"))
            }
            Err(why) => {
                let input = crate::args::scan(&argv)
                    .map(|s| s.input.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let why = why.replace('\n', " ");
                (Vec::new(), format!("gave-up {input}: {why}\n"))
            }
        };
        let _ = s.write_all(&include::encode_answer(&answer));
        if let Some(l) = log.as_mut() {
            let _ = l.write_all(line.as_bytes());
        }
    }
    0
}
