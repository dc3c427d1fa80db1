//! The `reported` metering source (billing.md §5): what Meta's pricing objects on status
//! webhooks say, for a provider re-billing Meta's charges.
//!
//! PMP units are distinct message ids, CBP units distinct `conversation.id`s; only delivered
//! ones count, dated by the earliest delivered/read/played status of the message (PMP) or of
//! any message of the conversation (CBP). The category, billable flag and pricing type are
//! those of the first status (by time, up to the delivery) that carries them; the market
//! is the recipient's, from the status or else from the message's `message_out` event. A plain group-by: polars' lazy
//! API over the `events` table.

use polars::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::lake::columns::{bool_values, i64_values, str_values};
use crate::pricing::markets::UNKNOWN_MARKET;

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

/// The first non-null value of `column` in time order (ties: event key) within a group:
/// explicit, because a sort before a group-by is not an order the engine promises to keep.
pub fn first_in_time(column: &str) -> Expr {
    col(column)
        .sort_by(
            [col("ts"), col("event_key")],
            SortMultipleOptions::default(),
        )
        .drop_nulls()
        .first()
}

fn units_of(statuses: LazyFrame, model: &str, unit_key: &str) -> Result<LazyFrame> {
    let unit = [col("business_id"), col(unit_key)];
    let delivery_ts = when(is_delivery())
        .then(col("ts"))
        .otherwise(lit(NULL).cast(DataType::Int64));
    let delivered_at = delivery_ts
        .min()
        .over(unit.clone())
        .ctx("the delivery time of each unit")?;
    Ok(statuses
        .filter(col("reported_pricing_model").eq(lit(model.to_string())))
        .filter(col(unit_key).is_not_null())
        .with_column(delivered_at.alias("delivered_at"))
        // Only statuses up to the delivery describe the unit: what arrives later cannot
        // change a charge already dated, and a build of one date must see what a range
        // build sees.
        .filter(col("ts").lt_eq(col("delivered_at")))
        .group_by(unit)
        .agg([
            col("delivered_at").first().alias("delivered_at"),
            first_in_time("market").alias("market"),
            first_in_time("reported_category").alias("category"),
            first_in_time("reported_billable").alias("billable"),
            first_in_time("reported_pricing_type").alias("pricing_type"),
        ])
        .filter(col("delivered_at").is_not_null())
        .select([
            col("business_id"),
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
    // An event-log status may not name the customer: its market is the message's.
    let message_market = events
        .clone()
        .filter(col("event_type").eq(lit("message_out")))
        .select([
            col("business_id"),
            col("message_id"),
            col("market"),
            col("ts").cast(DataType::Int64),
            col("event_key"),
        ])
        .group_by([col("business_id"), col("message_id")])
        .agg([first_in_time("market").alias("message_market")]);
    let statuses = events
        .filter(col("event_type").eq(lit("status")))
        .filter(col("reported_pricing_model").is_not_null())
        .select([
            col("business_id"),
            col("message_id"),
            col("conversation_id"),
            col("ts").cast(DataType::Int64),
            col("event_key"),
            col("status"),
            col("market"),
            col("reported_pricing_model"),
            col("reported_category"),
            col("reported_billable"),
            col("reported_pricing_type"),
        ])
        .join(
            message_market,
            [col("business_id"), col("message_id")],
            [col("business_id"), col("message_id")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(coalesce(&[col("market"), col("message_market")]).alias("market"));
    let units = concat(
        [
            units_of(statuses.clone(), "PMP", "message_id")?,
            units_of(statuses, "CBP", "conversation_id")?,
        ],
        UnionArgs::default(),
    )
    .ctx("combining reported units")?
    .filter(
        col("delivered_at")
            .gt_eq(lit(span.0))
            .and(col("delivered_at").lt(lit(span.1))),
    )
    .collect()
    .ctx("computing reported usage")?;

    let business = str_values(&units, "business_id")?;
    let delivered = i64_values(&units, "delivered_at")?;
    let market = str_values(&units, "market")?;
    let category = str_values(&units, "category")?;
    let billable = bool_values(&units, "billable")?;
    let pricing_type = str_values(&units, "pricing_type")?;
    let model = str_values(&units, "model")?;
    let mut out = Vec::with_capacity(units.height());
    for i in 0..units.height() {
        let category = category[i].clone().unwrap_or_else(|| "unknown".into());
        let pricing_type = pricing_type[i].clone();
        // Missing billable: billable = (type == regular) (events.md §1).
        let billable = billable[i].unwrap_or(pricing_type.as_deref() == Some(REGULAR));
        let pricing_type = pricing_type.unwrap_or_else(|| {
            if billable {
                REGULAR
            } else if category == REFERRAL_CONVERSION {
                FREE_ENTRY_POINT
            } else {
                FREE_CUSTOMER_SERVICE
            }
            .to_string()
        });
        out.push(ReportedUnit {
            business_id: business[i].clone().unwrap_or_default(),
            market: market[i].clone().unwrap_or_else(|| UNKNOWN_MARKET.into()),
            category,
            model: if model[i].as_deref() == Some("CBP") {
                "CBP"
            } else {
                "PMP"
            },
            pricing_type,
            billable,
            delivered_at: delivered[i].unwrap_or_default(),
        });
    }
    Ok(out)
}
