//! One compile on the daemon: check the request, lay out a private job
//! directory, spawn the compiler, and turn its results into a reply.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::args;
use crate::protocol::reply::Reply;
use crate::protocol::status::WaitStatus;
use crate::protocol::Features;

use super::feed::{self, Feed};
use super::harden;
use super::refusal::Refusal;
use super::sandbox;
use super::spare_dirs::SpareDirs;
use super::whitelist::{self, Policy};

/// A request that passed every check, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The client's bytes: names need not be UTF-8.
    pub argv: Vec<OsString>,
    pub input_index: usize,
    /// Index of the argument holding the output name (`-o` value or `-oX`).
    pub output_index: usize,
    pub output_joined: bool,
    /// The source's name for logs and the status page (lossy text).
    pub input: String,
    /// The output as the client named it (the target of a pump `.d` file).
    pub output: OsString,
    pub output_ext: String,
}

impl Plan {
    /// The compiler's name for logs and statistics (lossy text).
    pub fn compiler(&self) -> String {
        self.argv[0].to_string_lossy().into_owned()
    }
}

/// Check the client's argv before anything is written or run: distcc's
/// own rules (it must be a remote-able compile), the compiler whitelist,
/// then the argument hardening of `harden` (`cwd`: the client's working
/// directory, pump mode only).
#[cfg(any(test, feature = "fuzzing"))]
pub fn plan(argv: &[OsString], policy: &Policy) -> Result<Plan, String> {
    plan_mode(argv, policy, harden::Mode::Plain, OsStr::new("/"))
}

pub fn plan_mode(
    argv: &[OsString],
    policy: &Policy,
    mode: harden::Mode,
    cwd: &OsStr,
) -> Result<Plan, String> {
    let scan = args::scan(argv).map_err(|why| match why {
        args::Local::Preprocess => "-E cannot be run remotely".to_string(),
        args::Local::Reason(r) => format!("not a remote compile: {r}"),
    })?;
    whitelist::check(policy, &scan.argv[0])?;
    let (output_index, output_joined) = scan
        .argv
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(i, a)| match a.as_bytes() {
            b"-o" => Some((i + 1, false)),
            a if a.starts_with(b"-o") => Some((i, true)),
            _ => None,
        })
        .filter(|(i, _)| *i < scan.argv.len())
        .ok_or("the output must be given with -o")?;
    let (argv, input_index, output_index) =
        harden::sanitize_mode(&scan.argv, scan.input_index, output_index, mode, cwd)?;
    let output_ext = Path::new(&scan.output)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|e| e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "o".into());
    Ok(Plan {
        input_index,
        output_index,
        output_joined,
        input: scan.input.to_string_lossy().into_owned(),
        output: scan.output,
        output_ext,
        argv,
    })
}

/// A private job directory; removed when dropped, whatever happened.
pub struct JobDir(PathBuf);

impl JobDir {
    pub fn create(tmp: &Path) -> std::io::Result<JobDir> {
        // The daemon's pid in the name lets a restarted daemon remove what
        // a killed one left behind (`remove_stale`).
        let prefix = format!("tinydccd_{}_", std::process::id());
        crate::paths::make_temp_dir(tmp, &prefix).map(JobDir)
    }

    /// Remove job directories of daemons that no longer run (killed with
    /// SIGKILL, or a crash), their compiler identity probes' output files
    /// (`cache::probe`) and their pools of spare directories
    /// (`spare_dirs`): called once at start. Returns how many, pools not
    /// counted.
    pub fn remove_stale(tmp: &Path) -> usize {
        let Ok(rd) = std::fs::read_dir(tmp) else {
            return 0;
        };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("tinydccd_")
                .and_then(|r| r.split('_').next())
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                == Err(nix::errno::Errno::ESRCH);
            let p = e.path();
            if gone && (std::fs::remove_dir_all(&p).is_ok() || std::fs::remove_file(&p).is_ok()) {
                n += usize::from(!name.contains("_spare"));
            }
        }
        n
    }
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory, no longer removed on drop: the event loop removes
    /// it a bounded step at a time (`trash`).
    pub fn into_path(self) -> PathBuf {
        // Not dropped (that would remove it); the path moves out, so
        // nothing is left behind to leak.
        let mut me = std::mem::ManuallyDrop::new(self);
        std::mem::take(&mut me.0)
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the compiler gets the job's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Plain C-family job: the compiler reads the source from a pipe and
    /// may start before it arrives (`feed`).
    Piped,
    /// Plain job: the compiler reads `input.EXT`, written whole first.
    File,
    /// Pump: the client's files mirrored below the job directory. The
    /// compiler runs in the mirror of the client's cwd, known once the
    /// files are laid out (`receive_files`).
    Mirror { run_dir: Option<PathBuf> },
}

/// A checked request with its job directory, receiving its source.
pub struct Prepared {
    pub plan: Plan,
    pub dir: JobDir,
    pub features: Features,
    pub input: Input,
    /// Pump: contents written into the mirror and contents laid out from
    /// the header store, until the stats take them (`take_files`).
    files: (u64, u64),
}

impl Prepared {
    /// Lay out the job directory once argv has passed every check.
    pub fn new(
        plan: Plan,
        features: Features,
        tmp: &Path,
        pipe: bool,
    ) -> Result<Prepared, Refusal> {
        let dir = JobDir::create(tmp).map_err(|e| Refusal {
            code: crate::exitcode::EXIT_IO_ERROR,
            why: format!(
                "cannot create a job directory in {}: {}",
                tmp.display(),
                crate::errtext::reason(&e)
            ),
        })?;
        let input = if features.cpp_on_server() {
            Input::Mirror { run_dir: None }
        } else if pipe
            && matches!(
                args::preprocessed_ext(&plan.input),
                "i" | "ii" | "mi" | "mii"
            )
        {
            Input::Piped
        } else {
            Input::File
        };
        Ok(Prepared {
            plan,
            dir,
            features,
            input,
            files: (0, 0),
        })
    }

    /// Pump: (contents written, contents laid out from the header store)
    /// since the last call, for the stats page.
    pub fn take_files(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.files)
    }

    /// Pump: the mirror of the client's filesystem, below the job's own files.
    pub fn mirror(&self) -> PathBuf {
        self.dir.path().join("m")
    }

    /// Pump: lay out the client's files; the request is then dropped.
    pub fn receive_files(
        &mut self,
        req: crate::protocol::request::Request,
        store: Option<&mut crate::store::ContentStore>,
        spares: Option<&mut SpareDirs>,
    ) -> Result<(), Refusal> {
        use crate::protocol::request::PumpEntry;
        log::debug!(
            "protocol 3 request for {}: {} files and links",
            self.plan.input,
            req.files.len()
        );
        // Store form: what the store held is laid out already
        // (`link_stored`); only the contents sent remain.
        let files: Vec<PumpEntry> = req
            .files
            .into_iter()
            .filter(|e| !matches!(e, PumpEntry::Stored { data: None, .. }))
            .collect();
        let cwd = req.cwd.as_deref().unwrap_or(OsStr::new("/"));
        let run = self.lay_out(cwd, &files, store, spares)?.0;
        self.input = Input::Mirror { run_dir: Some(run) };
        Ok(())
    }

    /// Store form, before the contents come: lay out the manifest's links
    /// and the contents the header store holds; the rest (true) are asked
    /// for. Any trouble asks for everything: the job then goes as it would
    /// without a store.
    pub fn link_stored(
        &mut self,
        cwd: &OsStr,
        manifest: &[crate::protocol::request::PumpEntry],
        store: Option<&mut crate::store::ContentStore>,
        spares: Option<&mut SpareDirs>,
    ) -> Vec<bool> {
        match self.lay_out(cwd, manifest, store, spares) {
            Ok((_, missing)) => missing,
            Err(r) => {
                log::debug!("header store: {}", r.why);
                vec![true; manifest.len()]
            }
        }
    }

    fn lay_out(
        &mut self,
        cwd: &OsStr,
        files: &[crate::protocol::request::PumpEntry],
        store: Option<&mut crate::store::ContentStore>,
        spares: Option<&mut SpareDirs>,
    ) -> Result<(PathBuf, Vec<bool>), Refusal> {
        let mirror = self.mirror();
        let made = match std::fs::create_dir(&mirror) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            r => r,
        };
        let made = made
            .map_err(|e| crate::errtext::reason(&e))
            .and_then(|_| super::pump_job::materialize(&mirror, cwd, files, store, spares))
            .map_err(|why| Refusal {
                code: crate::exitcode::EXIT_PROTOCOL_ERROR,
                why: format!("bad pump request: {why}"),
            })?;
        // Counted from the entries, not in `materialize`: a content sent
        // is written, a stored one not missing was laid out from the store.
        use crate::protocol::request::PumpEntry;
        for (e, missing) in files.iter().zip(&made.1) {
            match e {
                PumpEntry::File { .. } | PumpEntry::Stored { data: Some(_), .. } => {
                    self.files.0 += 1
                }
                PumpEntry::Stored { data: None, .. } if !missing => self.files.1 += 1,
                _ => {}
            }
        }
        Ok(made)
    }

    fn input_path(&self) -> PathBuf {
        let ext = args::preprocessed_ext(&self.plan.input);
        self.dir.path().join(format!("input.{ext}"))
    }

    /// The whole plain source: the input itself, unless the compiler
    /// reads it from a pipe (then `input_path` links to its stdin).
    fn source_path(&self) -> PathBuf {
        if self.input == Input::Piped {
            let ext = args::preprocessed_ext(&self.plan.input);
            self.dir.path().join(format!("source.{ext}"))
        } else {
            self.input_path()
        }
    }

    /// Where the source goes as it arrives: the source itself, or the
    /// compressed stream (LZO), decompressed when it is complete.
    fn wire_path(&self) -> PathBuf {
        if self.features.compress() {
            self.dir.path().join("input.lzo")
        } else {
            self.source_path()
        }
    }

    /// The file the request decoder streams the source into.
    pub fn source_sink(&self) -> std::io::Result<File> {
        File::create(self.wire_path())
    }
}

/// Check a request's argv (complete in `dec`) and, if it passes, lay out
/// the job directory and point the decoder's source stream at it. A refusal
/// makes the decoder discard the source; it is answered once all is read.
/// `pipe`: the caller can feed a piped job (`feed`), so plain C-family
/// jobs become piped. `hash`: the result cache's digest of the source,
/// taken as the source arrives.
pub fn prepare(
    dec: &mut crate::protocol::request::RequestDecoder,
    policy: &Policy,
    tmp: &Path,
    pipe: bool,
    hash: Option<super::source_hash::SourceHash>,
) -> Result<Prepared, Refusal> {
    let features = dec.features().unwrap_or(Features::PLAIN);
    let (mode, cwd) = match dec.cwd() {
        Some(c) if features.cpp_on_server() => (harden::Mode::Pump, c.to_os_string()),
        _ => (harden::Mode::Plain, OsString::from("/")),
    };
    let prepared = plan_mode(dec.argv(), policy, mode, &cwd)
        .map_err(|why| Refusal {
            code: crate::exitcode::EXIT_BAD_ARGUMENTS,
            why,
        })
        .and_then(|plan| Prepared::new(plan, features, tmp, pipe))
        .and_then(|p| {
            if let Input::Mirror { .. } = p.input {
                return Ok(p); // the files come in the request itself
            }
            let f = p.source_sink().map_err(|e| Refusal {
                code: crate::exitcode::EXIT_IO_ERROR,
                why: format!(
                    "cannot write the job's source: {}",
                    crate::errtext::reason(&e)
                ),
            })?;
            let w = std::io::BufWriter::with_capacity(64 * 1024, f);
            match hash {
                Some(h) => {
                    dec.set_source_sink(Box::new(super::source_hash::HashingSink::new(w, h)))
                }
                None => dec.set_source_sink(Box::new(w)),
            }
            Ok(p)
        });
    if prepared.is_err() {
        dec.discard_payload();
    }
    prepared
}

/// A running compile.
pub struct Running {
    pub dir: JobDir,
    pub child: Child,
    pub plan: Plan,
    pub features: Features,
    /// Pump: the mirror root, removed from the `.d` file.
    pub mirror: Option<PathBuf>,
    /// Piped job: its stdin, until all of the source is in.
    pub feed: Option<Feed>,
}

impl Running {
    pub fn output_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("output.{}", self.plan.output_ext))
    }
}

/// Start the compiler, confined by Landlock when `sandbox` holds the
/// kernel's ABI. `complete`: the whole source has arrived; only a piped
/// job may start before that, and then gets `Feed::source_complete` later.
pub fn spawn(
    job: Prepared,
    sandbox: Option<u32>,
    max_source: usize,
    complete: bool,
) -> Result<Running, (Refusal, Box<Prepared>)> {
    match start(&job, sandbox, max_source, complete) {
        Ok((child, feed, mirror)) => Ok(Running {
            dir: job.dir,
            child,
            plan: job.plan,
            features: job.features,
            mirror,
            feed,
        }),
        // The job directory goes back to the caller, to be removed off
        // the event loop.
        Err(r) => Err((r, Box::new(job))),
    }
}

type Started = (Child, Option<Feed>, Option<PathBuf>);

fn start(
    job: &Prepared,
    sandbox: Option<u32>,
    max_source: usize,
    complete: bool,
) -> Result<Started, Refusal> {
    let fail = |code: i32, why: String| Refusal { code, why };
    let input = job.input_path();
    let mut feed = None;
    let stdin = if job.input == Input::Piped {
        let (r, mut f) = feed::pipe(job.wire_path(), job.source_path())
            .and_then(|p| std::os::unix::fs::symlink(feed::STDIN_LINK, &input).map(|_| p))
            .map_err(|e| {
                fail(
                    crate::exitcode::EXIT_IO_ERROR,
                    format!(
                        "cannot set up the compiler's input: {}",
                        crate::errtext::reason(&e)
                    ),
                )
            })?;
        if complete {
            f.source_complete(max_source)?;
        }
        feed = Some(f);
        Stdio::from(r)
    } else {
        if job.input == Input::File && job.features.compress() {
            feed::decompress(&job.wire_path(), &input, max_source)?;
        }
        Stdio::null()
    };
    let dir = job.dir.path();
    let output = dir.join(format!("output.{}", job.plan.output_ext));
    let plan = &job.plan;
    let mut argv = plan.argv.clone();
    argv[plan.output_index] = if plan.output_joined {
        OsString::from_vec([b"-o", output.as_os_str().as_bytes()].concat())
    } else {
        output.clone().into_os_string()
    };
    let (run_dir, mirror) = match &job.input {
        Input::Mirror { run_dir: Some(run) } => {
            // Pump: the real source, found by its client path in the mirror.
            let m = job.mirror();
            argv = super::pump_job::rewrite_argv(
                &argv,
                plan.input_index,
                &m,
                &dir.join("deps.d"),
                &plan.output,
            );
            (run.clone(), Some(m))
        }
        Input::Mirror { run_dir: None } => {
            return Err(fail(
                crate::exitcode::EXIT_PROTOCOL_ERROR,
                "bad pump request: its files were not laid out".into(),
            ))
        }
        Input::Piped | Input::File => {
            argv[plan.input_index] = input.clone().into_os_string();
            (dir.to_path_buf(), None)
        }
    };
    if wants_pipe(&argv) {
        argv.insert(1, "-pipe".into());
    }
    let files =
        File::create(dir.join("stdout")).and_then(|o| Ok((o, File::create(dir.join("stderr"))?)));
    let (out, err) = files.map_err(|e| {
        fail(
            crate::exitcode::EXIT_IO_ERROR,
            format!("cannot create output files: {}", crate::errtext::reason(&e)),
        )
    })?;
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&run_dir)
        // The compiler's own temp files stay inside the job directory.
        .env("TMPDIR", dir)
        // These make gcc write a dependency file wherever they point.
        .env_remove("DEPENDENCIES_OUTPUT")
        .env_remove("SUNPRO_DEPENDENCIES")
        .stdin(stdin)
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let ruleset = match sandbox {
        Some(abi) => {
            let root = sandbox::toolchain_root(&argv[0]);
            Some(
                sandbox::Ruleset::for_job(abi, dir, root.as_deref()).map_err(|e| {
                    fail(
                        crate::exitcode::EXIT_DISTCC_FAILED,
                        format!(
                            "cannot set up the Landlock sandbox: {}",
                            crate::errtext::reason(&e)
                        ),
                    )
                })?,
            )
        }
        None => None,
    };
    if let Some(r) = &ruleset {
        r.apply_to_child(&mut cmd);
    }
    let child = cmd.spawn().map_err(|e| {
        fail(
            crate::exitcode::EXIT_COMPILER_MISSING,
            format!(
                "failed to exec {}: {}",
                argv[0].to_string_lossy(),
                crate::errtext::reason(&e)
            ),
        )
    })?;
    drop(ruleset);
    // Our copy of the pipe's read end goes with `cmd`, so EPIPE tells us
    // the compiler is gone.
    drop(cmd);
    Ok((child, feed, mirror))
}

/// Run gcc and clang with `-pipe`: the assembler reads the compiler's
/// output from a pipe instead of a temp file, so nothing extra goes to the
/// board's SD card and the assembler starts while the compiler still runs
/// (about 2 ms less per small job on 2 cores). The object is the same.
/// Not with `-save-temps`, where gcc ignores it with a warning.
fn wants_pipe(argv: &[OsString]) -> bool {
    let name = Path::new(&argv[0])
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let family =
        ["gcc", "g++", "clang"].iter().any(|f| name.contains(f)) || name == "cc" || name == "c++";
    family
        && !argv[1..].iter().any(|a| {
            a == "-pipe"
                || a == "--pipe"
                || a.as_bytes().starts_with(b"-save-temps")
                || a.as_bytes().starts_with(b"--save-temps")
        })
}

/// A finished job's results. In v1 the object stays in its file (sent with
/// sendfile); `object` is then empty and `object_file` open. The job
/// directory goes away when the returned `Finished` is dropped.
pub struct Finished {
    pub reply: Reply,
    pub object_file: Option<(File, u64)>,
    pub dir: JobDir,
    /// The compiler exited 0 but left no object to send: why. The reply
    /// then says EXIT_IO_ERROR, never success with an empty object.
    pub no_object: Option<String>,
}

impl Finished {
    /// The whole reply in memory (the object read from its file if needed),
    /// and why a success has no object, if so.
    pub fn into_reply(mut self) -> (Reply, Option<String>) {
        if let Some((mut f, len)) = self.object_file.take() {
            use std::io::Read;
            let why = match f.read_to_end(&mut self.reply.object) {
                Ok(n) if n as u64 == len => None,
                Ok(_) => Some("compiler exited 0 but its object file changed size".to_string()),
                Err(e) => Some(unreadable(&e)),
            };
            if let Some(why) = why {
                fail_without_object(&mut self.reply, &why);
                self.no_object = Some(why);
            }
        }
        (self.reply, self.no_object)
    }
}

fn unreadable(e: &std::io::Error) -> String {
    format!(
        "compiler exited 0 but its object file cannot be read: {}",
        crate::errtext::reason(e)
    )
}

/// The object of a successful compile, or why there is nothing to send.
fn open_object(path: &Path) -> Result<(File, u64), String> {
    let f = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "compiler exited 0 but wrote no object file".to_string(),
        _ => unreadable(&e),
    })?;
    let len = f.metadata().map(|m| m.len()).map_err(|e| unreadable(&e))?;
    if len == 0 {
        return Err("compiler exited 0 but wrote an empty object file".into());
    }
    Ok((f, len))
}

/// Turn a success into distcc's EXIT_IO_ERROR, with the reason in SERR
/// after whatever the compiler printed, under the name the daemon's other
/// words to clients use (`refusal_reply`, the access refusal line).
fn fail_without_object(reply: &mut Reply, why: &str) {
    reply.status = WaitStatus::exited(crate::exitcode::EXIT_IO_ERROR);
    reply.object.clear();
    reply.dotd = None;
    reply
        .stderr
        .extend_from_slice(format!("distccd: {why}\n").as_bytes());
}

/// Collect a compile's results (its exit status: `status`); the child
/// has been reaped.
pub fn finish(job: Running, status: WaitStatus) -> Finished {
    let mut stderr = std::fs::read(job.dir.path().join("stderr")).unwrap_or_default();
    if let Some(m) = &job.mirror {
        stderr = super::pump_job::strip_root(&stderr, m);
    }
    let stdout = std::fs::read(job.dir.path().join("stdout")).unwrap_or_default();
    let mut object = Vec::new();
    let mut object_file = None;
    let mut no_object = None;
    if status.success() {
        let opened = open_object(&job.output_path());
        match opened {
            // To be compressed, so read now; else sent from the file.
            Ok((mut f, len)) if job.features.compress() => {
                use std::io::Read;
                object.reserve(len as usize);
                if let Err(e) = f.read_to_end(&mut object) {
                    no_object = Some(unreadable(&e));
                }
            }
            Ok(f) => object_file = Some(f),
            Err(why) => no_object = Some(why),
        }
    }
    let dotd = match &job.mirror {
        Some(m) if status.success() => {
            let d = std::fs::read(job.dir.path().join("deps.d")).unwrap_or_default();
            Some(super::pump_job::strip_root(&d, m))
        }
        _ => None,
    };
    let mut reply = Reply {
        features: job.features,
        status,
        stderr,
        stdout,
        object,
        dotd,
    };
    if let Some(why) = &no_object {
        fail_without_object(&mut reply, why);
    }
    Finished {
        reply,
        object_file,
        dir: job.dir,
        no_object,
    }
}

/// Take back an early start (see `event_loop::preempt`): kill the
/// compiler, keep the job directory and what has arrived of the source.
/// The killed child is returned, to be reaped when it has died.
pub fn unstart(mut job: Running) -> (Prepared, Child) {
    kill_group(&mut job.child);
    let p = Prepared {
        plan: job.plan,
        dir: job.dir,
        features: job.features,
        // Only a piped job starts early.
        input: Input::Piped,
        files: (0, 0),
    };
    // The link to the compiler's stdin is made again at the next start.
    let _ = std::fs::remove_file(p.input_path());
    (p, job.child)
}

/// SIGKILL a compiler's whole process group. Not waited for here: the
/// caller reaps it (the event loop on SIGCHLD, never blocking).
pub fn kill_group(child: &mut Child) {
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
}

/// Kill a job's whole process group: the child to reap and the job
/// directory to remove once it is dead.
pub fn abort(mut job: Running) -> (Child, JobDir) {
    kill_group(&mut job.child);
    (job.child, job.dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn plan_finds_input_and_output() {
        let p = plan(&v("gcc -O2 -c hello.c -o hello.o"), &Policy::Insecure).unwrap();
        assert_eq!(
            (p.input_index, p.output_index, p.output_joined),
            (3, 5, false)
        );
        let p = plan(&v("gcc -c hello.c"), &Policy::Insecure).unwrap();
        assert_eq!(p.argv, v("gcc -c hello.c -o hello.o"));
        let p = plan(&v("gcc -c x.c -ox.o"), &Policy::Insecure).unwrap();
        assert!(p.output_joined);
        let p = plan(&v("gcc -S x.c -o x.s"), &Policy::Insecure).unwrap();
        assert_eq!(p.output_ext, "s");
    }

    #[test]
    fn a_job_dir_handed_on_is_kept_and_a_dropped_one_removed() {
        let tmp = std::env::temp_dir();
        let kept = JobDir::create(&tmp).unwrap();
        let path = kept.into_path();
        assert!(path.is_dir());
        std::fs::remove_dir(&path).unwrap();
        let dropped = JobDir::create(&tmp).unwrap();
        let path = dropped.path().to_path_buf();
        drop(dropped);
        assert!(!path.exists());
    }

    #[test]
    fn a_dead_daemons_leftovers_are_removed() {
        let tmp = crate::paths::make_temp_dir(&std::env::temp_dir(), "tinydcc-stale.").unwrap();
        // No process has a pid this large (pid_max is at most 2^22).
        let dir = tmp.join("tinydccd_99999999_abc");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("input.i"), "x").unwrap();
        std::fs::write(tmp.join("tinydccd_99999999_probe.abc"), "gcc -v").unwrap();
        // Its pool of spare directories (`spare_dirs`).
        std::fs::create_dir_all(tmp.join("tinydccd_99999999_spareabc/0")).unwrap();
        let ours = tmp.join(format!("tinydccd_{}_probe.abc", std::process::id()));
        std::fs::write(&ours, "gcc -v").unwrap();
        assert_eq!(JobDir::remove_stale(&tmp), 2);
        assert!(!tmp.join("tinydccd_99999999_spareabc").exists());
        assert!(ours.exists() && !dir.exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn pipe_for_gcc_and_clang_only() {
        assert!(wants_pipe(&v("x86_64-linux-gnu-gcc -c a.i -o a.o")));
        assert!(wants_pipe(&v("/usr/bin/clang++-14 -c a.ii -o a.o")));
        assert!(wants_pipe(&v("cc -c a.i -o a.o")));
        assert!(!wants_pipe(&v("gcc -pipe -c a.i -o a.o")));
        assert!(!wants_pipe(&v("gcc -save-temps=obj -c a.i -o a.o")));
        assert!(!wants_pipe(&v("tcc -c a.i -o a.o")));
    }

    #[test]
    fn plan_refuses() {
        for s in [
            "gcc -E x.c",
            "gcc x.c -o x",
            "gcc -c x.c -fplugin=evil.so",
            "gcc -c x.c -specs=evil",
        ] {
            assert!(plan(&v(s), &Policy::Insecure).is_err(), "{s}");
        }
        assert!(plan(&v("/bin/sh -c x.c"), &Policy::Builtin).is_err());
    }
}
