//! `tinydcc --mon [SECS]` / `distccmon-text [SECS]`: the running jobs of
//! every client (ours and stock distcc's), in distccmon-text's format.

use std::io::Write;

use super::state::{self, Phase, TaskState};

/// One poll, formatted as distccmon-text prints it: sorted by host then
/// slot, Done jobs left out, an empty line after each poll.
pub(crate) fn render(tasks: &[TaskState]) -> String {
    let mut v: Vec<&TaskState> = tasks.iter().filter(|t| t.phase != Phase::Done).collect();
    v.sort_by(|a, b| {
        a.host
            .as_bytes()
            .cmp(b.host.as_bytes())
            .then(a.slot.cmp(&b.slot))
    });
    let mut out = String::new();
    for t in v {
        out.push_str(&format!(
            "{:6}  {:<10.10}  {:<30.30} {:>24.24}[{}]\n",
            t.pid,
            t.phase.name(),
            t.file.to_string_lossy(),
            t.host,
            t.slot
        ));
    }
    out.push('\n');
    out
}

pub fn main(args: &[String]) -> i32 {
    let delay = match args {
        [] => None,
        [s] => match crate::decimal::parse_secs(s) {
            Some(d) => Some(d),
            None => {
                eprintln!("usage: distccmon-text [DELAY]");
                return 1;
            }
        },
        _ => {
            eprintln!("usage: distccmon-text [DELAY]");
            return 1;
        }
    };
    let Some(dir) = state::state_dir() else {
        eprintln!("distccmon-text: neither DISTCC_DIR nor HOME is set");
        return 1;
    };
    let mut stdout = std::io::stdout();
    loop {
        let page = render(&state::read_all(&dir));
        if stdout
            .write_all(page.as_bytes())
            .and_then(|_| stdout.flush())
            .is_err()
        {
            return 0; // the reader went away (e.g. `| head`)
        }
        match delay {
            Some(d) => std::thread::sleep(d),
            None => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_matches_distccmon_text() {
        let t = |pid, phase, file: &str, host: &str, slot| TaskState {
            pid,
            file: file.into(),
            host: host.into(),
            slot,
            phase,
        };
        let page = render(&[
            t(
                2,
                Phase::Preprocess,
                "averyveryverylongfilenamethatexceeds30.c",
                "localhost",
                0,
            ),
            t(1, Phase::Compile, "foo.c", "127.0.0.1,lzo", 3),
            t(3, Phase::Done, "done.c", "a", 0),
        ]);
        assert_eq!(
            page,
            "     1  Compile     foo.c                                     127.0.0.1,lzo[3]\n     \
             2  Preprocess  averyveryverylongfilenamethate                localhost[0]\n\n"
        );
    }
}
