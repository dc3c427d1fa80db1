//! The `reported` metering source (billing.md §5): what Meta's pricing objects on status
//! webhooks say, for a provider re-billing Meta's charges.
//!
//! PMP units are distinct message ids, CBP units distinct `conversation.id`s; only delivered
//! ones count, dated by the earliest delivered/read/played status of the message (PMP) or of
//! any message of the conversation (CBP). The category, billable flag and pricing type are
//! those of its earliest delivery status carrying a pricing object; the market
//! is the recipient's, from the status or else from the message's `message_out` event. A plain group-by: polars' lazy
//! API over the `events` table.

use std::collections::HashMap;

use polars::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::lake::columns::{bool_values, i64_values, str_column, str_values};
use crate::pricing::markets::UNKNOWN_MARKET;
use crate::pricing::rules::{CBP, PMP};

use super::timeline::{FREE_CUSTOMER_SERVICE, FREE_ENTRY_POINT, REFERRAL_CONVERSION, REGULAR};

/// One reported unit: a delivered message (PMP) or conversation (CBP).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedUnit {
    pub business_id: String,
    pub market: String,
    pub category: String,
    pub model: &'static str,
    pub pricing_type: String,
    pub billable: bool,
    pub delivered_at: i64,
}

/// The status is a delivery: `delivered`, `read` or `played` (a read message was delivered).
pub fn is_delivery() -> Expr {
    col("status")
        .eq(lit("delivered"))
        .or(col("status").eq(lit("read")))
        .or(col("status").eq(lit("played")))
}

/// The first non-null value of `column` within a group, in time order. Metering reads the
/// `events` files in date order (see `scan_events`), each stored in (business, ts, event
/// key) order, and a polars group-by keeps each group's rows in input order — so `first`
/// is the earliest, ties broken by event key, whatever order the raw files arrived in.
pub fn first_in_time(column: &str) -> Expr {
    col(column).drop_nulls().first()
}

fn units_of(statuses: LazyFrame, model: &str, unit_key: &str) -> Result<LazyFrame> {
    let unit = [col("business_id"), col(unit_key)];
    Ok(statuses
        .filter(col("reported_pricing_model").eq(lit(model.to_string())))
        .filter(col(unit_key).is_not_null())
        // The unit is charged as its earliest delivery status says: what arrives later
        // cannot change a charge already dated, so a build of one date sees what a range
        // build sees.
        .filter(is_delivery())
        .group_by(unit)
        .agg([
            // Every value from the earliest delivery status itself (not the first non-null
            // of any later one), so later statuses cannot change a dated unit.
            col("ts").min().alias("delivered_at"),
            col("market").first().alias("market"),
            col("reported_category").first().alias("category"),
            col("reported_billable").first().alias("billable"),
            col("reported_pricing_type").first().alias("pricing_type"),
            col("message_id").first().alias("first_message"),
        ])
        .select([
            col("business_id"),
            col("first_message"),
            col("delivered_at"),
            col("market"),
            col("category"),
            col("billable"),
            col("pricing_type"),
            lit(model.to_string()).alias("model"),
        ]))
}

/// Reported units delivered in `[span.0, span.1)` (µs), from `events` (already narrowed to
/// the dates that can hold their statuses).
pub fn reported_units(events: LazyFrame, span: (i64, i64)) -> Result<Vec<ReportedUnit>> {
    let statuses = events
        .clone()
        .filter(col("event_type").eq(lit("status")))
        .filter(col("reported_pricing_model").is_not_null())
        .select([
            col("business_id"),
            col("message_id"),
            col("conversation_id"),
            col("ts").cast(DataType::Int64),
            col("status"),
            col("market"),
            col("reported_pricing_model"),
            col("reported_category"),
            col("reported_billable"),
            col("reported_pricing_type"),
        ]);
    let units = concat(
        [
            units_of(statuses.clone(), PMP, "message_id")?,
            units_of(statuses, CBP, "conversation_id")?,
        ],
        // One model after the other, each scanning only its own statuses: the peak memory
        // is the larger of the two, not their sum.
        UnionArgs {
            parallel: false,
            ..UnionArgs::default()
        },
    )
    .ctx("combining reported units")?
    .filter(
        col("delivered_at")
            .gt_eq(lit(span.0))
            .and(col("delivered_at").lt(lit(span.1))),
    )
    .collect()
    .ctx("computing reported usage")?;

    let text = |name: &str| str_column(&units, name);
    let (business, market, category, pricing_type, model, first_message) = (
        text("business_id")?,
        text("market")?,
        text("category")?,
        text("pricing_type")?,
        text("model")?,
        text("first_message")?,
    );
    let delivered = i64_values(&units, "delivered_at")?;
    let billable = bool_values(&units, "billable")?;
    // An event-log status may not name the customer: then the market is the message's,
    // from its message_out event — looked up only when some unit needs it.
    let message_market: HashMap<(String, String), String> = if market.null_count() > 0 {
        let df = events
            .filter(col("event_type").eq(lit("message_out")))
            .group_by([col("business_id"), col("message_id")])
            .agg([first_in_time("market").alias("market")])
            .collect()
            .ctx("looking up the markets of messages")?;
        let (b, m, k) = (
            str_values(&df, "business_id")?,
            str_values(&df, "message_id")?,
            str_values(&df, "market")?,
        );
        b.into_iter()
            .zip(m)
            .zip(k)
            .filter_map(|((b, m), k)| Some(((b?, m?), k?)))
            .collect()
    } else {
        HashMap::new()
    };
    let mut out = Vec::with_capacity(units.height());
    for i in 0..units.height() {
        let business_id = business.get(i).unwrap_or_default().to_string();
        let category = category.get(i).unwrap_or("unknown").to_string();
        let pricing_type = pricing_type.get(i);
        // Missing billable: billable = (type == regular) (events.md §1).
        let billable = billable[i].unwrap_or(pricing_type == Some(REGULAR));
        let pricing_type = pricing_type
            .unwrap_or(if billable {
                REGULAR
            } else if category == REFERRAL_CONVERSION {
                FREE_ENTRY_POINT
            } else {
                FREE_CUSTOMER_SERVICE
            })
            .to_string();
        let market = match market.get(i) {
            Some(m) => m.to_string(),
            None => first_message
                .get(i)
                .and_then(|m| message_market.get(&(business_id.clone(), m.to_string())))
                .cloned()
                .unwrap_or_else(|| UNKNOWN_MARKET.to_string()),
        };
        out.push(ReportedUnit {
            business_id,
            market,
            category,
            model: if model.get(i) == Some(CBP) { CBP } else { PMP },
            pricing_type,
            billable,
            delivered_at: delivered[i].unwrap_or_default(),
        });
    }
    Ok(out)
}
