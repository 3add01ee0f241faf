//! The include-analysis engine (being moved here from `pump`).

pub(crate) use crate::pump::compiler_dirs;
pub(crate) mod searchpath;
