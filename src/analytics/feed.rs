//! What the analytics take from each date's `events`, handed over by metering as it loads
//! the date (so a build reads every events file once), or read by the analytics for dates
//! metering does not load (after the built range, where late replies and statuses live,
//! and before it).
//!
//! A date from the day before the first date built on gives three things:
//! - its *happenings*: every customer message, reaction, template and reply as a 16-byte
//!   [`Row`], the business and the customer numbered into one integer key (a customer by
//!   the 128 bits of its hex pseudonym, no text kept per message) — the reply-wait clock's
//!   input;
//! - its case events, as rows;
//! - its message counts per business and sender (for `business_daily`).
//!
//! An earlier date gives its case events (for the backlog) and, per business and customer,
//! the latest customer message and the latest reply: who was owed a reply when the build
//! starts.
//!
//! A date's rows are read in parallel stretches (`STRETCH_ROWS` rows each); customers the feed
//! already knows are numbered there (a read-only lookup), new ones after, in row order.

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

/// One message in a customer's timeline. 16 bytes (a build holds one per message of the
/// lake's dates it reads): the (business, customer) pair as one number, and the time
/// with the kind code in its low 3 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub key: PairKey,
    at: i64,
}

/// A (business, customer) pair: the business's number << 32 | the customer's.
pub type PairKey = u64;

impl Row {
    /// `ts` within ±2^59 µs of the epoch (±18,000 years): every time ingest accepts is
    /// (RFC 3339 years 0000–9999, epochs ≥ 0, none later than `--now`).
    fn new(key: PairKey, ts: i64, kind: u8) -> Row {
        debug_assert!(kind < 8 && ts.unsigned_abs() < 1 << 59);
        Row {
            key,
            at: ts << 3 | kind as i64,
        }
    }

    pub fn ts(&self) -> i64 {
        self.at >> 3
    }

    pub fn kind(&self) -> u8 {
        (self.at & 7) as u8
    }

    /// Timeline order: by customer, time, then the customer's side first within an
    /// instant (metrics.md, Edge cases), then kind code. The side (kinds 0 and 1 the
    /// customer's, 2 and up the business's) follows the kind code, so (key, time, kind)
    /// is that order, and so is (key, `at`).
    pub fn order(&self) -> (PairKey, i64) {
        (self.key, self.at)
    }
}

/// A customer key as the feed holds it: the 128 bits its 32 hex digits spell (as ingest
/// writes every key), or else its number among the other keys seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Customer {
    Hex(u128),
    Other(u32),
}

/// The customers numbered in order of first sight.
#[derive(Default)]
struct Customers {
    numbers: HashMap<Customer, u32, foldhash::fast::FixedState>,
    customers: Vec<Customer>,
}

impl Customers {
    fn number(&mut self, customer: Customer) -> u32 {
        let next = self.customers.len() as u32;
        let n = *self.numbers.entry(customer).or_insert(next);
        if n == next {
            self.customers.push(customer);
        }
        n
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

    /// Each string's rank in text order, by number.
    pub fn ranks(&self) -> Vec<u32> {
        ranks(&self.names)
    }
}

/// Each of `items`' (distinct, numbered by position) place in their sorted order.
pub(crate) fn ranks<T: Ord>(items: &[T]) -> Vec<u32> {
    let mut sorted: Vec<u32> = (0..items.len() as u32).collect();
    sorted.sort_unstable_by_key(|&i| &items[i as usize]);
    let mut ranks = vec![0; sorted.len()];
    for (rank, i) in sorted.into_iter().enumerate() {
        ranks[i as usize] = rank as u32;
    }
    ranks
}

/// Everything the analytics need of the lake's events, date by date.
pub struct Feed {
    /// Happenings are taken from this date on (the day before the first date built:
    /// earlier dates only decide who was owed a reply, read apart).
    happenings_from: NaiveDate,
    businesses: Interner,
    /// Customer keys that are not 32 hex digits (none that ingest writes).
    other_customers: Interner,
    customers: Customers,
    /// Each date's rows, as taken ([`Feed::timelines`] joins them in date order).
    days: Vec<(NaiveDate, Vec<Row>)>,
    /// Each date's case events, as taken.
    case_events: Vec<(NaiveDate, DataFrame)>,
    /// Per date and business.
    pub(crate) message_counts: BTreeMap<NaiveDate, BTreeMap<String, MessageCounts>>,
    /// Per pair, over the dates before `happenings_from`: the latest customer message
    /// and the latest reply (who was owed a reply when the build starts).
    latest_before: HashMap<PairKey, (Option<i64>, Option<i64>), foldhash::fast::FixedState>,
    pub(crate) dates: Vec<NaiveDate>,
    /// Buffers of the stretches read in parallel, kept from date to date.
    spare_buffers: Vec<Vec<Taken>>,
}

impl Feed {
    pub fn new(happenings_from: NaiveDate) -> Feed {
        Feed {
            happenings_from,
            businesses: Interner::default(),
            other_customers: Interner::default(),
            customers: Customers::default(),
            days: Vec::new(),
            case_events: Vec::new(),
            message_counts: BTreeMap::new(),
            latest_before: HashMap::default(),
            dates: Vec::new(),
            spare_buffers: Vec::new(),
        }
    }

    /// The pair key of (business, customer), if the feed saw them.
    pub(crate) fn key(&self, business: &str, customer: &str) -> Option<PairKey> {
        let customer = match hex_customer(customer) {
            Some(bits) => Customer::Hex(bits),
            None => Customer::Other(self.other_customers.get(customer)?),
        };
        let customer = *self.customers.numbers.get(&customer)?;
        Some(pair_key(self.businesses.get(business)?, customer))
    }

    /// The business of its number.
    pub(crate) fn business_name(&self, business: u32) -> &str {
        self.businesses.name(business)
    }

    pub(crate) fn business_of(&self, key: PairKey) -> &str {
        self.businesses.name(self.business_index(key))
    }

    /// The business's number among the feed's businesses in name order.
    pub(crate) fn business_ranks(&self) -> Vec<u32> {
        self.businesses.ranks()
    }

    pub(crate) fn business_index(&self, key: PairKey) -> u32 {
        (key >> 32) as u32
    }

    pub(crate) fn customer(&self, key: PairKey) -> Customer {
        self.customers.customers[key as u32 as usize]
    }

    /// The customer's place in customer key order: (0, bits) for keys of 32 hex digits
    /// (fixed-width lowercase hex: text order is number order), after them (1, rank of
    /// the text) for any other key (none that ingest writes).
    /// `other_ranks`: [`Feed::other_customer_ranks`].
    pub(crate) fn customer_rank(&self, key: PairKey, other_ranks: &[u32]) -> (u8, u128) {
        match self.customer(key) {
            Customer::Hex(bits) => (0, bits),
            Customer::Other(i) => (1, other_ranks[i as usize] as u128),
        }
    }

    /// The rank in text order of each customer key that is not 32 hex digits.
    pub(crate) fn other_customer_ranks(&self) -> Vec<u32> {
        self.other_customers.ranks()
    }

    /// Every row taken, in timeline order ([`Row::order`]): each pair's rows together.
    pub(crate) fn timelines(&mut self) -> Vec<Row> {
        self.spare_buffers = Vec::new();
        let mut days = std::mem::take(&mut self.days);
        days.sort_unstable_by_key(|(date, _)| *date);
        let days: Vec<Vec<Row>> = days.into_iter().map(|(_, rows)| rows).collect();
        into_timeline_order(
            days,
            self.businesses.names.len(),
            self.customers.customers.len(),
        )
    }

    /// Every case event taken, date by date, each date's in its `events` file's order (an
    /// empty frame of the case columns if none).
    pub(crate) fn take_case_events(&mut self) -> Result<DataFrame> {
        let mut dates = std::mem::take(&mut self.case_events);
        dates.sort_by_key(|(date, _)| *date);
        let mut parts: Vec<LazyFrame> = dates.into_iter().map(|(_, df)| df.lazy()).collect();
        if parts.is_empty() {
            parts.push(case_rows(empty_frame(&EVENTS).lazy()));
        }
        concat(parts, UnionArgs::default())
            .and_then(LazyFrame::collect)
            .ctx("stacking case events")
    }

    /// The pairs owed a reply when `happenings_from` starts, and since when: their latest
    /// customer message before it came after their latest reply.
    pub(crate) fn owed_since(&self) -> HashMap<PairKey, i64> {
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
        let chunks: Vec<DataFrame> = columns.split_chunks().collect();
        for chunk in &chunks {
            let arrays = ChunkArrays::of(chunk)?;
            // Stretches of rows read in parallel; their pairs numbered in order after.
            let starts: Vec<usize> = (0..chunk.height()).step_by(STRETCH_ROWS).collect();
            let buffers: Vec<Vec<Taken>> = starts
                .iter()
                .map(|_| self.spare_buffers.pop().unwrap_or_default())
                .collect();
            let stretches: Vec<Stretch> = starts
                .into_par_iter()
                .zip(buffers)
                .map(|(from, buffer)| {
                    let rows = from..(from + STRETCH_ROWS).min(chunk.height());
                    arrays.stretch(rows, &self.customers.numbers, buffer)
                })
                .collect();
            if !before {
                rows.reserve(stretches.iter().map(|s| s.taken.len()).sum());
            }
            for stretch in stretches {
                has_cases |= stretch.has_cases;
                let mut taken = stretch.taken.iter();
                for (name, c, n) in stretch.runs {
                    merge_counts(&mut counts, name, c);
                    let business = self.businesses.intern(name);
                    for t in taken.by_ref().take(n) {
                        // Customers seen before were numbered in parallel; new ones here.
                        let customer = match t.customer {
                            TakenCustomer::Known(n) => n,
                            TakenCustomer::New(bits) => self.customers.number(Customer::Hex(bits)),
                            TakenCustomer::Other(row) => {
                                let text = arrays.customer.get(row).unwrap_or_default();
                                let other = self.other_customers.intern(text);
                                self.customers.number(Customer::Other(other))
                            }
                        };
                        let key = pair_key(business, customer);
                        if before {
                            let latest = self.latest_before.entry(key).or_default();
                            match t.kind {
                                0 => latest.0 = latest.0.max(Some(t.ts)),
                                3.. => latest.1 = latest.1.max(Some(t.ts)),
                                _ => {}
                            }
                        } else {
                            rows.push(Row::new(key, t.ts, t.kind));
                        }
                    }
                }
                self.spare_buffers.push(stretch.taken);
            }
        }
        if !before {
            self.days.push((date, rows));
            self.message_counts.insert(date, counts);
        }
        if has_cases {
            let _clock = crate::timing::Stage::start("analytics_feed_cases");
            let cases = case_rows(events.clone().lazy())
                .collect()
                .ctx(format!("reading the case events of {date}"))?;
            self.case_events.push((date, cases));
        }
        Ok(())
    }
}

/// Bits of the pair number sorted on per pass of [`into_timeline_order`] (its counts,
/// 2^12 of them, stay in the first-level cache).
const RADIX_BITS: u32 = 12;

/// `rows` in timeline order ([`Row::order`]), given how many businesses and customers
/// are numbered.
///
/// The rows come date by date, each date's in time order per business (the order of an
/// `events` file): each pair's rows are then already in time order, and grouping the pairs
/// is a stable radix sort on the pair's number — business × 2^customer bits + customer,
/// a few passes of [`RADIX_BITS`] each — rather than a comparison sort of every row. A
/// pair whose rows still are not in order afterwards (two in the same microsecond, in
/// another order than their kind codes) is sorted on its own, so the result is the
/// comparison sort's whatever the input order.
fn into_timeline_order(mut days: Vec<Vec<Row>>, businesses: usize, customers: usize) -> Vec<Row> {
    let customer_bits = usize::BITS - customers.leading_zeros();
    let number = |r: &Row| (r.key >> 32) << customer_bits | (r.key & u32::MAX as u64);
    let widest =
        (businesses.saturating_sub(1) as u64) << customer_bits | customers.saturating_sub(1) as u64;
    // At least one pass: the first also gathers the dates' rows into one vector.
    let passes = (u64::BITS - widest.leading_zeros())
        .div_ceil(RADIX_BITS)
        .max(1);
    let len = days.iter().map(Vec::len).sum();
    let blank = Row { key: 0, at: 0 };
    let (mut from, mut to) = (Vec::new(), vec![blank; len]);
    for pass in 0..passes {
        let shift = pass * RADIX_BITS;
        let digit = |r: &Row| (number(r) >> shift) as usize & ((1 << RADIX_BITS) - 1);
        let source = || -> Box<dyn Iterator<Item = &Row> + '_> {
            match pass {
                0 => Box::new(days.iter().flatten()),
                _ => Box::new(from.iter()),
            }
        };
        let mut starts = vec![0usize; 1 << RADIX_BITS];
        for r in source() {
            starts[digit(r)] += 1;
        }
        let mut next = 0;
        for start in starts.iter_mut() {
            (*start, next) = (next, next + *start);
        }
        for r in source() {
            let d = digit(r);
            to[starts[d]] = *r;
            starts[d] += 1;
        }
        std::mem::swap(&mut from, &mut to);
        if pass == 0 {
            // The dates' own vectors are done with: their memory serves the next pass.
            drop(std::mem::take(&mut days));
            if passes > 1 {
                to = vec![blank; len];
            }
        }
    }
    for pair in from.chunk_by_mut(|a, b| a.key == b.key) {
        if !pair.is_sorted_by_key(Row::order) {
            pair.sort_unstable_by_key(Row::order);
        }
    }
    from
}

/// [`into_timeline_order`] on (pair key, time, kind code) triples taken as three dates,
/// for the tests that set it against a comparison sort.
#[doc(hidden)]
pub fn timeline_order_of(rows: &[(PairKey, i64, u8)], customers: usize) -> Vec<(PairKey, i64, u8)> {
    // In three parts, as dates come.
    let rows: Vec<Row> = rows
        .iter()
        .map(|&(key, ts, kind)| Row::new(key, ts, kind))
        .collect();
    let businesses = rows
        .iter()
        .map(|r| (r.key >> 32) as usize + 1)
        .max()
        .unwrap_or(0);
    let third = rows.len().div_ceil(3).max(1);
    let days: Vec<Vec<Row>> = rows.chunks(third).map(<[Row]>::to_vec).collect();
    into_timeline_order(days, businesses, customers)
        .into_iter()
        .map(|r| (r.key, r.ts(), r.kind()))
        .collect()
}

/// Rows of a chunk read by one task.
const STRETCH_ROWS: usize = 1 << 16;

/// One chunk's columns, as Arrow arrays read by position.
struct ChunkArrays {
    event_type: StringChunked,
    message_type: StringChunked,
    sender: StringChunked,
    event_key: StringChunked,
    category: StringChunked,
    business: StringChunked,
    customer: StringChunked,
    ts: Int64Chunked,
}

fn pair_key(business: u32, customer: u32) -> PairKey {
    (business as u64) << 32 | customer as u64
}

/// A message of a stretch.
struct Taken {
    customer: TakenCustomer,
    ts: i64,
    kind: u8,
}

enum TakenCustomer {
    /// Its number: the feed knew the customer.
    Known(u32),
    /// A new customer's key bits.
    New(u128),
    /// A key that is not 32 hex digits: the row it is on.
    Other(usize),
}

/// What a stretch of rows gives: runs of one business (its name, its message counts and
/// how many of `taken` are its, in order) and the messages.
struct Stretch<'a> {
    runs: Vec<(&'a str, MessageCounts, usize)>,
    taken: Vec<Taken>,
    has_cases: bool,
}

impl ChunkArrays {
    fn of(chunk: &DataFrame) -> Result<ChunkArrays> {
        Ok(ChunkArrays {
            event_type: str_column(chunk, "event_type")?,
            message_type: str_column(chunk, "message_type")?,
            sender: str_column(chunk, "sender")?,
            event_key: str_column(chunk, "event_key")?,
            category: str_column(chunk, "reported_category")?,
            business: str_column(chunk, "business_id")?,
            customer: str_column(chunk, "customer_key")?,
            ts: i64_column(chunk, "ts")?,
        })
    }

    /// `taken`: a buffer to fill (its memory reused from date to date, not re-faulted).
    fn stretch<'a>(
        &'a self,
        rows: std::ops::Range<usize>,
        known: &HashMap<Customer, u32, foldhash::fast::FixedState>,
        mut taken: Vec<Taken>,
    ) -> Stretch<'a> {
        taken.clear();
        let (event_type, message_type, sender, event_key, category, business, customer, ts) = (
            self.event_type.downcast_as_array(),
            self.message_type.downcast_as_array(),
            self.sender.downcast_as_array(),
            self.event_key.downcast_as_array(),
            self.category.downcast_as_array(),
            self.business.downcast_as_array(),
            self.customer.downcast_as_array(),
            self.ts.downcast_as_array(),
        );
        let mut out = Stretch {
            runs: Vec::new(),
            taken,
            has_cases: false,
        };
        for i in rows {
            let et = event_type.get(i);
            // Only the columns the event's type needs are looked at.
            let kind = match et {
                Some("message_in" | "message_out") => {
                    kind_of_event(et, message_type.get(i), sender.get(i), None, None)
                }
                Some("status") => kind_of_event(et, None, None, event_key.get(i), category.get(i)),
                Some(e) => {
                    out.has_cases |= CASE_EVENT_TYPES.contains(&e);
                    None
                }
                None => None,
            };
            let Some(kind) = kind else {
                continue;
            };
            // Rows come sorted by business: one run per business, mostly.
            let b = business.get(i).unwrap_or_default();
            if !matches!(out.runs.last(), Some((name, ..)) if *name == b) {
                out.runs.push((b, MessageCounts::default(), 0));
            }
            let Some((_, c, n)) = out.runs.last_mut() else {
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
            *n += 1;
            let customer = match hex_customer(cust) {
                Some(bits) => match known.get(&Customer::Hex(bits)) {
                    Some(&n) => TakenCustomer::Known(n),
                    None => TakenCustomer::New(bits),
                },
                None => TakenCustomer::Other(i),
            };
            out.taken.push(Taken {
                customer,
                ts: t,
                kind,
            });
        }
        out
    }
}

/// A text column of customer keys: a hex key's bits spelt as its 32 lowercase digits
/// (as ingest wrote them), any other key as the feed's text of it.
pub(crate) fn customer_column(
    name: &str,
    customers: impl ExactSizeIterator<Item = Customer>,
    feed: &Feed,
) -> Column {
    let mut column = StringChunkedBuilder::new(name.into(), customers.len());
    let mut digits = [0u8; 32];
    for customer in customers {
        match customer {
            Customer::Hex(bits) => {
                hex::encode_to_slice(bits.to_be_bytes(), &mut digits)
                    .expect("16 bytes are 32 hex digits");
                column.append_value(std::str::from_utf8(&digits).expect("hex is text"));
            }
            Customer::Other(i) => column.append_value(feed.other_customers.name(i)),
        }
    }
    column.finish().into_column()
}

/// The 128 bits a customer key's 32 lowercase hex digits spell (every key ingest
/// writes), `None` for any other text. Their order is the keys' text order.
pub fn hex_customer(key: &str) -> Option<u128> {
    let digits: &[u8; 32] = key.as_bytes().try_into().ok()?;
    // Table lookups, no branch per digit (random hex digits defeat branch prediction).
    let (mut value, mut bad) = (0u128, 0u8);
    for &d in digits {
        let nibble = NIBBLES[d as usize];
        bad |= nibble;
        value = value << 4 | (nibble & 0x0f) as u128;
    }
    (bad & 0x10 == 0).then_some(value)
}

/// A lowercase hex digit's value; 0x10 for any other byte.
static NIBBLES: [u8; 256] = {
    let mut table = [0x10u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

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
