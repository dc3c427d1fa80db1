//! Metering invariants:
//! - on random event streams, `usage_daily` (derived) equals a second, independent
//!   implementation written straight from billing.md: a naive reference that checks every
//!   window by scanning every message, with its own table of rule periods;
//! - building a range of dates gives the same bytes as building its days one by one;
//! - reported usage on the webhook fixtures equals the pricing objects they carry.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use msgmeter::generate::{generate, GenerateOptions, TrafficFormat};
use msgmeter::metering::SourceChoice;
use proptest::prelude::*;

use crate::common::*;
use crate::metering_common::*;

// ------------------------------------------------------------- the reference

#[derive(Debug, Clone)]
enum Act {
    /// The customer writes (from an ad when `referral`).
    Writes { referral: bool },
    /// The business sends a template of this category.
    Template(&'static str),
    /// The business sends a free-form reply.
    Reply,
}

#[derive(Debug, Clone)]
struct Step {
    customer: usize,
    act: Act,
    /// Seconds after the stream's start.
    at: i64,
    /// Seconds from sending to delivery; `None`: never delivered.
    delivery_delay: Option<i64>,
}

const H: i64 = 3600;
const CATEGORIES: [&str; 3] = ["marketing", "utility", "authentication"];

/// The reference's own reading of billing.md §1 (UTC account): what differs per era.
struct Era {
    cbp: bool,
    /// CBP: service conversations free; PMP: non-template messages free.
    service_free: bool,
    utility_in_window_free: bool,
    /// CBP: the month's first 1,000 service conversations are free.
    service_allowance: bool,
}

fn era(t: DateTime<Utc>) -> Era {
    let d = t.date_naive();
    let on = |s: &str| d >= NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    if on("2026-10-01") {
        Era {
            cbp: false,
            service_free: false,
            utility_in_window_free: false,
            service_allowance: false,
        }
    } else if on("2025-07-01") {
        Era {
            cbp: false,
            service_free: true,
            utility_in_window_free: true,
            service_allowance: false,
        }
    } else if on("2024-11-01") {
        Era {
            cbp: true,
            service_free: true,
            utility_in_window_free: false,
            service_allowance: false,
        }
    } else {
        assert!(
            on("2023-06-01"),
            "the reference starts at the 2023-06 rules"
        );
        Era {
            cbp: true,
            service_free: false,
            utility_in_window_free: false,
            service_allowance: true,
        }
    }
}

/// (customer, category, opened, expires, free entry point)
type RefConversation = (usize, &'static str, DateTime<Utc>, DateTime<Utc>, bool);

struct RefMessage {
    customer: usize,
    id: String,
    template: Option<&'static str>,
    delivered: DateTime<Utc>,
}

/// usage lines `date market category model type billable units`, computed naively.
fn reference_usage(start: DateTime<Utc>, steps: &[Step]) -> Vec<String> {
    let ts = |s: i64| start + Duration::seconds(s);
    let mut delivered: Vec<RefMessage> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let template = match s.act {
            Act::Writes { .. } => continue,
            Act::Template(c) => Some(c),
            Act::Reply => None,
        };
        if let Some(delay) = s.delivery_delay {
            delivered.push(RefMessage {
                customer: s.customer,
                id: format!("m{i:04}"),
                template,
                delivered: ts(s.at + delay),
            });
        }
    }
    delivered.sort_by(|a, b| (a.delivered, &a.id).cmp(&(b.delivered, &b.id)));
    let inbound = |c: usize| {
        steps
            .iter()
            .filter(move |s| s.customer == c && matches!(s.act, Act::Writes { .. }))
    };
    // Customer-service window: some customer message at or before t, less than 24 h ago.
    let csw_open = |c: usize, t: DateTime<Utc>| {
        inbound(c).any(|s| ts(s.at) <= t && t < ts(s.at) + Duration::hours(24))
    };
    // Free-entry-point windows: per referral, the first delivery within 24 h opens 72 h.
    let fep_open = |c: usize, t: DateTime<Utc>| {
        inbound(c)
            .filter(|s| matches!(s.act, Act::Writes { referral: true }))
            .filter_map(|r| {
                let r = ts(r.at);
                delivered
                    .iter()
                    .filter(|m| {
                        m.customer == c && m.delivered >= r && m.delivered < r + Duration::hours(24)
                    })
                    .map(|m| m.delivered)
                    .min()
            })
            .any(|d| d <= t && t < d + Duration::hours(72))
    };
    let mut units: BTreeMap<String, i64> = BTreeMap::new();
    let mut count = |date: NaiveDate, category: &str, model: &str, kind: &str| {
        let billable = kind == "regular";
        *units
            .entry(format!(
                "{date} Brazil {category} {model} {kind} {billable}"
            ))
            .or_default() += 1;
    };
    // (customer, category, opened, expires, free entry point)
    let mut conversations: Vec<RefConversation> = Vec::new();
    for m in &delivered {
        let t = m.delivered;
        let e = era(t);
        if !e.cbp {
            let (category, kind) = if fep_open(m.customer, t) {
                (m.template.unwrap_or("service"), "free_entry_point")
            } else {
                match m.template {
                    None if e.service_free => ("service", "free_customer_service"),
                    None => ("service", "regular"),
                    Some("utility") if e.utility_in_window_free && csw_open(m.customer, t) => {
                        ("utility", "free_customer_service")
                    }
                    Some(c) => (c, "regular"),
                }
            };
            count(t.date_naive(), category, "PMP", kind);
            continue;
        }
        let open = |c: &(usize, &str, DateTime<Utc>, DateTime<Utc>, bool)| {
            c.0 == m.customer && c.2 <= t && t < c.3
        };
        if fep_open(m.customer, t) {
            // The entry-point conversation is the window itself, opened by the delivery that
            // followed the referral; a message in several windows belongs to the newest.
            let d = inbound(m.customer)
                .filter(|s| matches!(s.act, Act::Writes { referral: true }))
                .filter_map(|r| {
                    let r = ts(r.at);
                    delivered
                        .iter()
                        .filter(|x| {
                            x.customer == m.customer
                                && x.delivered >= r
                                && x.delivered < r + Duration::hours(24)
                        })
                        .map(|x| x.delivered)
                        .min()
                })
                .filter(|d| *d <= t && t < *d + Duration::hours(72))
                .max()
                .unwrap();
            if !conversations
                .iter()
                .any(|c| c.0 == m.customer && c.4 && c.2 == d)
            {
                conversations.push((
                    m.customer,
                    "referral_conversion",
                    d,
                    d + Duration::hours(72),
                    true,
                ));
            }
            continue;
        }
        let joins = match m.template {
            Some(c) => conversations.iter().any(|x| open(x) && !x.4 && x.1 == c),
            None => conversations.iter().any(|x| open(x) && !x.4),
        };
        if !joins {
            conversations.push((
                m.customer,
                m.template.unwrap_or("service"),
                t,
                t + Duration::hours(24),
                false,
            ));
        }
    }
    // The month's allowance: the first 1,000 service conversations (2023-06 rules).
    conversations.sort_by_key(|c| c.2);
    let mut service_in_month: BTreeMap<String, usize> = BTreeMap::new();
    for (_, category, opened, _, fep) in &conversations {
        let e = era(*opened);
        let kind = if *fep {
            "free_entry_point"
        } else if *category == "service" && e.service_free {
            "free_customer_service"
        } else if *category == "service" && e.service_allowance {
            let n = service_in_month
                .entry(opened.format("%Y-%m").to_string())
                .or_default();
            *n += 1;
            if *n <= 1000 {
                "free_tier"
            } else {
                "regular"
            }
        } else {
            "regular"
        };
        count(opened.date_naive(), category, "CBP", kind);
    }
    units.into_iter().map(|(k, n)| format!("{k} {n}")).collect()
}

fn script_of(start: DateTime<Utc>, steps: &[Step]) -> Script {
    let mut s = Script::new();
    let iso = |sec: i64| {
        (start + Duration::seconds(sec)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let customers = [BR, BR2, "+5511900000003"];
    for (i, step) in steps.iter().enumerate() {
        let c = customers[step.customer];
        let id = format!("m{i:04}");
        match step.act {
            Act::Writes { referral: false } => {
                s.customer_writes(c, &iso(step.at));
            }
            Act::Writes { referral: true } => {
                s.customer_writes_from_ad(c, &iso(step.at));
            }
            Act::Template(cat) => {
                s.template(c, &id, cat, &iso(step.at));
            }
            Act::Reply => {
                s.reply(c, &id, &iso(step.at));
            }
        }
        if !matches!(step.act, Act::Writes { .. }) {
            match step.delivery_delay {
                Some(d) => {
                    s.delivered(&id, &iso(step.at + d));
                }
                None => {
                    s.status(&id, "failed", &iso(step.at + 5));
                }
            }
        }
    }
    s
}

fn step() -> impl Strategy<Value = Step> {
    (
        0usize..3,
        prop_oneof![
            3 => any::<bool>().prop_map(|r| Act::Writes { referral: r }),
            3 => (0usize..3).prop_map(|c| Act::Template(CATEGORIES[c])),
            3 => Just(Act::Reply),
        ],
        0i64..(4 * 24 * H),
        prop_oneof![1 => Just(None), 6 => (0i64..(2 * H)).prop_map(Some)],
    )
        .prop_map(|(customer, act, at, delivery_delay)| Step {
            customer,
            act,
            at,
            delivery_delay,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn derived_usage_equals_the_reference_on_random_streams(
        era in 0usize..3,
        mut steps in prop::collection::vec(step(), 1..60),
    ) {
        // Four days starting two days before a switch: CBP → CBP (service free), CBP → PMP,
        // PMP → PMP (service charged).
        let start = at(["2024-10-30T00:00:00Z", "2025-06-29T00:00:00Z", "2026-09-29T00:00:00Z"][era]);
        // Distinct seconds, so no two events of the stream tie.
        steps.sort_by_key(|s| s.at);
        for (i, s) in steps.iter_mut().enumerate() {
            s.at += i as i64;
        }
        let expected = reference_usage(start, &steps);
        let got = derived_usage(&script_of(start, &steps));
        prop_assert_eq!(got, expected);
    }
}

// ------------------------------------------------ a range equals its days one by one

fn derived_files(lake: &Path) -> BTreeMap<String, Vec<u8>> {
    lake_files(lake)
        .into_iter()
        .filter(|(path, _)| {
            [
                "messages/",
                "conversations/",
                "usage_daily/",
                "reconciliation/",
                "billing_sources/",
                "reply_waits/",
                "cases/",
                "business_daily/",
            ]
            .iter()
            .any(|t| path.starts_with(t))
        })
        .collect()
}

#[test]
fn building_a_range_equals_building_each_day_in_order() {
    // Generated traffic across the CBP → PMP switch, both formats (reported usage too).
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (format, seed) in [(TrafficFormat::Whatsapp, 11), (TrafficFormat::Events, 12)] {
        let out = dir.path().join(format!("{format:?}"));
        generate(&GenerateOptions {
            out: out.clone(),
            format,
            businesses: 3,
            customers: 400,
            start: NaiveDate::from_ymd_opt(2025, 6, 27).unwrap(),
            days: 6,
            events_per_day: 1500,
            seed,
            files_per_day: 1,
        })
        .unwrap();
        inputs.push(out);
    }
    let range = dir.path().join("range");
    let daily = dir.path().join("daily");
    ingest_paths(&range, &inputs, "2025-07-10T00:00:00Z");
    ingest_paths(&daily, &inputs, "2025-07-10T00:00:00Z");
    let accounts = msgmeter::accounts::Accounts::embedded();
    msgmeter::pipeline::build(&build_options(
        &range,
        &accounts,
        None,
        None,
        SourceChoice::Auto,
    ))
    .unwrap();
    let dates = msgmeter::lake::Lake::new(&daily)
        .partition_dates(&msgmeter::schema::EVENTS)
        .unwrap();
    let (first, last) = (dates[0], *dates.last().unwrap());
    for d in first.iter_days().take_while(|d| *d <= last) {
        let d = d.to_string();
        msgmeter::pipeline::build(&build_options(
            &daily,
            &accounts,
            Some(&d),
            Some(&d),
            SourceChoice::Auto,
        ))
        .unwrap();
    }
    let (a, b) = (derived_files(&range), derived_files(&daily));
    assert!(
        a.keys().any(|k| k.starts_with("conversations/")),
        "the range has CBP days"
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(
            bytes == &b[path],
            "{path} differs between the range build and day-by-day"
        );
    }
    // And there is something in it: both sources, both models.
    let usage = query(
        &range,
        "SELECT DISTINCT source, pricing_model FROM usage_daily ORDER BY 1, 2",
    );
    assert_eq!(usage.height(), 4, "{usage}");
    // Rebuilding changes nothing.
    msgmeter::pipeline::build(&build_options(
        &range,
        &accounts,
        None,
        None,
        SourceChoice::Auto,
    ))
    .unwrap();
    assert_eq!(derived_files(&range), a);
}

// --------------------------------------------------- reported usage on the fixtures

#[test]
fn reported_usage_on_the_real_webhook_fixtures_equals_their_pricing_objects() {
    // message_status.json: one CBP conversation (service, billable) whose earliest
    // delivery status is the `read` of 1689380458 = 2023-07-15 00:20:58 UTC; Israel (+972).
    let text = std::fs::read_to_string(webhook_fixture("message_status.json")).unwrap();
    let bodies: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = bodies.values().map(|v| v.to_string()).collect();
    let input = write_lines(dir.path(), "status.ndjson", &lines);
    let lake = dir.path().join("lake");
    ingest_paths(&lake, &[input], "2030-01-01T00:00:00Z");
    let accounts = msgmeter::accounts::Accounts::embedded();
    msgmeter::pipeline::build(&build_options(
        &lake,
        &accounts,
        None,
        None,
        SourceChoice::Auto,
    ))
    .unwrap();
    assert_eq!(
        usage_lines(&lake, "reported"),
        vec!["2023-07-15 Israel service CBP regular true 1".to_string()]
    );
    // CBP webhook-only: nothing derived (billing.md §5).
    assert!(usage_lines(&lake, "derived").is_empty());
}

#[test]
fn reported_and_derived_usage_on_the_pmp_fixtures_and_their_reconciliation() {
    // tests/fixtures/pmp_webhooks.expected.md: delivered messages pmp001 (marketing,
    // regular, Brazil), pmp002 (utility, free_customer_service, India), pmp003
    // (authentication_international, regular, India), pmp009 (utility, regular, Mexico).
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_paths(
        &lake,
        &[fixture("pmp_webhooks.ndjson")],
        "2030-01-01T00:00:00Z",
    );
    let accounts = msgmeter::accounts::Accounts::embedded();
    msgmeter::pipeline::build(&build_options(
        &lake,
        &accounts,
        None,
        None,
        SourceChoice::Auto,
    ))
    .unwrap();
    let expect = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        usage_lines(&lake, "reported"),
        expect(&[
            "2025-10-06 Brazil marketing PMP regular true 1",
            "2025-10-06 India authentication_international PMP regular true 1",
            "2025-10-06 India utility PMP free_customer_service false 1",
            "2025-10-06 Mexico utility PMP regular true 1",
        ])
    );
    // Derived (webhook-only PMP: category from pricing.category): the utility template
    // to India had no open customer-service window by our events, so it is charged.
    assert_eq!(
        usage_lines(&lake, "derived"),
        expect(&[
            "2025-10-06 Brazil marketing PMP regular true 1",
            "2025-10-06 India authentication_international PMP regular true 1",
            "2025-10-06 India utility PMP regular true 1",
            "2025-10-06 Mexico utility PMP regular true 1",
        ])
    );
    let r = query(
        &lake,
        "SELECT market, category, derived_units, reported_units, difference FROM reconciliation",
    );
    assert_eq!(r.height(), 1, "{r}");
    assert_eq!(string(&r, "market", 0).as_deref(), Some("India"));
    assert_eq!(string(&r, "category", 0).as_deref(), Some("utility"));
    assert_eq!(string(&r, "difference", 0).as_deref(), Some("1"));
    // The business is billed by the reported source (auto: it has pricing objects).
    let s = query(
        &lake,
        "SELECT business_id, billing_month, source FROM billing_sources",
    );
    assert_eq!(s.height(), 1, "{s}");
    assert_eq!(string(&s, "source", 0).as_deref(), Some("reported"));
    assert_eq!(string(&s, "billing_month", 0).as_deref(), Some("2025-10"));
}

#[test]
fn auto_bills_derived_where_no_status_carries_a_pricing_object() {
    let mut s = Script::new();
    s.template_delivered(BR, "m1", "marketing", "2025-10-01T10:00:00Z");
    let lake = ingested(&s);
    lake.build(None, None);
    let b = query(
        &lake.lake(),
        "SELECT source, choice, pricing_objects_seen FROM billing_sources",
    );
    assert_eq!(string(&b, "source", 0).as_deref(), Some("derived"));
    assert_eq!(string(&b, "choice", 0).as_deref(), Some("auto"));
    lake.build_with(None, None, SourceChoice::Reported);
    let b = query(&lake.lake(), "SELECT source, choice FROM billing_sources");
    assert_eq!(string(&b, "source", 0).as_deref(), Some("reported"));
    assert_eq!(string(&b, "choice", 0).as_deref(), Some("reported"));
}
