//! A token during expansion, with its hide set.

use super::super::tokens::{Kind, Sym, Tok};
use std::rc::Rc;

/// A token during expansion: its hide set, and the whitespace gcc uses when
/// stringifying (which, after argument substitution, is the parameter's,
/// not the token's own: see `sws`).
#[derive(Clone, Debug)]
pub struct XTok {
    pub t: Tok,
    /// Whitespace before, as `#` stringification sees it.
    pub sws: bool,
    pub(super) hide: Option<Rc<[Sym]>>,
}

impl XTok {
    pub fn new(t: Tok) -> XTok {
        XTok {
            t,
            sws: t.ws,
            hide: None,
        }
    }
    pub(super) fn hidden(&self, s: Sym) -> bool {
        self.hide
            .as_ref()
            .is_some_and(|h| h.binary_search(&s).is_ok())
    }
    pub(super) fn key(&self) -> (Sym, Kind, bool, bool) {
        (self.t.sym, self.t.kind, self.t.ws, self.sws)
    }
}

pub(super) fn hide_union(a: &Option<Rc<[Sym]>>, b: &[Sym]) -> Option<Rc<[Sym]>> {
    let mut v: Vec<Sym> = a.as_deref().unwrap_or(&[]).to_vec();
    v.extend_from_slice(b);
    v.sort_unstable();
    v.dedup();
    (!v.is_empty()).then(|| v.into())
}

pub(super) fn hide_inter(a: &Option<Rc<[Sym]>>, b: &Option<Rc<[Sym]>>) -> Vec<Sym> {
    match (a, b) {
        (Some(a), Some(b)) => a
            .iter()
            .filter(|s| b.binary_search(s).is_ok())
            .copied()
            .collect(),
        _ => Vec::new(),
    }
}
