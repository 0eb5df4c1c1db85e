//! A uuid bind parameter built from its text form, for binary COPY and `= ANY($1)` lookups,
//! without a uuid crate: the store only ever needs to pass ids through.

use std::error::Error;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use super::error::StoreError;

/// The 16 bytes of a uuid, PostgreSQL's binary format for the `uuid` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UuidParam([u8; 16]);

impl UuidParam {
    /// The all-zero uuid: a placeholder in a row about to be filled.
    pub(crate) const NIL: UuidParam = UuidParam([0; 16]);

    /// Parses the hyphenated form (`8-4-4-4-12` hex digits, either case).
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let invalid = || StoreError::InvalidId {
            value: text.to_string(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
            return Err(invalid());
        }
        let mut out = [0u8; 16];
        let mut digits = bytes.iter().filter(|&&b| b != b'-');
        for byte in &mut out {
            let hi = digits.next().and_then(|&b| hex(b)).ok_or_else(invalid)?;
            let lo = digits.next().and_then(|&b| hex(b)).ok_or_else(invalid)?;
            *byte = hi << 4 | lo;
        }
        Ok(UuidParam(out))
    }
}

/// The canonical text form: lower-case hex in 8-4-4-4-12 groups, as PostgreSQL prints a uuid.
impl std::fmt::Display for UuidParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl ToSql for UuidParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_cases_to_the_same_bytes() {
        let a = UuidParam::parse("ab5e2c9a-1f0b-4c4d-9e8f-0123456789ab").unwrap();
        let b = UuidParam::parse("AB5E2C9A-1F0B-4C4D-9E8F-0123456789AB").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.0[0], 0xab);
        assert_eq!(a.0[15], 0xab);
    }

    #[test]
    fn displays_the_canonical_lower_case_form() {
        let text = "AB5E2C9A-1F0B-4C4D-9E8F-0123456789AB";
        let id = UuidParam::parse(text).unwrap();
        assert_eq!(id.to_string(), text.to_ascii_lowercase());
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "ab5e2c9a1f0b4c4d9e8f0123456789ab",
            "ab5e2c9a-1f0b-4c4d-9e8f-0123456789ag",
            "{ab5e2c9a-1f0b-4c4d-9e8f-0123456789ab}",
            "ab5e2c9a-1f0b-4c4d-9e8f-0123456789a-",
            "ab5e2c9a-1f0b-4c4d-9e8f_0123456789ab",
        ] {
            assert!(UuidParam::parse(bad).is_err(), "{bad:?}");
        }
    }
}
