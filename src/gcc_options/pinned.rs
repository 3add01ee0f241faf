//! Every option the four readers of gcc's options knew (`args`,
//! `daemon::harden`, `daemon::pump_job`, `scan::searchpath`), in several
//! spellings, through each reader; the outcomes are pinned in
//! `pinned.txt`, written from the code before the readers shared one
//! table. A difference is a change of behaviour: fix it, or (when it is
//! meant) rewrite the file with `TINYDCC_WRITE_PINNED=1 cargo test --lib
//! pinned` and say why in the commit.

use std::ffi::OsString;
use std::path::Path;

/// The option names each reader knew, and a few it did not.
#[rustfmt::skip]
const NAMES: &[&str] = &[
    // args.rs (distcc's scan and strip lists)
    "-march=native", "-mtune=native", "-Wa,", "-specs=", "-E", "-MD", "-MMD", "-MG", "-MP",
    "-MF", "-MT", "-MQ", "-M", "-MM", "-S", "-fprofile-arcs", "-ftest-coverage", "--coverage",
    "-fprofile-generate", "-fprofile-use", "-fauto-profile", "-fprofile-correction", "-frepo",
    "-flto", "-x", "-dr", "-c", "-o", "-D", "-I", "-U", "-L", "-l", "-include", "-imacros",
    "-iprefix", "-iwithprefix", "-isystem", "-iwithprefixbefore", "-idirafter", "-Wp,", "-Wl,",
    "-stdlib", "-undef", "-nostdinc", "-nostdinc++",
    // daemon/harden.rs
    "-wrapper", "--wrapper", "-fplugin", "--plugin", "-fpass-plugin", "-iplugindir", "-specs",
    "--specs", "-B", "--prefix", "--gcc-toolchain", "-ccc-", "-fuse-ld", "-no-integrated-as",
    "-Xpreprocessor", "-include-pch", "--include", "--imacros", "-aux-info", "-dumpdir",
    "--dumpdir", "-dumpbase", "--dumpbase", "--write-", "--user-dependencies",
    "--dependencies", "-fdump-", "-fopt-info", "-fcallgraph-info", "-fprofile-update=",
    "-fprofile-prefix-map=", "-fprofile", "-fcoverage-compilation-dir=",
    "-fsanitize-blacklist", "-fsanitize-ignorelist", "-fsanitize-coverage-", "-fxray-",
    "-fmodule", "-fprebuilt-module-path", "-foptimization-record-file",
    "-fsave-optimization-record", "-ftime-trace", "-fcrash-diagnostics-dir", "-fstack-usage",
    "-fdebug-prefix-map=", "-ffile-prefix-map=", "-fmacro-prefix-map=",
    "-fdebug-compilation-dir", "--output", "--language", "-save-temps", "--save-temps",
    "-Xassembler", "--for-assembler", "-Xclang", "-Xlinker", "--for-linker", "-isysroot",
    "--sysroot=", "--sysroot", "-iquote", "--param", "--param=", "-target", "--target=",
    "-arch", "--pipe", "--verbose", "--ansi", "--std=", "--pedantic", "--pedantic-errors",
    "--no-warnings", "--all-warnings", "--extra-warnings", "--optimize", "--debug",
    "--compile", "--assemble",
    // daemon/pump_job.rs: PATH_OPTIONS are all above.
    // scan/searchpath.rs
    "-u", "-z", "-T", "-e", "-A", "-mllvm", "-Xanalyzer", "-dumpbase-ext", "-iwithsysroot",
    "-isystem-after", "-imultilib", "-imultiarch", "-iplugindir=", "-ivfsoverlay",
    "--include-directory-after", "--include-directory", "--include-prefix",
    "--include-with-prefix-before", "--include-with-prefix-after", "--include-with-prefix",
    "--include-barrier", "--define-macro", "--undefine-macro", "--no-standard-includes",
    "--target", "--std", "--trigraphs", "--traditional-cpp", "--traditional", "--undefine",
    "--inc", "--ima", "--def", "--und", "--no-standard", "--lang", "--sys", "--pre",
    "-fdump", "-fdiagnostics", "-fmessage-length", "-fno-diagnostics",
    "-fcolor-diagnostics", "-fno-color-diagnostics", "-fdirectives-only",
    "-fworking-directory", "-fno-working-directory", "-fmodules", "-fmodule-",
    "-fimplicit-module-maps", "-fbuiltin-module-map", "-fpreprocessed",
    "-fms-compatibility", "-fembed-dir", "-nostdlibinc", "-nobuiltininc", "-ansi",
    "-pthread", "-pthreads", "-trigraphs", "-no-canonical-prefixes", "-traditional",
    "-traditional-cpp", "-remap", "-b", "-V", "-resource-dir", "-F", "-iframework",
    "-finput-charset=", "-m", "-O", "-std=", "--gcc-install-dir=", "-resource-dir=",
    "--rtlib=", "-I-", "@",
    // none of them
    "-Wall", "-g", "-O2", "-zzz", "--zzz", "-fno-common", "-pipe", "-iwhatever",
];

/// The spellings of `name` tried: alone, with a separate value that climbs
/// out of any directory, joined to an absolute path, joined to a word,
/// and (long options) with `=`.
fn spellings(name: &str) -> Vec<Vec<String>> {
    let mut s = vec![
        vec![name.to_string()],
        vec![name.to_string(), "../../../../../e/f".to_string()],
        vec![format!("{name}/abs/x")],
        vec![format!("{name}v")],
    ];
    if name.starts_with("--") && !name.ends_with('=') {
        s.push(vec![format!("{name}=v/w")]);
    }
    s
}

/// The parts every line has, shortened: `$` the end of the command line,
/// `+` what the daemon adds in pump mode.
fn short(s: String) -> String {
    s.replace("-c x.c -o x.o", "$")
        .replace("-c x.i -o x.o", "$")
        .replace("-E x.c", "$E")
        .replace("-MT x.o -MF /R/d -ffile-prefix-map=/R=", "+")
        .replace(" lang=c in=x.c", "")
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn show(v: &[OsString]) -> String {
    let s: Vec<String> = v.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    s.join(" ")
}

/// One line: the spelling, then each reader's outcome.
fn line(spelled: &[String]) -> String {
    let opts: Vec<&str> = spelled.iter().map(String::as_str).collect();
    let argv = |input: &str| -> Vec<OsString> {
        let mut a = vec!["gcc"];
        a.extend(&opts);
        a.extend(["-c", input, "-o", "x.o"]);
        os(&a)
    };
    let n = opts.len();
    let (input, output) = (n + 2, n + 4);
    let mut cols = vec![opts.join(" ")];

    // Each argv is shown only where it differs from what came in.
    let same = |got: &[OsString], want: &[OsString], what: &str| {
        if got == want {
            format!("{what} as is")
        } else {
            format!("{what}={}", show(&got[1..]))
        }
    };
    let at = |i: usize, o: usize, want: usize| {
        if (i, o) == (want, want + 2) {
            String::new()
        } else {
            format!(" @{i},{o}")
        }
    };

    // args.rs: the client's scan, its cpp argv and the server's argv.
    let src = argv("x.c");
    cols.push(match crate::args::scan(&src) {
        Ok(s) => {
            let mut cpp: Vec<OsString> = src
                .iter()
                .filter(|a| *a != "-o" && *a != "x.o")
                .cloned()
                .collect();
            for a in &mut cpp {
                if a == "-c" {
                    *a = "-E".into();
                }
            }
            let mut r = String::from("remote");
            if (s.input.as_os_str(), s.output.as_os_str(), s.input_index)
                != ("x.c".as_ref(), "x.o".as_ref(), input)
            {
                r.push_str(&format!(
                    " in={}@{} out={}",
                    s.input.to_string_lossy(),
                    s.input_index,
                    s.output.to_string_lossy()
                ));
            }
            if s.argv != src {
                r.push_str(&format!(" argv={}", show(&s.argv[1..])));
            }
            let c = crate::args::cpp_argv(&s);
            if c != cpp {
                r.push_str(&format!(" cpp={}", show(&c[1..])));
            }
            r
        }
        Err(crate::args::Local::Preprocess) => "local cpp".into(),
        Err(crate::args::Local::Reason(r)) => format!("local: {r}"),
    });
    cols.push(same(&crate::args::strip_local_args(&src), &src, "strip"));

    // daemon/harden.rs: plain mode.
    use crate::daemon::harden::{sanitize_mode, Mode};
    let pre = argv("x.i");
    cols.push(
        match sanitize_mode(&pre, input, output, Mode::Plain, "/".as_ref()) {
            Ok((a, i, o)) => same(&a, &pre, "plain") + &at(i, o, a.len() - 3),
            Err(e) => format!("plain refused: {e}"),
        },
    );
    // harden.rs pump mode, then pump_job.rs's rewrite of what it let pass.
    cols.push(
        match sanitize_mode(&src, input, output, Mode::Pump, "/home/u/src".as_ref()) {
            Ok((a, i, o)) => {
                let r = crate::daemon::pump_job::rewrite_argv(
                    &a,
                    i,
                    Path::new("/R"),
                    Path::new("/R/d"),
                    "x.o".as_ref(),
                );
                let mut plus = a.clone();
                plus.extend(os(&[
                    "-MMD",
                    "-MT",
                    "x.o",
                    "-MF",
                    "/R/d",
                    "-ffile-prefix-map=/R=",
                ]));
                let run = if r == plus {
                    String::new()
                } else {
                    format!(" run={}", show(&r[1..]))
                };
                same(&a, &src, "pump") + &at(i, o, a.len() - 3) + &run
            }
            Err(e) => format!("pump refused: {e}"),
        },
    );

    // scan/searchpath.rs.
    cols.push(match crate::scan::searchpath::parse(&src, input) {
        Ok(o) => {
            let mut s = String::from("search");
            let mut field = |name: &str, v: &[OsString]| {
                if !v.is_empty() {
                    s.push_str(&format!(" {name}=[{}]", show(v)));
                }
            };
            field("quote", &o.quote);
            field("bracket", &o.bracket);
            field("system", &o.system);
            field("after", &o.after);
            field("pre", &o.preincludes);
            field("query", &o.query_flags);
            for (def, m) in &o.defines {
                s.push_str(&format!(
                    " {}{}",
                    if *def { "-D" } else { "-U" },
                    m.to_string_lossy()
                ));
            }
            if o.nostdinc {
                s.push_str(" nostdinc");
            }
            s.push_str(&format!(
                " lang={} in={}",
                o.lang,
                o.input.to_string_lossy()
            ));
            s
        }
        Err(e) => format!("search gives up: {e}"),
    });
    short(cols.join("\t"))
}

fn table() -> String {
    let mut out = String::new();
    for name in NAMES {
        for s in spellings(name) {
            out.push_str(&line(&s));
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_known_option_is_classified_as_before() {
    let now = table();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gcc_options/pinned.txt");
    if std::env::var_os("TINYDCC_WRITE_PINNED").is_some() {
        std::fs::write(&path, &now).unwrap();
    }
    let pinned = include_str!("pinned.txt");
    let mut diffs = String::new();
    for (k, (want, got)) in pinned.lines().zip(now.lines()).enumerate() {
        if got != want {
            diffs.push_str(&format!("line {}\n was {want}\n now {got}\n", k + 1));
        }
    }
    assert!(diffs.is_empty(), "pinned.txt differs:\n{diffs}");
    assert_eq!(pinned.lines().count(), now.lines().count());
}
