//! A month's `usage_daily` rows, summed to what an invoice prices (business × source ×
//! model × market × category × pricing type × billable × billing date) and grouped by
//! business.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use polars::prelude::*;

use super::lines::UsageRow;
use crate::error::{Error, PolarsContext, Result};
use crate::lake::columns::{bool_values, date_values, i64_values, str_column};
use crate::pricing::rules::PricingModel;

/// Per business: `(source, row)`, rows in (source, model, market, category, type, billable,
/// date) order.
pub type UsageByBusiness = BTreeMap<String, SourcedRows>;

/// A business's rows, each with its source.
pub type SourcedRows = Vec<(Arc<str>, UsageRow)>;

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
    let text = |name: &str| str_column(&df, name);
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
    // Few distinct texts, many rows: each is allocated once.
    let mut interned: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |text: &str| -> Arc<str> {
        if let Some(a) = interned.get(text) {
            return a.clone();
        }
        let a: Arc<str> = text.into();
        interned.insert(text.to_string(), a.clone());
        a
    };
    let mut out: UsageByBusiness = BTreeMap::new();
    let mut current: Option<(&str, SourcedRows)> = None;
    for i in 0..df.height() {
        let bad = |column: &str| Error::Failed {
            what: format!("reading the usage of {what}"),
            message: format!("a usage_daily row has no valid {column}"),
        };
        let row = UsageRow {
            pricing_model: model
                .get(i)
                .and_then(PricingModel::parse)
                .ok_or_else(|| bad("pricing_model"))?,
            market: intern(market.get(i).ok_or_else(|| bad("market"))?),
            category: intern(category.get(i).ok_or_else(|| bad("category"))?),
            pricing_type: intern(pricing_type.get(i).ok_or_else(|| bad("pricing_type"))?),
            billable: billable[i].ok_or_else(|| bad("billable"))?,
            billing_date: billing_date[i].ok_or_else(|| bad("billing_date"))?,
            units: units[i].unwrap_or(0),
        };
        let b = business.get(i).ok_or_else(|| bad("business_id"))?;
        let source = intern(source.get(i).ok_or_else(|| bad("source"))?);
        match &mut current {
            Some((cb, rows)) if *cb == b => rows.push((source, row)),
            _ => {
                if let Some((cb, rows)) = current.take() {
                    out.insert(cb.to_string(), rows);
                }
                current = Some((b, vec![(source, row)]));
            }
        }
    }
    if let Some((cb, rows)) = current.take() {
        out.insert(cb.to_string(), rows);
    }
    Ok(out)
}

/// The rows of one source.
pub fn of_source(rows: &[(Arc<str>, UsageRow)], source: &str) -> Vec<UsageRow> {
    rows.iter()
        .filter(|(s, _)| &**s == source)
        .map(|(_, r)| r.clone())
        .collect()
}
