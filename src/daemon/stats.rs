//! distccd's `--stats` counters and their text page (src/stats.c's field
//! names, in its order), served on `--stats-port`.

use std::collections::VecDeque;
use std::time::Instant;

use crate::protocol::status::JobResult;

/// One finished compile, for the HTML page.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub input: String,
    pub ms: u64,
    pub ok: bool,
}

const RECENT_JOBS: usize = 20;

#[derive(Default)]
pub struct Stats {
    jobs: VecDeque<JobRecord>,
    /// The result cache's counters, when it is on (set before a page is made).
    pub cache: Option<crate::store::Counters>,
    pub tcp_accept: u64,
    pub rej_bad_req: u64,
    pub rej_overload: u64,
    pub compile_ok: u64,
    pub compile_error: u64,
    pub compile_timeout: u64,
    pub cli_disconnect: u64,
    pub other: u64,
    /// Bytes read on compile connections (issue 16 §3: what the header
    /// store saves on the wire).
    pub request_bytes: u64,
    /// Pump jobs whose files were laid out, the contents written into
    /// their directories, and those laid out from the header store.
    pub pump_jobs: u64,
    pub files_written: u64,
    pub files_linked: u64,
    longest: Option<(String, String, u64)>,
    pub max_kids: usize,
    /// Per-minute buckets for the 1/5/15-minute figures: a fixed 15 of
    /// them, so a busy daemon's memory does not grow with its job count.
    minutes: VecDeque<Minute>,
    epoch: Option<Instant>,
}

#[derive(Default, Clone, Copy)]
struct Minute {
    index: u64,
    compiles: u64,
    kid_sum: u64,
    kid_samples: u64,
}

impl Stats {
    /// Count how a request ended (TCP_ACCEPT: that one was taken).
    pub fn record(&mut self, r: JobResult) {
        match r {
            JobResult::TcpAccept => self.tcp_accept += 1,
            JobResult::CompileOk => self.compile_ok += 1,
            JobResult::CompileError => self.compile_error += 1,
            JobResult::CompileTimeout => self.compile_timeout += 1,
            JobResult::RejBadReq => self.rej_bad_req += 1,
            JobResult::RejOverload => self.rej_overload += 1,
            JobResult::CliDisconn => self.cli_disconnect += 1,
            JobResult::Other => self.other += 1,
        }
    }

    /// A pump job's (contents written, contents linked from the store).
    pub fn pump_files(&mut self, (written, linked): (u64, u64)) {
        self.files_written += written;
        self.files_linked += linked;
    }

    /// The bucket for the current minute, made if needed.
    fn minute(&mut self) -> &mut Minute {
        let epoch = *self.epoch.get_or_insert_with(Instant::now);
        let index = epoch.elapsed().as_secs() / 60;
        if self.minutes.back().is_none_or(|m| m.index != index) {
            self.minutes.push_back(Minute {
                index,
                ..Default::default()
            });
            while self.minutes.len() > 15 {
                self.minutes.pop_front();
            }
        }
        self.minutes.back_mut().expect("just pushed")
    }

    /// A compile finished (successfully or not) after `ms`.
    pub fn compiled(&mut self, input: &str, compiler: &str, ms: u64, ok: bool) {
        if self.jobs.len() == RECENT_JOBS {
            self.jobs.pop_front();
        }
        self.jobs.push_back(JobRecord {
            input: input.to_string(),
            ms,
            ok,
        });
        self.minute().compiles += 1;
        if ok && self.longest.as_ref().is_none_or(|l| ms > l.2) {
            self.longest = Some((input.to_string(), compiler.to_string(), ms));
        }
    }

    /// The last few finished compiles, oldest first.
    pub fn recent_jobs(&self) -> Vec<JobRecord> {
        self.jobs.iter().cloned().collect()
    }

    /// Note how many compilers run now (called when that changes).
    pub fn sample_kids(&mut self, running: usize) {
        self.max_kids = self.max_kids.max(running);
        let m = self.minute();
        m.kid_sum += running as u64;
        m.kid_samples += 1;
    }

    /// Buckets of the last `n` minutes.
    fn last(&self, n: u64) -> impl Iterator<Item = &Minute> {
        let now = self.epoch.map(|e| e.elapsed().as_secs() / 60).unwrap_or(0);
        self.minutes.iter().filter(move |m| now - m.index < n)
    }

    fn recent_within(&self, minutes: u64) -> u64 {
        self.last(minutes).map(|m| m.compiles).sum()
    }

    fn avg_kids(&self, minutes: u64) -> u64 {
        let (sum, n) = self
            .last(minutes)
            .fold((0, 0), |(s, n), m| (s + m.kid_sum, n + m.kid_samples));
        sum.checked_div(n).unwrap_or(0)
    }

    /// The whole HTTP response, as distccd writes it (bare `\n` line ends).
    pub fn page(&self, running: usize, tmp: &std::path::Path) -> String {
        let load = crate::sys::load_average();
        // The statvfs field types differ by target (u32 on 32-bit ARM).
        #[allow(clippy::unnecessary_cast)]
        let free_mb = nix::sys::statvfs::statvfs(tmp)
            .map(|s| s.blocks_available() as u64 * s.fragment_size() as u64 / (1024 * 1024))
            .unwrap_or(0);
        let (lname, lcomp, lms) = match &self.longest {
            Some((n, c, ms)) => (n.as_str(), c.as_str(), *ms as i64),
            None => ("none", "none", -1),
        };
        let mut s = String::with_capacity(1024);
        s.push_str("HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close\n\n");
        s.push_str("argv /distccd\n<distccstats>\n");
        let lines: [(&str, String); 26] = [
            ("dcc_tcp_accept", self.tcp_accept.to_string()),
            ("dcc_rej_bad_req", self.rej_bad_req.to_string()),
            ("dcc_rej_overload", self.rej_overload.to_string()),
            ("dcc_compile_ok", self.compile_ok.to_string()),
            ("dcc_compile_error", self.compile_error.to_string()),
            ("dcc_compile_timeout", self.compile_timeout.to_string()),
            ("dcc_cli_disconnect", self.cli_disconnect.to_string()),
            ("dcc_other", self.other.to_string()),
            ("dcc_longest_job", lname.to_string()),
            ("dcc_longest_job_compiler", lcomp.to_string()),
            ("dcc_longest_job_time_msecs", lms.to_string()),
            ("dcc_max_kids", self.max_kids.to_string()),
            ("dcc_avg_kids1", self.avg_kids(1).to_string()),
            ("dcc_avg_kids2", self.avg_kids(5).to_string()),
            ("dcc_avg_kids3", self.avg_kids(15).to_string()),
            ("dcc_current_load", running.to_string()),
            ("dcc_load1", crate::decimal::fixed(load[0], 2)),
            ("dcc_load2", crate::decimal::fixed(load[1], 2)),
            ("dcc_load3", crate::decimal::fixed(load[2], 2)),
            ("dcc_num_compiles1", self.recent_within(1).to_string()),
            ("dcc_num_compiles2", self.recent_within(5).to_string()),
            ("dcc_num_compiles3", self.recent_within(15).to_string()),
            ("dcc_num_procstate_D", "0".to_string()),
            ("dcc_max_RSS", "0".to_string()),
            ("dcc_max_RSS_name", "none".to_string()),
            ("dcc_io_rate", "-1".to_string()),
        ];
        for (k, v) in lines {
            s.push_str(k);
            s.push(' ');
            s.push_str(&v);
            s.push('\n');
        }
        s.push_str(&format!(
            "dcc_free_space {free_mb} MB\ndcc_request_bytes {}\ndcc_pump_jobs {}\n\
dcc_pump_files_written {}\ndcc_pump_files_linked {}\n",
            self.request_bytes, self.pump_jobs, self.files_written, self.files_linked
        ));
        // Ours, after distccd's own lines (which stay as they are).
        if let Some(c) = &self.cache {
            s.push_str(&format!(
                "dcc_cache_hits {}\ndcc_cache_misses {}\ndcc_cache_bytes {}\n\
dcc_cache_entries {}\ndcc_cache_evictions {}\ndcc_cache_damaged {}\n",
                c.hits, c.misses, c.bytes, c.entries, c.evictions, c.corrupt
            ));
        }
        s.push_str("</distccstats>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_distccd_fields_in_order() {
        let mut st = Stats {
            tcp_accept: 3,
            ..Default::default()
        };
        st.record(JobResult::CompileOk);
        st.compiled("hello.c", "gcc", 12, true);
        st.sample_kids(2);
        let p = st.page(1, std::path::Path::new("/tmp"));
        assert!(p.starts_with("HTTP/1.0 200 OK\nContent-Type: text/plain\n"));
        let keys: Vec<&str> = p
            .lines()
            .skip_while(|l| *l != "<distccstats>")
            .skip(1)
            .take_while(|l| *l != "</distccstats>")
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(keys.len(), 31);
        assert_eq!(keys[0], "dcc_tcp_accept");
        assert_eq!(keys[26], "dcc_free_space");
        assert_eq!(
            keys[27..],
            [
                "dcc_request_bytes",
                "dcc_pump_jobs",
                "dcc_pump_files_written",
                "dcc_pump_files_linked"
            ]
        );
        assert!(p.contains("dcc_tcp_accept 3\n"));
        assert!(p.contains("dcc_compile_ok 1\n"));
        assert!(p.contains("dcc_longest_job hello.c\n"));
        assert!(p.contains("dcc_max_kids 2\n"));
        assert!(p.contains("dcc_num_compiles1 1\n"));
        assert!(!p.contains("dcc_cache"));
    }

    #[test]
    fn cache_lines_follow_distccds() {
        let st = Stats {
            cache: Some(crate::store::Counters {
                hits: 5,
                misses: 2,
                bytes: 4096,
                entries: 3,
                evictions: 1,
                corrupt: 0,
            }),
            ..Default::default()
        };
        let p = st.page(0, std::path::Path::new("/tmp"));
        let tail = &p[p.find("dcc_free_space").unwrap()..];
        let tail = &tail[tail.find("dcc_cache_hits").unwrap()..];
        assert_eq!(
            tail,
            "dcc_cache_hits 5\ndcc_cache_misses 2\ndcc_cache_bytes 4096\ndcc_cache_entries 3\n\
dcc_cache_evictions 1\ndcc_cache_damaged 0\n</distccstats>\n"
        );
    }
}
