//! Fuzz target `xml_inject_classify`: see [`twoway_testkit::fuzzing::xml_inject_classify`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twoway_testkit::fuzzing::xml_inject_classify(data));
