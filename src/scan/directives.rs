//! Reading one file into what the include closure needs: its include-like
//! directives, its macro definitions and the `#if` lines that could use
//! `__has_include` through a macro. Conditionals are not evaluated: every
//! branch counts (a superset), so the result depends only on the bytes and
//! can be cached per file.
//!
//! The reading mirrors gcc's translation phases closely where a mistake
//! could *hide* a directive (comments, string literals, line splices); where
//! the right reading depends on the language standard (trigraphs, raw
//! strings, digit separators) the file is read every way and the results
//! merged.

use super::parsed::{
    finish, has_include_operand, CondLine, IncDirective, IncKind, MacroDef, Operand, Parsed,
};
use super::tokens::{
    is_hspace, is_ident_char, lex_one, line_end, quoted_end, raw_string_end, string_prefix, sym,
    Interner, Kind, LexMode, RawEnd, Saw, Tok,
};
use std::borrow::Cow;

/// Read a file. `Err` when gcc itself would reject the text in a way that
/// changes what is read (an unterminated comment).
pub fn parse(bytes: &[u8], interner: &mut Interner) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let base = LexMode::default();
    let saw = parse_variant(bytes, base, interner, &mut out)?;
    let tri = has_trigraphs(bytes);
    let mut modes = Vec::new();
    for t in [false, true] {
        for r in [true, false] {
            for d in [true, false] {
                let m = LexMode {
                    trigraphs: t,
                    raw_strings: r,
                    digit_separators: d,
                };
                let needed = (t == base.trigraphs || tri)
                    && (r == base.raw_strings || saw.raw)
                    && (d == base.digit_separators || saw.digit_sep);
                if needed && m != base {
                    modes.push(m);
                }
            }
        }
    }
    for m in modes {
        parse_variant(bytes, m, interner, &mut out)?;
    }
    finish(&mut out, interner);
    Ok(out)
}

fn has_trigraphs(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'?') {
        let k = i + p;
        if b.get(k + 1) == Some(&b'?') && b.get(k + 2).is_some_and(|c| b"=/'()!<>-".contains(c)) {
            return true;
        }
        i = k + 1;
    }
    false
}

/// Phases 1-2: trigraphs (when on), line splices (backslash, optional
/// blanks, newline, as gcc accepts), and every newline made `\n`. Also the
/// physical line where each logical line starts, for messages.
fn clean(b: &[u8], trigraphs: bool) -> (Cow<'_, [u8]>, Option<Vec<u32>>) {
    let needs = b.contains(&b'\\') || b.contains(&b'\r') || (trigraphs && has_trigraphs(b));
    if !needs {
        return (Cow::Borrowed(b), None);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut lines = vec![1u32];
    let mut phys = 1u32;
    let tri = |i: usize| -> Option<u8> {
        if trigraphs && b[i] == b'?' && b.get(i + 1) == Some(&b'?') {
            let r = match b.get(i + 2)? {
                b'=' => b'#',
                b'/' => b'\\',
                b'\'' => b'^',
                b'(' => b'[',
                b')' => b']',
                b'!' => b'|',
                b'<' => b'{',
                b'>' => b'}',
                b'-' => b'~',
                _ => return None,
            };
            Some(r)
        } else {
            None
        }
    };
    let mut i = 0;
    while i < b.len() {
        let (c, len) = match tri(i) {
            Some(r) => (r, 3),
            None => (b[i], 1),
        };
        if c == b'\\' {
            let mut j = i + len;
            while j < b.len() && is_hspace(b[j]) {
                j += 1;
            }
            let nl = match b.get(j) {
                Some(b'\n') => 1,
                Some(b'\r') if b.get(j + 1) == Some(&b'\n') => 2,
                Some(b'\r') => 1,
                _ => 0,
            };
            if nl > 0 {
                phys += 1;
                i = j + nl;
                continue;
            }
        }
        if c == b'\r' || c == b'\n' {
            let skip = if c == b'\r' && b.get(i + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            out.push(b'\n');
            phys += 1;
            lines.push(phys);
            i += skip;
            continue;
        }
        out.push(c);
        i += len;
    }
    (Cow::Owned(out), Some(lines))
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    /// Logical line index (newlines consumed so far).
    ln: usize,
    lines: Option<Vec<u32>>,
    mode: LexMode,
    saw: Saw,
    interner: &'a mut Interner,
    out: &'a mut Parsed,
}

/// Bytes the code scanner must stop at.
static INTERESTING: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'/' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

fn parse_variant(
    bytes: &[u8],
    mode: LexMode,
    interner: &mut Interner,
    out: &mut Parsed,
) -> Result<Saw, String> {
    // gcc skips a UTF-8 byte order mark: a directive may follow it.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let (s, lines) = clean(bytes, mode.trigraphs);
    let mut p = P {
        s: &s,
        i: 0,
        ln: 0,
        lines,
        mode,
        saw: Saw::default(),
        interner,
        out,
    };
    p.run()?;
    Ok(p.saw)
}

impl P<'_> {
    fn phys_line(&self) -> u32 {
        match &self.lines {
            Some(l) => l.get(self.ln).copied().unwrap_or(u32::MAX),
            None => (self.ln + 1).min(u32::MAX as usize) as u32,
        }
    }

    fn err(&self, what: &str) -> String {
        format!("line {}: {what}", self.phys_line())
    }

    /// Skip a block comment whose `/*` is at `i`.
    fn block_comment(&mut self) -> Result<(), String> {
        let start = self.i + 2;
        let s = self.s;
        let mut k = start;
        let end = loop {
            match s[k..].iter().position(|&c| c == b'*') {
                Some(p) if s.get(k + p + 1) == Some(&b'/') => break Some(k + p - start),
                Some(p) => k += p + 1,
                None => break None,
            }
        };
        match end {
            Some(p) => {
                self.ln += s[start..start + p].iter().filter(|&&c| c == b'\n').count();
                self.i = start + p + 2;
                Ok(())
            }
            None => Err(self.err("unterminated comment")),
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let s = self.s;
        while self.i < s.len() {
            // Start of a line: blanks and comments, even comments spanning
            // lines, may come before the `#` of a directive (gcc agrees).
            loop {
                while self.i < s.len() && is_hspace(s[self.i]) {
                    self.i += 1;
                }
                if s[self.i..].starts_with(b"/*") {
                    self.block_comment()?;
                } else {
                    break;
                }
            }
            let rest = &s[self.i..];
            let directive = (rest.starts_with(b"#") && !rest.starts_with(b"##"))
                || (rest.starts_with(b"%:") && !rest.starts_with(b"%:%:"));
            if directive {
                self.i += if rest[0] == b'#' { 1 } else { 2 };
                self.directive()?;
            } else {
                self.code_line()?;
            }
        }
        Ok(())
    }

    /// Skip a line of ordinary code, keeping track of literals and comments
    /// (which may run on to later lines).
    fn code_line(&mut self) -> Result<(), String> {
        let s = self.s;
        loop {
            while self.i < s.len() && !INTERESTING[s[self.i] as usize] {
                self.i += 1;
            }
            if self.i >= s.len() {
                return Ok(());
            }
            let i = self.i;
            match s[i] {
                b'\n' => {
                    self.i += 1;
                    self.ln += 1;
                    return Ok(());
                }
                b'/' => match s.get(i + 1) {
                    Some(b'*') => self.block_comment()?,
                    Some(b'/') => self.i = line_end(s, i),
                    _ => self.i += 1,
                },
                b'"' => {
                    let mut k = i;
                    while k > 0 && is_ident_char(s[k - 1]) {
                        k -= 1;
                    }
                    let raw = string_prefix(&s[k..i]) == Some(true) && !s[k].is_ascii_digit();
                    if raw {
                        self.saw.raw = true;
                    }
                    if raw && self.mode.raw_strings {
                        match raw_string_end(s, i) {
                            RawEnd::End(e) => {
                                self.ln += s[i..e].iter().filter(|&&c| c == b'\n').count();
                                self.i = e;
                                continue;
                            }
                            RawEnd::Unterminated => return Err(self.err("unterminated raw string")),
                            RawEnd::NotRaw => {}
                        }
                    }
                    self.i = quoted_end(s, i).unwrap_or_else(|| line_end(s, i));
                }
                _ => {
                    // `'`: a digit separator inside a pp-number, or a
                    // character literal.
                    let mut k = i;
                    while k > 0
                        && (is_ident_char(s[k - 1])
                            || s[k - 1] == b'.'
                            || (s[k - 1] == b'\'' && k >= 2 && is_ident_char(s[k - 2])))
                    {
                        k -= 1;
                    }
                    let number = k < i
                        && (s[k].is_ascii_digit()
                            || (s[k] == b'.' && s.get(k + 1).is_some_and(u8::is_ascii_digit)));
                    let sep = number && s.get(i + 1).is_some_and(|&c| is_ident_char(c));
                    if sep {
                        self.saw.digit_sep = true;
                        if self.mode.digit_separators {
                            self.i += 1;
                            continue;
                        }
                    }
                    self.i = quoted_end(s, i).unwrap_or_else(|| line_end(s, i));
                }
            }
        }
    }

    /// Blanks and comments inside a directive; block comments may span
    /// lines without ending the directive. True if anything was skipped.
    fn skip_ws(&mut self) -> Result<bool, String> {
        let s = self.s;
        let start = self.i;
        loop {
            if self.i >= s.len() {
                break;
            }
            if is_hspace(s[self.i]) {
                self.i += 1;
            } else if s[self.i..].starts_with(b"/*") {
                self.block_comment()?;
            } else if s[self.i..].starts_with(b"//") {
                self.i = line_end(s, self.i);
            } else {
                break;
            }
        }
        Ok(self.i != start)
    }

    fn at_eol(&self) -> bool {
        self.i >= self.s.len() || self.s[self.i] == b'\n'
    }

    fn tok(&mut self) -> Result<Option<Tok>, String> {
        let ws = self.skip_ws()?;
        if self.at_eol() {
            return Ok(None);
        }
        let (kind, end) = lex_one(self.s, self.i, self.mode, &mut self.saw);
        let sym = self.interner.intern(&self.s[self.i..end]);
        self.i = end;
        Ok(Some(Tok { sym, kind, ws }))
    }

    fn rest(&mut self) -> Result<Vec<Tok>, String> {
        let mut v = Vec::new();
        while let Some(t) = self.tok()? {
            v.push(t);
        }
        Ok(v)
    }

    fn directive(&mut self) -> Result<(), String> {
        let line = self.phys_line();
        if let Some(t) = self.tok()? {
            let name = self.interner.get(t.sym);
            match (t.kind, name) {
                (Kind::Ident, b"include" | b"import" | b"__include_macros") => {
                    self.include(IncKind::Include, line)?
                }
                (Kind::Ident, b"include_next") => self.include(IncKind::IncludeNext, line)?,
                (Kind::Ident, b"define") => self.define(line)?,
                (Kind::Ident, b"undef") => {
                    if let Some(n) = self.tok()? {
                        self.out.undefs.push(n.sym);
                    }
                }
                (Kind::Ident, b"if" | b"elif") => self.cond(line)?,
                (Kind::Ident, b"pragma") => self.pragma(line)?,
                (Kind::Ident, b"line") | (Kind::Number, _) => {
                    if t.kind == Kind::Ident {
                        self.tok()?;
                    }
                    if let Some(f) = self.tok()? {
                        let sp = self.interner.get(f.sym);
                        if f.kind == Kind::Str && sp.len() >= 2 && sp[0] == b'"' {
                            let n = sp[1..sp.len() - 1].into();
                            self.out.line_names.push(n);
                        }
                    }
                }
                (Kind::Ident, b"embed") => {
                    self.out
                        .unsupported
                        .get_or_insert((line, "#embed".to_string()));
                }
                _ => {}
            }
        }
        // The rest of the directive (its comments may span lines).
        while self.tok()?.is_some() {}
        if self.i < self.s.len() {
            self.i += 1;
            self.ln += 1;
        }
        Ok(())
    }

    /// A header-name `"..."` or `<...>` right here, as gcc lexes one after
    /// `#include`: no escapes, on this line.
    fn header_name(&mut self) -> Option<Operand> {
        let s = self.s;
        let close = match s.get(self.i) {
            Some(b'"') => b'"',
            Some(b'<') => b'>',
            _ => return None,
        };
        let end = line_end(s, self.i);
        let p = s[self.i + 1..end].iter().position(|&c| c == close)?;
        let name: Box<[u8]> = s[self.i + 1..self.i + 1 + p].into();
        self.i += p + 2;
        Some(if close == b'"' {
            Operand::Quote(name)
        } else {
            Operand::Angle(name)
        })
    }

    fn include(&mut self, kind: IncKind, line: u32) -> Result<(), String> {
        self.skip_ws()?;
        let op = match self.header_name() {
            Some(op) => op,
            None => {
                let toks = self.rest()?;
                if toks.is_empty() {
                    return Ok(());
                }
                Operand::Computed(toks.into())
            }
        };
        self.out.includes.push(IncDirective { kind, line, op });
        Ok(())
    }

    fn define(&mut self, line: u32) -> Result<(), String> {
        let Some(name) = self.tok()? else {
            return Ok(());
        };
        if name.kind != Kind::Ident {
            return Ok(());
        }
        let mut params = None;
        let mut variadic = false;
        if self.s.get(self.i) == Some(&b'(') {
            self.i += 1;
            let mut ps = Vec::new();
            loop {
                let Some(t) = self.tok()? else {
                    return Ok(()); // malformed: gcc rejects it
                };
                match t.kind {
                    Kind::Ident if !variadic => {
                        ps.push(t.sym);
                    }
                    Kind::Punct if t.sym == sym::ELLIPSIS && !variadic => {
                        variadic = true;
                        // `args...` names the variadic parameter; a bare
                        // `...` is `__VA_ARGS__`.
                        let named = !ps.is_empty() && self.prev_was_param_name();
                        if !named {
                            ps.push(sym::VA_ARGS);
                        }
                    }
                    Kind::Punct if t.sym == sym::COMMA && !variadic => {}
                    Kind::Punct if t.sym == sym::RPAREN => break,
                    _ => return Ok(()),
                }
            }
            params = Some(ps);
        }
        let mut body = self.rest()?;
        if let Some(f) = body.first_mut() {
            f.ws = false;
        }
        self.out.push_def(MacroDef {
            name: name.sym,
            params: params.as_deref(),
            variadic,
            body: &body,
            line,
        });
        Ok(())
    }

    /// In a parameter list, was the token before the `...` just read a
    /// parameter name (GNU `args...`) rather than a comma?
    fn prev_was_param_name(&self) -> bool {
        let s = self.s;
        let mut k = self.i - 3; // start of "..."
        while k > 0 && (is_hspace(s[k - 1])) {
            k -= 1;
        }
        k > 0 && is_ident_char(s[k - 1])
    }

    fn cond(&mut self, line: u32) -> Result<(), String> {
        let mut toks: Vec<Tok> = Vec::new();
        loop {
            // Right after `__has_include (`, gcc lexes `<...>` as one
            // header-name.
            let n = toks.len();
            if n >= 2
                && toks[n - 1].sym == sym::LPAREN
                && toks[n - 2].kind == Kind::Ident
                && sym::has_include(toks[n - 2].sym).is_some()
            {
                let ws = self.skip_ws()?;
                if self.s.get(self.i) == Some(&b'<') {
                    let start = self.i;
                    if let Some(Operand::Angle(_)) = self.header_name() {
                        let sym = self.interner.intern(&self.s[start..self.i]);
                        toks.push(Tok {
                            sym,
                            kind: Kind::HeaderName,
                            ws,
                        });
                        continue;
                    }
                }
            }
            match self.tok()? {
                Some(t) => toks.push(t),
                None => break,
            }
        }
        // Direct `__has_include` operands.
        let mut k = 0;
        while k < toks.len() {
            let t = toks[k];
            k += 1;
            let Some(next) = (t.kind == Kind::Ident)
                .then(|| sym::has_include(t.sym))
                .flatten()
            else {
                continue;
            };
            let after_defined = (k >= 2 && toks[k - 2].sym == sym::DEFINED)
                || (k >= 3 && toks[k - 2].sym == sym::LPAREN && toks[k - 3].sym == sym::DEFINED);
            if after_defined {
                continue;
            }
            let kind = if next {
                IncKind::HasIncludeNext
            } else {
                IncKind::HasInclude
            };
            if let Some(op) = has_include_operand(&toks[k..], self.interner) {
                self.out.includes.push(IncDirective { kind, line, op });
            }
        }
        if toks
            .iter()
            .any(|t| t.kind == Kind::Ident && t.sym != sym::DEFINED)
        {
            self.out
                .cond_idents
                .extend(toks.iter().filter(|t| t.kind == Kind::Ident).map(|t| t.sym));
            self.out.conds.push(CondLine {
                line,
                toks: toks.into(),
            });
        }
        Ok(())
    }

    fn pragma(&mut self, line: u32) -> Result<(), String> {
        let Some(a) = self.tok()? else { return Ok(()) };
        if self.interner.get(a.sym) != b"GCC" {
            return Ok(());
        }
        let Some(b) = self.tok()? else { return Ok(()) };
        if self.interner.get(b.sym) != b"dependency" {
            return Ok(());
        }
        self.skip_ws()?;
        if let Some(op) = self.header_name() {
            self.out.includes.push(IncDirective {
                kind: IncKind::Dependency,
                line,
                op,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> (Parsed, Interner) {
        let mut i = Interner::new();
        let p = parse(s.as_bytes(), &mut i).expect("parse");
        (p, i)
    }

    fn incs(p: &Parsed) -> Vec<String> {
        p.includes
            .iter()
            .filter_map(|d| match &d.op {
                Operand::Quote(n) => Some(format!("\"{}\"", String::from_utf8_lossy(n))),
                Operand::Angle(n) => Some(format!("<{}>", String::from_utf8_lossy(n))),
                Operand::Computed(_) => None,
            })
            .collect()
    }

    #[test]
    fn basic_directives() {
        let (p, _) = parse_str(
            "#include \"a.h\"\n  #  include <b.h> // c\n%:include \"c.h\"\n#import \"d.h\"\n\
             #include_next <e.h>\nint x; #include \"no.h\"\n",
        );
        assert_eq!(
            incs(&p),
            ["\"a.h\"", "<b.h>", "\"c.h\"", "\"d.h\"", "<e.h>"]
        );
        assert_eq!(p.includes[4].kind, IncKind::IncludeNext);
        assert_eq!(p.includes[1].line, 2);
    }

    #[test]
    fn comments_strings_and_splices() {
        let (p, _) = parse_str(
            "/* #include \"no1.h\" */\n\
             char *s = \"/*\";\n#include \"yes1.h\"\n\
             // line comment \\\n#include \"no2.h\"\n\
             #inc\\\nlude \"yes2.h\"\n\
             /* multi\n line */ #include \"yes3.h\"\n\
             int a; /* x\n */ #include \"no3.h\"\n\
             char c = '\"'; /* q */\n#include \"yes4.h\"\n\
             #define X 1 /* a\n b */\n#include \"yes5.h\"\n\
             char *u = \"unterminated /*\n#include \"yes6.h\"\n\
             #include \"yes7.h\" \\   \r\n  trailing\r\n#include \"yes8.h\"\r",
        );
        assert_eq!(
            incs(&p),
            [
                "\"yes1.h\"",
                "\"yes2.h\"",
                "\"yes3.h\"",
                "\"yes4.h\"",
                "\"yes5.h\"",
                "\"yes6.h\"",
                "\"yes7.h\"",
                "\"yes8.h\""
            ]
        );
    }

    #[test]
    fn bom_and_nul_before_a_directive() {
        let (p, _) = parse_str("\u{feff}#include \"a.h\"\n\0#include \"b.h\"\n");
        assert_eq!(incs(&p), ["\"a.h\"", "\"b.h\""]);
    }

    #[test]
    fn unterminated_comment_is_an_error() {
        let mut i = Interner::new();
        assert!(parse(b"#include \"a.h\"\n/* never ends\n", &mut i).is_err());
    }

    #[test]
    fn raw_strings_and_digit_separators_read_both_ways() {
        // As a raw string the `/*` is text; without raw strings (C) it opens
        // a comment hiding the include: both readings are merged.
        let (p, _) = parse_str("const char *r = R\"x( \" /* )x\";\n#include \"after.h\"\n*/\n");
        assert_eq!(incs(&p), ["\"after.h\""]);
        let (p, _) = parse_str("int n = 1'000'000; /* c */\n#include \"d.h\"\n");
        assert_eq!(incs(&p), ["\"d.h\""]);
        let (p, _) = parse_str("??=include \"tri.h\"\n");
        assert_eq!(incs(&p), ["\"tri.h\""]);
    }

    #[test]
    fn defines_and_has_include() {
        let (p, i) = parse_str(
            "#define A(x, y) x ## y\n#define V(fmt, ...) f(fmt, __VA_ARGS__)\n\
             #define G(args...) g(args)\n#define O <x.h>\n#undef Q\n\
             #if __has_include(<hi.h>) && __has_include (\"hq.h\") || defined(__has_include)\n#endif\n\
             #if __has_include_next(O)\n#endif\n\
             #define TBB __has_include(<tbb/tbb.h>)\n#define HAS __has_include\n",
        );
        let names: Vec<_> = p
            .defines()
            .map(|d| String::from_utf8_lossy(i.get(d.name)).into_owned())
            .collect();
        assert!(names.contains(&"A".to_string()) && names.contains(&"G".to_string()));
        let v = p.defines().find(|d| i.get(d.name) == b"V").unwrap();
        assert!(v.variadic);
        assert_eq!(v.params.unwrap()[1], sym::VA_ARGS);
        let g = p.defines().find(|d| i.get(d.name) == b"G").unwrap();
        assert!(g.variadic && g.params.unwrap().len() == 1);
        assert_eq!(incs(&p), ["<hi.h>", "\"hq.h\"", "<tbb/tbb.h>"]);
        assert!(p
            .includes
            .iter()
            .any(|d| d.kind == IncKind::HasIncludeNext && matches!(d.op, Operand::Computed(_))));
        assert_eq!(p.hi_macros.len(), 1);
        assert_eq!(i.get(p.hi_macros[0]), b"HAS");
        assert_eq!(p.undefs.len(), 1);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let mut i = Interner::new();
        for s in [
            &b"#"[..],
            b"#define",
            b"#define F(",
            b"#define F(a,",
            b"#include",
            b"#include <",
            b"#include \"",
            b"#if __has_include(",
            b"#if __has_include",
            b"\\",
            b"R\"",
            b"R\"abc",
            b"'",
            b"\xff\xfe\x00\x00#include <x>",
            b"#define F(...) __VA_OPT__(",
            b"??/\n",
            b"#line",
            b"# 1",
        ] {
            let _ = parse(s, &mut i);
        }
        let long = vec![b'a'; 1 << 20];
        assert!(parse(&long, &mut i).is_ok());
    }
}
