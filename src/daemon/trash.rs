//! Job directories to remove, a few entries per turn of the event loop.
//!
//! A pump job's directory mirrors hundreds of the client's headers, and on
//! a board's SD card removing them can take long enough to stall every
//! other client. So the event loop never removes a directory in one go:
//! it hands it here and calls `work` with a bound once per turn (polling
//! without waiting while anything is left). No thread, no child process:
//! a plain job's few files still go within the same turn. A job's emptied
//! subdirectories are kept for later jobs when there is room
//! (`spare_dirs`).

use std::io;
use std::path::{Path, PathBuf};

use super::spare_dirs::SpareDirs;

/// File system operations per turn: small enough that a slow card
/// delays the loop by milliseconds, large enough that a plain job's
/// directory (five or six files) goes at once.
pub const PER_TURN: usize = 64;

#[derive(Default)]
pub struct Trash {
    /// Directories being emptied, deepest last; `true` marks one handed
    /// in (the rest are its subdirectories).
    stack: Vec<(PathBuf, bool)>,
    /// Where emptied subdirectories go, if anywhere.
    spares: Option<SpareDirs>,
}

impl Trash {
    /// A trash that keeps emptied subdirectories for later jobs in
    /// `spares`, if there is a pool.
    pub fn keeping(spares: Option<SpareDirs>) -> Trash {
        Trash {
            stack: Vec::new(),
            spares,
        }
    }

    /// The directories kept, for a job laying out its tree.
    pub fn spares(&mut self) -> Option<&mut SpareDirs> {
        self.spares.as_mut()
    }

    pub fn add(&mut self, dir: PathBuf) {
        // Below the ones in progress: those finish first.
        self.stack.insert(0, (dir, true));
    }

    pub fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }

    /// Remove up to `budget` entries (files, links, emptied directories).
    pub fn work(&mut self, mut budget: usize) {
        while budget > 0 {
            let Some((top, root)) = self.stack.last().cloned() else {
                return;
            };
            let spares = self.spares.as_mut().filter(|_| !root);
            match step(&top, &mut budget, spares) {
                Ok(Step::Sub(sub)) => self.stack.push((sub, false)),
                Ok(Step::Partial) => {}
                Ok(Step::Removed) => {
                    self.stack.pop();
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.stack.pop();
                }
                Err(e) => {
                    log::warn!(
                        "cannot remove {}: {}",
                        top.display(),
                        crate::errtext::reason(&e)
                    );
                    // Give up on the whole directory, or it would be
                    // found again and again.
                    while let Some((_, root)) = self.stack.pop() {
                        if root {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Remove everything now, the kept directories too (at shutdown,
    /// where blocking is fine).
    pub fn finish(&mut self) {
        while !self.is_empty() {
            self.work(usize::MAX);
        }
        if let Some(s) = self.spares.as_mut() {
            let _ = s.remove(); // empty directories, if any stay
        }
    }
}

enum Step {
    Removed,
    /// The budget ran out first.
    Partial,
    /// To be emptied first.
    Sub(PathBuf),
}

/// Unlink entries of `dir` while the budget lasts; a subdirectory found is
/// returned to be emptied first; an empty `dir` is kept in `spares` or
/// removed.
fn step(dir: &Path, budget: &mut usize, spares: Option<&mut SpareDirs>) -> io::Result<Step> {
    *budget = budget.saturating_sub(1);
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            return Ok(Step::Sub(e.path()));
        }
        std::fs::remove_file(e.path())?;
        *budget = budget.saturating_sub(1);
        if *budget == 0 {
            return Ok(Step::Partial);
        }
    }
    if !spares.is_some_and(|s| s.keep(dir)) {
        std::fs::remove_dir(dir)?;
    }
    Ok(Step::Removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tinydcc-trash-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_deep_tree_goes_a_bounded_step_at_a_time() {
        let root = scratch("deep");
        let job = root.join("job");
        let mut at = job.clone();
        for level in 0..4 {
            at = at.join(format!("d{level}"));
            std::fs::create_dir_all(&at).unwrap();
            for i in 0..50 {
                std::fs::write(at.join(format!("h{i}.h")), "x").unwrap();
            }
            std::os::unix::fs::symlink("/nonexistent", at.join("link")).unwrap();
        }
        let mut t = Trash::default();
        t.add(job.clone());
        let mut turns = 0;
        while !t.is_empty() {
            t.work(PER_TURN);
            turns += 1;
            assert!(turns < 100, "no progress");
        }
        assert!(turns > 2, "204 entries cannot go in one turn of {PER_TURN}");
        assert!(!job.exists());
        std::fs::remove_dir(&root).unwrap();
    }

    #[test]
    fn a_plain_job_goes_in_one_turn_and_missing_ones_are_fine() {
        let root = scratch("plain");
        let job = root.join("job");
        std::fs::create_dir(&job).unwrap();
        for f in ["input.i", "stdout", "stderr", "output.o"] {
            std::fs::write(job.join(f), "x").unwrap();
        }
        let mut t = Trash::default();
        t.add(job.clone());
        t.add(root.join("never-made"));
        t.work(PER_TURN);
        assert!(t.is_empty());
        assert!(!job.exists());
        t.add(root.clone());
        t.finish();
        assert!(!root.exists());
    }
}
