#![no_main]
// Body in src/fuzzing.rs (shared with tests/fuzz_regressions.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| tinydcc::fuzzing::store_form(data));
