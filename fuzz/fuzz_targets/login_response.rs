//! Fuzz target `login_response`: see [`twoway_testkit::fuzzing::login_response`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway_testkit::fuzzing::login_response(data));
