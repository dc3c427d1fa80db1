//! `business_daily` (metrics.md): per business and UTC day, the headline numbers of every
//! table the build wrote — messages and deliveries, billable units of the billed source,
//! reply waits with their percentiles and SLA, cases and the backlog.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use super::build::{BusinessClocks, Case, WaitRow};
use super::cases::{is_done, is_satisfied, CaseEvents};
use super::feed::{Feed, MessageCounts};
use super::waits::nearest_rank;
use crate::error::Result;
use crate::lake::billed::BilledSources;
use crate::lake::columns::{
    bool_values, i64_values, ints, str_column, str_values, table_frame, text,
};
use crate::lake::Lake;
use crate::schema::{BUSINESS_DAILY, CONVERSATIONS, MESSAGES, USAGE_DAILY};
use crate::time::start_of;

/// Count a day's waits into `business_daily` (metrics.md): waits, answered, first waits,
/// SLA met and over. The waits come grouped by business.
pub(super) fn count_waits(
    daily: &mut BTreeMap<String, Daily>,
    rows: &[WaitRow<'_>],
    business_secs: &[Option<i64>],
    clocks: &BusinessClocks,
    feed: &Feed,
    day_end: i64,
) {
    // The day's waits come by business: one lookup per business.
    let mut offset = 0;
    for run in rows.chunk_by(|a, b| feed.business_index(a.1) == feed.business_index(b.1)) {
        let (from, b) = (offset, run[0].0);
        offset += run.len();
        let d = daily_of(daily, b);
        let clock = &clocks[b];
        let target = clock.account.sla_first_response_minutes as i64 * 60;
        for (i, (_, _, w, _)) in run.iter().enumerate() {
            d.waits += 1;
            if let Some(r) = w.replied_at {
                d.answered.push((r - w.started_at) / 1_000_000);
            }
            if !w.is_first {
                continue;
            }
            d.first_waits += 1;
            if let Some(r) = w.replied_at {
                d.first_answered.push((r - w.started_at) / 1_000_000);
            }
            if let Some(h) = w.human_replied_at {
                d.first_human.push((h - w.started_at) / 1_000_000);
            }
            // SLA: answered within target, over = answered or still open past
            // it. Answered: the wait's own duration (business hours above).
            let end = w.replied_at.unwrap_or(day_end);
            let elapsed = match w.replied_at {
                Some(_) => business_secs[from + i],
                None => clock.business_seconds(w.started_at, end),
            }
            .unwrap_or((end - w.started_at) / 1_000_000);
            match w.replied_at {
                Some(_) => {
                    d.sla_over += 1;
                    if elapsed <= target {
                        d.sla_met += 1;
                    }
                }
                None if elapsed > target => d.sla_over += 1,
                None => {}
            }
        }
    }
}

/// Count a day's cases into `business_daily` (metrics.md): opened, resolved by the day's
/// end, reopened, one-touch, timely first response, ratings, complaints.
pub(super) fn count_cases(
    daily: &mut BTreeMap<String, Daily>,
    day_cases: &[&Case<'_>],
    day_end: i64,
    timely_micros: i64,
) {
    for c in day_cases {
        let k = &c.clocks;
        let d = daily_of(daily, c.business_id);
        d.cases_opened += 1;
        let done_by_end = case_done_at(&c.events, day_end);
        d.cases_resolved += done_by_end as i64;
        d.cases_reopened += (k.reopen_count > 0) as i64;
        d.one_touch += (done_by_end && k.agent_replies <= 1) as i64;
        d.timely += k
            .first_response_at
            .is_some_and(|r| r - c.events.opened_at <= timely_micros) as i64;
        if let Some(r) = k.rating {
            d.rated += 1;
            d.satisfied += is_satisfied(r) as i64;
        }
        if c.kind == Some("complaint") {
            d.complaints += 1;
        }
    }
}

/// Per date built and business: the cases opened before the date's end and not in a done
/// state at it. Each case's statuses walked once alongside the dates.
pub(super) fn backlog_by_day<'a, 'e: 'a>(
    cases: impl Iterator<Item = (&'a str, &'a CaseEvents<'e>)> + Clone,
    dates: &[NaiveDate],
) -> BTreeMap<NaiveDate, BTreeMap<&'a str, i64>> {
    let mut dates = dates.to_vec();
    dates.sort_unstable();
    let mut businesses: Vec<&str> = cases.clone().map(|(business, _)| business).collect();
    businesses.sort_unstable();
    businesses.dedup();
    // counts[date × businesses + business]
    let mut counts = vec![0i64; dates.len() * businesses.len()];
    for (business, events) in cases {
        let opened_at = events.opened_at;
        let b = businesses.binary_search(&business).expect("listed above");
        let (mut next, mut done) = (0, false);
        for (d, day) in dates.iter().enumerate() {
            let day_end = start_of(day.succ_opt().expect("date"));
            // The latest status in [opened, day end) decides (statuses ascending).
            while let Some(&(ts, status)) = events.statuses.get(next).filter(|s| s.0 < day_end) {
                if ts >= opened_at {
                    done = is_done(status);
                }
                next += 1;
            }
            if opened_at < day_end && !done {
                counts[d * businesses.len() + b] += 1;
            }
        }
    }
    let mut backlog: BTreeMap<NaiveDate, BTreeMap<&str, i64>> = BTreeMap::new();
    for (d, &day) in dates.iter().enumerate() {
        for (b, &business) in businesses.iter().enumerate() {
            let n = counts[d * businesses.len() + b];
            if n > 0 {
                backlog.entry(day).or_default().insert(business, n);
            }
        }
    }
    backlog
}

/// Is the case in a done state at instant `t`?
pub(super) fn case_done_at(case: &CaseEvents, t: i64) -> bool {
    case.statuses
        .iter()
        .rfind(|(ts, _)| *ts >= case.opened_at && *ts < t)
        .is_some_and(|(_, s)| is_done(s))
}

#[derive(Default)]
pub(super) struct Daily {
    pub(super) messages_in: i64,
    pub(super) out_agent: i64,
    pub(super) out_bot: i64,
    pub(super) out_system: i64,
    pub(super) delivered: i64,
    pub(super) failed: i64,
    pub(super) read: i64,
    pub(super) conversations: [i64; 5],
    pub(super) billed_source: Option<String>,
    pub(super) billable: [i64; 5],
    pub(super) waits: i64,
    pub(super) answered: Vec<i64>,
    pub(super) first_waits: i64,
    pub(super) first_answered: Vec<i64>,
    pub(super) first_human: Vec<i64>,
    pub(super) sla_met: i64,
    pub(super) sla_over: i64,
    pub(super) cases_opened: i64,
    pub(super) cases_resolved: i64,
    pub(super) cases_reopened: i64,
    pub(super) one_touch: i64,
    pub(super) timely: i64,
    pub(super) backlog: i64,
    pub(super) satisfied: i64,
    pub(super) rated: i64,
    pub(super) complaints: i64,
    pub(super) orphans: i64,
}

/// `f(value, rows)` for each run of equal values of `column` (a table's rows sorted by
/// business: one lookup per business instead of one per row).
pub(super) fn for_each_run(
    column: &StringChunked,
    mut f: impl FnMut(Option<&str>, std::ops::Range<usize>),
) {
    let mut start = 0;
    let mut current = None;
    for (i, value) in column.iter().enumerate() {
        if i > 0 && value != current {
            f(current, start..i);
            start = i;
        }
        current = value;
    }
    if start < column.len() {
        f(current, start..column.len());
    }
}

/// The day's row of `business`, made on first use.
pub(super) fn daily_of<'a>(
    daily: &'a mut BTreeMap<String, Daily>,
    business: &str,
) -> &'a mut Daily {
    if !daily.contains_key(business) {
        daily.insert(business.to_string(), Daily::default());
    }
    daily.get_mut(business).expect("inserted above")
}

pub(super) fn read_partition(
    lake: &Lake,
    table: &crate::schema::Table,
    day: NaiveDate,
    columns: &[&str],
) -> Result<Option<DataFrame>> {
    lake.read_date(table, day, Some(columns))
}

/// Message, delivery, conversation and billable-unit counts of the day, from `events`,
/// `messages`, `conversations`, `usage_daily` and `billing_sources`.
pub(super) fn add_message_counts(
    lake: &Lake,
    billed: &BilledSources,
    day: NaiveDate,
    message_counts: Option<&BTreeMap<String, MessageCounts>>,
    daily: &mut BTreeMap<String, Daily>,
) -> Result<()> {
    for (business, c) in message_counts.into_iter().flatten() {
        let d = daily_of(daily, business);
        d.messages_in += c.messages_in;
        d.out_agent += c.out_agent;
        d.out_bot += c.out_bot;
        d.out_system += c.out_system;
    }
    if let Some(m) = read_partition(
        lake,
        &MESSAGES,
        day,
        &["business_id", "delivered_at", "read_at", "failed_at"],
    )? {
        let b = str_column(&m, "business_id")?;
        let del = i64_values(&m, "delivered_at")?;
        let rd = i64_values(&m, "read_at")?;
        let fl = i64_values(&m, "failed_at")?;
        for_each_run(&b, |business, rows| {
            let d = daily_of(daily, business.unwrap_or_default());
            for i in rows {
                d.delivered += del[i].is_some() as i64;
                d.read += rd[i].is_some() as i64;
                d.failed += (fl[i].is_some() && del[i].is_none()) as i64;
            }
        });
    }
    if let Some(c) = read_partition(lake, &CONVERSATIONS, day, &["business_id", "category"])? {
        let categories = str_column(&c, "category")?;
        for_each_run(&str_column(&c, "business_id")?, |business, rows| {
            let Some(b) = business else { return };
            let d = daily_of(daily, b);
            for i in rows {
                d.conversations[category_slot(categories.get(i))] += 1;
            }
        });
    }
    if let Some(u) = read_partition(
        lake,
        &USAGE_DAILY,
        day,
        &[
            "business_id",
            "billing_month",
            "category",
            "source",
            "billable",
            "units",
        ],
    )? {
        let b = str_values(&u, "business_id")?;
        let m = str_values(&u, "billing_month")?;
        let cat = str_values(&u, "category")?;
        let src = str_values(&u, "source")?;
        let billable = bool_values(&u, "billable")?;
        let units = i64_values(&u, "units")?;
        for i in 0..u.height() {
            let (Some(b), Some(m)) = (&b[i], &m[i]) else {
                continue;
            };
            let source = billed.of(b, m);
            if src[i].as_deref() != Some(source) || billable[i] != Some(true) {
                continue;
            }
            let d = daily.entry(b.clone()).or_default();
            d.billed_source = Some(source.to_string());
            d.billable[category_slot(cat[i].as_deref())] += units[i].unwrap_or_default();
        }
    }
    Ok(())
}

/// The category columns of `business_daily`: marketing, utility, authentication (and
/// authentication_international), service, other.
pub(super) fn category_slot(category: Option<&str>) -> usize {
    match category {
        Some("marketing") => 0,
        Some("utility") => 1,
        Some("authentication") | Some("authentication_international") => 2,
        Some("service") => 3,
        _ => 4,
    }
}

pub(super) fn daily_frame(daily: &BTreeMap<String, Daily>) -> Result<DataFrame> {
    let d = || daily.values();
    let sorted: Vec<Vec<i64>> = d()
        .map(|x| {
            let mut v = x.answered.clone();
            v.sort_unstable();
            v
        })
        .collect();
    let first: Vec<Vec<i64>> = d()
        .map(|x| {
            let mut v = x.first_answered.clone();
            v.sort_unstable();
            v
        })
        .collect();
    let human: Vec<Vec<i64>> = d()
        .map(|x| {
            let mut v = x.first_human.clone();
            v.sort_unstable();
            v
        })
        .collect();
    let total = |x: &Daily| x.billable.iter().sum::<i64>();
    let floats = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
    table_frame(
        &BUSINESS_DAILY,
        daily.len(),
        vec![
            text("business_id", daily.keys().map(|k| Some(k.as_str()))),
            ints("messages_in", d().map(|x| Some(x.messages_in))),
            ints("messages_out_agent", d().map(|x| Some(x.out_agent))),
            ints("messages_out_bot", d().map(|x| Some(x.out_bot))),
            ints("messages_out_system", d().map(|x| Some(x.out_system))),
            ints("delivered", d().map(|x| Some(x.delivered))),
            ints("failed", d().map(|x| Some(x.failed))),
            floats(
                "read_rate",
                d().map(|x| (x.delivered > 0).then(|| x.read as f64 / x.delivered as f64))
                    .collect(),
            ),
            ints(
                "conversations_opened",
                d().map(|x| Some(x.conversations.iter().sum())),
            ),
            ints(
                "conversations_marketing",
                d().map(|x| Some(x.conversations[0])),
            ),
            ints(
                "conversations_utility",
                d().map(|x| Some(x.conversations[1])),
            ),
            ints(
                "conversations_authentication",
                d().map(|x| Some(x.conversations[2])),
            ),
            ints(
                "conversations_service",
                d().map(|x| Some(x.conversations[3])),
            ),
            ints("conversations_other", d().map(|x| Some(x.conversations[4]))),
            text("billed_source", d().map(|x| x.billed_source.as_deref())),
            ints("billable_units", d().map(|x| Some(total(x)))),
            ints("billable_marketing", d().map(|x| Some(x.billable[0]))),
            ints("billable_utility", d().map(|x| Some(x.billable[1]))),
            ints("billable_authentication", d().map(|x| Some(x.billable[2]))),
            ints("billable_service", d().map(|x| Some(x.billable[3]))),
            ints("billable_other", d().map(|x| Some(x.billable[4]))),
            ints("waits", d().map(|x| Some(x.waits))),
            ints("waits_answered", d().map(|x| Some(x.answered.len() as i64))),
            ints(
                "waits_unanswered",
                d().map(|x| Some(x.waits - x.answered.len() as i64)),
            ),
            ints(
                "wait_p50_seconds",
                sorted.iter().map(|v| nearest_rank(v, 0.5)),
            ),
            ints(
                "wait_p90_seconds",
                sorted.iter().map(|v| nearest_rank(v, 0.9)),
            ),
            ints(
                "wait_p99_seconds",
                sorted.iter().map(|v| nearest_rank(v, 0.99)),
            ),
            floats(
                "wait_mean_seconds",
                sorted
                    .iter()
                    .map(|v| (!v.is_empty()).then(|| v.iter().sum::<i64>() as f64 / v.len() as f64))
                    .collect(),
            ),
            ints("wait_max_seconds", sorted.iter().map(|v| v.last().copied())),
            ints("first_waits", d().map(|x| Some(x.first_waits))),
            ints(
                "first_response_p50_seconds",
                first.iter().map(|v| nearest_rank(v, 0.5)),
            ),
            ints(
                "first_human_response_p50_seconds",
                human.iter().map(|v| nearest_rank(v, 0.5)),
            ),
            ints("sla_met", d().map(|x| Some(x.sla_met))),
            ints("sla_over", d().map(|x| Some(x.sla_over))),
            floats(
                "sla_attainment",
                d().map(|x| (x.sla_over > 0).then(|| x.sla_met as f64 / x.sla_over as f64))
                    .collect(),
            ),
            ints("cases_opened", d().map(|x| Some(x.cases_opened))),
            ints("cases_resolved", d().map(|x| Some(x.cases_resolved))),
            ints("cases_reopened", d().map(|x| Some(x.cases_reopened))),
            ints("cases_one_touch", d().map(|x| Some(x.one_touch))),
            ints("cases_timely_response", d().map(|x| Some(x.timely))),
            ints("case_backlog", d().map(|x| Some(x.backlog))),
            ints("csat_satisfied", d().map(|x| Some(x.satisfied))),
            ints("csat_ratings", d().map(|x| Some(x.rated))),
            ints("complaints_opened", d().map(|x| Some(x.complaints))),
            floats(
                "complaint_rate_per_1000",
                d().map(|x| (total(x) > 0).then(|| x.complaints as f64 * 1000.0 / total(x) as f64))
                    .collect(),
            ),
            ints("orphan_case_events", d().map(|x| Some(x.orphans))),
        ],
    )
}
