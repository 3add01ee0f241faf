//! A straggler's copy compiled on this machine (straggler.rs): the job's
//! own command, its object and dependency file sent to temp files beside
//! the real ones, its messages kept in memory files. Whichever finishes
//! first wins; a copy that loses is killed with its whole process group
//! (gcc, cc1, as) and leaves nothing behind. Only the caller writes the
//! outputs, once, from the winner's reply.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::depfile::{self, DepFile};
use crate::args::Scan;
use crate::protocol::reply::Reply;
use crate::protocol::status::WaitStatus;
use crate::protocol::{Features, ProtoError};

pub struct LocalCopy {
    child: Child,
    object: PathBuf,
    _object_on_signal: crate::sys::signal_cleanup::Guard,
    deps: Option<DepFile>,
    out: [File; 2],
    status: Option<std::process::ExitStatus>,
    /// Noted as a local compile for cpu_room while it lives.
    _compiling: super::cpu_room::Compiling,
}

/// An anonymous file in memory: the compiler's messages, unbounded, never
/// blocking it (a pipe would, past 64 KiB unread).
fn memfd() -> Option<File> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    memfd_create(c"tinydcc-copy", MemFdCreateFlag::MFD_CLOEXEC)
        .ok()
        .map(File::from)
}

/// `dir/.NAME.tinydcc-copy-RANDOM` beside `path`.
fn temp_beside(path: &Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name()?.as_bytes();
    let suffix = format!(".tinydcc-copy-{}", crate::paths::random_suffix());
    Some(dir.join(OsString::from_vec([b".", name, suffix.as_bytes()].concat())))
}

impl LocalCopy {
    /// Start `scan`'s compile here with `compiler` (the real one);
    /// `original`: the user's argv, for gcc's dependency target rules.
    /// `None` (logged) when it cannot start.
    pub fn start(
        scan: &Scan,
        compiler: &OsString,
        original: &[OsString],
        lock_dir: &Path,
        slot: u32,
    ) -> Option<LocalCopy> {
        use std::os::unix::ffi::OsStrExt;
        // gcc names these options' extra outputs (`.dwo`, `.su`, dumps)
        // after the object: under the temp's name they would be left behind.
        const AUX: [&[u8]; 5] = [
            b"-gsplit-dwarf",
            b"-fstack-usage",
            b"-fdump-",
            b"-fcallgraph-info",
            b"-aux-info",
        ];
        if scan
            .argv
            .iter()
            .any(|a| AUX.iter().any(|p| a.as_bytes().starts_with(p)))
        {
            return None;
        }
        let object = temp_beside(Path::new(&scan.output))?;
        let mut argv = scan.argv.clone();
        argv[0] = compiler.clone();
        // `scan.argv` always names the output (`-o OUT` or `-oOUT`).
        let i = argv
            .iter()
            .position(|a| a.as_encoded_bytes().starts_with(b"-o"))?;
        if argv[i] == "-o" {
            *argv.get_mut(i + 1)? = object.clone().into_os_string();
        } else {
            argv[i] = OsString::from_vec([b"-o", object.as_os_str().as_encoded_bytes()].concat());
        }
        // The dependency file's target as the real command would name it
        // (not after the temp object), then the file itself to a temp.
        if let Some(t) = depfile::pump_target(scan, original) {
            argv.push("-MQ".into());
            argv.push(t);
        }
        let deps = depfile::plan(scan, &mut argv, original);
        let out = [memfd()?, memfd()?];
        let guard = crate::sys::signal_cleanup::register(&object);
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(out[0].try_clone().ok()?)
            .stderr(out[1].try_clone().ok()?)
            // Its own group: a loser is killed with cc1 and as.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                log::info!(
                    "no local copy: cannot run {}: {}",
                    argv[0].to_string_lossy(),
                    crate::errtext::reason(&e)
                );
            })
            .ok()?;
        // A ^C of the build stops it with us (the group: its pid, negated).
        crate::sys::signal_cleanup::set_child(-(child.id() as i32));
        Some(LocalCopy {
            child,
            object,
            _object_on_signal: guard,
            deps,
            out,
            status: None,
            _compiling: super::cpu_room::compiling(lock_dir, slot),
        })
    }

    /// Has the compiler exited?
    pub fn done(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_some()
    }

    /// Wait for it and turn what it left into the reply a daemon would
    /// have sent (`features`: the original request's), temps removed.
    pub fn finish(&mut self, features: Features) -> Result<Reply, ProtoError> {
        let st = match self.status {
            Some(s) => s,
            None => self.child.wait()?,
        };
        self.status = Some(st);
        crate::sys::signal_cleanup::set_child(0);
        let mut r = Reply::new(features, WaitStatus::from_exit(st));
        for (f, to) in self.out.iter_mut().zip([&mut r.stdout, &mut r.stderr]) {
            f.rewind()?;
            f.read_to_end(to)?;
        }
        if st.success() {
            r.object = std::fs::read(&self.object)?;
            r.dotd = match &self.deps {
                Some(d) => Some(std::fs::read(&d.temp)?),
                None => None,
            };
        }
        Ok(r)
    }
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.status.is_none() {
            let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = self.child.wait();
            crate::sys::signal_cleanup::set_child(0);
        }
        let _ = std::fs::remove_file(&self.object);
        // `deps` removes its temp as it drops; `_compiling` notes the end.
    }
}
