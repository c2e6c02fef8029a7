//! Fuzz target `login_response`: see [`twoway::fuzzing::login_response`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway::fuzzing::login_response(data));
