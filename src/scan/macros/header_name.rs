//! Reading an expansion as an `#include` operand: the header name it
//! spells, if any.

use super::super::tokens::{sym, Interner, Kind};
use super::xtok::XTok;

/// What an expanded operand names: `"x"` or `<x>` (with the spellings gcc
/// might glue for `<...>`), or why it names nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderName {
    Quote(Vec<u8>),
    Angle(Vec<u8>),
}

pub enum Interpreted {
    Names(Vec<HeaderName>),
    /// Built from `__LINE__` or the like: cannot be known.
    Unknowable,
    /// Not a header name (gcc would report an error).
    NotAName,
}

/// Read an expansion result as an `#include` operand.
pub fn interpret(x: &[XTok], interner: &Interner) -> Interpreted {
    let toks: Vec<&XTok> = x.iter().filter(|t| t.t.kind != Kind::Placemarker).collect();
    let Some(first) = toks.first() else {
        return Interpreted::NotAName;
    };
    let sp = interner.get(first.t.sym);
    if first.t.kind == Kind::Unknowable {
        return Interpreted::Unknowable;
    }
    if first.t.kind == Kind::Str && sp.first() == Some(&b'"') && sp.len() >= 2 {
        return Interpreted::Names(vec![HeaderName::Quote(sp[1..sp.len() - 1].to_vec())]);
    }
    if first.t.kind == Kind::Punct && first.t.sym == sym::LESS {
        let mut own = Vec::new();
        let mut site = Vec::new();
        let mut bare = Vec::new();
        let mut closed = false;
        for t in &toks[1..] {
            if t.t.kind == Kind::Punct && t.t.sym == sym::GREATER {
                closed = true;
                break;
            }
            if t.t.kind == Kind::Unknowable {
                return Interpreted::Unknowable;
            }
            let s = interner.get(t.t.sym);
            if t.t.ws {
                own.push(b' ');
            }
            if t.sws {
                site.push(b' ');
            }
            own.extend_from_slice(s);
            site.extend_from_slice(s);
            bare.extend_from_slice(s);
        }
        // gcc reports a missing `>` but still looks the glued name up.
        let _ = closed;
        let mut names = vec![HeaderName::Angle(own)];
        for n in [site, bare] {
            let n = HeaderName::Angle(n);
            if !names.contains(&n) {
                names.push(n);
            }
        }
        return Interpreted::Names(names);
    }
    Interpreted::NotAName
}
