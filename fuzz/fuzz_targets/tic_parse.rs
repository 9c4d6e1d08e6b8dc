#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::tic_parse(data));
