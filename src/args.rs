//! Which compiler command lines can be distributed, and what they read and
//! write. The rules follow distcc 3.4's `dcc_scan_args` (src/arg.c) so that
//! tinydcc sends exactly the jobs stock distcc sends. They live in one table,
//! `OPTION_RULES`, checked in order; the first matching rule wins.

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
    pub argv: Vec<String>,
    pub input: String,
    pub input_index: usize,
    pub output: String,
    /// `-S` was given: the output is assembly.
    pub assembly: bool,
}

#[derive(Clone, Copy)]
enum Match {
    Exact(&'static str),
    Prefix(&'static str),
}

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

use Action::*;
use Match::*;

/// distcc 3.4's rules, in its order. Options not listed are passed through.
const OPTION_RULES: &[(Match, Action)] = &[
    (
        Exact("-march=native"),
        Local("-march=native generates code for the local machine"),
    ),
    (
        Exact("-mtune=native"),
        Local("-mtune=native optimizes for the local machine"),
    ),
    (Prefix("-Wa,"), AssemblerOpts),
    (
        Prefix("-specs="),
        Local("-specs= needs the spec file, which is local"),
    ),
    (Exact("-E"), Preprocess),
    (Exact("-MD"), Pass),
    (Exact("-MMD"), Pass),
    (Exact("-MG"), Pass),
    (Exact("-MP"), Pass),
    (Exact("-MF"), SkipNext),
    (Exact("-MT"), SkipNext),
    (Exact("-MQ"), SkipNext),
    (Prefix("-MF"), Pass),
    (Prefix("-MT"), Pass),
    (Prefix("-MQ"), Pass),
    (
        Prefix("-M"),
        Local("-M without -MD implies -E and must be local"),
    ),
    (Exact("-S"), SeenS),
    (
        Exact("-fprofile-arcs"),
        Local("compiler will emit profile info"),
    ),
    (
        Exact("-ftest-coverage"),
        Local("compiler will emit profile info"),
    ),
    (
        Exact("--coverage"),
        Local("compiler will emit profile info"),
    ),
    (
        Prefix("-fprofile-generate"),
        Local("compiler will emit profile info"),
    ),
    (
        Prefix("-fprofile-use"),
        Local("compiler reads profile info"),
    ),
    (
        Prefix("-fauto-profile"),
        Local("compiler reads profile info"),
    ),
    (
        Exact("-fprofile-correction"),
        Local("compiler reads profile info"),
    ),
    (Exact("-frepo"), Local("compiler will emit .rpo files")),
    (Exact("-flto"), Local("-flto needs the linker plugin")),
    (Prefix("-x"), Language),
    (Prefix("-dr"), Local("debug option may write extra files")),
    (Exact("-c"), SeenC),
    (Exact("-o"), OutputNext),
    (Prefix("-o"), OutputJoined),
];

/// Source extensions distcc compiles remotely (`.s`/`.S` never are).
const SOURCE_EXTS: &[&str] = &[
    "c", "cc", "cpp", "cxx", "cp", "c++", "C", "i", "ii", "m", "mm", "mi", "mii", "M",
];

fn extension(path: &str) -> Option<&str> {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.rfind('.').map(|i| &base[i + 1..])
}

pub fn is_source(path: &str) -> bool {
    extension(path).is_some_and(|e| SOURCE_EXTS.contains(&e))
}

/// Already preprocessed: sent as is, no local cpp.
pub fn is_preprocessed(path: &str) -> bool {
    matches!(extension(path), Some("i" | "ii" | "mi" | "mii"))
}

/// The extension of the preprocessed form of a source (distcc's
/// `dcc_preproc_exten`).
pub fn preprocessed_ext(path: &str) -> &'static str {
    match extension(path) {
        Some("c" | "i") => "i",
        Some("cc" | "cpp" | "cxx" | "cp" | "c++" | "C" | "ii") => "ii",
        Some("m" | "mi") => "mi",
        Some("mm" | "M" | "mii") => "mii",
        _ => "tmp",
    }
}

fn matches(m: Match, a: &str) -> bool {
    match m {
        Exact(s) => a == s,
        Prefix(p) => a.starts_with(p),
    }
}

/// Expand `-Wp,a,b` into `a b`, and `-Wp,-MD,f` into `-MD -MF f`, as distcc does
/// before anything else looks at the command line.
pub fn expand_wp(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    for a in argv {
        let Some(rest) = a.strip_prefix("-Wp,") else {
            out.push(a.clone());
            continue;
        };
        let mut parts = rest.split(',');
        while let Some(p) = parts.next() {
            out.push(p.to_string());
            if p == "-MD" || p == "-MMD" {
                match parts.next() {
                    Some(f) => {
                        out.push("-MF".into());
                        out.push(f.to_string());
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
fn default_output(input: &str, assembly: bool) -> Option<String> {
    let base = input.rsplit('/').next().unwrap_or(input);
    let stem = &base[..base.rfind('.')?];
    Some(format!("{stem}.{}", if assembly { "s" } else { "o" }))
}

fn local(why: impl Into<String>) -> Local {
    Local::Reason(why.into())
}

/// Decide whether `argv` (argv[0] is the compiler) can be distributed.
pub fn scan(argv: &[String]) -> Result<Scan, Local> {
    let mut argv = expand_wp(argv);
    if argv.is_empty() {
        return Err(local("empty command"));
    }
    let (mut seen_c, mut seen_s) = (false, false);
    let mut input: Option<(usize, String)> = None;
    let mut output: Option<String> = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        let mut out_arg: Option<&str> = None;
        if a.starts_with('-') {
            let action = OPTION_RULES
                .iter()
                .find(|(m, _)| matches(*m, a))
                .map(|(_, act)| *act);
            match action {
                None | Some(Pass) => {}
                Some(Local(why)) => return Err(local(format!("{a}: {why}"))),
                Some(SkipNext) => i += 1,
                Some(SeenC) => seen_c = true,
                Some(SeenS) => seen_s = true,
                Some(Preprocess) => return Err(Local::Preprocess),
                Some(AssemblerOpts) => {
                    if a.contains(",-a") || a.contains("--MD") {
                        return Err(local(format!("{a}: assembler writes extra files")));
                    }
                }
                Some(Language) => {
                    let next = argv.get(i + 1).map(String::as_str).unwrap_or("");
                    let ok = ["c", "c++", "objective-c", "objective-c++", "go"]
                        .iter()
                        .any(|l| next.starts_with(l));
                    if !ok {
                        return Err(local(format!(
                            "{a} {next}: language must be compiled locally"
                        )));
                    }
                }
                Some(OutputNext) => {
                    i += 1;
                    out_arg = Some(argv.get(i).map(String::as_str).unwrap_or(""));
                }
                Some(OutputJoined) => out_arg = Some(&a[2..]),
            }
        } else if is_source(a) {
            if input.is_some() {
                return Err(local("two input files"));
            }
            input = Some((i, a.to_string()));
        } else if a.ends_with(".o") {
            out_arg = Some(a);
        }
        if let Some(o) = out_arg {
            if output.is_some() {
                return Err(local("several outputs: called for link"));
            }
            output = Some(o.to_string());
        }
        i += 1;
    }
    if !seen_c && !seen_s {
        return Err(local("not a compile (no -c or -S)"));
    }
    let Some((input_index, input)) = input else {
        return Err(local("no source file"));
    };
    let base = input.rsplit('/').next().unwrap_or(&input);
    if base.starts_with("conftest.") || base.starts_with("tmp.conftest.") {
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

/// The argv for local preprocessing: `-o X` removed, `-c`/`-S` turned into
/// `-E` (distcc's `dcc_strip_dasho` and `dcc_set_action_opt`).
pub fn cpp_argv(scan: &Scan) -> Vec<String> {
    let mut out = Vec::with_capacity(scan.argv.len());
    let mut it = scan.argv.iter();
    while let Some(a) = it.next() {
        if a == "-o" {
            it.next();
        } else if a.starts_with("-o") {
        } else if a == "-c" || a == "-S" {
            out.push("-E".into());
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Options only the local preprocessor needs (distcc's `dcc_strip_local_args`).
const STRIP_WITH_ARG: &[&str] = &[
    "-D",
    "-I",
    "-U",
    "-L",
    "-l",
    "-MF",
    "-MT",
    "-MQ",
    "-include",
    "-imacros",
    "-iprefix",
    "-iwithprefix",
    "-isystem",
    "-iwithprefixbefore",
    "-idirafter",
];
const STRIP_JOINED: &[&str] = &[
    "-Wp,", "-Wl,", "-D", "-U", "-I", "-l", "-L", "-MF", "-MT", "-MQ", "-isystem", "-stdlib",
];
const STRIP_EXACT: &[&str] = &[
    "-undef",
    "-nostdinc",
    "-nostdinc++",
    "-MD",
    "-MMD",
    "-MG",
    "-MP",
];

/// The argv sent to the server for a plain-mode (locally preprocessed) job.
pub fn strip_local_args(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if STRIP_WITH_ARG.contains(&a) {
            i += 2;
            continue;
        }
        if STRIP_EXACT.contains(&a) || STRIP_JOINED.iter().any(|p| a.starts_with(p)) {
            i += 1;
            continue;
        }
        out.push(argv[i].clone());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
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
}
