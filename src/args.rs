//! Which compiler command lines can be distributed, and what they read and
//! write. The rules follow distcc 3.4's `dcc_scan_args` (src/arg.c) so that
//! tinydcc sends exactly the jobs stock distcc sends. What each option is
//! comes from `gcc_options`; what distcc does with it is `action`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Why a command must run on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    /// `-E`: run locally, but it only needs a cpp slot (distcc's EXIT_LOCAL_CPP).
    Preprocess,
    Reason(String),
}

/// A distributable compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The argv, after `-Wp,` expansion and with `-o OUT` appended when the
    /// user gave no output.
    pub argv: Vec<OsString>,
    pub input: OsString,
    pub input_index: usize,
    pub output: OsString,
    /// `-S` was given: the output is assembly.
    pub assembly: bool,
}

/// What distcc 3.4 does with an option it knows.
#[derive(Clone, Copy)]
enum Action {
    /// The compile must run locally for this reason.
    Local(&'static str),
    /// Allowed, consumes the next argument too.
    SkipNext,
    /// Allowed, nothing to note.
    Pass,
    SeenC,
    SeenS,
    Preprocess,
    /// `-o FILE` (separate) or `-oFILE` (joined).
    OutputNext,
    OutputJoined,
    /// `-Wa,...`: local only if it asks the assembler for a listing or .d file.
    AssemblerOpts,
    /// `-x LANG`: distcc 3.4 looks at the *next* argument.
    Language,
}

use crate::gcc_options::{self as gcc, Kind, LocalOnly, OptionSpec, Spelling};
use Action::*;

/// Why distcc 3.4 compiles locally with the option.
fn local_reason(why: LocalOnly) -> &'static str {
    match why {
        LocalOnly::No => "",
        LocalOnly::NativeArch => "-march=native generates code for the local machine",
        LocalOnly::NativeTune => "-mtune=native optimizes for the local machine",
        LocalOnly::Specs => "-specs= needs the spec file, which is local",
        LocalOnly::DepsOnly => "-M without -MD implies -E and must be local",
        LocalOnly::EmitsProfile => "compiler will emit profile info",
        LocalOnly::ReadsProfile => "compiler reads profile info",
        LocalOnly::Repo => "compiler will emit .rpo files",
        LocalOnly::Lto => "-flto needs the linker plugin",
        LocalOnly::DebugDump => "debug option may write extra files",
    }
}

/// The options distcc 3.4's scan knows (`dcc_scan_args`); others pass.
fn scanned(o: &OptionSpec) -> bool {
    o.local != LocalOnly::No
        || !o.is_long()
            && matches!(
                o.kind,
                Kind::Compile
                    | Kind::Assemble
                    | Kind::Preprocess
                    | Kind::Output
                    | Kind::Language
                    | Kind::Assembler
                    | Kind::DepsToFile
                    | Kind::DepsFlag
                    | Kind::DepsFile
                    | Kind::DepsTarget
            )
}

/// What distcc 3.4's scan does with the option `a` (`None`: passes).
fn action(a: &[u8]) -> Option<Action> {
    let hit = gcc::find(a, scanned)?;
    if hit.spec.local != LocalOnly::No {
        return Some(Local(local_reason(hit.spec.local)));
    }
    let joined = matches!(hit.spelling, Spelling::Joined(_));
    Some(match hit.kind() {
        Kind::Compile => SeenC,
        Kind::Assemble => SeenS,
        Kind::Preprocess => Preprocess,
        Kind::Output if joined => OutputJoined,
        Kind::Output => OutputNext,
        Kind::Language => Language,
        Kind::Assembler if joined => AssemblerOpts,
        Kind::DepsFile | Kind::DepsTarget if hit.takes_next() => SkipNext,
        _ => Pass,
    })
}

/// Source extensions distcc compiles remotely (`.s`/`.S` never are).
const SOURCE_EXTS: &[&str] = &[
    "c", "cc", "cpp", "cxx", "cp", "c++", "C", "i", "ii", "m", "mm", "mi", "mii", "M",
];

/// The bytes of an argument or path: options are recognised on these, so
/// a file name or a macro value that is not UTF-8 passes through intact.
fn bytes<S: AsRef<OsStr> + ?Sized>(s: &S) -> &[u8] {
    s.as_ref().as_bytes()
}

fn extension(path: &[u8]) -> Option<&[u8]> {
    let base = basename(path);
    base.iter()
        .rposition(|&b| b == b'.')
        .map(|i| &base[i + 1..])
}

/// The last `/`-separated component, as distcc's `dcc_find_basename`.
pub(crate) fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

fn ext_is(path: &[u8], exts: &[&str]) -> bool {
    extension(path).is_some_and(|e| exts.iter().any(|x| x.as_bytes() == e))
}

pub(crate) fn is_source<S: AsRef<OsStr> + ?Sized>(path: &S) -> bool {
    ext_is(bytes(path), SOURCE_EXTS)
}

/// Already preprocessed: sent as is, no local cpp.
pub(crate) fn is_preprocessed<S: AsRef<OsStr> + ?Sized>(path: &S) -> bool {
    ext_is(bytes(path), &["i", "ii", "mi", "mii"])
}

/// The extension of the preprocessed form of a source (distcc's
/// `dcc_preproc_exten`).
pub(crate) fn preprocessed_ext<S: AsRef<OsStr> + ?Sized>(path: &S) -> &'static str {
    let p = bytes(path);
    if ext_is(p, &["c", "i"]) {
        "i"
    } else if ext_is(p, &["cc", "cpp", "cxx", "cp", "c++", "C", "ii"]) {
        "ii"
    } else if ext_is(p, &["m", "mi"]) {
        "mi"
    } else if ext_is(p, &["mm", "M", "mii"]) {
        "mii"
    } else {
        "tmp"
    }
}

fn os(b: &[u8]) -> OsString {
    OsStr::from_bytes(b).to_os_string()
}

/// Expand `-Wp,a,b` into `a b`, and `-Wp,-MD,f` into `-MD -MF f`, as distcc does
/// before anything else looks at the command line.
pub(crate) fn expand_wp(argv: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    for a in argv {
        let Some(rest) = bytes(a).strip_prefix(b"-Wp,") else {
            out.push(a.clone());
            continue;
        };
        let mut parts = rest.split(|&b| b == b',');
        while let Some(p) = parts.next() {
            out.push(os(p));
            if p == b"-MD" || p == b"-MMD" {
                match parts.next() {
                    Some(f) => {
                        out.push("-MF".into());
                        out.push(os(f));
                    }
                    None => break,
                }
            }
        }
    }
    out
}

/// The output name gcc uses for `-c`/`-S` without `-o`: the input's basename
/// with its extension replaced, in the current directory.
fn default_output(input: &OsStr, assembly: bool) -> Option<OsString> {
    let base = basename(bytes(input));
    let mut out = base[..base.iter().rposition(|&b| b == b'.')?].to_vec();
    out.extend_from_slice(if assembly { b".s" } else { b".o" });
    Some(OsString::from_vec(out))
}

fn local(why: impl Into<String>) -> Local {
    Local::Reason(why.into())
}

/// Decide whether `argv` (argv[0] is the compiler) can be distributed.
pub fn scan(argv: &[OsString]) -> Result<Scan, Local> {
    let mut argv = expand_wp(argv);
    if argv.is_empty() {
        return Err(local("empty command"));
    }
    let (mut seen_c, mut seen_s) = (false, false);
    let mut input: Option<(usize, OsString)> = None;
    let mut output: Option<OsString> = None;
    let mut i = 1;
    while i < argv.len() {
        let arg = argv[i].as_os_str();
        let a = bytes(arg);
        // Reasons are for the log: a lossy spelling is fine there.
        let shown = || arg.to_string_lossy();
        let mut out_arg: Option<&[u8]> = None;
        if a.starts_with(b"-") {
            match action(a) {
                None | Some(Pass) => {}
                Some(Local(why)) => return Err(local(format!("{}: {why}", shown()))),
                Some(SkipNext) => i += 1,
                Some(SeenC) => seen_c = true,
                Some(SeenS) => seen_s = true,
                Some(Preprocess) => return Err(Local::Preprocess),
                Some(AssemblerOpts) => {
                    if contains(a, b",-a") || contains(a, b"--MD") {
                        return Err(local(format!("{}: assembler writes extra files", shown())));
                    }
                }
                Some(Language) => {
                    let next = argv.get(i + 1).map(bytes).unwrap_or(b"");
                    let ok = ["c", "c++", "objective-c", "objective-c++", "go"]
                        .iter()
                        .any(|l| next.starts_with(l.as_bytes()));
                    if !ok {
                        return Err(local(format!(
                            "{} {}: language must be compiled locally",
                            shown(),
                            String::from_utf8_lossy(next)
                        )));
                    }
                }
                Some(OutputNext) => {
                    i += 1;
                    out_arg = Some(argv.get(i).map(bytes).unwrap_or(b""));
                }
                Some(OutputJoined) => out_arg = Some(&a[2..]),
            }
        } else if is_source(arg) {
            if input.is_some() {
                return Err(local("two input files"));
            }
            input = Some((i, arg.to_os_string()));
        } else if a.ends_with(b".o") {
            out_arg = Some(a);
        }
        if let Some(o) = out_arg {
            if output.is_some() {
                return Err(local("several outputs: called for link"));
            }
            output = Some(os(o));
        }
        i += 1;
    }
    if !seen_c && !seen_s {
        return Err(local("not a compile (no -c or -S)"));
    }
    let Some((input_index, input)) = input else {
        return Err(local("no source file"));
    };
    let base = basename(bytes(&input));
    if base.starts_with(b"conftest.") || base.starts_with(b"tmp.conftest.") {
        return Err(local("autoconf test"));
    }
    let output = match output {
        Some(o) => o,
        None => {
            let o = default_output(&input, seen_s).ok_or_else(|| local("no output name"))?;
            argv.push("-o".into());
            argv.push(o.clone());
            o
        }
    };
    if output == "-" {
        return Err(local("output to stdout"));
    }
    Ok(Scan {
        argv,
        input,
        input_index,
        output,
        assembly: seen_s,
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The argv for local preprocessing: `-o X` removed, `-c`/`-S` turned into
/// `-E` (distcc's `dcc_strip_dasho` and `dcc_set_action_opt`).
pub(crate) fn cpp_argv(scan: &Scan) -> Vec<OsString> {
    let mut out = Vec::with_capacity(scan.argv.len());
    let mut it = scan.argv.iter();
    while let Some(a) = it.next() {
        let hit = gcc::find(bytes(a), |o| {
            matches!(o.kind, Kind::Output | Kind::Compile | Kind::Assemble)
        });
        match hit.map(|h| (h.kind(), h.takes_next())) {
            Some((Kind::Output, true)) => {
                it.next();
            }
            Some((Kind::Output, false)) => {}
            Some(_) => out.push("-E".into()),
            None => out.push(a.clone()),
        }
    }
    out
}

/// The argv sent to the server for a plain-mode (locally preprocessed)
/// job: without what only the local preprocessor needs (distcc's
/// `dcc_strip_local_args`).
pub(crate) fn strip_local_args(argv: &[OsString]) -> Vec<OsString> {
    use gcc::flag::{STRIP, STRIP_JOINED};
    let mut out = Vec::with_capacity(argv.len());
    let mut i = 0;
    while i < argv.len() {
        let hit = gcc::find(bytes(&argv[i]), |o| o.has(STRIP | STRIP_JOINED));
        let drop = hit.map_or(0, |h| match h.spelling {
            Spelling::Alone if h.has(STRIP) => 1 + usize::from(h.takes_next()),
            Spelling::Joined(_) if h.has(STRIP_JOINED) => 1,
            _ => 0,
        });
        if drop == 0 {
            out.push(argv[i].clone());
            i += 1;
        } else {
            i += drop;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    fn remote(s: &str) -> Scan {
        scan(&v(s)).unwrap_or_else(|e| panic!("{s}: expected remote, got {e:?}"))
    }

    fn is_local(s: &str) -> bool {
        scan(&v(s)).is_err()
    }

    #[test]
    fn simple_compile_is_remote() {
        let s = remote("gcc -c hello.c -o hello.o");
        assert_eq!(s.input, "hello.c");
        assert_eq!(s.output, "hello.o");
        assert_eq!(s.input_index, 2);
    }

    #[test]
    fn missing_output_is_appended() {
        let s = remote("gcc -c src/hello.c");
        assert_eq!(s.output, "hello.o");
        assert_eq!(s.argv, v("gcc -c src/hello.c -o hello.o"));
        assert_eq!(remote("gcc -S x.cpp").output, "x.s");
    }

    #[test]
    fn joined_output() {
        assert_eq!(remote("gcc -c x.c -ofoo.o").output, "foo.o");
    }

    #[test]
    fn local_cases() {
        for s in [
            "gcc hello.c -o hello",
            "gcc -E hello.c",
            "gcc -M -c hello.c",
            "gcc -MM -c hello.c",
            "gcc -c a.c b.c",
            "gcc -c x.s",
            "gcc -c x.S",
            "gcc -c -march=native x.c",
            "gcc -c -mtune=native x.c",
            "gcc -c -flto x.c",
            "gcc -c -fprofile-arcs x.c",
            "gcc -c --coverage x.c",
            "gcc -c -fprofile-generate=dir x.c",
            "gcc -c -specs=foo x.c",
            "gcc -c -Wa,-adhln=x.lst x.c",
            "gcc -c -x assembler x.c",
            "gcc -c conftest.c",
            "gcc -c x.c -o -",
            "gcc -c x.c -o a.o b.o",
            "gcc -c",
            "gcc a.o b.o -o prog",
            "gcc -c -drA x.c",
        ] {
            assert!(is_local(s), "{s} should be local");
        }
        assert_eq!(scan(&v("gcc -E x.c")), Err(Local::Preprocess));
    }

    #[test]
    fn dependency_options_are_remote() {
        for s in [
            "gcc -MD -c x.c -o x.o",
            "gcc -MMD -MP -MF x.d -MT x.o -c x.c -o x.o",
            "gcc -MFx.d -MTx.o -c x.c",
            "gcc -Wp,-MD,x.d -c x.c -o x.o",
        ] {
            remote(s);
        }
        assert_eq!(
            remote("gcc -Wp,-MD,.x.o.d,-DFOO -c x.c -o x.o").argv,
            v("gcc -MD -MF .x.o.d -DFOO -c x.c -o x.o")
        );
    }

    #[test]
    fn x_language_looks_at_next_argument() {
        remote("gcc -x c -c x.c -o x.o");
        remote("gcc -x c++ -c x.cc -o x.o");
        assert!(is_local("gcc -x assembler-with-cpp -c x.c -o x.o"));
    }

    #[test]
    fn cpp_argv_swaps_c_for_e_and_drops_output() {
        let s = remote("gcc -O2 -c x.c -o out/x.o -DX=1");
        assert_eq!(cpp_argv(&s), v("gcc -O2 -E x.c -DX=1"));
        let s = remote("gcc -c x.c -oout.o");
        assert_eq!(cpp_argv(&s), v("gcc -E x.c"));
    }

    #[test]
    fn strip_removes_preprocessor_only_options() {
        let a = v("gcc -I inc -Iinc2 -DX -D Y -include cfg.h -MD -MF x.d -O2 -c x.c -o x.o -Wp,-foo -nostdinc");
        assert_eq!(strip_local_args(&a), v("gcc -O2 -c x.c -o x.o"));
    }

    #[test]
    fn preprocessed_extensions() {
        assert_eq!(preprocessed_ext("a.c"), "i");
        assert_eq!(preprocessed_ext("a.cpp"), "ii");
        assert_eq!(preprocessed_ext("a.C"), "ii");
        assert_eq!(preprocessed_ext("a.m"), "mi");
        assert_eq!(preprocessed_ext("a.mm"), "mii");
        assert!(is_preprocessed("x.i") && !is_preprocessed("x.c"));
    }

    #[test]
    fn names_that_are_not_utf8_pass_through() {
        let b = |s: &[u8]| OsString::from_vec(s.to_vec());
        let argv = vec![
            b(b"gcc"),
            b(b"-Wp,-MD,dep\xff.d,-DX=\xfe"),
            b(b"-I\xff"),
            b(b"-c"),
            b(b"dir\xe8/caf\xe9.c"),
        ];
        let s = scan(&argv).unwrap();
        assert_eq!(s.input, b(b"dir\xe8/caf\xe9.c"));
        assert_eq!(s.output, b(b"caf\xe9.o"));
        assert_eq!(
            s.argv,
            vec![
                b(b"gcc"),
                b(b"-MD"),
                b(b"-MF"),
                b(b"dep\xff.d"),
                b(b"-DX=\xfe"),
                b(b"-I\xff"),
                b(b"-c"),
                b(b"dir\xe8/caf\xe9.c"),
                b(b"-o"),
                b(b"caf\xe9.o"),
            ]
        );
        assert_eq!(
            strip_local_args(&s.argv),
            vec![
                b(b"gcc"),
                b(b"-c"),
                b(b"dir\xe8/caf\xe9.c"),
                b(b"-o"),
                b(b"caf\xe9.o")
            ]
        );
        assert_eq!(preprocessed_ext(&s.input), "i");
        let joined = vec![b(b"gcc"), b(b"-c"), b(b"x.c"), b(b"-o\xff.o")];
        assert_eq!(scan(&joined).unwrap().output, b(b"\xff.o"));
    }
}
