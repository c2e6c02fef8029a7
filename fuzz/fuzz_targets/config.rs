//! Fuzz target `config`: see [`twoway_testkit::fuzzing::config`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway_testkit::fuzzing::config(data));
