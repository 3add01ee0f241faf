//! What reading one file yields (`Parsed`): its include-like directives,
//! its macro definitions in arenas, the `#if` lines that could reach
//! `__has_include` through a macro; and how `__has_include` operands and
//! computed `<...>` names are read from tokens. `directives` fills it in.

use super::tokens::{sym, Interner, Kind, Sym, Tok};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IncKind {
    /// `#include`, `#import`, clang's `#__include_macros`.
    Include,
    IncludeNext,
    /// `__has_include(...)`: the file is looked up, not read.
    HasInclude,
    HasIncludeNext,
    /// `#pragma GCC dependency "file"`: gcc stats the file (an error if
    /// missing), so it is shipped, but it is not C.
    Dependency,
}

impl IncKind {
    pub fn is_next(self) -> bool {
        matches!(self, IncKind::IncludeNext | IncKind::HasIncludeNext)
    }
    /// The found file is read as C (so scanned in turn).
    pub fn reads(self) -> bool {
        matches!(self, IncKind::Include | IncKind::IncludeNext)
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Operand {
    Quote(Box<[u8]>),
    Angle(Box<[u8]>),
    /// Tokens to macro-expand (a computed include).
    Computed(Box<[Tok]>),
}

#[derive(Clone, Debug)]
pub struct IncDirective {
    pub kind: IncKind,
    pub line: u32,
    pub op: Operand,
}

/// One definition, as the expander sees it (borrowed from its file).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MacroDef<'a> {
    pub name: Sym,
    /// `None` for an object-like macro. A variadic macro's last parameter
    /// is `__VA_ARGS__` or the GNU named one (`args...`).
    pub params: Option<&'a [Sym]>,
    pub variadic: bool,
    pub body: &'a [Tok],
    pub line: u32,
}

impl MacroDef<'_> {
    /// Same meaning (where it was defined aside).
    pub fn same(&self, o: &MacroDef<'_>) -> bool {
        self.name == o.name
            && self.params == o.params
            && self.variadic == o.variadic
            && self.body == o.body
    }
}

/// A definition stored in its file's arenas: a build's headers hold
/// hundreds of thousands of them, so no allocation of their own.
#[derive(Clone, Copy, Debug)]
struct DefEntry {
    name: Sym,
    line: u32,
    params: u32,
    body: u32,
    body_len: u32,
    nparams: u16,
    fn_like: bool,
    variadic: bool,
}

/// An `#if`/`#elif` line, kept in case a macro used in it turns out to
/// expand to `__has_include`.
#[derive(Clone, Debug)]
pub struct CondLine {
    pub line: u32,
    pub toks: Box<[Tok]>,
}

/// Everything the scanner keeps of one file.
#[derive(Default, Debug)]
pub struct Parsed {
    pub includes: Vec<IncDirective>,
    /// Definitions, sorted by name; their parameters and bodies.
    defs: Vec<DefEntry>,
    def_params: Vec<Sym>,
    def_body: Vec<Tok>,
    /// Sorted, unique.
    pub undefs: Vec<Sym>,
    pub conds: Vec<CondLine>,
    /// Identifiers of `conds`, sorted, unique.
    pub cond_idents: Vec<Sym>,
    /// Identifiers used in macro bodies, sorted, unique.
    pub body_idents: Vec<Sym>,
    /// Macros whose body holds a `__has_include` that depends on where the
    /// macro is used (a quote form, `_next`, an operand built from
    /// parameters, or a bare alias such as `#define HAS __has_include`).
    pub hi_macros: Vec<Sym>,
    /// File names given by `#line` / line markers (what `__FILE__` may say).
    pub line_names: Vec<Box<[u8]>>,
    /// A construct the scanner does not handle (e.g. `#embed`), with its line.
    pub unsupported: Option<(u32, String)>,
}

impl Parsed {
    fn view(&self, e: &DefEntry) -> MacroDef<'_> {
        let p = e.params as usize;
        let b = e.body as usize;
        MacroDef {
            name: e.name,
            params: e
                .fn_like
                .then(|| &self.def_params[p..p + e.nparams as usize]),
            variadic: e.variadic,
            body: &self.def_body[b..b + e.body_len as usize],
            line: e.line,
        }
    }
    /// The definitions of `name` in this file.
    pub fn defines_of(&self, name: Sym) -> impl Iterator<Item = MacroDef<'_>> {
        let lo = self.defs.partition_point(|d| d.name < name);
        let hi = self.defs.partition_point(|d| d.name <= name);
        self.defs[lo..hi].iter().map(|e| self.view(e))
    }
    pub fn defines(&self) -> impl Iterator<Item = MacroDef<'_>> {
        self.defs.iter().map(|e| self.view(e))
    }
    pub fn defines_any(&self, name: Sym) -> bool {
        self.defs.binary_search_by_key(&name, |d| d.name).is_ok()
    }
    pub(super) fn push_def(&mut self, d: MacroDef<'_>) {
        let e = DefEntry {
            name: d.name,
            line: d.line,
            params: self.def_params.len() as u32,
            body: self.def_body.len() as u32,
            body_len: d.body.len() as u32,
            nparams: d
                .params
                .map_or(0, |p| p.len().min(u16::MAX as usize) as u16),
            fn_like: d.params.is_some(),
            variadic: d.variadic,
        };
        if let Some(p) = d.params {
            self.def_params
                .extend_from_slice(&p[..p.len().min(u16::MAX as usize)]);
        }
        self.def_body.extend_from_slice(d.body);
        self.defs.push(e);
    }
    pub fn undefines(&self, name: Sym) -> bool {
        self.undefs.binary_search(&name).is_ok()
    }
}

/// The operand of a `__has_include` whose tokens follow it in `toks`:
/// `( "x" )`, `( <x> )` or `( tokens )`. gcc reports a missing `(` but goes
/// on with the next token, so that is accepted too.
pub fn has_include_operand(toks: &[Tok], interner: &Interner) -> Option<Operand> {
    let mut k = 0;
    let paren = toks.first()?.sym == sym::LPAREN;
    if paren {
        k = 1;
    }
    let first = toks.get(k)?;
    let sp = interner.get(first.sym);
    if first.kind == Kind::Str && sp.first() == Some(&b'"') && sp.len() >= 2 {
        return Some(Operand::Quote(sp[1..sp.len() - 1].into()));
    }
    if first.kind == Kind::HeaderName && sp.len() >= 2 {
        return Some(Operand::Angle(sp[1..sp.len() - 1].into()));
    }
    if !paren {
        return None;
    }
    let mut depth = 0usize;
    let mut end = toks.len();
    for (j, t) in toks.iter().enumerate().skip(k) {
        if t.sym == sym::LPAREN {
            depth += 1;
        } else if t.sym == sym::RPAREN {
            if depth == 0 {
                end = j;
                break;
            }
            depth -= 1;
        }
    }
    let inner = &toks[k..end];
    (!inner.is_empty()).then(|| Operand::Computed(inner.into()))
}

/// `<` tokens `>` glued the way gcc glues a computed `<...>` name: spellings
/// joined, a blank where the source had whitespace before a token.
pub fn glue_angle(toks: &[Tok], interner: &Interner) -> Option<(Vec<u8>, usize)> {
    if toks.first()?.sym != sym::LESS {
        return None;
    }
    let mut name = Vec::new();
    for (j, t) in toks.iter().enumerate().skip(1) {
        if t.sym == sym::GREATER && t.kind == Kind::Punct {
            return Some((name, j + 1));
        }
        if t.kind == Kind::Placemarker {
            continue;
        }
        if t.ws {
            name.push(b' ');
        }
        name.extend_from_slice(interner.get(t.sym));
    }
    None
}

fn sort_unique(v: &mut Vec<Sym>) {
    v.sort_unstable();
    v.dedup();
}

/// Make a file's reading ready for use: definitions sorted and without
/// duplicates (the same file read under several lexing modes defines
/// things twice), lists sorted, and the `__has_include`s of macro bodies
/// sorted into lookups and `hi_macros`.
pub(super) fn finish(out: &mut Parsed, interner: &Interner) {
    // Sort the entries (the arenas stay), then drop exact duplicates (the
    // same file read under several lexing modes defines things twice).
    let mut defs = std::mem::take(&mut out.defs);
    defs.sort_by_key(|d| d.name);
    let mut kept: Vec<DefEntry> = Vec::with_capacity(defs.len());
    for e in defs {
        let dup = kept
            .iter()
            .rev()
            .take_while(|k| k.name == e.name)
            .any(|k| out.view(k).same(&out.view(&e)));
        if !dup {
            kept.push(e);
        }
    }
    out.defs = kept;
    sort_unique(&mut out.undefs);
    sort_unique(&mut out.cond_idents);
    let mut seen = crate::fxhash::FxSet::default();
    out.includes.retain(|d| seen.insert((d.kind, d.op.clone())));
    out.line_names.sort();
    out.line_names.dedup();
    let mut body_idents = Vec::new();
    let mut hi = Vec::new();
    let mut found = Vec::new();
    for d in out.defines() {
        for (k, t) in d.body.iter().enumerate() {
            if t.kind != Kind::Ident {
                continue;
            }
            body_idents.push(t.sym);
            let Some(next) = sym::has_include(t.sym) else {
                continue;
            };
            if k > 0 && d.body[k - 1].sym == sym::DEFINED {
                continue;
            }
            if k > 1 && d.body[k - 1].sym == sym::LPAREN && d.body[k - 2].sym == sym::DEFINED {
                continue;
            }
            // `__has_include(<literal>)` in a body means the same wherever
            // the macro is used: look it up now. Anything else depends on
            // the use site (see `hi_macros`).
            let rest = &d.body[k + 1..];
            let literal = !next
                && rest.first().is_some_and(|t| t.sym == sym::LPAREN)
                && glue_angle(&rest[1..], interner).is_some_and(|(_, used)| {
                    let params = d.params.unwrap_or(&[]);
                    rest[1..1 + used]
                        .iter()
                        .all(|t| !params.contains(&t.sym) && t.sym != sym::VA_ARGS)
                        && rest.get(1 + used).is_some_and(|t| t.sym == sym::RPAREN)
                });
            if literal {
                let (name, used) = glue_angle(&rest[1..], interner).unwrap_or_default();
                found.push(IncDirective {
                    kind: IncKind::HasInclude,
                    line: d.line,
                    op: Operand::Angle(name.into()),
                });
                // The tokens inside `<...>` are macro-expanded at the use
                // site (gcc glues them with cpp_get_token): that reading too.
                found.push(IncDirective {
                    kind: IncKind::HasInclude,
                    line: d.line,
                    op: Operand::Computed(rest[1..1 + used].into()),
                });
            } else {
                hi.push(d.name);
            }
        }
    }
    for f in found {
        if seen.insert((f.kind, f.op.clone())) {
            out.includes.push(f);
        }
    }
    sort_unique(&mut body_idents);
    sort_unique(&mut hi);
    out.body_idents = body_idents;
    out.hi_macros = hi;
    out.includes.shrink_to_fit();
    out.defs.shrink_to_fit();
    out.def_params.shrink_to_fit();
    out.def_body.shrink_to_fit();
    out.conds.shrink_to_fit();
}
