//! Usage priced into invoice lines (billing.md §4, §6, §10): a month's `usage_daily` rows of
//! one business, in the billed source, become one line per market × category × pricing
//! model × pricing type × tier × unit price.
//!
//! - **Charged units** (`pricing_type` `regular`, billable) climb the graduated volume tiers
//!   of their (model, market, category) in billing-date order: the month's units 1…t₂−1 at
//!   the first tier, the next at the next tier, and so on. Each day's units are priced by the
//!   card in force on their billing date, so a rate (or a tier) published mid-month splits
//!   the line: one line per distinct unit price.
//! - **Free units** (every other pricing type, and units reported non-billable) are
//!   zero-priced lines outside the tiers.
//! - A charged unit without a rate in the account's currency is never priced at zero or
//!   guessed: the business's invoice fails, listing each missing (currency, market,
//!   category) once with the first billing date that needed it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::model::LineKey;
use crate::money::{unit_price, Currency, Money};
use crate::pricing::rates::{RateCard, Tier};
use crate::pricing::rules::PricingModel;

/// `usage_daily`'s pricing type of charged units.
pub const REGULAR: &str = "regular";

/// One `usage_daily` row of the billed source (the columns an invoice reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub pricing_model: PricingModel,
    /// Interned: a month holds few distinct values and many rows.
    pub market: std::sync::Arc<str>,
    pub category: std::sync::Arc<str>,
    pub pricing_type: std::sync::Arc<str>,
    pub billable: bool,
    pub billing_date: NaiveDate,
    pub units: i64,
}

impl UsageRow {
    /// Charged: billed at the card's rate (billing.md §10: tiers count only these).
    pub fn is_charged(&self) -> bool {
        self.billable && &*self.pricing_type == REGULAR
    }
}

/// A usage line before it is numbered.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedLine {
    pub key: LineKey,
    pub quantity: i64,
    /// The card's rate before markup (charged lines).
    pub rate: Option<Decimal>,
    pub amount: Money,
}

/// A rate the card lacks for a charged unit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissingRate {
    pub currency: String,
    pub market: String,
    pub category: String,
    /// The first billing date that needed it.
    pub first_needed: NaiveDate,
}

impl std::fmt::Display for MissingRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no rate for currency {}, market {}, category {} (first needed on {})",
            self.currency, self.market, self.category, self.first_needed
        )
    }
}

/// The month's usage lines of one business, in key order, or every rate missing.
pub fn price_usage(
    rows: &[UsageRow],
    currency: Currency,
    markup_pct: Decimal,
    card: &RateCard,
) -> Result<Vec<PricedLine>, Vec<MissingRate>> {
    // Charged units per (model, market, category), by billing date.
    let mut charged: BTreeMap<(PricingModel, &str, &str), BTreeMap<NaiveDate, u64>> =
        BTreeMap::new();
    // Every line: quantity and rate per key.
    let mut lines: BTreeMap<LineKey, (i64, Option<Decimal>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.units != 0) {
        if r.is_charged() {
            *charged
                .entry((r.pricing_model, &*r.market, &*r.category))
                .or_default()
                .entry(r.billing_date)
                .or_default() += r.units as u64;
        } else {
            let key = LineKey {
                market: r.market.to_string(),
                category: r.category.to_string(),
                pricing_model: r.pricing_model,
                pricing_type: r.pricing_type.to_string(),
                tier_from: None,
                unit_price: Decimal::ZERO,
            };
            lines.entry(key).or_insert((0, None)).0 += r.units;
        }
    }
    let mut missing: BTreeMap<(String, String, String), NaiveDate> = BTreeMap::new();
    for ((model, market, category), by_date) in &charged {
        let mut before = 0u64;
        for (&date, &units) in by_date {
            match card.tiers(currency.code(), *model, market, category, date) {
                Some(tiers) => {
                    for (tier_from, quantity, rate) in tier_pieces(tiers, before, units) {
                        let key = LineKey {
                            market: market.to_string(),
                            category: category.to_string(),
                            pricing_model: *model,
                            pricing_type: REGULAR.to_string(),
                            tier_from: Some(tier_from),
                            unit_price: unit_price(rate, markup_pct),
                        };
                        lines.entry(key).or_insert((0, Some(rate))).0 += quantity as i64;
                    }
                }
                None => {
                    let first = missing
                        .entry((
                            currency.code().to_string(),
                            market.to_string(),
                            category.to_string(),
                        ))
                        .or_insert(date);
                    *first = (*first).min(date);
                }
            }
            before += units;
        }
    }
    if !missing.is_empty() {
        return Err(missing
            .into_iter()
            .map(|((currency, market, category), first_needed)| MissingRate {
                currency,
                market,
                category,
                first_needed,
            })
            .collect());
    }
    Ok(lines
        .into_iter()
        .map(|(key, (quantity, rate))| PricedLine {
            amount: Money::round(Decimal::from(quantity) * key.unit_price, currency),
            key,
            quantity,
            rate,
        })
        .collect())
}

/// The units `before + 1 … before + units` of a month spread over graduated tiers: (tier
/// from, units in it, rate) for every tier they touch.
pub fn tier_pieces(tiers: &[Tier], before: u64, units: u64) -> Vec<(u64, u64, Decimal)> {
    let (first, last) = (before + 1, before + units);
    let mut out = Vec::new();
    for (i, tier) in tiers.iter().enumerate() {
        let tier_last = tiers.get(i + 1).map_or(u64::MAX, |next| next.from - 1);
        let (a, b) = (first.max(tier.from), last.min(tier_last));
        if a <= b {
            out.push((tier.from, b - a + 1, tier.rate));
        }
    }
    out
}
