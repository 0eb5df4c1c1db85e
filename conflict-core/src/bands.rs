//! Speed bands (docs/rules.md §8.2, docs/file-formats.md §3–4).

use crate::decimal::Decimal;

/// One `From–To → mph` band; bounds are whole miles, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeedBand {
    /// Lower bound in whole miles, inclusive.
    pub from: i64,
    /// Upper bound in whole miles, inclusive.
    pub to: i64,
    /// Average speed of the band, exact as read.
    pub mph: Decimal,
}

/// Why a band was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BandError {
    /// The lower bound is above the upper one.
    #[error("band {from}-{to}: from must not exceed to")]
    FromAfterTo {
        /// The band's lower bound.
        from: i64,
        /// The band's upper bound.
        to: i64,
    },
    /// A bound is negative.
    #[error("band {from}-{to}: bounds must not be negative")]
    NegativeBound {
        /// The band's lower bound.
        from: i64,
        /// The band's upper bound.
        to: i64,
    },
    /// The speed is negative.
    #[error("band {from}-{to}: average mph {mph} must not be negative")]
    NegativeMph {
        /// The band's lower bound.
        from: i64,
        /// The band's upper bound.
        to: i64,
        /// The refused speed.
        mph: Decimal,
    },
}

impl SpeedBand {
    /// A validated band: bounds not negative, `from <= to`, mph not negative.
    pub fn new(from: i64, to: i64, mph: Decimal) -> Result<Self, BandError> {
        if from < 0 || to < 0 {
            return Err(BandError::NegativeBound { from, to });
        }
        if from > to {
            return Err(BandError::FromAfterTo { from, to });
        }
        if mph.is_negative() {
            return Err(BandError::NegativeMph { from, to, mph });
        }
        Ok(SpeedBand { from, to, mph })
    }
}

/// Bands in lookup order: by `from`, then `to`, then input order (a stable sort keeps it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpeedBands {
    bands: Vec<SpeedBand>,
}

impl SpeedBands {
    /// The bands in `From` order, as given (no validation beyond each band's own).
    pub fn new(mut bands: Vec<SpeedBand>) -> Self {
        bands.sort_by_key(|b| (b.from, b.to));
        SpeedBands { bands }
    }

    /// The default bands of docs/file-formats.md §4.
    pub fn defaults() -> Self {
        let b = |from, to, mph| SpeedBand {
            from,
            to,
            mph: Decimal::from_int(mph),
        };
        SpeedBands::new(vec![
            b(0, 2, 10),
            b(3, 10, 25),
            b(11, 25, 35),
            b(26, 100, 50),
            b(101, 10_000, 60),
        ])
    }

    /// The bands in `From` order.
    pub fn as_slice(&self) -> &[SpeedBand] {
        &self.bands
    }

    /// No band at all (warning `mph_empty`: no travel-time rule can fire).
    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }

    /// True when two bands share at least one mile value (only the first one is ever used).
    pub fn overlapping(&self) -> bool {
        let mut max_to: Option<i64> = None;
        for b in &self.bands {
            if max_to.is_some_and(|m| b.from <= m) {
                return true;
            }
            max_to = Some(max_to.map_or(b.to, |m| m.max(b.to)));
        }
        false
    }

    /// First band with `from ≤ D ≤ to`, compared on hundredths.
    pub fn lookup(&self, distance_h: i64) -> Option<Decimal> {
        self.bands
            .iter()
            .find(|b| {
                b.from.saturating_mul(100) <= distance_h && distance_h <= b.to.saturating_mul(100)
            })
            .map(|b| b.mph)
    }

    /// "0-2:10 3-10:25 …" as the file-mode note prints it.
    pub fn describe(&self) -> String {
        self.bands
            .iter()
            .map(|b| format!("{}-{}:{}", b.from, b.to, b.mph))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_band_wins_at_a_shared_bound() {
        let bands = SpeedBands::new(vec![
            SpeedBand::new(2, 5, Decimal::from_int(20)).unwrap(),
            SpeedBand::new(0, 2, Decimal::from_int(10)).unwrap(),
        ]);
        assert!(bands.overlapping());
        assert_eq!(bands.lookup(200), Some(Decimal::from_int(10)));
        assert_eq!(bands.lookup(201), Some(Decimal::from_int(20)));
    }

    #[test]
    fn defaults_leave_gaps_between_integer_bounds() {
        let bands = SpeedBands::defaults();
        assert!(!bands.overlapping());
        assert_eq!(bands.lookup(250), None);
        assert_eq!(bands.lookup(1000), Some(Decimal::from_int(25)));
        assert_eq!(bands.lookup(1_000_001), None);
        assert_eq!(
            bands.describe(),
            "0-2:10 3-10:25 11-25:35 26-100:50 101-10000:60"
        );
    }

    #[test]
    fn invalid_bands_are_refused() {
        assert!(SpeedBand::new(5, 2, Decimal::from_int(1)).is_err());
        assert!(SpeedBand::new(0, 2, Decimal::from_int(-1)).is_err());
    }
}
