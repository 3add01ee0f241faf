//! The expander: every full expansion of a token list, over every
//! alternative definition of each name, with hide sets (Prosser's
//! algorithm); and the invocation of one macro (arguments collected and
//! fully expanded first, substituted into the replacement list with `#`,
//! `##`, `__VA_OPT__` and GNU's `, ## __VA_ARGS__`).

use super::super::parsed::MacroDef;
use super::super::tokens::{
    is_hash, is_hashhash, lex_exactly_one, sym, FxMap, FxSet, Interner, Kind, Sym, Tok,
};
use super::table::{Alt, MacroTable};
use super::xtok::{hide_inter, hide_union, XTok};
use std::rc::Rc;

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

enum Item {
    T(XTok),
    Paste,
}

impl Expander<'_, '_> {
    /// The replacement lists of `d` invoked with `args` (one per
    /// combination of the arguments' alternative expansions).
    fn subst(
        &mut self,
        d: MacroDef<'_>,
        args: &[Vec<XTok>],
        hide: Option<Rc<[Sym]>>,
        invocation: &XTok,
        depth: usize,
    ) -> Result<Vec<Vec<XTok>>, ExpandError> {
        let params: &[Sym] = d.params.unwrap_or(&[]);
        let fn_like = d.params.is_some();
        let va_index = if d.variadic {
            Some(params.len() - 1)
        } else {
            None
        };
        // `__VA_OPT__(x)` is x when the variable arguments are not empty.
        let mut bodies: Vec<Vec<Tok>> = vec![d.body.to_vec()];
        if d.variadic && d.body.iter().any(|t| t.sym == sym::VA_OPT) {
            let va = va_index.and_then(|i| args.get(i));
            let present = va.is_some_and(|a| a.iter().any(|t| t.t.kind != Kind::Placemarker));
            bodies = vec![apply_va_opt(d.body, present)
                .ok_or_else(|| ExpandError::Unsupported("a malformed __VA_OPT__".into()))?];
        }
        let body = bodies.pop().unwrap_or_default();
        let param_of = |t: &Tok| -> Option<usize> {
            if !fn_like || t.kind != Kind::Ident {
                return None;
            }
            params.iter().position(|&p| p == t.sym)
        };
        let is_paste =
            |t: &Tok, me: &Self| t.kind == Kind::Punct && is_hashhash(me.interner.get(t.sym));
        // Pieces: fixed items, or "the expanded argument i".
        enum Piece {
            Items(Vec<Item>),
            Expanded(usize, bool),
        }
        let mut pieces: Vec<Piece> = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        let mut used: Vec<usize> = Vec::new();
        let mut k = 0;
        while k < body.len() {
            let t = body[k];
            let prev_paste = k > 0 && is_paste(&body[k - 1], self);
            let next_paste = body.get(k + 1).is_some_and(|n| is_paste(n, self));
            if fn_like && t.kind == Kind::Punct && is_hash(self.interner.get(t.sym)) {
                if let Some(p) = body.get(k + 1).and_then(param_of) {
                    let s = self.stringify(args.get(p).map(Vec::as_slice).unwrap_or(&[]));
                    let mut x = XTok::new(Tok {
                        sym: s.0,
                        kind: if s.1 { Kind::Unknowable } else { Kind::Str },
                        ws: t.ws,
                    });
                    x.sws = t.ws;
                    items.push(Item::T(x));
                    k += 2;
                    continue;
                }
                if body.get(k + 1).is_some_and(|n| n.sym == sym::VA_OPT) {
                    return Err(ExpandError::Unsupported("#__VA_OPT__".into()));
                }
                // gcc rejects the definition: it cannot be the real one.
                return Ok(Vec::new());
            }
            if is_paste(&t, self) && k > 0 && k + 1 < body.len() {
                // GNU: `, ## __VA_ARGS__` drops the comma when the variable
                // arguments are empty, else it is just a comma.
                let comma_va = body[k - 1].sym == sym::COMMA
                    && va_index.is_some()
                    && param_of(&body[k + 1]) == va_index;
                if comma_va {
                    let va = &args[va_index.unwrap_or(0)];
                    if va.iter().all(|x| x.t.kind == Kind::Placemarker) {
                        items.pop();
                    }
                    k += 1;
                    continue;
                }
                items.push(Item::Paste);
                k += 1;
                continue;
            }
            if let Some(p) = param_of(&t) {
                let arg = args.get(p).cloned().unwrap_or_default();
                if prev_paste || next_paste {
                    let mut a: Vec<XTok> = arg;
                    if a.is_empty() {
                        a.push(placemarker(self.interner));
                    }
                    if let Some(f) = a.first_mut() {
                        f.sws = t.ws;
                    }
                    items.extend(a.into_iter().map(Item::T));
                } else {
                    pieces.push(Piece::Items(std::mem::take(&mut items)));
                    pieces.push(Piece::Expanded(p, t.ws));
                    if !used.contains(&p) {
                        used.push(p);
                    }
                }
                k += 1;
                continue;
            }
            items.push(Item::T(XTok::new(t)));
            k += 1;
        }
        pieces.push(Piece::Items(items));
        // The alternative expansions of each argument used unpasted.
        let mut expanded: FxMap<usize, Vec<Vec<XTok>>> = FxMap::default();
        for &p in &used {
            let arg = args.get(p).cloned().unwrap_or_default();
            let arg: Vec<XTok> = arg
                .into_iter()
                .filter(|x| x.t.kind != Kind::Placemarker)
                .collect();
            let alts = self.expand_list(arg, depth + 1)?;
            expanded.insert(p, alts);
        }
        // Every combination (the same argument expands the same way at each
        // of its uses).
        let mut combos: Vec<FxMap<usize, usize>> = vec![FxMap::default()];
        for &p in &used {
            let n = expanded[&p].len();
            let mut next = Vec::new();
            for c in &combos {
                for i in 0..n {
                    let mut c2 = c.clone();
                    c2.insert(p, i);
                    next.push(c2);
                }
            }
            combos = next;
            if combos.len() > MAX_RESULTS {
                return Err(ExpandError::TooComplex);
            }
        }
        let mut out = Vec::new();
        for c in combos {
            let mut flat: Vec<Item> = Vec::new();
            for piece in &pieces {
                match piece {
                    Piece::Items(v) => flat.extend(v.iter().map(|i| match i {
                        Item::T(x) => Item::T(x.clone()),
                        Item::Paste => Item::Paste,
                    })),
                    Piece::Expanded(p, ws) => {
                        let alt = &expanded[p][c[p]];
                        for (j, x) in alt.iter().enumerate() {
                            let mut x = x.clone();
                            if j == 0 {
                                x.sws = *ws;
                            }
                            flat.push(Item::T(x));
                        }
                    }
                }
            }
            let Some(mut toks) = self.paste_all(flat) else {
                continue; // an invalid paste: gcc reports an error
            };
            toks.retain(|x| x.t.kind != Kind::Placemarker);
            for x in toks.iter_mut() {
                x.hide = hide_union(&x.hide, hide.as_deref().unwrap_or(&[]));
            }
            if let Some(f) = toks.first_mut() {
                f.t.ws = invocation.t.ws;
                f.sws = invocation.sws;
            }
            out.push(toks);
        }
        Ok(out)
    }

    fn paste_all(&mut self, items: Vec<Item>) -> Option<Vec<XTok>> {
        let mut out: Vec<XTok> = Vec::new();
        let mut it = items.into_iter();
        while let Some(i) = it.next() {
            match i {
                Item::T(x) => out.push(x),
                Item::Paste => {
                    let Some(Item::T(rhs)) = it.next() else {
                        return None;
                    };
                    let lhs = out.pop()?;
                    out.push(self.paste(lhs, rhs)?);
                }
            }
        }
        Some(out)
    }

    fn paste(&mut self, lhs: XTok, rhs: XTok) -> Option<XTok> {
        if lhs.t.kind == Kind::Placemarker {
            return Some(XTok {
                t: Tok {
                    ws: lhs.t.ws,
                    ..rhs.t
                },
                sws: lhs.sws,
                hide: rhs.hide,
            });
        }
        if rhs.t.kind == Kind::Placemarker {
            return Some(lhs);
        }
        let mut b = self.interner.get(lhs.t.sym).to_vec();
        b.extend_from_slice(self.interner.get(rhs.t.sym));
        let kind = if lhs.t.kind == Kind::Unknowable || rhs.t.kind == Kind::Unknowable {
            Kind::Unknowable
        } else {
            lex_exactly_one(&b)?
        };
        let sym = self.interner.intern(&b);
        Some(XTok {
            t: Tok {
                sym,
                kind,
                ws: lhs.t.ws,
            },
            sws: lhs.sws,
            hide: hide_union(&lhs.hide, rhs.hide.as_deref().unwrap_or(&[])),
        })
    }

    /// `#arg`: the spelling, blanks where the tokens had whitespace, `"`
    /// and `\` escaped inside literals. True if built from an unknowable.
    fn stringify(&mut self, arg: &[XTok]) -> (Sym, bool) {
        let mut s = vec![b'"'];
        let mut unknowable = false;
        let mut first = true;
        for x in arg {
            if x.t.kind == Kind::Placemarker {
                continue;
            }
            unknowable |= x.t.kind == Kind::Unknowable;
            if !first && x.sws {
                s.push(b' ');
            }
            first = false;
            let sp = self.interner.get(x.t.sym);
            if matches!(x.t.kind, Kind::Str | Kind::Char) {
                for &c in sp {
                    if c == b'"' || c == b'\\' {
                        s.push(b'\\');
                    }
                    s.push(c);
                }
            } else {
                s.extend_from_slice(sp);
            }
        }
        s.push(b'"');
        (self.interner.intern(&s), unknowable)
    }
}

fn placemarker(interner: &mut Interner) -> XTok {
    let _ = interner;
    XTok::new(Tok {
        sym: sym::EMPTY,
        kind: Kind::Placemarker,
        ws: false,
    })
}

enum ArgsResult {
    NotCall,
    Invalid,
    Args(Vec<Vec<XTok>>, Option<Rc<[Sym]>>),
}

/// Take `( args )` off the input if it starts with `(`.
fn collect_args(rest: &mut Vec<XTok>, d: &MacroDef<'_>) -> ArgsResult {
    if rest
        .last()
        .is_none_or(|t| t.t.sym != sym::LPAREN || t.t.kind != Kind::Punct)
    {
        return ArgsResult::NotCall;
    }
    rest.pop();
    let params = d.params.unwrap_or(&[]);
    let mut args: Vec<Vec<XTok>> = vec![Vec::new()];
    let mut depth = 0usize;
    loop {
        let Some(t) = rest.pop() else {
            return ArgsResult::Invalid; // unterminated argument list
        };
        if t.t.kind == Kind::Punct {
            if t.t.sym == sym::LPAREN {
                depth += 1;
            } else if t.t.sym == sym::RPAREN {
                if depth == 0 {
                    let n = params.len();
                    let got = args.len();
                    let ok = got == n
                        || (n == 0 && got == 1 && args[0].is_empty())
                        || (d.variadic && got + 1 == n);
                    if !ok {
                        return ArgsResult::Invalid;
                    }
                    while args.len() < n {
                        args.push(Vec::new());
                    }
                    if n == 0 {
                        args.clear();
                    }
                    return ArgsResult::Args(args, t.hide);
                }
                depth -= 1;
            } else if t.t.sym == sym::COMMA && depth == 0 {
                let in_va = d.variadic && args.len() >= params.len();
                if !in_va {
                    args.push(Vec::new());
                    continue;
                }
            }
        }
        if let Some(a) = args.last_mut() {
            a.push(t);
        }
    }
}

/// The body with `__VA_OPT__(x)` replaced by `x` or by nothing.
fn apply_va_opt(body: &[Tok], present: bool) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < body.len() {
        if body[k].sym != sym::VA_OPT {
            out.push(body[k]);
            k += 1;
            continue;
        }
        if body.get(k + 1)?.sym != sym::LPAREN {
            return None;
        }
        let mut depth = 0usize;
        let mut j = k + 1;
        loop {
            let t = body.get(j)?;
            if t.sym == sym::LPAREN {
                depth += 1;
            } else if t.sym == sym::RPAREN {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            j += 1;
        }
        if present {
            out.extend_from_slice(&body[k + 2..j]);
        }
        k = j + 1;
    }
    Some(out)
}
