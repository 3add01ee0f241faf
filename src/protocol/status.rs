//! The STAT token's wait status and distccd's per-job log line.

use std::fmt;

/// A wait status as waitpid() gives it: the exit code in bits 8-15, or a
/// signal in the low 7 bits (bit 7: a core was dumped). STAT carries it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitStatus(pub u32);

impl WaitStatus {
    /// distccd's `W_EXITCODE(code, 0)`: the status it sends for a job that
    /// never ran, or was cut off, with distcc's exit code for why.
    pub fn exited(code: i32) -> WaitStatus {
        WaitStatus((code as u32 & 0xff) << 8)
    }

    pub fn from_exit(st: std::process::ExitStatus) -> WaitStatus {
        use std::os::unix::process::ExitStatusExt;
        WaitStatus(st.into_raw() as u32)
    }

    pub fn success(self) -> bool {
        self.0 == 0
    }

    /// The exit code, if the process exited.
    pub fn code(self) -> Option<i32> {
        (self.0 & 0x7f == 0).then_some(((self.0 >> 8) & 0xff) as i32)
    }

    /// The signal that ended the process, if one did (a stopped process,
    /// 0x7f, is neither exited nor signalled).
    pub fn signal(self) -> Option<i32> {
        let sig = self.0 & 0x7f;
        (sig != 0 && sig != 0x7f).then_some(sig as i32)
    }

    pub fn core_dumped(self) -> bool {
        self.signal().is_some() && self.0 & 0x80 != 0
    }
}

/// How a request ended, in distccd's words (its log line and `--stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobResult {
    TcpAccept,
    RejBadReq,
    RejOverload,
    CompileOk,
    CompileError,
    CompileTimeout,
    CliDisconn,
    Other,
}

impl JobResult {
    pub fn name(self) -> &'static str {
        match self {
            JobResult::TcpAccept => "TCP_ACCEPT",
            JobResult::RejBadReq => "REJ_BAD_REQ",
            JobResult::RejOverload => "REJ_OVERLOAD",
            JobResult::CompileOk => "COMPILE_OK",
            JobResult::CompileError => "COMPILE_ERROR",
            JobResult::CompileTimeout => "COMPILE_TIMEOUT",
            JobResult::CliDisconn => "CLI_DISCONN",
            JobResult::Other => "OTHER",
        }
    }
}

/// distccd's per-job log line: `client: IP:PORT RESULT exit:E sig:S core:C
/// ret:R time:Nms COMPILER INPUT`. The compiler and input are left out
/// while unknown (a request refused before its argv was whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSummary {
    pub peer: String,
    pub result: JobResult,
    pub status: WaitStatus,
    pub ms: u64,
    pub compiler: Option<String>,
    pub input: Option<String>,
}

impl JobSummary {
    /// A job answered without a compile of its own (refused, could not
    /// start, timed out): `code` is the distcc exit code it was given.
    pub fn faked(peer: impl fmt::Display, result: JobResult, code: i32, ms: u64) -> JobSummary {
        JobSummary {
            peer: peer.to_string(),
            result,
            status: WaitStatus::exited(code),
            ms,
            compiler: None,
            input: None,
        }
    }

    /// The compiler and source the line names.
    pub fn job(mut self, compiler: &str, input: &str) -> JobSummary {
        self.compiler = Some(compiler.to_string());
        self.input = Some(input.to_string());
        self
    }
}

impl fmt::Display for JobSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.status;
        write!(
            f,
            "client: {} {} exit:{} sig:{} core:{} ret:0 time:{}ms",
            self.peer,
            self.result.name(),
            st.code().unwrap_or(0),
            st.signal().unwrap_or(0),
            st.core_dumped() as u8,
            self.ms
        )?;
        for word in [&self.compiler, &self.input].into_iter().flatten() {
            write!(f, " {word}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_encoding() {
        // Compiler not found (110) and --job-lifetime (118), as distccd sends them.
        assert_eq!(WaitStatus::exited(110).0, 0x6e00);
        assert_eq!(WaitStatus::exited(118).0, 0x7600);
        assert_eq!(WaitStatus::exited(1).code(), Some(1));
        assert_eq!(WaitStatus::exited(1).signal(), None);
        assert!(WaitStatus(0).success());
        assert_eq!(WaitStatus(0).code(), Some(0));
        // SIGSEGV with a core dump.
        let segv = WaitStatus(11 | 0x80);
        assert_eq!(
            (segv.code(), segv.signal(), segv.core_dumped()),
            (None, Some(11), true)
        );
        assert!(!WaitStatus(9).core_dumped());
        // Stopped (WIFSTOPPED): neither.
        assert_eq!(
            (WaitStatus(0x137f).code(), WaitStatus(0x137f).signal()),
            (None, None)
        );
    }

    #[test]
    fn wait_status_matches_the_kernel() {
        let st = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .status()
            .unwrap();
        assert_eq!(WaitStatus::from_exit(st), WaitStatus::exited(3));
        let st = std::process::Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .status()
            .unwrap();
        assert_eq!(WaitStatus::from_exit(st).signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn summary_line() {
        let s = JobSummary {
            peer: "127.0.0.1:4000".into(),
            result: JobResult::CompileOk,
            status: WaitStatus(0),
            ms: 42,
            compiler: Some("gcc".into()),
            input: Some("x.c".into()),
        };
        assert_eq!(
            s.to_string(),
            "client: 127.0.0.1:4000 COMPILE_OK exit:0 sig:0 core:0 ret:0 time:42ms gcc x.c"
        );
        let s = JobSummary {
            status: WaitStatus(11 | 0x80),
            result: JobResult::CompileError,
            ..s
        };
        assert_eq!(
            s.to_string(),
            "client: 127.0.0.1:4000 COMPILE_ERROR exit:0 sig:11 core:1 ret:0 time:42ms gcc x.c"
        );
        let s = JobSummary::faked("[::1]:5", JobResult::RejBadReq, 101, 0);
        assert_eq!(
            s.to_string(),
            "client: [::1]:5 REJ_BAD_REQ exit:101 sig:0 core:0 ret:0 time:0ms"
        );
        let s = JobSummary::faked("h:1", JobResult::CompileTimeout, 118, 7).job("cc", "a.c");
        assert_eq!(
            s.to_string(),
            "client: h:1 COMPILE_TIMEOUT exit:118 sig:0 core:0 ret:0 time:7ms cc a.c"
        );
        let names = [
            JobResult::TcpAccept,
            JobResult::RejOverload,
            JobResult::CliDisconn,
            JobResult::Other,
        ]
        .map(JobResult::name);
        assert_eq!(
            names,
            ["TCP_ACCEPT", "REJ_OVERLOAD", "CLI_DISCONN", "OTHER"]
        );
    }
}
