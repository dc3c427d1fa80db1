//! The rate card (billing.md §6), read from `data/rate_card.csv`, and graduated volume
//! tiers (billing.md §4).
//!
//! Each `valid_from` publishes a complete price for one (currency, model, market, category):
//! its rows, one per tier, replace every earlier row of that key, so a tier left out of a
//! newer publication is gone. Rates are exact decimals (`rust_decimal`), never floats.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::pricing::markets::UNKNOWN_MARKET;
use crate::pricing::rules::PricingModel;

pub const EMBEDDED_RATE_CARD: &str = include_str!("../../data/rate_card.csv");

/// Market whose rate prices customers of unknown market (billing.md §2).
pub const FALLBACK_MARKET: &str = "Other";

/// One tier of a published price: units from `from` (1-based) on cost `rate` each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub from: u64,
    pub rate: Decimal,
    /// `published` or `illustrative`.
    pub source: String,
}

/// The part of a month's quantity that falls in one tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierQuantity {
    pub tier_from: u64,
    pub quantity: u64,
    pub rate: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RateKey {
    pub currency: String,
    pub model: PricingModel,
    pub market: String,
    pub category: String,
}

#[derive(Debug, Clone)]
pub struct RateCard {
    /// Per key, its publications ascending by `valid_from`, each with its tiers ascending.
    prices: HashMap<RateKey, Vec<(NaiveDate, Vec<Tier>)>>,
}

impl RateCard {
    pub fn embedded() -> Self {
        Self::parse(EMBEDDED_RATE_CARD, Path::new("data/rate_card.csv"))
            .expect("the shipped rate card is valid")
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |line: u64, message: String| Error::Data {
            path: path.into(),
            line,
            message,
        };
        let mut prices: HashMap<RateKey, Vec<(NaiveDate, Vec<Tier>)>> = HashMap::new();
        let mut header_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i as u64 + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if !header_seen {
                let expected = "valid_from,currency,model,market,category,tier_from,rate,source";
                if fields.join(",") != expected {
                    return Err(bad(line_no, format!("the header must be `{expected}`")));
                }
                header_seen = true;
                continue;
            }
            let [valid_from, currency, model, market, category, tier_from, rate, source] =
                fields[..]
            else {
                return Err(bad(
                    line_no,
                    format!("expected 8 fields, found {}", fields.len()),
                ));
            };
            let valid_from = NaiveDate::parse_from_str(valid_from, "%Y-%m-%d")
                .map_err(|e| bad(line_no, format!("valid_from {valid_from:?}: {e}")))?;
            let model = match model {
                "CBP" => PricingModel::Conversation,
                "PMP" => PricingModel::PerMessage,
                other => {
                    return Err(bad(
                        line_no,
                        format!("model {other:?}: expected CBP or PMP"),
                    ))
                }
            };
            let from =
                match tier_from {
                    "" => 1,
                    t => t.parse::<u64>().ok().filter(|t| *t >= 1).ok_or_else(|| {
                        bad(line_no, format!("tier_from {t:?}: expected 1, 2, …"))
                    })?,
                };
            let rate: Decimal = rate
                .parse()
                .map_err(|e| bad(line_no, format!("rate {rate:?}: {e}")))?;
            if rate.is_sign_negative() || rate.scale() > 8 {
                return Err(bad(
                    line_no,
                    format!("rate {rate}: expected a non-negative decimal with at most 8 places"),
                ));
            }
            if source != "published" && source != "illustrative" {
                return Err(bad(
                    line_no,
                    format!("source {source:?}: expected published or illustrative"),
                ));
            }
            let key = RateKey {
                currency: currency.to_string(),
                model,
                market: market.to_string(),
                category: category.to_string(),
            };
            let publications = prices.entry(key).or_default();
            let tier = Tier {
                from,
                rate,
                source: source.to_string(),
            };
            match publications.iter_mut().find(|(d, _)| *d == valid_from) {
                Some((_, tiers)) => {
                    if tiers.iter().any(|t| t.from == from) {
                        return Err(bad(line_no, format!("tier {from} is listed twice")));
                    }
                    tiers.push(tier);
                }
                None => publications.push((valid_from, vec![tier])),
            }
        }
        if !header_seen {
            return Err(bad(1, "no header line: the rate card is empty".into()));
        }
        for publications in prices.values_mut() {
            publications.sort_by_key(|(d, _)| *d);
            for (date, tiers) in publications.iter_mut() {
                tiers.sort_by_key(|t| t.from);
                if tiers[0].from != 1 {
                    return Err(Error::Config {
                        path: path.into(),
                        message: format!(
                            "a price published on {date} has no first tier (tier_from 1)"
                        ),
                    });
                }
            }
        }
        Ok(RateCard { prices })
    }

    /// The tiers in force on `on` for a key; `Unknown` market is priced as `Other`.
    pub fn tiers(
        &self,
        currency: &str,
        model: PricingModel,
        market: &str,
        category: &str,
        on: NaiveDate,
    ) -> Option<&[Tier]> {
        let market = if market == UNKNOWN_MARKET {
            FALLBACK_MARKET
        } else {
            market
        };
        let key = RateKey {
            currency: currency.to_string(),
            model,
            market: market.to_string(),
            category: category.to_string(),
        };
        self.prices
            .get(&key)?
            .iter()
            .rev()
            .find(|(d, _)| *d <= on)
            .map(|(_, tiers)| tiers.as_slice())
    }

    pub fn has_rate(
        &self,
        currency: &str,
        model: PricingModel,
        market: &str,
        category: &str,
        on: NaiveDate,
    ) -> bool {
        self.tiers(currency, model, market, category, on).is_some()
    }
}

/// Split a month's `quantity` over graduated tiers: units 1…t₂−1 at the first tier's rate,
/// the next ones at the next tier's, and so on (billing.md §4). Tiers with no units are
/// left out, so the quantities always sum to `quantity`.
pub fn graduated(tiers: &[Tier], quantity: u64) -> Vec<TierQuantity> {
    let mut out = Vec::new();
    for (i, tier) in tiers.iter().enumerate() {
        let first = tier.from;
        if quantity < first {
            break;
        }
        let last = tiers
            .get(i + 1)
            .map(|next| next.from - 1)
            .unwrap_or(u64::MAX)
            .min(quantity);
        out.push(TierQuantity {
            tier_from: first,
            quantity: last - first + 1,
            rate: tier.rate,
        });
    }
    out
}
