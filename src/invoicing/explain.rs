//! `msgmeter explain`: an invoice line's lineage (billing.md §8, "Traceability") — the
//! `usage_daily` rows it sums, the messages (PMP) or conversations (CBP) counted in them,
//! and the raw events behind those, each with its source file and line.
//!
//! - A usage line is traced through its key (market, category, model, pricing type; charged
//!   lines through billable units, free lines through theirs). Tier lines of one key share
//!   the same rows: the tiers split the month's units in billing-date order.
//! - An adjustment line is traced like a usage line of the month it corrects.
//! - The fee has no usage behind it.
//! - Under the `reported` source the units are the delivered/read/played status events
//!   that carried Meta's pricing object with the line's category and pricing type (their
//!   message or conversation ids), not our own messages table. They are picked in the UTC
//!   dates around the month (the day before to the day after), not by each unit's local
//!   billing date.

use polars::prelude::*;

use super::model::LineKind;
use super::register::{self, RegisteredLine};
use crate::error::{Error, PolarsContext, Result};
use crate::lake::Lake;
use crate::pricing::markets::UNKNOWN_MARKET;
use crate::pricing::rules::PricingModel;
use crate::query::scan_table;
use crate::schema::{CONVERSATIONS, EVENTS, INVOICES, MESSAGES, USAGE_DAILY};
use crate::time::{day_after, day_before, BillingMonth};

/// Which invoice: a final one by its number, or a business's draft of a month.
#[derive(Debug, Clone)]
pub enum Target {
    Number(String),
    Draft {
        business: String,
        month: BillingMonth,
    },
}

/// One line's lineage.
pub struct Lineage {
    /// The invoice's number, or `draft` while it has none.
    pub invoice: String,
    /// The invoice's currency (the line's amount is shown at its minor unit).
    pub currency: String,
    pub month: BillingMonth,
    pub source: String,
    pub line: RegisteredLine,
    pub usage: DataFrame,
    /// `messages`, `conversations` or `statuses` (reported units: status events).
    pub units_table: &'static str,
    pub units: DataFrame,
    pub events: DataFrame,
}

fn not_found(message: String) -> Error {
    Error::Usage(message)
}

/// The lineage of one line (`line_no`) or of every line of the invoice.
/// `accounts` gives each business's billing time zone (a reported unit belongs to the month
/// of its earliest delivery in that zone).
pub fn explain(
    lake: &Lake,
    accounts: &crate::accounts::Accounts,
    target: &Target,
    line_no: Option<i64>,
) -> Result<Vec<Lineage>> {
    let (month, business) = match target {
        Target::Number(number) => {
            let mut found = None;
            for m in lake.partition_months(&INVOICES)?.into_iter().rev() {
                if let Some(reg) = register::read(lake, m)? {
                    if let Some(i) = reg
                        .invoices
                        .iter()
                        .find(|i| i.invoice_number.as_deref() == Some(number))
                    {
                        found = Some((m, i.business_id.clone()));
                        break;
                    }
                }
            }
            found.ok_or_else(|| {
                not_found(format!(
                    "no invoice numbered {number} in {}",
                    lake.root.display()
                ))
            })?
        }
        Target::Draft { business, month } => (*month, business.clone()),
    };
    let reg = register::read(lake, month)?.ok_or_else(|| {
        not_found(format!(
            "{month} has no invoices yet: run `msgmeter invoice --month {month}`"
        ))
    })?;
    let invoice = reg
        .invoices
        .iter()
        .find(|i| i.business_id == business)
        .ok_or_else(|| not_found(format!("business {business} has no invoice in {month}")))?;
    let lines: Vec<&RegisteredLine> = reg
        .lines
        .iter()
        .filter(|l| l.business_id == business)
        .filter(|l| line_no.is_none_or(|n| l.line_no == n))
        .collect();
    if lines.is_empty() {
        return Err(not_found(format!(
            "the invoice of {business} for {month} has no line {}",
            line_no.unwrap_or_default()
        )));
    }
    lines
        .into_iter()
        .map(|l| {
            let (usage, units_table, units, events) = match (&l.key, l.kind) {
                (Some(_), LineKind::Usage | LineKind::Adjustment) => {
                    // An adjustment is traced in the month it corrects, in the source that
                    // month's invoice billed.
                    let (traced_month, source) = match l.corrects_month {
                        Some(m) => (
                            m,
                            source_of(lake, m, &business)?
                                .unwrap_or_else(|| invoice.source.clone()),
                        ),
                        None => (month, invoice.source.clone()),
                    };
                    trace(
                        lake,
                        accounts.get(&business).timezone,
                        &business,
                        traced_month,
                        &source,
                        l,
                    )?
                }
                _ => {
                    let empty = DataFrame::empty();
                    (empty.clone(), "messages", empty.clone(), empty)
                }
            };
            Ok(Lineage {
                invoice: invoice
                    .invoice_number
                    .clone()
                    .unwrap_or_else(|| "draft".into()),
                currency: invoice.currency.clone(),
                month,
                source: invoice.source.clone(),
                line: l.clone(),
                usage,
                units_table,
                units,
                events,
            })
        })
        .collect()
}

/// The source a business's invoice of `month` billed.
fn source_of(lake: &Lake, month: BillingMonth, business: &str) -> Result<Option<String>> {
    Ok(register::read(lake, month)?.and_then(|r| {
        r.invoices
            .into_iter()
            .find(|i| i.business_id == business)
            .map(|i| i.source)
    }))
}

fn scan(lake: &Lake, table: &crate::schema::Table) -> Result<LazyFrame> {
    Ok(scan_table(&lake.root, table)?
        .unwrap_or_else(|| crate::lake::columns::empty_frame(table).lazy()))
}

/// The billable filter of a line: charged lines (a tier) are billable units, a zero-priced
/// `regular` line is the non-billable ones, a free type takes its rows whatever they say.
fn billable_filter(l: &RegisteredLine) -> Option<bool> {
    let key = l.key.as_ref()?;
    match (key.tier_from, key.pricing_type.as_str()) {
        (Some(_), _) => Some(true),
        (None, "regular") => Some(false),
        _ => None,
    }
}

type Traced = (DataFrame, &'static str, DataFrame, DataFrame);

/// The columns shown of each traced event.
const EVENT_COLUMNS: [&str; 9] = [
    "date",
    "event_key",
    "event_type",
    "ts",
    "message_id",
    "status",
    "conversation_id",
    "source_file",
    "source_line",
];

/// `name` (a market column; null reads as Unknown) is the line's market.
fn market_is(name: &str, market: &str) -> Expr {
    col(name)
        .fill_null(lit(UNKNOWN_MARKET))
        .eq(lit(market.to_string()))
}

/// `filter`, and `column` equal to the line's billable flag when it has one.
fn with_billable(filter: Expr, column: &str, billable: Option<bool>) -> Expr {
    match billable {
        Some(b) => filter.and(col(column).eq(lit(b))),
        None => filter,
    }
}

/// A line's `usage_daily` rows, its units (which table they come from, and the rows) and
/// the events behind them.
fn trace(
    lake: &Lake,
    zone: chrono_tz::Tz,
    business: &str,
    month: BillingMonth,
    source: &str,
    l: &RegisteredLine,
) -> Result<Traced> {
    let key = l.key.as_ref().expect("traced lines have a key");
    let billable = billable_filter(l);
    let usage_filter = col("business_id")
        .eq(lit(business.to_string()))
        .and(col("billing_month").eq(lit(month.to_string())))
        .and(col("source").eq(lit(source.to_string())))
        .and(market_is("market", &key.market))
        .and(col("category").eq(lit(key.category.clone())))
        .and(col("pricing_model").eq(lit(key.pricing_model.as_str())))
        .and(col("pricing_type").eq(lit(key.pricing_type.clone())));
    let usage = scan(lake, &USAGE_DAILY)?
        .filter(with_billable(usage_filter, "billable", billable))
        .sort(["billing_date", "date"], SortMultipleOptions::default())
        .collect()
        .ctx("reading the usage_daily rows of the line")?;
    let events_of_business =
        scan(lake, &EVENTS)?.filter(col("business_id").eq(lit(business.to_string())));
    if source == "reported" {
        let (statuses, events) = trace_reported(events_of_business, zone, month, key, billable)?;
        return Ok((usage, "statuses", statuses, events));
    }
    let (units_table, units, message_ids) = derived_units(lake, business, month, key, billable)?;
    let events = join_on(
        events_of_business,
        message_ids.unique(None, UniqueKeepStrategy::First),
        "message_id",
    )?
    .select(EVENT_COLUMNS.map(col))
    .sort(["ts", "event_key"], SortMultipleOptions::default())
    .collect()
    .ctx("reading the events of the line")?;
    Ok((usage, units_table, units, events))
}

/// Under the reported source, a line's units are the charging statuses (each unit's
/// earliest delivery status with Meta's pricing, in the account's billing month), and its
/// events every event of those messages or conversations.
fn trace_reported(
    events_of_business: LazyFrame,
    zone: chrono_tz::Tz,
    month: BillingMonth,
    key: &super::model::LineKey,
    billable_line: Option<bool>,
) -> Result<(DataFrame, DataFrame)> {
    let (first, last) = (
        day_before(month.first_day(), 1),
        day_after(month.last_day(), 1),
    );
    let id = match key.pricing_model {
        PricingModel::PerMessage => "message_id",
        PricingModel::Conversation => "conversation_id",
    };
    // Only delivered messages count (billing.md §5): their delivered, read or played
    // statuses carried the pricing object.
    let delivered = col("status")
        .eq(lit("delivered"))
        .or(col("status").eq(lit("read")))
        .or(col("status").eq(lit("played")));
    // A status without Meta's billable flag is billable when its type is regular
    // (events.md, `reported_billable`); without a type, its type is what billing.md §5
    // derives: regular when billable, free_entry_point for referral_conversion, else
    // free_customer_service.
    let billable =
        col("reported_billable").fill_null(col("reported_pricing_type").eq(lit("regular")));
    let pricing_type = when(col("reported_pricing_type").is_not_null())
        .then(col("reported_pricing_type"))
        .when(billable.clone())
        .then(lit("regular"))
        .when(col("reported_category").eq(lit("referral_conversion")))
        .then(lit("free_entry_point"))
        .otherwise(lit("free_customer_service"));
    // A status of the event log may not name the customer: its market is then its
    // message's (as reported usage takes it, metering/reported.rs).
    let message_markets = events_of_business
        .clone()
        .filter(col("event_type").eq(lit("message_out")))
        .group_by([col("message_id")])
        .agg([col("market").drop_nulls().first().alias("message_market")]);
    // Each unit is charged as its earliest delivery status says (metering/reported.rs):
    // that status, per unit, on a UTC date the line's usage rows hold.
    let mut unit_columns: Vec<&str> = EVENT_COLUMNS.to_vec();
    unit_columns.extend([
        "unit_market",
        "reported_billable_or_regular",
        "reported_type_or_derived",
        "reported_category",
    ]);
    let charging = events_of_business
        .clone()
        .filter(
            col("event_type")
                .eq(lit("status"))
                .and(delivered)
                .and(col("date").gt_eq(lit(first)))
                .and(col("date").lt_eq(lit(last)))
                .and(col("reported_pricing_model").eq(lit(key.pricing_model.as_str())))
                .and(col(id).is_not_null()),
        )
        .join(
            message_markets,
            [col("message_id")],
            [col("message_id")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            coalesce(&[col("market"), col("message_market")]).alias("unit_market"),
            billable.alias("reported_billable_or_regular"),
            pricing_type.alias("reported_type_or_derived"),
        ])
        .sort(["ts", "event_key"], SortMultipleOptions::default())
        .group_by([col(id)])
        .agg(
            unit_columns
                .iter()
                .filter(|c| **c != id)
                .map(|c| col(*c).first())
                .collect::<Vec<_>>(),
        );
    let statuses = charging
        .filter(with_billable(
            market_is("unit_market", &key.market)
                .and(col("reported_category").eq(lit(key.category.clone())))
                .and(col("reported_type_or_derived").eq(lit(key.pricing_type.clone()))),
            "reported_billable_or_regular",
            billable_line,
        ))
        .select(EVENT_COLUMNS.map(col))
        .sort(["ts", "event_key"], SortMultipleOptions::default())
        .collect()
        .ctx("reading the status events with pricing objects")?;
    // The units of this billing month: earliest delivery in the account's zone.
    let in_month: BooleanChunked = statuses
        .column("ts")
        .and_then(|c| c.cast(&DataType::Int64))
        .ctx("reading status times")?
        .i64()
        .ctx("reading status times")?
        .iter()
        .map(|ts| {
            ts.and_then(chrono::DateTime::from_timestamp_micros)
                .map(|t| BillingMonth::of(t.with_timezone(&zone).date_naive()) == month)
                .unwrap_or(false)
        })
        .collect();
    let statuses = statuses
        .filter(&in_month)
        .ctx("keeping the month's units")?;
    let ids = statuses
        .clone()
        .lazy()
        .select([col(id)])
        .unique(None, UniqueKeepStrategy::First);
    let events = join_on(events_of_business, ids, id)?
        .select(EVENT_COLUMNS.map(col))
        .sort(["ts", "event_key"], SortMultipleOptions::default())
        .collect()
        .ctx("reading the events of the line")?;
    Ok((statuses, events))
}

/// Under the derived source, a line's units are its messages (per-message pricing) or its
/// conversations: which table, its rows, and the ids of the messages behind them.
fn derived_units(
    lake: &Lake,
    business: &str,
    month: BillingMonth,
    key: &super::model::LineKey,
    billable: Option<bool>,
) -> Result<(&'static str, DataFrame, LazyFrame)> {
    let month_dates = col("billing_date")
        .gt_eq(lit(month.first_day()))
        .and(col("billing_date").lt_eq(lit(month.last_day())));
    Ok(match key.pricing_model {
        PricingModel::PerMessage => {
            let units = scan(lake, &MESSAGES)?
                .filter(with_billable(
                    col("business_id")
                        .eq(lit(business.to_string()))
                        .and(month_dates)
                        .and(market_is("market", &key.market))
                        .and(col("category").eq(lit(key.category.clone())))
                        .and(col("pricing_model").eq(lit("PMP")))
                        .and(col("pricing_type").eq(lit(key.pricing_type.clone()))),
                    "billable",
                    billable,
                ))
                .select(
                    [
                        "message_id",
                        "customer_key",
                        "market",
                        "category",
                        "sent_at",
                        "delivered_at",
                        "billing_date",
                        "pricing_type",
                        "billable",
                    ]
                    .map(col),
                )
                .sort(
                    ["billing_date", "delivered_at", "message_id"],
                    SortMultipleOptions::default(),
                )
                .collect()
                .ctx("reading the messages of the line")?;
            let ids = units.clone().lazy().select([col("message_id")]);
            ("messages", units, ids)
        }
        PricingModel::Conversation => {
            let units = scan(lake, &CONVERSATIONS)?
                .filter(with_billable(
                    col("business_id")
                        .eq(lit(business.to_string()))
                        .and(col("billing_month").eq(lit(month.to_string())))
                        .and(market_is("market", &key.market))
                        .and(col("category").eq(lit(key.category.clone())))
                        .and(col("pricing_type").eq(lit(key.pricing_type.clone()))),
                    "billable",
                    billable,
                ))
                .select(
                    [
                        "conversation_id",
                        "customer_key",
                        "market",
                        "category",
                        "opened_at",
                        "billing_date",
                        "pricing_type",
                        "billable",
                    ]
                    .map(col),
                )
                .sort(
                    ["billing_date", "opened_at", "conversation_id"],
                    SortMultipleOptions::default(),
                )
                .collect()
                .ctx("reading the conversations of the line")?;
            let conversations = units.clone().lazy().select([col("conversation_id")]);
            let messages = scan(lake, &MESSAGES)?
                .filter(col("business_id").eq(lit(business.to_string())))
                .select([col("message_id"), col("conversation_id")]);
            let ids =
                join_on(messages, conversations, "conversation_id")?.select([col("message_id")]);
            ("conversations", units, ids)
        }
    })
}

/// The rows of `frame` whose `column` is among `keys`'.
fn join_on(frame: LazyFrame, keys: LazyFrame, column: &str) -> Result<LazyFrame> {
    Ok(frame.join(
        keys,
        [col(column)],
        [col(column)],
        JoinArgs::new(JoinType::Inner),
    ))
}

impl Lineage {
    /// The line's amount at the currency's minor unit (`0.13`, not the stored `0.1300`).
    pub fn amount(&self) -> String {
        match crate::money::Currency::of(&self.currency) {
            Some(c) => crate::money::Money::round(self.line.amount, c).to_string(),
            None => self.line.amount.normalize().to_string(),
        }
    }
}
