//! Test material for twoway, outside the gateway crate: the test PKI behind
//! `twoway pki` ([`pki`]), documents built to be expensive to parse
//! ([`hostile`]), the bodies of the fuzz targets ([`fuzzing`]), captured
//! Salesforce answers ([`samples`]) and the test tenants ([`tenants`]). The
//! CLI, the end-to-end tests, the benchmarks and `fuzz/` use it; the
//! gateway only in its unit tests.
#![forbid(unsafe_code)]

pub mod fuzzing;
pub mod hostile;
pub mod pki;
pub mod samples;
pub mod tenants;
