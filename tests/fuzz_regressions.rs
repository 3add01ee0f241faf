//! Replays every input saved under tests/fuzz/regressions/<target>/
//! (crashes the fuzzers found, and hand-made edge cases) through the same
//! bodies the fuzz targets run.

use std::path::Path;

type Body = fn(&[u8]);

#[test]
fn replay_saved_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions");
    let targets: [(&str, Body); 9] = [
        ("token", tinydcc::fuzzing::token),
        ("request", tinydcc::fuzzing::request),
        ("reply", tinydcc::fuzzing::reply),
        ("hosts", tinydcc::fuzzing::hosts),
        ("args", tinydcc::fuzzing::args),
        ("lzo", tinydcc::fuzzing::lzo),
        ("scanner", tinydcc::fuzzing::scanner),
        ("store", tinydcc::fuzzing::store),
        ("store_form", tinydcc::fuzzing::store_form),
    ];
    let mut n = 0;
    for (name, body) in targets {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            body(&data);
            n += 1;
        }
    }
    assert!(n >= 8, "expected saved inputs, found {n}");
}
