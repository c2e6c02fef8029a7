//! Fuzz target `identity`: see [`twoway_testkit::fuzzing::identity`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway_testkit::fuzzing::identity(data));
