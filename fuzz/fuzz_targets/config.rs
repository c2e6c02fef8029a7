//! Fuzz target `config`: see [`twoway::fuzzing::config`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway::fuzzing::config(data));
