//! Exact money (billing.md §8, §10): an amount is a decimal already rounded to its
//! currency's minor unit (ISO 4217 exponents, [`iso4217`]), and it cannot be made any other
//! way. There is no floating point anywhere on the path from a rate to a total.
//!
//! The rounding rule, recorded on every invoice as [`ROUNDING_RULE`]:
//! - a unit price is `rate × (1 + markup_pct / 100)` at full precision (never rounded before
//!   use; the stored `unit_price` is rounded half away from zero to 10 places for display);
//! - each line's amount is `quantity × unit price`, rounded **once** to the currency's minor
//!   unit, half away from zero;
//! - subtotal = Σ line amounts (exact: they are already rounded);
//! - tax = subtotal × tax_pct / 100, rounded once, half away from zero;
//! - total = subtotal + tax.

pub mod iso4217;

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

/// What every invoice records about how its amounts were rounded.
pub const ROUNDING_RULE: &str =
    "line amount = quantity × unit price (rate × (1 + markup_pct/100), \
full precision), rounded once to the currency's minor unit, half away from zero; subtotal = sum \
of lines; tax = subtotal × tax_pct/100, rounded once, half away from zero; total = subtotal + tax";

/// Places kept for a stored unit price (Parquet DECIMAL(24, 10)).
pub const UNIT_PRICE_SCALE: u32 = 10;

/// An ISO 4217 currency: its code and how many decimal places its minor unit has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u32,
}

impl Currency {
    /// The currency of an ISO 4217 alphabetic code (`USD`, `JPY`, `KWD` …), if it has a
    /// minor unit (funds and metals without one are not money an invoice is written in).
    pub fn of(code: &str) -> Option<Currency> {
        iso4217::CURRENCIES
            .binary_search_by(|(c, _, _)| (*c).cmp(code))
            .ok()
            .map(|i| Currency {
                code: iso4217::CURRENCIES[i].0,
                exponent: iso4217::CURRENCIES[i].1,
            })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// Decimal places of the minor unit: USD 2, JPY 0, KWD 3.
    pub fn exponent(self) -> u32 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An amount of money in one currency, rounded to its minor unit (and always written with
/// exactly that many places: `12.30 USD`, `1230 JPY`, `12.300 KWD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// `value` rounded once to the currency's minor unit, half away from zero.
    pub fn round(value: Decimal, currency: Currency) -> Money {
        let mut amount =
            value.round_dp_with_strategy(currency.exponent, RoundingStrategy::MidpointAwayFromZero);
        amount.rescale(currency.exponent);
        Money { amount, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money::round(Decimal::ZERO, currency)
    }

    pub fn amount(self) -> Decimal {
        self.amount
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_negative(self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// The sum of amounts in `currency` (exact: each is already rounded).
    ///
    /// # Panics
    /// When an amount is in another currency: an invoice is in one currency, so that is a
    /// bug, never a data error.
    pub fn sum(currency: Currency, amounts: impl IntoIterator<Item = Money>) -> Money {
        let mut total = Money::zero(currency);
        for m in amounts {
            total = total + m;
        }
        total
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        assert_eq!(
            self.currency, other.currency,
            "money of two currencies added"
        );
        Money::round(self.amount + other.amount, self.currency)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        assert_eq!(
            self.currency, other.currency,
            "money of two currencies subtracted"
        );
        Money::round(self.amount - other.amount, self.currency)
    }
}

impl fmt::Display for Money {
    /// The amount alone, with exactly the currency's places (`-12.30`): what JSON and CSV
    /// carry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.amount)
    }
}

impl serde::Serialize for Money {
    /// As a string, never a JSON number (a number is a float to most readers).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.amount)
    }
}

/// A line's unit price: `rate × (1 + markup_pct / 100)` at full precision.
pub fn unit_price(rate: Decimal, markup_pct: Decimal) -> Decimal {
    rate * (Decimal::ONE + markup_pct / Decimal::ONE_HUNDRED)
}

/// A unit price as stored and shown: rounded half away from zero to 10 places.
pub fn display_unit_price(price: Decimal) -> Decimal {
    let mut p =
        price.round_dp_with_strategy(UNIT_PRICE_SCALE, RoundingStrategy::MidpointAwayFromZero);
    p.normalize_assign();
    p
}

/// Tax on a subtotal: `subtotal × tax_pct / 100`, rounded once.
pub fn tax_on(subtotal: Money, tax_pct: Decimal) -> Money {
    Money::round(
        subtotal.amount * tax_pct / Decimal::ONE_HUNDRED,
        subtotal.currency,
    )
}
