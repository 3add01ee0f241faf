//! Expanding computed includes (`#include MACRO`, `__has_include(MACRO)`)
//! without evaluating conditionals: every definition of a name seen anywhere
//! in the closure is an alternative, so one expansion gives a *set* of
//! results. If the real macro state is among the alternatives (it is, when
//! every file and every `-D` was seen), the real header name is among the
//! results; extra names only cost a lookup. When no result is a header name,
//! gcc rejects the directive wherever it reaches it.
//!
//! The expander follows the C standard's algorithm with hide sets
//! (Prosser's), plus gcc's extensions: `, ## __VA_ARGS__`, named variadic
//! parameters, `__VA_OPT__`, `__FILE__`.

use super::tokens::{sym, FxSet, Interner, Kind, Sym, Tok};

use std::rc::Rc;

mod header_name;
mod subst;
mod table;

pub use header_name::{interpret, HeaderName, Interpreted};
use subst::{collect_args, ArgsResult};
pub use table::{Alt, MacroTable};

/// A token during expansion: its hide set, and the whitespace gcc uses when
/// stringifying (which, after argument substitution, is the parameter's,
/// not the token's own: see `sws`).
#[derive(Clone, Debug)]
pub struct XTok {
    pub t: Tok,
    /// Whitespace before, as `#` stringification sees it.
    pub sws: bool,
    hide: Option<Rc<[Sym]>>,
}

impl XTok {
    pub fn new(t: Tok) -> XTok {
        XTok {
            t,
            sws: t.ws,
            hide: None,
        }
    }
    fn hidden(&self, s: Sym) -> bool {
        self.hide
            .as_ref()
            .is_some_and(|h| h.binary_search(&s).is_ok())
    }
    fn key(&self) -> (Sym, Kind, bool, bool) {
        (self.t.sym, self.t.kind, self.t.ws, self.sws)
    }
}

fn hide_union(a: &Option<Rc<[Sym]>>, b: &[Sym]) -> Option<Rc<[Sym]>> {
    let mut v: Vec<Sym> = a.as_deref().unwrap_or(&[]).to_vec();
    v.extend_from_slice(b);
    v.sort_unstable();
    v.dedup();
    (!v.is_empty()).then(|| v.into())
}

fn hide_inter(a: &Option<Rc<[Sym]>>, b: &Option<Rc<[Sym]>>) -> Vec<Sym> {
    match (a, b) {
        (Some(a), Some(b)) => a
            .iter()
            .filter(|s| b.binary_search(s).is_ok())
            .copied()
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// Over the caps on alternatives, steps or depth.
    TooComplex,
    /// A construct the expander does not implement.
    Unsupported(String),
}

/// Caps: distinct results of one expansion, work per expansion, nesting.
const MAX_RESULTS: usize = 256;
const MAX_STEPS: usize = 200_000;
const MAX_DEPTH: usize = 64;

/// One expansion job.
pub struct Expander<'t, 'a> {
    pub table: &'t mut MacroTable<'a>,
    pub interner: &'t mut Interner,
    /// What `__FILE__` may be (the current file's name as gcc spells it, and
    /// names from `#line`).
    pub file_names: Vec<Vec<u8>>,
    pub base_file: Vec<u8>,
    /// Expand only these names (the `#if` line pass looking for
    /// `__has_include` behind macros); `None`: every name.
    pub only: Option<&'t FxSet<Sym>>,
    /// Expanding an `#if` line: leave the operands of `defined` and of
    /// `__has_include` alone.
    pub if_mode: bool,
    /// Names looked up, so a later round knows whether new definitions can
    /// change this result.
    pub touched: FxSet<Sym>,
    steps: usize,
}

#[derive(Clone)]
struct State {
    out: Vec<XTok>,
    /// Remaining input, reversed (the next token is last).
    rest: Vec<XTok>,
}

impl<'t, 'a> Expander<'t, 'a> {
    pub fn new(table: &'t mut MacroTable<'a>, interner: &'t mut Interner) -> Self {
        Expander {
            table,
            interner,
            file_names: Vec::new(),
            base_file: Vec::new(),
            only: None,
            if_mode: false,
            touched: FxSet::default(),
            steps: 0,
        }
    }

    /// Every full expansion of `toks`, deduplicated.
    pub fn expand(&mut self, toks: &[Tok]) -> Result<Vec<Vec<XTok>>, ExpandError> {
        let input: Vec<XTok> = toks.iter().map(|&t| XTok::new(t)).collect();
        self.expand_list(input, 0)
    }

    fn step(&mut self) -> Result<(), ExpandError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(ExpandError::TooComplex);
        }
        Ok(())
    }

    fn expandable(&self, s: Sym) -> bool {
        self.only.is_none_or(|o| o.contains(&s))
    }

    fn expand_list(
        &mut self,
        input: Vec<XTok>,
        depth: usize,
    ) -> Result<Vec<Vec<XTok>>, ExpandError> {
        if depth > MAX_DEPTH {
            return Err(ExpandError::TooComplex);
        }
        let mut results: Vec<Vec<XTok>> = Vec::new();
        let mut seen: FxSet<Vec<(Sym, Kind, bool, bool)>> = FxSet::default();
        let mut stack = vec![State {
            out: Vec::with_capacity(input.len()),
            rest: input.into_iter().rev().collect(),
        }];
        while let Some(mut st) = stack.pop() {
            loop {
                self.step()?;
                let Some(t) = st.rest.pop() else {
                    let key: Vec<_> = st.out.iter().map(XTok::key).collect();
                    if seen.insert(key) {
                        results.push(std::mem::take(&mut st.out));
                        if results.len() > MAX_RESULTS {
                            return Err(ExpandError::TooComplex);
                        }
                    }
                    break;
                };
                if t.t.kind != Kind::Ident || t.hidden(t.t.sym) {
                    st.out.push(t);
                    continue;
                }
                let s = t.t.sym;
                if self.if_mode && (s == sym::DEFINED || sym::has_include(s).is_some()) {
                    // Copy the operand unexpanded: `defined X`,
                    // `defined ( X )`, `__has_include ( ... )`.
                    st.out.push(t);
                    if st.rest.last().is_some_and(|n| n.t.sym == sym::LPAREN) {
                        let mut d = 0usize;
                        while let Some(n) = st.rest.pop() {
                            let (open, close) = (n.t.sym == sym::LPAREN, n.t.sym == sym::RPAREN);
                            st.out.push(n);
                            if open {
                                d += 1;
                            } else if close {
                                d -= 1;
                                if d == 0 {
                                    break;
                                }
                            }
                        }
                    } else if s == sym::DEFINED {
                        if let Some(n) = st.rest.pop() {
                            st.out.push(n);
                        }
                    }
                    continue;
                }
                if let Some(b) = self.builtin(&t) {
                    match b {
                        Builtin::One(x) => st.out.push(x),
                        Builtin::Many(xs) => {
                            let mut it = xs.into_iter();
                            let first = it.next();
                            for x in it {
                                let mut b = st.clone();
                                b.out.push(x);
                                stack.push(b);
                            }
                            if let Some(x) = first {
                                st.out.push(x);
                            }
                        }
                    }
                    continue;
                }
                // Recorded even when not expanded now: a later definition
                // may make the name lead to `__has_include`.
                self.touched.insert(s);
                if !self.expandable(s) {
                    st.out.push(t);
                    continue;
                }
                let alts = self.table.alts(s);
                if alts.len() == 1 && matches!(alts[0], Alt::Undefined) {
                    st.out.push(t);
                    continue;
                }
                let mut branches: Vec<State> = Vec::new();
                for alt in alts.iter() {
                    match *alt {
                        Alt::Undefined => {
                            let mut b = st.clone();
                            b.out.push(t.clone());
                            branches.push(b);
                        }
                        Alt::Def(d) if d.params.is_none() => {
                            let hide = hide_union(&t.hide, &[s]);
                            for r in self.subst(d, &[], hide, &t, depth)? {
                                let mut b = st.clone();
                                b.rest.extend(r.into_iter().rev());
                                branches.push(b);
                            }
                        }
                        Alt::Def(d) => {
                            let mut b = st.clone();
                            match collect_args(&mut b.rest, &d) {
                                ArgsResult::NotCall => {
                                    b.out.push(t.clone());
                                    branches.push(b);
                                }
                                // gcc reports an error: no valid result.
                                ArgsResult::Invalid => {}
                                ArgsResult::Args(args, rparen_hide) => {
                                    let mut h = hide_inter(&t.hide, &rparen_hide);
                                    h.push(s);
                                    let hide = hide_union(&None, &h);
                                    for r in self.subst(d, &args, hide, &t, depth)? {
                                        let mut c = b.clone();
                                        c.rest.extend(r.into_iter().rev());
                                        branches.push(c);
                                    }
                                }
                            }
                        }
                    }
                }
                if stack.len() + branches.len() > 4 * MAX_RESULTS * 16 {
                    return Err(ExpandError::TooComplex);
                }
                match branches.pop() {
                    Some(b) => {
                        stack.extend(branches);
                        st = b;
                    }
                    None => break,
                }
            }
        }
        Ok(results)
    }

    fn builtin(&mut self, t: &XTok) -> Option<Builtin> {
        let s = t.t.sym;
        let string = |me: &mut Self, v: &[u8]| {
            let mut q = Vec::with_capacity(v.len() + 2);
            q.push(b'"');
            for &c in v {
                if c == b'"' || c == b'\\' {
                    q.push(b'\\');
                }
                q.push(c);
            }
            q.push(b'"');
            let sym = me.interner.intern(&q);
            XTok {
                t: Tok {
                    sym,
                    kind: Kind::Str,
                    ws: t.t.ws,
                },
                sws: t.sws,
                hide: None,
            }
        };
        match s {
            sym::FILE => {
                let names = self.file_names.clone();
                Some(Builtin::Many(
                    names.iter().map(|n| string(self, n)).collect(),
                ))
            }
            sym::BASE_FILE => {
                let b = self.base_file.clone();
                Some(Builtin::One(string(self, &b)))
            }
            sym::FILE_NAME => {
                let names = self.file_names.clone();
                Some(Builtin::Many(
                    names
                        .iter()
                        .map(|n| {
                            let base = n.rsplit(|&c| c == b'/').next().unwrap_or(n);
                            string(self, base)
                        })
                        .collect(),
                ))
            }
            sym::LINE
            | sym::COUNTER
            | sym::INCLUDE_LEVEL
            | sym::TIMESTAMP
            | sym::DATE
            | sym::TIME => {
                let mut x = t.clone();
                x.t.kind = Kind::Unknowable;
                Some(Builtin::One(x))
            }
            _ => None,
        }
    }
}

enum Builtin {
    One(XTok),
    Many(Vec<XTok>),
}

#[cfg(test)]
mod tests {
    use super::super::directives::parse;
    use super::super::tokens::FxMap;
    use super::*;

    /// Expand the operand of the last `#include` of `src`, with the
    /// definitions of `src` as alternatives.
    fn names(src: &str) -> Vec<String> {
        let mut i = Interner::new();
        let p = parse(src.as_bytes(), &mut i).unwrap();
        let fixed = FxMap::default();
        let mut table = MacroTable::new(vec![&p], &fixed);
        let op = p
            .includes
            .iter()
            .rev()
            .find_map(|d| match &d.op {
                super::super::parsed::Operand::Computed(t) => Some(t.clone()),
                _ => None,
            })
            .expect("a computed include");
        let mut e = Expander::new(&mut table, &mut i);
        e.file_names = vec![b"dir/cur.h".to_vec()];
        let res = e.expand(&op).unwrap();
        let mut out = Vec::new();
        for r in res {
            if let Interpreted::Names(ns) = interpret(&r, e.interner) {
                for n in ns {
                    let s = match n {
                        HeaderName::Quote(q) => format!("\"{}\"", String::from_utf8_lossy(&q)),
                        HeaderName::Angle(a) => format!("<{}>", String::from_utf8_lossy(&a)),
                    };
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn object_and_function_like() {
        assert_eq!(names("#define H \"a.h\"\n#include H\n"), ["\"a.h\""]);
        assert_eq!(names("#define H(x) <x.h>\n#include H(foo)\n"), ["<foo.h>"]);
        assert_eq!(
            names("#define S(x) #x\n#define XS(x) S(x)\n#define D sub\n#include XS(D/f.h)\n"),
            // D may be undefined where the include is (its definition could
            // be conditional): that reading too.
            ["\"D/f.h\"", "\"sub/f.h\""]
        );
        assert_eq!(
            names("#define CAT(a,b) a##b\n#define H CAT(<x,y.h>)\n#include H\n"),
            ["<xy.h>"]
        );
    }

    #[test]
    fn alternatives_are_all_kept() {
        let n = names(
            "#ifdef A\n#define CFG \"a.h\"\n#else\n#define CFG \"b.h\"\n#endif\n#include CFG\n",
        );
        assert_eq!(n, ["\"a.h\"", "\"b.h\""]);
        // The kernel's trace pattern.
        let n = names(
            "#define __stringify_1(x...) #x\n#define __stringify(x...) __stringify_1(x)\n\
             #define TRACE_SYSTEM sched\n#define TRACE_SYSTEM irq\n\
             #ifndef TRACE_INCLUDE_FILE\n#define TRACE_INCLUDE_FILE TRACE_SYSTEM\n#endif\n\
             #ifndef TRACE_INCLUDE_PATH\n# define __TRACE_INCLUDE(system) <trace/events/system.h>\n\
             #else\n# define __TRACE_INCLUDE(system) __stringify(TRACE_INCLUDE_PATH/system.h)\n#endif\n\
             #define TRACE_INCLUDE_PATH ../../fs/xfs\n\
             # define TRACE_INCLUDE(system) __TRACE_INCLUDE(system)\n\
             #include TRACE_INCLUDE(TRACE_INCLUDE_FILE)\n#undef TRACE_INCLUDE_FILE\n",
        );
        for want in [
            "<trace/events/sched.h>",
            "<trace/events/irq.h>",
            "\"../../fs/xfs/sched.h\"",
            "\"../../fs/xfs/irq.h\"",
            "<trace/events/TRACE_INCLUDE_FILE.h>",
        ] {
            assert!(n.contains(&want.to_string()), "{want} missing from {n:?}");
        }
    }

    #[test]
    fn variadics_and_file() {
        assert_eq!(
            names("#define F(a, ...) <a.h>\n#include F(x, 1, 2)\n"),
            ["<x.h>"]
        );
        assert_eq!(
            names("#define F(a, ...) a(__VA_ARGS__)\n#define G(...) #__VA_ARGS__\n#include F(G, y.h)\n"),
            ["\"y.h\""]
        );
        assert_eq!(
            names(
                "#define F(fmt, args...) S(fmt, ## args)\n#define S(x,...) #x\n#include F(z.h)\n"
            ),
            ["\"z.h\""]
        );
        assert_eq!(names("#include __FILE__\n"), ["\"dir/cur.h\""]);
        assert_eq!(
            names("#define P(x, ...) #x __VA_OPT__(junk)\n#include P(v.h)\n"),
            ["\"v.h\""]
        );
    }

    #[test]
    fn recursion_and_unknowable() {
        assert_eq!(
            names("#define A A\n#define H A\n#include H\n"),
            Vec::<String>::new()
        );
        let mut i = Interner::new();
        let p = parse(
            b"#define S(x) #x\n#define X(x) S(x)\n#include X(__LINE__)\n",
            &mut i,
        )
        .unwrap();
        let fixed = FxMap::default();
        let mut table = MacroTable::new(vec![&p], &fixed);
        let op = match &p.includes[0].op {
            super::super::parsed::Operand::Computed(t) => t.clone(),
            _ => unreachable!(),
        };
        let mut e = Expander::new(&mut table, &mut i);
        let r = e.expand(&op).unwrap();
        assert!(r
            .iter()
            .any(|x| matches!(interpret(x, e.interner), Interpreted::Unknowable)));
    }

    #[test]
    fn explosion_is_capped() {
        let mut src = String::new();
        for n in 0..40 {
            src.push_str(&format!("#define A{n} x{n}\n#define A{n} y{n}\n"));
        }
        src.push_str("#define S(x) #x\n#define XS(x) S(x)\n#include XS(");
        for n in 0..40 {
            src.push_str(&format!("A{n} "));
        }
        src.push_str(")\n");
        let mut i = Interner::new();
        let p = parse(src.as_bytes(), &mut i).unwrap();
        let fixed = FxMap::default();
        let mut table = MacroTable::new(vec![&p], &fixed);
        let op = match &p.includes[0].op {
            super::super::parsed::Operand::Computed(t) => t.clone(),
            _ => unreachable!(),
        };
        let mut e = Expander::new(&mut table, &mut i);
        assert_eq!(e.expand(&op).unwrap_err(), ExpandError::TooComplex);
    }
}

#[cfg(test)]
mod fuzz {
    use super::super::directives::parse;
    use super::super::parsed::Operand;
    use super::super::tokens::FxMap;
    use super::*;

    /// Random C-ish text from fragments that stress the reader and the
    /// expander: nothing may panic or loop.
    #[test]
    fn random_sources_never_panic() {
        const FRAGS: &[&str] = &[
            "#define ",
            "#include ",
            "#include_next ",
            "#if ",
            "#undef ",
            "(",
            ")",
            "##",
            "#",
            "\\\n",
            "/*",
            "*/",
            "//",
            "\"",
            "'",
            "R\"x(",
            ")x\"",
            "__VA_ARGS__",
            "__VA_OPT__",
            ",",
            "...",
            "<",
            ">",
            "A",
            "B",
            "F",
            "G",
            "x",
            "\n",
            " ",
            "__has_include",
            "%:",
            "??=",
            "??/",
            "1'2",
            "u8R\"",
            "__FILE__",
            "__LINE__",
            "defined",
            ".h",
            "/",
            "\r",
            "\t",
            "\0",
            "\u{e9}",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut parsed, mut expanded) = (0, 0);
        for _ in 0..8000 {
            let n = (rnd() % 60) as usize;
            let mut src = String::new();
            for _ in 0..n {
                src.push_str(FRAGS[(rnd() % FRAGS.len() as u64) as usize]);
            }
            let mut i = Interner::new();
            let Ok(p) = parse(src.as_bytes(), &mut i) else {
                continue;
            };
            parsed += 1;
            let fixed = FxMap::default();
            let mut table = MacroTable::new(vec![&p], &fixed);
            for d in &p.includes {
                if let Operand::Computed(t) = &d.op {
                    let mut e = Expander::new(&mut table, &mut i);
                    e.file_names = vec![b"f.h".to_vec()];
                    if let Ok(res) = e.expand(t) {
                        expanded += 1;
                        for r in &res {
                            let _ = interpret(r, e.interner);
                        }
                    }
                }
            }
            for c in &p.conds {
                let mut e = Expander::new(&mut table, &mut i);
                e.if_mode = true;
                let _ = e.expand(&c.toks);
            }
        }
        assert!(parsed > 1000 && expanded > 500, "{parsed} {expanded}");
    }
}
