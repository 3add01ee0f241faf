//! Whether a job's result may be kept: not when the output depends on the
//! time or the machine, or the compile writes files or text the cache
//! would not replay. Checked on the argument list as the daemon runs it
//! and, in pump mode (the server preprocesses), on every shipped file.

/// Why a job is not cached, or None.
pub fn argv_refusal<A: AsRef<[u8]>>(argv: &[A]) -> Option<&'static str> {
    let mut lto = false;
    let mut seeded = false;
    for a in argv {
        let a = a.as_ref();
        let has = |p: &[u8]| a.starts_with(p);
        if has(b"-m") && a.ends_with(b"=native") {
            // -march=, -mtune=, -mcpu=native: code for the server's CPU,
            // which a cache outlives (moved disk, new board).
            return Some("code for the server's own CPU");
        }
        // -fprofile-update= and -fprofile-prefix-map= alone write nothing.
        let harmless = has(b"-fprofile-update=") || has(b"-fprofile-prefix-map=");
        if (has(b"-fprofile") && !harmless)
            || has(b"-fauto-profile")
            || has(b"-fbranch-probabilities")
            || a == b"--coverage"
            || a == b"-ftest-coverage"
        {
            return Some("profile or coverage files beside the object");
        }
        if has(b"-ftime-report") || has(b"-fmem-report") || a == b"-Q" {
            return Some("timings on stderr");
        }
        if a == b"-v" || a == b"--verbose" || a == b"-###" {
            return Some("the compile's own commands and temporary names on stderr");
        }
        if a == b"-flto" || has(b"-flto=") {
            lto = true;
        } else if a == b"-fno-lto" {
            lto = false;
        }
        if has(b"-frandom-seed") {
            seeded = true;
        }
    }
    // gcc names an LTO object's sections with a random number unless
    // -frandom-seed is given, so two units merged by `ld -r` stay apart;
    // a hit would hand two identical units the same names.
    if lto && !seeded {
        return Some("-flto without -frandom-seed");
    }
    None
}

/// True if `data` contains `__DATE__`, `__TIME__` or `__TIMESTAMP__`
/// (anywhere: a comment or a longer name too; that only costs a miss).
pub fn mentions_time(data: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = data[i..].iter().position(|&b| b == b'_') {
        // In a run of underscores a name can start at the last two only.
        let run = data[i + p..].iter().take_while(|&&b| b == b'_').count();
        let at = &data[i + p + run.saturating_sub(2)..];
        if at.starts_with(b"__DATE__")
            || at.starts_with(b"__TIME__")
            || at.starts_with(b"__TIMESTAMP__")
        {
            return true;
        }
        i += p + run;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(line: &str) -> Option<&'static str> {
        argv_refusal(&line.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn deterministic_jobs_are_cached() {
        for ok in [
            "gcc -O2 -g -c a.c -o a.o",
            "gcc -march=armv7-a -mtune=cortex-a7 -c a.c",
            "gcc -flto -frandom-seed=a.o -c a.c",
            "gcc -flto -fno-lto -c a.c",
            "gcc -fprofile-prefix-map=/a=/b -c a.c",
            "gcc -fprofile-update=atomic -c a.c",
            "gcc -save-temps -c a.c",
        ] {
            assert_eq!(refusal(ok), None, "{ok}");
        }
    }

    #[test]
    fn machine_time_and_side_files_are_not() {
        for (line, why) in [
            ("gcc -march=native -c a.c", "code for the server's own CPU"),
            ("gcc -mtune=native -c a.c", "code for the server's own CPU"),
            ("gcc -mcpu=native -c a.c", "code for the server's own CPU"),
            (
                "gcc -fprofile-arcs -c a.c",
                "profile or coverage files beside the object",
            ),
            (
                "gcc -fprofile-generate -c a.c",
                "profile or coverage files beside the object",
            ),
            (
                "gcc -ftest-coverage -c a.c",
                "profile or coverage files beside the object",
            ),
            (
                "gcc --coverage -c a.c",
                "profile or coverage files beside the object",
            ),
            ("gcc -ftime-report -c a.c", "timings on stderr"),
            (
                "gcc -v -c a.c",
                "the compile's own commands and temporary names on stderr",
            ),
            ("gcc -flto -c a.c", "-flto without -frandom-seed"),
            ("gcc -flto=auto -c a.c", "-flto without -frandom-seed"),
            ("gcc -fno-lto -flto -c a.c", "-flto without -frandom-seed"),
        ] {
            assert_eq!(refusal(line), Some(why), "{line}");
        }
    }

    #[test]
    fn time_macros_are_found() {
        for yes in [
            &b"const char *d = __DATE__;"[..],
            b"__TIME__",
            b"x___TIMESTAMP__",
            b"/* built __DATE__ */",
            b"_____TIME__",
        ] {
            assert!(mentions_time(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b""[..],
            b"_",
            b"__",
            b"__DATE_",
            b"__FILE__ __LINE__ __COUNTER__",
            b"__TIME",
            b"_DATE__",
            b"date time",
        ] {
            assert!(!mentions_time(no), "{}", String::from_utf8_lossy(no));
        }
    }
}
