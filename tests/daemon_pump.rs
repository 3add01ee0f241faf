//! Protocol 3 on our daemon: the client's files are mirrored into the job,
//! the real source is preprocessed and compiled there, and the object and
//! `.d` file equal a local build, also with -g and absolute include paths.

use crate::common;
use common::*;
use std::path::Path;
use tinydcc::protocol::{lzo, token, Features};

#[test]
fn pump_job_equals_local_build() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let tree = TempDir::new("pumptree");
    let src = tree.join("src");
    std::fs::create_dir_all(src.join("inc")).unwrap();
    std::fs::write(
        src.join("inc/x.h"),
        "#define GREETING \"hello from x.h\"\nint helper(void);\n",
    )
    .unwrap();
    std::fs::write(
        src.join("p.c"),
        "#include <stdio.h>\n#include \"x.h\"\nint main(void) { puts(GREETING); puts(__FILE__); return helper(); }\n",
    )
    .unwrap();
    let inc_abs = src.join("inc");
    let inc_flag = format!("-I{}", inc_abs.display());
    for (tag, extra) in [
        ("plain", vec!["-Iinc"]),
        ("debug", vec!["-g", "-O1", &inc_flag]),
    ] {
        let mut argv = vec!["gcc"];
        argv.extend(extra.iter().copied());
        argv.extend(["-MD", "-c", "p.c", "-o", "p.o"]);
        // Local reference, same cwd.
        let local = std::process::Command::new("gcc")
            .args(&argv[1..argv.len() - 1])
            .arg("local.o")
            .current_dir(&src)
            .output()
            .unwrap();
        assert!(local.status.success(), "{}", text(&local.stderr));
        let req = pump_request(&src, &argv, &[&src.join("p.c"), &src.join("inc/x.h")], &[]);
        let r = pump_exchange(d.port, &req);
        assert_eq!(r.status.0, 0, "{tag}: {}", text(&r.stderr));
        assert_eq!(
            r.object,
            std::fs::read(src.join("local.o")).unwrap(),
            "{tag}: object differs"
        );
        let local_d = std::fs::read_to_string(src.join("local.d"))
            .unwrap()
            .replace("local.o", "p.o");
        assert_eq!(
            text(r.dotd.as_deref().unwrap()),
            local_d,
            "{tag}: .d differs"
        );
    }
    assert!(d.wait_job("COMPILE_OK", "p.c"));
    assert!(d.leftovers_after_reply().is_empty(), "{:?}", d.leftovers());
}

#[test]
fn pump_names_that_escape_are_refused() {
    let d = Daemon::start(Kind::Tiny, &[]);
    let tree = TempDir::new("pumpevil");
    std::fs::write(tree.join("p.c"), "int x;\n").unwrap();
    let cwd = tree.path();
    // A link pointing out of the mirror, then a file written through it.
    let escape = "../../../../../../../../../../../../tmp";
    let name = format!("{}/evil", cwd.display());
    let mut req = tinydcc::protocol::request::encode_header(
        Features::PUMP,
        Some(cwd.as_os_str()),
        &[
            "gcc".into(),
            "-c".into(),
            "p.c".into(),
            "-o".into(),
            "p.o".into(),
        ],
    );
    token::put(&mut req, token::NFIL, 2);
    token::put_bytes(&mut req, token::NAME, name.as_bytes()).unwrap();
    token::put_bytes(&mut req, token::LINK, escape.as_bytes()).unwrap();
    let through = format!("{name}/tinydcc-escaped-{}", std::process::id());
    token::put_bytes(&mut req, token::NAME, through.as_bytes()).unwrap();
    token::put_bytes(&mut req, token::FILE, &lzo::compress(b"pwned")).unwrap();
    let r = pump_exchange(d.port, &req);
    assert_eq!(r.status.0, 109 << 8, "{}", text(&r.stderr));
    assert!(!Path::new(&format!("/tmp/tinydcc-escaped-{}", std::process::id())).exists());
    // `..` in a name and a relative -I that climbs out are refused too.
    for (argv, files) in [
        (
            vec!["gcc", "-c", "p.c", "-o", "p.o"],
            vec![format!("{}/../x.h", cwd.display())],
        ),
        (
            vec![
                "gcc",
                "-I../../../../../../../../etc",
                "-c",
                "p.c",
                "-o",
                "p.o",
            ],
            vec![],
        ),
    ] {
        let argv: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
        let mut req =
            tinydcc::protocol::request::encode_header(Features::PUMP, Some(cwd.as_os_str()), &argv);
        token::put(&mut req, token::NFIL, files.len() as u32);
        for f in &files {
            token::put_bytes(&mut req, token::NAME, f.as_bytes()).unwrap();
            token::put_bytes(&mut req, token::FILE, &lzo::compress(b"int y;")).unwrap();
        }
        let r = pump_exchange(d.port, &req);
        assert_ne!(r.status.0, 0);
    }
    assert!(!d.log_text().contains("COMPILE_OK"));
    assert!(d.leftovers_after_reply().is_empty());
}
