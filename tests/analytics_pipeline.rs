//! metrics.md through the real pipeline: event-log timelines ingested and built, then
//! `reply_waits`, `cases` and `business_daily` read back and checked against values
//! computed by hand.

use msgmeter::accounts::Accounts;

use crate::common::{query, string};
use crate::metering_common::*;

fn one(lake: &std::path::Path, sql: &str) -> Vec<Option<String>> {
    let df = query(lake, sql);
    assert_eq!(df.height(), 1, "{sql}: {df}");
    df.get_column_names()
        .iter()
        .map(|c| string(&df, c.as_str(), 0))
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn lake_with(script: &Script, accounts: Accounts) -> MeterLake {
    let lake = ingested_with(script, accounts);
    lake.build(None, None);
    lake
}

#[test]
fn a_wait_from_friday_1730_to_monday_0930_in_berlin_counts_one_business_hour() {
    let mut sc = Script::new();
    sc.customer_writes(BR, "2025-10-17T15:30:00Z")
        .reply_delivered(BR, "r1", "2025-10-20T07:30:00Z");
    let lake = lake_with(&sc, accounts("Europe/Berlin", false));
    let sql =
        "SELECT CAST(date AS VARCHAR) AS d, wait_seconds, wait_business_seconds, replied_by, \
               inbound_messages, is_first FROM reply_waits";
    // 64 calendar hours; Fri 17:30–18:00 + Mon 09:00–09:30 = 1 business hour.
    assert_eq!(
        one(&lake.lake(), sql),
        vec![
            s("2025-10-17"),
            s("230400"),
            s("3600"),
            s("agent"),
            s("1"),
            s("true")
        ]
    );
    // No schedule: the business-hours duration is null, not zero.
    let lake = lake_with(&sc, accounts_with_hours("Europe/Berlin", false, ""));
    let row = one(
        &lake.lake(),
        "SELECT wait_seconds, wait_business_seconds FROM reply_waits",
    );
    assert_eq!(row, vec![s("230400"), None]);
}

#[test]
fn business_daily_has_the_days_waits_percentiles_and_sla() {
    // BR: writes 10:00 and 10:01; a utility template 10:05 (no answer); the bot 10:06,
    //     an agent 10:20 → one wait, 360 s (bot), first human response 1,200 s.
    // BR2: writes 12:00, agent 12:30 → 1,800 s; writes 12:40 → unanswered, not first.
    let mut sc = Script::new();
    sc.customer_writes(BR, "2025-10-01T10:00:00Z")
        .customer_writes(BR, "2025-10-01T10:01:00Z")
        .template_delivered(BR, "t1", "utility", "2025-10-01T10:05:00Z")
        .bot_reply(BR, "b1", "2025-10-01T10:06:00Z")
        .reply(BR, "a1", "2025-10-01T10:20:00Z")
        .customer_writes(BR2, "2025-10-01T12:00:00Z")
        .reply(BR2, "a2", "2025-10-01T12:30:00Z")
        .customer_writes(BR2, "2025-10-01T12:40:00Z");
    let lake = lake_with(
        &sc,
        accounts_with_hours("UTC", false, "mon-sun 00:00-24:00"),
    );
    let waits = query(
        &lake.lake(),
        "SELECT wait_seconds, human_wait_seconds, replied_by, inbound_messages, is_first \
         FROM reply_waits ORDER BY started_at",
    );
    assert_eq!(waits.height(), 3, "{waits}");
    assert_eq!(string(&waits, "wait_seconds", 0), s("360"));
    assert_eq!(string(&waits, "human_wait_seconds", 0), s("1200"));
    assert_eq!(string(&waits, "replied_by", 0), s("bot"));
    assert_eq!(string(&waits, "inbound_messages", 0), s("2"));
    assert_eq!(string(&waits, "wait_seconds", 2), None);
    assert_eq!(string(&waits, "is_first", 2), s("false"));
    let row = one(
        &lake.lake(),
        "SELECT messages_in, messages_out_agent, messages_out_bot, messages_out_system, waits, \
         waits_answered, waits_unanswered, wait_p50_seconds, wait_p90_seconds, wait_mean_seconds, \
         wait_max_seconds, first_waits, first_response_p50_seconds, \
         first_human_response_p50_seconds, sla_met, sla_over, sla_attainment, billable_units \
         FROM business_daily WHERE date = '2025-10-01'",
    );
    // p50 of [360, 1800]: ⌈1⌉ → 360; p90: ⌈1.8⌉ = 2 → 1800. SLA 15 min: 360 s met,
    // 1,800 s missed, the open wait is not first. No billable unit: the utility template
    // went out inside the customer's open service window (free in October 2025).
    assert_eq!(
        row,
        vec![
            s("4"),
            s("2"),
            s("1"),
            s("1"),
            s("3"),
            s("2"),
            s("1"),
            s("360"),
            s("1800"),
            s("1080.0"),
            s("1800"),
            s("2"),
            s("360"),
            s("1200"),
            s("1"),
            s("2"),
            s("0.5"),
            s("0"),
        ]
    );
}

#[test]
fn a_reopened_case_and_its_clocks_through_the_pipeline() {
    // Complaint opened 09:00; agent reply 09:30; resolved 10:00, reopened 11:00,
    // resolved 12:00, closed 13:00; rated 5 then 3. A status for a case never opened.
    let mut sc = Script::new();
    sc.case_opened("c1", BR, "complaint", "billing", "2025-10-01T09:00:00Z")
        .reply_delivered(BR, "r1", "2025-10-01T09:30:00Z")
        .case_status("c1", "resolved", "2025-10-01T10:00:00Z")
        .case_status("c1", "reopened", "2025-10-01T11:00:00Z")
        .case_status("c1", "resolved", "2025-10-01T12:00:00Z")
        .case_status("c1", "closed", "2025-10-01T13:00:00Z")
        .case_rating("c1", 5, "2025-10-01T14:00:00Z")
        .case_rating("c1", 3, "2025-10-01T15:00:00Z")
        .case_status("ghost", "resolved", "2025-10-01T10:00:00Z")
        .case_opened("c2", BR2, "request", "delivery", "2025-10-01T20:00:00Z")
        .template_delivered(BR2, "m1", "marketing", "2025-10-01T16:00:00Z");
    let lake = lake_with(
        &sc,
        accounts_with_hours("UTC", false, "mon-sun 00:00-24:00"),
    );
    let row = one(
        &lake.lake(),
        "SELECT first_response_seconds, first_response_business_seconds, first_resolution_seconds, \
         full_resolution_seconds, customer_wait_seconds, reopen_count, agent_replies, rating \
         FROM cases WHERE case_id = 'c1'",
    );
    assert_eq!(
        row,
        vec![
            s("1800"),
            s("1800"),
            s("3600"),
            s("10800"),
            s("7200"),
            s("1"),
            s("1"),
            s("3")
        ]
    );
    let daily = one(
        &lake.lake(),
        "SELECT cases_opened, cases_resolved, complaints_opened, billable_units, \
         complaint_rate_per_1000, orphan_case_events, billed_source, cases_reopened, \
         cases_one_touch, cases_timely_response, case_backlog, csat_satisfied, csat_ratings \
         FROM business_daily",
    );
    // Two cases opened, one done at the day's end (c1: reopened once, one agent reply,
    // answered in 30 min, latest rating 3) and one still open (the backlog). One
    // complaint per one billable unit (the marketing template): 1,000 per 1,000.
    assert_eq!(
        daily,
        vec![
            s("2"),
            s("1"),
            s("1"),
            s("1"),
            s("1000.0"),
            s("1"),
            s("derived"),
            s("1"),
            s("1"),
            s("1"),
            s("1"),
            s("0"),
            s("1"),
        ]
    );
}

#[test]
fn a_wait_owed_from_before_the_build_starts_no_new_wait_and_completes_when_rebuilt() {
    let mut sc = Script::new();
    sc.customer_writes(BR, "2025-10-01T10:00:00Z")
        .customer_writes(BR, "2025-10-04T10:00:00Z")
        .reply_delivered(BR, "r1", "2025-10-04T10:05:00Z");
    let lake = ingested(&sc);
    lake.build(Some("2025-10-04"), Some("2025-10-04"));
    let on_4th = query(&lake.lake(), "SELECT * FROM reply_waits");
    assert_eq!(
        on_4th.height(),
        0,
        "the customer has been waiting since the 1st: {on_4th}"
    );
    // Rebuilding the start date completes the old wait.
    lake.build(Some("2025-10-01"), Some("2025-10-01"));
    let row = one(
        &lake.lake(),
        "SELECT CAST(date AS VARCHAR) AS d, wait_seconds, inbound_messages FROM reply_waits",
    );
    assert_eq!(row, vec![s("2025-10-01"), s("259500"), s("2")]);
}

#[test]
fn business_daily_counts_conversations_by_category() {
    // CBP (March 2024): authentication + authentication = one conversation, marketing a
    // second; a free-form reply with nothing open a service one (free tier).
    let mut sc = Script::new();
    sc.template_delivered(BR, "a1", "authentication", "2024-03-05T10:00:00Z")
        .template_delivered(BR, "a2", "authentication", "2024-03-05T20:00:00Z")
        .template_delivered(BR, "m1", "marketing", "2024-03-05T21:00:00Z")
        .customer_writes(BR2, "2024-03-05T09:00:00Z")
        .reply_delivered(BR2, "r1", "2024-03-05T09:10:00Z");
    let lake = lake_with(&sc, accounts("UTC", false));
    let row = one(
        &lake.lake(),
        "SELECT conversations_opened, conversations_marketing, conversations_utility, \
         conversations_authentication, conversations_service, conversations_other, \
         billable_units, billable_authentication, billable_marketing, billable_service \
         FROM business_daily",
    );
    assert_eq!(
        row,
        vec![
            s("3"),
            s("1"),
            s("0"),
            s("1"),
            s("1"),
            s("0"),
            s("2"),
            s("1"),
            s("1"),
            s("0"),
        ]
    );
}

#[test]
fn the_timely_response_window_comes_from_the_config_file() {
    use msgmeter::settings::{CommandLine, ConfigFile, Settings};
    let resolve = |text: &str| {
        let cfg: ConfigFile = toml::from_str(text).unwrap();
        Settings::resolve(CommandLine::default(), cfg, None)
            .unwrap()
            .timely_response_hours
    };
    assert_eq!(resolve(""), 24);
    assert_eq!(resolve("[metrics]\ntimely_response_hours = 2\n"), 2);
    // A first response after 3 h is timely within 24 h, not within 2 h.
    let mut sc = Script::new();
    sc.case_opened("c1", BR, "request", "card", "2025-10-01T09:00:00Z")
        .reply_delivered(BR, "r1", "2025-10-01T12:00:00Z");
    let lake = ingested(&sc);
    for (hours, timely) in [(24, "1"), (2, "0")] {
        let mut opts = build_options(&lake.lake(), &lake.accounts, None, None, Default::default());
        opts.timely_response_hours = hours;
        msgmeter::pipeline::build(&opts).unwrap();
        let row = one(
            &lake.lake(),
            "SELECT cases_timely_response FROM business_daily",
        );
        assert_eq!(row, vec![s(timely)], "within {hours} h");
    }
}
