//! Arbitrary bytes as a GPS string; the checks are in `bodies/gps_parse.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../bodies/gps_parse.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::check(data));
