//! `tinydcc --scan-includes COMMAND`: the files pump mode would send for
//! one compile, listed as distcc 3.4 lists them:
//! one `"%-9s %s"` line per entry of the include server's answer, the kind
//! (FILE, SYMLINK, DIRECTORY, SYSTEMDIR), then the path on this machine.
//! Nothing is compiled.

use super::{invoke, native, pump, settings::Settings};
use crate::args;
use crate::exitcode::*;
use crate::hosts;
use crate::pump::mirror::{client_name, FORCING_FILE};

/// distcc's words when pump mode would not be used for this command.
const WOULD_NOT: &str =
    "'--scan-includes' specified, but tinydcc wouldn't have used include server";
/// ... and when the include server gave no list (distcc exits 1 then).
const NO_LIST: &str = "failed to get includes from include server";

pub fn main(rest: &[std::ffi::OsString]) -> i32 {
    let argv = match invoke::explicit(rest) {
        invoke::Invocation::Compile(argv) => argv,
        _ => {
            log::error!("--scan-includes needs a compiler command, e.g. gcc -c x.c");
            return EXIT_BAD_ARGUMENTS;
        }
    };
    let s = match Settings::from_env() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(real) = invoke::resolve_compiler(&argv[0]) else {
        log::error!(
            "failed to exec {}: No such file or directory",
            argv[0].to_string_lossy()
        );
        return EXIT_COMPILER_MISSING;
    };
    let argv = if native::has_native(&argv) {
        native::resolve(&s, &real, &argv).unwrap_or(argv)
    } else {
        argv
    };
    let scan = match args::scan(&argv) {
        Ok(scan) => scan,
        Err(args::Local::Preprocess) => {
            log::error!("{WOULD_NOT} (-E runs locally)");
            return EXIT_DISTCC_FAILED;
        }
        Err(args::Local::Reason(why)) => {
            log::error!("{WOULD_NOT} ({why}; it runs locally)");
            return EXIT_DISTCC_FAILED;
        }
    };
    let pump_host = match hosts::load() {
        Ok(Some(l)) => l.hosts.iter().any(|h| h.cpp),
        Ok(None) => false,
        Err(e) => {
            log::log!(e.level(), "{e}");
            false
        }
    };
    if !pump_host {
        log::error!("{WOULD_NOT} (make sure hosts list includes ',cpp' option?)");
        return EXIT_DISTCC_FAILED;
    }
    if let Some(why) = pump::unusable(&scan.input) {
        log::warn!("{why}");
        if std::env::var_os("INCLUDE_SERVER_PORT").is_none() {
            log::error!("{NO_LIST}");
            return 1;
        }
        log::error!("{WOULD_NOT}");
        return EXIT_DISTCC_FAILED;
    }
    let mut server_argv = scan.argv.clone();
    if !s.no_rewrite_cross {
        invoke::rewrite_for_server(&mut server_argv);
    }
    match pump::ask(&server_argv, s.io_timeout) {
        Ok(files) => {
            // Raw bytes: a listed path need not be UTF-8.
            let mut out = Vec::new();
            for (kind, path) in files.listed().iter().filter_map(|l| describe(l)) {
                out.extend_from_slice(format!("{kind:<9} ").as_bytes());
                out.extend_from_slice(&path);
                out.push(b'\n');
            }
            use std::io::Write;
            let _ = std::io::stdout().write_all(&out);
            0
        }
        Err(pump::NoList::GaveUp) => {
            log::warn!("include server gave up analyzing");
            log::error!("{NO_LIST}");
            1
        }
        Err(pump::NoList::Failed(why)) => {
            log::warn!("{why}");
            log::error!("{NO_LIST}");
            1
        }
    }
}

/// The kind and original path of one listed entry: a forcing file stands
/// for its directory, a link that climbs back to its own path is a system
/// directory, any other link a symlink, the rest files.
fn describe(listed: &std::ffi::OsStr) -> Option<(&'static str, Vec<u8>)> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let name = client_name(listed)?.into_vec();
    if let Some(dir) = name.strip_suffix(FORCING_FILE.as_bytes()) {
        let end = dir.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        let dir = if end == 0 { &b"/"[..] } else { &dir[..end] };
        return Some(("DIRECTORY", dir.to_vec()));
    }
    let kind = match std::fs::read_link(listed) {
        Ok(t) => {
            let t = t.as_os_str().as_bytes();
            let mut climbed = t;
            while let Some(rest) = climbed.strip_prefix(b"../") {
                climbed = rest;
            }
            if climbed.len() < t.len() && name.strip_prefix(b"/") == Some(climbed) {
                "SYSTEMDIR"
            } else {
                "SYMLINK"
            }
        }
        Err(_) => "FILE",
    };
    Some((kind, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_listed_entries() {
        let d = crate::paths::make_temp_dir(std::path::Path::new("/tmp"), "scanincl-").unwrap();
        let root = d.join("pad");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/p.c.lzo"), b"").unwrap();
        std::fs::write(root.join("src").join(FORCING_FILE), b"").unwrap();
        std::os::unix::fs::symlink("../../../../usr/include", root.join("sys")).unwrap();
        std::os::unix::fs::symlink("../../../../usr/include", root.join("usr")).unwrap();
        let at = |p: &str| root.join(p).into_os_string();
        assert_eq!(
            describe(&at("src/p.c.lzo")),
            Some(("FILE", b"/src/p.c".to_vec()))
        );
        assert_eq!(
            describe(&at(&format!("src/{FORCING_FILE}"))),
            Some(("DIRECTORY", b"/src".to_vec()))
        );
        assert_eq!(describe(&at("sys")), Some(("SYMLINK", b"/sys".to_vec())));
        std::fs::remove_file(root.join("usr")).unwrap();
        std::fs::create_dir_all(root.join("usr")).unwrap();
        std::os::unix::fs::symlink("../../../../../usr/include", root.join("usr/include")).unwrap();
        assert_eq!(
            describe(&at("usr/include")),
            Some(("SYSTEMDIR", b"/usr/include".to_vec()))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
