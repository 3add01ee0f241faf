//! The daemon's on-disk stores (src/store), through their public calls on
//! real directories: damaged entries, eviction, a full file system, and
//! the header store's job directories.

use crate::common;

use std::ffi::CString;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::TempDir;
use tinydcc::store::{ContentStore, Counters, Digest, Entry, KeyBuilder, Mode, ResultCache};

fn key(n: u32) -> Digest {
    let mut k = KeyBuilder::new(Mode::Plain);
    k.compiler(b"/usr/bin/gcc", b"gcc 12")
        .args(&["gcc", "-c", "-O2"])
        .input(&Digest::of(&n.to_le_bytes()));
    k.finish()
}

/// An object of `len` bytes that tells entries apart.
fn object(n: u32, len: usize) -> Vec<u8> {
    let mut v = vec![n as u8; len];
    v[..4].copy_from_slice(&n.to_le_bytes());
    v
}

fn entry_path(dir: &Path, k: &Digest) -> PathBuf {
    let hex = k.hex();
    dir.join(&hex[..2]).join(hex)
}

/// Bytes and entries actually on disk, outside `tmp/`.
fn on_disk(dir: &Path) -> (u64, u64) {
    let (mut bytes, mut n) = (0, 0);
    for shard in fs::read_dir(dir).unwrap().flatten() {
        if shard.file_name() == "tmp" {
            continue;
        }
        for e in fs::read_dir(shard.path()).unwrap().flatten() {
            bytes += e.metadata().unwrap().len();
            n += 1;
        }
    }
    (bytes, n)
}

fn set_used(p: &Path, secs_ago: u64) {
    let f = fs::File::open(p).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs_ago))
        .unwrap();
}

#[test]
fn damaged_entries_are_deleted_and_missed() {
    let t = TempDir::new("store-damaged");
    let dir = t.join("cache");
    let mut c = ResultCache::open(&dir, 1 << 20).unwrap();
    let warn = b"a.c:3:7: warning: unused variable 'x'\n";
    for n in 0..3 {
        let obj = object(n, 5000);
        let e = Entry {
            object: &obj,
            stderr: warn,
            dep: (n == 2).then_some(&b"a.o: a.c a.h\n"[..]),
        };
        assert!(c.put(&key(n), &e));
    }
    // Entry 0 cut short, as by a crash; entry 1 with one byte flipped.
    let p0 = entry_path(&dir, &key(0));
    let len = fs::metadata(&p0).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&p0)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let p1 = entry_path(&dir, &key(1));
    let mut b = fs::read(&p1).unwrap();
    b[3000] ^= 1;
    fs::write(&p1, b).unwrap();

    assert!(c.get(&key(0)).is_none());
    assert!(c.get(&key(1)).is_none());
    assert!(!p0.exists() && !p1.exists(), "damaged entries are deleted");
    let hit = c.get(&key(2)).expect("the intact entry is a hit");
    assert_eq!(hit.entry().object, &object(2, 5000)[..]);
    assert_eq!(hit.entry().stderr, warn);
    assert_eq!(hit.entry().dep, Some(&b"a.o: a.c a.h\n"[..]));
    assert!(c.get(&key(9)).is_none());
    let s = c.counters();
    assert_eq!((s.hits, s.misses, s.corrupt), (1, 3, 2));
    assert_eq!(s.entries, 1);
    assert!(c.is_on());
    // The cut took bytes the cache had counted; a restart counts again.
    let again = ResultCache::open(&dir, 1 << 20).unwrap().counters();
    assert_eq!((again.bytes, again.entries), on_disk(&dir));
}

#[test]
fn eviction_keeps_the_total_under_the_limit_and_the_recently_used() {
    let t = TempDir::new("store-evict");
    let dir = t.join("cache");
    let limit = 10_000;
    let mut c = ResultCache::open(&dir, limit).unwrap();
    let put = |c: &mut ResultCache, n: u32| {
        let obj = object(n, 1000);
        let e = Entry {
            object: &obj,
            stderr: b"",
            dep: None,
        };
        assert!(c.put(&key(n), &e));
    };
    // Eight entries of about 1.1 KB, entry n used 100 - n seconds ago.
    for n in 0..8 {
        put(&mut c, n);
        set_used(&entry_path(&dir, &key(n)), 100 - n as u64);
    }
    assert!(!c.needs_eviction());
    // A hit makes the oldest the newest.
    assert!(c.get(&key(0)).is_some());
    for n in 8..10 {
        put(&mut c, n);
    }
    assert!(c.counters().bytes > limit);
    assert!(c.needs_eviction());
    let mut steps = 0;
    while c.evict_step() {
        steps += 1;
        assert!(steps < 1000, "eviction never ends");
    }
    assert!(steps > 1, "eviction runs in bounded steps");
    let s = c.counters();
    assert!(
        s.bytes <= limit - limit / 10,
        "evicted down to 90%: {}",
        s.bytes
    );
    assert_eq!((s.bytes, s.entries), on_disk(&dir));
    assert_eq!(s.evictions, 2);
    // The least recently used went: 1 and 2, not 0 (hit) nor the newer.
    let kept: Vec<u32> = (0..10)
        .filter(|&n| entry_path(&dir, &key(n)).exists())
        .collect();
    assert_eq!(kept, [0, 3, 4, 5, 6, 7, 8, 9]);

    // Reopened, the cache adds up the same total.
    let again = ResultCache::open(&dir, limit).unwrap();
    assert_eq!(
        (again.counters().bytes, again.counters().entries),
        (s.bytes, s.entries)
    );
}

#[test]
fn too_large_entries_are_not_kept() {
    let t = TempDir::new("store-large");
    let mut c = ResultCache::open(&t.join("cache"), 8000).unwrap();
    let obj = object(1, 1001);
    let e = Entry {
        object: &obj,
        stderr: b"",
        dep: None,
    };
    assert!(!c.put(&key(1), &e), "over an eighth of the cache");
    assert!(c.is_on());
    assert_eq!(c.counters(), Counters::default());
}

#[test]
fn leftovers_of_a_crash_are_removed_at_open() {
    let t = TempDir::new("store-crash");
    let dir = t.join("cache");
    drop(ResultCache::open(&dir, 1 << 20).unwrap());
    fs::write(dir.join("tmp/abc.half"), b"half an entry").unwrap();
    let c = ResultCache::open(&dir, 1 << 20).unwrap();
    assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    assert_eq!(c.counters().entries, 0);
}

/// A tmpfs of `size` mounted on `dir` until dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Mount {
        assert!(
            is_root(),
            "this test mounts a tmpfs: run it as root (tests/run does)"
        );
        fs::create_dir_all(dir).unwrap();
        let st = Command::new(common::require("mount"))
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "mount -t tmpfs failed");
        Mount(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new(common::require("umount"))
            .arg(&self.0)
            .status();
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
#[ignore = "slow tier (root, tmpfs): tests/run runs it"]
fn a_full_file_system_turns_the_stores_off_without_an_error() {
    let t = TempDir::new("store-full");
    let _m = Mount::tmpfs(&t.join("small"), "64k");
    let mut c = ResultCache::open(&t.join("small/results"), 1 << 20).unwrap();
    let small = object(1, 1000);
    let e = Entry {
        object: &small,
        stderr: b"",
        dep: None,
    };
    assert!(c.put(&key(1), &e));
    let big = object(2, 100_000);
    let e = Entry {
        object: &big,
        stderr: b"",
        dep: None,
    };
    assert!(!c.put(&key(2), &e), "no space: not stored");
    assert!(!c.is_on(), "the cache is off");
    assert!(c.get(&key(1)).is_none(), "an off cache finds nothing");
    assert!(!c.put(&key(3), &e));
    assert_eq!(
        fs::read_dir(t.join("small/results/tmp")).unwrap().count(),
        0,
        "no partial file left"
    );

    let mut h = ContentStore::open(&t.join("small/headers"), 1 << 20).unwrap();
    let d = h.put(&big);
    assert_eq!(d, Digest::of(&big));
    assert!(!h.is_on());
    assert!(!h.has(&d, big.len() as u64));
}

/// A content whose digest the caller computed (a pump job's checked
/// header) is stored under it as `put` would store it.
#[test]
fn a_content_hashed_by_the_caller_is_stored_under_its_digest() {
    let t = TempDir::new("store-hashed");
    let mut h = ContentStore::open(&t.join("headers"), 1 << 20).unwrap();
    let text = b"#define Z 3\n";
    let d = Digest::of(text);
    h.put_hashed(&d, text);
    assert!(h.has(&d, text.len() as u64));
    assert_eq!(fs::read(entry_path(&t.join("headers"), &d)).unwrap(), text);
    assert_eq!(h.put(text), d);
    assert_eq!(h.counters().entries, 1, "stored once");
}

/// A blob linked into a job is marked used (its mtime, eviction's
/// order), but not again within a minute: a kernel build links each header
/// into nearly every job, and each mark is an inode write.
#[test]
fn a_linked_blob_is_marked_used_once_a_minute() {
    let t = TempDir::new("store-touch");
    let mut h = ContentStore::open(&t.join("headers"), 1 << 20).unwrap();
    let text = b"#define Y 2\n";
    let d = h.put(text);
    let blob = entry_path(&t.join("headers"), &d);
    let job = t.join("job");
    fs::create_dir(&job).unwrap();
    let jd = fs::File::open(&job).unwrap();
    let mtime = |p: &Path| fs::symlink_metadata(p).unwrap().modified().unwrap();

    set_used(&blob, 3600);
    h.link_into(&d, text.len() as u64, jd.as_fd(), c"a.h")
        .unwrap();
    let used = mtime(&blob);
    assert!(
        used > SystemTime::now() - Duration::from_secs(30),
        "an hour-old blob is marked used"
    );
    set_used(&blob, 5);
    let before = mtime(&blob);
    h.link_into(&d, text.len() as u64, jd.as_fd(), c"b.h")
        .unwrap();
    assert_eq!(mtime(&blob), before, "used 5 s ago: not marked again");
    assert_eq!(fs::read(job.join("b.h")).unwrap(), text);
}

#[test]
fn job_directories_are_linked_from_the_header_store() {
    let t = TempDir::new("store-link");
    let mut h = ContentStore::open(&t.join("headers"), 1 << 20).unwrap();
    let text = b"#define X 1\n";
    let d = h.put(text);
    assert_eq!(d, Digest::of(text));
    assert!(h.has(&d, text.len() as u64));
    assert!(!h.has(&d, 5), "another size is another content");
    assert!(
        h.has(&d, text.len() as u64),
        "a client's wrong size deletes nothing"
    );
    // A blob cut short (a crash) is not found, and the content replaces it.
    let blob = entry_path(&t.join("headers"), &d);
    let mut perms = fs::metadata(&blob).unwrap().permissions();
    assert_eq!(perms.mode() & 0o777, 0o444);
    perms.set_mode(0o644);
    fs::set_permissions(&blob, perms).unwrap();
    fs::write(&blob, &text[..4]).unwrap();
    assert!(!h.has(&d, text.len() as u64));
    assert_eq!(h.put(text), d);
    assert!(h.has(&d, text.len() as u64));
    assert_eq!(fs::read(&blob).unwrap(), text);
    assert_eq!(h.counters().entries, 1);

    // Same file system: a hard link to the blob.
    let job = t.join("job");
    fs::create_dir(&job).unwrap();
    let jd = fs::File::open(&job).unwrap();
    let name = CString::new("x.h").unwrap();
    h.link_into(&d, text.len() as u64, jd.as_fd(), &name)
        .unwrap();
    assert_eq!(fs::read(job.join("x.h")).unwrap(), text);
    assert_eq!(
        fs::metadata(job.join("x.h")).unwrap().ino(),
        fs::metadata(&blob).unwrap().ino()
    );
    // Never over an existing name.
    assert!(h
        .link_into(&d, text.len() as u64, jd.as_fd(), &name)
        .is_err());
    // A blob the store lacks is NotFound: the caller asks for it.
    let other = Digest::of(b"other");
    let e = h.link_into(&other, 5, jd.as_fd(), c"y.h").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    // Unchanged content verifies; changed content is deleted.
    assert!(h.verify(&d));
    assert!(!h.verify(&other));
    let junk = h.put(b"junk");
    let junk_path = entry_path(&t.join("headers"), &junk);
    let mut perms = fs::metadata(&junk_path).unwrap().permissions();
    perms.set_mode(0o644);
    fs::set_permissions(&junk_path, perms).unwrap();
    fs::write(&junk_path, b"JUNK").unwrap();
    assert!(h.has(&junk, 4), "same size: only a hash tells");
    assert!(!h.verify(&junk));
    assert!(!junk_path.exists());
    assert_eq!(h.counters().corrupt, 1);

    // Another file system (/dev/shm is tmpfs): a copy.
    let shm = Path::new("/dev/shm").join(format!("tinydcc-store-{}", std::process::id()));
    fs::create_dir_all(&shm).unwrap();
    let sd = fs::File::open(&shm).unwrap();
    let r = h.link_into(&d, text.len() as u64, sd.as_fd(), &name);
    let copied = fs::read(shm.join("x.h"));
    let ino = fs::metadata(shm.join("x.h")).map(|m| m.ino());
    let _ = fs::remove_dir_all(&shm);
    r.unwrap();
    assert_eq!(copied.unwrap(), text);
    assert_ne!(ino.unwrap(), fs::metadata(&blob).unwrap().ino());
}

#[test]
#[ignore = "slow tier (root, tmpfs): tests/run runs it"]
fn a_read_only_file_system_turns_the_cache_off_without_an_error() {
    let t = TempDir::new("store-ro");
    let m = Mount::tmpfs(&t.join("ro"), "1m");
    let mut c = ResultCache::open(&t.join("ro/results"), 1 << 20).unwrap();
    let st = Command::new(common::require("mount"))
        .args(["-o", "remount,ro"])
        .arg(&m.0)
        .status()
        .unwrap();
    assert!(st.success(), "mount -o remount,ro failed");
    let obj = object(1, 1000);
    let e = Entry {
        object: &obj,
        stderr: b"",
        dep: None,
    };
    assert!(!c.put(&key(1), &e));
    assert!(!c.is_on());
    assert!(c.get(&key(1)).is_none());
}
