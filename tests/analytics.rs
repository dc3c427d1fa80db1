//! metrics.md's clocks on tiny hand-checked timelines: business hours across weekends and
//! DST nights, reply waits, nearest-rank percentiles, case clocks.

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use msgmeter::accounts::hours::{business_seconds, OpeningTimes, Schedule};
use msgmeter::analytics::build::case_order;
use msgmeter::analytics::cases::{case_clocks, csat, CaseEvents};
use msgmeter::analytics::feed::{hex_customer, timeline_order_of};
use msgmeter::analytics::waits::{nearest_rank, reply_waits};
use msgmeter::analytics::{Happening, Kind};
use proptest::prelude::*;

const H: i64 = 3_600_000_000;
const M: i64 = 60_000_000;
const S: i64 = 1_000_000;

/// µs of a local wall-clock time in `tz` (unambiguous times only).
fn local(tz: &str, t: &str) -> i64 {
    let tz: Tz = tz.parse().unwrap();
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive)
        .single()
        .unwrap()
        .timestamp_micros()
}

fn schedule(text: &str) -> Schedule {
    Schedule::parse(text).unwrap().unwrap()
}

// ----------------------------------------------------------------- business hours

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    /// The precomputed openings give exactly the day-by-day walk through the time zone,
    /// for spans of up to four days over 2025 (both clock changes of each zone), including
    /// spans that leave the precomputed dates (the fallback).
    #[test]
    fn precomputed_openings_equal_the_walk_through_the_time_zone(
        zone in 0usize..3,
        hours in 0usize..3,
        spans in proptest::collection::vec((0i64..(290 * 24 * 3600), 0i64..(4 * 24 * 3600)), 40),
    ) {
        let zones = ["Europe/Berlin", "America/New_York", "Asia/Kolkata"];
        let texts = ["mon-fri 09:00-18:00", "mon-sun 00:00-24:00; sat 10:00-14:00", "sun 00:30-03:00; mon-fri 08:00-12:00,13:00-17:30"];
        let tz: Tz = zones[zone].parse().unwrap();
        let s = schedule(texts[hours]);
        let first = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        let last = chrono::NaiveDate::from_ymd_opt(2025, 11, 30).unwrap();
        let openings = OpeningTimes::new(&s, tz, first, last);
        // From 2025-02-20 on: some spans start before the precomputed dates, some end after.
        let base = chrono::NaiveDate::from_ymd_opt(2025, 2, 20).unwrap()
            .and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros();
        for (start, len) in spans {
            let from = base + start * S;
            let to = from + len * S;
            prop_assert_eq!(openings.seconds(from, to), business_seconds(&s, &tz, from, to));
        }
    }
}

#[test]
fn a_wait_from_friday_1730_to_monday_0930_in_berlin_is_one_business_hour() {
    // Fri 17:30–18:00 and Mon 09:00–09:30; the weekend is closed. 64 calendar hours.
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let from = local("Europe/Berlin", "2025-10-17 17:30");
    let to = local("Europe/Berlin", "2025-10-20 09:30");
    assert_eq!((to - from) / S, 64 * 3600);
    assert_eq!(
        business_seconds(&schedule("mon-fri 09:00-18:00"), &tz, from, to),
        3600
    );
}

#[test]
fn the_spring_forward_night_in_new_york_has_one_hour_less_of_opening() {
    // Sunday 2025-03-09 the clocks jump 02:00 → 03:00: 01:00–04:00 on the wall is 2 h.
    let tz: Tz = "America/New_York".parse().unwrap();
    let from = local("America/New_York", "2025-03-08 12:00");
    let to = local("America/New_York", "2025-03-10 12:00");
    assert_eq!(
        business_seconds(&schedule("sun 01:00-04:00"), &tz, from, to),
        2 * 3600
    );
    // Around the clock, the day is 23 hours long.
    let day_from = local("America/New_York", "2025-03-09 00:00");
    let day_to = local("America/New_York", "2025-03-10 00:00");
    assert_eq!(
        business_seconds(&schedule("mon-sun 00:00-24:00"), &tz, day_from, day_to),
        23 * 3600
    );
}

#[test]
fn the_fall_back_night_in_new_york_has_one_hour_more_of_opening() {
    // Sunday 2025-11-02 02:00 EDT → 01:00 EST: 00:30–03:00 on the wall is 3.5 h.
    let tz: Tz = "America/New_York".parse().unwrap();
    let from = local("America/New_York", "2025-11-01 12:00");
    let to = local("America/New_York", "2025-11-03 12:00");
    assert_eq!(
        business_seconds(&schedule("sun 00:30-03:00"), &tz, from, to),
        3 * 3600 + 1800
    );
}

#[test]
fn business_hours_of_a_wait_spanning_several_days_add_up_each_day() {
    // Mon 16:00 → Thu 10:00 with 09:00–17:00 Mon–Fri: 1 + 8 + 8 + 1 = 18 h.
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let from = local("Europe/Berlin", "2025-10-13 16:00");
    let to = local("Europe/Berlin", "2025-10-16 10:00");
    assert_eq!(
        business_seconds(&schedule("mon-fri 09:00-17:00"), &tz, from, to),
        18 * 3600
    );
    // Two ranges a day, a lunch break between them.
    let lunch = schedule("mon-fri 09:00-12:00, 13:00-17:00");
    let (a, b) = (
        local("Europe/Berlin", "2025-10-13 11:00"),
        local("Europe/Berlin", "2025-10-13 14:00"),
    );
    assert_eq!(business_seconds(&lunch, &tz, a, b), 2 * 3600);
}

#[test]
fn an_account_with_no_schedule_has_no_business_hours_and_bad_schedules_are_errors() {
    assert_eq!(Schedule::parse("").unwrap(), None);
    assert_eq!(Schedule::parse("   ").unwrap(), None);
    assert!(
        Schedule::parse("mon-fri 18:00-09:00").is_err(),
        "no overnight ranges"
    );
    assert!(Schedule::parse("mon-fry 09:00-18:00").is_err());
    assert!(Schedule::parse("mon-fri 9-18").is_err());
    assert!(Schedule::parse("fri-mon 09:00-18:00").is_err());
}

// -------------------------------------------------------------------- reply waits

fn at(minutes: i64, kind: Kind) -> Happening {
    Happening {
        ts: minutes * M,
        kind,
    }
}
const C: Kind = Kind::CustomerMessage;
const AGENT: Kind = Kind::Reply { by: "agent" };
const BOT: Kind = Kind::Reply { by: "bot" };

#[test]
fn several_customer_messages_before_a_reply_are_one_wait() {
    let w = reply_waits([at(0, C), at(1, C), at(2, C), at(10, AGENT)]);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].started_at, 0);
    assert_eq!(w[0].replied_at, Some(10 * M));
    assert_eq!(w[0].replied_by, Some("agent"));
    assert_eq!(w[0].inbound_messages, 3);
}

#[test]
fn a_template_in_between_does_not_stop_the_wait() {
    let w = reply_waits([at(0, C), at(5, Kind::Template), at(20, AGENT)]);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].replied_at, Some(20 * M));
}

#[test]
fn a_bot_reply_stops_the_wait_and_the_human_clock_runs_on_to_the_agent() {
    let w = reply_waits([
        Happening { ts: 0, kind: C },
        Happening {
            ts: 30 * S,
            kind: BOT,
        },
        at(15, AGENT),
    ]);
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].replied_at, w[0].replied_by),
        (Some(30 * S), Some("bot"))
    );
    assert_eq!(w[0].human_replied_at, Some(15 * M));
}

#[test]
fn an_unanswered_wait_stays_open_and_reactions_neither_start_nor_join_waits() {
    let w = reply_waits([at(0, Kind::Reaction), at(10, C), at(11, Kind::Reaction)]);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].started_at, 10 * M);
    assert_eq!((w[0].replied_at, w[0].inbound_messages), (None, 1));
}

#[test]
fn a_reply_in_the_same_second_answers_in_zero_seconds_and_the_next_message_starts_a_new_wait() {
    let w = reply_waits([at(0, C), at(0, AGENT), at(5, C), at(9, AGENT)]);
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].replied_at, Some(0));
    assert_eq!((w[1].started_at, w[1].replied_at), (5 * M, Some(9 * M)));
}

#[test]
fn a_wait_is_first_when_nothing_happened_in_the_24_hours_before_it() {
    // A template exactly 24 h before: outside the half-open window, so first.
    let w = reply_waits([
        at(0, Kind::Template),
        at(24 * 60, C),
        at(24 * 60 + 1, AGENT),
    ]);
    assert!(w[0].is_first);
    // 23 h 59 min before: not first (reactions and templates count too).
    let w = reply_waits([
        at(1, Kind::Reaction),
        at(24 * 60, C),
        at(24 * 60 + 1, AGENT),
    ]);
    assert!(!w[0].is_first);
    let w = reply_waits([at(0, C), at(2, AGENT), at(60, C)]);
    assert!(w[0].is_first && !w[1].is_first);
}

#[test]
fn nearest_rank_percentiles_on_known_lists() {
    let ten: Vec<i64> = (1..=10).collect();
    // ⌈0.5·10⌉ = 5, ⌈0.9·10⌉ = 9, ⌈0.99·10⌉ = 10.
    assert_eq!(nearest_rank(&ten, 0.5), Some(5));
    assert_eq!(nearest_rank(&ten, 0.9), Some(9));
    assert_eq!(nearest_rank(&ten, 0.99), Some(10));
    // Ties: [3, 3, 3, 8]: ⌈2⌉ = 2 → 3; ⌈3.6⌉ = 4 → 8.
    assert_eq!(nearest_rank(&[3, 3, 3, 8], 0.5), Some(3));
    assert_eq!(nearest_rank(&[3, 3, 3, 8], 0.9), Some(8));
    // One element is every percentile; none is none.
    for q in [0.5, 0.9, 0.99] {
        assert_eq!(nearest_rank(&[42], q), Some(42));
        assert_eq!(nearest_rank(&[], q), None);
    }
    // Seven values: ⌈3.5⌉ = 4 (interpolating methods would give 4.0 or 3.5).
    assert_eq!(nearest_rank(&[10, 20, 30, 40, 50, 60, 70], 0.5), Some(40));
}

// ---------------------------------------------------------------------- case clocks

fn case<'a>(statuses: &[(i64, &'a str)]) -> CaseEvents<'a> {
    CaseEvents {
        opened_at: 0,
        statuses: statuses.to_vec(),
        ratings: Vec::new(),
    }
}

#[test]
fn a_reopened_case_keeps_its_first_resolution_and_resolves_fully_at_the_last_entry() {
    // open 0–1 h, resolved 1 h, reopened 2 h, resolved 3 h, closed 4 h (closed keeps 3 h).
    let c = case(&[
        (H, "resolved"),
        (2 * H, "reopened"),
        (3 * H, "resolved"),
        (4 * H, "closed"),
    ]);
    let clocks = case_clocks(&c, &[30 * M, 2 * H + 30 * M, 5 * H]);
    assert_eq!(clocks.first_resolved_at, Some(H));
    assert_eq!(clocks.last_resolved_at, Some(3 * H));
    assert_eq!(clocks.reopen_count, 1);
    // Waiting while open (0–1 h) and reopened (2–3 h).
    assert_eq!(clocks.customer_wait_micros, Some(2 * H));
    assert_eq!(clocks.first_response_at, Some(30 * M));
    // Agent messages up to full resolution: 0:30 and 2:30, not 5:00.
    assert_eq!(clocks.agent_replies, 2);
}

#[test]
fn a_pending_period_is_not_customer_wait() {
    let c = case(&[(H, "pending"), (3 * H, "open"), (4 * H, "resolved")]);
    assert_eq!(case_clocks(&c, &[]).customer_wait_micros, Some(2 * H));
    // On hold does count.
    let c = case(&[(H, "on_hold"), (3 * H, "resolved")]);
    assert_eq!(case_clocks(&c, &[]).customer_wait_micros, Some(3 * H));
}

#[test]
fn an_open_case_has_no_full_resolution_and_no_customer_wait() {
    let c = case(&[(H, "resolved"), (2 * H, "reopened")]);
    let clocks = case_clocks(&c, &[]);
    assert_eq!(clocks.first_resolved_at, Some(H));
    assert_eq!(
        (clocks.last_resolved_at, clocks.customer_wait_micros),
        (None, None)
    );
}

#[test]
fn the_first_response_must_come_before_the_case_is_first_done() {
    let c = case(&[(H, "resolved"), (2 * H, "reopened")]);
    assert_eq!(case_clocks(&c, &[2 * H + 30 * M]).first_response_at, None);
}

#[test]
fn the_latest_rating_counts_and_a_3_is_not_satisfied() {
    let mut c = case(&[(H, "resolved")]);
    c.ratings = vec![(2 * H, 5), (3 * H, 3)];
    assert_eq!(case_clocks(&c, &[]).rating, Some(3));
    // CSAT over cases rated 5, 4, 3 and one unrated: 2 satisfied of 3 rated.
    assert_eq!(csat([Some(5), Some(4), Some(3), None]), (2, 3));
}

#[test]
fn overlapping_ranges_of_a_day_are_counted_once() {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let s = schedule("mon-fri 09:00-18:00; mon 12:00-14:00");
    let (a, b) = (
        local("Europe/Berlin", "2025-10-13 08:00"),
        local("Europe/Berlin", "2025-10-13 20:00"),
    );
    assert_eq!(business_seconds(&s, &tz, a, b), 9 * 3600);
}

#[test]
fn a_closing_time_inside_the_repeated_hour_keeps_the_whole_hour() {
    // 2025-11-02 00:00 EDT → 01:30 (EST, the second one): 2.5 real hours.
    let tz: Tz = "America/New_York".parse().unwrap();
    let from = local("America/New_York", "2025-11-01 12:00");
    let to = local("America/New_York", "2025-11-03 12:00");
    assert_eq!(
        business_seconds(&schedule("sun 00:00-01:30"), &tz, from, to),
        9000
    );
}

#[test]
fn a_repeated_reopened_status_is_one_reopening() {
    let c = case(&[
        (H, "resolved"),
        (2 * H, "reopened"),
        (2 * H + M, "reopened"),
        (3 * H, "resolved"),
    ]);
    assert_eq!(case_clocks(&c, &[]).reopen_count, 1);
}

// ------------------------------------------------------------- customer keys as numbers

#[test]
fn a_customer_key_of_32_lowercase_hex_digits_is_read_as_its_128_bits() {
    assert_eq!(
        hex_customer("0123456789abcdef0123456789abcdef"),
        Some(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)
    );
    assert_eq!(hex_customer(&"f".repeat(32)), Some(u128::MAX));
    assert_eq!(hex_customer(&"0".repeat(32)), Some(0));
    // Anything else is kept as text: upper case (another key than its lower-case
    // spelling), other lengths, other characters.
    assert_eq!(hex_customer("0123456789ABCDEF0123456789abcdef"), None);
    assert_eq!(hex_customer(&"a".repeat(31)), None);
    assert_eq!(hex_customer(&"a".repeat(33)), None);
    assert_eq!(hex_customer("0123456789abcdef0123456789abcdeg"), None);
    assert_eq!(hex_customer(""), None);
}

proptest! {
    /// reply_waits' rows are ordered by these numbers: that must be the keys' text order.
    #[test]
    fn hex_customer_keys_order_as_their_text(a in any::<u128>(), b in any::<u128>()) {
        let (ta, tb) = (format!("{a:032x}"), format!("{b:032x}"));
        prop_assert_eq!(hex_customer(&ta), Some(a));
        prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    /// Timelines are grouped by a radix sort that trusts each date's rows to be in time
    /// order per business: it must give the comparison sort's order (pair, time, kind)
    /// on rows in that order, and on rows in any order at all.
    #[test]
    fn timelines_come_out_in_the_comparison_sorts_order(
        rows in proptest::collection::vec((0u64..5, 0u64..3000, 0i64..50, 0u8..6), 0..2000),
        shuffled in any::<bool>(),
    ) {
        let customers = 3000;
        let mut input: Vec<(u64, i64, u8)> = rows
            .iter()
            .map(|&(business, customer, ts, kind)| (business << 32 | customer, ts, kind))
            .collect();
        if !shuffled {
            // As an events file holds them: by business, then time (kinds in any order
            // within an instant).
            input.sort_by_key(|&(key, ts, _)| (key >> 32, ts));
        }
        let mut expected = input.clone();
        expected.sort();
        prop_assert_eq!(timeline_order_of(&input, customers), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    /// Case events are grouped by a counting sort that trusts each date's events to be in
    /// time order per business: it must give the comparison sort's order (business, case
    /// id, time, event key) on events in that order, and on events in any order at all.
    #[test]
    fn case_events_come_out_in_the_comparison_sorts_order(
        events in proptest::collection::vec((0u8..3, 0u8..6, 0i64..20), 0..400),
        shuffled in any::<bool>(),
    ) {
        let mut events: Vec<(String, String, i64, String)> = events
            .iter()
            .enumerate()
            .map(|(i, &(b, c, ts))| (format!("biz{b}"), format!("case-{c}"), ts, format!("key{i:04}")))
            .collect();
        if !shuffled {
            events.sort_by(|a, b| (&a.0, a.2, &a.3).cmp(&(&b.0, b.2, &b.3)));
        }
        let business: Vec<Option<&str>> = events.iter().map(|e| Some(e.0.as_str())).collect();
        let case_id: Vec<Option<&str>> = events.iter().map(|e| Some(e.1.as_str())).collect();
        let (order, _) = case_order(&business, &case_id, |i| (events[i].2, events[i].3.clone()), events.len());
        let mut expected: Vec<usize> = (0..events.len()).collect();
        expected.sort_by_key(|&i| events[i].clone());
        prop_assert_eq!(order, expected);
    }
}
