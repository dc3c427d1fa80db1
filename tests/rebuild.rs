//! What nightly rebuilds (spec README, "What nightly rebuilds"): the dates each stage says
//! new events affect, worked out by hand.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use msgmeter::lake::Lake;
use msgmeter::pipeline::dates_to_rebuild;
use msgmeter::pricing::rules::PricingRules;

use crate::common::{ingest_paths, write_lines};
use crate::metering_common::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dates(list: &[&str]) -> BTreeSet<NaiveDate> {
    list.iter().map(|s| d(s)).collect()
}

#[test]
fn metering_redoes_the_day_before_the_four_after_and_the_rest_of_a_month_with_an_allowance() {
    let rules = PricingRules::embedded();
    // October 2025: per-message pricing, no monthly allowance: the date and four after,
    // across the month's end, and the day before (its messages' statuses come from the day
    // after them).
    assert_eq!(
        msgmeter::metering::dates_affected(&rules, &dates(&["2025-10-30"])),
        dates(&[
            "2025-10-29",
            "2025-10-30",
            "2025-10-31",
            "2025-11-01",
            "2025-11-02",
            "2025-11-03"
        ])
    );
    // March 2023: conversation pricing with 1,000 free conversations a month: the day
    // before, the rest of March, and 1 April (a billing month is local to the account: up
    // to a day beyond).
    let mut march: Vec<String> = (19..=31).map(|n| format!("2023-03-{n}")).collect();
    march.push("2023-04-01".into());
    let march: Vec<&str> = march.iter().map(String::as_str).collect();
    assert_eq!(
        msgmeter::metering::dates_affected(&rules, &dates(&["2023-03-20"])),
        dates(&march)
    );
}

#[test]
fn a_late_reply_and_a_late_case_status_redo_the_days_their_wait_and_case_began() {
    let mut sc = Script::new();
    // Built first: BR waits from 1 October, unanswered; case c1 (BR2) opened on the 2nd;
    // BR2 writes on the 3rd and is answered five minutes later (nothing owed).
    sc.customer_writes(BR, "2025-10-01T10:00:00Z")
        .case_opened("c1", BR2, "complaint", "billing", "2025-10-02T09:00:00Z")
        .customer_writes(BR2, "2025-10-03T12:00:00Z")
        .reply_delivered(BR2, "r2", "2025-10-03T12:05:00Z");
    let built = sc.lines.len();
    // Arriving later, on the 20th: the reply BR waited for, and c1 resolved.
    sc.reply_delivered(BR, "r9", "2025-10-20T08:00:00Z")
        .case_status("c1", "resolved", "2025-10-20T09:00:00Z");
    let mut first = sc.clone();
    first.lines.truncate(built);
    let lake = ingested(&first);
    lake.build(None, None);
    let late = write_lines(
        &lake.dir.path().join("late"),
        "late.ndjson",
        &sc.lines[built..],
    );
    ingest_paths(&lake.lake(), &[late], "2030-01-01T00:00:00Z");

    let redo = dates_to_rebuild(
        &Lake::new(lake.lake()),
        &PricingRules::embedded(),
        &dates(&["2025-10-20"]),
    )
    .unwrap();
    // The 1st (BR's wait), the 2nd (c1), and the 20th with the day before and the four
    // days after it; not the 3rd, whose wait was answered before.
    assert_eq!(
        redo,
        dates(&[
            "2025-10-01",
            "2025-10-02",
            "2025-10-19",
            "2025-10-20",
            "2025-10-21",
            "2025-10-22",
            "2025-10-23",
            "2025-10-24"
        ])
    );
    // Nothing arrived: nothing to redo.
    assert!(dates_to_rebuild(
        &Lake::new(lake.lake()),
        &PricingRules::embedded(),
        &BTreeSet::new()
    )
    .unwrap()
    .is_empty());
}
