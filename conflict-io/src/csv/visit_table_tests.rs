//! The fast table reader against the strict reader of `visits.rs` (the reference: the reader
//! file mode used before, whose behaviour the CLI tests pin): same visits, lines and unknown
//! columns on well-formed files, cut into many small blocks and chunks; the same error on
//! malformed ones.

use std::path::Path;

use conflict_core::VisitRows;

use super::{read_fast, read_visit_table};
use crate::csv::read_visits_from;

/// Block sizes from absurdly small (every record straddles blocks) to larger than the input.
const BLOCKS: [usize; 5] = [1, 7, 64, 1000, 1 << 20];

/// Asserts the fast path takes `text` (`Some`) or hands it to the strict reader (`None`), and
/// that what it returns is exactly what the strict reader returns.
fn check(text: &str, fast_expected: bool) {
    let want = read_visits_from(text.as_bytes(), Path::new("v.csv")).expect("well formed");
    for block in BLOCKS {
        let got = read_fast(&mut text.as_bytes(), text.len() as u64, block).unwrap();
        match got {
            Some(got) => {
                assert!(fast_expected, "fast path took the input");
                assert_eq!(got.visits.to_visits(), want.visits, "block {block}");
                assert_eq!(got.lines, want.lines, "block {block}");
                assert_eq!(got.unknown_columns, want.unknown_columns);
                assert_eq!(got.visits.len(), got.lines.len());
            }
            None => assert!(!fast_expected, "block {block}: gave up"),
        }
    }
}

const HEADER: &str = "visit_id,ssn,provider_id,visit_date,sch_start,sch_end,visit_start,visit_end";

fn row(i: usize) -> String {
    format!(
        "v{i},{ssn},p{p},2025-06-{d:02},2025-06-{d:02} 09:00:00,2025-06-{d:02} 10:30:00.25,,",
        ssn = 100 + i % 7,
        p = i % 3,
        d = 1 + i % 28
    )
}

#[test]
fn plain_lf_file_with_many_records() {
    let mut text = format!("{HEADER}\n");
    for i in 0..300 {
        text += &row(i);
        text.push('\n');
    }
    check(&text, true);
    // Without the final line end.
    check(text.trim_end(), true);
}

#[test]
fn crlf_blank_lines_bom_and_unknown_columns() {
    let mut text = format!("\r\n\u{feff}{HEADER},extra\r\n\r\n");
    for i in 0..50 {
        text += &row(i);
        text += if i % 5 == 0 { ",x\r\n\r\n\n" } else { ",y\r\n" };
    }
    check(&text, true);
}

#[test]
fn every_column_quoted_cells_and_padding() {
    let header = crate::csv::VISIT_COLUMNS.join(",");
    let mut text = format!("{header}\n");
    for i in 0..40 {
        text += &format!(
            "\" v{i} \",{app},\" 123-45-{i:04}\",\"p,{p}\",2025-06-10,2025-06-10 09:00:00,\
             2025-06-10T10:00:00,,2025-06-10 11:00:00.123456789,\"40.1, -73.9\",\"\"\"q\"\"\",\
             {lat},-73.5, 10001 ,ny,\"New York\",,{missed},2025-06-01 00:00:00,{cg}\n",
            app = if i % 2 == 0 {
                format!("{}", i as i64 - 20)
            } else {
                String::new()
            },
            p = i % 4,
            lat = if i % 3 == 0 { "40.5" } else { "" },
            missed = ["TRUE", "f", "", "1", "False"][i % 5],
            cg = if i % 4 == 0 { " cg " } else { "" },
        );
    }
    check(&text, true);
}

#[test]
fn identical_repeats_are_kept() {
    let text = format!("{HEADER}\n{}\n{}\n{}\n", row(1), row(2), row(1));
    check(&text, true);
}

/// A quoted cell spanning lines may be cut: the strict reader takes over, same result.
#[test]
fn quoted_line_ends_are_left_to_the_strict_reader() {
    let mut text = format!("{HEADER},call_out_gps\n");
    for i in 0..20 {
        text += &row(i);
        text += ",\"40.1,\n-73.9\"\n";
    }
    let want = read_visits_from(text.as_bytes(), Path::new("v.csv")).unwrap();
    for block in BLOCKS {
        if let Some(got) = read_fast(&mut text.as_bytes(), text.len() as u64, block).unwrap() {
            assert_eq!(got.visits.to_visits(), want.visits);
            assert_eq!(got.lines, want.lines);
        }
    }
}

/// Malformed files give the strict reader's error, word for word.
#[test]
fn malformed_files_give_the_strict_readers_messages() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        format!("{HEADER}\n{}\nv9,1,p,2025-13-01,,,,\n", row(1)),
        format!("{HEADER}\n{}\n{},extra\n", row(1), row(2)),
        format!("{HEADER}\n{}\nv1,2,p,2025-06-01,,,,\n", row(1)),
        "visit_id,ssn\nv1,1\n".to_string(),
        String::new(),
        format!("{HEADER}\n,1,p,2025-06-01,,,,\n"),
    ];
    for (k, text) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{k}.csv"));
        std::fs::write(&path, text).unwrap();
        let want = read_visits_from(text.as_bytes(), &path)
            .unwrap_err()
            .to_string();
        let got = read_visit_table(&path).unwrap_err().to_string();
        assert_eq!(got, want, "{text:?}");
    }
}

/// The conformance vectors of the specification.
#[test]
fn spec_vectors() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conflict-cli/tests/vectors/visits.csv");
    let text = std::fs::read_to_string(path).unwrap();
    check(&text, true);
}
