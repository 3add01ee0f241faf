//! man/: tinydcc(1) and tinydccd(8) render without a single warning, and
//! they cannot fall behind the binary: every option its help and usage
//! texts name, every option the daemon's parser takes and every variable
//! the code reads is documented in the right page. Also the README's and
//! doc/'s links, and the block tests/bench/run rewrites.

use crate::common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLIENT_PAGE: &str = "man/tinydcc.1";
const DAEMON_PAGE: &str = "man/tinydccd.8";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A page's text with roff's escapes for hyphens and fonts undone, so
/// `\fB\-\-allow\fR` reads `--allow`.
fn page_text(page: &str) -> String {
    let src = std::fs::read_to_string(repo(page)).unwrap();
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('-') => out.push('-'),
            Some('e') => out.push('\\'),
            Some('&') => {}
            Some('f') => {
                chars.next();
            }
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => {}
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `word` stands alone in `text` (so `--allow` is not found inside
/// `--allow-private`).
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

/// The options a help or usage text names: `--long-name` and `-x`, each
/// standing alone (not `-jN`, not the `-pump` of `distcc-pump`).
fn options_in(help: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let b = help.as_bytes();
    for (i, _) in help.match_indices('-') {
        if i > 0 && (is_word_char(b[i - 1] as char)) {
            continue;
        }
        let rest = &help[i..];
        let end = rest[1..]
            .find(|c: char| !is_word_char(c))
            .map_or(rest.len(), |e| e + 1);
        let word = rest[..end].trim_end_matches('-');
        let long = word.starts_with("--") && word.len() > 3;
        let short = word.len() == 2 && word.as_bytes()[1].is_ascii_alphabetic();
        if (long || short) && !found.iter().any(|f| f == word) {
            found.push(word.to_string());
        }
    }
    found
}

/// stdout and stderr of `tinydcc ARGS` (help goes to stdout, usage
/// errors to stderr).
fn help_of(args: &[&str]) -> String {
    let out = Command::new(tinydcc()).args(args).output().unwrap();
    text(&out.stdout) + &text(&out.stderr)
}

fn assert_documented(page: &str, options: &[String], source: &str) {
    let text = page_text(page);
    let missing: Vec<&String> = options.iter().filter(|o| !mentions(&text, o)).collect();
    assert!(
        missing.is_empty(),
        "{page} does not document {missing:?} (named by {source})"
    );
}

#[test]
fn pages_render_without_warnings() {
    let groff = require("groff");
    let man = require("man");
    for page in [CLIENT_PAGE, DAEMON_PAGE] {
        let out = Command::new(&groff)
            .args(["-ww", "-z", "-man"])
            .arg(repo(page))
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff -ww on {page}: {}",
            text(&out.stderr)
        );
        let out = Command::new(&man)
            .args(["--warnings", "-l"])
            .arg(repo(page))
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "man --warnings -l {page}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("NAME"), "{page} rendered empty");
    }
}

#[test]
fn client_page_documents_every_client_option() {
    let helps = [
        (vec!["--help"], "tinydcc --help"),
        (vec!["--pump", "--help"], "tinydcc --pump --help"),
        (vec!["--check", "--bogus"], "tinydcc --check's usage"),
        (
            vec!["--mon", "--cluster", "x"],
            "tinydcc --mon --cluster's usage",
        ),
        (vec!["--mon", "x"], "tinydcc --mon's usage"),
    ];
    for (args, source) in helps {
        let help = help_of(&args);
        // From the usage on: an error line before it names the bad option.
        let usage = &help[help.find("sage: ").map_or(0, |i| i.saturating_sub(1))..];
        let options = options_in(usage);
        assert!(help.contains("sage: "), "{source}: {help}");
        assert_documented(CLIENT_PAGE, &options, source);
    }
    // The client's help is the overview: it names every mode.
    let help = help_of(&["--help"]);
    for mode in [
        "--show-hosts",
        "-j",
        "--scan-includes",
        "--check",
        "--daemon",
        "--pump",
        "--mon",
        "--cluster",
        "--version",
    ] {
        assert!(options_in(&help).iter().any(|o| o == mode), "{mode}");
    }
}

#[test]
fn daemon_page_documents_every_daemon_option() {
    let help = help_of(&["--daemon", "--help"]);
    let options = options_in(&help);
    assert!(options.len() > 20, "{options:?}");
    assert_documented(DAEMON_PAGE, &options, "tinydcc --daemon --help");
    assert!(help.trim_end().ends_with("See tinydccd(8)."), "{help}");
}

/// The parser's own option names (the string literals of options.rs, tests
/// left out) all appear in `--daemon --help`, so the page check above
/// covers every option the daemon accepts.
#[test]
fn daemon_help_names_every_option_the_parser_takes() {
    let src = std::fs::read_to_string(repo("src/daemon/options.rs")).unwrap();
    let code = src.split("#[cfg(test)]").next().unwrap();
    let help_start = code.find("pub const HELP").unwrap();
    let help_end = help_start + code[help_start..].find("\";").unwrap();
    let parser = format!("{}{}", &code[..help_start], &code[help_end..]);
    let literals: Vec<String> = quoted(&parser, "\"-")
        .into_iter()
        .filter(|s| options_in(s).first() == Some(s))
        .collect();
    assert!(literals.len() > 20, "{literals:?}");
    let help = options_in(&help_of(&["--daemon", "--help"]));
    let missing: Vec<&String> = literals.iter().filter(|l| !help.contains(l)).collect();
    assert!(missing.is_empty(), "--daemon --help lacks {missing:?}");
}

/// The string literals in Rust source that begin with `start` (its
/// opening quote included), up to their closing quote.
fn quoted(src: &str, start: &str) -> Vec<String> {
    src.match_indices(start)
        .filter_map(|(i, _)| {
            let body = &src[i + 1..];
            body.find('"').map(|end| body[..end].to_string())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `DISTCC*` and `INCLUDE_SERVER_*` variable the code reads is in
/// one of the pages (`_DISTCC_SAFEGUARD` is tinydcc's own recursion guard).
#[test]
fn pages_document_every_environment_variable() {
    let mut files = Vec::new();
    rust_files(&repo("src"), &mut files);
    let mut vars: Vec<String> = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for lit in quoted(&src, "\"DISTCC")
            .into_iter()
            .chain(quoted(&src, "\"INCLUDE_SERVER_"))
        {
            if lit.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !vars.contains(&lit) {
                vars.push(lit);
            }
        }
    }
    assert!(vars.len() > 10, "{vars:?}");
    let pages = page_text(CLIENT_PAGE) + &page_text(DAEMON_PAGE);
    let missing: Vec<&String> = vars.iter().filter(|v| !mentions(&pages, v)).collect();
    assert!(missing.is_empty(), "no page documents {missing:?}");
}

/// Every relative link of README.md and doc/*.md names a file that exists,
/// and doc/benchmarks.md has the one block tests/bench/run rewrites.
#[test]
fn readme_and_doc_links_resolve() {
    let mut pages = vec![repo("README.md")];
    for e in std::fs::read_dir(repo("doc")).unwrap().flatten() {
        pages.push(e.path());
    }
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap()];
            let file = target.split('#').next().unwrap();
            if file.is_empty() || file.contains("://") {
                continue;
            }
            let path = page.parent().unwrap().join(file);
            assert!(path.exists(), "{}: broken link {target}", page.display());
        }
    }
    let bench = std::fs::read_to_string(repo("doc/benchmarks.md")).unwrap();
    assert_eq!(bench.matches("<!-- bench:begin -->").count(), 1);
    assert_eq!(bench.matches("<!-- bench:end -->").count(), 1);
}
