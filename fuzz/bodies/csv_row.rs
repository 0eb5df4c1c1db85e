//! Arbitrary bytes through the visits.csv reader (docs/file-formats.md §2), half of the time behind a
//! valid header so the fuzzer reaches the field parsers: never panics, accepted visits have
//! their required values, and detection runs on whatever was accepted.
//!
//! The body of the `csv_row` fuzz target, shared (by `#[path]`) with the corpus test of
//! conflict-io so that its assertions also run on stable Rust.

use std::path::Path;

use conflict_core::{detect, DetectConfig, DetectedPair};
use conflict_io::csv::read_visits_from;

const HEADER: &[u8] =
    b"visit_id,ssn,provider_id,visit_date,sch_start,sch_end,visit_start,visit_end,\
call_out_gps,call_in_gps,address_latitude,address_longitude,patient_zip,patient_state,\
payer_patient_state,provider_state,is_missed,app_visit_id,updated_at\n";

/// Checks one input (first byte: even = behind a valid header); panics when a property does
/// not hold.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input: Vec<u8> = if mode % 2 == 0 {
        [HEADER, rest].concat()
    } else {
        rest.to_vec()
    };
    match read_visits_from(&input[..], Path::new("fuzz.csv")) {
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(read) => {
            assert_eq!(read.visits.len(), read.lines.len());
            assert!(
                read.lines.windows(2).all(|w| w[0] < w[1]),
                "{:?}",
                read.lines
            );
            for v in &read.visits {
                assert!(!v.visit_id.trim().is_empty(), "{v:?}");
                assert!(!v.provider_id.trim().is_empty(), "{v:?}");
            }
            let cfg = DetectConfig::new("2025-06-15".parse().unwrap()).unwrap();
            let mut pairs: Vec<DetectedPair> = Vec::new();
            let _ = detect(&read.visits, &cfg, &mut pairs);
        }
    }
}
