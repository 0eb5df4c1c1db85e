//! Arbitrary bytes through the visits.csv reader (docs/file-formats.md §2), half of the time behind a
//! valid header so the fuzzer reaches the field parsers: never panics, accepted visits have
//! their required values, detection runs on whatever was accepted, and the parallel table
//! reader agrees with the strict reader on every input.
//!
//! The body of the `csv_row` fuzz target, shared (by `#[path]`) with the corpus test of
//! conflict-io so that its assertions also run on stable Rust.

use std::path::Path;

use conflict_core::{detect, DetectConfig, DetectedPair};
use conflict_io::csv::{read_visit_table_from_bytes, read_visits_from};

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
    let strict = read_visits_from(&input[..], Path::new("fuzz.csv"));
    // The parallel table reader of `conflicts detect` reads exactly what the strict reader
    // reads, and fails with exactly its message.
    match (
        &strict,
        read_visit_table_from_bytes(&input, Path::new("fuzz.csv")),
    ) {
        (Ok(s), Ok(t)) => {
            assert_eq!(t.visits.to_visits(), s.visits);
            assert_eq!(t.lines, s.lines);
            assert_eq!(t.unknown_columns, s.unknown_columns);
        }
        (Err(s), Err(t)) => assert_eq!(s.to_string(), t.to_string()),
        (s, t) => panic!("strict {:?} vs table {:?}", s.is_ok(), t.is_ok()),
    }
    match strict {
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
