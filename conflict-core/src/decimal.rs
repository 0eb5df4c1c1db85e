//! Exact decimals for values that the spec takes "by their decimal text" (mph, X).

use std::fmt;

/// `mantissa × 10^-scale`, normalised so that the mantissa has no trailing zero digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i64,
    scale: u32,
}

/// Why a text is not a decimal this type can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a plain decimal number.
    #[error("expected a plain decimal number such as 12 or 12.5, found {0:?}")]
    Syntax(String),
    /// More significant digits than an `i64` mantissa keeps exactly.
    #[error("too many digits in {0:?} (at most 18 significant digits)")]
    TooLong(String),
}

const MAX_SCALE: u32 = 18;

impl Decimal {
    /// The decimal 0.
    pub const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// `mantissa × 10^-scale`.
    pub fn from_parts(mantissa: i64, scale: u32) -> Self {
        let mut d = Decimal { mantissa, scale };
        d.normalise();
        d
    }

    /// A whole number.
    pub fn from_int(v: i64) -> Self {
        Decimal::from_parts(v, 0)
    }

    fn normalise(&mut self) {
        if self.mantissa == 0 {
            self.scale = 0;
        }
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
    }

    /// The digits as an integer (the value is `mantissa × 10^-scale`).
    pub fn mantissa(&self) -> i64 {
        self.mantissa
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Equal to 0, whatever the scale.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Less than 0.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// Parses the plain decimal syntax of docs/rules.md §4.1 step 6: `[+-]?(d+[.d*]|.d+)`.
    pub fn parse_plain(text: &str) -> Result<Self, DecimalError> {
        let (neg, int, frac) =
            split_plain(text).ok_or_else(|| DecimalError::Syntax(text.to_string()))?;
        Self::from_digits(neg, int, frac, 0, text)
    }

    /// Parses a plain decimal or one with an exponent (`1e+06`, `2.5E-3`), the shortest text
    /// PostgreSQL prints for a `real`.
    pub fn parse_scientific(text: &str) -> Result<Self, DecimalError> {
        let (base, exp) = match text.find(['e', 'E']) {
            Some(i) => {
                let exp: i32 = text[i + 1..]
                    .parse()
                    .map_err(|_| DecimalError::Syntax(text.to_string()))?;
                (&text[..i], exp)
            }
            None => (text, 0),
        };
        let (neg, int, frac) =
            split_plain(base).ok_or_else(|| DecimalError::Syntax(text.to_string()))?;
        Self::from_digits(neg, int, frac, exp, text)
    }

    fn from_digits(
        neg: bool,
        int: &str,
        frac: &str,
        exp: i32,
        text: &str,
    ) -> Result<Self, DecimalError> {
        let digits: String = int.chars().chain(frac.chars()).collect();
        let digits = digits.trim_start_matches('0');
        let mut scale = frac.len() as i64 - exp as i64;
        let mut digits = digits.to_string();
        if scale < 0 {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            scale = 0;
        }
        // Trailing zeros of the fraction do not count against the digit budget.
        while scale > 0 && digits.ends_with('0') {
            digits.pop();
            scale -= 1;
        }
        if digits.len() > 18 || scale > MAX_SCALE as i64 {
            if digits.is_empty() {
                return Ok(Decimal::ZERO);
            }
            return Err(DecimalError::TooLong(text.to_string()));
        }
        let m: i64 = if digits.is_empty() {
            0
        } else {
            digits
                .parse()
                .map_err(|_| DecimalError::TooLong(text.to_string()))?
        };
        Ok(Decimal::from_parts(if neg { -m } else { m }, scale as u32))
    }

    /// The f64 nearest to the exact decimal value (parsed from the decimal text, so `1.1` is
    /// the same f64 as the literal `1.1`).
    pub fn to_f64(&self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }
}

/// Splits `[+-]?(d+[.d*]|.d+)` into (negative, integer digits, fraction digits).
pub(crate) fn split_plain(text: &str) -> Option<(bool, &str, &str)> {
    let (neg, body) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = match body.find('.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) {
        return None;
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    // `.` alone or `5.` without digits after the point are covered: `5.` is allowed by d+[.d*].
    Some((neg, int, frac))
}

impl fmt::Display for Decimal {
    /// Shortest plain decimal: `35`, `12.5`, `0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let abs = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{abs}");
        }
        if abs.len() > scale {
            let (i, fr) = abs.split_at(abs.len() - scale);
            write!(f, "{sign}{i}.{fr}")
        } else {
            write!(f, "{sign}0.{}{abs}", "0".repeat(scale - abs.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_parse_and_display_round_trip() {
        for (t, s) in [
            ("35", "35"),
            ("35.0", "35"),
            ("12.50", "12.5"),
            (".05", "0.05"),
            ("5.", "5"),
            ("+1.1", "1.1"),
            ("-0.25", "-0.25"),
            ("0000", "0"),
        ] {
            assert_eq!(Decimal::parse_plain(t).unwrap().to_string(), s, "{t}");
        }
    }

    #[test]
    fn plain_rejects_non_plain_forms() {
        for t in ["", ".", "1e5", "inf", "nan", "1.2.3", " 1", "--1", "+"] {
            assert!(Decimal::parse_plain(t).is_err(), "{t:?}");
        }
    }

    #[test]
    fn scientific_forms_of_postgres_real_text() {
        assert_eq!(
            Decimal::parse_scientific("1e+06").unwrap().to_string(),
            "1000000"
        );
        assert_eq!(
            Decimal::parse_scientific("2.5e-05").unwrap().to_string(),
            "0.000025"
        );
        assert_eq!(Decimal::parse_scientific("1.1").unwrap().to_f64(), 1.1);
    }

    #[test]
    fn too_many_digits_is_an_error_not_a_wrong_value() {
        assert!(Decimal::parse_plain("1234567890123456789").is_err());
        assert_eq!(
            Decimal::parse_plain("1.2300000000000000000000")
                .unwrap()
                .to_string(),
            "1.23"
        );
    }
}
