//! Fuzz target `route`: see [`twoway_testkit::fuzzing::route`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway_testkit::fuzzing::route(data));
