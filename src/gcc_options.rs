//! gcc's options: one row each, read by the client's scan (`args`), the
//! daemon's checks (`daemon::harden`, `daemon::pump_job`) and the include
//! scanner (`scan::searchpath`). A row says how the option is spelled and
//! what gcc does with it; what each reader then does (run locally, refuse,
//! rewrite, follow) stays in the reader. A new option is one new row.
//!
//! Rows that end in a family's common prefix (`-fdump-`, `-M`) are
//! `JOINED`: every argument that begins with the name is that row, unless
//! a longer row matches too. Lookup picks the longest matching name among
//! the rows a reader asks about, so `-MF` wins over `-M`, `-include-pch`
//! over `-include`.

/// How the option is spelled (the first four), then what it does.
pub(crate) mod flag {
    /// The name alone is the whole argument (`-c`).
    pub const ALONE: u32 = 1 << 0;
    /// The name alone, its value in the next argument (`-o FILE`).
    pub const SEP: u32 = 1 << 1;
    /// Anything after the name is its value, or the rest of a family's
    /// name (`-oFILE`, `-fdump-tree-all`).
    pub const JOINED: u32 = 1 << 2;
    /// `NAME=VALUE` (`--param=x`).
    pub const EQ: u32 = 1 << 3;
    /// The value is a file or directory the preprocessor reads (`-I`,
    /// `-include`).
    pub const CPP_PATH: u32 = 1 << 4;
    /// Only the preprocessor uses it: no effect on preprocessed input.
    pub const CPP_ONLY: u32 = 1 << 5;
    /// Makes the compiler run another program.
    pub const RUNS: u32 = 1 << 6;
    /// Makes the compiler load code (a plugin, a spec file).
    pub const LOADS: u32 = 1 << 7;
    /// Makes the compiler read a file it names (or a profile).
    pub const READS: u32 = 1 << 8;
    /// Makes the compiler write a file beside or instead of its output.
    pub const WRITES: u32 = 1 << 9;
    /// Never makes the compiler open a file, even when its value looks
    /// like a path (`-fdebug-prefix-map=/src=.`).
    pub const NO_FILE: u32 = 1 << 10;
    /// Can change the compiler's default include dirs or predefined
    /// macros.
    pub const QUERY: u32 = 1 << 11;
    /// A `-f` option that changes neither (diagnostics, output files).
    pub const CPP_NEUTRAL: u32 = 1 << 12;
    /// Changes what the preprocessor reads in a way the include scanner
    /// does not follow (modules, plugins, `-fpreprocessed`).
    pub const UNFOLLOWED: u32 = 1 << 13;
    /// distcc 3.4 leaves it out of the server's command line when the
    /// client preprocesses (`dcc_strip_local_args`): the name alone, with
    /// its value when `SEP`.
    pub const STRIP: u32 = 1 << 14;
    /// ... and in its joined spelling.
    pub const STRIP_JOINED: u32 = 1 << 15;
}
use flag::*;

/// What the option is, where a reader needs more than the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Other,
    /// `-c`
    Compile,
    /// `-S`
    Assemble,
    /// `-E`
    Preprocess,
    /// `-o`
    Output,
    /// `-x LANG`
    Language,
    /// Options for the assembler: `-Wa,LIST`, `-Xassembler OPT`.
    Assembler,
    /// Options for the linker: `-Wl,LIST`, `-Xlinker OPT`.
    Linker,
    /// `-Xclang OPT`
    Clang,
    /// Options for the preprocessor: `-Wp,LIST`, `-Xpreprocessor OPT`.
    CppPass,
    SaveTemps,
    /// `-isysroot`, `--sysroot`
    Sysroot,
    Define,
    Undefine,
    QuoteDir,
    BracketDir,
    SystemDir,
    AfterDir,
    /// `-iprefix`, and the dirs made from it.
    IPrefix,
    WithPrefix,
    WithPrefixBefore,
    Include,
    Imacros,
    /// `-I-`
    IncludeBarrier,
    /// `-nostdinc`
    NoStdInc,
    /// `-M`, `-MM` and the like: dependencies instead of an object.
    Deps,
    /// `-MD`, `-MMD`: dependencies beside the object.
    DepsToFile,
    /// `-MG`, `-MP`
    DepsFlag,
    /// `-MF FILE`
    DepsFile,
    /// `-MT`, `-MQ`
    DepsTarget,
    Specs,
    Traditional,
    Remap,
    /// `-arch` (Darwin)
    Arch,
    /// `-F`, `-iframework`
    Framework,
    /// `-finput-charset=`
    Charset,
}

/// Why distcc 3.4 compiles locally when it sees the option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalOnly {
    No,
    NativeArch,
    NativeTune,
    Specs,
    /// `-M` without `-MD`: preprocesses only.
    DepsOnly,
    EmitsProfile,
    ReadsProfile,
    Repo,
    Lto,
    /// `-dr...`
    DebugDump,
}

pub(crate) struct OptionSpec {
    pub name: &'static [u8],
    pub flags: u32,
    pub kind: Kind,
    pub local: LocalOnly,
    /// For gcc's long spellings (`--include-directory`): the option it
    /// stands for.
    pub short: &'static [u8],
}

impl OptionSpec {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// A `--` spelling.
    pub fn is_long(&self) -> bool {
        self.name.starts_with(b"--")
    }
}

const fn o(name: &'static str, flags: u32, kind: Kind) -> OptionSpec {
    OptionSpec {
        name: name.as_bytes(),
        flags,
        kind,
        local: LocalOnly::No,
        short: b"",
    }
}

/// An option distcc compiles locally.
const fn local(name: &'static str, flags: u32, kind: Kind, why: LocalOnly) -> OptionSpec {
    OptionSpec {
        local: why,
        ..o(name, flags, kind)
    }
}

/// A long spelling of `short`.
const fn long(name: &'static str, short: &'static str, flags: u32, kind: Kind) -> OptionSpec {
    OptionSpec {
        short: short.as_bytes(),
        ..o(name, flags, kind)
    }
}

use Kind::*;
use LocalOnly as L;

/// Separate or joined value.
const VAL: u32 = SEP | JOINED;
/// distcc strips both spellings.
const STRIPPED: u32 = STRIP | STRIP_JOINED;
/// A `-f` option about diagnostics or output files only.
const NEUTRAL: u32 = JOINED | CPP_NEUTRAL;

pub(crate) static OPTIONS: &[OptionSpec] = &[
    // What to make.
    o("-c", ALONE, Compile),
    o("-S", ALONE, Assemble),
    o("-E", ALONE, Preprocess),
    o("-o", VAL, Output),
    o("--output", JOINED | WRITES, Other),
    o("-x", VAL, Language),
    long("--language", "-x", JOINED, Language),
    o("-save-temps", JOINED, SaveTemps),
    o("--save-temps", JOINED, SaveTemps),
    // Other tools.
    o("-Wa,", JOINED, Assembler),
    o("-Xassembler", SEP, Assembler),
    o("--for-assembler", JOINED, Assembler),
    o("-Wl,", JOINED | STRIP_JOINED, Linker),
    o("-Xlinker", SEP, Linker),
    o("--for-linker", JOINED, Linker),
    o("-L", VAL | STRIPPED, Other),
    o("-l", VAL | STRIPPED, Other),
    o("-u", SEP, Other),
    o("-z", SEP, Other),
    o("-T", SEP, Other),
    o("-e", SEP, Other),
    o("-Xclang", SEP, Clang),
    o("-mllvm", SEP, Other),
    o("-Xanalyzer", SEP, Other),
    o("-Wp,", JOINED | STRIP_JOINED, CppPass),
    o("-Xpreprocessor", VAL, CppPass),
    o("-wrapper", SEP | RUNS, Other),
    o("--wrapper", ALONE | RUNS, Other),
    o("-B", VAL | RUNS | QUERY, Other),
    o("--prefix", JOINED | RUNS, Other),
    o("--gcc-toolchain", JOINED | RUNS, Other),
    o("--gcc-toolchain=", JOINED | RUNS | QUERY, Other),
    o("-ccc-", JOINED | RUNS, Other),
    o("-fplugin", JOINED | LOADS | UNFOLLOWED, Other),
    o("--plugin", JOINED | LOADS, Other),
    o("-fpass-plugin", JOINED | LOADS, Other),
    o("-iplugindir", JOINED | LOADS, Other),
    o("-iplugindir=", JOINED | LOADS | CPP_NEUTRAL, Other),
    o("-specs", JOINED | LOADS, Specs),
    local("-specs=", JOINED | LOADS, Specs, L::Specs),
    o("--specs", JOINED | LOADS, Specs),
    o("-fuse-ld", JOINED | NO_FILE, Other),
    o("-no-integrated-as", JOINED | NO_FILE, Other),
    // Macros and the include search path.
    o("-D", VAL | CPP_ONLY | STRIPPED, Define),
    o("-U", VAL | CPP_ONLY | STRIPPED, Undefine),
    long("--define-macro", "-D", SEP | EQ, Define),
    long("--undefine-macro", "-U", SEP | EQ, Undefine),
    long("--undefine", "-U", SEP | EQ, Undefine),
    o("-undef", ALONE | CPP_ONLY | QUERY | STRIP, Other),
    o("-A", SEP, Other),
    o("-I", VAL | CPP_PATH | CPP_ONLY | STRIPPED, BracketDir),
    o("-I-", ALONE, IncludeBarrier),
    o("-iquote", VAL | CPP_PATH | CPP_ONLY, QuoteDir),
    o("-isystem", VAL | CPP_PATH | CPP_ONLY | STRIPPED, SystemDir),
    o("-idirafter", VAL | CPP_PATH | CPP_ONLY | STRIP, AfterDir),
    o("-iprefix", VAL | CPP_PATH | CPP_ONLY | STRIP, IPrefix),
    o(
        "-iwithprefix",
        VAL | CPP_PATH | CPP_ONLY | STRIP,
        WithPrefix,
    ),
    o(
        "-iwithprefixbefore",
        VAL | CPP_PATH | CPP_ONLY | STRIP,
        WithPrefixBefore,
    ),
    o("-include", VAL | CPP_PATH | READS | STRIP, Include),
    o("-imacros", VAL | CPP_PATH | READS | STRIP, Imacros),
    o("-include-pch", VAL | READS | UNFOLLOWED, Other),
    o("-isystem-after", VAL | UNFOLLOWED, Other),
    o("-iwithsysroot", VAL | UNFOLLOWED, Other),
    o("-iframework", VAL, Framework),
    o("-F", VAL, Framework),
    long(
        "--include-directory-after",
        "-idirafter",
        JOINED | READS,
        AfterDir,
    ),
    long("--include-directory", "-I", JOINED | READS, BracketDir),
    long("--include-prefix", "-iprefix", JOINED | READS, IPrefix),
    long(
        "--include-with-prefix-before",
        "-iwithprefixbefore",
        JOINED | READS,
        WithPrefixBefore,
    ),
    long(
        "--include-with-prefix-after",
        "-iwithprefix",
        JOINED | READS,
        WithPrefix,
    ),
    long(
        "--include-with-prefix",
        "-iwithprefix",
        JOINED | READS,
        WithPrefix,
    ),
    long("--include-barrier", "-I-", JOINED | READS, IncludeBarrier),
    long("--include", "-include", JOINED | READS, Include),
    long("--imacros", "-imacros", JOINED | READS, Imacros),
    o("-nostdinc", ALONE | CPP_ONLY | QUERY | STRIP, NoStdInc),
    long("--no-standard-includes", "-nostdinc", ALONE, NoStdInc),
    o("-nostdinc++", ALONE | CPP_ONLY | QUERY | STRIP, Other),
    o("-nostdlibinc", ALONE | QUERY, Other),
    o("-nobuiltininc", ALONE | QUERY, Other),
    o("-stdlib", JOINED | STRIP_JOINED, Other),
    o("-stdlib=", JOINED | STRIP_JOINED | QUERY, Other),
    o("-trigraphs", ALONE | QUERY, Other),
    long("--trigraphs", "-trigraphs", ALONE, Other),
    o("-traditional", ALONE, Traditional),
    o("-traditional-cpp", ALONE, Traditional),
    long("--traditional", "-traditional", ALONE, Traditional),
    long("--traditional-cpp", "-traditional-cpp", ALONE, Traditional),
    o("-remap", ALONE, Remap),
    o("-finput-charset=", JOINED, Charset),
    // The target and the compiler's own files.
    o("-isysroot", VAL | QUERY, Sysroot),
    long("--sysroot", "--sysroot", SEP | EQ | QUERY, Sysroot),
    o("-imultilib", VAL | QUERY, Other),
    o("-imultiarch", VAL | QUERY, Other),
    o("-target", SEP | NO_FILE | QUERY, Other),
    long("--target", "--target", EQ | NO_FILE | QUERY, Other),
    o("-arch", SEP | NO_FILE, Arch),
    o("-b", SEP | QUERY, Other),
    o("-V", SEP | QUERY, Other),
    o("-resource-dir", SEP | QUERY, Other),
    o("-resource-dir=", JOINED | QUERY, Other),
    o("--gcc-install-dir=", JOINED | QUERY, Other),
    o("--rtlib=", JOINED | QUERY, Other),
    o("-no-canonical-prefixes", ALONE | QUERY, Other),
    o("-m", JOINED | QUERY, Other),
    local("-march=native", ALONE | QUERY, Other, L::NativeArch),
    local("-mtune=native", ALONE | QUERY, Other, L::NativeTune),
    o("-O", ALONE | JOINED | QUERY, Other),
    o("-std", EQ | QUERY, Other),
    long("--std", "-std", EQ | NO_FILE, Other),
    o("-ansi", ALONE | QUERY, Other),
    long("--ansi", "-ansi", ALONE | NO_FILE, Other),
    o("-pthread", ALONE | QUERY, Other),
    o("-pthreads", ALONE | QUERY, Other),
    // Dependency output.
    local("-M", ALONE | JOINED, Deps, L::DepsOnly),
    o("-MD", ALONE | STRIP, DepsToFile),
    o("-MMD", ALONE | STRIP, DepsToFile),
    o("-MG", ALONE | STRIP, DepsFlag),
    o("-MP", ALONE | STRIP, DepsFlag),
    o("-MF", VAL | STRIPPED, DepsFile),
    o("-MT", VAL | STRIPPED, DepsTarget),
    o("-MQ", VAL | STRIPPED, DepsTarget),
    o("--write-", JOINED | WRITES, Other),
    o("--user-dependencies", JOINED, Deps),
    o("--dependencies", JOINED, Deps),
    // Extra output files.
    o("-aux-info", VAL | WRITES, Other),
    o("-dumpdir", VAL | WRITES, Other),
    o("--dumpdir", JOINED | WRITES, Other),
    o("-dumpbase", VAL | WRITES, Other),
    o("--dumpbase", JOINED | WRITES, Other),
    o("-dumpbase-ext", SEP, Other),
    local("-dr", JOINED, Other, L::DebugDump),
    o("-fdump", NEUTRAL, Other),
    o("-fdump-", NEUTRAL | WRITES, Other),
    o("-fopt-info", NEUTRAL | WRITES, Other),
    o("-fcallgraph-info", NEUTRAL | WRITES, Other),
    o("-fsave-optimization-record", NEUTRAL | WRITES, Other),
    o("-foptimization-record-file", JOINED | WRITES, Other),
    o("-ftime-trace", JOINED | WRITES, Other),
    o("-fcrash-diagnostics-dir", JOINED | WRITES, Other),
    o("-fstack-usage", NEUTRAL | NO_FILE, Other),
    local("-frepo", ALONE, Other, L::Repo),
    local("-flto", ALONE, Other, L::Lto),
    // Profiles and coverage.
    o("-fprofile", NEUTRAL | WRITES, Other),
    o("-fprofile-update=", NEUTRAL | NO_FILE, Other),
    o("-fprofile-prefix-map=", NEUTRAL | NO_FILE, Other),
    local(
        "-fprofile-arcs",
        ALONE | CPP_NEUTRAL | WRITES,
        Other,
        L::EmitsProfile,
    ),
    local(
        "-fprofile-generate",
        NEUTRAL | WRITES,
        Other,
        L::EmitsProfile,
    ),
    local("-fprofile-use", NEUTRAL | READS, Other, L::ReadsProfile),
    local(
        "-fprofile-correction",
        ALONE | CPP_NEUTRAL | READS,
        Other,
        L::ReadsProfile,
    ),
    local("-fauto-profile", JOINED | READS, Other, L::ReadsProfile),
    local("-ftest-coverage", ALONE | WRITES, Other, L::EmitsProfile),
    local("--coverage", ALONE | WRITES, Other, L::EmitsProfile),
    o("-fcoverage-compilation-dir=", JOINED | NO_FILE, Other),
    // Files read for instrumentation, and modules.
    o("-fsanitize-blacklist", JOINED | READS | UNFOLLOWED, Other),
    o("-fsanitize-ignorelist", JOINED | READS | UNFOLLOWED, Other),
    o("-fsanitize-coverage-", JOINED | READS, Other),
    o("-fxray-", JOINED | READS, Other),
    o("-fmodule", JOINED | READS, Other),
    o("-fmodules", JOINED | READS | UNFOLLOWED, Other),
    o("-fmodule-", JOINED | READS | UNFOLLOWED, Other),
    o("-fprebuilt-module-path", JOINED | READS | UNFOLLOWED, Other),
    o("-fimplicit-module-maps", JOINED | UNFOLLOWED, Other),
    o("-fbuiltin-module-map", JOINED | UNFOLLOWED, Other),
    o("-fpreprocessed", JOINED | UNFOLLOWED, Other),
    o("-fms-compatibility", JOINED | UNFOLLOWED, Other),
    o("-fembed-dir", JOINED | UNFOLLOWED, Other),
    // Paths that only end up as text in the output.
    o("-fdebug-prefix-map", NEUTRAL, Other),
    o("-fdebug-prefix-map=", NEUTRAL | NO_FILE, Other),
    o("-ffile-prefix-map", NEUTRAL, Other),
    o("-ffile-prefix-map=", NEUTRAL | NO_FILE, Other),
    o("-fmacro-prefix-map", NEUTRAL, Other),
    o("-fmacro-prefix-map=", NEUTRAL | NO_FILE, Other),
    o("-fdebug-compilation-dir", JOINED | NO_FILE, Other),
    // Diagnostics.
    o("-fdiagnostics", NEUTRAL, Other),
    o("-fno-diagnostics", NEUTRAL, Other),
    o("-fcolor-diagnostics", NEUTRAL, Other),
    o("-fno-color-diagnostics", NEUTRAL, Other),
    o("-fmessage-length", NEUTRAL, Other),
    o("-fdirectives-only", NEUTRAL, Other),
    o("-fworking-directory", NEUTRAL, Other),
    o("-fno-working-directory", NEUTRAL, Other),
    // Long spellings of harmless options.
    o("--param", SEP | EQ | NO_FILE, Other),
    o("--pipe", ALONE | NO_FILE, Other),
    o("--verbose", ALONE | NO_FILE, Other),
    o("--pedantic", ALONE | NO_FILE, Other),
    o("--pedantic-errors", ALONE | NO_FILE, Other),
    o("--no-warnings", ALONE | NO_FILE, Other),
    o("--all-warnings", ALONE | NO_FILE, Other),
    o("--extra-warnings", ALONE | NO_FILE, Other),
    o("--optimize", JOINED | NO_FILE, Other),
    o("--debug", JOINED | NO_FILE, Other),
    o("--compile", ALONE | NO_FILE, Other),
    o("--assemble", ALONE | NO_FILE, Other),
];

/// How an argument spells the option found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling<'a> {
    /// The name alone; its value (if `SEP`) is the next argument.
    Alone,
    /// `NAMEvalue` (empty for a `JOINED`-only name given alone).
    Joined(&'a [u8]),
    /// `NAME=value`.
    Eq(&'a [u8]),
}

#[derive(Clone, Copy)]
pub(crate) struct Hit<'a> {
    pub spec: &'static OptionSpec,
    pub spelling: Spelling<'a>,
}

impl<'a> Hit<'a> {
    /// The name alone, with its value in the next argument.
    pub fn takes_next(&self) -> bool {
        self.spelling == Spelling::Alone && self.spec.has(SEP)
    }

    /// The joined or `=` value; `None` when it is the next argument.
    pub fn value(&self) -> Option<&'a [u8]> {
        match self.spelling {
            Spelling::Joined(v) | Spelling::Eq(v) => Some(v),
            Spelling::Alone => None,
        }
    }

    pub fn kind(&self) -> Kind {
        self.spec.kind
    }

    pub fn has(&self, f: u32) -> bool {
        self.spec.has(f)
    }
}

/// How `arg` spells `spec`, if it does.
fn spelled<'a>(spec: &OptionSpec, arg: &'a [u8]) -> Option<Spelling<'a>> {
    let rest = arg.strip_prefix(spec.name)?;
    if rest.is_empty() && spec.has(ALONE | SEP) {
        Some(Spelling::Alone)
    } else if spec.has(JOINED) {
        Some(Spelling::Joined(rest))
    } else if spec.has(EQ) {
        rest.strip_prefix(b"=").map(Spelling::Eq)
    } else {
        None
    }
}

/// The option `arg` is, among the rows `wanted` accepts: the longest name
/// that `arg` spells.
pub(crate) fn find<'a>(arg: &'a [u8], wanted: impl Fn(&OptionSpec) -> bool) -> Option<Hit<'a>> {
    let mut best: Option<Hit<'a>> = None;
    for spec in OPTIONS {
        if best.is_some_and(|b| b.spec.name.len() >= spec.name.len()) || !wanted(spec) {
            continue;
        }
        if let Some(spelling) = spelled(spec, arg) {
            best = Some(Hit { spec, spelling });
        }
    }
    best
}

/// The row named exactly `name`.
pub(crate) fn by_name(name: &[u8]) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod pinned;

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn names_are_unique_options_with_a_spelling() {
        for (k, o) in OPTIONS.iter().enumerate() {
            let n = s(o.name);
            assert!(n.starts_with('-'), "{n}");
            assert!(o.has(ALONE | SEP | JOINED | EQ), "{n} has no spelling");
            assert!(OPTIONS[..k].iter().all(|p| p.name != o.name), "{n} twice");
            if !o.short.is_empty() {
                assert!(o.is_long(), "{n} has a short form but is not long");
                assert!(by_name(o.short).is_some(), "{n}: no row {}", s(o.short));
            }
        }
    }

    /// Every row is found, as itself, in every spelling it allows.
    #[test]
    fn every_row_parses_in_each_spelling() {
        for o in OPTIONS {
            let n = s(o.name);
            let name = o.name.to_vec();
            fn found<'a>(n: &str, arg: &'a [u8]) -> Spelling<'a> {
                let h = find(arg, |_| true).unwrap_or_else(|| panic!("{n}: {}", s(arg)));
                assert_eq!(s(h.spec.name), n, "{}", s(arg));
                h.spelling
            }
            let hit = |arg| found(&n, arg);
            if o.has(ALONE | SEP) {
                assert_eq!(hit(&name), Spelling::Alone);
                let h = find(&name, |_| true).unwrap();
                assert_eq!(h.takes_next(), o.has(SEP), "{n}");
            } else if o.has(JOINED) {
                assert_eq!(hit(&name), Spelling::Joined(b""));
            } else {
                assert!(find(&name, |p| p.name == o.name).is_none(), "{n} alone");
            }
            let joined = [o.name, b"#v"].concat();
            if o.has(JOINED) {
                assert_eq!(hit(&joined), Spelling::Joined(b"#v"));
            } else {
                assert!(find(&joined, |p| p.name == o.name).is_none(), "{n}#v");
            }
            if o.has(EQ) {
                let eq = [o.name, b"=v"].concat();
                assert_eq!(hit(&eq), Spelling::Eq(b"v"));
            }
        }
    }

    #[test]
    fn the_longest_name_wins_among_the_rows_asked_about() {
        let h = find(b"-MFdeps.d", |_| true).unwrap();
        assert_eq!(
            (h.spec.name, h.spelling),
            (&b"-MF"[..], Spelling::Joined(b"deps.d"))
        );
        assert_eq!(find(b"-MM", |_| true).unwrap().spec.name, b"-M");
        assert_eq!(
            find(b"-include-pch", |_| true).unwrap().spec.name,
            b"-include-pch"
        );
        let paths = find(b"-include-pch", |o| o.has(CPP_PATH)).unwrap();
        assert_eq!(paths.spelling, Spelling::Joined(b"-pch"));
        assert_eq!(
            find(b"--param=x", |_| true).unwrap().value(),
            Some(&b"x"[..])
        );
        assert!(find(b"--paramx", |_| true).is_none());
        assert!(find(b"-target", |_| true).unwrap().takes_next());
        assert!(find(b"-Wall", |_| true).is_none());
    }
}
