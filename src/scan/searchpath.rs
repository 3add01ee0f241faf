//! gcc's include search path, from the command line and the compiler's
//! defaults, with gcc's rules for dropping duplicate directories
//! (libcpp's `remove_duplicates` / `merge_include_chains`): the first
//! directory that holds a header must be the one gcc picks.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::gcc_options::{self as gcc, flag::*, Kind};

/// The options of a compile that decide what the preprocessor reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SearchOpts {
    /// `-iquote`.
    pub quote: Vec<OsString>,
    /// `-I`, `-iwithprefixbefore`.
    pub bracket: Vec<OsString>,
    /// `-isystem`.
    pub system: Vec<OsString>,
    /// `-idirafter`, `-iwithprefix`.
    pub after: Vec<OsString>,
    /// `-imacros` and `-include` files, in order.
    pub preincludes: Vec<OsString>,
    /// `-D` (true) / `-U` (false), in order.
    pub defines: Vec<(bool, OsString)>,
    /// The language of the source: c, c++, objective-c, objective-c++.
    pub lang: String,
    /// Options that can change the compiler's default dirs or predefined
    /// macros; passed to the compiler when asking it, and part of the key.
    pub query_flags: Vec<OsString>,
    /// No compiler default dirs, and no implicit `<stdc-predef.h>`.
    pub nostdinc: bool,
    pub input: OsString,
}

/// gcc takes any unambiguous abbreviation of a long option: an unknown
/// one that begins like a preprocessor option's long name may be one.
const ABBREVIATED: &[&str] = &[
    "--inc",
    "--ima",
    "--def",
    "--und",
    "--no-standard",
    "--lang",
    "--sys",
    "--pre",
];

fn give_up<T>(why: impl Into<String>) -> Result<T, String> {
    Err(why.into())
}

/// An argument for a message (lossy: never used to find a file).
fn shown(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `str::escape_default`'s text (`\n`, `\"`, `\u{e9}`...), written here:
/// core's escaping iterators cost the armv7 binary most of a kilobyte.
fn escaped(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\\' | '\'' | '"' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out
}

fn os(b: &[u8]) -> OsString {
    OsString::from_vec(b.to_vec())
}

/// Read a compile's command line (after `args::scan`: `-Wp,` expanded).
/// `Err` says why the scanner cannot follow it. Arguments are bytes:
/// directories, macro values and file names need not be UTF-8.
pub fn parse(argv: &[OsString], input_index: usize) -> Result<SearchOpts, String> {
    let mut o = SearchOpts::default();
    let driver = argv
        .first()
        .map(|a| crate::args::basename(a.as_bytes()).to_vec())
        .unwrap_or_default();
    let mut lang: Option<Vec<u8>> = None;
    let mut input_lang: Option<Vec<u8>> = None;
    let mut iprefix: Option<Vec<u8>> = None;
    // Canonicalize long options first: `--opt=v` / `--opt v`.
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(argv.len());
    let mut index_map: Vec<usize> = Vec::new();
    for a in argv {
        let a = a.as_bytes();
        index_map.push(args.len());
        if let Some(long) = a.strip_prefix(b"--") {
            let (name, val) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => ([b"--", &long[..eq]].concat(), Some(&long[eq + 1..])),
                None => (a.to_vec(), None),
            };
            if let Some(o) = gcc::by_name(&name).filter(|o| !o.short.is_empty()) {
                let short = o.short;
                match val {
                    Some(v) if gcc::by_name(short).is_some_and(|s| s.has(EQ)) => {
                        args.push([short, b"=", v].concat());
                    }
                    Some(v) => {
                        args.push(short.to_vec());
                        args.push(v.to_vec());
                    }
                    None => args.push(short.to_vec()),
                }
                continue;
            }
            if ABBREVIATED.iter().any(|p| name.starts_with(p.as_bytes())) {
                return give_up(format!("{}: unrecognised preprocessor option", shown(a)));
            }
        }
        args.push(a.to_vec());
    }
    let input_index = index_map.get(input_index).copied().unwrap_or(usize::MAX);
    let mut i = 1;
    while i < args.len() {
        let a = args[i].clone();
        let a = a.as_slice();
        let at = |p: &str| a.starts_with(p.as_bytes());
        let sa = shown(a);
        i += 1;
        if i - 1 == input_index {
            o.input = os(a);
            input_lang = lang.clone();
            continue;
        }
        if at("@") {
            return give_up(format!("{sa}: response files are not supported"));
        }
        if !at("-") || a == b"-" {
            continue;
        }
        let hit = gcc::find(a, |_| true);
        let kind = hit.map_or(Kind::Other, |h| h.kind());
        let has = |f: u32| hit.is_some_and(|h| h.has(f));
        let takes_next = hit.is_some_and(|h| h.takes_next());
        // The joined value, or the next argument.
        let joined = hit.and_then(|h| h.value()).filter(|v| !v.is_empty());
        let mut value = || -> Result<Vec<u8>, String> {
            if let Some(v) = joined {
                return Ok(v.to_vec());
            }
            match args.get(i) {
                Some(v) => {
                    i += 1;
                    Ok(v.clone())
                }
                None => give_up(format!("{sa}: missing argument")),
            }
        };
        match kind {
            Kind::IncludeBarrier => {
                return give_up("-I- (obsolete quote/bracket split) is not supported")
            }
            Kind::BracketDir => {
                let d = value()?;
                check_dir(&sa, &d)?;
                o.bracket.push(os(&d));
                continue;
            }
            Kind::Define | Kind::Undefine => {
                let opt = &sa[..2];
                let v = value()?;
                // The scanner reads `-DX=v` as the line `#define X v`.
                if v.contains(&b'\n') || v.contains(&b'\r') {
                    // escape_default's text, not {:?}: the ARM build prints no Debug.
                    return give_up(format!(
                        "{opt}\"{}\": a macro with a newline",
                        escaped(&shown(&v))
                    ));
                }
                o.defines.push((kind == Kind::Define, os(&v)));
                continue;
            }
            Kind::Language => {
                let v = value()?;
                lang = (v != b"none").then_some(v);
                continue;
            }
            _ => {}
        }
        if at("-i") {
            let unrecognised = || give_up(format!("{sa}: unrecognised preprocessor option"));
            let Some(h) = hit else {
                return unrecognised();
            };
            if h.has(UNFOLLOWED) {
                return give_up(format!("{sa} is not supported"));
            }
            if h.has(CPP_NEUTRAL) {
                continue;
            }
            let known = h.has(QUERY)
                || matches!(
                    kind,
                    Kind::QuoteDir
                        | Kind::SystemDir
                        | Kind::AfterDir
                        | Kind::Include
                        | Kind::Imacros
                        | Kind::IPrefix
                        | Kind::WithPrefix
                        | Kind::WithPrefixBefore
                );
            if !known {
                return unrecognised();
            }
            let v = value()?;
            if joined.is_some() && v.starts_with(b"-") {
                return unrecognised();
            }
            match kind {
                Kind::QuoteDir => {
                    check_dir(&sa, &v)?;
                    o.quote.push(os(&v))
                }
                Kind::SystemDir => {
                    check_dir(&sa, &v)?;
                    o.system.push(os(&v))
                }
                Kind::AfterDir => {
                    check_dir(&sa, &v)?;
                    o.after.push(os(&v))
                }
                Kind::Include | Kind::Imacros => o.preincludes.push(os(&v)),
                Kind::IPrefix => iprefix = Some(v),
                Kind::WithPrefix | Kind::WithPrefixBefore => {
                    let Some(p) = &iprefix else {
                        return give_up(format!(
                            "{sa} without -iprefix (uses the compiler's own prefix)"
                        ));
                    };
                    let d = [p.as_slice(), &v].concat();
                    check_dir(&sa, &d)?;
                    if kind == Kind::WithPrefix {
                        o.after.push(os(&d))
                    } else {
                        o.bracket.push(os(&d))
                    }
                }
                // Changes the defaults: passed to the compiler query.
                _ => {
                    o.query_flags.push(os(h.spec.name));
                    o.query_flags.push(os(&v));
                }
            }
            continue;
        }
        match kind {
            Kind::NoStdInc => {
                o.nostdinc = true;
                o.query_flags.push(os(a));
                continue;
            }
            Kind::Traditional => {
                return give_up(format!("{sa}: traditional preprocessing is not supported"))
            }
            Kind::Remap => return give_up("-remap is not supported"),
            Kind::CppPass | Kind::Clang if takes_next => {
                return give_up(format!("{sa}: options passed straight to the preprocessor"))
            }
            Kind::Arch => return give_up("-arch (Darwin) is not supported"),
            Kind::Framework => return give_up(format!("{sa}: framework dirs are not supported")),
            Kind::Specs => return give_up(format!("{sa}: spec files are not supported")),
            Kind::Charset => {
                let f = joined.unwrap_or_default().to_ascii_lowercase();
                if f != b"utf-8" && f != b"utf8" {
                    return give_up(format!("{sa}: only UTF-8 sources are supported"));
                }
                continue;
            }
            _ => {}
        }
        if has(QUERY) {
            o.query_flags.push(os(a));
            if takes_next {
                o.query_flags
                    .push(os(&args.get(i).cloned().unwrap_or_default()));
                i += 1;
            }
            continue;
        }
        if takes_next {
            i += 1;
            continue;
        }
        // Other `-f` options can change the predefined macros.
        if at("-f") {
            if has(UNFOLLOWED) {
                return give_up(format!("{sa} is not supported"));
            }
            if !has(CPP_NEUTRAL) {
                o.query_flags.push(os(a));
            }
        }
    }
    if o.input.is_empty() {
        return give_up("no source file");
    }
    o.lang = match input_lang {
        // Languages are ASCII words: anything else is not one of ours.
        Some(l) => shown(&l).into_owned(),
        None => lang_of(o.input.as_bytes(), &driver)?,
    };
    match o.lang.as_str() {
        "c" | "c++" | "objective-c" | "objective-c++" => {}
        l => return give_up(format!("-x {l}: language not supported in pump mode")),
    }
    Ok(o)
}

/// gcc's language for a source by its extension; `g++`/`clang++` compile
/// `.c` files as C++.
fn lang_of(input: &[u8], driver: &[u8]) -> Result<String, String> {
    let cxx_driver = driver.windows(2).any(|w| w == b"++");
    let base = crate::args::basename(input);
    let ext = match base.iter().rposition(|&b| b == b'.') {
        Some(i) => &base[i + 1..],
        None => b"",
    };
    Ok(match ext {
        b"c" if cxx_driver => "c++",
        b"c" => "c",
        b"cc" | b"cpp" | b"cxx" | b"cp" | b"c++" | b"C" | b"CPP" => "c++",
        b"m" if cxx_driver => "objective-c++",
        b"m" => "objective-c",
        b"mm" | b"M" => "objective-c++",
        b"i" | b"ii" | b"mi" | b"mii" => {
            return give_up(format!("{}: already preprocessed", shown(input)));
        }
        _ => return give_up(format!("{}: unknown source language", shown(input))),
    }
    .to_string())
}

/// `=dir` and `$SYSROOT/dir` are relative to the sysroot, which the scanner
/// does not compute; an empty dir is the cwd in a way gcc documents poorly.
fn check_dir(opt: &str, d: &[u8]) -> Result<(), String> {
    if d.is_empty() {
        return give_up(format!("{opt}: empty directory"));
    }
    if d.starts_with(b"=") || d.starts_with(b"$SYSROOT") {
        return give_up(format!(
            "{opt} {}: sysroot-relative dirs are not supported",
            shown(d)
        ));
    }
    Ok(())
}

/// One directory of the search chain, spelled as gcc uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDir {
    pub name: OsString,
    /// A system dir (`-isystem`, `-idirafter`, a default): gcc shortens the
    /// names of files found there to their real path when that is shorter.
    pub sysp: bool,
    /// One of the compiler's default dirs: its files are not shipped.
    pub default: bool,
}

/// The chain gcc searches: quote dirs, then from `bracket_start` the
/// bracket dirs, the system dirs and the after dirs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    pub dirs: Vec<ChainDir>,
    pub bracket_start: usize,
}

/// What `stat` says of a directory: `None` if it does not exist,
/// `Some(None)` if it is not a directory, else its (dev, ino).
pub type DirId = Option<Option<(u64, u64)>>;

/// Build the chain with gcc's duplicate removal. `stat` is called once per
/// directory.
pub fn build_chain(
    o: &SearchOpts,
    defaults: &super::compiler_dirs::DefaultDirs,
    mut stat: impl FnMut(&OsStr) -> DirId,
) -> Chain {
    let mut ids: crate::fxhash::FxMap<OsString, DirId> = Default::default();
    let mut id = |n: &OsStr| -> DirId { *ids.entry(n.to_os_string()).or_insert_with(|| stat(n)) };
    let mk = |names: &[OsString], sysp: bool, default: bool| -> Vec<ChainDir> {
        names
            .iter()
            .map(|n| ChainDir {
                name: n.clone(),
                sysp,
                default,
            })
            .collect()
    };
    // gcc's INC_SYSTEM chain: -isystem, the defaults, then -idirafter.
    let mut system = mk(&o.system, true, false);
    system.extend(mk(&defaults.bracket, true, true));
    system.extend(mk(&o.after, true, false));
    let mut quote = mk(&o.quote, false, false);
    quote.extend(mk(&defaults.quote, false, true));
    let bracket = mk(&o.bracket, false, false);

    // remove_duplicates(): drop dirs that are missing or not dirs, dirs
    // already in `system`, earlier duplicates in the same chain, and a last
    // dir equal to the head of the chain it is joined to.
    fn dedup(
        chain: Vec<ChainDir>,
        system: &[(ChainDir, (u64, u64))],
        join: Option<(u64, u64)>,
        id: &mut dyn FnMut(&OsStr) -> DirId,
    ) -> Vec<(ChainDir, (u64, u64))> {
        let n = chain.len();
        let mut kept: Vec<(ChainDir, (u64, u64))> = Vec::new();
        for (k, d) in chain.into_iter().enumerate() {
            let Some(Some(di)) = id(&d.name) else {
                continue;
            };
            if system.iter().any(|(_, s)| *s == di) {
                continue;
            }
            if kept.iter().any(|(_, s)| *s == di) {
                continue;
            }
            if k + 1 == n && join == Some(di) {
                continue;
            }
            kept.push((d, di));
        }
        kept
    }
    let system = dedup(system, &[], None, &mut id);
    let bracket = dedup(bracket, &system, system.first().map(|x| x.1), &mut id);
    let bracket_head = bracket.first().or(system.first()).map(|x| x.1);
    let quote = dedup(quote, &system, bracket_head, &mut id);
    let bracket_start = quote.len();
    let dirs = quote
        .into_iter()
        .chain(bracket)
        .chain(system)
        .map(|(d, _)| d)
        .collect();
    Chain {
        dirs,
        bracket_start,
    }
}

#[cfg(test)]
mod tests {
    use super::super::compiler_dirs::DefaultDirs;
    use super::*;

    #[test]
    fn escaped_is_escape_default() {
        let s = "a\tb\r\n\\ 'q' \"d\" ~\u{7f}\u{0}é\u{1F600}";
        assert_eq!(escaped(s), s.escape_default().to_string());
    }

    fn v(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    fn p(s: &str) -> Result<SearchOpts, String> {
        let a = v(s);
        let idx = a
            .iter()
            .position(|x| {
                let x = x.to_string_lossy();
                x.ends_with(".c") || x.ends_with(".cc")
            })
            .unwrap();
        parse(&a, idx)
    }

    #[test]
    fn options() {
        let o = p(
            "gcc -Ia -I b -iquote q -iquoteq2 -isystem s -idirafter z -include f.h \
                   -imacros m.h -DX=1 -UY -O2 -m32 -std=gnu11 -Wall -o x.o -c x.c",
        )
        .unwrap();
        assert_eq!(o.bracket, ["a", "b"]);
        assert_eq!(o.quote, ["q", "q2"]);
        assert_eq!(o.system, ["s"]);
        assert_eq!(o.after, ["z"]);
        assert_eq!(o.preincludes, ["f.h", "m.h"]);
        assert_eq!(o.defines, [(true, "X=1".into()), (false, "Y".into())]);
        assert_eq!(o.query_flags, ["-O2", "-m32", "-std=gnu11"]);
        assert_eq!(o.lang, "c");
        assert_eq!(o.input, "x.c");
        let o = p("g++ -c x.c --include-directory=inc --sysroot=/sr -iprefix /p/ -iwithprefix w")
            .unwrap();
        assert_eq!(o.lang, "c++");
        assert_eq!(o.bracket, ["inc"]);
        assert_eq!(o.after, ["/p/w"]);
        assert_eq!(o.query_flags, ["--sysroot=/sr"]);
        assert_eq!(p("gcc -x c++ -c x.c").unwrap().lang, "c++");
        assert_eq!(p("gcc -c x.c -x c++").unwrap().lang, "c");
    }

    #[test]
    fn give_ups() {
        for s in [
            "gcc -I- -c x.c",
            "gcc @opts -c x.c",
            "gcc -I=inc -c x.c",
            "gcc -iwithprefix w -c x.c",
            "gcc -traditional-cpp -c x.c",
            "gcc -Xpreprocessor -I -Xpreprocessor d -c x.c",
            "gcc -fplugin=p.so -c x.c",
            "gcc -isystem-after d -c x.c",
            "gcc -iframework d -c x.c",
            "clang -include-pch p.pch -c x.c",
            "gcc -ivfsoverlay o.yaml -c x.c",
            "gcc --include-dir=x -c x.c",
        ] {
            assert!(p(s).is_err(), "{s} should give up");
        }
    }

    #[test]
    fn dedup_rules() {
        // (dev, ino) by name: a and ./a are the same dir; /usr/include is a
        // default.
        let stat = |n: &OsStr| -> DirId {
            match n.to_str().unwrap_or("") {
                "a" | "./a" => Some(Some((1, 1))),
                "b" => Some(Some((1, 2))),
                "/usr/include" => Some(Some((1, 3))),
                "/gcc/include" => Some(Some((1, 4))),
                "file" => Some(None),
                _ => None,
            }
        };
        let defaults = DefaultDirs {
            quote: vec![],
            bracket: v("/gcc/include /usr/include"),
        };
        let chain = |s: &str| {
            let o = p(&format!("gcc {s} -c x.c")).unwrap();
            let c = build_chain(&o, &defaults, stat);
            let names: Vec<String> = c
                .dirs
                .iter()
                .map(|d| d.name.to_string_lossy().into_owned())
                .collect();
            (names.join(" "), c.bracket_start)
        };
        assert_eq!(chain("-I/usr/include").0, "/gcc/include /usr/include");
        assert_eq!(
            chain("-isystem /usr/include").0,
            "/usr/include /gcc/include"
        );
        assert_eq!(
            chain("-Ia -I./a -Ib -Ia").0,
            "a b /gcc/include /usr/include"
        );
        assert_eq!(
            chain("-iquote a -Ia"),
            ("a /gcc/include /usr/include".into(), 0)
        );
        assert_eq!(
            chain("-iquote a -iquote b -Ia"),
            ("a b a /gcc/include /usr/include".into(), 2)
        );
        assert_eq!(chain("-Ia -isystem a").0, "a /gcc/include /usr/include");
        assert_eq!(chain("-idirafter a -Ia").0, "/gcc/include /usr/include a");
        assert_eq!(
            chain("-Imissing -Ifile -Ib").0,
            "b /gcc/include /usr/include"
        );
    }
}
