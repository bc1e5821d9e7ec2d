//! An amount of money as the pipeline counts it: a currency and an exact number of
//! millionths of its unit. Enrichment reads it from an event's revenue; aggregates sum it
//! (integers, so sums are exact and associative, and saturate rather than wrap).

/// Money is summed in millionths of a currency unit, so sums are exact and associative.
pub const MICROS_PER_UNIT: f64 = 1_000_000.0;

/// An amount of a currency, in millionths of its unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// The amount in millionths (12.50 is `12_500_000`): exact sums in integers.
    pub micros: u128,
}

impl Money {
    /// `amount` units of `currency`; `None` for an amount that is negative or not finite.
    /// An amount beyond `u128::MAX` millionths is held as that maximum.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn new(currency: &str, amount: f64) -> Option<Self> {
        (amount.is_finite() && amount >= 0.0)
            .then(|| Money { currency: currency.to_owned(), micros: (amount * MICROS_PER_UNIT).round() as u128 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_millionths_and_negative_or_infinite_ones_are_none() {
        assert_eq!(Money::new("USD", 19.99).unwrap().micros, 19_990_000);
        assert_eq!(Money::new("JPY", 0.0).unwrap().micros, 0);
        assert!(Money::new("USD", -1.0).is_none());
        assert!(Money::new("USD", f64::NAN).is_none());
        assert!(Money::new("USD", f64::INFINITY).is_none());
        assert_eq!(Money::new("USD", 1e300).unwrap().micros, u128::MAX);
    }
}
