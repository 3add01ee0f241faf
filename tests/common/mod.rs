//! Shared helpers for the integration tests: temp dirs, daemons (ours and
//! Debian's distccd) on ephemeral loopback ports, and client runs.
//! A missing external tool fails the test with a clear message: never a skip.
#![allow(dead_code)]

pub mod arm;
pub mod bed;
pub mod netns;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const HELLO: &str =
    "#include <stdio.h>\n\nint main(void)\n{\n\tprintf(\"Hello distcc\\n\");\n\treturn 0;\n}\n";
pub const BAD: &str = "#include <stdio.h>\nint main(void)\n{\n  int x = ;\n  return 0;\n}\n";
pub const WARN: &str = "int f(void)\n{\n  int unused;\n  return 0;\n}\n";

pub fn tinydcc() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tinydcc"))
}

/// The path of an external tool, or a failed test saying how to get it.
pub fn require(tool: &str) -> PathBuf {
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
    {
        let p = dir.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "required tool '{tool}' is missing: run tests/run (it installs Debian's distcc, gcc, ...) \
         or apt-get install the package that provides it"
    );
}

/// A private directory, world-readable so a daemon that dropped root can
/// use files in it; removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = std::env::temp_dir();
        for i in 0..1000u32 {
            let p = base.join(format!("tinydcc-test-{tag}-{}-{i}", std::process::id()));
            if std::fs::create_dir(&p).is_ok() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
                return TempDir(p);
            }
        }
        panic!("cannot create temp dir");
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago; daemons retry on a collision.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tiny,
    Stock,
}

pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub kind: Kind,
    /// Scratch dir given to the daemon as $TMPDIR.
    pub tmp: TempDir,
    _logdir: TempDir,
}

impl Daemon {
    /// Start a daemon on 127.0.0.1 with `--allow 127.0.0.1` unless `args`
    /// brings its own `--allow`.
    pub fn start(kind: Kind, args: &[&str]) -> Daemon {
        Self::start_env(kind, args, &[])
    }

    pub fn start_env(kind: Kind, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let bin = match kind {
            Kind::Tiny => tinydcc(),
            Kind::Stock => require("distccd"),
        };
        Self::start_program(kind, &bin, &[], args, env)
    }

    /// Start `program PRE... --daemon ...`: `pre` lets an emulator run the
    /// daemon (`qemu-arm-static <armv7 tinydcc>`).
    pub fn start_program(
        kind: Kind,
        bin: &Path,
        pre: &[&Path],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        for _attempt in 0..5 {
            let port = free_port();
            let logdir = TempDir::new("log");
            let tmp = TempDir::new("scratch");
            let log = logdir.join("daemon.log");
            let logf = std::fs::File::create(&log).unwrap();
            let mut cmd = Command::new(bin);
            cmd.args(pre)
                .arg("--daemon")
                .args([
                    "--no-detach",
                    "--listen",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                ])
                .args(["--log-stderr", "--log-level", "info"]);
            if !args.iter().any(|a| a.starts_with("--allow")) {
                cmd.args(["--allow", "127.0.0.1"]);
            }
            // "STATS_PORT" stands for the compile port + 1 (the stats
            // port stays 3633 unless given: tests give one of their own).
            let stats = (port + 1).to_string();
            cmd.args(args.iter().map(|a| {
                if *a == "STATS_PORT" {
                    stats.as_str()
                } else {
                    a
                }
            }))
            .env("TMPDIR", tmp.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            // Its own process group: distccd signals its whole group on exit.
            .process_group(0);
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin:?}: {e}"));
            if wait_for_port(port, &mut child) {
                return Daemon {
                    child,
                    port,
                    log,
                    kind,
                    tmp,
                    _logdir: logdir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if !text.contains("in use") {
                panic!("{kind:?} daemon did not start:\n{text}");
            }
        }
        panic!("no free port for the daemon");
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains `needle` (the daemon logs after replying).
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let t = self.log_text();
            if t.contains(needle) || Instant::now() > deadline {
                return t;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the per-job summary line (`RESULT` and the input name);
    /// both daemons write it after the reply, so poll for it.
    pub fn wait_job(&self, result: &str, input: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self
                .log_text()
                .lines()
                .any(|l| l.contains(result) && l.contains(input))
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn host(&self, lzo: bool) -> String {
        format!("127.0.0.1:{}{}", self.port, if lzo { ",lzo" } else { "" })
    }

    /// Stop with SIGTERM and return the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Job directories left once a job is answered: the daemon removes
    /// them just after replying, so give it a moment.
    pub fn leftovers_after_reply(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.leftovers();
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Job directories in the daemon's scratch dir now
    /// (`scratch_leftovers`).
    pub fn leftovers(&self) -> Vec<String> {
        scratch_leftovers(self.tmp.path())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM the group: a stock distccd has preforked children.
            let pg = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// A client command with a private DISTCC_DIR and HOME, in `dir`.
pub fn client_cmd(kind: Kind, dir: &Path, hosts: &str) -> Command {
    let bin = match kind {
        Kind::Tiny => tinydcc(),
        Kind::Stock => require("distcc"),
    };
    let mut c = Command::new(bin);
    private_client_env(&mut c, dir, hosts);
    c
}

/// Run `c` in `dir` as a client of `hosts` with a private DISTCC_DIR and
/// HOME, and none of the caller's DISTCC_* settings.
pub fn private_client_env(c: &mut Command, dir: &Path, hosts: &str) {
    let ddir = dir.join(".distcc-private");
    let _ = std::fs::create_dir_all(&ddir);
    c.current_dir(dir)
        .env("DISTCC_HOSTS", hosts)
        .env("DISTCC_DIR", &ddir)
        .env("HOME", dir)
        .env_remove("DISTCC_VERBOSE")
        .env_remove("DISTCC_LOG")
        .env_remove("DISTCC_FALLBACK")
        .env_remove("DISTCC_SKIP_LOCAL_RETRY")
        .env_remove("_DISTCC_SAFEGUARD")
        .env_remove("INCLUDE_SERVER_PORT");
}

pub fn run(mut c: Command) -> Output {
    c.output().expect("cannot run command")
}

/// The local reference: `gcc ARGS` in `dir`.
pub fn local_gcc(dir: &Path, args: &[&str]) -> Output {
    require("gcc");
    run({
        let mut c = Command::new("gcc");
        c.args(args).current_dir(dir);
        c
    })
}

/// stderr without the distcc/tinydcc client's own message lines.
pub fn compiler_lines(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.starts_with("distcc[") && !l.starts_with("tinydcc["))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// gcc's diagnostics without its source excerpts (`    4 |   int x = ;`
/// and the caret line under it): what a server that only had the
/// preprocessed text prints.
pub fn without_excerpts(diagnostics: &str) -> String {
    diagnostics
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            let digits = t.trim_start_matches(|c: char| c.is_ascii_digit());
            !(l.starts_with(' ') && digits.starts_with(" |") || t.starts_with('|'))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Send raw bytes to a daemon and return what it answers before closing.
pub fn raw_exchange(port: u16, send: &[u8], wait: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let _ = s.write_all(send);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Send bytes, then end our side (a client that gives up half way).
pub fn send_then_eof(port: u16, send: &[u8], wait: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let _ = s.write_all(send);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// True once the server has closed `s` (EOF or reset) within `wait`.
pub fn closed_by_peer(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 256];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// A request in distcc's protocol 1, for raw tests.
pub fn request_v1(argv: &[&str], source: &[u8]) -> Vec<u8> {
    let mut v = format!("DIST00000001ARGC{:08x}", argv.len()).into_bytes();
    for a in argv {
        v.extend(format!("ARGV{:08x}{a}", a.len()).into_bytes());
    }
    v.extend(format!("DOTI{:08x}", source.len()).into_bytes());
    v.extend_from_slice(source);
    v
}

/// A directory of server-side compiler wrappers (`gcc`, `cc` and the
/// triplet names a client sends) that log "start"/"end" lines and their
/// argv to `log`, then run the real gcc. Put it first on a daemon's PATH to
/// count concurrent jobs and see exactly what the server was asked to run.
pub fn logging_compilers(dir: &TempDir, log: &Path) -> PathBuf {
    let bin = dir.join("server-bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Absolute paths inside: this dir comes first on the daemon's PATH.
    let sets = [
        (
            "gcc",
            [
                "gcc",
                "cc",
                "x86_64-linux-gnu-gcc",
                "x86_64-linux-gnu-gcc-12",
            ],
        ),
        (
            "g++",
            [
                "g++",
                "c++",
                "x86_64-linux-gnu-g++",
                "x86_64-linux-gnu-g++-12",
            ],
        ),
    ];
    for (real, names) in sets {
        let body = format!(
            "#!/bin/sh\necho \"start $$ $*\" >> '{log}'\n{real} \"$@\"\nrc=$?\necho \"end $$\" >> '{log}'\nexit $rc\n",
            log = log.display(),
            real = require(real).display()
        );
        for name in names {
            let p = bin.join(name);
            std::fs::write(&p, &body).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    bin
}

/// PATH with `dir` first.
pub fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The most jobs a `logging_compilers` log shows running at once, and the
/// number of jobs.
pub fn max_concurrency(log: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let (mut now, mut max, mut total) = (0usize, 0usize, 0usize);
    for l in text.lines() {
        if l.starts_with("start ") {
            now += 1;
            total += 1;
            max = max.max(now);
        } else if l.starts_with("end ") {
            now = now.saturating_sub(1);
        }
    }
    (max, total)
}

/// Write an executable shell script.
pub fn script(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// What a tinydcc daemon's scratch dir `tmp` holds that no job should
/// leave there: the header store (`tinydcc-headers`) is meant to stay, and
/// so is the pool of empty directories kept for later pump jobs
/// (`tinydccd_<pid>_spare…`), whose entries must be empty directories.
pub fn scratch_leftovers(tmp: &Path) -> Vec<String> {
    let mut left = Vec::new();
    for n in entries(tmp) {
        if n == "tinydcc-headers" {
            continue;
        }
        if !(n.starts_with("tinydccd_") && n.contains("_spare")) {
            left.push(n);
            continue;
        }
        let pool = tmp.join(&n);
        for kept in entries(&pool) {
            let d = pool.join(&kept);
            let dir = std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir());
            if !dir || !entries(&d).is_empty() {
                left.push(format!("{n}/{kept}"));
            }
        }
    }
    left
}

/// Names of the entries in `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Daemon options for a daemon whose PATH holds `logging_compilers`: the
/// wrappers write their log outside the job directory, which tinydcc's
/// Landlock confinement rightly forbids, so it is turned off there.
pub fn wrapper_daemon_args(kind: Kind, extra: &[&'static str]) -> Vec<&'static str> {
    let mut v = extra.to_vec();
    if kind == Kind::Tiny {
        v.push("--no-sandbox");
    }
    v
}

/// A protocol-3 (pump) request as a client sends it: CDIR, the argv, then
/// each link (NAME + LINK) and each file (NAME + FILE, LZO).
pub fn pump_request(cwd: &Path, argv: &[&str], files: &[&Path], links: &[(&str, &str)]) -> Vec<u8> {
    use tinydcc::protocol::{lzo, token, Features};
    let argv: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
    let mut v =
        tinydcc::protocol::request::encode_header(Features::PUMP, Some(cwd.as_os_str()), &argv);
    token::put(&mut v, token::NFIL, (files.len() + links.len()) as u32);
    for (name, target) in links {
        token::put_bytes(&mut v, token::NAME, name.as_bytes()).unwrap();
        token::put_bytes(&mut v, token::LINK, target.as_bytes()).unwrap();
    }
    for f in files {
        token::put_bytes(&mut v, token::NAME, f.to_str().unwrap().as_bytes()).unwrap();
        let data = lzo::compress(&std::fs::read(f).unwrap());
        token::put_bytes(&mut v, token::FILE, &data).unwrap();
    }
    v
}

/// Send a pump request to our daemon on `port` and read its reply (and
/// whatever follows it, such as the header store's trailer).
pub fn pump_exchange(port: u16, req: &[u8]) -> tinydcc::protocol::reply::Reply {
    use tinydcc::protocol::{reply, Features, Limits};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req).unwrap();
    let r = reply::read(&mut s, Features::PUMP, &Limits::default()).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    r
}
