//! distcc's client state files (`$DISTCC_DIR/state/binstate_<pid>`): the
//! C struct `dcc_task_state` written raw in native layout, so that stock
//! `distccmon-text`/`distccmon-gnome` read ours and we read theirs. One file
//! per client process, rewritten whole at each phase, removed at exit.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const MAGIC: u64 = 0x4449_4800; // "DIH\0"
const NAME_LEN: usize = 128;

/// Field widths of the native ABI: size_t, unsigned long and pointers are
/// 8 bytes on LP64 (x86-64, aarch64) and 4 on ILP32 (armv7).
const WORD: usize = std::mem::size_of::<usize>();
/// struct_size, magic, cpid, file, host, slot, phase, next pointer.
pub const STRUCT_SIZE: usize = 3 * WORD + 2 * NAME_LEN + 4 + 4 + WORD;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Phase {
    Startup = 0,
    Blocked = 1,
    Connect = 2,
    Preprocess = 3,
    Send = 4,
    Compile = 5,
    Receive = 6,
    Done = 7,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Startup => "Startup",
            Phase::Blocked => "Blocked",
            Phase::Connect => "Connect",
            Phase::Preprocess => "Preprocess",
            Phase::Send => "Send",
            Phase::Compile => "Compile",
            Phase::Receive => "Receive",
            Phase::Done => "Done",
        }
    }

    /// distccmon clamps unknown phases past Done to Compile.
    fn from_raw(v: i32) -> Phase {
        match v {
            0 => Phase::Startup,
            1 => Phase::Blocked,
            2 => Phase::Connect,
            3 => Phase::Preprocess,
            4 => Phase::Send,
            6 => Phase::Receive,
            7 => Phase::Done,
            _ => Phase::Compile,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    pub pid: u64,
    /// The input's name as bytes, as distcc stores it (need not be UTF-8).
    pub file: std::ffi::OsString,
    pub host: String,
    pub slot: i32,
    pub phase: Phase,
}

fn put_word(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_ne_bytes()[..WORD.min(8)]);
}

fn put_name(b: &mut Vec<u8>, s: &[u8]) {
    let mut f = [0u8; NAME_LEN];
    let n = s.len().min(NAME_LEN - 1);
    f[..n].copy_from_slice(&s[..n]);
    b.extend_from_slice(&f);
}

fn word_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    if cfg!(target_endian = "little") {
        w[..WORD].copy_from_slice(&b[off..off + WORD]);
    } else {
        w[8 - WORD..].copy_from_slice(&b[off..off + WORD]);
    }
    u64::from_ne_bytes(w)
}

fn bytes_at(b: &[u8], off: usize) -> &[u8] {
    let f = &b[off..off + NAME_LEN];
    let end = f.iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
    &f[..end]
}

fn name_at(b: &[u8], off: usize) -> String {
    String::from_utf8_lossy(bytes_at(b, off)).into_owned()
}

impl TaskState {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(STRUCT_SIZE);
        put_word(&mut b, STRUCT_SIZE as u64);
        put_word(&mut b, MAGIC);
        put_word(&mut b, self.pid);
        // distcc stores the basename of the input.
        use std::os::unix::ffi::OsStrExt;
        put_name(&mut b, crate::args::basename(self.file.as_bytes()));
        put_name(&mut b, self.host.as_bytes());
        b.extend_from_slice(&self.slot.to_ne_bytes());
        b.extend_from_slice(&(self.phase as i32).to_ne_bytes());
        put_word(&mut b, 0);
        b
    }

    /// Read one state; None for anything a monitor must skip.
    pub fn decode(b: &[u8]) -> Option<TaskState> {
        if b.len() < STRUCT_SIZE || word_at(b, 0) != STRUCT_SIZE as u64 || word_at(b, WORD) != MAGIC
        {
            return None;
        }
        let names = 3 * WORD;
        let ints = names + 2 * NAME_LEN;
        let int_at = |o: usize| i32::from_ne_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
        Some(TaskState {
            pid: word_at(b, 2 * WORD),
            file: std::os::unix::ffi::OsStringExt::from_vec(bytes_at(b, names).to_vec()),
            host: name_at(b, names + NAME_LEN),
            slot: int_at(ints),
            phase: Phase::from_raw(int_at(ints + 4)),
        })
    }
}

/// `$DISTCC_DIR/state` (default ~/.distcc/state).
pub fn state_dir() -> Option<PathBuf> {
    crate::paths::distcc_dir().map(|d| d.join("state"))
}

/// A client's own state file: created at the first phase, rewritten in
/// place (one pwrite) at each later one, removed when dropped.
pub struct StateFile {
    path: PathBuf,
    file: File,
}

impl StateFile {
    pub fn create(dir: &Path, pid: u32) -> io::Result<StateFile> {
        use std::os::unix::fs::OpenOptionsExt;
        // Only the `state` dir itself: a missing $DISTCC_DIR is not created
        // (distcc's rule), and then there is simply no state file.
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let path = dir.join(format!("binstate_{pid}"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o666)
            .open(&path)?;
        Ok(StateFile { path, file })
    }

    pub fn write(&self, s: &TaskState) -> io::Result<()> {
        self.file.write_all_at(&s.encode(), 0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Every live task in `dir`, as distccmon reads them: files older than 60 s
/// are removed, unreadable ones skipped, dead clients dropped.
pub fn read_all(dir: &Path) -> Vec<TaskState> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with("binstate_") {
            continue;
        }
        let path = e.path();
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 60);
        if stale {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Some(t) = TaskState::decode(&bytes) else {
            continue;
        };
        if t.phase != Phase::Done {
            let pid = nix::unistd::Pid::from_raw(t.pid as i32);
            if nix::sys::signal::kill(pid, None) == Err(nix::errno::Errno::ESRCH) {
                continue;
            }
        }
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_distcc() {
        let t = TaskState {
            pid: 4242,
            file: "src/foo.c".into(),
            host: "127.0.0.1".into(),
            slot: 3,
            phase: Phase::Compile,
        };
        let b = t.encode();
        assert_eq!(b.len(), STRUCT_SIZE);
        if WORD == 8 {
            // distcc's C struct, compiled for x86-64, has these offsets.
            assert_eq!(STRUCT_SIZE, 296);
            assert_eq!(&b[24..30], b"foo.c\0");
            assert_eq!(&b[152..162], b"127.0.0.1\0");
            assert_eq!(i32::from_ne_bytes(b[280..284].try_into().unwrap()), 3);
            assert_eq!(i32::from_ne_bytes(b[284..288].try_into().unwrap()), 5);
        } else {
            assert_eq!(STRUCT_SIZE, 280);
        }
        let back = TaskState::decode(&b).unwrap();
        assert_eq!(back.file, "foo.c");
        assert_eq!((back.pid, back.slot, back.phase), (4242, 3, Phase::Compile));
    }

    #[test]
    fn bad_files_are_skipped() {
        let mut b = TaskState {
            pid: 1,
            file: "x.c".into(),
            host: "h".into(),
            slot: 0,
            phase: Phase::Send,
        }
        .encode();
        assert!(TaskState::decode(&b[..100]).is_none());
        b[WORD] ^= 1;
        assert!(TaskState::decode(&b).is_none());
    }

    #[test]
    fn file_lives_while_owned() {
        let d = crate::paths::make_temp_dir(&std::env::temp_dir(), "state-").unwrap();
        let me = std::process::id();
        {
            let f = StateFile::create(&d, me).unwrap();
            let t = TaskState {
                pid: me as u64,
                file: "a.c".into(),
                host: "localhost".into(),
                slot: 0,
                phase: Phase::Preprocess,
            };
            f.write(&t).unwrap();
            assert_eq!(read_all(&d), vec![t]);
        }
        assert!(read_all(&d).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
