//! Which dates of the analytics tables new events can change (spec README, "What nightly
//! rebuilds", 3): a reply, a case status or a rating changes the wait or case it belongs
//! to however old, and `reply_waits` and `cases` are partitioned by the date the wait or
//! case began. Nightly rebuilds those dates with the new events' own.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::lake::Lake;
use crate::schema::{CASES, EVENTS, REPLY_WAITS};
use crate::time::{start_of, utc_day, DAY_MICROS};

/// The UTC day (days since 1970) of a timestamp column: the partition a row is in.
fn utc_day_of(column: &str) -> Expr {
    col(column)
        .cast(DataType::Int64)
        .floor_div(lit(DAY_MICROS))
        .alias("day")
}

/// The dates of a frame's `day` column.
fn days(df: &DataFrame) -> Result<Vec<NaiveDate>> {
    let days = df.column("day").ctx("day")?.i64().ctx("day")?;
    Ok(days
        .iter()
        .flatten()
        .map(|d| utc_day(d * DAY_MICROS))
        .collect())
}

/// The dates of the waits and cases that events on `dates` can close or change. A
/// superset, never less:
/// - every wait of a (business, customer) with messages on those dates that was not fully
///   answered before them: its start date, and every date from the first of `dates` to the
///   one its answer came on (the lake's last date when it had none), since a reply that
///   arrives late ends it earlier and the customer's later messages then begin a new wait;
/// - every case of such a pair not resolved before them, or named by a case event on those
///   dates: its opening date.
pub fn dates_affected(lake: &Lake, dates: &BTreeSet<NaiveDate>) -> Result<BTreeSet<NaiveDate>> {
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
        return Ok(BTreeSet::new());
    };
    let lake_last = lake
        .partition_dates(&EVENTS)?
        .last()
        .copied()
        .unwrap_or(last);
    let mut new = Vec::new();
    for &d in dates {
        let columns = ["business_id", "customer_key", "event_type", "case_id"];
        if let Some(df) = lake.read_date(&EVENTS, d, Some(&columns))? {
            new.push(df.lazy());
        }
    }
    if new.is_empty() {
        return Ok(BTreeSet::new());
    }
    let new = concat(new, UnionArgs::default()).ctx("stacking new events")?;
    let messages = col("event_type")
        .eq(lit("message_in"))
        .or(col("event_type").eq(lit("message_out")));
    let pairs = new
        .clone()
        .filter(messages.and(col("customer_key").is_not_null()))
        .select([col("business_id"), col("customer_key")])
        .unique(None, UniqueKeepStrategy::Any);
    let case_ids = new
        .filter(col("case_id").is_not_null())
        .select([col("business_id"), col("case_id")])
        .unique(None, UniqueKeepStrategy::Any);
    let since = lit(start_of(first));
    let semi = |on: &[&str]| {
        let keys: Vec<Expr> = on.iter().map(|c| col(*c)).collect();
        (keys.clone(), keys, JoinArgs::new(JoinType::Semi))
    };
    let mut affected = BTreeSet::new();
    let open_since = |c: &str| {
        col(c)
            .is_null()
            .or(col(c).cast(DataType::Int64).gt_eq(since.clone()))
    };

    let waits = lake.scan_dates(&REPLY_WAITS, NaiveDate::MIN, last)?;
    let (l, r, how) = semi(&["business_id", "customer_key"]);
    let waits = waits
        .filter(open_since("replied_at").or(open_since("human_replied_at")))
        .join(pairs.clone(), l, r, how)
        .select(
            ["started_at", "replied_at", "human_replied_at"].map(|c| col(c).cast(DataType::Int64)),
        )
        .collect()
        .ctx("finding the waits new events answer")?;
    let times = |c: &str| -> Result<Vec<Option<i64>>> {
        Ok(waits
            .column(c)
            .ctx(c.to_string())?
            .i64()
            .ctx(c.to_string())?
            .iter()
            .collect())
    };
    let (started, replied, human) = (
        times("started_at")?,
        times("replied_at")?,
        times("human_replied_at")?,
    );
    for i in 0..waits.height() {
        if let Some(s) = started[i] {
            affected.insert(utc_day(s));
        }
        let end = match (replied[i], human[i]) {
            (Some(r), Some(h)) => utc_day(r.max(h)).max(first),
            _ => lake_last.max(last),
        };
        let mut d = first;
        while d <= end {
            affected.insert(d);
            d = crate::time::day_after(d, 1);
        }
    }

    let cases = lake.scan_dates(&CASES, NaiveDate::MIN, last)?;
    let (l, r, how) = semi(&["business_id", "customer_key"]);
    let of_pairs = cases
        .clone()
        .filter(open_since("last_resolved_at"))
        .join(pairs, l, r, how);
    let (l, r, how) = semi(&["business_id", "case_id"]);
    let named = cases.join(case_ids, l, r, how);
    let cases = concat([of_pairs, named], UnionArgs::default())
        .ctx("stacking cases")?
        .select([utc_day_of("opened_at")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()
        .ctx("finding the cases new events change")?;
    affected.extend(days(&cases)?);
    Ok(affected)
}
