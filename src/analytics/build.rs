//! The analytics part of `msgmeter build` (metrics.md): `reply_waits` and `cases` for the
//! waits and cases that *start* on the dates built — their replies and later statuses
//! looked up in everything the lake holds — and `business_daily` for those dates.
//!
//! A wait's start depends on whether the business owed the customer a reply, which only
//! the latest customer message and the latest reply before the build decide: that is all
//! that is read of older dates, so a range equals its days built one by one.
//!
//! The events come through a [`Feed`]: metering hands over each date it loads, so a build
//! reads every events file once; only the dates after the range are read here.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::accounts::{Account, Accounts};
use crate::error::Result;
use crate::lake::billed::BilledSources;
use crate::lake::columns::{
    bools, empty_frame, i64_values, ints, str_column, table_frame, text, timestamps,
};
use crate::lake::{self, Lake};
use crate::schema::{BUSINESS_DAILY, CASES, EVENTS, REPLY_WAITS};
use crate::time::{start_of, utc_day};

use super::cases::{case_clocks, CaseEvents};
use super::daily::{
    add_message_counts, backlog_by_day, count_cases, count_waits, daily_frame, daily_of, Daily,
};
use super::feed::{customer_column, Customer, Feed, PairKey, Row, AGENT_MESSAGE, FEED_COLUMNS};
use super::waits::{reply_waits, ReplyWait};
use super::{Happening, Kind};
use crate::accounts::hours::OpeningTimes;

/// Counts a person checks after a build.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AnalyticsSummary {
    pub waits: u64,
    pub waits_answered: u64,
    pub cases: u64,
    pub orphan_case_events: u64,
}

/// A wait's place in `reply_waits` order: (start date << 40 | business rank << 8 |
/// customer key tag, start, customer key bits high and low, position among the waits).
type WaitOrder = (i64, i64, u64, u64, u32);

/// Threads writing table files.
const WRITERS: usize = 3;

fn kind_of(code: u8) -> Kind {
    match code {
        0 => Kind::CustomerMessage,
        1 => Kind::Reaction,
        2 => Kind::Template,
        4 => Kind::Reply { by: "bot" },
        _ => Kind::Reply { by: "agent" },
    }
}

pub(super) struct BusinessClock {
    pub(super) account: Account,
    openings: Option<OpeningTimes>,
}

impl BusinessClock {
    pub(super) fn business_seconds(&self, from: i64, to: i64) -> Option<i64> {
        self.openings.as_ref().map(|o| o.seconds(from, to))
    }
}

/// Each business's account and opening times, looked up once.
struct Clocks<'a> {
    accounts: &'a Accounts,
    /// The local dates whose openings are converted ahead (the lake's, with margin).
    dates: (NaiveDate, NaiveDate),
    by_business: HashMap<String, BusinessClock, foldhash::fast::FixedState>,
}

impl Clocks<'_> {
    fn of(&mut self, business: &str) -> &BusinessClock {
        let (accounts, (first, last)) = (self.accounts, self.dates);
        if !self.by_business.contains_key(business) {
            let account = accounts.get(business).into_owned();
            let openings = account
                .business_hours
                .as_ref()
                .map(|s| OpeningTimes::new(s, account.timezone, first, last));
            self.by_business
                .insert(business.to_string(), BusinessClock { account, openings });
        }
        &self.by_business[business]
    }
}

/// The agent's messages (`message_out`, in time order) to each wanted pair: the
/// timelines walked once in key order, not searched once per pair.
fn agent_messages(timelines: &[Row], wanted: &[Option<PairKey>]) -> Vec<Vec<i64>> {
    let mut by_key: Vec<(PairKey, usize)> = wanted
        .iter()
        .enumerate()
        .filter_map(|(i, k)| Some(((*k)?, i)))
        .collect();
    by_key.sort_unstable();
    let mut messages = vec![Vec::new(); wanted.len()];
    let mut at = 0;
    for (key, i) in by_key {
        while at < timelines.len() && timelines[at].key < key {
            at += 1;
        }
        messages[i] = timelines[at..]
            .iter()
            .take_while(|r| r.key == key)
            .filter(|r| r.kind() == AGENT_MESSAGE)
            .map(|r| r.ts())
            .collect();
    }
    messages
}

/// The case events' positions by case (business, case id, in text order), each case's in
/// time order, ties broken by event key (the same statuses give the same clocks); and
/// where each case's positions start (one more entry than cases: the end).
///
/// The events come date by date, each date's by business and time (the order of an
/// `events` file): each case's events are then already in order, and grouping the cases is
/// a counting sort on the case's rank, not a comparison sort of every event. A case
/// whose events still are not in order afterwards is sorted on its own, so the order is
/// the same whatever the input order.
pub fn case_order<'a, K: Ord>(
    business: &[Option<&'a str>],
    case_id: &[Option<&'a str>],
    within_case: impl Fn(usize) -> K,
    events: usize,
) -> (Vec<usize>, Vec<usize>) {
    // Each case numbered in order of first sight, then ranked by its text.
    let mut number: HashMap<(&str, &str), u32, foldhash::fast::FixedState> = HashMap::default();
    let mut cases: Vec<(&str, &str)> = Vec::new();
    let numbers: Vec<u32> = (0..events)
        .map(|i| {
            let case = (
                business[i].unwrap_or_default(),
                case_id[i].unwrap_or_default(),
            );
            *number.entry(case).or_insert_with(|| {
                cases.push(case);
                cases.len() as u32 - 1
            })
        })
        .collect();
    let rank = super::feed::ranks(&cases);
    // Where each rank's events start, then every event placed, in input order per case.
    let mut starts = vec![0usize; cases.len() + 1];
    for &n in &numbers {
        starts[rank[n as usize] as usize + 1] += 1;
    }
    for r in 1..starts.len() {
        starts[r] += starts[r - 1];
    }
    let mut order = vec![0usize; events];
    let mut next = starts.clone();
    for (i, &n) in numbers.iter().enumerate() {
        let r = rank[n as usize] as usize;
        order[next[r]] = i;
        next[r] += 1;
    }
    for case in starts.windows(2) {
        let events = &mut order[case[0]..case[1]];
        if !events.is_sorted_by_key(|&i| within_case(i)) {
            events.sort_by_key(|&i| within_case(i));
        }
    }
    (order, starts)
}

/// The summary line a person reads after a build.
impl std::fmt::Display for AnalyticsSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reply waits {} ({} answered), cases {}, orphan case events {}",
            self.waits, self.waits_answered, self.cases, self.orphan_case_events
        )
    }
}

/// `feed` holds what metering handed over of the dates it loaded; the rest of the lake's
/// dates are read here. `timely_micros`: a case's first response within this long is
/// timely.
///
/// The analytics driver, in phases marked `// ----` (the lake's remaining dates, timelines
/// and waits, cases, the per-date order, then the tables written per date): the phases
/// borrow one another's results (interned keys, column slices of the feed) so they stay in
/// one frame; each table's rows and counts are built by the functions below and in
/// `daily.rs`.
pub fn build(
    lake: &Lake,
    accounts: &Accounts,
    dates: &[NaiveDate],
    timely_micros: i64,
    mut feed: Feed,
) -> Result<AnalyticsSummary> {
    let mut summary = AnalyticsSummary::default();
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
        return Ok(summary);
    };
    let all_dates = lake.partition_dates(&EVENTS)?;
    let (Some(&lake_first), Some(&lake_last)) = (all_dates.first(), all_dates.last()) else {
        return Ok(summary);
    };
    let (range_start, range_end) = (start_of(first), start_of(last.succ_opt().expect("date")));
    let margin = chrono::Duration::days(3);
    let mut clocks = Clocks {
        accounts,
        dates: (lake_first - margin, lake_last + margin),
        by_business: HashMap::default(),
    };

    tracing::debug!(rss_mib = crate::timing::rss_mib(), "analytics: start");
    // Freed memory is reused in place rather than returned and re-faulted (see
    // crate::memory); given back when the analytics end.
    let _kept = crate::memory::keep_freed_memory_while_alive();
    // ---- the dates metering did not load: later ones for the replies, statuses and
    // ratings of what starts in the range, earlier ones for who was owed a reply and for
    // their cases (the backlog).
    let t = std::time::Instant::now();
    let fed: std::collections::BTreeSet<NaiveDate> = feed.dates.iter().copied().collect();
    for &d in all_dates.iter().filter(|d| !fed.contains(d)) {
        if let Some(events) = lake.read_date(&EVENTS, d, Some(&FEED_COLUMNS))? {
            feed.add(d, &events)?;
        }
    }
    let owed_since = feed.owed_since();
    crate::timing::add("analytics_load", t.elapsed());

    // ---- every customer's timeline from the day before the first date to the lake's end,
    // and the lake's cases grouped alongside (stage time: reply_waits)
    let t = std::time::Instant::now();
    let case_events = feed.take_case_events()?;
    let text_columns = [
        "business_id",
        "case_id",
        "event_type",
        "customer_key",
        "case_kind",
        "case_category",
        "case_status",
        "event_key",
    ]
    .map(|name| str_column(&case_events, name));
    let text_columns: Vec<StringChunked> = text_columns.into_iter().collect::<Result<_>>()?;
    let texts: Vec<Vec<Option<&str>>> = text_columns
        .par_iter()
        .map(|c| c.iter().collect())
        .collect();
    let [cb, cid, cty, ccust, ckind, ccat, cstatus, ckey] = &texts[..] else {
        unreachable!("eight columns taken above");
    };
    let cts = i64_values(&case_events, "ts")?;
    let crating = i64_values(&case_events, "rating")?;
    // Every case of the lake (the backlog counts them all) and the orphan case events
    // of the dates built, grouped while the timelines are ordered.
    let group_cases = || {
        let _clock = crate::timing::Stage::start("cases_grouped");
        let (in_case_order, case_starts) = case_order(
            &cb[..],
            &cid[..],
            |i| (cts[i], ckey[i]),
            case_events.height(),
        );
        let case_of = |i: usize| (cb[i].unwrap_or_default(), cid[i].unwrap_or_default());
        let mut opened_cases: Vec<Case> = Vec::new();
        let mut orphans: BTreeMap<(NaiveDate, String), i64> = BTreeMap::new();
        for case in case_starts.windows(2).map(|s| &in_case_order[s[0]..s[1]]) {
            let key = case_of(case[0]);
            let mut opened: Option<usize> = None;
            let mut statuses = Vec::new();
            let mut ratings = Vec::new();
            for &j in case {
                let t = cts[j].unwrap_or_default();
                match cty[j] {
                    Some("case_opened") if opened.is_none() => opened = Some(j),
                    Some("case_status") => statuses.push((t, cstatus[j].unwrap_or_default())),
                    Some("case_rating") => {
                        if let Some(r) = crating[j] {
                            ratings.push((t, r as i8));
                        }
                    }
                    _ => {}
                }
            }
            match opened {
                Some(o) => {
                    let opened_at = cts[o].unwrap_or_default();
                    opened_cases.push(Case {
                        business_id: key.0,
                        case_id: key.1,
                        customer_key: ccust[o],
                        kind: ckind[o],
                        category: ccat[o],
                        events: CaseEvents {
                            opened_at,
                            statuses,
                            ratings,
                        },
                        clocks: Default::default(),
                    });
                }
                None => {
                    // Never opened (the opening may arrive late): counted, not a case.
                    for t in case.iter().map(|&j| cts[j].unwrap_or_default()) {
                        if t >= range_start && t < range_end {
                            *orphans.entry((utc_day(t), key.0.to_string())).or_default() += 1;
                        }
                    }
                }
            }
        }
        (opened_cases, orphans)
    };
    let ordered = || {
        let _clock = crate::timing::Stage::start("reply_waits_timelines");
        feed.timelines()
    };
    let (timelines, (opened_cases, orphans)) = rayon::join(ordered, group_cases);
    let waits: Vec<(PairKey, ReplyWait)> = timelines
        .par_chunk_by(|a, b| a.key == b.key)
        .flat_map_iter(|rows| {
            let key = rows[0].key;
            let owed = owed_since.get(&key).map(|&since| Happening {
                ts: since,
                kind: Kind::CustomerMessage,
            });
            let timeline = owed.into_iter().chain(rows.iter().map(|r| Happening {
                ts: r.ts(),
                kind: kind_of(r.kind()),
            }));
            reply_waits(timeline)
                .into_iter()
                .filter(|w| w.started_at >= range_start && w.started_at < range_end)
                .map(move |w| (key, w))
        })
        .collect();
    crate::timing::add("reply_waits", t.elapsed());
    tracing::debug!(rss_mib = crate::timing::rss_mib(), "analytics: reply waits");

    // ---- cases opened on the dates built, with every later status and rating
    let t = std::time::Instant::now();
    // The cases of the dates built, and the others (only the backlog reads them).
    let (mut cases, other_cases): (Vec<Case>, Vec<Case>) = opened_cases
        .into_iter()
        .partition(|c| (range_start..range_end).contains(&c.events.opened_at));
    let customers: Vec<Option<PairKey>> = cases
        .iter()
        .map(|c| feed.key(c.business_id, c.customer_key?))
        .collect();
    let agents = {
        let _clock = crate::timing::Stage::start("cases_agent_messages");
        agent_messages(&timelines, &customers)
    };
    cases
        .par_iter_mut()
        .zip(agents)
        .for_each(|(c, agents)| c.clocks = case_clocks(&c.events, &agents));
    crate::timing::add("cases", t.elapsed());

    tracing::debug!(rss_mib = crate::timing::rss_mib(), "analytics: cases");
    // ---- write reply_waits and cases per start date, then business_daily
    let t = std::time::Instant::now();
    // The table's row order, date by date: start date, business, start, customer (the
    // business by its rank in name order, the customer by its key's bits: no text
    // compared). Sorted as 40-byte keys with the wait's position: (start date << 40 |
    // business rank << 8 | customer key tag, start, customer key bits, position).
    let (ranks, other_ranks) = (feed.business_ranks(), feed.other_customer_ranks());
    let day_of = |started_at: i64| started_at.div_euclid(super::waits::DAY_MICROS);
    let mut order: Vec<WaitOrder> = waits
        .par_iter()
        .enumerate()
        .map(|(i, (key, w))| {
            let business = ranks[feed.business_index(*key) as usize] as i64;
            let (tag, bits) = feed.customer_rank(*key, &other_ranks);
            (
                day_of(w.started_at) << 40 | business << 8 | tag as i64,
                w.started_at,
                (bits >> 64) as u64,
                bits as u64,
                i as u32,
            )
        })
        .collect();
    order.par_sort_unstable();
    let mut waits_by_date: BTreeMap<NaiveDate, &[WaitOrder]> = BTreeMap::new();
    for day in order.chunk_by(|a, b| a.0 >> 40 == b.0 >> 40) {
        waits_by_date.insert(utc_day(day[0].1), day);
    }
    let mut cases_by_date: BTreeMap<NaiveDate, Vec<&Case>> = BTreeMap::new();
    for c in &cases {
        cases_by_date
            .entry(utc_day(c.events.opened_at))
            .or_default()
            .push(c);
    }
    let billed = BilledSources::read(lake)?;
    // The clocks of every business with a wait or a case, looked up once each.
    let mut with_waits = vec![false; ranks.len()];
    for (key, _) in &waits {
        with_waits[feed.business_index(*key) as usize] = true;
    }
    let businesses = (0..ranks.len() as u32).filter(|&b| with_waits[b as usize]);
    for b in businesses
        .map(|b| feed.business_name(b))
        .chain(cases.iter().map(|c| c.business_id))
    {
        clocks.of(b);
    }
    let ready = &clocks.by_business;
    crate::timing::add("business_daily_order", t.elapsed());
    let backlog_clock = crate::timing::Stage::start("business_daily_backlog");
    let every_case = cases.iter().chain(&other_cases);
    let mut backlog = backlog_by_day(every_case.map(|c| (c.business_id, &c.events)), dates);
    drop(backlog_clock);
    // Message, delivery, conversation and billable-unit counts, every date's read in
    // parallel before the writers start.
    let counts_clock = crate::timing::Stage::start("business_daily_counts");
    let mut counted: BTreeMap<NaiveDate, BTreeMap<String, Daily>> = dates
        .par_iter()
        .map(|&day| {
            let mut daily = BTreeMap::new();
            add_message_counts(
                lake,
                &billed,
                day,
                feed.message_counts.get(&day),
                &mut daily,
            )?;
            Ok((day, daily))
        })
        .collect::<Result<_>>()?;
    drop(counts_clock);
    // Files are written by threads of their own while the next date is computed (the
    // writes are mostly encoding and compression: skipping their fsyncs, as a test, did
    // not shorten them).
    lake::writer::in_background(WRITERS, WRITERS, "business_daily_write", |writes| {
        for &day in dates {
            let frames_clock = std::time::Instant::now();
            let day_end = start_of(day.succ_opt().expect("date"));
            // reply_waits
            let rows: Vec<(&str, PairKey, &ReplyWait, Customer)> = waits_by_date
                .remove(&day)
                .unwrap_or_default()
                .iter()
                .map(|o| {
                    let (key, w) = &waits[o.4 as usize];
                    // A hex key's bits are in its sort key (no second lookup).
                    let customer = match o.0 & 0xff {
                        0 => Customer::Hex((o.2 as u128) << 64 | o.3 as u128),
                        _ => feed.customer(*key),
                    };
                    (feed.business_of(*key), *key, w, customer)
                })
                .collect();
            // Each wait's business hours walk its days through the time zone: in parallel.
            let business_secs: Vec<Option<i64>> = rows
                .par_iter()
                .map(|(b, _, w, _)| {
                    w.replied_at
                        .and_then(|r| ready[*b].business_seconds(w.started_at, r))
                })
                .collect();
            let waits_df = reply_waits_frame(&rows, &business_secs, &feed)?;
            // cases
            let mut day_cases = cases_by_date.remove(&day).unwrap_or_default();
            day_cases.sort_by(|a, b| {
                (&a.business_id, a.events.opened_at, &a.case_id).cmp(&(
                    &b.business_id,
                    b.events.opened_at,
                    &b.case_id,
                ))
            });
            let cases_df = cases_frame(&day_cases, ready)?;
            summary.waits += rows.len() as u64;
            summary.waits_answered +=
                rows.iter().filter(|r| r.2.replied_at.is_some()).count() as u64;
            summary.cases += day_cases.len() as u64;

            crate::timing::add("business_daily_frames", frames_clock.elapsed());
            // business_daily
            let mut daily = counted.remove(&day).unwrap_or_default();
            count_waits(&mut daily, &rows, &business_secs, ready, &feed, day_end);
            count_cases(&mut daily, &day_cases, day_end, timely_micros);
            for (business, n) in backlog.remove(&day).into_iter().flatten() {
                daily_of(&mut daily, business).backlog += n;
            }
            for ((date, business), n) in &orphans {
                if *date == day {
                    daily.entry(business.clone()).or_default().orphans += n;
                    summary.orphan_case_events += *n as u64;
                }
            }
            let daily_df = daily_frame(&daily)?;
            for (table, df) in [
                (&REPLY_WAITS, waits_df),
                (&CASES, cases_df),
                (&BUSINESS_DAILY, daily_df),
            ] {
                let df = if df.height() == 0 {
                    empty_frame(table)
                } else {
                    df
                };
                let _waiting = crate::timing::Stage::start("business_daily_send");
                writes.send(lake.date_partition_file(table, day), df)?;
            }
        }
        Ok(())
    })?;
    crate::timing::add("business_daily", t.elapsed());
    Ok(summary)
}

/// A case opened on a date built (or before: the backlog counts them), with its clocks.
pub(super) struct Case<'a> {
    pub(super) business_id: &'a str,
    pub(super) case_id: &'a str,
    pub(super) customer_key: Option<&'a str>,
    pub(super) kind: Option<&'a str>,
    pub(super) category: Option<&'a str>,
    pub(super) events: CaseEvents<'a>,
    pub(super) clocks: super::cases::CaseClocks,
}

/// Each business's clock (account and business hours), by business id.
pub(super) type BusinessClocks = HashMap<String, BusinessClock, foldhash::fast::FixedState>;

/// A reply wait of the day: business, pair, the wait, the customer.
pub(super) type WaitRow<'a> = (&'a str, PairKey, &'a ReplyWait, Customer);

/// The `reply_waits` frame of a day's waits; `business_secs` is each wait's business-hours
/// duration.
fn reply_waits_frame(
    rows: &[WaitRow<'_>],
    business_secs: &[Option<i64>],
    feed: &Feed,
) -> Result<DataFrame> {
    let secs = |a: Option<i64>, s: i64| a.map(|a| (a - s) / 1_000_000);
    // The columns built in parallel.
    type Build<'a> = &'a (dyn Fn() -> Column + Sync);
    let columns: [Build; 11] = [
        &|| text("business_id", rows.iter().map(|r| Some(r.0))),
        &|| customer_column("customer_key", rows.iter().map(|r| r.3), feed),
        &|| timestamps("started_at", rows.iter().map(|r| Some(r.2.started_at))),
        &|| timestamps("replied_at", rows.iter().map(|r| r.2.replied_at)),
        &|| {
            ints(
                "wait_seconds",
                rows.iter().map(|r| secs(r.2.replied_at, r.2.started_at)),
            )
        },
        &|| ints("wait_business_seconds", business_secs.iter().copied()),
        &|| text("replied_by", rows.iter().map(|r| r.2.replied_by)),
        &|| {
            timestamps(
                "human_replied_at",
                rows.iter().map(|r| r.2.human_replied_at),
            )
        },
        &|| {
            ints(
                "human_wait_seconds",
                rows.iter()
                    .map(|r| secs(r.2.human_replied_at, r.2.started_at)),
            )
        },
        &|| {
            ints(
                "inbound_messages",
                rows.iter().map(|r| Some(r.2.inbound_messages)),
            )
        },
        &|| bools("is_first", rows.iter().map(|r| Some(r.2.is_first))),
    ];
    table_frame(
        &REPLY_WAITS,
        rows.len(),
        columns.par_iter().map(|build| build()).collect(),
    )
}

/// The `cases` frame of the cases opened on a day (already in table order), with their
/// business-hours durations.
fn cases_frame(day_cases: &[&Case<'_>], clocks: &BusinessClocks) -> Result<DataFrame> {
    let case_clock: Vec<_> = day_cases.iter().map(|c| &c.clocks).collect();
    let opened = |i: usize| day_cases[i].events.opened_at;
    let dur = |i: usize, end: Option<i64>| end.map(|e| (e - opened(i)) / 1_000_000);
    let mut first_response_business = Vec::new();
    let mut full_resolution_business = Vec::new();
    for (i, k) in case_clock.iter().enumerate() {
        let clock = &clocks[day_cases[i].business_id];
        first_response_business.push(
            k.first_response_at
                .and_then(|e| clock.business_seconds(opened(i), e)),
        );
        full_resolution_business.push(
            k.last_resolved_at
                .and_then(|e| clock.business_seconds(opened(i), e)),
        );
    }
    let idx = 0..day_cases.len();
    table_frame(
        &CASES,
        day_cases.len(),
        vec![
            text("business_id", day_cases.iter().map(|c| Some(c.business_id))),
            text("case_id", day_cases.iter().map(|c| Some(c.case_id))),
            text("customer_key", day_cases.iter().map(|c| c.customer_key)),
            text("case_kind", day_cases.iter().map(|c| c.kind)),
            text("case_category", day_cases.iter().map(|c| c.category)),
            timestamps(
                "opened_at",
                day_cases.iter().map(|c| Some(c.events.opened_at)),
            ),
            timestamps(
                "first_response_at",
                case_clock.iter().map(|k| k.first_response_at),
            ),
            timestamps(
                "first_resolved_at",
                case_clock.iter().map(|k| k.first_resolved_at),
            ),
            timestamps(
                "last_resolved_at",
                case_clock.iter().map(|k| k.last_resolved_at),
            ),
            ints(
                "reopen_count",
                case_clock.iter().map(|k| Some(k.reopen_count)),
            ),
            ints(
                "agent_replies",
                case_clock.iter().map(|k| Some(k.agent_replies)),
            ),
            ints(
                "first_response_seconds",
                idx.clone().map(|i| dur(i, case_clock[i].first_response_at)),
            ),
            ints(
                "first_response_business_seconds",
                first_response_business.iter().copied(),
            ),
            ints(
                "first_resolution_seconds",
                idx.clone().map(|i| dur(i, case_clock[i].first_resolved_at)),
            ),
            ints(
                "full_resolution_seconds",
                idx.clone().map(|i| dur(i, case_clock[i].last_resolved_at)),
            ),
            ints(
                "full_resolution_business_seconds",
                full_resolution_business.iter().copied(),
            ),
            ints(
                "customer_wait_seconds",
                case_clock
                    .iter()
                    .map(|k| k.customer_wait_micros.map(|m| m / 1_000_000)),
            ),
            ints("rating", case_clock.iter().map(|k| k.rating.map(i64::from))),
        ],
    )
}
