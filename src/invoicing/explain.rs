//! `msgmeter explain`: an invoice line's lineage (billing.md §8, "Traceability") — the
//! `usage_daily` rows it sums, the messages (PMP) or conversations (CBP) counted in them,
//! and the raw events behind those, each with its source file and line.
//!
//! - A usage line is traced through its key (market, category, model, pricing type; charged
//!   lines through billable units, free lines through theirs). Tier lines of one key share
//!   the same rows: the tiers split the month's units in billing-date order.
//! - An adjustment line is traced like a usage line of the month it corrects.
//! - The fee has no usage behind it.
//! - Under the `reported` source the units are the status events that carried Meta's
//!   pricing object (their message or conversation ids), not our own messages table.

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
    /// `messages`, `conversations` or `events` (reported units).
    pub units_table: &'static str,
    pub units: DataFrame,
    pub events: DataFrame,
}

fn not_found(message: String) -> Error {
    Error::Usage(message)
}

/// The lineage of one line (`line_no`) or of every line of the invoice.
pub fn explain(lake: &Lake, target: &Target, line_no: Option<i64>) -> Result<Vec<Lineage>> {
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
                    trace(lake, &business, traced_month, &source, l)?
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

fn trace(
    lake: &Lake,
    business: &str,
    month: BillingMonth,
    source: &str,
    l: &RegisteredLine,
) -> Result<Traced> {
    let key = l.key.as_ref().expect("traced lines have a key");
    let market_is = |name: &str| {
        col(name)
            .fill_null(lit(UNKNOWN_MARKET))
            .eq(lit(key.market.clone()))
    };
    let mut usage_filter = col("business_id")
        .eq(lit(business.to_string()))
        .and(col("billing_month").eq(lit(month.to_string())))
        .and(col("source").eq(lit(source.to_string())))
        .and(market_is("market"))
        .and(col("category").eq(lit(key.category.clone())))
        .and(col("pricing_model").eq(lit(key.pricing_model.as_str())))
        .and(col("pricing_type").eq(lit(key.pricing_type.clone())));
    let billable = billable_filter(l);
    if let Some(b) = billable {
        usage_filter = usage_filter.and(col("billable").eq(lit(b)));
    }
    let usage = scan(lake, &USAGE_DAILY)?
        .filter(usage_filter)
        .sort(["billing_date", "date"], SortMultipleOptions::default())
        .collect()
        .ctx("reading the usage_daily rows of the line")?;
    let events_of_business =
        scan(lake, &EVENTS)?.filter(col("business_id").eq(lit(business.to_string())));
    let event_columns = [
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
    let with_billable = |mut filter: Expr, column: &str| {
        if let Some(b) = billable {
            filter = filter.and(col(column).eq(lit(b)));
        }
        filter
    };
    if source == "reported" {
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
        let filter = with_billable(
            col("event_type")
                .eq(lit("status"))
                .and(delivered)
                .and(col("date").gt_eq(lit(first)))
                .and(col("date").lt_eq(lit(last)))
                .and(market_is("market"))
                .and(col("reported_pricing_model").eq(lit(key.pricing_model.as_str())))
                .and(col("reported_category").eq(lit(key.category.clone()))),
            "reported_billable_or_regular",
        );
        // A status without Meta's billable flag is billable when its type is regular
        // (events.md, `reported_billable`).
        let statuses = events_of_business
            .clone()
            .with_column(
                col("reported_billable")
                    .fill_null(col("reported_pricing_type").eq(lit("regular")))
                    .alias("reported_billable_or_regular"),
            )
            .filter(filter)
            .select(event_columns.map(col))
            .sort(["ts", "event_key"], SortMultipleOptions::default())
            .collect()
            .ctx("reading the status events with pricing objects")?;
        let ids = statuses
            .clone()
            .lazy()
            .select([col(id)])
            .unique(None, UniqueKeepStrategy::First);
        let events = join_on(events_of_business, ids, id)?
            .select(event_columns.map(col))
            .sort(["ts", "event_key"], SortMultipleOptions::default())
            .collect()
            .ctx("reading the events of the line")?;
        return Ok((usage, "events", statuses, events));
    }
    let month_dates = col("billing_date")
        .gt_eq(lit(month.first_day()))
        .and(col("billing_date").lt_eq(lit(month.last_day())));
    let (units_table, units, message_ids) = match key.pricing_model {
        PricingModel::PerMessage => {
            let units = scan(lake, &MESSAGES)?
                .filter(with_billable(
                    col("business_id")
                        .eq(lit(business.to_string()))
                        .and(month_dates)
                        .and(market_is("market"))
                        .and(col("category").eq(lit(key.category.clone())))
                        .and(col("pricing_model").eq(lit("PMP")))
                        .and(col("pricing_type").eq(lit(key.pricing_type.clone()))),
                    "billable",
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
                        .and(market_is("market"))
                        .and(col("category").eq(lit(key.category.clone())))
                        .and(col("pricing_type").eq(lit(key.pricing_type.clone()))),
                    "billable",
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
    };
    let events = join_on(
        events_of_business,
        message_ids.unique(None, UniqueKeepStrategy::First),
        "message_id",
    )?
    .select(event_columns.map(col))
    .sort(["ts", "event_key"], SortMultipleOptions::default())
    .collect()
    .ctx("reading the events of the line")?;
    Ok((usage, units_table, units, events))
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
