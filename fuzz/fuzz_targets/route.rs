//! Fuzz target `route`: see [`twoway::fuzzing::route`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway::fuzzing::route(data));
