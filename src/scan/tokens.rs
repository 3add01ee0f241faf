//! Preprocessing tokens as the scanner keeps them: interned spellings, a kind
//! and a "whitespace before" flag. Spellings are interned because the cache
//! holds the `#define` bodies of every header a build ever touched (the
//! kernel has tens of thousands) and a token must stay small on a 1 GB board.

use std::sync::Arc;

/// An interned spelling.
pub type Sym = u32;

/// Spellings seen so far; lives as long as the scanner.
pub struct Interner {
    map: FxMap<Arc<[u8]>, Sym>,
    names: Vec<Arc<[u8]>>,
}

/// Names the scanner looks for, interned first so their symbols are
/// constants (see `sym`).
const WELL_KNOWN: &[&[u8]] = &[
    b"__VA_ARGS__",
    b"__VA_OPT__",
    b"defined",
    b"__has_include",
    b"__has_include_next",
    b"__has_include__",
    b"__has_include_next__",
    b"__FILE__",
    b"__BASE_FILE__",
    b"__FILE_NAME__",
    b"__LINE__",
    b"__COUNTER__",
    b"__INCLUDE_LEVEL__",
    b"__TIMESTAMP__",
    b"__DATE__",
    b"__TIME__",
    b"(",
    b")",
    b",",
    b"<",
    b">",
    b"...",
    b"",
];

/// Symbols of `WELL_KNOWN`, in order.
pub mod sym {
    use super::Sym;
    pub const VA_ARGS: Sym = 0;
    pub const VA_OPT: Sym = 1;
    pub const DEFINED: Sym = 2;
    pub const HAS_INCLUDE: Sym = 3;
    pub const HAS_INCLUDE_NEXT: Sym = 4;
    pub const HAS_INCLUDE_OLD: Sym = 5;
    pub const HAS_INCLUDE_NEXT_OLD: Sym = 6;
    pub const FILE: Sym = 7;
    pub const BASE_FILE: Sym = 8;
    pub const FILE_NAME: Sym = 9;
    pub const LINE: Sym = 10;
    pub const COUNTER: Sym = 11;
    pub const INCLUDE_LEVEL: Sym = 12;
    pub const TIMESTAMP: Sym = 13;
    pub const DATE: Sym = 14;
    pub const TIME: Sym = 15;
    pub const LPAREN: Sym = 16;
    pub const RPAREN: Sym = 17;
    pub const COMMA: Sym = 18;
    pub const LESS: Sym = 19;
    pub const GREATER: Sym = 20;
    pub const ELLIPSIS: Sym = 21;
    pub const EMPTY: Sym = 22;

    /// `__has_include` or `__has_include_next`, in any spelling gcc or
    /// clang ever used; `Some(true)` for the `_next` forms.
    pub fn has_include(s: Sym) -> Option<bool> {
        match s {
            HAS_INCLUDE | HAS_INCLUDE_OLD => Some(false),
            HAS_INCLUDE_NEXT | HAS_INCLUDE_NEXT_OLD => Some(true),
            _ => None,
        }
    }
}

impl Default for Interner {
    fn default() -> Self {
        Self::new()
    }
}

impl Interner {
    pub fn new() -> Interner {
        let mut i = Interner {
            map: FxMap::default(),
            names: Vec::new(),
        };
        for w in WELL_KNOWN {
            i.intern(w);
        }
        i
    }

    pub fn intern(&mut self, b: &[u8]) -> Sym {
        if let Some(&s) = self.map.get(b) {
            return s;
        }
        let rc: Arc<[u8]> = Arc::from(b);
        let s = self.names.len() as Sym;
        self.names.push(rc.clone());
        self.map.insert(rc, s);
        s
    }

    pub fn get(&self, s: Sym) -> &[u8] {
        &self.names[s as usize]
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Ident,
    Number,
    /// A string literal, any prefix, raw or not, quotes included.
    Str,
    Char,
    Punct,
    /// `<...>` lexed as one header-name (only right after `__has_include (`
    /// on an `#if` line, where gcc lexes it that way).
    HeaderName,
    /// A stray character (`\`, `@`, an unterminated quote...).
    Other,
    /// Produced by expansion: an empty argument next to `##`.
    Placemarker,
    /// Produced by expansion: `__LINE__`, `__COUNTER__`... whose value the
    /// scanner cannot know. A header name built from one is a give-up.
    Unknowable,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Tok {
    pub sym: Sym,
    pub kind: Kind,
    /// Whitespace came before this token (gcc's PREV_WHITE): it becomes a
    /// space when tokens are glued into `<...>` names or stringified.
    pub ws: bool,
}

/// Lexing switches whose right value depends on the language standard of
/// the translation unit, which a cached header does not know. Files whose
/// text reads differently under another setting are read under every
/// setting and the results merged (a superset).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LexMode {
    pub trigraphs: bool,
    pub raw_strings: bool,
    pub digit_separators: bool,
}

impl Default for LexMode {
    /// gcc's default gnu17 / gnu++17 reading.
    fn default() -> Self {
        LexMode {
            trigraphs: false,
            raw_strings: true,
            digit_separators: true,
        }
    }
}

pub fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80
}

pub fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// Horizontal whitespace inside a line (gcc also accepts \f and \v, and
/// ignores NUL bytes, so `\0#include` is a directive).
pub fn is_hspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | 0x0c | 0x0b | 0)
}

/// Length of the punctuator at `i` (longest match), 0 if none.
fn punct_len(b: &[u8], i: usize) -> usize {
    let at = |k: usize| b.get(i + k).copied().unwrap_or(0);
    let (n1, n2) = (at(1), at(2));
    match b[i] {
        b'%' if n1 == b':' && n2 == b'%' && at(3) == b':' => 4,
        b'%' if matches!(n1, b':' | b'>' | b'=') => 2,
        b'.' if n1 == b'.' && n2 == b'.' => 3,
        b'.' if n1 == b'*' => 2,
        b'<' if (n1 == b'<' && n2 == b'=') || (n1 == b'=' && n2 == b'>') => 3,
        b'<' if matches!(n1, b'<' | b'=' | b':' | b'%') => 2,
        b'>' if n1 == b'>' && n2 == b'=' => 3,
        b'>' if matches!(n1, b'>' | b'=') => 2,
        b'-' if n1 == b'>' && n2 == b'*' => 3,
        b'-' if matches!(n1, b'>' | b'-' | b'=') => 2,
        b'#' if n1 == b'#' => 2,
        b':' if matches!(n1, b'>' | b':') => 2,
        b'+' if matches!(n1, b'+' | b'=') => 2,
        b'&' if matches!(n1, b'&' | b'=') => 2,
        b'|' if matches!(n1, b'|' | b'=') => 2,
        b'=' | b'!' | b'*' | b'/' | b'^' if n1 == b'=' => 2,
        b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'.' | b'&' | b'*' | b'+' | b'-' | b'~'
        | b'!' | b'/' | b'%' | b'<' | b'>' | b'^' | b'|' | b'?' | b':' | b';' | b'=' | b','
        | b'#' => 1,
        _ => 0,
    }
}

/// Is `prefix` (the identifier right before a quote) a string/char
/// encoding prefix, and is it raw?
pub fn string_prefix(prefix: &[u8]) -> Option<bool> {
    match prefix {
        b"L" | b"u" | b"U" | b"u8" => Some(false),
        b"R" | b"LR" | b"uR" | b"UR" | b"u8R" => Some(true),
        _ => None,
    }
}

/// Where a quoted literal starting at `i` (on `"` or `'`) ends, on this
/// line. `None` if unterminated.
pub fn quoted_end(b: &[u8], i: usize) -> Option<usize> {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => {
                if j + 1 < b.len() && b[j + 1] != b'\n' {
                    j += 2;
                } else {
                    j += 1;
                }
            }
            b'\n' => return None,
            c if c == q => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Where a raw string ends.
pub enum RawEnd {
    /// The delimiter is invalid: not a raw string after all.
    NotRaw,
    Unterminated,
    /// After its closing quote (possibly lines later).
    End(usize),
}

/// Where a raw string whose `"` is at `i` ends.
pub fn raw_string_end(b: &[u8], i: usize) -> RawEnd {
    let mut j = i + 1;
    while j < b.len() && b[j] != b'(' {
        let c = b[j];
        if j - i > 16 || is_hspace(c) || matches!(c, b')' | b'\\' | b'\n' | b'"') {
            return RawEnd::NotRaw;
        }
        j += 1;
    }
    if j >= b.len() {
        return RawEnd::NotRaw;
    }
    let delim = &b[i + 1..j];
    let mut k = j + 1;
    while k < b.len() {
        if b[k] == b')'
            && b[k + 1..].starts_with(delim)
            && b.get(k + 1 + delim.len()) == Some(&b'"')
        {
            return RawEnd::End(k + 2 + delim.len());
        }
        k += 1;
    }
    RawEnd::Unterminated
}

/// The index of the end of the line holding `i` (its `\n`, or the end).
pub fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&x| x == b'\n')
        .map_or(b.len(), |p| i + p)
}

/// Length of the pp-number starting at `i`.
pub fn pp_number_end(b: &[u8], i: usize, mode: LexMode, saw_sep: &mut bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        let c = b[j];
        if matches!(c, b'e' | b'E' | b'p' | b'P') && matches!(b.get(j + 1), Some(b'+' | b'-')) {
            j += 2;
        } else if is_ident_char(c) || c == b'.' {
            j += 1;
        } else if c == b'\'' && b.get(j + 1).is_some_and(|&n| is_ident_char(n)) {
            *saw_sep = true;
            if !mode.digit_separators {
                break;
            }
            j += 2;
        } else {
            break;
        }
    }
    j
}

/// Lex one token at `i` (not whitespace, not a comment start) of a logical
/// line. Returns its kind and end. `saw` collects mode-sensitive features.
pub fn lex_one(b: &[u8], i: usize, mode: LexMode, saw: &mut Saw) -> (Kind, usize) {
    let c = b[i];
    if is_ident_start(c) {
        let mut j = i + 1;
        while j < b.len() && is_ident_char(b[j]) {
            j += 1;
        }
        if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
            if let Some(raw) = string_prefix(&b[i..j]) {
                if raw && b[j] == b'"' {
                    saw.raw = true;
                    if mode.raw_strings {
                        // Inside a directive a raw string cannot span lines.
                        let lim = line_end(b, j);
                        match raw_string_end(&b[..lim], j) {
                            RawEnd::End(e) => return (Kind::Str, e),
                            RawEnd::Unterminated => return (Kind::Other, lim),
                            RawEnd::NotRaw => {}
                        }
                    }
                } else if !raw {
                    return match quoted_end(b, j) {
                        Some(e) => (if b[j] == b'"' { Kind::Str } else { Kind::Char }, e),
                        None => (Kind::Other, line_end(b, j)),
                    };
                }
            }
        }
        return (Kind::Ident, j);
    }
    if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
        return (Kind::Number, pp_number_end(b, i, mode, &mut saw.digit_sep));
    }
    if c == b'"' || c == b'\'' {
        return match quoted_end(b, i) {
            Some(e) => (if c == b'"' { Kind::Str } else { Kind::Char }, e),
            // An unterminated literal swallows the rest of the line: a `/*`
            // after it is then not taken for a comment, so no directive
            // below can be hidden by it (gcc agrees on this for strings).
            None => (Kind::Other, line_end(b, i)),
        };
    }
    match punct_len(b, i) {
        0 => (Kind::Other, i + 1),
        n => (Kind::Punct, i + n),
    }
}

/// Mode-sensitive constructs met while lexing a file.
#[derive(Default, Clone, Copy, Debug)]
pub struct Saw {
    pub raw: bool,
    pub digit_sep: bool,
}

/// Lex `b` as exactly one token (for `##`): `None` if it is not one valid
/// preprocessing token, which gcc reports as an error.
pub fn lex_exactly_one(b: &[u8]) -> Option<Kind> {
    if b.is_empty() || b.contains(&b'\n') || is_hspace(b[0]) {
        return None;
    }
    if b.starts_with(b"/*") || b.starts_with(b"//") {
        return None;
    }
    let (k, end) = lex_one(b, 0, LexMode::default(), &mut Saw::default());
    (end == b.len() && k != Kind::Other || b.len() == 1 && k == Kind::Other).then_some(k)
}

pub fn is_hash(s: &[u8]) -> bool {
    s == b"#" || s == b"%:"
}

pub fn is_hashhash(s: &[u8]) -> bool {
    s == b"##" || s == b"%:%:"
}

pub use crate::fxhash::{FxMap, FxSet};

#[cfg(test)]
mod tests {
    use super::{sym, Interner};

    /// The `sym` constants are positions in `WELL_KNOWN`: each must still
    /// name its spelling after an entry is added or removed.
    #[test]
    fn well_known_symbols_keep_their_spellings() {
        let i = Interner::new();
        let want: [(u32, &[u8]); 23] = [
            (sym::VA_ARGS, b"__VA_ARGS__"),
            (sym::VA_OPT, b"__VA_OPT__"),
            (sym::DEFINED, b"defined"),
            (sym::HAS_INCLUDE, b"__has_include"),
            (sym::HAS_INCLUDE_NEXT, b"__has_include_next"),
            (sym::HAS_INCLUDE_OLD, b"__has_include__"),
            (sym::HAS_INCLUDE_NEXT_OLD, b"__has_include_next__"),
            (sym::FILE, b"__FILE__"),
            (sym::BASE_FILE, b"__BASE_FILE__"),
            (sym::FILE_NAME, b"__FILE_NAME__"),
            (sym::LINE, b"__LINE__"),
            (sym::COUNTER, b"__COUNTER__"),
            (sym::INCLUDE_LEVEL, b"__INCLUDE_LEVEL__"),
            (sym::TIMESTAMP, b"__TIMESTAMP__"),
            (sym::DATE, b"__DATE__"),
            (sym::TIME, b"__TIME__"),
            (sym::LPAREN, b"("),
            (sym::RPAREN, b")"),
            (sym::COMMA, b","),
            (sym::LESS, b"<"),
            (sym::GREATER, b">"),
            (sym::ELLIPSIS, b"..."),
            (sym::EMPTY, b""),
        ];
        for (s, spelling) in want {
            assert_eq!(i.get(s), spelling, "symbol {s}");
        }
    }
}
