//! What a client may ask the compiler to do. distccd checks only argv[0]
//! and two options, so any allowed client can still run programs on the
//! server (`-wrapper`), load code (`-fplugin=`, `-B`), and read or write
//! files (`@file`, `-MF`, `-fdump-…=`). Here every argument of a plain-mode
//! (preprocessed input) job passes through `rule`, which judges what
//! `gcc_options` says of the option, before anything runs; what it has no
//! rule for is judged by the catch-all in `check_arg`: no `@file`, no
//! unknown long options, no path anywhere except the input and the output,
//! which the daemon rewrites into the job's directory.

use std::ffi::{OsStr, OsString};

/// What to do with one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// Never allowed: the reason is shown to the client and logged.
    Refuse(&'static str),
    /// Preprocessor-only, so no effect on preprocessed input: dropped
    /// (`sep`: with the separate value that follows when not joined).
    Drop { sep: bool },
    /// Allowed as is, also when its value contains a slash.
    Keep,
    /// Allowed with a separate value that is not a path (`--param X`).
    KeepNext,
    /// Allowed with any separate value: linker options, unused by `-c`.
    KeepNextRaw,
    /// `-o`: kept; the daemon replaces the value with a job-dir path.
    Output,
    /// `-x LANG`: rewritten to the preprocessed language, or refused.
    Language,
    /// `-save-temps[=cwd|obj]`: temps land in the job dir (our cwd).
    SaveTemps,
    /// `-Wa,a,b`: each item checked as an assembler option.
    AssemblerList,
    /// `-Xassembler X`: X checked as an assembler option.
    AssemblerNext,
    /// `-Xclang X`: X checked as a compiler option (and clang's own rules).
    ClangNext,
    /// `--sysroot=DIR`, `-isysroot DIR`: an absolute directory, no `..`.
    Sysroot { sep: bool },
}

use crate::gcc_options::{self as gcc, flag::*, Hit, Kind, OptionSpec, Spelling};
use Act::*;

const RUNS_PROGRAM: &str = "makes the compiler run another program";
const LOADS_CODE: &str = "makes the compiler load code from a file";
const READS_FILE: &str = "makes the compiler read a file on the server";
const WRITES_FILE: &str = "makes the compiler write a file outside the job";
const NOT_PREPROCESSED: &str = "has no place in a job whose input is already preprocessed";

/// The options `rule` judges; the others go to the catch-all.
fn judged(o: &OptionSpec) -> bool {
    o.has(RUNS | LOADS | READS | WRITES | NO_FILE | CPP_ONLY)
        || matches!(
            o.kind,
            Kind::Output
                | Kind::Language
                | Kind::SaveTemps
                | Kind::Assembler
                | Kind::Clang
                | Kind::Linker
                | Kind::Sysroot
                | Kind::CppPass
                | Kind::Deps
                | Kind::DepsToFile
                | Kind::DepsFlag
                | Kind::DepsFile
                | Kind::DepsTarget
        )
}

/// What to do with the option `a`, from what gcc does with it. Long
/// (`--x`) spellings are judged as the short ones, or refused.
fn rule(a: &str) -> Option<(Act, Hit<'_>)> {
    let hit = gcc::find(a.as_bytes(), judged)?;
    let o = hit.spec;
    let deps = matches!(
        o.kind,
        Kind::CppPass
            | Kind::Deps
            | Kind::DepsToFile
            | Kind::DepsFlag
            | Kind::DepsFile
            | Kind::DepsTarget
    );
    let act = if o.has(RUNS) {
        Refuse(RUNS_PROGRAM)
    } else if o.has(LOADS) {
        Refuse(LOADS_CODE)
    } else if deps {
        Refuse(NOT_PREPROCESSED)
    } else if o.has(READS) {
        Refuse(READS_FILE)
    } else if o.has(WRITES) {
        Refuse(WRITES_FILE)
    } else {
        match o.kind {
            Kind::Output => Output,
            Kind::Language if o.is_long() => Refuse("is only accepted as -x"),
            Kind::Language => Language,
            Kind::SaveTemps => SaveTemps,
            Kind::Assembler if o.is_long() => Refuse("is only accepted as -Wa, or -Xassembler"),
            Kind::Assembler if hit.takes_next() => AssemblerNext,
            Kind::Assembler => AssemblerList,
            Kind::Clang => ClangNext,
            Kind::Linker if hit.takes_next() => KeepNextRaw,
            Kind::Linker => Keep,
            // `-isysrootDIR` is left to the catch-all.
            Kind::Sysroot => match hit.spelling {
                Spelling::Alone => Sysroot { sep: true },
                Spelling::Eq(_) => Sysroot { sep: false },
                Spelling::Joined(_) => return None,
            },
            _ if o.has(NO_FILE) && hit.takes_next() => KeepNext,
            _ if o.has(NO_FILE) => Keep,
            _ if o.has(CPP_ONLY) => Drop {
                sep: hit.takes_next(),
            },
            _ => return None,
        }
    };
    Some((act, hit))
}

/// The joined part of `a` that `hit` found (empty when the value is the
/// next argument).
fn joined<'a>(a: &'a str, hit: &Hit) -> &'a str {
    &a[a.len() - hit.value().map_or(0, <[u8]>::len)..]
}

/// Assembler options (inside `-Wa,` or after `-Xassembler`).
fn check_assembler(item: &str) -> Result<(), String> {
    let bad = item.starts_with("-a")
        || item.starts_with("--MD")
        || item.starts_with("-MD")
        || item.starts_with("-I")
        || item.starts_with("-o")
        || item.starts_with("@")
        || item.starts_with("--listing")
        || item.contains('/');
    if bad {
        Err(format!(
            "assembler option '{item}' {READS_FILE} or writes one"
        ))
    } else {
        Ok(())
    }
}

/// clang `-cc1` options that load code, on top of the driver's rules.
fn check_clang(item: &str) -> Result<(), String> {
    if ["-load", "-plugin", "-add-plugin", "-plugin-arg"]
        .iter()
        .any(|p| item.starts_with(p))
    {
        return Err(format!("clang option '{item}' {LOADS_CODE}"));
    }
    match check_arg(item)? {
        Outcome::Keep => Ok(()),
        _ => Err(format!("'-Xclang {item}' is not allowed")),
    }
}

/// The preprocessed language for `-x LANG`.
fn preprocessed_language(lang: &str) -> Option<&'static str> {
    Some(match lang {
        "c" | "cpp-output" => "cpp-output",
        "c++" | "c++-cpp-output" => "c++-cpp-output",
        "objective-c" | "objective-c-cpp-output" => "objective-c-cpp-output",
        "objective-c++" | "objective-c++-cpp-output" => "objective-c++-cpp-output",
        "none" => "none",
        _ => return None,
    })
}

/// Pump mode compiles real sources: the C family only (no assembler, whose
/// `.include` and `.incbin` read files).
fn source_language(lang: &str) -> Option<&'static str> {
    Some(match lang {
        "c" => "c",
        "c++" => "c++",
        "objective-c" => "objective-c",
        "objective-c++" => "objective-c++",
        "c-header" => "c-header",
        "c++-header" => "c++-header",
        "none" => "none",
        l => return preprocessed_language(l),
    })
}

enum Outcome<'a> {
    Keep,
    /// Dropped, with the next argument when `true`.
    Drop(bool),
    /// The argument (and maybe its value) is handled by a table action.
    Act(Act, Hit<'a>),
}

fn looks_like_path(a: &str) -> bool {
    a.contains('/')
}

/// The catch-all for one argument that needs no separate value.
fn check_arg(a: &str) -> Result<Outcome<'_>, String> {
    if a.starts_with('@') {
        return Err(format!("'{a}' reads a response file on the server"));
    }
    match rule(a) {
        Some((Refuse(why), _)) => Err(format!("argument '{a}' {why}")),
        Some((Keep, _)) => Ok(Outcome::Keep),
        Some((Drop { sep }, _)) => Ok(Outcome::Drop(sep)),
        Some((act, hit)) => Ok(Outcome::Act(act, hit)),
        None if a.starts_with("--") => Err(format!("unknown long option '{a}' is not allowed")),
        None if looks_like_path(a) => Err(format!("argument '{a}' names a path on the server")),
        None => Ok(Outcome::Keep),
    }
}

/// Which kind of job the argv is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Protocols 1 and 2: the input is preprocessed.
    Plain,
    /// Protocol 3: the server preprocesses the real source with the client's
    /// shipped headers, so search paths, macros and dependency options stay.
    Pump,
}

/// Pump mode: preprocessor options are needed, and their paths are
/// resolved inside the job's mirror of the client (absolute ones get the
/// job directory in front), so they may not climb out of it. Returns
/// (takes a separate value, the value is a path, the joined value).
/// `-include` and `-imacros` are only accepted with a separate value.
fn pump_rule(a: &str) -> Option<(bool, bool, &str)> {
    let b = a.as_bytes();
    if let Some(h) = gcc::find(b, |o| o.has(CPP_PATH)) {
        let preinclude = matches!(h.kind(), Kind::Include | Kind::Imacros);
        match h.spelling {
            Spelling::Alone => return Some((true, true, "")),
            Spelling::Joined(v) if !preinclude => {
                return Some((false, true, &a[a.len() - v.len()..]))
            }
            _ => {}
        }
    }
    let h = gcc::find(b, |o| {
        o.has(CPP_ONLY) && !o.has(CPP_PATH)
            || matches!(o.kind, Kind::DepsToFile | Kind::DepsFlag | Kind::DepsTarget)
    })?;
    Some((h.takes_next(), false, ""))
}

/// Make a client's argv safe to run, or say why not. `input` and `output`
/// are the indices (in `argv`) of the source and of the output value; they
/// are kept for the daemon to rewrite. Returns the new argv and the new
/// positions of input and output. In pump mode `cwd` is the client's
/// working directory (relative paths must stay inside the mirror).
#[cfg(test)]
pub fn sanitize(
    argv: &[OsString],
    input: usize,
    output: usize,
) -> Result<(Vec<OsString>, usize, usize), String> {
    sanitize_mode(argv, input, output, Mode::Plain, OsStr::new("/"))
}

/// One argument of the sanitized argv.
enum Out {
    /// The client's argument at this index, byte for byte.
    Client(usize),
    /// One of ours (a rewritten language or `-save-temps`).
    Ours(String),
}

pub fn sanitize_mode(
    argv: &[OsString],
    input: usize,
    output: usize,
    mode: Mode,
    cwd: &OsStr,
) -> Result<(Vec<OsString>, usize, usize), String> {
    // The rules are decided on a lossy text view: they look only at ASCII
    // (option names, '/', '@', '..', '='), and a lossy conversion neither
    // adds nor removes an ASCII byte, so they decide as on the bytes. What
    // is run is the client's bytes.
    let text: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (out, new_in, new_out) = decide(&text, input, output, mode, &cwd.to_string_lossy())?;
    let out = out
        .into_iter()
        .map(|o| match o {
            Out::Client(i) => argv[i].clone(),
            Out::Ours(s) => s.into(),
        })
        .collect();
    Ok((out, new_in, new_out))
}

fn decide(
    argv: &[String],
    input: usize,
    output: usize,
    mode: Mode,
    cwd: &str,
) -> Result<(Vec<Out>, usize, usize), String> {
    let mut out: Vec<Out> = Vec::with_capacity(argv.len());
    out.push(Out::Client(0));
    let (mut new_in, mut new_out) = (0, 0);
    let mut i = 1;
    let value = |i: usize, opt: &str| -> Result<&String, String> {
        argv.get(i + 1)
            .ok_or_else(|| format!("argument '{opt}' is missing its value"))
    };
    while i < argv.len() {
        let a = argv[i].as_str();
        if i == input {
            new_in = out.len();
            out.push(Out::Client(i));
            i += 1;
            continue;
        }
        if i == output {
            new_out = out.len();
            out.push(Out::Client(i));
            i += 1;
            continue;
        }
        if mode == Mode::Pump {
            // The daemon writes the dependency file itself.
            if let Some(h) = gcc::find(a.as_bytes(), |o| o.kind == Kind::DepsFile) {
                if h.takes_next() {
                    value(i, a)?;
                    i += 1;
                }
                i += 1;
                continue;
            }
            if let Some((sep, is_path, joined)) = pump_rule(a) {
                let v = if sep { value(i, a)?.as_str() } else { joined };
                let inside = super::pump_job::stays_inside(cwd.as_bytes(), v.as_bytes());
                if is_path && (v.starts_with('@') || !inside) {
                    return Err(format!("argument '{a} {v}' reaches outside the job"));
                }
                out.push(Out::Client(i));
                if sep {
                    out.push(Out::Client(i + 1));
                    i += 1;
                }
                i += 1;
                continue;
            }
        }
        if !a.starts_with('-') || a == "-" {
            if a.starts_with('@') {
                return Err(format!("'{a}' reads a response file on the server"));
            }
            return Err(format!("extra input '{a}' would be read on the server"));
        }
        match check_arg(a)? {
            Outcome::Keep => out.push(Out::Client(i)),
            Outcome::Drop(sep) => {
                if sep {
                    value(i, a)?;
                    i += 1;
                }
            }
            Outcome::Act(act, hit) => match act {
                Output => {
                    // The real output is at index `output` (its value, or the
                    // joined `-oFILE`, caught by the index checks above).
                    if !hit.takes_next() || i + 1 != output {
                        return Err(format!("a second output '{a}' {WRITES_FILE}"));
                    }
                    out.push(Out::Client(i));
                }
                KeepNextRaw => {
                    value(i, a)?;
                    out.push(Out::Client(i));
                    out.push(Out::Client(i + 1));
                    i += 1;
                }
                KeepNext => {
                    let v = value(i, a)?;
                    if looks_like_path(v) || v.starts_with('@') {
                        return Err(format!("argument '{a} {v}' names a path on the server"));
                    }
                    out.push(Out::Client(i));
                    out.push(Out::Client(i + 1));
                    i += 1;
                }
                Language => {
                    let sep = hit.takes_next();
                    let lang = if sep {
                        value(i, a)?.as_str()
                    } else {
                        joined(a, &hit)
                    };
                    let pp = match mode {
                        Mode::Pump => source_language(lang),
                        Mode::Plain => preprocessed_language(lang),
                    };
                    let Some(pp) = pp else {
                        return Err(format!("language '{lang}' could read files on the server"));
                    };
                    out.push(Out::Ours("-x".into()));
                    out.push(Out::Ours(pp.into()));
                    if sep {
                        i += 1;
                    }
                }
                SaveTemps => {
                    let v = a.split_once('=').map(|(_, v)| v);
                    if !matches!(v, None | Some("cwd") | Some("obj")) {
                        return Err(format!("argument '{a}' {WRITES_FILE}"));
                    }
                    out.push(Out::Ours(format!("-{}", a.trim_start_matches('-'))));
                }
                AssemblerList => {
                    for item in joined(a, &hit).split(',') {
                        check_assembler(item)?;
                    }
                    out.push(Out::Client(i));
                }
                AssemblerNext => {
                    let v = value(i, a)?;
                    check_assembler(v)?;
                    out.push(Out::Client(i));
                    out.push(Out::Client(i + 1));
                    i += 1;
                }
                ClangNext => {
                    let v = value(i, a)?;
                    check_clang(v)?;
                    out.push(Out::Client(i));
                    out.push(Out::Client(i + 1));
                    i += 1;
                }
                Sysroot { sep } => {
                    let v = if sep {
                        value(i, a)?.as_str()
                    } else {
                        joined(a, &hit)
                    };
                    if !v.starts_with('/') || v.split('/').any(|c| c == "..") {
                        return Err(format!(
                            "sysroot '{v}' must be an absolute path without '..'"
                        ));
                    }
                    out.push(Out::Client(i));
                    if sep {
                        out.push(Out::Client(i + 1));
                        i += 1;
                    }
                }
                // check_arg answers these itself; should a rule ever reach
                // here, the job is refused, not the daemon aborted.
                Refuse(_) | Keep | Drop { .. } => {
                    return Err(format!("argument '{a}': no rule to rewrite it"))
                }
            },
        }
        i += 1;
    }
    if new_in == 0 || new_out == 0 {
        return Err("input or output missing".into());
    }
    Ok((out, new_in, new_out))
}

#[cfg(test)]
#[path = "harden_tests.rs"]
mod tests;
