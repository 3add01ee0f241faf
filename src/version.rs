//! `--version` of the client and the daemon, in distcc 3.4's shape: tools
//! read the first line's name, version and GNU target triplet, then the
//! protocols and the default port.

/// This build's target as GNU's config.guess names the machine (distcc
/// prints its configure-time host: `x86_64-pc-linux-gnu`).
fn target() -> String {
    let env = if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    };
    match std::env::consts::ARCH {
        "x86_64" => format!("x86_64-pc-linux-{env}"),
        "x86" => format!("i686-pc-linux-{env}"),
        "arm" if cfg!(target_abi = "eabihf") => format!("armv7l-unknown-linux-{env}eabihf"),
        "arm" => format!("arm-unknown-linux-{env}eabi"),
        arch => format!("{arch}-unknown-linux-{env}"),
    }
}

/// The text `name --version` prints.
pub fn text(name: &str) -> String {
    format!(
        "{name} {} {}\n  (protocols 1, 2 and 3) (default port {})\n  (distcc 3.4 compatible)\n\n\
         {name} is free software under the GNU General Public License, version 2\n\
         or later, and comes with ABSOLUTELY NO WARRANTY.\n",
        env!("CARGO_PKG_VERSION"),
        target(),
        crate::hosts::DEFAULT_PORT
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn first_lines_have_distccs_fields() {
        let t = super::text("tinydcc");
        let mut lines = t.lines();
        let first: Vec<&str> = lines.next().unwrap().split(' ').collect();
        assert_eq!(first[..2], ["tinydcc", env!("CARGO_PKG_VERSION")]);
        assert!(first[2].contains("-linux-"), "{t}");
        assert_eq!(
            lines.next(),
            Some("  (protocols 1, 2 and 3) (default port 3632)")
        );
    }
}
