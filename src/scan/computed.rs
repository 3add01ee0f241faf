//! Computed includes (`#include MACRO`) and `#if` lines that may reach
//! `__has_include` through a macro: they wait until the walk has read
//! every file it can, then are expanded over every definition seen so far
//! (each is an alternative: conditionals are not evaluated), in rounds,
//! until a round finds nothing new. A pending item is expanded again only
//! when a file that joined since defines or undefines a name it touched.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use super::closure::{give_up, GiveUp};
use super::directives;
use super::macros::{interpret, ExpandError, Expander, HeaderName, Interpreted, MacroTable, XTok};
use super::node::Node;
use super::parsed::{has_include_operand, CondLine, IncKind, MacroDef, Operand, Parsed};
use super::tokens::{sym, FxMap, FxSet, Interner, Kind, Sym, Tok};

/// A computed include or `__has_include` waiting for the macro table.
pub(super) struct Pending {
    pub(super) node: usize,
    /// Index in the node's `includes` (or in its `conds` for `cond`).
    pub(super) idx: usize,
    cond: bool,
    last_round: u32,
    touched: FxSet<Sym>,
    resolved: bool,
    pub(super) why: Option<String>,
}

/// One scan's computed includes and what they are expanded with.
#[derive(Default)]
pub(super) struct Computed {
    /// When each parsed file joined (the round), for re-evaluations.
    joined: Vec<(Arc<Parsed>, u32)>,
    joined_ptrs: FxSet<*const Parsed>,
    pending: Vec<Pending>,
    pending_conds: FxSet<(usize, usize)>,
    /// The command line's `-D`/`-U`, read once.
    cmdline: Option<Arc<Vec<(bool, Parsed)>>>,
    round: u32,
}

/// A header name one round found, to look up: (node, kind, name, line).
pub(super) type Found = (usize, IncKind, HeaderName, u32);

impl Computed {
    /// A file was read: its definitions count from the next round.
    pub(super) fn join(&mut self, parsed: &Arc<Parsed>) {
        if self.joined_ptrs.insert(Arc::as_ptr(parsed)) {
            self.joined.push((parsed.clone(), self.round + 1));
        }
    }

    /// Node `node`'s `idx`th include (or `#if` line, `cond`) waits.
    pub(super) fn wait(&mut self, node: usize, idx: usize, cond: bool) {
        self.pending.push(Pending {
            node,
            idx,
            cond,
            last_round: 0,
            touched: FxSet::default(),
            resolved: false,
            why: None,
        });
    }

    /// A `__has_include` no round could read.
    pub(super) fn unresolved_cond(&self) -> Option<&Pending> {
        self.pending.iter().find(|p| p.cond && !p.resolved)
    }

    /// Computed includes no definition turned into a header name.
    pub(super) fn unresolved_includes(&self) -> u64 {
        self.pending
            .iter()
            .filter(|p| !p.cond && !p.resolved)
            .count() as u64
    }

    /// Names that may expand to a use-site dependent `__has_include`.
    fn hi_names(&self) -> FxSet<Sym> {
        let mut h: FxSet<Sym> = FxSet::default();
        for (p, _) in &self.joined {
            h.extend(p.hi_macros.iter().copied());
        }
        if h.is_empty() {
            return h;
        }
        h.insert(sym::HAS_INCLUDE);
        h.insert(sym::HAS_INCLUDE_NEXT);
        loop {
            let mut grew = false;
            for (p, _) in &self.joined {
                if !h.iter().any(|s| p.body_idents.binary_search(s).is_ok()) {
                    continue;
                }
                for d in p.defines() {
                    if !h.contains(&d.name) && d.body.iter().any(|t| h.contains(&t.sym)) {
                        h.insert(d.name);
                        grew = true;
                    }
                }
            }
            if !grew {
                return h;
            }
        }
    }

    /// The pending items to expand this round: new ones, and those whose
    /// touched names a file that joined since defines or undefines.
    fn due(&self) -> Vec<usize> {
        (0..self.pending.len())
            .filter(|&i| {
                let p = &self.pending[i];
                p.last_round == 0
                    || self.joined.iter().any(|(f, r)| {
                        *r > p.last_round
                            && p.touched
                                .iter()
                                .any(|&s| f.defines_any(s) || f.undefines(s))
                    })
            })
            .collect()
    }
}

/// Predefined macros, then -D/-U in order: one definition each.
fn fixed_macros<'a>(
    predefined: &'a Parsed,
    cmdline: &'a [(bool, Parsed)],
) -> FxMap<Sym, MacroDef<'a>> {
    let mut fixed: FxMap<Sym, MacroDef<'_>> = FxMap::default();
    for d in predefined.defines() {
        fixed.insert(d.name, d);
    }
    for (def, p) in cmdline {
        if *def {
            for d in p.defines() {
                fixed.insert(d.name, d);
            }
        } else {
            for u in &p.undefs {
                fixed.remove(u);
            }
        }
    }
    fixed
}

impl Computed {
    /// Expand the computed includes and `#if` lines waiting for macros,
    /// with every definition seen so far (in `nodes`, the compiler's
    /// `predefined` macros and the command line's `defines`): the header
    /// names they may name, to look up.
    pub(super) fn evaluate_round(
        &mut self,
        nodes: &[Node],
        interner: &mut Interner,
        predefined: &Arc<Parsed>,
        defines: &[(bool, OsString)],
    ) -> Result<Vec<Found>, GiveUp> {
        // `#if` lines that may reach `__has_include` through a macro.
        let hi = self.hi_names();
        if !hi.is_empty() {
            self.watch_conds(nodes, &hi);
        }
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        self.round += 1;
        let todo = self.due();
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        let predefined = predefined.clone();
        let cmdline = self.cmdline_defs(defines, interner)?;
        let fixed = fixed_macros(&predefined, &cmdline);
        let files: Vec<Arc<Parsed>> = self.joined.iter().map(|(p, _)| p.clone()).collect();
        let mut table = MacroTable::new(files.iter().map(|p| &**p).collect(), &fixed);
        self.expand_due(&todo, nodes, interner, &mut table, &hi)
    }

    /// Make every `#if` line that names one of `hi` wait too.
    fn watch_conds(&mut self, nodes: &[Node], hi: &FxSet<Sym>) {
        for (id, node) in nodes.iter().enumerate() {
            let Some(p) = node.parsed.clone() else {
                continue;
            };
            if !hi.iter().any(|s| p.cond_idents.binary_search(s).is_ok()) {
                continue;
            }
            for (ci, c) in p.conds.iter().enumerate() {
                let uses = c.toks.iter().any(|t| {
                    t.kind == Kind::Ident
                        && hi.contains(&t.sym)
                        && sym::has_include(t.sym).is_none()
                });
                if uses && self.pending_conds.insert((id, ci)) {
                    self.wait(id, ci, true);
                }
            }
        }
    }

    /// The command line's `-D`/`-U`, in order, each read as a directive.
    fn cmdline_defs(
        &mut self,
        defines: &[(bool, OsString)],
        interner: &mut Interner,
    ) -> Result<Arc<Vec<(bool, Parsed)>>, GiveUp> {
        if let Some(f) = &self.cmdline {
            return Ok(f.clone());
        }
        let mut v = Vec::new();
        for (def, d) in defines {
            let def = *def;
            // Bytes: a macro's value need not be UTF-8.
            let d = d.as_bytes();
            let text = if def {
                match d.iter().position(|&b| b == b'=') {
                    Some(eq) => [b"#define ", &d[..eq], b" ", &d[eq + 1..], b"\n"].concat(),
                    None => [b"#define ", d, b" 1\n"].concat(),
                }
            } else {
                [b"#undef ", d, b"\n"].concat()
            };
            let p = directives::parse(&text, interner)
                .map_err(|e| GiveUp(format!("-D{}: {e}", String::from_utf8_lossy(d))))?;
            v.push((def, p));
        }
        let rc = Arc::new(v);
        self.cmdline = Some(rc.clone());
        Ok(rc)
    }

    /// Expand the pending items `todo` over `table`: the header names
    /// they may name.
    fn expand_due(
        &mut self,
        todo: &[usize],
        nodes: &[Node],
        interner: &mut Interner,
        table: &mut MacroTable<'_>,
        hi: &FxSet<Sym>,
    ) -> Result<Vec<Found>, GiveUp> {
        let round = self.round;
        let main_path = nodes[0].path.clone();
        let mut work: Vec<Found> = Vec::new();
        for &i in todo {
            let (node, idx, cond) = (
                self.pending[i].node,
                self.pending[i].idx,
                self.pending[i].cond,
            );
            let Some(parsed) = nodes[node].parsed.clone() else {
                continue;
            };
            let mut file_names = vec![nodes[node].path.clone()];
            file_names.extend(parsed.line_names.iter().map(|n| n.to_vec()));
            let shown = String::from_utf8_lossy(&nodes[node].path).into_owned();
            let mut x = Expansion {
                table: &mut *table,
                interner: &mut *interner,
                file_names,
                base_file: &main_path,
                shown: &shown,
            };
            let p = &mut self.pending[i];
            p.last_round = round;
            if cond {
                let Some(c) = parsed.conds.get(idx) else {
                    continue;
                };
                x.cond(p, c, node, hi, &mut work)?;
            } else {
                let Some(d) = parsed.includes.get(idx) else {
                    continue;
                };
                let Operand::Computed(toks) = &d.op else {
                    continue;
                };
                let names = x.names(p, toks, d.line)?;
                // None yet: a file found later may define the macro.
                p.resolved |= !names.is_empty();
                work.extend(names.into_iter().map(|n| (node, d.kind, n, d.line)));
            }
        }
        Ok(work)
    }
}

/// Expanding one pending item of one file.
struct Expansion<'x, 'a> {
    table: &'x mut MacroTable<'a>,
    interner: &'x mut Interner,
    /// What `__FILE__` may be.
    file_names: Vec<Vec<u8>>,
    /// `__BASE_FILE__`.
    base_file: &'x [u8],
    /// The file, as messages name it.
    shown: &'x str,
}

impl<'a> Expansion<'_, 'a> {
    fn expander(&mut self) -> Expander<'_, 'a> {
        let mut ex = Expander::new(self.table, self.interner);
        ex.file_names = self.file_names.clone();
        ex.base_file = self.base_file.to_vec();
        ex
    }

    /// The header names a computed operand `toks` (at `line`) may expand
    /// to; the names it looked at go into `p.touched`.
    fn names(
        &mut self,
        p: &mut Pending,
        toks: &[Tok],
        line: u32,
    ) -> Result<Vec<HeaderName>, GiveUp> {
        let shown = self.shown;
        let mut ex = self.expander();
        let res = ex.expand(toks);
        p.touched.extend(ex.touched.iter().copied());
        let res = res.map_err(|e| expand_give_up(shown, line, e))?;
        names_of(&res, ex.interner, shown, line)
    }

    /// An `#if` line `c` of node `node`: the headers its `__has_include`s
    /// (reached through `hi` macros) may name go into `work`.
    fn cond(
        &mut self,
        p: &mut Pending,
        c: &CondLine,
        node: usize,
        hi: &FxSet<Sym>,
        work: &mut Vec<Found>,
    ) -> Result<(), GiveUp> {
        let line = c.line;
        let ops = self.has_include_operands(p, c, hi)?;
        p.resolved = true;
        for (kind, op) in ops {
            match op {
                Operand::Quote(n) => work.push((node, kind, HeaderName::Quote(n.into()), line)),
                Operand::Angle(n) => work.push((node, kind, HeaderName::Angle(n.into()), line)),
                Operand::Computed(t) => {
                    let names = self.names(p, &t, line)?;
                    if names.is_empty() {
                        p.resolved = false;
                        p.why = Some("its operand names no header".into());
                    }
                    work.extend(names.into_iter().map(|n| (node, kind, n, line)));
                }
            }
        }
        Ok(())
    }

    /// The operands of the `__has_include`s in `#if` line `c` once
    /// expanded: expanding only the names that lead to `__has_include`,
    /// then, if an operand cannot be read, everything.
    fn has_include_operands(
        &mut self,
        p: &mut Pending,
        c: &CondLine,
        hi: &FxSet<Sym>,
    ) -> Result<Vec<(IncKind, Operand)>, GiveUp> {
        let (shown, line) = (self.shown, c.line);
        let mut ops: Vec<(IncKind, Operand)> = Vec::new();
        for only in [Some(hi), None] {
            ops.clear();
            let mut ex = self.expander();
            ex.only = only;
            ex.if_mode = true;
            let res = ex.expand(&c.toks);
            p.touched.extend(ex.touched.iter().copied());
            let res = res.map_err(|e| expand_give_up(shown, line, e))?;
            let mut ok = true;
            for r in &res {
                let toks: Vec<Tok> = r.iter().map(|x| x.t).collect();
                for (k, t) in toks.iter().enumerate() {
                    let Some(next) = (t.kind == Kind::Ident)
                        .then(|| sym::has_include(t.sym))
                        .flatten()
                    else {
                        continue;
                    };
                    let after_defined = (k >= 1 && toks[k - 1].sym == sym::DEFINED)
                        || (k >= 2
                            && toks[k - 1].sym == sym::LPAREN
                            && toks[k - 2].sym == sym::DEFINED);
                    if after_defined {
                        continue;
                    }
                    let kind = if next {
                        IncKind::HasIncludeNext
                    } else {
                        IncKind::HasInclude
                    };
                    match has_include_operand(&toks[k + 1..], ex.interner) {
                        Some(op) => ops.push((kind, op)),
                        None => ok = false,
                    }
                }
            }
            if ok {
                return Ok(ops);
            }
            if only.is_none() {
                return give_up(format!(
                    "{shown}:{line}: cannot read a __has_include operand"
                ));
            }
        }
        Ok(ops)
    }
}

fn expand_give_up(file: &str, line: u32, e: ExpandError) -> GiveUp {
    match e {
        ExpandError::TooComplex => GiveUp(format!(
            "{file}:{line}: computed include has too many possible expansions"
        )),
        ExpandError::Unsupported(w) => GiveUp(format!(
            "{file}:{line}: computed include uses {w}, not supported"
        )),
    }
}

/// The header names of a set of expansions. An unknowable one (built from
/// `__LINE__`...) is a give-up.
fn names_of(
    res: &[Vec<XTok>],
    interner: &Interner,
    file: &str,
    line: u32,
) -> Result<Vec<HeaderName>, GiveUp> {
    let mut out: Vec<HeaderName> = Vec::new();
    for r in res {
        match interpret(r, interner) {
            Interpreted::Names(ns) => {
                for n in ns {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
            Interpreted::Unknowable => {
                return give_up(format!(
                    "{file}:{line}: computed include depends on __LINE__, __COUNTER__ or the like"
                ))
            }
            Interpreted::NotAName => {}
        }
    }
    Ok(out)
}
