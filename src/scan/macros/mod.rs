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

mod expand;
mod header_name;
mod table;
#[cfg(test)]
mod tests;
mod xtok;

pub use expand::{ExpandError, Expander};
pub use header_name::{interpret, HeaderName, Interpreted};
pub use table::MacroTable;
pub use xtok::XTok;
