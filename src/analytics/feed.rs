//! What the analytics take from each date's `events`, handed over by metering as it loads
//! the date (so a build reads every events file once), or read here for dates metering
//! does not load (after the built range, where late replies and statuses live).
//!
//! A date gives three things:
//! - its *happenings*: every customer message, reaction, template and reply, with the
//!   (business, customer) interned to one integer key — the reply-wait clock's input;
//! - its case events, as rows;
//! - its message counts per business, event type and sender (for `business_daily`).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::lake::columns::{i64_column, str_column};

/// The `events` columns the feed reads.
pub(crate) const FEED_COLUMNS: [&str; 14] = [
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
    "status",
];

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

/// Kind codes computed in polars: 0 customer message, 1 reaction, 2 template or
/// notification, 3 agent reply (message_out), 4 bot reply, 5 a reply known only through
/// its webhook status (an agent's, but not a case's agent message).
pub(crate) fn kind_code() -> Expr {
    let is_in = col("event_type").eq(lit("message_in"));
    let is_out = col("event_type").eq(lit("message_out"));
    // A webhook status (key `business|status|message|sent`) of a message known only
    // through its statuses: a `service` one was a free-form reply, anything else a template.
    let webhook_sent = col("event_type")
        .eq(lit("status"))
        .and(col("event_key").str().ends_with(lit("|sent")));
    when(is_in.clone().and(col("message_type").eq(lit("reaction"))))
        .then(lit(1i32))
        .when(is_in)
        .then(lit(0i32))
        .when(
            is_out.clone().and(
                col("message_type")
                    .eq(lit("template"))
                    .or(col("sender").eq(lit("system"))),
            ),
        )
        .then(lit(2i32))
        .when(is_out.clone().and(col("sender").eq(lit("bot"))))
        .then(lit(4i32))
        .when(is_out)
        .then(lit(3i32))
        .when(
            webhook_sent
                .clone()
                .and(col("reported_category").eq(lit("service"))),
        )
        .then(lit(5i32))
        .when(webhook_sent)
        .then(lit(2i32))
        .otherwise(lit(NULL).cast(DataType::Int32))
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
    pub(crate) case_events: Vec<DataFrame>,
    /// Per date: business_id, event_type, sender, n.
    pub(crate) message_counts: BTreeMap<NaiveDate, DataFrame>,
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

    /// Take what the analytics need of `date`'s events (with at least [`FEED_COLUMNS`]).
    pub fn add(&mut self, date: NaiveDate, events: &DataFrame) -> Result<()> {
        self.dates.push(date);
        let lf = events.clone().lazy();
        let cases = lf
            .clone()
            .filter(
                col("event_type")
                    .eq(lit("case_opened"))
                    .or(col("event_type").eq(lit("case_status")))
                    .or(col("event_type").eq(lit("case_rating"))),
            )
            .select(
                CASE_EVENT_COLUMNS
                    .iter()
                    .map(|c| match *c {
                        "ts" | "rating" => col(*c).cast(DataType::Int64),
                        _ => col(*c),
                    })
                    .collect::<Vec<_>>(),
            )
            .collect()
            .ctx(format!("reading the case events of {date}"))?;
        if cases.height() > 0 {
            self.case_events.push(cases);
        }
        if date < self.happenings_from {
            return Ok(());
        }
        let counts = lf
            .clone()
            .filter(
                col("event_type")
                    .eq(lit("message_in"))
                    .or(col("event_type").eq(lit("message_out"))),
            )
            .group_by([col("business_id"), col("event_type"), col("sender")])
            .agg([len().cast(DataType::Int64).alias("n")])
            .collect()
            .ctx(format!("counting the messages of {date}"))?;
        self.message_counts.insert(date, counts);
        let happenings = lf
            // Only messages and `sent` statuses can have a kind: the rest are dropped
            // before the string tests of `kind_code`.
            .filter(
                col("event_type")
                    .eq(lit("message_in"))
                    .or(col("event_type").eq(lit("message_out")))
                    .or(col("event_type")
                        .eq(lit("status"))
                        .and(col("status").eq(lit("sent")))),
            )
            .with_column(kind_code().alias("kind"))
            .filter(
                col("customer_key")
                    .is_not_null()
                    .and(col("kind").is_not_null()),
            )
            .select([
                col("business_id"),
                col("customer_key"),
                col("ts").cast(DataType::Int64),
                col("kind"),
            ])
            .collect()
            .ctx(format!("reading the messages of {date} for reply waits"))?;
        let b = str_column(&happenings, "business_id")?;
        let c = str_column(&happenings, "customer_key")?;
        let ts = i64_column(&happenings, "ts")?;
        let kind = happenings
            .column("kind")
            .ctx("kind")?
            .i32()
            .ctx("kind")?
            .clone();
        let mut rows = Vec::with_capacity(happenings.height());
        // Rows come sorted by business: one business lookup per run of them.
        let mut last_business: Option<(&str, u32)> = None;
        for (((b, c), t), k) in b.iter().zip(c.iter()).zip(ts.iter()).zip(kind.iter()) {
            let (Some(c), Some(t), Some(k)) = (c, t, k) else {
                continue;
            };
            let b = b.unwrap_or_default();
            let bi = match last_business {
                Some((name, i)) if name == b => i,
                _ => {
                    let i = self.businesses.intern(b);
                    last_business = Some((b, i));
                    i
                }
            };
            let pair = (bi as u64) << 32 | self.customers.intern(c) as u64;
            let next = self.pair_names.len() as u32;
            let key = *self.pairs.entry(pair).or_insert(next);
            if key == next {
                self.pair_names.push(pair);
            }
            rows.push(Row {
                key,
                ts: t,
                kind: k as u8,
            });
        }
        self.days.push(rows);
        Ok(())
    }
}
