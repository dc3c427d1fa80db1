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
    /// Per business, the first corrected month that could not be recomputed.
    pub failures: BTreeMap<String, super::PricingFailure>,
    /// The final months recomputed.
    pub months: Vec<BillingMonth>,
}

/// Whether a final month's usage may have changed since it was finalized: some
/// `usage_daily` partition that can hold its billing dates (the day before its first day to
/// the day after its last) was written after its register. A month whose usage is as it
/// was would be recomputed to the lines it has, so it is not recomputed at all (every
/// night would otherwise reprice every final month since the first).
pub fn touched_since_final(lake: &Lake, month: BillingMonth) -> Result<bool> {
    let register = lake.month_partition_file(&crate::schema::INVOICES, &month.to_string());
    let Ok(finalized) = std::fs::metadata(&register).and_then(|m| m.modified()) else {
        return Ok(true);
    };
    let (mut d, last) = (
        crate::time::day_before(month.first_day(), 1),
        crate::time::day_after(month.last_day(), 1),
    );
    while d <= last {
        for path in lake.date_parts(&crate::schema::USAGE_DAILY, d)? {
            if let Ok(written) = std::fs::metadata(&path).and_then(|m| m.modified()) {
                if written > finalized {
                    return Ok(true);
                }
            }
        }
        d = crate::time::day_after(d, 1);
    }
    Ok(false)
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

/// A business's adjustment lines for one month, or why its recompute failed.
type Recomputed = Result<Vec<Adjustment>, (Vec<MissingRate>, Option<String>)>;

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
    let mut months = Vec::new();
    for m in corrected_months(month, |m| final_months.contains(&m)) {
        if touched_since_final(lake, m)? {
            months.push(m);
        }
    }
    let mut out = Adjustments {
        months,
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
        let invoiced: BTreeMap<&str, (&str, &str, Decimal)> = reg
            .invoices
            .iter()
            .map(|i| {
                (
                    i.business_id.as_str(),
                    (i.source.as_str(), i.currency.as_str(), i.markup_pct),
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
                // The source, currency and markup the final invoice was priced in (a
                // business without one: today's).
                let (source, currency, markup) = match invoiced.get(business) {
                    Some(&(s, c, m)) => (s.to_string(), c.to_string(), m),
                    None => (
                        billed_sources.of(business, &label).to_string(),
                        account.currency.clone(),
                        account.markup_pct,
                    ),
                };
                if currency != account.currency {
                    let problem = format!(
                        "its account's currency changed from {currency} (the final invoice of \
                         {corrected}) to {}: corrections of {corrected} cannot go on an invoice \
                         in {}; correct them by hand",
                        account.currency, account.currency
                    );
                    return (business.to_string(), Err((Vec::new(), Some(problem))));
                }
                let currency = Currency::of(&currency).expect("currencies are checked on load");
                let rows = usage
                    .get(business)
                    .map(|rows| usage::of_source(rows, &source))
                    .unwrap_or_default();
                let recomputed = match price_usage(&rows, currency, markup, card) {
                    Ok(lines) => lines,
                    Err(missing) => return (business.to_string(), Err((missing, None))),
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
                    // No difference of amount, and none of charged units: no line (a free
                    // line's quantity alone never makes an invoice).
                    if ba == na && (bq == nq || key.tier_from.is_none()) {
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
                Err((missing, problem)) => {
                    // The oldest month that fails is the one reported.
                    out.failures
                        .entry(business.clone())
                        .or_insert(super::PricingFailure {
                            business_id: business,
                            month: corrected,
                            missing,
                            problem,
                        });
                }
            }
        }
    }
    Ok(out)
}
