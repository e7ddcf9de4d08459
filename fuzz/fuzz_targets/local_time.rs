#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| repbook::fuzzing::local_time(bytes));
