//! Which metering source is billed, as a query over the lake's tables (billing.md §5).
//! Metering decides it per business × billing month and writes it to `billing_sources`;
//! every reader after it — `business_daily` now, invoices next — asks here and never
//! recomputes the rule.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use super::columns::{empty_frame, str_values};
use super::Lake;
use crate::error::{PolarsContext, Result};
use crate::pricing::source::DERIVED;
use crate::schema::{BILLING_SOURCES, USAGE_DAILY};
use crate::time::{day_after, day_before, BillingMonth};

/// The billed source per (business, billing month `YYYY-MM`).
#[derive(Debug, Clone, Default)]
pub struct BilledSources {
    by_business_month: HashMap<(String, String), String>,
}

impl BilledSources {
    /// Every month of `billing_sources`.
    pub fn read(lake: &Lake) -> Result<BilledSources> {
        let mut by_business_month = HashMap::new();
        for month in lake.partition_months(&BILLING_SOURCES)? {
            let Some(df) = lake.read_month(&BILLING_SOURCES, &month.to_string(), None)? else {
                continue;
            };
            let (b, m, s) = (
                str_values(&df, "business_id")?,
                str_values(&df, "billing_month")?,
                str_values(&df, "source")?,
            );
            for i in 0..df.height() {
                if let (Some(b), Some(m), Some(s)) = (&b[i], &m[i], &s[i]) {
                    by_business_month.insert((b.clone(), m.clone()), s.clone());
                }
            }
        }
        Ok(BilledSources { by_business_month })
    }

    /// The source billed for a business in a month: `derived` when metering recorded none
    /// (a business with no activity that month has nothing billed either way).
    pub fn of(&self, business_id: &str, billing_month: &str) -> &str {
        self.by_business_month
            .get(&(business_id.to_string(), billing_month.to_string()))
            .map_or(DERIVED, String::as_str)
    }
}

/// The `usage_daily` rows of one billing month in the source billed for each business:
/// what an invoice is computed from. A billing date is local to the account, so the month's
/// rows lie in the UTC date partitions from the day before its first day to the day after
/// its last.
pub fn billed_usage(lake: &Lake, month: BillingMonth) -> Result<LazyFrame> {
    let label = month.to_string();
    let usage = month_usage(lake, month)?;
    let columns = ["business_id", "billing_month", "source"];
    let sources = match lake.read_month(&BILLING_SOURCES, &label, Some(&columns))? {
        Some(df) => df,
        None => empty_frame(&BILLING_SOURCES)
            .select(["business_id", "billing_month", "source"])
            .ctx("billing_sources")?,
    };
    Ok(usage.join(
        sources.lazy(),
        [col("business_id"), col("billing_month"), col("source")],
        [col("business_id"), col("billing_month"), col("source")],
        JoinArgs::new(JoinType::Inner),
    ))
}

/// Every `usage_daily` row of one billing month, both sources (a recomputed final month is
/// billed in the source its invoice recorded, which may not be today's choice).
pub fn month_usage(lake: &Lake, month: BillingMonth) -> Result<LazyFrame> {
    let usage = lake.scan_dates(
        &USAGE_DAILY,
        day_before(month.first_day(), 1),
        day_after(month.last_day(), 1),
    )?;
    Ok(usage.filter(col("billing_month").eq(lit(month.to_string()))))
}

impl Lake {
    /// The partitions of a `date=` table for the dates `[from, to]`, lazily, in date order.
    pub fn scan_dates(
        &self,
        table: &crate::schema::Table,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<LazyFrame> {
        let mut parts = Vec::new();
        for d in self.partition_dates(table)? {
            if d >= from && d <= to {
                parts.extend(self.date_parts(table, d)?);
            }
        }
        if parts.is_empty() {
            return Ok(empty_frame(table).lazy());
        }
        self.scan_parts(&parts, &format!("{} of {from} … {to}", table.name))
    }
}
