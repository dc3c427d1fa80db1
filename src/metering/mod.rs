//! The metering stage of `msgmeter build` (billing.md §1–§6). From the lake's `events` it
//! computes, per UTC date, the tables `messages`, `conversations`, `usage_daily` and
//! `reconciliation`, and per billing month `billing_sources`. The build driver
//! (`crate::pipeline`) loads the date windows and calls it date by date; metering knows
//! nothing of the stages after it.
//!
//! Dates are built one after another, each the same way whether it is built alone or as
//! part of a range, so a range equals its days built one by one:
//! - the events of the date, of the four days before (a 24 h reply deadline plus a 72 h
//!   free-entry-point window reach 96 h back) and of the day after (statuses of messages
//!   sent late in the day) are loaded — each date's file is read once per run;
//! - the state that chains from older days — the CBP conversations still open at the
//!   date's start, and the month's free allowance used so far — is read from the
//!   `conversations` table of the days before, which the previous date wrote;
//! - the date's deliveries are priced one customer timeline at a time ([`derived`]), in
//!   parallel; reported usage ([`reported`]) is a group-by over the whole range at once.
//!
//! When CBP rules were in force and the day before the first requested date has events but
//! was never built, the build starts earlier (down to the first such date), because a
//! conversation open at midnight depends on every conversation before it.

pub mod cbp;
pub mod derived;
pub mod pmp;
pub mod reported;
pub mod timeline;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;

use crate::accounts::{Account, Accounts};
use crate::error::{PolarsContext, Result};
use crate::lake::columns::{
    bool_column, bools, dates, empty_frame, i64_column, i64_values, str_column, str_values,
    table_frame, text, timestamps,
};
use crate::lake::{self, Lake};
use crate::pricing::markets::UNKNOWN_MARKET;
use crate::pricing::rates::RateCard;
use crate::pricing::rules::{PricingRules, CBP, PMP};
use crate::schema::{
    BILLING_SOURCES, CONVERSATIONS, EVENTS, MESSAGES, RECONCILIATION, USAGE_DAILY,
};

use derived::{local_date, price_timeline, PricingContext};
use reported::first_in_time;
use timeline::{
    Conversation, Inbound, MessagePricing, Outbound, Timeline, DAY_MICROS, FREE_TIER, REGULAR,
};
pub use usage::SourceChoice;

use crate::time::{day_after, day_before, start_of, utc_day};
use usage::{billing_month, BilledSource, Usage, UsageKey, DERIVED, REPORTED};

const QUARTER_HOUR_MICROS: i64 = 15 * 60 * 1_000_000;

/// Days of events before a date that its charges can depend on: 96 h (a 24 h reply
/// deadline plus a 72 h free-entry-point window) are exactly four UTC days.
pub const LOOKBACK_DAYS: u64 = 4;
/// Days after a date whose statuses still describe its messages.
pub const LOOKAHEAD_DAYS: u64 = 1;

/// The pricing a date's build applies: the periods of rules and the rate card.
pub struct Pricing<'a> {
    pub rules: &'a PricingRules,
    pub rates: &'a RateCard,
}

/// Counts a person checks after a build.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BuildSummary {
    pub messages: u64,
    pub delivered: u64,
    pub conversations: u64,
    pub usage_rows: u64,
    pub derived_billable_units: i64,
    pub reported_billable_units: i64,
    pub reconciliation_rows: u64,
    /// Delivered messages the derived source could not meter (webhook-only under CBP, or
    /// statuses without a category).
    pub unmetered_deliveries: u64,
}

/// The first date a build of `[from, to]` must start at. When CBP rules were in force and
/// the day before `from` has events but was never built, the build starts earlier (down to
/// the first such date), because a conversation open at midnight depends on every
/// conversation before it. Returns the start and, when it is not `from`, why.
pub fn first_date_to_build(
    lake: &Lake,
    rules: &PricingRules,
    event_dates: &[NaiveDate],
    from: NaiveDate,
) -> Result<(NaiveDate, Option<String>)> {
    let has_events: BTreeSet<NaiveDate> = event_dates.iter().copied().collect();
    let built: BTreeSet<NaiveDate> = lake.partition_dates(&CONVERSATIONS)?.into_iter().collect();
    let mut start = from;
    loop {
        let before = day_before(start, 1);
        let chained = rules.conversations_between(day_before(before, 1), day_after(before, 1));
        if chained && has_events.contains(&before) && !built.contains(&before) {
            start = before;
        } else {
            break;
        }
    }
    let why = (start < from).then(|| {
        format!(
            "started at {start}, not {from}: conversation-based pricing chains across days and \
             {start}…{} had never been built",
            day_before(from, 1)
        )
    });
    Ok((start, why))
}

/// The UTC dates whose metering can change when events arrive on `dates` (spec README,
/// "What nightly rebuilds", 1–2): each date and the `LOOKBACK_DAYS` after it (a date's
/// charging windows reach 24 h + 72 h back), the `LOOKAHEAD_DAYS` before it (a date's
/// messages take their statuses from the day after), and where a monthly free allowance is in force,
/// the rest of the billing month, since its free units go to the month's first
/// conversations. A billing month is local to the account, so it is taken for the local
/// dates a UTC date can be (the day before to the day after) and runs to the UTC day after
/// its last.
pub fn dates_affected(rules: &PricingRules, dates: &BTreeSet<NaiveDate>) -> BTreeSet<NaiveDate> {
    let mut affected = BTreeSet::new();
    for &d in dates {
        for k in 0..=LOOKBACK_DAYS {
            affected.insert(day_after(d, k));
        }
        for k in 1..=LOOKAHEAD_DAYS {
            affected.insert(day_before(d, k));
        }
        for local in [day_before(d, 1), d, day_after(d, 1)] {
            if rules
                .period_on(local)
                .is_some_and(|p| p.free_tier_conversations > 0)
            {
                let end = day_after(crate::time::BillingMonth::of(local).last_day(), 1);
                let mut x = d;
                while x <= end {
                    affected.insert(x);
                    x = day_after(x, 1);
                }
            }
        }
    }
    affected
}

/// What metering wrote for a range of dates.
pub struct Metered {
    pub dates: Vec<NaiveDate>,
    /// Billing months of `billing_sources` written.
    pub months: Vec<String>,
    pub summary: BuildSummary,
}

/// Meter the dates `[start, to]` one after another: `messages`, `conversations`,
/// `usage_daily`, `reconciliation` per date, then `billing_sources` per billing month. Each
/// date's events are read once, as they enter the window, and handed to `loaded` too.
pub fn meter(
    lake: &Lake,
    pricing: &Pricing<'_>,
    choice: SourceChoice,
    accounts: &Accounts,
    (start, to): (NaiveDate, NaiveDate),
    loaded: &mut dyn FnMut(NaiveDate, &DataFrame) -> Result<()>,
) -> Result<Metered> {
    let mut account_of: HashMap<String, Account> = HashMap::new();
    let mut window = EventWindow::default();
    let mut summary = BuildSummary::default();

    // Reported usage: one group-by over the whole range.
    let t = Instant::now();
    let reported = reported::reported_units(
        scan_events(lake, day_before(start, LOOKBACK_DAYS), to)?,
        (start_of(start), start_of(day_after(to, 1))),
    )?;
    let mut reported_by_date: BTreeMap<NaiveDate, Vec<reported::ReportedUnit>> = BTreeMap::new();
    for u in reported {
        reported_by_date
            .entry(utc_day(u.delivered_at))
            .or_default()
            .push(u);
    }
    crate::timing::add("reported_usage", t.elapsed());
    tracing::debug!(
        rss_mib = crate::timing::rss_mib(),
        "reported usage computed"
    );

    let mut dates = Vec::new();
    let mut day = start;
    while day <= to {
        window.advance(lake, day, loaded)?;
        let for_day = reported_by_date.remove(&day).unwrap_or_default();
        build_day(
            lake,
            pricing,
            day,
            &window,
            for_day,
            &mut account_of,
            accounts,
            &mut summary,
        )?;
        tracing::debug!(%day, rss_mib = crate::timing::rss_mib(), "date built");
        dates.push(day);
        day = day_after(day, 1);
    }

    // The window's dates are no longer needed: their memory goes to the stages after.
    let activity = std::mem::take(&mut window.activity);
    drop(window);
    let t = Instant::now();
    let months = write_billing_sources(lake, choice, &dates, accounts, activity)?;
    crate::timing::add("billing_sources", t.elapsed());
    tracing::debug!(
        rss_mib = crate::timing::rss_mib(),
        "billing sources written"
    );
    Ok(Metered {
        dates,
        months,
        summary,
    })
}

/// The `events` of the dates `[from, to]`, lazily, the files *in date order*: with each
/// file in (business, ts, event key) order, every message's or conversation's rows then
/// come in time order (what [`first_in_time`] and `first` rely on).
pub(crate) fn scan_events(lake: &Lake, from: NaiveDate, to: NaiveDate) -> Result<LazyFrame> {
    lake.scan_dates(&EVENTS, from, to)
}

/// The columns of `events` that metering reads (with those the analytics feed takes as
/// each date is loaded: the build driver hands every loaded date on to analytics).
const METERING_COLUMNS: [&str; 22] = [
    "event_key",
    "event_type",
    "ts",
    "business_id",
    "customer_key",
    "customer_country",
    "market",
    "message_id",
    "message_type",
    "template_category",
    "sender",
    "referral",
    "status",
    "reported_pricing_model",
    "reported_category",
    "reported_billable",
    "reported_pricing_type",
    "case_id",
    "case_kind",
    "case_category",
    "case_status",
    "rating",
];

/// What one date's events say about messages, aggregated once when the date enters the
/// window: its inbound messages as they are, and per outbound message the earliest time of
/// each kind of status and the first value of each attribute on that date. Combining the
/// dates of a window is then a small second aggregation (a min of mins, the first of firsts
/// in date order) instead of a pass over every raw status of six days.
struct DayParts {
    inbound: DataFrame,
    sent: DataFrame,
    statuses: DataFrame,
}

impl DayParts {
    fn of(events: DataFrame) -> Result<DayParts> {
        let events = events.lazy().with_column(col("ts").cast(DataType::Int64));
        let inbound = events
            .clone()
            .filter(col("event_type").eq(lit("message_in")))
            .select([
                col("business_id"),
                col("customer_key"),
                col("ts"),
                col("referral").fill_null(lit(false)),
            ])
            .collect()
            .ctx("reading inbound messages")?;
        let sent = events
            .clone()
            .filter(col("event_type").eq(lit("message_out")))
            .group_by([col("business_id"), col("message_id")])
            .agg([
                col("ts").min().alias("out_ts"),
                first_in_time("customer_key").alias("out_customer"),
                first_in_time("market").alias("out_market"),
                first_in_time("customer_country").alias("out_country"),
                first_in_time("message_type").alias("message_type"),
                first_in_time("template_category").alias("template_category"),
                first_in_time("sender").alias("sender"),
            ])
            .collect()
            .ctx("reading outbound messages")?;
        let statuses = events
            .filter(col("event_type").eq(lit("status")))
            .group_by([col("business_id"), col("message_id")])
            .agg([
                col("ts").min().alias("first_status"),
                col("ts")
                    .filter(col("status").eq(lit("sent")))
                    .min()
                    .alias("first_sent"),
                col("ts")
                    .filter(reported::is_delivery())
                    .min()
                    .alias("delivered_at"),
                col("ts")
                    .filter(
                        col("status")
                            .eq(lit("read"))
                            .or(col("status").eq(lit("played"))),
                    )
                    .min()
                    .alias("read_at"),
                col("ts")
                    .filter(col("status").eq(lit("failed")))
                    .min()
                    .alias("failed_at"),
                first_in_time("customer_key").alias("st_customer"),
                first_in_time("market").alias("st_market"),
                first_in_time("customer_country").alias("st_country"),
                first_in_time("reported_category").alias("reported_category"),
            ])
            .collect()
            .ctx("reading statuses")?;
        Ok(DayParts {
            inbound,
            sent,
            statuses,
        })
    }
}

/// The events of the dates around the one being built, each date's file read once.
#[derive(Default)]
struct EventWindow {
    days: BTreeMap<NaiveDate, DayParts>,
    /// Every date loaded so far: [`billing_activity`], for `billing_sources`.
    activity: BTreeMap<NaiveDate, DataFrame>,
}

impl EventWindow {
    /// Hold exactly the dates `[day − LOOKBACK_DAYS, day + LOOKAHEAD_DAYS]`.
    /// Each date's events are read once, when they enter the window, and handed to
    /// `loaded` too (the build driver passes them on to the stages after metering).
    fn advance(
        &mut self,
        lake: &Lake,
        day: NaiveDate,
        loaded: &mut dyn FnMut(NaiveDate, &DataFrame) -> Result<()>,
    ) -> Result<()> {
        let lo = day_before(day, LOOKBACK_DAYS);
        let hi = day_after(day, LOOKAHEAD_DAYS);
        self.days.retain(|d, _| *d >= lo && *d <= hi);
        let mut d = lo;
        while d <= hi {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.days.entry(d) {
                // Each stage's share of a date's load is timed as its own.
                let t = Instant::now();
                if let Some(df) = lake.read_date(&EVENTS, d, Some(&METERING_COLUMNS))? {
                    let parts = DayParts::of(df.clone())?;
                    crate::timing::add("load", t.elapsed());
                    loaded(d, &df)?;
                    let t = Instant::now();
                    let activity = billing_activity(df.lazy())
                        .collect()
                        .ctx(format!("summarising the events of {d}"))?;
                    self.activity.insert(d, activity);
                    crate::timing::add("billing_sources", t.elapsed());
                    slot.insert(parts);
                }
            }
            d = day_after(d, 1);
        }
        Ok(())
    }

    /// One part of every date of the window, stacked in date order.
    fn stacked(&self, part: impl Fn(&DayParts) -> &DataFrame) -> Result<LazyFrame> {
        let parts: Vec<LazyFrame> = self.days.values().map(|d| part(d).clone().lazy()).collect();
        concat(
            parts,
            UnionArgs {
                maintain_order: true,
                ..UnionArgs::default()
            },
        )
        .ctx("stacking the window's events")
    }
}

/// Every (business, customer) timeline of the window: inbound messages, and outbound
/// messages assembled from their `message_out` event and statuses.
/// Outbound messages are kept only where they matter to the day `[day_start, day_end)`:
/// delivered from its start on (charges of the day and the next), sent on it (its
/// `messages` rows), or to a customer who came from an ad in the window (their earlier
/// deliveries may open free-entry-point windows).
fn timelines(window: &EventWindow, day_start: i64, day_end: i64) -> Result<Vec<Timeline>> {
    if window.days.is_empty() {
        return Ok(Vec::new());
    }
    let (inbound, messages) = assemble(window, day_start, day_end)?;
    merge_into_timelines(&inbound, &messages)
}

/// The window's inbound messages and outbound messages (their `message_out` event and
/// statuses combined) that matter to the day, both sorted by (business, customer, time).
fn assemble(window: &EventWindow, day_start: i64, day_end: i64) -> Result<(DataFrame, DataFrame)> {
    let clock = Instant::now();
    let inbound_all = window.stacked(|d| &d.inbound)?;
    let referral_pairs = inbound_all
        .clone()
        .filter(col("referral").eq(lit(true)))
        .select([col("business_id"), col("customer_key")])
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(true).alias("from_ad"));
    let sent = window
        .stacked(|d| &d.sent)?
        .group_by([col("business_id"), col("message_id")])
        .agg([
            col("out_ts").min(),
            first_in_time("out_customer"),
            first_in_time("out_market"),
            first_in_time("out_country"),
            first_in_time("message_type"),
            first_in_time("template_category"),
            first_in_time("sender"),
        ]);
    let statuses = window
        .stacked(|d| &d.statuses)?
        .group_by([col("business_id"), col("message_id")])
        .agg([
            col("first_status").min(),
            col("first_sent").min(),
            col("delivered_at").min(),
            col("read_at").min(),
            col("failed_at").min(),
            first_in_time("st_customer"),
            first_in_time("st_market"),
            first_in_time("st_country"),
            first_in_time("reported_category"),
        ]);
    let has_out = col("out_ts").is_not_null();
    let messages = sent
        .join(
            statuses,
            [col("business_id"), col("message_id")],
            [col("business_id"), col("message_id")],
            JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
        )
        .filter(col("message_id").is_not_null())
        .select([
            col("business_id"),
            coalesce(&[col("out_customer"), col("st_customer")]).alias("customer_key"),
            col("message_id"),
            has_out.clone().alias("has_message_out"),
            when(has_out.clone())
                .then(col("message_type").eq(lit("template")))
                .otherwise(lit(NULL).cast(DataType::Boolean))
                .alias("is_template"),
            when(has_out.clone())
                .then(col("template_category"))
                .otherwise(col("reported_category"))
                .alias("category"),
            when(has_out)
                .then(col("sender"))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias("sender"),
            coalesce(&[col("out_market"), col("st_market")]).alias("market"),
            coalesce(&[col("out_country"), col("st_country")]).alias("country"),
            coalesce(&[col("out_ts"), col("first_sent"), col("first_status")]).alias("sent_at"),
            col("delivered_at"),
            col("read_at"),
            col("failed_at"),
        ])
        .filter(col("sent_at").is_not_null())
        .join(
            referral_pairs,
            [col("business_id"), col("customer_key")],
            [col("business_id"), col("customer_key")],
            JoinArgs::new(JoinType::Left),
        )
        .filter(
            col("delivered_at")
                .gt_eq(lit(day_start))
                .or(col("sent_at")
                    .gt_eq(lit(day_start))
                    .and(col("sent_at").lt(lit(day_end))))
                .or(col("from_ad").fill_null(lit(false))),
        )
        .sort(
            ["business_id", "customer_key", "sent_at", "message_id"],
            SortMultipleOptions::default(),
        )
        .collect()
        .ctx("assembling outbound messages")?;
    // Customer messages matter only to customers with a message above, and only from 24 h
    // before the day (customer-service windows) — or further back if from an ad.
    let pairs = messages
        .clone()
        .lazy()
        .select([col("business_id"), col("customer_key")])
        .unique(None, UniqueKeepStrategy::Any);
    let inbound = inbound_all
        .filter(
            col("ts")
                .gt_eq(lit(day_start - DAY_MICROS))
                .or(col("referral").eq(lit(true))),
        )
        .join(
            pairs,
            [col("business_id"), col("customer_key")],
            [col("business_id"), col("customer_key")],
            JoinArgs::new(JoinType::Inner),
        )
        .sort(
            ["business_id", "customer_key", "ts"],
            SortMultipleOptions::default(),
        )
        .collect()
        .ctx("loading inbound messages")?;
    crate::timing::add("assemble_group_by", clock.elapsed());
    Ok((inbound, messages))
}

/// One timeline per (business, customer) from the assembled frames. Both are sorted by
/// (business, customer), nulls first — the order of `(&str, Option<&str>)` — so each
/// timeline is a run of rows in each: merge them.
fn merge_into_timelines(inbound: &DataFrame, messages: &DataFrame) -> Result<Vec<Timeline>> {
    let (in_b, in_c, in_ts, in_ref) = (
        str_column(inbound, "business_id")?,
        str_column(inbound, "customer_key")?,
        i64_column(inbound, "ts")?,
        bool_column(inbound, "referral")?,
    );
    let m = messages;
    let (m_b, m_c, m_id, m_out, m_tpl, m_cat, m_sender, m_market, m_country) = (
        str_column(m, "business_id")?,
        str_column(m, "customer_key")?,
        str_column(m, "message_id")?,
        bool_column(m, "has_message_out")?,
        bool_column(m, "is_template")?,
        str_column(m, "category")?,
        str_column(m, "sender")?,
        str_column(m, "market")?,
        str_column(m, "country")?,
    );
    let (m_sent, m_delivered, m_read, m_failed) = (
        i64_column(m, "sent_at")?,
        i64_column(m, "delivered_at")?,
        i64_column(m, "read_at")?,
        i64_column(m, "failed_at")?,
    );
    let owned = |v: Option<&str>| v.map(str::to_string);
    let mut all: Vec<Timeline> = Vec::new();
    let (mut i, mut j) = (0usize, 0usize);
    let (ni, nj) = (inbound.height(), messages.height());
    while i < ni || j < nj {
        let key_in = (i < ni).then(|| (in_b.get(i).unwrap_or_default(), in_c.get(i)));
        let key_m = (j < nj).then(|| (m_b.get(j).unwrap_or_default(), m_c.get(j)));
        let key = match (key_in, key_m) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => break,
        };
        let mut timeline = Timeline {
            business_id: key.0.to_string(),
            customer_key: owned(key.1),
            ..Timeline::default()
        };
        while i < ni && (in_b.get(i).unwrap_or_default(), in_c.get(i)) == key {
            if let Some(ts) = in_ts.get(i) {
                timeline.inbound.push(Inbound {
                    ts,
                    referral: in_ref.get(i).unwrap_or(false),
                });
            }
            i += 1;
        }
        while j < nj && (m_b.get(j).unwrap_or_default(), m_c.get(j)) == key {
            timeline.outbound.push(Outbound {
                message_id: m_id.get(j).unwrap_or_default().to_string(),
                has_message_out: m_out.get(j).unwrap_or(false),
                is_template: m_tpl.get(j),
                category: owned(m_cat.get(j)),
                sender: owned(m_sender.get(j)),
                market: owned(m_market.get(j)),
                country: owned(m_country.get(j)),
                sent_at: m_sent.get(j).unwrap_or_default(),
                delivered_at: m_delivered.get(j),
                read_at: m_read.get(j),
                failed_at: m_failed.get(j),
            });
            j += 1;
        }
        all.push(timeline);
    }
    Ok(all)
}

/// Conversations of the `conversations` partition of `date`, if it was built.
fn read_conversations(lake: &Lake, date: NaiveDate) -> Result<Vec<(Conversation, NaiveDate)>> {
    let Some(df) = lake.read_date(&CONVERSATIONS, date, None)? else {
        return Ok(Vec::new());
    };
    let b = str_values(&df, "business_id")?;
    let id = str_values(&df, "conversation_id")?;
    let c = str_values(&df, "customer_key")?;
    let m = str_values(&df, "market")?;
    let cat = str_values(&df, "category")?;
    let opened = i64_values(&df, "opened_at")?;
    let expires = i64_values(&df, "expires_at")?;
    let pt = str_values(&df, "pricing_type")?;
    let billing_date = df
        .column("billing_date")
        .ctx("conversations")?
        .cast(&DataType::Int32)
        .ctx("conversations")?;
    let billing_date: Vec<Option<i32>> = billing_date.i32().ctx("conversations")?.iter().collect();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        out.push((
            Conversation {
                business_id: b[i].clone().unwrap_or_default(),
                conversation_id: id[i].clone().unwrap_or_default(),
                customer_key: c[i].clone(),
                market: m[i].clone(),
                category: cat[i].clone().unwrap_or_default(),
                opened_at: opened[i].unwrap_or_default(),
                expires_at: expires[i].unwrap_or_default(),
                pricing_type: pricing_type_label(pt[i].as_deref()),
            },
            epoch + chrono::Duration::days(billing_date[i].unwrap_or_default() as i64),
        ));
    }
    Ok(out)
}

fn pricing_type_label(t: Option<&str>) -> &'static str {
    use timeline::{FREE_CUSTOMER_SERVICE, FREE_ENTRY_POINT};
    match t {
        Some(FREE_CUSTOMER_SERVICE) => FREE_CUSTOMER_SERVICE,
        Some(FREE_ENTRY_POINT) => FREE_ENTRY_POINT,
        Some(FREE_TIER) => FREE_TIER,
        _ => REGULAR,
    }
}

fn account<'a>(
    account_of: &'a mut HashMap<String, Account>,
    accounts: &Accounts,
    business: &str,
) -> &'a Account {
    account_of
        .entry(business.to_string())
        .or_insert_with(|| accounts.get(business).into_owned())
}

#[allow(clippy::too_many_arguments)]
fn build_day(
    lake: &Lake,
    pricing: &Pricing<'_>,
    day: NaiveDate,
    window: &EventWindow,
    reported: Vec<reported::ReportedUnit>,
    account_of: &mut HashMap<String, Account>,
    accounts: &Accounts,
    summary: &mut BuildSummary,
) -> Result<()> {
    let t = Instant::now();
    let day_start = start_of(day);
    let day_end = start_of(day_after(day, 1));
    // Deliveries of the day after are priced too (with the same state they will have when
    // that day is built) so that messages sent today carry their pricing decision.
    let span = (day_start, start_of(day_after(day, 1 + LOOKAHEAD_DAYS)));
    let timelines = timelines(window, day_start, day_end)?;
    crate::timing::add("assemble", t.elapsed());

    // State chained from the day before: open conversations, and the allowance used.
    let t = Instant::now();
    let open_at_start = open_at_start(lake, day)?;
    let mut allowance_used = allowance_used(lake, pricing, day)?;
    for t in &timelines {
        account(account_of, accounts, &t.business_id);
    }
    for u in &reported {
        account(account_of, accounts, &u.business_id);
    }
    crate::timing::add("state", t.elapsed());

    let t = Instant::now();
    let account_of: &HashMap<String, Account> = account_of;
    let no_open = Vec::new();
    let priced: Vec<derived::TimelinePricing> = timelines
        .par_iter()
        .map(|tl| {
            let ctx = PricingContext {
                rules: pricing.rules,
                rates: pricing.rates,
                account: &account_of[&tl.business_id],
            };
            let open = open_at_start
                .get(&(tl.business_id.clone(), tl.customer_key.clone()))
                .unwrap_or(&no_open);
            price_timeline(tl, &ctx, open, span)
        })
        .collect();
    crate::timing::add("derive", t.elapsed());

    let mut conversations: Vec<Conversation> = priced
        .iter()
        .flat_map(|p| p.conversations.iter().cloned())
        .collect();
    let free_tier = assign_free_tier(&mut conversations, account_of, pricing, &mut allowance_used);

    // Usage of the day: PMP deliveries and CBP openings on it, and reported units.
    let mut counter = UsageCounter::new(account_of);
    let mut add = |business, at, market, category, model, pricing_type, source, billable| {
        counter.add(
            business,
            at,
            market,
            category,
            model,
            pricing_type,
            source,
            billable,
        )
    };
    for c in &conversations {
        if c.opened_at >= day_start && c.opened_at < day_end {
            add(
                &c.business_id,
                c.opened_at,
                c.market.as_deref().unwrap_or(UNKNOWN_MARKET),
                &c.category,
                CBP,
                c.pricing_type,
                DERIVED,
                c.pricing_type == REGULAR,
            );
        }
    }
    let mut messages_rows: Vec<(&Timeline, &Outbound, Option<MessagePricing>)> = Vec::new();
    for (tl, p) in timelines.iter().zip(&priced) {
        let mut decisions: HashMap<&str, &MessagePricing> = p
            .messages
            .iter()
            .map(|m| (m.message_id.as_str(), m))
            .collect();
        for m in &tl.outbound {
            let found = decisions.remove(m.message_id.as_str());
            if let Some(d) = found {
                if d.delivered_at >= day_start && d.delivered_at < day_end {
                    summary.delivered += 1;
                    // CBP charges are conversations (counted above); PMP ones messages.
                    match (d.model, d.pricing_type) {
                        (Some(PMP), Some(t)) => add(
                            &tl.business_id,
                            d.delivered_at,
                            m.market.as_deref().unwrap_or(UNKNOWN_MARKET),
                            d.category.as_deref().unwrap_or("unknown"),
                            PMP,
                            t,
                            DERIVED,
                            t == REGULAR,
                        ),
                        (_, None) => summary.unmetered_deliveries += 1,
                        _ => {}
                    }
                }
            }
            if m.sent_at < day_start || m.sent_at >= day_end {
                continue;
            }
            let decision = found.cloned().map(|mut d| {
                if d.conversation_id
                    .as_ref()
                    .is_some_and(|id| free_tier.contains(id))
                {
                    d.pricing_type = Some(FREE_TIER);
                    d.billable = Some(false);
                }
                d
            });
            messages_rows.push((tl, m, decision));
        }
    }
    for u in &reported {
        add(
            &u.business_id,
            u.delivered_at,
            &u.market,
            &u.category,
            u.model,
            &u.pricing_type,
            REPORTED,
            u.billable,
        );
    }
    let usage_of_day = counter.into_usage();
    crate::timing::add("usage", t.elapsed());

    write_day(
        lake,
        day,
        messages_rows,
        &conversations,
        &usage_of_day,
        account_of,
        summary,
    )
}

/// Conversations per (business, customer key).
type OpenConversations = HashMap<(String, Option<String>), Vec<Conversation>>;

/// The CBP conversations open at the start of `day` (free-entry-point ones aside), per
/// business and customer, by opening time: read from `conversations` of the day before.
fn open_at_start(lake: &Lake, day: NaiveDate) -> Result<OpenConversations> {
    let day_start = start_of(day);
    let mut open_at_start = OpenConversations::new();
    for (c, _) in read_conversations(lake, day_before(day, 1))? {
        if c.expires_at > day_start && c.pricing_type != timeline::FREE_ENTRY_POINT {
            open_at_start
                .entry((c.business_id.clone(), c.customer_key.clone()))
                .or_default()
                .push(c);
        }
    }
    for list in open_at_start.values_mut() {
        list.sort_by(|a, b| {
            (a.opened_at, &a.conversation_id).cmp(&(b.opened_at, &b.conversation_id))
        });
    }
    Ok(open_at_start)
}

/// The month's free allowance used before `day`, per business and billing month: counted
/// from `conversations` of the earlier days of the month, where an allowance is in force.
fn allowance_used(
    lake: &Lake,
    pricing: &Pricing<'_>,
    day: NaiveDate,
) -> Result<HashMap<(String, String), u64>> {
    // The month's allowance chains from earlier days only where a period around the day
    // (billing time zones, and the next day priced ahead) has one.
    let allowance_in_force = [day_before(day, 1), day, day_after(day, 2)]
        .into_iter()
        .filter_map(|d| pricing.rules.period_on(d))
        .any(|p| p.free_tier_conversations > 0);
    let mut allowance_used: HashMap<(String, String), u64> = HashMap::new();
    if allowance_in_force {
        // Conversations earlier in the billing month: the UTC dates from two days before
        // the first day of yesterday's month (so that on the 1st, accounts west of UTC
        // still count the whole local month that is ending) to yesterday.
        let month_start = day_before(day, 1)
            .with_day0(0)
            .map(|d| day_before(d, 2))
            .unwrap_or(day);
        let mut d = month_start;
        while d < day {
            for (c, billing_date) in read_conversations(lake, d)? {
                let Some(period) = pricing.rules.period_on(billing_date) else {
                    continue;
                };
                if (c.pricing_type == REGULAR || c.pricing_type == FREE_TIER)
                    && period.draws_on_free_tier(&c.category)
                {
                    *allowance_used
                        .entry((c.business_id.clone(), billing_month(billing_date)))
                        .or_default() += 1;
                }
            }
            d = day_after(d, 1);
        }
    }
    Ok(allowance_used)
}

/// The free tier (billing.md §4): the month's free allowance goes to the business's first
/// conversations by opening time (ties: conversation id), across all its customers. Sorts
/// `conversations` into that order, marks the free ones, and returns their ids.
fn assign_free_tier(
    conversations: &mut [Conversation],
    account_of: &HashMap<String, Account>,
    pricing: &Pricing<'_>,
    allowance_used: &mut HashMap<(String, String), u64>,
) -> BTreeSet<String> {
    conversations.sort_by(|a, b| {
        (&a.business_id, a.opened_at, &a.conversation_id).cmp(&(
            &b.business_id,
            b.opened_at,
            &b.conversation_id,
        ))
    });
    let mut free_tier: BTreeSet<String> = BTreeSet::new();
    for c in conversations.iter_mut() {
        let a = &account_of[&c.business_id];
        let billing_date = local_date(a, c.opened_at);
        let Some(period) = pricing.rules.period_on(billing_date) else {
            continue;
        };
        if c.pricing_type != REGULAR || !period.draws_on_free_tier(&c.category) {
            continue;
        }
        let used = allowance_used
            .entry((c.business_id.clone(), billing_month(billing_date)))
            .or_default();
        *used += 1;
        if *used <= period.free_tier_conversations {
            c.pricing_type = FREE_TIER;
            free_tier.insert(c.conversation_id.clone());
        }
    }
    free_tier
}

/// Write the day's partitions of `messages`, `conversations`, `usage_daily` and
/// `reconciliation` (every table, even empty: the date reads as built), and count them.
fn write_day(
    lake: &Lake,
    day: NaiveDate,
    mut messages_rows: Vec<(&Timeline, &Outbound, Option<MessagePricing>)>,
    conversations: &[Conversation],
    usage_of_day: &Usage,
    account_of: &HashMap<String, Account>,
    summary: &mut BuildSummary,
) -> Result<()> {
    let t = Instant::now();
    let (day_start, day_end) = (start_of(day), start_of(day_after(day, 1)));
    messages_rows.sort_by(|a, b| {
        (&a.0.business_id, a.1.sent_at, &a.1.message_id).cmp(&(
            &b.0.business_id,
            b.1.sent_at,
            &b.1.message_id,
        ))
    });
    let mut messages = messages_frame(&messages_rows, account_of)?;
    let days_conversations: Vec<&Conversation> = conversations
        .iter()
        .filter(|c| c.opened_at >= day_start && c.opened_at < day_end)
        .collect();
    let mut conversations_df = conversations_frame(&days_conversations, account_of)?;
    let mut usage_df = usage::usage_frame(usage_of_day)?;
    let mut reconciliation = usage::reconciliation_frame(usage_of_day)?;
    summary.messages += messages.height() as u64;
    summary.conversations += conversations_df.height() as u64;
    summary.usage_rows += usage_df.height() as u64;
    summary.reconciliation_rows += reconciliation.height() as u64;
    for (k, u) in usage_of_day {
        if k.billable {
            match k.source {
                DERIVED => summary.derived_billable_units += u,
                _ => summary.reported_billable_units += u,
            }
        }
    }
    for (table, df) in [
        (&MESSAGES, &mut messages),
        (&CONVERSATIONS, &mut conversations_df),
        (&USAGE_DAILY, &mut usage_df),
        (&RECONCILIATION, &mut reconciliation),
    ] {
        if df.height() == 0 {
            *df = empty_frame(table);
        }
        lake::write_table_file(&lake.date_partition_file(table, day), df)?;
    }
    crate::timing::add("write", t.elapsed());
    Ok(())
}

/// Charges counted under borrowed keys (one hash per charge), turned into owned
/// `usage_daily` keys once at the end.
struct UsageCounter<'a> {
    account_of: &'a HashMap<String, Account>,
    counted: HashMap<CountedKey<'a>, i64>,
    local_dates: HashMap<(&'a str, i64), NaiveDate>,
}

type CountedKey<'a> = (
    &'a str,
    NaiveDate,
    &'a str,
    &'a str,
    &'static str,
    &'a str,
    &'static str,
    bool,
);

impl<'a> UsageCounter<'a> {
    fn new(account_of: &'a HashMap<String, Account>) -> Self {
        UsageCounter {
            account_of,
            counted: HashMap::new(),
            local_dates: HashMap::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        business: &'a str,
        at: i64,
        market: &'a str,
        category: &'a str,
        model: &'static str,
        pricing_type: &'a str,
        source: &'static str,
        billable: bool,
    ) {
        // UTC offsets change only on quarter-hour boundaries: one zone lookup per quarter.
        let account_of = self.account_of;
        let billing_date = *self
            .local_dates
            .entry((business, at.div_euclid(QUARTER_HOUR_MICROS)))
            .or_insert_with(|| local_date(&account_of[business], at));
        *self
            .counted
            .entry((
                business,
                billing_date,
                market,
                category,
                model,
                pricing_type,
                source,
                billable,
            ))
            .or_default() += 1;
    }

    fn into_usage(self) -> Usage {
        self.counted
            .into_iter()
            .map(
                |(
                    (
                        business,
                        billing_date,
                        market,
                        category,
                        model,
                        pricing_type,
                        source,
                        billable,
                    ),
                    n,
                )| {
                    let key = UsageKey {
                        business_id: business.to_string(),
                        billing_date,
                        market: market.to_string(),
                        category: category.to_string(),
                        model,
                        pricing_type: pricing_type.to_string(),
                        source,
                        billable,
                    };
                    (key, n)
                },
            )
            .collect()
    }
}

fn messages_frame(
    rows: &[(&Timeline, &Outbound, Option<MessagePricing>)],
    account_of: &HashMap<String, Account>,
) -> Result<DataFrame> {
    let r = || rows.iter();
    let billing_dates: Vec<Option<NaiveDate>> = r()
        .map(|(tl, _, d)| {
            d.as_ref()
                .map(|d| local_date(&account_of[&tl.business_id], d.delivered_at))
        })
        .collect();
    table_frame(
        &MESSAGES,
        rows.len(),
        vec![
            text(
                "business_id",
                r().map(|(t, _, _)| Some(t.business_id.as_str())),
            ),
            text(
                "message_id",
                r().map(|(_, m, _)| Some(m.message_id.as_str())),
            ),
            text(
                "customer_key",
                r().map(|(t, _, _)| t.customer_key.as_deref()),
            ),
            text("market", r().map(|(_, m, _)| m.market.as_deref())),
            text(
                "customer_country",
                r().map(|(_, m, _)| m.country.as_deref()),
            ),
            text(
                "category",
                r().map(|(_, m, d)| match d {
                    Some(d) if d.pricing_type.is_some() => d.category.as_deref(),
                    _ if m.is_template == Some(false) => Some(timeline::SERVICE),
                    _ => m.category.as_deref(),
                }),
            ),
            bools(
                "is_template",
                r().map(|(_, m, d)| d.as_ref().and_then(|d| d.is_template).or(m.is_template)),
            ),
            text("sender", r().map(|(_, m, _)| m.sender.as_deref())),
            text(
                "known_from",
                r().map(|(_, m, _)| {
                    Some(if m.has_message_out {
                        "message_out"
                    } else {
                        "statuses"
                    })
                }),
            ),
            timestamps("sent_at", r().map(|(_, m, _)| Some(m.sent_at))),
            timestamps("delivered_at", r().map(|(_, m, _)| m.delivered_at)),
            timestamps("read_at", r().map(|(_, m, _)| m.read_at)),
            timestamps("failed_at", r().map(|(_, m, _)| m.failed_at)),
            dates("billing_date", billing_dates.iter().copied()),
            text(
                "pricing_model",
                r().map(|(_, _, d)| d.as_ref().and_then(|d| d.model)),
            ),
            text(
                "pricing_type",
                r().map(|(_, _, d)| d.as_ref().and_then(|d| d.pricing_type)),
            ),
            bools(
                "billable",
                r().map(|(_, _, d)| d.as_ref().and_then(|d| d.billable)),
            ),
            text(
                "conversation_id",
                r().map(|(_, _, d)| d.as_ref().and_then(|d| d.conversation_id.as_deref())),
            ),
        ],
    )
}

fn conversations_frame(
    rows: &[&Conversation],
    account_of: &HashMap<String, Account>,
) -> Result<DataFrame> {
    let r = || rows.iter();
    let billing_dates: Vec<NaiveDate> = r()
        .map(|c| local_date(&account_of[&c.business_id], c.opened_at))
        .collect();
    let months: Vec<String> = billing_dates.iter().map(|d| billing_month(*d)).collect();
    table_frame(
        &CONVERSATIONS,
        rows.len(),
        vec![
            text("business_id", r().map(|c| Some(c.business_id.as_str()))),
            text(
                "conversation_id",
                r().map(|c| Some(c.conversation_id.as_str())),
            ),
            text("customer_key", r().map(|c| c.customer_key.as_deref())),
            text("market", r().map(|c| c.market.as_deref())),
            text("category", r().map(|c| Some(c.category.as_str()))),
            timestamps("opened_at", r().map(|c| Some(c.opened_at))),
            timestamps("expires_at", r().map(|c| Some(c.expires_at))),
            dates("billing_date", billing_dates.iter().map(|d| Some(*d))),
            text("billing_month", months.iter().map(|m| Some(m.as_str()))),
            text("pricing_type", r().map(|c| Some(c.pricing_type))),
            bools("billable", r().map(|c| Some(c.pricing_type == REGULAR))),
        ],
    )
}

/// `billing_sources` for every billing month the built dates touch: per business with
/// events in the month, whether a status carried a pricing object, and the billed source.
/// Per business and UTC day: the first and last event, and the first and last event with
/// a pricing object (what `billing_sources` decides from).
fn billing_activity(events: LazyFrame) -> LazyFrame {
    events
        .group_by([
            col("business_id"),
            col("ts")
                .cast(DataType::Int64)
                .floor_div(lit(DAY_MICROS))
                .alias("day"),
        ])
        .agg([
            col("ts").cast(DataType::Int64).min().alias("first"),
            col("ts").cast(DataType::Int64).max().alias("last"),
            col("ts")
                .filter(col("reported_pricing_model").is_not_null())
                .cast(DataType::Int64)
                .min()
                .alias("first_priced"),
            col("ts")
                .filter(col("reported_pricing_model").is_not_null())
                .cast(DataType::Int64)
                .max()
                .alias("last_priced"),
        ])
}

fn write_billing_sources(
    lake: &Lake,
    choice: SourceChoice,
    dates: &[NaiveDate],
    accounts: &Accounts,
    mut activity: BTreeMap<NaiveDate, DataFrame>,
) -> Result<Vec<String>> {
    let mut months: BTreeSet<NaiveDate> = BTreeSet::new();
    for d in dates {
        for near in [day_before(*d, 1), *d, day_after(*d, 1)] {
            months.insert(near.with_day(1).expect("day 1 exists"));
        }
    }
    let mut written = Vec::new();
    for month in months {
        let next = month
            .checked_add_months(chrono::Months::new(1))
            .expect("date in range");
        // UTC dates that can hold instants of this local month, in any time zone: each
        // summarised once, from the window when it was loaded, else read here.
        let mut parts = Vec::new();
        let mut d = day_before(month, 1);
        while d <= next {
            if let std::collections::btree_map::Entry::Vacant(slot) = activity.entry(d) {
                let columns = ["business_id", "ts", "reported_pricing_model"];
                if let Some(events) = lake.read_date(&EVENTS, d, Some(&columns))? {
                    let summary = billing_activity(events.lazy())
                        .collect()
                        .ctx(format!("summarising the events of {d}"))?;
                    slot.insert(summary);
                }
            }
            if let Some(a) = activity.get(&d) {
                parts.push(a.clone().lazy());
            }
            d = day_after(d, 1);
        }
        if parts.is_empty() {
            parts.push(billing_activity(empty_frame(&EVENTS).lazy()));
        }
        // A UTC day lies in one date file, so the summaries need no second aggregation.
        let events = concat(parts, UnionArgs::default())
            .and_then(LazyFrame::collect)
            .ctx(format!("summarising events of {}", billing_month(month)))?;
        let b = str_values(&events, "business_id")?;
        let first = i64_values(&events, "first")?;
        let last = i64_values(&events, "last")?;
        let first_priced = i64_values(&events, "first_priced")?;
        let last_priced = i64_values(&events, "last_priced")?;
        let label = billing_month(month);
        // business → pricing objects seen in this month
        let mut seen: BTreeMap<String, bool> = BTreeMap::new();
        for i in 0..events.height() {
            let Some(business) = &b[i] else { continue };
            let a = accounts.get(business);
            let in_month =
                |t: Option<i64>| t.is_some_and(|t| billing_month(local_date(&a, t)) == label);
            // min and max are real instants: each names a month that certainly has one.
            if in_month(first[i]) || in_month(last[i]) {
                seen.entry(business.clone()).or_insert(false);
            }
            if in_month(first_priced[i]) || in_month(last_priced[i]) {
                seen.insert(business.clone(), true);
            }
        }
        let rows: Vec<BilledSource> = seen
            .into_iter()
            .map(|(business_id, pricing_objects_seen)| BilledSource {
                source: choice.billed(pricing_objects_seen),
                business_id,
                billing_month: label.clone(),
                choice,
                pricing_objects_seen,
            })
            .collect();
        let mut df = usage::billing_sources_frame(&rows)?;
        if df.height() == 0 {
            df = empty_frame(&BILLING_SOURCES);
        }
        lake::write_table_file(
            &lake.month_partition_file(&BILLING_SOURCES, &label),
            &mut df,
        )?;
        written.push(label);
    }
    Ok(written)
}
