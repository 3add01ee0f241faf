//! The daemon's side of the result cache (issue 16 §1): what a job's key
//! is made of (the compiler's identity, the argv as the daemon runs it,
//! the input as received), looking a job up, and keeping a successful
//! compile's result. The store on disk is `crate::store`; doc/cache.md
//! describes both. Both drivers use it: the event loop runs a compiler's
//! identity probe as a child it reaps like a compile, inetd waits for it.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::protocol::reply::Reply;
use crate::protocol::request::{PumpEntry, Request};
use crate::protocol::status::WaitStatus;
use crate::protocol::Features;
use crate::store::{cacheable, Counters, Digest, Entry, KeyBuilder, Mode, ResultCache};

use super::job::Plan;
use super::source_hash::SourceHash;

/// `--cache-size` when not given.
pub const DEFAULT_SIZE: u64 = 1 << 30;

/// `--cache-dir` and `--cache-size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dir: PathBuf,
    pub limit: u64,
}

pub enum Item {
    File(Vec<u8>, Digest),
    Link(Vec<u8>, Vec<u8>),
}

/// What a job's key is made of besides its compiler and argv, gathered
/// as the job comes in.
pub enum Material {
    /// Plain: the source (or its LZO stream), hashed as it arrives.
    Plain { hash: SourceHash, lzo: bool },
    /// Pump: every file by name and content digest, every link, the cwd.
    Pump { items: Vec<Item>, cwd: Vec<u8> },
    /// Not cached: why.
    Not(&'static str),
}

impl Material {
    /// A plain job's material; its hash fills as the source arrives.
    pub fn plain(features: Features) -> (Material, SourceHash) {
        let hash = SourceHash::default();
        let lzo = features.compress();
        (
            Material::Plain {
                hash: hash.clone(),
                lzo,
            },
            hash,
        )
    }

    /// A pump job's material, from its request (before it is laid out).
    pub fn pump(req: &Request) -> Material {
        let mut items = Vec::with_capacity(req.files.len());
        for e in &req.files {
            match e {
                PumpEntry::File { name, data } => {
                    // The server expands these: the output depends on the time.
                    if cacheable::mentions_time(data) {
                        return Material::Not("__DATE__, __TIME__ or __TIMESTAMP__ in its files");
                    }
                    items.push(Item::File(name.as_bytes().to_vec(), Digest::of(data)));
                }
                // Sent: checked like a file (its digest is verified when
                // it is laid out, before any lookup). Linked from the header
                // store: the store never keeps a content naming the time.
                PumpEntry::Stored {
                    name, digest, data, ..
                } => {
                    if data.as_deref().is_some_and(cacheable::mentions_time) {
                        return Material::Not("__DATE__, __TIME__ or __TIMESTAMP__ in its files");
                    }
                    items.push(Item::File(name.as_bytes().to_vec(), Digest(*digest)));
                }
                PumpEntry::Link { name, target } => items.push(Item::Link(
                    name.as_bytes().to_vec(),
                    target.as_bytes().to_vec(),
                )),
            }
        }
        let cwd = req.cwd.as_deref().unwrap_or(OsStr::new("/"));
        Material::Pump {
            items,
            cwd: cwd.as_bytes().to_vec(),
        }
    }
}

/// What decides that an executable is unchanged: when any of it differs,
/// its identity is read again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sig {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn sig(path: &Path) -> Option<Sig> {
    let m = std::fs::metadata(path).ok()?;
    Some(Sig {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

/// The executable the daemon runs for `argv0` (PATH searched as `Command`
/// does), with every symlink resolved.
fn resolve(argv0: &OsStr) -> Option<PathBuf> {
    let p = Path::new(argv0);
    let found = if argv0.as_bytes().contains(&b'/') {
        Some(p.to_path_buf())
    } else {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(p))
            .find(|c| std::fs::metadata(c).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
    };
    std::fs::canonicalize(found?).ok()
}

/// What a job's compiler is, as far as the cache knows.
pub enum Compiler {
    /// Resolved, and its identity is known.
    Known { path: PathBuf, identity: Vec<u8> },
    /// Resolved; its identity must be read (`probe`) first.
    Unknown { path: PathBuf, sig: Sig },
    /// Not found: the compile fails anyway, and is not cached.
    Missing,
}

/// A compiler's `-v` output, being written by a child to `out`.
pub struct Probe {
    pub child: Child,
    pub path: PathBuf,
    pub sig: Sig,
    pub out: PathBuf,
    pub started: std::time::Instant,
    /// Killed for taking longer than `PROBE_LIMIT`: nothing is learnt.
    pub killed: bool,
}

/// How long a compiler may take to say what it is before its jobs go on
/// uncached (a `-v` that hangs must not hold them forever).
pub const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Start reading `path`'s identity: `path -v`, its output into a file in
/// `tmp` (a pipe could fill and stall a chatty program).
pub fn probe(path: &Path, sig: Sig, tmp: &Path) -> io::Result<Probe> {
    let out = tmp.join(format!(
        "tinydccd_{}_probe.{}",
        std::process::id(),
        crate::paths::random_suffix()
    ));
    let f = std::fs::File::create(&out)?;
    let spawned = Command::new(path)
        .arg("-v")
        .current_dir(tmp)
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f)
        .spawn();
    match spawned {
        Ok(child) => Ok(Probe {
            child,
            path: path.to_path_buf(),
            sig,
            out,
            started: std::time::Instant::now(),
            killed: false,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&out);
            Err(e)
        }
    }
}

/// The result cache and the compiler identities it has read.
pub struct Cache {
    settings: Settings,
    /// None until opened (inetd opens it on first use), or when it
    /// cannot be opened.
    store: Option<ResultCache>,
    tried: bool,
    /// Resolved compiler path: its signature and identity. A few entries
    /// (the whitelisted compilers), so a list: a map type of its own
    /// would cost more code than it saves.
    known: Vec<(PathBuf, Sig, Vec<u8>)>,
}

impl Cache {
    /// The daemon's cache, opened now: adds up what it holds, so the
    /// daemon can keep it under its limit. Open it with the daemon's own
    /// privileges, or it cannot write.
    pub fn open(settings: Settings) -> Cache {
        let store = match ResultCache::open(&settings.dir, settings.limit) {
            Ok(s) => {
                let c = s.counters();
                log::info!(
                    "result cache in {}: {} entries, {} bytes of {}",
                    settings.dir.display(),
                    c.entries,
                    c.bytes,
                    settings.limit
                );
                Some(s)
            }
            Err(e) => {
                log::warn!(
                    "result cache off: cannot open {}: {}",
                    settings.dir.display(),
                    crate::errtext::reason(&e)
                );
                None
            }
        };
        Cache {
            settings,
            store,
            tried: true,
            known: Vec::new(),
        }
    }

    /// inetd's cache: opened on first use, without adding up what it
    /// holds (one process per job must not read every shard), and so
    /// never evicting (see doc/cache.md).
    pub fn lazy(settings: Settings) -> Cache {
        Cache {
            settings,
            store: None,
            tried: false,
            known: Vec::new(),
        }
    }

    fn store(&mut self) -> Option<&mut ResultCache> {
        if !self.tried {
            self.tried = true;
            match ResultCache::open_unscanned(&self.settings.dir, self.settings.limit) {
                Ok(s) => self.store = Some(s),
                Err(e) => log::warn!(
                    "result cache off: cannot open {}: {}",
                    self.settings.dir.display(),
                    crate::errtext::reason(&e)
                ),
            }
        }
        self.store.as_mut()
    }

    /// The job's compiler, as far as the cache knows it.
    pub fn compiler(&self, argv0: &OsStr) -> Compiler {
        let Some(path) = resolve(argv0) else {
            return Compiler::Missing;
        };
        let Some(now) = sig(&path) else {
            return Compiler::Missing;
        };
        match self.known.iter().find(|k| k.0 == path) {
            Some((_, s, id)) if *s == now => Compiler::Known {
                identity: id.clone(),
                path,
            },
            _ => Compiler::Unknown { path, sig: now },
        }
    }

    /// A probe ended: remember what the compiler said about itself. Its
    /// size and mtime are part of it, so a rebuilt compiler that prints
    /// the same text is still another compiler.
    pub fn learn(&mut self, p: &Probe, status: io::Result<ExitStatus>) {
        let said = std::fs::read(&p.out).unwrap_or_default();
        let _ = std::fs::remove_file(&p.out);
        let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
        let mut id = format!(
            "size {} mtime {}.{:09} exit {code}\n",
            p.sig.size, p.sig.mtime.0, p.sig.mtime.1
        )
        .into_bytes();
        id.extend_from_slice(&said);
        self.known.retain(|k| k.0 != p.path);
        self.known.push((p.path.clone(), p.sig, id));
    }

    /// inetd: read an identity now (one job per process: nobody waits).
    pub fn learn_now(&mut self, path: &Path, sig: Sig, tmp: &Path) -> Option<Vec<u8>> {
        let mut p = probe(path, sig, tmp).ok()?;
        let st = loop {
            match p.child.try_wait() {
                Ok(Some(st)) => break Ok(st),
                Ok(None) if p.started.elapsed() > PROBE_LIMIT => {
                    log::warn!(
                        "result cache: {} -v took over {} s; killed, the job goes on uncached",
                        path.display(),
                        PROBE_LIMIT.as_secs()
                    );
                    let _ = p.child.kill();
                    let _ = p.child.wait();
                    let _ = std::fs::remove_file(&p.out);
                    return None;
                }
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(2)),
                Err(e) => break Err(e),
            }
        };
        self.learn(&p, st);
        self.known.iter().find(|k| k.0 == path).map(|k| k.2.clone())
    }

    /// The job's key, or why it is not cached.
    pub fn key(
        path: &Path,
        identity: &[u8],
        plan: &Plan,
        material: &Material,
    ) -> Result<Digest, &'static str> {
        let bytes: Vec<&[u8]> = plan.argv.iter().map(|a| a.as_bytes()).collect();
        if let Some(why) = cacheable::argv_refusal(&bytes) {
            return Err(why);
        }
        let mode = match material {
            Material::Not(why) => return Err(why),
            Material::Plain { lzo: false, .. } => Mode::Plain,
            Material::Plain { lzo: true, .. } => Mode::PlainLzo,
            Material::Pump { .. } => Mode::Pump,
        };
        let mut k = KeyBuilder::new(mode);
        k.compiler(path.as_os_str().as_bytes(), identity)
            .args(&run_argv(plan, mode == Mode::Pump));
        match material {
            Material::Plain { hash, .. } => {
                k.input(&hash.digest());
            }
            Material::Pump { items, cwd } => {
                for i in items {
                    match i {
                        Item::File(n, d) => k.file(n, d),
                        Item::Link(n, t) => k.link(n, t),
                    };
                }
                k.cwd(cwd);
            }
            Material::Not(_) => {}
        }
        Ok(k.finish())
    }

    /// The reply the compile stored under `key` would send, if it is there.
    pub fn get(&mut self, key: &Digest, features: Features) -> Option<Reply> {
        let hit = self.store()?.get(key)?;
        let e = hit.entry();
        Some(Reply {
            features,
            status: WaitStatus::exited(0),
            stderr: e.stderr.to_vec(),
            stdout: Vec::new(),
            object: e.object.to_vec(),
            dotd: e.dep.map(<[u8]>::to_vec),
        })
    }

    /// Keep a successful compile's result (never an error for the job).
    pub fn put(&mut self, key: &Digest, e: &Entry) {
        if let Some(s) = self.store() {
            s.put(key, e);
        }
    }

    /// The store's counters, when it is open.
    pub fn counters(&self) -> Option<Counters> {
        self.store.as_ref().map(|s| s.counters())
    }

    /// One bounded step of eviction; true while more is to do.
    pub fn evict_step(&mut self) -> bool {
        match self.store.as_mut() {
            Some(s) if s.needs_eviction() => s.evict_step(),
            _ => false,
        }
    }

    pub fn needs_eviction(&self) -> bool {
        self.store.as_ref().is_some_and(|s| s.needs_eviction())
    }
}

/// The argv as the daemon runs it, without its temporary names: in plain
/// mode the input and output become the job directory's `input.EXT` and
/// `output.EXT` (the client's names for them never reach the compiler;
/// a stock client's input is a temporary file). In pump mode the client's
/// names stay: the compiler sees them, and the `.d` file names the output.
fn run_argv(plan: &Plan, pump: bool) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = plan.argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    if pump {
        return v;
    }
    let ext = crate::args::preprocessed_ext(&plan.input);
    if let Some(a) = v.get_mut(plan.input_index) {
        *a = format!("input.{ext}").into_bytes();
    }
    if let Some(a) = v.get_mut(plan.output_index) {
        let out = format!("output.{}", plan.output_ext);
        *a = if plan.output_joined {
            format!("-o{out}")
        } else {
            out
        }
        .into_bytes();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::job;
    use crate::daemon::source_hash::HashingSink;
    use crate::daemon::whitelist::Policy;
    use std::ffi::OsString;
    use std::io::Write;

    fn plan(s: &str) -> Plan {
        let argv: Vec<OsString> = s.split_whitespace().map(OsString::from).collect();
        job::plan(&argv, &Policy::Insecure).unwrap()
    }

    fn plain_key(argv: &str, src: &[u8]) -> Digest {
        let (m, h) = Material::plain(Features::PLAIN);
        HashingSink::new(Vec::new(), h).write_all(src).unwrap();
        Cache::key(Path::new("/usr/bin/gcc"), b"12", &plan(argv), &m).unwrap()
    }

    #[test]
    fn client_names_of_a_plain_job_do_not_reach_the_key() {
        let a = plain_key("gcc -O2 -c /tmp/distcc_1.i -o a.o", b"int x;");
        assert_eq!(a, plain_key("gcc -O2 -c /tmp/distcc_2.i -o b.o", b"int x;"));
        assert_ne!(
            a,
            plain_key("gcc -O2 -c /tmp/distcc_2.ii -o b.o", b"int x;")
        );
        assert_ne!(a, plain_key("gcc -O1 -c /tmp/distcc_1.i -o a.o", b"int x;"));
        assert_ne!(a, plain_key("gcc -O2 -c /tmp/distcc_1.i -o a.o", b"int y;"));
    }

    #[test]
    fn uncacheable_jobs_have_no_key() {
        let (m, _) = Material::plain(Features::PLAIN);
        let p = plan("gcc -ftime-report -c a.i -o a.o");
        let k = Cache::key(Path::new("/usr/bin/gcc"), b"12", &p, &m);
        assert_eq!(k, Err("timings on stderr"));
        let m = Material::Not("why");
        let k = Cache::key(Path::new("/usr/bin/gcc"), b"12", &plan("gcc -c a.i"), &m);
        assert_eq!(k, Err("why"));
    }
}
