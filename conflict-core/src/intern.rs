//! Hashing and id interning shared by admission (`admit`) and pairing (`pairing`): short
//! text keys become small integer ids so that grouping and
//! comparisons work on integers. Kept apart so that neither module reaches into the other.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast multiplicative hasher for the short keys of admission and grouping (visit ids,
/// SSNs, provider ids, states, zips). std's SipHash guards against hash flooding by untrusted
/// keys; these keys come from the operator's own files and database, and SipHash was the
/// largest single cost of grouping a large batch.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const FAST_K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FAST_K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low bits the table indexes with.
        let h = self.0;
        (h ^ (h >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (h >> 29)
    }
}

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Values of one chunk of rows interned locally: an id per row (0 for NULL, `1..` for the
/// distinct keys in order of first appearance) and the keys by id.
pub(crate) struct Local<K> {
    ids: Vec<u32>,
    keys: Vec<K>,
    map: FastMap<K, u32>,
}

impl<K: std::hash::Hash + Eq + Copy> Local<K> {
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Local {
            ids: Vec::with_capacity(rows),
            keys: Vec::new(),
            map: FastMap::default(),
        }
    }

    pub(crate) fn push(&mut self, key: Option<K>) {
        let Local { ids, keys, map } = self;
        ids.push(match key {
            None => 0,
            Some(k) => *map.entry(k).or_insert_with(|| {
                keys.push(k);
                keys.len() as u32
            }),
        });
    }
}

/// Joins the chunks' local ids into one numbering, keys numbered in chunk order: returns the
/// id of every row (chunks concatenated) and the keys by id (`keys[id - 1]`). Interned ids are
/// only ever compared for equality, and 0 stays NULL.
pub(crate) fn merge_locals<K: std::hash::Hash + Eq + Copy>(
    locals: impl IntoIterator<Item = Local<K>>,
    rows: usize,
) -> (Vec<u32>, Vec<K>) {
    let mut global: FastMap<K, u32> = FastMap::default();
    let mut keys = Vec::new();
    let mut ids = Vec::with_capacity(rows);
    for local in locals {
        let mut to_global = Vec::with_capacity(local.keys.len() + 1);
        to_global.push(0);
        for k in local.keys {
            to_global.push(*global.entry(k).or_insert_with(|| {
                keys.push(k);
                keys.len() as u32
            }));
        }
        ids.extend(local.ids.into_iter().map(|l| to_global[l as usize]));
    }
    (ids, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks as the parallel build makes them, small enough to get several.
    const CHUNK: usize = 1000;

    #[test]
    fn chunk_interning_numbers_equal_keys_equally() {
        let key = |r: usize| match r % 13 {
            0 => None,
            _ => Some((r * 7919) % 1000),
        };
        let rows = 3 * CHUNK + 17;
        let all: Vec<usize> = (0..rows).collect();
        let locals = all.chunks(CHUNK).map(|c| {
            let mut l = Local::with_capacity(c.len());
            c.iter().for_each(|&r| l.push(key(r)));
            l
        });
        let (ids, keys) = merge_locals(locals, rows);
        assert_eq!(ids.len(), rows);
        let distinct: std::collections::HashSet<usize> = (0..rows).filter_map(key).collect();
        assert_eq!(keys.len(), distinct.len());
        for (r, &id) in ids.iter().enumerate() {
            match key(r) {
                None => assert_eq!(id, 0),
                Some(k) => assert_eq!(keys[id as usize - 1], k),
            }
        }
        let none: Vec<Local<u8>> = Vec::new();
        assert_eq!(merge_locals(none, 0), (vec![], vec![]));
    }
}
