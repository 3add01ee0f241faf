//! Every definition of every name a closure has seen: what a name may
//! mean where it is used.

use super::super::parsed::{MacroDef, Parsed};
use super::super::tokens::{FxMap, Sym};
use std::rc::Rc;

/// One possible meaning of a name at the place it is used.
#[derive(Clone, Copy, Debug)]
pub enum Alt<'a> {
    Undefined,
    Def(MacroDef<'a>),
}

/// Every definition of every name, over the files of one closure plus the
/// compiler's predefined macros and the command line's `-D`/`-U`.
pub struct MacroTable<'a> {
    files: Vec<&'a Parsed>,
    fixed: &'a FxMap<Sym, MacroDef<'a>>,
    memo: FxMap<Sym, Rc<[Alt<'a>]>>,
}

impl<'a> MacroTable<'a> {
    pub fn new(files: Vec<&'a Parsed>, fixed: &'a FxMap<Sym, MacroDef<'a>>) -> Self {
        MacroTable {
            files,
            fixed,
            memo: FxMap::default(),
        }
    }

    pub fn alts(&mut self, name: Sym) -> Rc<[Alt<'a>]> {
        if let Some(a) = self.memo.get(&name) {
            return a.clone();
        }
        let mut v: Vec<Alt<'a>> = Vec::new();
        let fixed = self.fixed.get(&name);
        if let Some(d) = fixed {
            v.push(Alt::Def(*d));
        }
        let mut undef = fixed.is_none();
        for f in &self.files {
            for d in f.defines_of(name) {
                let dup = v.iter().any(|a| match a {
                    Alt::Def(e) => e.same(&d),
                    Alt::Undefined => false,
                });
                if !dup {
                    v.push(Alt::Def(d));
                }
            }
            undef |= f.undefines(name);
        }
        // A definition in a file may be conditional, or come after the use:
        // the name may then still be undefined, and left as it is.
        if undef {
            v.push(Alt::Undefined);
        }
        let rc: Rc<[Alt<'a>]> = v.into();
        self.memo.insert(name, rc.clone());
        rc
    }
}
