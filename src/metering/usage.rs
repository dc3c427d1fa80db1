//! `usage_daily`, `reconciliation` and `billing_sources` (billing.md §5): charges of both
//! sources summed per business × billing date × market × category × model × pricing type ×
//! billable, the places where the two sources disagree, and which source each business
//! is billed by in each billing month.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::Result;
use crate::lake::columns::{bools, dates, ints, table_frame, text};
use crate::schema::{BILLING_SOURCES, RECONCILIATION, USAGE_DAILY};

pub use crate::pricing::source::{SourceChoice, DERIVED, REPORTED};

/// The key of one `usage_daily` row; rows are written in this order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    pub business_id: String,
    pub billing_date: NaiveDate,
    pub market: String,
    pub category: String,
    pub model: &'static str,
    pub pricing_type: String,
    pub source: &'static str,
    pub billable: bool,
}

/// Units per key for one UTC date.
pub type Usage = BTreeMap<UsageKey, i64>;

/// A billing date's month as the tables write it (`2025-10`).
pub fn billing_month(d: NaiveDate) -> String {
    crate::time::BillingMonth::of(d).to_string()
}

pub fn usage_frame(usage: &Usage) -> Result<DataFrame> {
    let k = || usage.keys();
    let months: Vec<String> = k().map(|k| billing_month(k.billing_date)).collect();
    table_frame(
        &USAGE_DAILY,
        usage.len(),
        vec![
            dates("billing_date", k().map(|k| Some(k.billing_date))),
            text("billing_month", months.iter().map(|m| Some(m.as_str()))),
            text("business_id", k().map(|k| Some(k.business_id.as_str()))),
            text("market", k().map(|k| Some(k.market.as_str()))),
            text("category", k().map(|k| Some(k.category.as_str()))),
            text("pricing_model", k().map(|k| Some(k.model))),
            text("pricing_type", k().map(|k| Some(k.pricing_type.as_str()))),
            text("source", k().map(|k| Some(k.source))),
            bools("billable", k().map(|k| Some(k.billable))),
            ints("units", usage.values().map(|u| Some(*u))),
        ],
    )
}

/// Where the sources' billable units differ, per business × billing date × market ×
/// category. Only (business, billing date) pairs that have usage rows of both sources are
/// compared: a business without pricing objects, or a webhook-only business on a CBP date
/// (no derived usage), has nothing to reconcile.
pub fn reconciliation_frame(usage: &Usage) -> Result<DataFrame> {
    type Key = (String, NaiveDate, String, String);
    let mut units: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    let mut has: BTreeMap<(String, NaiveDate), BTreeSet<&'static str>> = BTreeMap::new();
    for (k, u) in usage {
        has.entry((k.business_id.clone(), k.billing_date))
            .or_default()
            .insert(k.source);
        if !k.billable {
            continue;
        }
        let e = units
            .entry((
                k.business_id.clone(),
                k.billing_date,
                k.market.clone(),
                k.category.clone(),
            ))
            .or_default();
        if k.source == DERIVED {
            e.0 += u;
        } else {
            e.1 += u;
        }
    }
    let rows: Vec<(&Key, &(i64, i64))> = units
        .iter()
        .filter(|((b, d, _, _), (derived, reported))| {
            derived != reported && has.get(&(b.clone(), *d)).is_some_and(|s| s.len() == 2)
        })
        .collect();
    let months: Vec<String> = rows.iter().map(|(k, _)| billing_month(k.1)).collect();
    table_frame(
        &RECONCILIATION,
        rows.len(),
        vec![
            dates("billing_date", rows.iter().map(|(k, _)| Some(k.1))),
            text("billing_month", months.iter().map(|m| Some(m.as_str()))),
            text("business_id", rows.iter().map(|(k, _)| Some(k.0.as_str()))),
            text("market", rows.iter().map(|(k, _)| Some(k.2.as_str()))),
            text("category", rows.iter().map(|(k, _)| Some(k.3.as_str()))),
            ints("derived_units", rows.iter().map(|(_, u)| Some(u.0))),
            ints("reported_units", rows.iter().map(|(_, u)| Some(u.1))),
            ints("difference", rows.iter().map(|(_, u)| Some(u.0 - u.1))),
        ],
    )
}

/// One business's billed source for one billing month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BilledSource {
    pub business_id: String,
    pub billing_month: String,
    pub source: &'static str,
    pub choice: SourceChoice,
    pub pricing_objects_seen: bool,
}

pub fn billing_sources_frame(rows: &[BilledSource]) -> Result<DataFrame> {
    let r = || rows.iter();
    table_frame(
        &BILLING_SOURCES,
        rows.len(),
        vec![
            text("business_id", r().map(|s| Some(s.business_id.as_str()))),
            text("billing_month", r().map(|s| Some(s.billing_month.as_str()))),
            text("source", r().map(|s| Some(s.source))),
            text("choice", r().map(|s| Some(s.choice.as_str()))),
            bools(
                "pricing_objects_seen",
                r().map(|s| Some(s.pricing_objects_seen)),
            ),
        ],
    )
}
