//! Fuzz target `identity`: see [`twoway::fuzzing::identity`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway::fuzzing::identity(data));
