//! Unit tests of `harden`: every rule with an example, argv rewriting.

use super::*;

fn v(s: &str) -> Vec<OsString> {
    s.split_whitespace().map(OsString::from).collect()
}

/// `gcc EXTRA -c x.i -o x.o`, sanitized.
fn run(extra: &str) -> Result<Vec<OsString>, String> {
    let mut a = v("gcc");
    a.extend(v(extra));
    let input = a.len() + 1;
    a.extend(v("-c x.i -o x.o"));
    let output = a.len() - 1;
    sanitize(&a, input, output).map(|(argv, i, o)| {
        assert_eq!(argv[i], "x.i");
        assert_eq!(argv[o], "x.o");
        argv[1..argv.len() - 4].to_vec()
    })
}

fn refused(extra: &str) {
    assert!(
        run(extra).is_err(),
        "'{extra}' must be refused, got {:?}",
        run(extra)
    );
}

fn kept(extra: &str, want: &str) {
    assert_eq!(
        run(extra).unwrap_or_else(|e| panic!("{extra}: {e}")),
        v(want),
        "{extra}"
    );
}

/// Examples of what `rule` does, at least one per option it judges, so
/// a new option without a test fails here.
#[test]
fn every_rule_has_an_example() {
    let examples: &[(&str, Option<&str>)] = &[
        ("-wrapper /bin/sh,-c,touch", None),
        ("--wrapper /bin/sh", None),
        ("-fplugin=/tmp/evil.so", None),
        ("--plugin=evil.so", None),
        ("-fpass-plugin=evil.so", None),
        ("-iplugindir=/tmp", None),
        ("-specs=/tmp/evil.specs", None),
        ("--specs=evil", None),
        ("-B/tmp/evil", None),
        ("--prefix=/tmp/evil", None),
        ("--gcc-toolchain=/tmp", None),
        ("-ccc-install-dir", None),
        ("-fuse-ld=gold", Some("-fuse-ld=gold")),
        ("-no-integrated-as", Some("-no-integrated-as")),
        ("-Xpreprocessor -MF", None),
        ("-Wp,-MD,/tmp/x", None),
        ("-include-pch x.pch", None),
        ("-include /etc/passwd", None),
        ("--include=/etc/passwd", None),
        ("-imacros /etc/passwd", None),
        ("--imacros=x.h", None),
        ("-aux-info /tmp/x", None),
        ("-dumpdir /tmp/", None),
        ("--dumpdir=/tmp/", None),
        ("-dumpbase x", None),
        ("--dumpbase=x", None),
        ("-MD", None),
        ("--write-dependencies", None),
        ("--user-dependencies", None),
        ("--dependencies", None),
        ("-fdump-tree-all=/tmp/x", None),
        ("-fopt-info-all=/tmp/x", None),
        ("-fcallgraph-info", None),
        ("-fprofile-update=atomic", Some("-fprofile-update=atomic")),
        (
            "-fprofile-prefix-map=/a=/b",
            Some("-fprofile-prefix-map=/a=/b"),
        ),
        ("-fprofile-generate=/tmp/p", None),
        ("-fauto-profile=/etc/shadow", None),
        (
            "-fcoverage-compilation-dir=/x",
            Some("-fcoverage-compilation-dir=/x"),
        ),
        ("--coverage", None),
        ("-ftest-coverage", None),
        ("-fsanitize-blacklist=/etc/shadow", None),
        ("-fsanitize-ignorelist=/etc/shadow", None),
        ("-fsanitize-coverage-allowlist=/etc/x", None),
        ("-fxray-always-instrument=/etc/x", None),
        ("-fmodules-cache-path=/tmp", None),
        ("-fprebuilt-module-path=/tmp", None),
        ("-foptimization-record-file=/tmp/x", None),
        ("-fsave-optimization-record", None),
        ("-ftime-trace=/tmp/x", None),
        ("-fcrash-diagnostics-dir=/tmp", None),
        ("-fstack-usage", Some("-fstack-usage")),
        (
            "-fdebug-prefix-map=/src=.",
            Some("-fdebug-prefix-map=/src=."),
        ),
        ("-ffile-prefix-map=/src=.", Some("-ffile-prefix-map=/src=.")),
        (
            "-fmacro-prefix-map=/src=.",
            Some("-fmacro-prefix-map=/src=."),
        ),
        (
            "-fdebug-compilation-dir=/src",
            Some("-fdebug-compilation-dir=/src"),
        ),
        ("-o /tmp/second.o", None),
        ("--output=/tmp/x.o", None),
        ("-o/tmp/second.o", None),
        ("-x c", Some("-x cpp-output")),
        ("--language=c", None),
        ("-save-temps=/tmp/x", None),
        ("--save-temps", Some("-save-temps")),
        ("-Wa,-adhln=/tmp/listing", None),
        ("-Xassembler -a=/tmp/x", None),
        ("--for-assembler=-a", None),
        ("-Xclang -load", None),
        ("-Xlinker -rpath=/x", Some("-Xlinker -rpath=/x")),
        ("--for-linker=-rpath=/x", Some("--for-linker=-rpath=/x")),
        ("-Wl,-rpath,/opt/lib", Some("-Wl,-rpath,/opt/lib")),
        ("-isysroot ../..", None),
        (
            "--sysroot=/usr/armv7l-linux-musleabihf",
            Some("--sysroot=/usr/armv7l-linux-musleabihf"),
        ),
        ("--sysroot /etc/../", None),
        ("-I /usr/include", Some("")),
        ("-iquote inc", Some("")),
        ("-isystem /x", Some("")),
        ("-idirafter /x", Some("")),
        ("-iprefix /x", Some("")),
        ("-iwithprefix /x", Some("")),
        ("-iwithprefixbefore /x", Some("")),
        ("-D X=1", Some("")),
        ("-U X", Some("")),
        ("-I/usr/include", Some("")),
        ("-iquote/x", Some("")),
        ("-isystem/x", Some("")),
        ("-idirafter/x", Some("")),
        ("-iprefix/x", Some("")),
        ("-iwithprefix/x", Some("")),
        ("-DPATH=\"/usr\"", Some("")),
        ("-UX", Some("")),
        ("-nostdinc", Some("")),
        ("-undef", Some("")),
        (
            "--param max-inline-insns-single=100",
            Some("--param max-inline-insns-single=100"),
        ),
        ("--param=l1-cache-size=32", Some("--param=l1-cache-size=32")),
        (
            "-target armv7a-linux-gnueabihf",
            Some("-target armv7a-linux-gnueabihf"),
        ),
        (
            "--target=armv7a-linux-gnueabihf",
            Some("--target=armv7a-linux-gnueabihf"),
        ),
        ("-arch armv7", Some("-arch armv7")),
        ("--pipe", Some("--pipe")),
        ("--verbose", Some("--verbose")),
        ("--ansi", Some("--ansi")),
        ("--std=c99", Some("--std=c99")),
        ("--pedantic", Some("--pedantic")),
        ("--pedantic-errors", Some("--pedantic-errors")),
        ("--no-warnings", Some("--no-warnings")),
        ("--all-warnings", Some("--all-warnings")),
        ("--extra-warnings", Some("--extra-warnings")),
        ("--optimize", Some("--optimize")),
        ("--debug", Some("--debug")),
        ("--compile", Some("--compile")),
        ("--assemble", Some("--assemble")),
        ("--gcc-toolchain /tmp", None),
        ("-iplugindir/tmp", None),
        ("-specs /tmp/evil.specs", None),
        ("--include-directory-after=/x", None),
        ("--include-directory=/usr/include", None),
        ("--include-prefix=/x", None),
        ("--include-with-prefix-before=/x", None),
        ("--include-with-prefix-after=/x", None),
        ("--include-with-prefix=/x", None),
        ("--include-barrier", None),
        ("-nostdinc++", Some("")),
        ("-M", None),
        ("-MMD", None),
        ("-MG", None),
        ("-MP", None),
        ("-MF x.d", None),
        ("-MT x.o", None),
        ("-MQ x.o", None),
        ("-fprofile-dir=/tmp", None),
        ("-fprofile-arcs", None),
        ("-fprofile-use=/tmp/p", None),
        ("-fprofile-correction", None),
        ("-fmodule=/x", None),
        ("-fmodule-map-file=/x", None),
    ];
    let first = |ex: &str| ex.split_whitespace().next().unwrap().to_string();
    let missing: Vec<_> = gcc::OPTIONS
        .iter()
        .filter(|o| judged(o))
        .filter(|o| {
            !examples.iter().any(|(ex, _)| {
                gcc::find(first(ex).as_bytes(), judged).is_some_and(|h| h.spec.name == o.name)
            })
        })
        .map(|o| String::from_utf8_lossy(o.name))
        .collect();
    assert!(missing.is_empty(), "no example for {missing:?}");
    for (ex, want) in examples {
        assert!(rule(&first(ex)).is_some(), "no rule for '{ex}'");
        match want {
            None => refused(ex),
            Some(w) => kept(ex, w),
        }
    }
}

#[test]
fn catch_all_rules() {
    refused("@/etc/passwd");
    refused("--unknown-long-option");
    refused("-fsome-new-option=/etc/shadow");
    refused("/etc/passwd");
    refused("extra.s");
    refused("-x assembler");
    refused("-x assembler-with-cpp");
    refused("-xgo");
    refused("-x");
    kept(
        "-O2 -g -Wall -fPIC -march=armv7-a -mfpu=neon -mthumb",
        "-O2 -g -Wall -fPIC -march=armv7-a -mfpu=neon -mthumb",
    );
    kept(
        "-Wa,--noexecstack,-mimplicit-it=always",
        "-Wa,--noexecstack,-mimplicit-it=always",
    );
    kept("-Xclang -fno-pch-timestamp", "-Xclang -fno-pch-timestamp");
    kept("-xc++", "-x c++-cpp-output");
    kept("-save-temps=obj", "-save-temps=obj");
}

#[test]
fn pump_mode_keeps_preprocessor_options_inside_the_mirror() {
    let a =
        v("gcc -I/src/inc -Iinc -I ../lib -DX=1 -include cfg.h -MD -MF x.d -MT x.o -c x.c -o x.o");
    let input = a.iter().position(|s| s == "x.c").unwrap();
    let (out, i, o) =
        sanitize_mode(&a, input, a.len() - 1, Mode::Pump, "/home/u/src".as_ref()).unwrap();
    assert_eq!(
        out,
        v("gcc -I/src/inc -Iinc -I ../lib -DX=1 -include cfg.h -MD -MT x.o -c x.c -o x.o")
    );
    assert_eq!((&out[i], &out[o]), (&"x.c".into(), &"x.o".into()));
    for bad in [
        "gcc -I../../../../etc -c x.c -o x.o",
        "gcc -I/usr/../etc -c x.c -o x.o",
        "gcc -include ../../../../etc/passwd -c x.c -o x.o",
        "gcc -x assembler-with-cpp -c x.c -o x.o",
        "gcc -wrapper /bin/sh -c x.c -o x.o",
    ] {
        let a = v(bad);
        let input = a.iter().position(|s| s == "x.c").unwrap();
        assert!(
            sanitize_mode(&a, input, a.len() - 1, Mode::Pump, "/home/u/src".as_ref()).is_err(),
            "{bad}"
        );
    }
    // Plain mode still drops them.
    let a = v("gcc -Iinc -c x.i -o x.o");
    assert_eq!(sanitize(&a, 3, 5).unwrap().0, v("gcc -c x.i -o x.o"));
}

#[test]
fn indices_follow_dropped_arguments() {
    let a = v("gcc -I inc -DX -c x.i -o out.o");
    let (argv, i, o) = sanitize(&a, 5, 7).unwrap();
    assert_eq!(argv, v("gcc -c x.i -o out.o"));
    assert_eq!((i, o), (2, 4));
    let a = v("gcc -c x.i -oout.o");
    let (argv, _, o) = sanitize(&a, 2, 3).unwrap();
    assert_eq!(argv[o], "-oout.o");
}

#[test]
fn non_utf8_bytes_are_kept_and_checked() {
    use std::os::unix::ffi::OsStringExt;
    let b = |s: &[u8]| OsString::from_vec(s.to_vec());
    // Pump mode keeps -D and -I values byte for byte.
    let a = vec![
        b(b"gcc"),
        b(b"-DN=\"caf\xe9\""),
        b(b"-Iinc\xff"),
        b(b"-c"),
        b(b"caf\xe9.c"),
        b(b"-o"),
        b(b"caf\xe9.o"),
    ];
    let (out, i, o) = sanitize_mode(&a, 4, 6, Mode::Pump, "/src\u{e9}".as_ref()).unwrap();
    assert_eq!(out, a);
    assert_eq!((i, o), (4, 6));
    // The rules still apply to what surrounds the odd bytes.
    let escape = vec![
        b(b"gcc"),
        b(b"-I../../\xff/../../.."),
        b(b"-c"),
        b(b"x.c"),
        b(b"-o"),
        b(b"x.o"),
    ];
    assert!(sanitize_mode(&escape, 3, 5, Mode::Pump, "/src".as_ref()).is_err());
    let path = vec![
        b(b"gcc"),
        b(b"-fplugin=/\xff.so"),
        b(b"-c"),
        b(b"x.i"),
        b(b"-o"),
        b(b"x.o"),
    ];
    assert!(sanitize(&path, 3, 5).is_err());
}
