//! A small arbitrary batch of visits and arbitrary rule options through `detect`; the checks
//! are in `bodies/detect_visits.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../bodies/detect_visits.rs"]
mod body;

fuzz_target!(|data: &[u8]| {
    let _ = body::check(data);
});
