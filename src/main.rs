//! Dispatch only: which role to play, from argv[0] and the first argument.
//! Arguments stay `OsString` for every role that runs or sends them: a file
//! name or macro value need not be UTF-8 (distcc passes bytes through).

#![deny(unsafe_code)]

use std::ffi::{OsStr, OsString};

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest: Vec<OsString> = args.into_iter().skip(1).collect();
    std::process::exit(dispatch(&name, &argv0, rest));
}

/// Monitor and `--check` options are words of our own, never file names.
fn strings(v: Vec<OsString>) -> Vec<String> {
    v.into_iter()
        .map(|s| {
            s.into_string()
                .unwrap_or_else(|s| s.to_string_lossy().into_owned())
        })
        .collect()
}

fn dispatch(name: &str, argv0: &OsStr, rest: Vec<OsString>) -> i32 {
    use tinydcc::{check, client, daemon, monitor, pump};
    match name {
        "tinydccd" | "distccd" => return daemon::main(rest),
        "pump" | "distcc-pump" => return pump::command::main(rest),
        "distccmon-text" => return monitor::text::main(&strings(rest)),
        "tinydcc" | "distcc" => {}
        n if n.contains("distcc") || n.contains("tinydcc") => {}
        _ => return client::main_masquerade(argv0, rest),
    }
    match rest.first().and_then(|a| a.to_str()) {
        Some("--daemon") => daemon::main(rest),
        Some("--check") => check::main(strings(rest[1..].to_vec())),
        Some("--pump") => pump::command::main(rest[1..].to_vec()),
        Some("--mon") if rest.get(1).is_some_and(|a| a == "--cluster") => {
            monitor::cluster::main(&strings(rest[2..].to_vec()))
        }
        Some("--mon") => monitor::text::main(&strings(rest[1..].to_vec())),
        _ => client::main_explicit(rest),
    }
}
