//! One compile on the daemon: check the request, lay out a private job
//! directory, spawn the compiler, and turn its results into a reply.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use crate::args;
use crate::protocol::reply::Reply;
use crate::protocol::request::Request;

use super::harden;
use super::whitelist::{self, Policy};

/// A request that passed every check, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub argv: Vec<String>,
    pub input_index: usize,
    /// Index of the argument holding the output name (`-o` value or `-oX`).
    pub output_index: usize,
    pub output_joined: bool,
    pub input: String,
    pub output_ext: String,
}

/// Check the client's argv before anything is written or run: distcc's
/// own rules (it must be a remote-able compile), the compiler whitelist,
/// then the argument hardening of `harden`.
pub fn plan(argv: &[String], policy: &Policy) -> Result<Plan, String> {
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
        .find_map(|(i, a)| match a.as_str() {
            "-o" => Some((i + 1, false)),
            a if a.starts_with("-o") => Some((i, true)),
            _ => None,
        })
        .filter(|(i, _)| *i < scan.argv.len())
        .ok_or("the output must be given with -o")?;
    let (argv, input_index, output_index) =
        harden::sanitize(&scan.argv, scan.input_index, output_index)?;
    let output_ext = Path::new(&scan.output)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|e| e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "o".into());
    Ok(Plan {
        input_index,
        output_index,
        output_joined,
        input: scan.input,
        output_ext,
        argv,
    })
}

/// The reply to a refused request: distcc's EXIT_BAD_ARGUMENTS and the
/// reason on stderr (stock clients then compile locally).
pub fn refusal(version: u32, why: &str) -> Reply {
    Reply {
        version,
        status: w_exitcode(crate::exitcode::EXIT_BAD_ARGUMENTS),
        stderr: format!("tinydccd: job refused: {why}\n").into_bytes(),
        ..Default::default()
    }
}

/// A running compile.
pub struct Running {
    pub dir: PathBuf,
    pub child: Child,
    pub started: Instant,
    pub plan: Plan,
    pub version: u32,
}

impl Running {
    pub fn output_path(&self) -> PathBuf {
        self.dir.join(format!("output.{}", self.plan.output_ext))
    }
}

/// What happened to a job that could not even start.
pub struct StartError {
    pub status: u32,
    pub stderr: Vec<u8>,
}

fn w_exitcode(code: i32) -> u32 {
    (code as u32 & 0xff) << 8
}

/// Write the input into a new job directory under `tmp` and start the compiler.
pub fn spawn(plan: Plan, req: &Request, tmp: &Path) -> Result<Running, StartError> {
    let fail = |code: i32, msg: String| StartError {
        status: w_exitcode(code),
        stderr: format!("tinydccd: {msg}\n").into_bytes(),
    };
    let dir = crate::paths::make_temp_dir(tmp, "tinydccd_").map_err(|e| {
        fail(
            crate::exitcode::EXIT_IO_ERROR,
            format!("cannot create job directory in {}: {e}", tmp.display()),
        )
    })?;
    let cleanup_fail = |code: i32, msg: String| {
        let _ = std::fs::remove_dir_all(&dir);
        fail(code, msg)
    };
    let input = dir.join(format!("input.{}", args::preprocessed_ext(&plan.input)));
    if let Err(e) = std::fs::write(&input, &req.doti) {
        return Err(cleanup_fail(
            crate::exitcode::EXIT_IO_ERROR,
            format!("cannot write {}: {e}", input.display()),
        ));
    }
    let output = dir.join(format!("output.{}", plan.output_ext));
    let mut argv = plan.argv.clone();
    argv[plan.input_index] = input.to_string_lossy().into_owned();
    argv[plan.output_index] = if plan.output_joined {
        format!("-o{}", output.display())
    } else {
        output.to_string_lossy().into_owned()
    };
    let files =
        File::create(dir.join("stdout")).and_then(|o| Ok((o, File::create(dir.join("stderr"))?)));
    let (out, err) = match files {
        Ok(f) => f,
        Err(e) => {
            return Err(cleanup_fail(
                crate::exitcode::EXIT_IO_ERROR,
                format!("cannot create output files: {e}"),
            ))
        }
    };
    use std::os::unix::process::CommandExt;
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn();
    match child {
        Ok(child) => Ok(Running {
            dir,
            child,
            started: Instant::now(),
            plan,
            version: req.version,
        }),
        Err(e) => Err(cleanup_fail(
            crate::exitcode::EXIT_COMPILER_MISSING,
            format!("failed to exec {}: {e}", argv[0]),
        )),
    }
}

/// distccd's per-job log line.
pub fn summary(peer: &str, job: &Running, st: ExitStatus, ms: u128) -> String {
    use std::os::unix::process::ExitStatusExt;
    let (code, sig, core) = (
        st.code().unwrap_or(0),
        st.signal().unwrap_or(0),
        st.core_dumped() as i32,
    );
    let result = if st.success() {
        "COMPILE_OK"
    } else {
        "COMPILE_ERROR"
    };
    format!(
        "client: {peer} {result} exit:{code} sig:{sig} core:{core} ret:0 time:{ms}ms {} {}",
        job.plan.argv[0], job.plan.input
    )
}

fn raw_status(st: ExitStatus) -> u32 {
    use std::os::unix::process::ExitStatusExt;
    st.into_raw() as u32
}

/// Collect a finished job's results and remove its directory.
pub fn finish(job: Running, status: ExitStatus) -> Reply {
    let raw = raw_status(status);
    let stderr = std::fs::read(job.dir.join("stderr")).unwrap_or_default();
    let stdout = std::fs::read(job.dir.join("stdout")).unwrap_or_default();
    let object = if raw == 0 {
        std::fs::read(job.output_path()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let _ = std::fs::remove_dir_all(&job.dir);
    Reply {
        version: job.version,
        status: raw,
        stderr,
        stdout,
        object,
        dotd: None,
    }
}

/// A reply for a job that never started.
pub fn failed_reply(version: u32, e: StartError) -> Reply {
    Reply {
        version,
        status: e.status,
        stderr: e.stderr,
        ..Default::default()
    }
}

/// Kill a job's whole process group and remove its directory.
pub fn abort(mut job: Running) {
    let pgid = nix::unistd::Pid::from_raw(job.child.id() as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = job.child.wait();
    let _ = std::fs::remove_dir_all(&job.dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
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
