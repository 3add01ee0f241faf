//! What a user or a script sees, side by side with Debian's distcc 3.4 on
//! the same case: `--version` lines, `--scan-includes`, the warnings users
//! grep for, the `DISTCC_LOG` lines. Where tinydcc differs on purpose (the
//! README's list), the test asserts the difference.

mod common;
use common::*;
use std::path::Path;
use std::process::Output;

/// `kind`'s client with `args` in `dir`, a private DISTCC_DIR, `hosts`,
/// and `env` on top.
fn client(kind: Kind, dir: &Path, hosts: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = client_cmd(kind, dir, hosts);
    c.args(args).envs(env.iter().copied());
    run(c)
}

/// A host that failed is backed off: the first job names it, the next
/// skips it; both clients say so in the same words.
#[test]
fn backed_off_host_warnings_match() {
    let dead = format!("127.0.0.1:{}", free_port());
    for kind in [Kind::Stock, Kind::Tiny] {
        let dir = TempDir::new("backoffmsg");
        dir.write("x.c", HELLO);
        let args = ["gcc", "-c", "x.c", "-o", "x.o"];
        let first = client(kind, dir.path(), &dead, &args, &[]);
        let second = client(kind, dir.path(), &dead, &args, &[]);
        assert!(first.status.success() && second.status.success());
        let (a, b) = (text(&first.stderr), text(&second.stderr));
        assert!(
            a.contains(&format!(
                "failed to distribute x.c to {dead}, running locally instead"
            )),
            "{kind:?}: {a}"
        );
        assert!(a.contains("Connection refused"), "{kind:?}: {a}");
        assert!(
            b.contains("failed to distribute, running locally instead"),
            "{kind:?}: {b}"
        );
        assert!(!b.contains("Connection refused"), "{kind:?}: {b}");
        if kind == Kind::Tiny {
            assert!(!a.contains("(os error"), "{a}");
            assert!(
                a.contains(&format!("failed to connect to {dead}: Connection refused")),
                "{a}"
            );
        }
    }
}
