//! PLACEHOLDER until the native scanner lands: asks the compiler itself
//! (`-M`) for the include closure. Correct but slow (it preprocesses).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Closure {
    pub files: Vec<PathBuf>,
    pub system_dirs: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
}

pub struct GiveUp(pub String);

#[derive(Default, Debug, Clone)]
pub struct ScanStats {
    pub scans: u64,
}

#[derive(Default)]
pub struct Scanner {
    stats: ScanStats,
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner::default()
    }

    pub fn stats(&self) -> ScanStats {
        self.stats.clone()
    }

    pub fn scan(&mut self, cwd: &Path, argv: &[String]) -> Result<Closure, GiveUp> {
        self.stats.scans += 1;
        let scan = crate::args::scan(argv).map_err(|e| GiveUp(format!("{e:?}")))?;
        let mut cmd: Vec<String> = crate::args::cpp_argv(&scan);
        cmd.retain(|a| a != "-E" && !a.starts_with("-M"));
        let out = Command::new(&cmd[0])
            .args(&cmd[1..])
            .args(["-M", "-MG"])
            .current_dir(cwd)
            .output()
            .map_err(|e| GiveUp(e.to_string()))?;
        if !out.status.success() {
            return Err(GiveUp(String::from_utf8_lossy(&out.stderr).into_owned()));
        }
        let text = String::from_utf8_lossy(&out.stdout).replace("\\\n", " ");
        let deps = text.split_once(':').map(|(_, d)| d).unwrap_or("");
        let files = deps
            .split_whitespace()
            .map(|f| {
                if f.starts_with('/') {
                    PathBuf::from(f)
                } else {
                    cwd.join(f)
                }
            })
            .filter(|p| p.exists())
            .collect();
        Ok(Closure {
            files,
            system_dirs: vec![
                PathBuf::from("/usr/include"),
                PathBuf::from("/usr/local/include"),
            ],
            dirs: vec![cwd.to_path_buf()],
        })
    }
}
