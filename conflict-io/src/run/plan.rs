//! The batches of a new run: SSN-prefix batches over the window (full), or groups of delta
//! keys (incremental). Every batch holds whole keys (docs/lifecycle.md §2).

use std::collections::BTreeMap;

use super::job::{source_err, store_err, JobError, JobOptions};
use super::ports::{BatchSpec, ConflictStore, Key, Mode, RunInfo, VisitSource};
use crate::scope::Scope;

/// Batches of a new run: SSN-prefix batches over the window (full), or groups of delta keys
/// (incremental).
pub(super) fn plan_batches<St: ConflictStore, S: VisitSource>(
    store: &St,
    source: &mut S,
    run: &RunInfo,
    opts: &JobOptions,
) -> Result<Vec<BatchSpec>, JobError> {
    match run.mode {
        Mode::Full => {
            let counts = |len: usize, source: &mut S| -> Result<BTreeMap<String, u64>, JobError> {
                let mut m = BTreeMap::new();
                for (p, n) in source.ssn_prefixes(&run.window, len).map_err(source_err)? {
                    *m.entry(p).or_default() += n;
                }
                for (p, n) in store.stored_prefixes(&run.window, len).map_err(store_err)? {
                    *m.entry(p).or_default() += n;
                }
                Ok(m)
            };
            let prefixes = match opts.prefix_len {
                Some(len) => counts(len.max(1), source)?,
                None => choose_prefixes(|len| counts(len, source), opts.max_visits_per_batch)?,
            };
            Ok(prefixes
                .into_keys()
                .map(|p| BatchSpec {
                    key: format!("ssn:{p}"),
                    scope: Scope::SsnPrefix(p),
                })
                .collect())
        }
        Mode::Incremental => {
            let since = run.since.ok_or_else(|| {
                JobError::Store("incremental run without a watermark".to_string().into())
            })?;
            let mut keys: Vec<Key> = source.delta_keys(since, &run.window).map_err(source_err)?;
            keys.sort_unstable_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
            keys.dedup();
            Ok(keys
                .chunks(opts.keys_per_batch.max(1))
                .enumerate()
                .map(|(i, chunk)| BatchSpec {
                    key: format!("keys:{i:06}"),
                    scope: Scope::Keys(chunk.to_vec()),
                })
                .collect())
        }
    }
}

/// The shortest prefix length (1..=9) whose largest batch holds at most `max` visits.
fn choose_prefixes(
    mut counts: impl FnMut(usize) -> Result<BTreeMap<String, u64>, JobError>,
    max: u64,
) -> Result<BTreeMap<String, u64>, JobError> {
    let mut last = BTreeMap::new();
    for len in 1..=9 {
        last = counts(len)?;
        if last.values().all(|&n| n <= max) {
            break;
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_length_grows_until_batches_fit() {
        let data = ["111", "112", "121", "211"];
        let counts = |len: usize| {
            let mut m = BTreeMap::new();
            for s in data {
                *m.entry(s[..len.min(3)].to_string()).or_insert(0) += 10;
            }
            Ok(m)
        };
        assert_eq!(choose_prefixes(counts, 30).unwrap().len(), 2);
        assert_eq!(choose_prefixes(counts, 20).unwrap().len(), 3);
        assert_eq!(choose_prefixes(counts, 10).unwrap().len(), 4);
        assert_eq!(
            choose_prefixes(counts, 1).unwrap().len(),
            4,
            "stops at full length"
        );
    }
}
