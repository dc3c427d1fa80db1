//! A month's `usage_daily` rows, summed to what an invoice prices (business × source ×
//! model × market × category × pricing type × billable × billing date) and grouped by
//! business.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::lines::UsageRow;
use crate::error::{Error, PolarsContext, Result};
use crate::lake::columns::{bool_values, date_values, i64_values, str_values};
use crate::pricing::rules::PricingModel;

/// Per business: `(source, row)`, rows in (source, model, market, category, type, billable,
/// date) order.
pub type UsageByBusiness = BTreeMap<String, Vec<(String, UsageRow)>>;

/// Sum and collect `usage` (a lazy frame of `usage_daily` rows).
pub fn by_business(usage: LazyFrame, what: &str) -> Result<UsageByBusiness> {
    let keys = [
        "business_id",
        "source",
        "pricing_model",
        "market",
        "category",
        "pricing_type",
        "billable",
        "billing_date",
    ];
    let df = usage
        .group_by(keys.map(col))
        .agg([col("units").sum()])
        .sort(keys, SortMultipleOptions::default())
        .collect()
        .ctx(format!("summing the usage of {what}"))?;
    let text = |name: &str| str_values(&df, name);
    let (business, source, model, market, category, pricing_type) = (
        text("business_id")?,
        text("source")?,
        text("pricing_model")?,
        text("market")?,
        text("category")?,
        text("pricing_type")?,
    );
    let billable = bool_values(&df, "billable")?;
    let billing_date = date_values(&df, "billing_date")?;
    let units = i64_values(&df, "units")?;
    let mut out: UsageByBusiness = BTreeMap::new();
    for i in 0..df.height() {
        let bad = |column: &str| Error::Failed {
            what: format!("reading the usage of {what}"),
            message: format!("a usage_daily row has no valid {column}"),
        };
        let get = |v: &[Option<String>], column: &str| v[i].clone().ok_or_else(|| bad(column));
        let row = UsageRow {
            pricing_model: model[i]
                .as_deref()
                .and_then(PricingModel::parse)
                .ok_or_else(|| bad("pricing_model"))?,
            market: get(&market, "market")?,
            category: get(&category, "category")?,
            pricing_type: get(&pricing_type, "pricing_type")?,
            billable: billable[i].ok_or_else(|| bad("billable"))?,
            billing_date: billing_date[i].ok_or_else(|| bad("billing_date"))?,
            units: units[i].unwrap_or(0),
        };
        out.entry(get(&business, "business_id")?)
            .or_default()
            .push((get(&source, "source")?, row));
    }
    Ok(out)
}

/// The rows of one source.
pub fn of_source(rows: &[(String, UsageRow)], source: &str) -> Vec<UsageRow> {
    rows.iter()
        .filter(|(s, _)| s == source)
        .map(|(_, r)| r.clone())
        .collect()
}
