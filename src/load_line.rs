//! The one-line load report a tinydcc daemon's stats port answers to a
//! connection that starts with `load\n` (stock distccmon and browsers keep
//! getting the page): `tinydcc-load 1 running=R queued=Q slots=S mem=M room=Y`,
//! `mem` the free memory in MiB (`-` when unknown), `room` whether memory
//! admission would start one more compile now (`y`/`n`), then ` cpus=C`,
//! the CPUs its compilers may use (affinity and cgroup quota), which a
//! line without it (an earlier daemon's) does not say.

/// What a client sends first to get the line instead of the page.
pub const QUERY: &[u8] = b"load\n";
const TAG: &str = "tinydcc-load 1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLoad {
    pub running: u32,
    pub queued: u32,
    pub slots: u32,
    pub mem_mib: Option<u64>,
    pub room: bool,
    pub cpus: Option<u32>,
}

impl HostLoad {
    pub fn line(&self) -> String {
        let mem = self
            .mem_mib
            .map_or_else(|| "-".to_string(), |m| m.to_string());
        let cpus = self.cpus.map_or_else(String::new, |c| format!(" cpus={c}"));
        format!(
            "{TAG} running={} queued={} slots={} mem={mem} room={}{cpus}\n",
            self.running,
            self.queued,
            self.slots,
            if self.room { "y" } else { "n" }
        )
    }

    /// The line back; `None` for anything else (a stock daemon's page, a
    /// later version's line).
    pub fn parse(text: &str) -> Option<HostLoad> {
        let rest = text.strip_suffix('\n')?.strip_prefix(TAG)?;
        let mut l = HostLoad {
            running: 0,
            queued: 0,
            slots: 0,
            mem_mib: None,
            room: true,
            cpus: None,
        };
        let mut seen = 0;
        for field in rest.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "running" => l.running = v.parse().ok()?,
                "queued" => l.queued = v.parse().ok()?,
                "slots" => l.slots = v.parse().ok()?,
                "mem" => {
                    l.mem_mib = if v == "-" {
                        None
                    } else {
                        Some(v.parse().ok()?)
                    }
                }
                "room" => l.room = v == "y",
                // Optional: not counted in `seen`.
                "cpus" => {
                    l.cpus = Some(v.parse().ok()?);
                    continue;
                }
                // Fields a later daemon adds are skipped.
                _ => continue,
            }
            seen += 1;
        }
        (seen == 5 && l.slots > 0).then_some(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_back() {
        let l = HostLoad {
            running: 2,
            queued: 1,
            slots: 4,
            mem_mib: Some(812),
            room: false,
            cpus: Some(1),
        };
        assert_eq!(
            l.line(),
            "tinydcc-load 1 running=2 queued=1 slots=4 mem=812 room=n cpus=1\n"
        );
        assert_eq!(HostLoad::parse(&l.line()), Some(l));
        // An earlier daemon's line, without cpus.
        let unknown = HostLoad {
            mem_mib: None,
            room: true,
            cpus: None,
            ..l
        };
        assert_eq!(
            unknown.line(),
            "tinydcc-load 1 running=2 queued=1 slots=4 mem=- room=y\n"
        );
        assert_eq!(HostLoad::parse(&unknown.line()), Some(unknown));
        let later = "tinydcc-load 1 running=0 queued=0 slots=2 mem=5 room=y psi=1.0\n";
        assert_eq!(HostLoad::parse(later).map(|l| l.slots), Some(2));
    }

    #[test]
    fn anything_else_is_no_report() {
        for t in [
            "",
            "HTTP/1.0 200 OK\n",
            "tinydcc-load 1 running=2 queued=1 slots=4 mem=1\n",
            "tinydcc-load 1 running=x queued=1 slots=4 mem=1 room=y\n",
            "tinydcc-load 1 running=0 queued=0 slots=0 mem=1 room=y\n",
            "tinydcc-load 1 running=0 queued=0 slots=2 mem=1 room=y cpus=x\n",
            "tinydcc-load 1 running=2 queued=1 slots=4 mem=1 room=y",
        ] {
            assert_eq!(HostLoad::parse(t), None, "{t:?}");
        }
    }
}
