//! Arbitrary bytes through the visits.csv reader; the checks are in `bodies/csv_row.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../bodies/csv_row.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::check(data));
