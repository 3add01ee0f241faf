//! The pump-mode include scanner against real gcc: each test builds a tree
//! in its own temp dir, scans a compile of it, and checks the closure
//! against the files `gcc -M` says the same compile reads. gcc missing is a
//! failure, never a skip.
//!
//! Over 800 lines on purpose: one small tree per case of the C
//! preprocessor the scanner must follow, each a few lines, read side by side.

use crate::common;

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use tinydcc::scan::{Closure, GiveUp, Scanner};

struct Tree(PathBuf);

impl Tree {
    fn new(tag: &str) -> Tree {
        let base = std::env::temp_dir();
        for i in 0..1000u32 {
            let p = base.join(format!("tinydcc-scan-{tag}-{}-{i}", std::process::id()));
            if std::fs::create_dir(&p).is_ok() {
                // The scanner and gcc see the same canonical cwd.
                return Tree(std::fs::canonicalize(&p).unwrap());
            }
        }
        panic!("cannot create a temp dir");
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.p(rel)).unwrap();
    }
    fn link(&self, target: &str, rel: &str) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, p).unwrap();
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn argv(s: &str) -> Vec<std::ffi::OsString> {
    s.split_whitespace().map(Into::into).collect()
}

fn gcc_path(name: &str) -> PathBuf {
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin")])
    {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is missing: apt-get install gcc (these tests need the real compiler)");
}

/// The files gcc reads for this compile (`-M`), canonicalized.
fn gcc_reads(t: &Tree, cmd: &[std::ffi::OsString]) -> Vec<PathBuf> {
    try_gcc_reads(t, cmd).unwrap_or_else(|e| panic!("gcc -M failed: {e}"))
}

fn try_gcc_reads(t: &Tree, cmd: &[std::ffi::OsString]) -> Result<Vec<PathBuf>, String> {
    let dep = t.p("gcc-deps.d");
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    let mut it = cmd[1..].iter();
    while let Some(a) = it.next() {
        match a.to_str().unwrap_or("") {
            "-c" => {}
            "-o" => {
                it.next();
            }
            _ => args.push(a.clone()),
        }
    }
    let out = Command::new(gcc_path(&cmd[0].to_string_lossy()))
        .current_dir(t.path())
        .args(&args)
        .args(["-M", "-MF"])
        .arg(&dep)
        .env_remove("CPATH")
        .output()
        .expect("run gcc");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = std::fs::read_to_string(&dep).unwrap();
    std::fs::remove_file(&dep).unwrap();
    let body = text.split_once(": ").map(|x| x.1).unwrap_or("");
    let body = body.replace("\\\n", " ");
    let mut files = Vec::new();
    let mut cur = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' | '\n' | '\t' => {
                if !cur.is_empty() {
                    files.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        files.push(cur);
    }
    // With -MG, missing headers are listed too.
    Ok(files
        .iter()
        .filter_map(|f| std::fs::canonicalize(t.path().join(f)).ok())
        .collect())
}

/// The client's environment: this process's, without the variables that
/// make the scanner give up (tests run in parallel: no set_var).
fn client_env(k: &str) -> Option<OsString> {
    if k == "CPATH" || k.ends_with("_INCLUDE_PATH") {
        return None;
    }
    std::env::var_os(k)
}

fn scan(sc: &mut Scanner, t: &Tree, cmd: &str) -> Result<Closure, GiveUp> {
    sc.scan_with_env(t.path(), &argv(cmd), &client_env)
}

/// Scan, and check every file gcc reads is shipped or under a system dir.
fn check(t: &Tree, cmd: &str) -> Closure {
    let mut sc = Scanner::new();
    check_with(&mut sc, t, cmd)
}

fn check_with(sc: &mut Scanner, t: &Tree, cmd: &str) -> Closure {
    let c = scan(sc, t, cmd).unwrap_or_else(|g| panic!("{cmd}: gave up: {g}"));
    let reads = gcc_reads(t, &argv(cmd));
    assert_superset(t, cmd, &c, reads);
    assert_facts(cmd, &c);
    c
}

/// The mirror copies each file from the real path the scan gives it.
fn assert_facts(cmd: &str, c: &Closure) {
    assert_eq!(c.facts.len(), c.files.len(), "{cmd}");
    for (f, k) in c.files.iter().zip(&c.facts) {
        let k = k
            .as_ref()
            .unwrap_or_else(|| panic!("{cmd}: no facts for {}", f.display()));
        assert_eq!(k.real, std::fs::canonicalize(f).unwrap(), "{cmd}");
    }
}

fn assert_superset(t: &Tree, cmd: &str, c: &Closure, reads: Vec<PathBuf>) {
    let _ = t;
    let shipped: HashSet<PathBuf> = c
        .files
        .iter()
        .map(|f| std::fs::canonicalize(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect();
    for f in reads {
        let system = c.system_dirs.iter().any(|d| f.starts_with(d));
        assert!(
            system || shipped.contains(&f),
            "{cmd}: gcc reads {} but the closure lacks it: {:#?}",
            f.display(),
            c.files
        );
    }
    for f in &c.files {
        assert!(f.is_absolute(), "{} is not absolute", f.display());
        assert!(
            !c.system_dirs.iter().any(|d| f.starts_with(d)),
            "{} is a system file",
            f.display()
        );
    }
}

/// The closure's files relative to the tree, as the scanner spells them.
fn rel(t: &Tree, c: &Closure) -> Vec<String> {
    c.files
        .iter()
        .map(|f| match f.strip_prefix(t.path()) {
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => f.to_string_lossy().into_owned(),
        })
        .collect()
}

fn has(t: &Tree, c: &Closure, f: &str) -> bool {
    rel(t, c).iter().any(|x| x == f)
}

#[test]
fn quote_and_bracket_searches() {
    let t = Tree::new("qb");
    t.write("src/x.c", "#include \"a.h\"\n#include <a.h>\nint x;\n");
    t.write("src/a.h", "/* src a */\n");
    t.write("inc/a.h", "/* inc a */\n");
    t.write("a.h", "/* cwd a: never read */\n");
    let c = check(&t, "gcc -Iinc -c src/x.c -o x.o");
    assert_eq!(rel(&t, &c), ["src/x.c", "src/a.h", "inc/a.h"]);
    assert_eq!(c.files[0], t.p("src/x.c"));
    assert!(c.dirs.contains(&t.path().to_path_buf()));
}

#[test]
fn search_order_iquote_i_isystem_idirafter() {
    let t = Tree::new("order");
    for d in ["q", "i", "s", "a"] {
        t.write(&format!("{d}/h.h"), &format!("/* {d} */\n"));
        t.write(&format!("{d}/only_{d}.h"), "\n");
    }
    t.write(
        "x.c",
        "#include \"h.h\"\n#include <h.h>\n#include <only_s.h>\n#include <only_a.h>\n\
         #include \"only_q.h\"\n",
    );
    let cmd = "gcc -iquote q -Ii -isystem s -idirafter a -c x.c";
    let c = check(&t, cmd);
    assert_eq!(
        rel(&t, &c),
        [
            "x.c",
            "q/h.h",
            "i/h.h",
            "s/only_s.h",
            "a/only_a.h",
            "q/only_q.h"
        ]
    );
    // Without -I the bracket chain starts at -isystem.
    std::fs::remove_file(t.p("i/h.h")).unwrap();
    let c = check(&t, cmd);
    assert!(has(&t, &c, "s/h.h") && !has(&t, &c, "a/h.h"));
    // -iquote dirs are not searched for <...>.
    std::fs::remove_file(t.p("s/h.h")).unwrap();
    let c = check(&t, cmd);
    assert!(has(&t, &c, "a/h.h") && has(&t, &c, "q/h.h"));
}

#[test]
fn include_next_chains() {
    let t = Tree::new("next");
    t.write("a/n.h", "#include_next <n.h>\n");
    t.write("b/n.h", "#include_next \"n.h\"\n");
    t.write("c/n.h", "/* last */\n");
    t.write("d/n.h", "/* after the chain's end: never */\n");
    t.write("x.c", "#include <n.h>\n");
    let c = check(&t, "gcc -Ia -Ib -Ic -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "a/n.h", "b/n.h", "c/n.h"]);
    // Found in the includer's own dir, a header's #include_next starts over
    // at the head of the chain (gcc's rule), so a/n.h comes next.
    t.write("src/n.h", "#include_next <n.h>\n");
    t.write("src/y.c", "#include \"n.h\"\n");
    let c = check(&t, "gcc -Ia -Ib -Ic -c src/y.c");
    assert_eq!(
        rel(&t, &c),
        ["src/y.c", "src/n.h", "a/n.h", "b/n.h", "c/n.h"]
    );
    // From a -iquote dir the chain goes on into the bracket dirs.
    t.write("z.c", "#include \"n.h\"\n");
    let c = check(&t, "gcc -iquote b -Ic -c z.c");
    assert_eq!(rel(&t, &c), ["z.c", "b/n.h", "c/n.h"]);
}

#[test]
fn duplicate_dirs_are_dropped_like_gcc() {
    let t = Tree::new("dup");
    t.write("a/h.h", "#include_next <h.h>\n");
    t.write("b/h.h", "/* b */\n");
    t.write("x.c", "#include <h.h>\n");
    // `-Ib -Ia -I./b`: the second b is dropped, so a/h.h's include_next
    // finds nothing after a... except that b was first: b/h.h is read.
    let c = check(&t, "gcc -Ib -Ia -I./b -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "b/h.h"]);
    // `-Ia -isystem b -Ib`: -Ib duplicates a system dir and is dropped;
    // a/h.h's include_next then finds the -isystem b.
    let c = check(&t, "gcc -Ia -Ib -isystem b -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "a/h.h", "b/h.h"]);
    // -I of a default system dir is ignored: <stdio.h> stays a system file.
    t.write("s.c", "#include <stdio.h>\n");
    let c = check(&t, "gcc -I/usr/include -c s.c");
    assert_eq!(rel(&t, &c), ["s.c"]);
}

#[test]
fn system_headers_are_not_shipped() {
    let t = Tree::new("sys");
    t.write(
        "x.c",
        "#include <stdio.h>\n#include <stdlib.h>\n#include \"mine.h\"\n",
    );
    t.write("mine.h", "#include <string.h>\n");
    let c = check(&t, "gcc -O2 -c x.c -o x.o");
    assert_eq!(rel(&t, &c), ["x.c", "mine.h"]);
    assert!(c.system_dirs.contains(&PathBuf::from("/usr/include")));
    // A user dir shadowing a header that glibc includes by <...>: the
    // system header is read by the scanner and the user's file shipped.
    t.write("shadow/bits/libc-header-start.h", "/* shadow */\n");
    let c = check(&t, "gcc -Ishadow -c x.c");
    assert!(
        has(&t, &c, "shadow/bits/libc-header-start.h"),
        "{:?}",
        rel(&t, &c)
    );
    // And C++ gets its own default dirs.
    t.write("y.cc", "#include <vector>\n#include \"mine.h\"\n");
    let c = check(&t, "g++ -std=c++17 -c y.cc");
    assert_eq!(rel(&t, &c), ["y.cc", "mine.h"]);
    assert!(c
        .system_dirs
        .iter()
        .any(|d| d.to_string_lossy().contains("c++")));
}

#[test]
fn computed_includes() {
    let t = Tree::new("computed");
    t.write("inc/obj.h", "\n");
    t.write("inc/fn_x.h", "\n");
    t.write("inc/sub/str.h", "\n");
    t.write("inc/pasted.h", "\n");
    t.write("inc/alt_a.h", "\n");
    t.write("inc/alt_b.h", "\n");
    t.write(
        "x.c",
        "#define OBJ \"obj.h\"\n#include OBJ\n\
         #define FN(n) <fn_##n.h>\n#include FN(x)\n\
         #define S(x) #x\n#define XS(x) S(x)\n#define DIR sub\n#include XS(DIR/str.h)\n\
         #define CAT(a, b) a##b\n#define HDR(n) XS(CAT(pas, n).h)\n#include HDR(ted)\n\
         #ifdef USE_A\n#define ALT <alt_a.h>\n#else\n#define ALT <alt_b.h>\n#endif\n#include ALT\n",
    );
    let c = check(&t, "gcc -iquote inc -Iinc -c x.c");
    for f in ["inc/obj.h", "inc/fn_x.h", "inc/sub/str.h", "inc/pasted.h"] {
        assert!(has(&t, &c, f), "{f} missing: {:?}", rel(&t, &c));
    }
    // Both alternatives are shipped: the scanner does not evaluate #ifdef.
    assert!(has(&t, &c, "inc/alt_a.h") && has(&t, &c, "inc/alt_b.h"));
    let c = check(&t, "gcc -iquote inc -Iinc -DUSE_A -c x.c");
    assert!(has(&t, &c, "inc/alt_a.h"));
    // A macro from the command line.
    t.write("y.c", "#include CONFIG\n");
    let c = check(&t, "gcc -Iinc -DCONFIG=<alt_a.h> -c y.c");
    assert_eq!(rel(&t, &c), ["y.c", "inc/alt_a.h"]);
    // Definitions from another header (and from -include).
    t.write("cfg.h", "#define CFGHDR \"inc/obj.h\"\n");
    t.write("z.c", "#include \"cfg.h\"\n#include CFGHDR\n");
    let c = check(&t, "gcc -c z.c");
    assert_eq!(rel(&t, &c), ["z.c", "cfg.h", "inc/obj.h"]);
    t.write("w.c", "#include CFGHDR\n");
    let c = check(&t, "gcc -include cfg.h -c w.c");
    assert_eq!(rel(&t, &c), ["w.c", "cfg.h", "inc/obj.h"]);
}

/// GNU Emacs's pattern (src/dispextern.h): a computed include in a branch
/// the configuration never takes, its macro defined nowhere (configure
/// leaves `/* #undef TERM_HEADER */` in config.h for --without-x).
fn emacs_tree(tag: &str) -> Tree {
    let t = Tree::new(tag);
    t.write(
        "src/config.h",
        "/* #undef TERM_HEADER */\n#define HAVE_TERMINFO 1\n#include <conf_post.h>\n",
    );
    t.write("src/conf_post.h", "#define EMACS_INLINE static inline\n");
    t.write(
        "src/dispextern.h",
        "#ifdef HAVE_WINDOW_SYSTEM\n# include TERM_HEADER\n#endif\n\
         EMACS_INLINE int glyph_width(void)\n{\n#ifdef HAVE_WINDOW_SYSTEM\n\
         \x20 return term_cols();\n#else\n  return 7;\n#endif\n}\n",
    );
    t.write("src/term.h", "static int term_cols(void) { return 80; }\n");
    t.write(
        "src/xdisp.c",
        "#include <config.h>\n#include \"frame.h\"\n#include \"dispextern.h\"\n\
         int redisplay(void) { return glyph_width() * 6; }\n",
    );
    t.write("src/frame.h", "struct frame { int w; };\n");
    t
}

const EMACS_CC: &str = "gcc -Isrc -c src/xdisp.c -o xdisp.o";

/// A computed include that no definition turns into a header name is left
/// out, not a reason to give up: gcc rejects it wherever it reaches it.
#[test]
fn computed_include_of_a_macro_defined_nowhere() {
    let t = emacs_tree("termhdr");
    let mut sc = Scanner::new();
    let c = check_with(&mut sc, &t, EMACS_CC);
    assert_eq!(
        rel(&t, &c),
        [
            "src/xdisp.c",
            "src/config.h",
            "src/frame.h",
            "src/dispextern.h",
            "src/conf_post.h"
        ]
    );
    assert_eq!(sc.stats().rejected_includes, 1);
    assert_eq!(sc.stats().give_ups, 0);
    // Taking the branch is gcc's error, not a header the scan missed.
    let err = Command::new(gcc_path("gcc"))
        .current_dir(t.path())
        .args(argv(
            "-Isrc -DHAVE_WINDOW_SYSTEM -E src/xdisp.c -o /dev/null",
        ))
        .output()
        .unwrap();
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr)
            .contains("#include expects \"FILENAME\" or <FILENAME>"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
    // Defined, but to nothing or to no header name: rejected all the same.
    for def in ["#define TERM_HEADER\n", "#define TERM_HEADER xterm\n"] {
        t.write("src/frame.h", &format!("{def}struct frame {{ int w; }};\n"));
        let c = check_with(&mut sc, &t, EMACS_CC);
        assert!(!has(&t, &c, "src/term.h"), "{def}: {:?}", rel(&t, &c));
    }
    // Outside any conditional: the compile fails wherever it runs. So does
    // a `__has_include` of such a macro (gcc evaluates it even after `0 &&`).
    t.write("comp.c", "#include UNDEFINED_HEADER_MACRO\n");
    t.write(
        "has.c",
        "#if 0 && __has_include(UNDEFINED_HEADER_MACRO)\n#endif\n",
    );
    for f in ["comp.c", "has.c"] {
        let c = scan(&mut sc, &t, &format!("gcc -c {f}")).unwrap();
        assert_eq!(rel(&t, &c), [f]);
    }
    assert_eq!(sc.stats().rejected_includes, 5);
}

/// The macro defined by a header the scan reaches after the computed
/// include (deeper in the tree, though gcc reads it before): resolved.
#[test]
fn computed_include_defined_by_a_later_header() {
    let t = emacs_tree("termlate");
    t.write(
        "src/frame.h",
        "#ifdef HAVE_WINDOW_SYSTEM\n#include \"termhooks.h\"\n#endif\nstruct frame { int w; };\n",
    );
    t.write("src/termhooks.h", "#include \"sys/termchoice.h\"\n");
    t.write("src/sys/termchoice.h", "#define TERM_HEADER \"term.h\"\n");
    for cmd in [
        EMACS_CC.to_string(),
        EMACS_CC.replace("-c", "-DHAVE_WINDOW_SYSTEM -c"),
    ] {
        let mut sc = Scanner::new();
        let c = check_with(&mut sc, &t, &cmd);
        assert!(has(&t, &c, "src/term.h"), "{cmd}: {:?}", rel(&t, &c));
        assert!(has(&t, &c, "src/sys/termchoice.h"));
        assert_eq!(sc.stats().rejected_includes, 0);
    }
}

/// `-DTERM_HEADER="term.h"` on the command line resolves it.
#[test]
fn computed_include_defined_on_the_command_line() {
    let t = emacs_tree("termcmd");
    let cmd = EMACS_CC.replace("-c", "-DHAVE_WINDOW_SYSTEM -DTERM_HEADER=\"term.h\" -c");
    let mut sc = Scanner::new();
    let c = check_with(&mut sc, &t, &cmd);
    assert!(has(&t, &c, "src/term.h"), "{:?}", rel(&t, &c));
    assert_eq!(sc.stats().rejected_includes, 0);
    // -U takes it away again: nothing left to name a header.
    let c = scan(&mut sc, &t, &format!("{cmd} -UTERM_HEADER")).unwrap();
    assert!(!has(&t, &c, "src/term.h"), "{:?}", rel(&t, &c));
    assert_eq!(sc.stats().rejected_includes, 1);
}

/// The macro defined only in a header found through another computed
/// include: found when the scan reaches its fixpoint, and resolved. Two
/// includes each defined only behind the other are never reached by gcc.
#[test]
fn computed_include_defined_behind_another_computed_include() {
    let t = emacs_tree("termfix");
    t.write(
        "src/config.h",
        "#define SYSTEM_CONFIG \"s/gnu-linux.h\"\n#include <conf_post.h>\n",
    );
    t.write(
        "src/frame.h",
        "#include SYSTEM_CONFIG\nstruct frame { int w; };\n",
    );
    t.write("src/s/gnu-linux.h", "#define TERM_HEADER \"term.h\"\n");
    for cmd in [
        EMACS_CC.to_string(),
        EMACS_CC.replace("-c", "-DHAVE_WINDOW_SYSTEM -c"),
    ] {
        let mut sc = Scanner::new();
        let c = check_with(&mut sc, &t, &cmd);
        assert!(has(&t, &c, "src/s/gnu-linux.h"), "{:?}", rel(&t, &c));
        assert!(has(&t, &c, "src/term.h"), "{cmd}: {:?}", rel(&t, &c));
        assert_eq!(sc.stats().rejected_includes, 0);
    }
    t.write("m1.h", "#define M2 \"m2.h\"\n");
    t.write("m2.h", "#define M1 \"m1.h\"\n");
    t.write(
        "cycle.c",
        "#ifdef A\n#include M1\n#endif\n#ifdef B\n#include M2\n#endif\nint x;\n",
    );
    let mut sc = Scanner::new();
    let c = check_with(&mut sc, &t, "gcc -c cycle.c");
    assert_eq!(rel(&t, &c), ["cycle.c"]);
    assert_eq!(sc.stats().rejected_includes, 2);
}

/// `tinydcc --pump tinydcc gcc ARGS` in the tree against our daemon.
fn pump_compile(d: &common::Daemon, t: &Tree, args: &[&str]) -> std::process::Output {
    let mut c = common::client_cmd(
        common::Kind::Tiny,
        t.path(),
        &format!("{},cpp", d.host(true)),
    );
    c.arg("--pump")
        .arg(common::tinydcc())
        .arg("gcc")
        .args(args)
        .env("DISTCC_FALLBACK", "0");
    common::run(c)
}

/// A tag, files written over the Emacs tree, the compile's extra flags.
type PumpCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

/// End to end: the Emacs pattern, with the macro defined nowhere, later,
/// on the command line or behind another computed include, is sent with
/// its headers (protocol 3, nothing preprocessed locally) and the object
/// equals local gcc's; taking the branch fails on the server with gcc's
/// own message.
#[test]
fn emacs_term_header_pump_compiles() {
    let d = common::Daemon::start(common::Kind::Tiny, &[]);
    let cases: [PumpCase; 5] = [
        ("nowhere", &[], &[]),
        (
            "later",
            &[
                (
                    "src/frame.h",
                    "#include \"termhooks.h\"\nstruct frame { int w; };\n",
                ),
                ("src/termhooks.h", "#define TERM_HEADER \"term.h\"\n"),
            ],
            &["-DHAVE_WINDOW_SYSTEM"],
        ),
        (
            "cmdline",
            &[],
            &["-DHAVE_WINDOW_SYSTEM", "-DTERM_HEADER=\"term.h\""],
        ),
        (
            "fixpoint",
            &[
                (
                    "src/frame.h",
                    "#include SYSTEM_CONFIG\nstruct frame { int w; };\n",
                ),
                (
                    "src/config.h",
                    "#define SYSTEM_CONFIG \"s/gnu-linux.h\"\n#include <conf_post.h>\n",
                ),
                ("src/s/gnu-linux.h", "#define TERM_HEADER \"term.h\"\n"),
            ],
            &["-DHAVE_WINDOW_SYSTEM"],
        ),
        ("taken", &[], &["-DHAVE_WINDOW_SYSTEM"]),
    ];
    for (n, (tag, files, defs)) in cases.into_iter().enumerate() {
        let t = emacs_tree(&format!("pump{tag}"));
        for (f, text) in files {
            t.write(f, text);
        }
        let args = |o: &str| -> Vec<String> {
            let mut v: Vec<String> = vec!["-Isrc".into()];
            v.extend(defs.iter().map(|s| s.to_string()));
            v.extend(["-c", "src/xdisp.c", "-o", o].map(String::from));
            v
        };
        let local_args = args("local.o");
        let local_args: Vec<&str> = local_args.iter().map(String::as_str).collect();
        let local = common::local_gcc(t.path(), &local_args);
        let remote_args = args("xdisp.o");
        let remote_args: Vec<&str> = remote_args.iter().map(String::as_str).collect();
        let out = pump_compile(&d, &t, &remote_args);
        let err = common::text(&out.stderr);
        assert!(
            err.contains("pump: 1 compile(s) sent with their headers, 0 preprocessed locally"),
            "{tag}: {err}"
        );
        // One more protocol 3 job than before this case.
        let needle = "protocol 3 request for src/xdisp.c";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while d.log_text().matches(needle).count() <= n && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            d.log_text().matches(needle).count(),
            n + 1,
            "{tag}: {}",
            d.log_text()
        );
        if tag == "taken" {
            assert!(!local.status.success());
            assert_eq!(out.status.code(), local.status.code(), "{tag}: {err}");
            let diag: String = err
                .lines()
                .filter(|l| !l.starts_with("pump:"))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(diag, common::text(&local.stderr), "{tag}");
            assert!(!t.p("xdisp.o").exists());
            continue;
        }
        assert!(
            local.status.success(),
            "{tag}: {}",
            common::text(&local.stderr)
        );
        assert!(out.status.success(), "{tag}: {err}");
        assert_eq!(
            std::fs::read(t.p("xdisp.o")).unwrap(),
            std::fs::read(t.p("local.o")).unwrap(),
            "{tag}"
        );
    }
}

#[test]
fn kernel_style_trace_include() {
    let t = Tree::new("trace");
    t.write(
        "include/linux/stringify.h",
        "#define __stringify_1(x...) #x\n#define __stringify(x...) __stringify_1(x)\n",
    );
    t.write(
        "include/trace/define_trace.h",
        "#ifdef CREATE_TRACE_POINTS\n#undef CREATE_TRACE_POINTS\n\
         #include <linux/stringify.h>\n#undef TRACE_INCLUDE\n#undef __TRACE_INCLUDE\n\
         #ifndef TRACE_INCLUDE_FILE\n# define TRACE_INCLUDE_FILE TRACE_SYSTEM\n\
         # define UNDEF_TRACE_INCLUDE_FILE\n#endif\n\
         #ifndef TRACE_INCLUDE_PATH\n# define __TRACE_INCLUDE(system) <trace/events/system.h>\n\
         # define UNDEF_TRACE_INCLUDE_PATH\n#else\n\
         # define __TRACE_INCLUDE(system) __stringify(TRACE_INCLUDE_PATH/system.h)\n#endif\n\
         # define TRACE_INCLUDE(system) __TRACE_INCLUDE(system)\n\
         #define TRACE_HEADER_MULTI_READ\n#include TRACE_INCLUDE(TRACE_INCLUDE_FILE)\n\
         #ifdef UNDEF_TRACE_INCLUDE_FILE\n# undef TRACE_INCLUDE_FILE\n#endif\n\
         #define CREATE_TRACE_POINTS\n#endif\n",
    );
    let ev = "#undef TRACE_SYSTEM\n#define TRACE_SYSTEM sched\n\
              #if !defined(_TRACE_SCHED_H) || defined(TRACE_HEADER_MULTI_READ)\n\
              #define _TRACE_SCHED_H\nint sched_ev;\n#endif\n#include <trace/define_trace.h>\n";
    t.write("include/trace/events/sched.h", ev);
    t.write(
        "drivers/foo/foo_trace.h",
        "#undef TRACE_SYSTEM\n#define TRACE_SYSTEM foo\n\
         #if !defined(_FOO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)\n#define _FOO_TRACE_H\n\
         int foo_ev;\n#endif\n#undef TRACE_INCLUDE_PATH\n#define TRACE_INCLUDE_PATH ../../drivers/foo\n\
         #undef TRACE_INCLUDE_FILE\n#define TRACE_INCLUDE_FILE foo_trace\n\
         #include <trace/define_trace.h>\n",
    );
    t.write(
        "kernel/sched.c",
        "#define CREATE_TRACE_POINTS\n#include <trace/events/sched.h>\n",
    );
    t.write(
        "drivers/foo/foo.c",
        "#define CREATE_TRACE_POINTS\n#include \"foo_trace.h\"\n",
    );
    let c = check(&t, "gcc -nostdinc -I./include -c kernel/sched.c -o sched.o");
    assert!(has(&t, &c, "include/trace/events/sched.h"));
    let c = check(
        &t,
        "gcc -nostdinc -I./include -c drivers/foo/foo.c -o foo.o",
    );
    // The stringified path, kept as gcc spells it (with its `..`).
    assert!(
        has(&t, &c, "include/../../drivers/foo/foo_trace.h")
            || c.files
                .iter()
                .any(|f| f.ends_with("drivers/foo/foo_trace.h")),
        "{:?}",
        rel(&t, &c)
    );
    assert!(c.system_dirs.is_empty(), "-nostdinc: no system dirs");
}

#[test]
fn has_include_present_and_absent() {
    let t = Tree::new("hasinc");
    t.write("inc/present.h", "\n");
    t.write("inc/next.h", "\n");
    t.write("inc/viamacro.h", "\n");
    t.write(
        "x.c",
        "#if __has_include(\"present.h\") && !__has_include(<absent.h>)\nint yes;\n#endif\n\
         #ifdef __has_include\n#if __has_include_next(<next.h>)\n#endif\n#endif\n\
         #define HAS(h) __has_include(h)\n#if HAS(<viamacro.h>)\n#endif\n\
         #define HDR \"present.h\"\n#if __has_include(HDR)\n#endif\n",
    );
    // A quote-form __has_include inside a macro is looked up from the file
    // whose #if uses it, not from the file that defines it.
    t.write("defs.h", "#define HAS_CFG __has_include(\"cfg.h\")\n");
    t.write("sub/user.h", "#if HAS_CFG\n#endif\n");
    t.write("sub/cfg.h", "\n");
    t.write("cfg.h", "/* next to defs.h: not what sub/user.h finds */\n");
    t.write("y.c", "#include \"defs.h\"\n#include \"sub/user.h\"\n");
    let c = check(&t, "gcc -c y.c");
    assert_eq!(rel(&t, &c), ["y.c", "defs.h", "sub/user.h", "sub/cfg.h"]);
    let c = check(&t, "gcc -Iinc -c x.c");
    for f in ["inc/present.h", "inc/next.h", "inc/viamacro.h"] {
        assert!(has(&t, &c, f), "{f} missing: {:?}", rel(&t, &c));
    }
    assert!(c.not_found.contains(&"<absent.h>".to_string()));
    // The file found through __has_include is shipped but not read:
    // gcc -M would not list it.
    let reads = gcc_reads(&t, &argv("gcc -Iinc -c x.c"));
    assert!(!reads.contains(&t.p("inc/present.h")));
}

#[test]
fn symlinked_headers_and_dirs_keep_gcc_names() {
    let t = Tree::new("links");
    t.write("real/inc/a.h", "#include \"b.h\"\n");
    t.write("real/inc/b.h", "\n");
    t.link("real/inc", "inc");
    t.write("other/c_real.h", "#include \"d.h\"\n");
    t.write("other/d.h", "/* next to the link's target */\n");
    t.link("../other/c_real.h", "hdr/c.h");
    t.write("hdr/d.h", "/* next to the link */\n");
    t.write("x.c", "#include <a.h>\n#include <c.h>\n");
    let c = check(&t, "gcc -Iinc -Ihdr -c x.c");
    // Named through the symlinked dir, not its target.
    assert!(
        has(&t, &c, "inc/a.h") && has(&t, &c, "inc/b.h"),
        "{:?}",
        rel(&t, &c)
    );
    assert!(!has(&t, &c, "real/inc/a.h"));
    // A symlinked header: its own dir, and (as gcc does for system dirs) its
    // target's dir are both searched.
    assert!(has(&t, &c, "hdr/c.h") && has(&t, &c, "hdr/d.h"));
    // gcc shortens names in system dirs to real paths: the target's dir is
    // where "d.h" comes from then.
    let abs = t.path().display().to_string();
    let c = check(&t, &format!("gcc -isystem {abs}/hdr -Iinc -c x.c"));
    assert!(
        c.files.iter().any(|f| f == &t.p("other/d.h")),
        "{:?}",
        rel(&t, &c)
    );
}

#[test]
fn a_changed_header_has_a_new_stamp() {
    let t = Tree::new("stamp");
    t.write("inc/a.h", "int a;\n");
    t.write("x.c", "#include \"a.h\"\n");
    let mut sc = Scanner::new();
    let stamp = |sc: &mut Scanner| {
        let c = check_with(sc, &t, "gcc -Iinc -c x.c");
        let i = c.files.iter().position(|f| *f == t.p("inc/a.h")).unwrap();
        c.facts[i].as_ref().unwrap().stamp
    };
    let before = stamp(&mut sc);
    assert_eq!(stamp(&mut sc), before);
    t.write("inc/a.h", "int a, b;\n");
    assert_ne!(stamp(&mut sc), before);
}

#[test]
fn include_and_imacros_files() {
    let t = Tree::new("preinc");
    t.write("cfg.h", "#include \"cfg2.h\"\n");
    t.write("cfg2.h", "\n");
    t.write("q/m.h", "#define M 1\n");
    t.write("src/x.c", "int x;\n");
    t.write(
        "src/cfg.h",
        "/* gcc does not look in the source's dir for -include */\n",
    );
    let c = check(&t, "gcc -iquote q -include cfg.h -imacros m.h -c src/x.c");
    assert_eq!(rel(&t, &c), ["src/x.c", "cfg.h", "q/m.h", "cfg2.h"]);
    let mut sc = Scanner::new();
    let g = scan(&mut sc, &t, "gcc -include nope.h -c src/x.c").unwrap_err();
    assert!(g.0.contains("nope.h"), "{g}");
}

#[test]
fn relative_dotdot_includes() {
    let t = Tree::new("dotdot");
    t.write(
        "src/sub/x.c",
        "#include \"../common.h\"\n#include \"gen/../local.h\"\n",
    );
    t.write("src/common.h", "\n");
    t.mkdir("src/sub/gen");
    t.write("src/sub/local.h", "\n");
    t.write("inc/top.h", "\n");
    t.mkdir("inc/empty");
    t.write("src/sub/y.c", "#include <empty/../top.h>\n");
    let c = check(&t, "gcc -c src/sub/x.c");
    assert_eq!(
        rel(&t, &c),
        [
            "src/sub/x.c",
            "src/sub/../common.h",
            "src/sub/gen/../local.h"
        ]
    );
    assert!(c.dirs.contains(&t.p("src/sub/gen")), "{:?}", c.dirs);
    assert!(c.dirs.contains(&t.p("src/sub")));
    let c = check(&t, "gcc -I inc -c src/sub/y.c");
    assert!(has(&t, &c, "inc/empty/../top.h"));
    assert!(c.dirs.contains(&t.p("inc/empty")));
    // Through a symlink, `..` is the target's parent: the kernel decides.
    t.write("elsewhere/deep/dir/h.h", "\n");
    t.write("elsewhere/deep/up.h", "\n");
    t.link("../elsewhere/deep/dir", "src/lnk");
    t.write("src/z.c", "#include \"lnk/../up.h\"\n");
    let c = check(&t, "gcc -c src/z.c");
    assert_eq!(rel(&t, &c), ["src/z.c", "src/lnk/../up.h"]);
    // A header that includes itself through `../`: gcc stops on its guard,
    // the scanner on seeing the same file from the same directory.
    t.write("d/self.h", "#pragma once\n#include \"../d/self.h\"\n");
    t.write("cyc.c", "#include \"d/self.h\"\n");
    let c = check(&t, "gcc -c cyc.c");
    assert_eq!(rel(&t, &c), ["cyc.c", "d/self.h", "d/../d/self.h"]);
}

#[test]
fn changed_headers_are_read_again() {
    let t = Tree::new("change");
    t.write("x.c", "#include \"a.h\"\n");
    t.write("a.h", "#include \"b.h\"\n");
    t.write("b.h", "\n");
    t.write("c.h", "\n");
    let mut sc = Scanner::new();
    let c = check_with(&mut sc, &t, "gcc -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "a.h", "b.h"]);
    let parsed = sc.stats().files_parsed;
    let c = check_with(&mut sc, &t, "gcc -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "a.h", "b.h"]);
    assert_eq!(sc.stats().files_parsed, parsed, "a warm scan reads nothing");
    // Same size, new content (and a new mtime).
    std::thread::sleep(std::time::Duration::from_millis(20));
    t.write("a.h", "#include \"c.h\"\n");
    let c = check_with(&mut sc, &t, "gcc -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "a.h", "c.h"]);
    // A header that appears between scans is found (lookups are not cached
    // across scans).
    t.write("b.h", "#include \"gen.h\"\n");
    t.write("a.h", "#include \"b.h\"\n");
    let c = check_with(&mut sc, &t, "gcc -MG -c x.c");
    assert!(c.not_found.contains(&"\"gen.h\"".to_string()));
    t.write("gen.h", "\n");
    let c = check_with(&mut sc, &t, "gcc -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "a.h", "b.h", "gen.h"]);
    assert!(sc.stats().parse_hits > 0);
}

#[test]
fn pragma_dependency_and_import() {
    let t = Tree::new("pragma");
    t.write(
        "x.c",
        "#pragma GCC dependency \"parse.y\"\n#import \"imp.h\"\n",
    );
    t.write("parse.y", "%% not C at all \"\n");
    t.write("imp.h", "\n");
    let mut sc = Scanner::new();
    let c = scan(&mut sc, &t, "gcc -c x.c").unwrap();
    assert_eq!(rel(&t, &c), ["x.c", "parse.y", "imp.h"]);
}

#[test]
fn give_ups() {
    let t = Tree::new("giveup");
    t.write("x.c", "int x;\n");
    t.write("opts", "-Iinc\n");
    t.write(
        "comp.c",
        "#define HAS(h) __has_include(h)\n#if HAS(UNDEFINED_HEADER_MACRO)\n#endif\n",
    );
    t.write(
        "line.c",
        "#define S(x) #x\n#define XS(x) S(x)\n#include XS(__LINE__)\n",
    );
    t.write("abs.c", &format!("#include \"{}\"\n", t.p("x.c").display()));
    t.write("bad.c", "#include \"bad.h\"\n");
    t.write("bad.h", "/* never closed\n");
    t.write("pch.c", "#include \"p.h\"\n");
    t.write("p.h", "\n");
    t.write("p.h.gch", "not really\n");
    t.write("embed.c", "const char d[] = {\n#embed \"x.c\"\n};\n");
    let fifo = t.p("fifo.h");
    let ok = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(ok.success());
    t.write("fifo.c", "#include \"fifo.h\"\n");
    let mut sc = Scanner::new();
    let cases = [
        ("gcc -c fifo.c", "not a regular file"),
        ("gcc @opts -c x.c", "response files"),
        ("gcc -c comp.c", "cannot resolve __has_include operand"),
        ("gcc -c line.c", "__LINE__"),
        ("gcc -c abs.c", "absolute include"),
        ("gcc -c bad.c", "unterminated comment"),
        ("gcc -c pch.c", "precompiled header"),
        ("gcc -c embed.c", "#embed"),
        ("gcc -I- -c x.c", "-I-"),
        ("gcc -Iopts -c x.c", "not a directory"),
        ("gcc x.c -o x", "not distributable"),
        ("gcc -E x.c", "not a compile"),
        ("no-such-compiler-xyz -c x.c", "not found"),
        ("gcc -c missing.c", "no such source"),
    ];
    for (cmd, why) in cases {
        let g = scan(&mut sc, &t, cmd).expect_err(cmd);
        assert!(g.0.contains(why), "{cmd}: {g}");
    }
    for v in [
        "CPATH",
        "C_INCLUDE_PATH",
        "CPLUS_INCLUDE_PATH",
        "OBJC_INCLUDE_PATH",
    ] {
        let env = |k: &str| {
            if k == v {
                Some(OsString::from("/x"))
            } else {
                client_env(k)
            }
        };
        let g = sc
            .scan_with_env(t.path(), &argv("gcc -c x.c"), &env)
            .unwrap_err();
        assert!(g.0.contains(v), "{g}");
    }
    assert!(sc.stats().give_ups >= cases.len() as u64);
}

#[test]
fn hostile_files_do_not_panic() {
    let t = Tree::new("hostile");
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(1 << 16).collect();
    junk.extend_from_slice(b"\n#include \"after.h\"\n");
    std::fs::write(t.p("bin.h"), &junk).unwrap();
    let long = format!("#define X {}\n#include \"after.h\"\n", "a".repeat(1 << 20));
    t.write("long.h", &long);
    t.write("after.h", "\n");
    t.write("x.c", "#include \"bin.h\"\n#include \"long.h\"\n");
    let mut sc = Scanner::new();
    // Whatever the verdict, no panic; a verdict of "ship" must include
    // after.h.
    if let Ok(c) = scan(&mut sc, &t, "gcc -c x.c") {
        assert!(has(&t, &c, "after.h"));
    }
}

#[test]
fn cross_compiler_defaults() {
    let t = Tree::new("cross");
    t.write("x.c", "#include <stddef.h>\n#include \"a.h\"\n");
    t.write("a.h", "\n");
    gcc_path("arm-linux-gnueabihf-gcc");
    let c = check(&t, "arm-linux-gnueabihf-gcc -mcpu=cortex-a7 -c x.c");
    assert_eq!(rel(&t, &c), ["x.c", "a.h"]);
    assert!(c
        .system_dirs
        .iter()
        .any(|d| d.to_string_lossy().contains("arm-linux-gnueabihf")));
    let mut sc = Scanner::new();
    scan(&mut sc, &t, "gcc -c x.c").unwrap();
    scan(&mut sc, &t, "gcc -c x.c").unwrap();
    scan(&mut sc, &t, "gcc -m32 -c x.c").unwrap();
    let s = sc.stats();
    assert_eq!((s.compiler_runs, s.compiler_hits), (2, 1));
}

/// The compiler's default bracket dirs, from `-E -v`.
fn default_dirs(cc: &str, lang: &str) -> Vec<String> {
    let out = Command::new(gcc_path(cc))
        .args(["-x", lang, "-E", "-v", "/dev/null"])
        .env("LC_ALL", "C")
        .output()
        .expect("run the compiler");
    let err = String::from_utf8_lossy(&out.stderr);
    let mut dirs = Vec::new();
    let mut on = false;
    for l in err.lines() {
        if l.starts_with("#include <...> search starts here:") {
            on = true;
        } else if l.starts_with("End of search list.") {
            break;
        } else if on {
            dirs.push(l.trim().to_string());
        }
    }
    assert!(!dirs.is_empty(), "no search list from {cc}: {err}");
    dirs
}

/// The C and C++ libraries' headers, made user dirs (`-nostdinc` plus the
/// same dirs as -isystem): all of them are then shipped and must match what
/// gcc reads (include_next chains, __has_include, computed includes...).
#[test]
fn libc_and_libstdcxx_as_user_dirs() {
    let t = Tree::new("libs");
    let mut cmd = "g++ -nostdinc -nostdinc++ -std=gnu++20".to_string();
    for d in default_dirs("g++", "c++") {
        cmd += &format!(" -isystem {d}");
    }
    t.write(
        "x.cc",
        "#include <cstdlib>\n#include <cmath>\n#include <iostream>\n#include <vector>\n\
         #include <map>\n#include <regex>\n#include <thread>\n#include <atomic>\n\
         #include <filesystem>\n#include <variant>\n#include <bits/stdc++.h>\n",
    );
    let c = check(&t, &format!("{cmd} -c x.cc"));
    assert!(c.files.len() > 200, "{}", c.files.len());
    assert!(c.system_dirs.is_empty());
    let mut cmd = "gcc -nostdinc -std=gnu17".to_string();
    for d in default_dirs("gcc", "c") {
        cmd += &format!(" -isystem {d}");
    }
    t.write(
        "y.c",
        "#include <stdio.h>\n#include <stdlib.h>\n#include <math.h>\n#include <pthread.h>\n\
         #include <sys/stat.h>\n#include <unistd.h>\n#include <sys/mount.h>\n#include <string.h>\n",
    );
    let c = check(&t, &format!("{cmd} -c y.c"));
    assert!(c.files.len() > 50, "{}", c.files.len());
}

/// Random trees of same-named headers in several dirs (some symlinked),
/// random search options and include forms: whatever gcc reads must be
/// shipped. Seeded, so a failure reproduces.
#[test]
fn random_trees_against_gcc() {
    // PUMP_RANDOM_SEED / PUMP_RANDOM_ROUNDS explore further by hand.
    let mut seed: u64 = std::env::var("PUMP_RANDOM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut compared = 0;
    let rounds: u64 = std::env::var("PUMP_RANDOM_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    for round in 0..rounds {
        let t = Tree::new(&format!("rand{round}"));
        let dirs = ["d0", "d1", "d2", "d3", "src/sub"];
        for d in &dirs[..4] {
            t.mkdir(d);
        }
        t.mkdir("src/sub");
        // Sometimes a dir is a symlink to another.
        if rnd(3) == 0 {
            std::fs::remove_dir(t.p("d3")).unwrap();
            t.link(["d0", "d1", "d2"][rnd(3) as usize], "d3");
        }
        let directive = |r: &mut dyn FnMut(u64) -> u64| -> String {
            let h = format!("h{}.h", r(5));
            match r(11) {
                8 => format!("#define HDR \"{h}\"\n#include HDR\n"),
                9 => format!("#define HF(n) <h##n.h>\n#include HF({})\n", r(5)),
                10 => format!(
                    "#define S(x) #x\n#define XS(x) S(x)\n#include XS(../d{}/{h})\n",
                    r(3)
                ),
                0 | 1 => format!("#include \"{h}\"\n"),
                2 | 3 => format!("#include <{h}>\n"),
                4 => format!("#include_next <{h}>\n"),
                5 => format!("#include_next \"{h}\"\n"),
                6 => format!("#include \"../d{}/{h}\"\n", r(3)),
                _ => format!("#if __has_include(<{h}>)\n#include <{h}>\n#endif\n"),
            }
        };
        for _ in 0..12 {
            let d = dirs[rnd(dirs.len() as u64) as usize];
            let h = format!("h{}.h", rnd(5));
            let p = t.p(&format!("{d}/{h}"));
            if p.exists() {
                continue;
            }
            let mut text = String::from("#pragma once\n");
            for _ in 0..rnd(4) {
                text += &directive(&mut rnd);
            }
            std::fs::write(p, text).unwrap();
        }
        // Sometimes a header is a symlink to another dir's header.
        if rnd(2) == 0 {
            let (a, b) = (rnd(4), rnd(4));
            let (h, g) = (rnd(5), rnd(5));
            let p = t.p(&format!("d{a}/h{h}.h"));
            if a != b && !p.exists() && t.p(&format!("d{b}/h{g}.h")).exists() {
                let _ = symlink(format!("../d{b}/h{g}.h"), p);
            }
        }
        let mut main = String::new();
        for _ in 0..1 + rnd(3) {
            main += &directive(&mut rnd);
        }
        t.write("src/sub/x.c", &main);
        let mut cmd = String::from("gcc -MG");
        for _ in 0..1 + rnd(5) {
            let opt = ["-iquote", "-I", "-isystem", "-idirafter"][rnd(4) as usize];
            let d = ["d0", "d1", "d2", "d3", "./d1", "src/sub"][rnd(6) as usize];
            cmd += &format!(" {opt} {d}");
        }
        if rnd(4) == 0 {
            cmd += &format!(" -include d{}/h{}.h", rnd(3), rnd(5));
        }
        cmd += " -c src/sub/x.c";
        let mut sc = Scanner::new();
        let c = match scan(&mut sc, &t, &cmd) {
            Ok(c) => c,
            // Give-ups the generator provokes on purpose; any other is a bug.
            Err(g) if g.0.contains("-include") && g.0.contains("not found") => continue,
            Err(g) => panic!("round {round}: {cmd}: gave up: {g}"),
        };
        // gcc rejects some trees (an #include_next past the chain's end):
        // no object, nothing to compare.
        if let Ok(reads) = try_gcc_reads(&t, &argv(&cmd)) {
            assert_superset(&t, &format!("round {round}: {cmd}"), &c, reads);
            compared += 1;
        }
    }
    eprintln!("{compared} of {rounds} random trees compared");
    assert!(compared >= rounds / 3, "only {compared} trees compiled");
}
