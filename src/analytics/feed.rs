//! What the analytics take from each date's `events`, handed over by metering as it loads
//! the date (so a build reads every events file once), or read by the analytics for dates
//! metering does not load (after the built range, where late replies and statuses live,
//! and before it).
//!
//! A date from the day before the first date built on gives three things:
//! - its *happenings*: every customer message, reaction, template and reply as a 16-byte
//!   [`Row`], the (business, customer) interned to one integer key — the reply-wait
//!   clock's input;
//! - its case events, as rows;
//! - its message counts per business and sender (for `business_daily`).
//!
//! An earlier date gives its case events (for the backlog) and, per business and customer,
//! the latest customer message and the latest reply: who was owed a reply when the build
//! starts.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::lake::columns::{empty_frame, i64_column, str_column};
use crate::schema::EVENTS;

/// The `events` columns the feed reads.
pub(crate) const FEED_COLUMNS: [&str; 13] = [
    "event_key",
    "event_type",
    "ts",
    "business_id",
    "customer_key",
    "message_type",
    "sender",
    "reported_category",
    "case_id",
    "case_kind",
    "case_category",
    "case_status",
    "rating",
];

/// The event types of a case's life (opening, statuses, ratings).
const CASE_EVENT_TYPES: [&str; 3] = ["case_opened", "case_status", "case_rating"];

/// The columns of a case event row, in the order case clocks read them.
pub(crate) const CASE_EVENT_COLUMNS: [&str; 10] = [
    "business_id",
    "case_id",
    "event_type",
    "ts",
    "customer_key",
    "case_kind",
    "case_category",
    "case_status",
    "rating",
    "event_key",
];

/// The kind code of an event in a customer's timeline, `None` for events that are not
/// one: 0 customer message, 1 reaction, 2 template or notification, 3 agent reply
/// (`message_out`), 4 bot reply, 5 a reply known only through its webhook status (an
/// agent's, but not a case's agent message).
pub(crate) fn kind_of_event(
    event_type: Option<&str>,
    message_type: Option<&str>,
    sender: Option<&str>,
    event_key: Option<&str>,
    reported_category: Option<&str>,
) -> Option<u8> {
    match event_type? {
        "message_in" if message_type == Some("reaction") => Some(1),
        "message_in" => Some(0),
        "message_out" if message_type == Some("template") || sender == Some("system") => Some(2),
        "message_out" if sender == Some("bot") => Some(4),
        "message_out" => Some(3),
        // A webhook status (key `business|status|message|sent`) of a message known only
        // through its statuses: a `service` one was a free-form reply, anything else a
        // template.
        "status" if event_key.is_some_and(|k| k.ends_with("|sent")) => {
            Some(if reported_category == Some("service") {
                5
            } else {
                2
            })
        }
        _ => None,
    }
}

/// `business_daily`'s message counts of one business and date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MessageCounts {
    pub messages_in: i64,
    pub out_agent: i64,
    pub out_bot: i64,
    pub out_system: i64,
}

/// The kind code of an agent's `message_out` (the messages case clocks count).
pub(crate) const AGENT_MESSAGE: u8 = 3;

/// One message in a customer's timeline: `key` numbers the (business, customer) pair.
/// 16 bytes: a build holds one per message of the lake's dates it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub key: u32,
    pub kind: u8,
    pub ts: i64,
}

impl Row {
    /// Timeline order: by customer, time, then the customer's side first within an
    /// instant (metrics.md, Edge cases), then kind code.
    pub fn order(&self) -> (u32, i64, u8, u8) {
        (self.key, self.ts, (self.kind >= 2) as u8, self.kind)
    }
}

/// Strings numbered in order of first sight.
#[derive(Default)]
pub(crate) struct Interner {
    index: HashMap<String, u32, foldhash::fast::FixedState>,
    names: Vec<String>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
}

/// Everything the analytics need of the lake's events, date by date.
pub struct Feed {
    /// Happenings are taken from this date on (the day before the first date built:
    /// earlier dates only decide who was owed a reply, read apart).
    happenings_from: NaiveDate,
    businesses: Interner,
    customers: Interner,
    /// (business index << 32 | customer index) → pair key, and back.
    pairs: HashMap<u64, u32, foldhash::fast::FixedState>,
    pair_names: Vec<u64>,
    /// Each date's rows, as taken ([`Feed::timelines`] joins them).
    days: Vec<Vec<Row>>,
    case_events: Vec<DataFrame>,
    /// Per date and business.
    pub(crate) message_counts: BTreeMap<NaiveDate, BTreeMap<String, MessageCounts>>,
    /// Per pair, over the dates before `happenings_from`: the latest customer message
    /// and the latest reply (who was owed a reply when the build starts).
    latest_before: HashMap<u32, (Option<i64>, Option<i64>), foldhash::fast::FixedState>,
    pub(crate) dates: Vec<NaiveDate>,
}

impl Feed {
    pub fn new(happenings_from: NaiveDate) -> Feed {
        Feed {
            happenings_from,
            businesses: Interner::default(),
            customers: Interner::default(),
            pairs: HashMap::default(),
            pair_names: Vec::new(),
            days: Vec::new(),
            case_events: Vec::new(),
            message_counts: BTreeMap::new(),
            latest_before: HashMap::default(),
            dates: Vec::new(),
        }
    }

    /// The pair key of (business, customer), if the feed saw a message between them.
    pub(crate) fn key(&self, business: &str, customer: &str) -> Option<u32> {
        let pair =
            (self.businesses.get(business)? as u64) << 32 | self.customers.get(customer)? as u64;
        self.pairs.get(&pair).copied()
    }

    pub(crate) fn business_of(&self, key: u32) -> &str {
        self.businesses
            .name((self.pair_names[key as usize] >> 32) as u32)
    }

    pub(crate) fn customer_of(&self, key: u32) -> &str {
        self.customers.name(self.pair_names[key as usize] as u32)
    }

    /// Every row taken, in timeline order ([`Row::order`]): each pair's rows together.
    pub(crate) fn timelines(&mut self) -> Vec<Row> {
        let mut rows = Vec::with_capacity(self.days.iter().map(Vec::len).sum());
        for day in std::mem::take(&mut self.days) {
            rows.extend(day);
        }
        rows.par_sort_unstable_by_key(Row::order);
        rows
    }

    /// Every case event taken, unordered (an empty frame of the case columns if none).
    pub(crate) fn take_case_events(&mut self) -> Result<DataFrame> {
        let mut parts: Vec<LazyFrame> = std::mem::take(&mut self.case_events)
            .into_iter()
            .map(DataFrame::lazy)
            .collect();
        if parts.is_empty() {
            parts.push(case_rows(empty_frame(&EVENTS).lazy()));
        }
        concat(parts, UnionArgs::default())
            .and_then(LazyFrame::collect)
            .ctx("stacking case events")
    }

    /// The pairs owed a reply when `happenings_from` starts, and since when: their latest
    /// customer message before it came after their latest reply.
    pub(crate) fn owed_since(&self) -> HashMap<u32, i64> {
        self.latest_before
            .iter()
            .filter_map(|(&key, &(customer, reply))| {
                let customer = customer?;
                reply
                    .is_none_or(|r| customer > r)
                    .then_some((key, customer))
            })
            .collect()
    }

    fn pair_key(&mut self, business: u32, customer: &str) -> u32 {
        let pair = (business as u64) << 32 | self.customers.intern(customer) as u64;
        let next = self.pair_names.len() as u32;
        let key = *self.pairs.entry(pair).or_insert(next);
        if key == next {
            self.pair_names.push(pair);
        }
        key
    }

    /// Take what the analytics need of `date`'s events (with at least [`FEED_COLUMNS`]).
    /// Each date once, in any order.
    pub fn add(&mut self, date: NaiveDate, events: &DataFrame) -> Result<()> {
        self.dates.push(date);
        let before = date < self.happenings_from;
        let mut rows = Vec::new();
        let mut counts: BTreeMap<String, MessageCounts> = BTreeMap::new();
        let mut has_cases = false;
        // Chunk by chunk (the columns of one Parquet file share their row groups): no
        // copy into one contiguous array.
        let mut columns = events
            .select([
                "event_type",
                "message_type",
                "sender",
                "event_key",
                "reported_category",
                "business_id",
                "customer_key",
                "ts",
            ])
            .ctx(format!("reading the events of {date}"))?;
        for chunk in columns.split_chunks() {
            // Arrow arrays, read by position.
            let (event_type, message_type, sender, event_key, category, business, customer) = (
                str_column(&chunk, "event_type")?,
                str_column(&chunk, "message_type")?,
                str_column(&chunk, "sender")?,
                str_column(&chunk, "event_key")?,
                str_column(&chunk, "reported_category")?,
                str_column(&chunk, "business_id")?,
                str_column(&chunk, "customer_key")?,
            );
            let ts = i64_column(&chunk, "ts")?;
            let (event_type, message_type, sender, event_key, category, business, customer, ts) = (
                event_type.downcast_as_array(),
                message_type.downcast_as_array(),
                sender.downcast_as_array(),
                event_key.downcast_as_array(),
                category.downcast_as_array(),
                business.downcast_as_array(),
                customer.downcast_as_array(),
                ts.downcast_as_array(),
            );
            // Rows come sorted by business: one business lookup per run of them.
            let mut last_business: Option<(&str, u32, MessageCounts)> = None;
            for i in 0..chunk.height() {
                let et = event_type.get(i);
                // Only the columns the event's type needs are looked at.
                let kind = match et {
                    Some("message_in" | "message_out") => {
                        kind_of_event(et, message_type.get(i), sender.get(i), None, None)
                    }
                    Some("status") => {
                        kind_of_event(et, None, None, event_key.get(i), category.get(i))
                    }
                    Some(e) => {
                        has_cases |= CASE_EVENT_TYPES.contains(&e);
                        None
                    }
                    None => None,
                };
                let Some(kind) = kind else {
                    continue;
                };
                let b = business.get(i).unwrap_or_default();
                if !matches!(last_business, Some((name, ..)) if name == b) {
                    if let Some((name, _, c)) = last_business.take() {
                        merge_counts(&mut counts, name, c);
                    }
                    last_business = Some((b, self.businesses.intern(b), MessageCounts::default()));
                }
                let Some((_, bi, c)) = last_business.as_mut() else {
                    continue;
                };
                match (et, sender.get(i)) {
                    (Some("message_in"), _) => c.messages_in += 1,
                    (Some("message_out"), Some("bot")) => c.out_bot += 1,
                    (Some("message_out"), Some("system")) => c.out_system += 1,
                    (Some("message_out"), _) => c.out_agent += 1,
                    _ => {}
                }
                let (Some(cust), Some(t)) = (customer.get(i), ts.get(i)) else {
                    continue;
                };
                let bi = *bi;
                let key = self.pair_key(bi, cust);
                if before {
                    let latest = self.latest_before.entry(key).or_default();
                    match kind {
                        0 => latest.0 = latest.0.max(Some(t)),
                        3.. => latest.1 = latest.1.max(Some(t)),
                        _ => {}
                    }
                } else {
                    rows.push(Row { key, ts: t, kind });
                }
            }
            if let Some((name, _, c)) = last_business {
                merge_counts(&mut counts, name, c);
            }
        }
        if !before {
            self.days.push(rows);
            self.message_counts.insert(date, counts);
        }
        if has_cases {
            let _clock = crate::timing::Stage::start("analytics_feed_cases");
            let cases = case_rows(events.clone().lazy())
                .collect()
                .ctx(format!("reading the case events of {date}"))?;
            self.case_events.push(cases);
        }
        Ok(())
    }
}

/// The case events among `events`, as [`CASE_EVENT_COLUMNS`].
fn case_rows(events: LazyFrame) -> LazyFrame {
    let is_case_event = CASE_EVENT_TYPES
        .iter()
        .fold(lit(false), |any, t| any.or(col("event_type").eq(lit(*t))));
    events.filter(is_case_event).select(
        CASE_EVENT_COLUMNS
            .iter()
            .map(|c| match *c {
                "ts" | "rating" => col(*c).cast(DataType::Int64),
                _ => col(*c),
            })
            .collect::<Vec<_>>(),
    )
}

fn merge_counts(counts: &mut BTreeMap<String, MessageCounts>, business: &str, c: MessageCounts) {
    if c == MessageCounts::default() {
        return;
    }
    let total = counts.entry(business.to_string()).or_default();
    total.messages_in += c.messages_in;
    total.out_agent += c.out_agent;
    total.out_bot += c.out_bot;
    total.out_system += c.out_system;
}
