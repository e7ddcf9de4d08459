#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| halo_bp::fuzzing::halo_answer(bytes));
