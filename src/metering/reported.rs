//! The `reported` metering source (billing.md §5): what Meta's pricing objects on status
//! webhooks say, for a provider re-billing Meta's charges.
//!
//! PMP units are distinct message ids, CBP units distinct `conversation.id`s; only delivered
//! ones count, dated by the earliest delivered/read/played status of the message (PMP) or of
//! any message of the conversation (CBP). The category, billable flag and pricing type are
//! those of its earliest delivery status carrying a pricing object; the market
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

/// A value all events of one message should agree on (its customer, market, type,
/// category, sender): the smallest non-null one, so that should they disagree the choice
/// still never depends on row order.
pub fn agreed(column: &str) -> Expr {
    col(column).drop_nulls().min()
}

/// The value of `column` on the unit's earliest delivery status; should two statuses share
/// that instant (two messages of one conversation), the smallest value, so the choice never
/// depends on row order.
fn at_delivery(column: &str) -> Expr {
    col(column)
        .filter(col("ts").eq(col("ts").min()))
        .drop_nulls()
        .min()
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
            col("ts").min().alias("delivered_at"),
            at_delivery("market").alias("market"),
            at_delivery("reported_category").alias("category"),
            at_delivery("reported_billable").alias("billable"),
            at_delivery("reported_pricing_type").alias("pricing_type"),
            at_delivery("message_id").alias("first_message"),
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
    // An event-log status may not name the customer: then the market is the message's,
    // from its message_out event (joined after the group-by, on the small unit table).
    let message_market = events
        .filter(col("event_type").eq(lit("message_out")))
        .group_by([col("business_id"), col("message_id")])
        .agg([agreed("market").alias("message_market")])
        .select([
            col("business_id"),
            col("message_id").alias("first_message"),
            col("message_market"),
        ]);
    let units = concat(
        [
            units_of(statuses.clone(), "PMP", "message_id")?,
            units_of(statuses, "CBP", "conversation_id")?,
        ],
        UnionArgs::default(),
    )
    .ctx("combining reported units")?
    .join(
        message_market,
        [col("business_id"), col("first_message")],
        [col("business_id"), col("first_message")],
        JoinArgs::new(JoinType::Left),
    )
    .with_column(coalesce(&[col("market"), col("message_market")]).alias("market"))
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
