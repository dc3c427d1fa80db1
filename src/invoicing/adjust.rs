//! Late events for finalized months (billing.md §8, §10): a final month is recomputed from
//! the current lake, priced with the same source (the one its invoice recorded) and the
//! current card, and the difference per line key becomes adjustment lines on the business's
//! invoice of the first open month after it.
//!
//! Which months are corrected when month N is invoiced: every final month M before N such
//! that N is the first open month after M (every month between them is final). What was
//! already billed for M is its final usage lines plus every final adjustment line that
//! corrected M since, so a correction is carried once.
//!
//! Keys are compared with the unit price at its stored 10 places; an adjustment line's
//! amount is the recomputed rounded amount − the billed rounded amount, its quantity the
//! difference of quantities; a key whose quantity and amount both agree gives no line.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use rust_decimal::Decimal;

use super::lines::{price_usage, MissingRate};
use super::model::{LineKey, LineKind};
use super::register::{stored_key, Register};
use super::usage::{self, UsageByBusiness};
use crate::accounts::Accounts;
use crate::error::Result;
use crate::lake::billed::{month_usage, BilledSources};
use crate::lake::Lake;
use crate::money::{Currency, Money};
use crate::pricing::rates::RateCard;
use crate::time::BillingMonth;

/// One adjustment line before it is numbered.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustment {
    pub key: LineKey,
    pub quantity: i64,
    pub rate: Option<Decimal>,
    pub amount: Money,
    pub corrects: BillingMonth,
}

/// What the adjustments of month N are, per business, and the businesses whose recompute
/// could not be priced.
#[derive(Debug, Default)]
pub struct Adjustments {
    pub by_business: BTreeMap<String, Vec<Adjustment>>,
    pub failures: BTreeMap<String, Vec<MissingRate>>,
    /// The final months recomputed.
    pub months: Vec<BillingMonth>,
}

/// The final months whose first open month after them is `month`: the run of final months
/// just before it, oldest first.
pub fn corrected_months(
    month: BillingMonth,
    is_final: impl Fn(BillingMonth) -> bool,
) -> Vec<BillingMonth> {
    let mut months = Vec::new();
    let mut m = month.previous();
    while is_final(m) {
        months.push(m);
        m = m.previous();
    }
    months.reverse();
    months
}

/// A business's adjustment lines for one month, or the rates its recompute lacked.
type Recomputed = Result<Vec<Adjustment>, Vec<MissingRate>>;

/// Billed quantity, amount and rate per stored key.
type Billed = BTreeMap<LineKey, (i64, Decimal, Option<Decimal>)>;

pub fn for_month(
    lake: &Lake,
    month: BillingMonth,
    registers: &BTreeMap<BillingMonth, Register>,
    final_months: &BTreeSet<BillingMonth>,
    accounts: &Accounts,
    card: &RateCard,
    billed_sources: &BilledSources,
) -> Result<Adjustments> {
    let mut out = Adjustments {
        months: corrected_months(month, |m| final_months.contains(&m)),
        ..Adjustments::default()
    };
    for &corrected in &out.months.clone() {
        let empty = Register::default();
        let reg = registers.get(&corrected).unwrap_or(&empty);
        // What was billed for the month: its usage lines and every later correction of it.
        let mut billed: BTreeMap<String, Billed> = BTreeMap::new();
        let mut add = |business: &str, key: &LineKey, q: i64, a: Decimal, rate: Option<Decimal>| {
            let e = billed
                .entry(business.to_string())
                .or_default()
                .entry(key.clone())
                .or_insert((0, Decimal::ZERO, rate));
            e.0 += q;
            e.1 += a;
        };
        for l in &reg.lines {
            if let (LineKind::Usage, Some(key)) = (l.kind, &l.key) {
                add(&l.business_id, key, l.quantity, l.amount, l.rate);
            }
        }
        for (_, later) in registers.range(corrected.next()..month) {
            for l in &later.lines {
                if let (LineKind::Adjustment, Some(key), Some(m)) =
                    (l.kind, &l.key, l.corrects_month)
                {
                    if m == corrected {
                        add(&l.business_id, key, l.quantity, l.amount, l.rate);
                    }
                }
            }
        }
        let invoiced: BTreeMap<&str, (&str, &str)> = reg
            .invoices
            .iter()
            .map(|i| {
                (
                    i.business_id.as_str(),
                    (i.source.as_str(), i.currency.as_str()),
                )
            })
            .collect();
        let usage: UsageByBusiness = usage::by_business(
            month_usage(lake, corrected)?,
            &format!("final month {corrected}"),
        )?;
        let businesses: BTreeSet<&str> = billed
            .keys()
            .map(String::as_str)
            .chain(usage.keys().map(String::as_str))
            .collect();
        let label = corrected.to_string();
        let results: Vec<(String, Recomputed)> = businesses
            .into_par_iter()
            .map(|business| {
                let account = accounts.get(business);
                let (source, currency) = match invoiced.get(business) {
                    Some(&(s, c)) => (s.to_string(), c.to_string()),
                    None => (
                        billed_sources.of(business, &label).to_string(),
                        account.currency.clone(),
                    ),
                };
                let currency = Currency::of(&currency).expect("currencies are checked on load");
                let rows = usage
                    .get(business)
                    .map(|rows| usage::of_source(rows, &source))
                    .unwrap_or_default();
                let recomputed = match price_usage(&rows, currency, account.markup_pct, card) {
                    Ok(lines) => lines,
                    Err(missing) => return (business.to_string(), Err(missing)),
                };
                let mut now: Billed = BTreeMap::new();
                for l in recomputed {
                    let e = now
                        .entry(stored_key(&l.key))
                        .or_insert((0, Decimal::ZERO, l.rate));
                    e.0 += l.quantity;
                    e.1 += l.amount.amount();
                }
                let before = billed.get(business).cloned().unwrap_or_default();
                let keys: BTreeSet<&LineKey> = before.keys().chain(now.keys()).collect();
                let mut lines = Vec::new();
                for key in keys {
                    let (bq, ba, brate) =
                        before.get(key).cloned().unwrap_or((0, Decimal::ZERO, None));
                    let (nq, na, nrate) = now.get(key).cloned().unwrap_or((0, Decimal::ZERO, None));
                    if bq == nq && ba == na {
                        continue;
                    }
                    lines.push(Adjustment {
                        key: key.clone(),
                        quantity: nq - bq,
                        rate: nrate.or(brate),
                        amount: Money::round(na - ba, currency),
                        corrects: corrected,
                    });
                }
                (business.to_string(), Ok(lines))
            })
            .collect();
        for (business, result) in results {
            match result {
                Ok(lines) if lines.is_empty() => {}
                Ok(lines) => out.by_business.entry(business).or_default().extend(lines),
                Err(missing) => out.failures.entry(business).or_default().extend(missing),
            }
        }
    }
    Ok(out)
}
