//! The heterogeneous cluster test bed for Rust tests: a thin
//! handle on tests/bed/bed.sh, which makes and removes the bed (the
//! benchmarks use the same script; see doc/cluster-bed.md).
//!
//! `Bed::up()` makes a bed owned by this test process; dropping the `Bed`
//! removes it (processes, namespaces, links, cgroups), also when the test
//! panicked. A bed whose test process was killed outright is removed by
//! the next `up`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The roles, as bed.sh names them.
pub const ROLES: [&str; 5] = ["board", "x86", "board2", "board3", "x86client"];

pub struct Bed {
    /// `PID-N`, what `bed.sh up` printed.
    id: String,
    removed: bool,
}

/// tests/bed/bed.sh of this source tree.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/bed.sh")
}

/// The address of `role` on the bed's LAN.
pub fn addr(role: &str) -> String {
    let out = Command::new(script())
        .args(["addr", role])
        .output()
        .expect("cannot run tests/bed/bed.sh");
    assert!(out.status.success(), "{}", super::text(&out.stderr));
    super::text(&out.stdout).trim().to_string()
}

impl Bed {
    /// A bed with the default parameters.
    pub fn up() -> Bed {
        Self::up_with(&[])
    }

    /// A bed with parameters (`BED_BOARDS_QUOTA`, `BED_X86_RATE`, ...);
    /// a failure fails the test with bed.sh's message.
    pub fn up_with(env: &[(&str, &str)]) -> Bed {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the cluster bed needs root (network namespaces, cgroups, tc)"
        );
        let mut c = Command::new(script());
        // Only the parameters given here: none from the caller's shell.
        for (k, _) in std::env::vars_os() {
            let k_text = k.to_string_lossy();
            if k_text == "BED" || k_text.starts_with("BED_") {
                c.env_remove(&k);
            }
        }
        let out = c
            .arg("up")
            .env("BED_OWNER", std::process::id().to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("cannot run tests/bed/bed.sh");
        assert!(
            out.status.success(),
            "bed.sh up failed:\n{}",
            super::text(&out.stderr)
        );
        Bed {
            id: super::text(&out.stdout).trim().to_string(),
            removed: false,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// `bed.sh SUBCOMMAND ARGS` for this bed; fails the test on an error.
    fn query(&self, args: &[&str]) -> String {
        let out = Command::new(script())
            .args(args)
            .env("BED", &self.id)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run tests/bed/bed.sh");
        assert!(
            out.status.success(),
            "bed.sh {}: {}",
            args.join(" "),
            super::text(&out.stderr)
        );
        super::text(&out.stdout).trim().to_string()
    }

    /// `program` run on `role`'s host: its network namespace and
    /// /etc/hosts, its cgroups. bed.sh execs the program in place, so a
    /// spawned child's pid is the program's.
    pub fn cmd(&self, role: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(script());
        c.args(["run", role]).arg(program).env("BED", &self.id);
        c
    }

    /// CPU time `role`'s processes used since the bed was made.
    pub fn cpu(&self, role: &str) -> Duration {
        let ns: u64 = self
            .query(&["cpu", role])
            .parse()
            .expect("bed.sh cpu printed no number");
        Duration::from_nanos(ns)
    }

    /// `role`'s cgroup directory in controller `ctrl` (cpu, cpuset,
    /// cpuacct, memory).
    pub fn cgroup(&self, role: &str, ctrl: &str) -> PathBuf {
        PathBuf::from(self.query(&["path", role, ctrl]))
    }

    /// `role`'s network namespace.
    pub fn ns(&self, role: &str) -> String {
        self.query(&["ns", role])
    }

    /// One line per role: address and limits as the kernel reads them.
    pub fn describe(&self) -> String {
        self.query(&["describe"])
    }

    /// Remove the bed now; its output says what could not be removed.
    pub fn down(&mut self) -> Output {
        self.removed = true;
        Command::new(script())
            .arg("down")
            .env("BED", &self.id)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run tests/bed/bed.sh")
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        if !self.removed {
            let out = self.down();
            if !out.status.success() {
                eprintln!("{}", super::text(&out.stderr));
            }
        }
    }
}
