//! The expander end to end: a file's definitions as alternatives, its
//! computed include expanded and read as header names.

use super::super::directives::parse;
use super::super::tokens::{FxMap, Interner};
use super::expand::{ExpandError, Expander};
use super::header_name::{interpret, HeaderName, Interpreted};
use super::table::MacroTable;

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
    let n =
        names("#ifdef A\n#define CFG \"a.h\"\n#else\n#define CFG \"b.h\"\n#endif\n#include CFG\n");
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
        names(
            "#define F(a, ...) a(__VA_ARGS__)\n#define G(...) #__VA_ARGS__\n#include F(G, y.h)\n"
        ),
        ["\"y.h\""]
    );
    assert_eq!(
        names("#define F(fmt, args...) S(fmt, ## args)\n#define S(x,...) #x\n#include F(z.h)\n"),
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

mod fuzz {
    use super::super::super::parsed::Operand;
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
