//! Every real webhook body in `tests/fixtures/webhooks/` (pywa's MIT test data) parses as
//! events.md says, and the per-message-pricing fixtures written from events.md §1 give the
//! hand-computed rows of `tests/fixtures/pmp_webhooks.expected.md`.

use msgmeter::ingest::normalize::{Normalizer, Pseudonymizer};
use msgmeter::ingest::{parse_json_line, InputFormat, LineOutcome};
use msgmeter::pricing::markets::MarketTable;
use serde_json::Value;

use crate::common::*;

fn bodies(file: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(webhook_fixture(file))
        .expect("webhook fixtures are committed under tests/fixtures/webhooks");
    let map: serde_json::Map<String, Value> = serde_json::from_str(&text).expect("fixture JSON");
    map.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

fn parse(body: &str) -> LineOutcome {
    let markets = MarketTable::embedded();
    let keys = Pseudonymizer::new(TEST_KEY.as_bytes());
    let n = Normalizer::new(
        &markets,
        &keys,
        at("2030-01-01T00:00:00Z").timestamp_micros(),
    );
    let mut out = LineOutcome::default();
    parse_json_line(
        body.as_bytes(),
        InputFormat::Whatsapp,
        &n,
        1 << 20,
        &mut out,
    );
    out
}

#[test]
fn every_inbound_message_fixture_becomes_one_message_in() {
    let all = bodies("message.json");
    assert_eq!(all.len(), 23);
    for (case, body) in all {
        let out = parse(&body);
        assert!(out.rejections.is_empty(), "{case}: {:?}", out.rejections);
        assert_eq!(out.events.len(), 1, "{case}");
        let e = &out.events[0];
        let wire: Value = serde_json::from_str(&body).unwrap();
        let msg = &wire["entry"][0]["changes"][0]["value"]["messages"][0];
        assert_eq!(e.event_type, "message_in", "{case}");
        assert_eq!(e.message_type.as_deref(), msg["type"].as_str(), "{case}");
        assert_eq!(e.message_id.as_deref(), msg["id"].as_str(), "{case}");
        assert_eq!(e.business_id, "1234567890987654321", "{case}");
        assert_eq!(e.referral, Some(case == "referral"), "{case}");
        let c = e.customer.as_ref().expect("customer");
        assert_eq!(c.key, pseudonym("972987654321"));
        assert_eq!(c.market, "Israel");
        assert_eq!(c.country.as_deref(), Some("IL"));
        assert_eq!(c.calling_code.as_deref(), Some("972"));
        let ts: i64 = msg["timestamp"].as_str().unwrap().parse().unwrap();
        assert_eq!(e.ts, ts * 1_000_000, "{case}");
    }
}

#[test]
fn status_fixtures_become_status_events_and_group_statuses_are_skipped() {
    for (case, body) in bodies("message_status.json") {
        let out = parse(&body);
        assert!(out.rejections.is_empty(), "{case}: {:?}", out.rejections);
        if case == "group" {
            assert!(out.events.is_empty());
            assert_eq!(out.skipped, vec!["group_message".to_string()]);
            continue;
        }
        assert_eq!(out.events.len(), 1, "{case}");
        let e = &out.events[0];
        let expected_status = if case == "with_tracker" {
            "sent"
        } else {
            case.as_str()
        };
        assert_eq!(e.status, Some(expected_status), "{case}");
        assert_eq!(
            e.event_key,
            format!("5467539754836534|status|wamid.xyzxyz|{expected_status}")
        );
    }
}

#[test]
fn cbp_sent_status_carries_conversation_and_pricing() {
    let (_, body) = bodies("message_status.json")
        .into_iter()
        .find(|(k, _)| k == "sent")
        .unwrap();
    let e = &parse(&body).events[0];
    assert_eq!(
        e.conversation_id.as_deref(),
        Some("7270432eae37498234f4444b35ffc5")
    );
    assert_eq!(e.conversation_expires, Some(1_698_339_900_000_000));
    assert_eq!(e.conversation_origin.as_deref(), Some("service"));
    assert_eq!(e.reported_pricing_model, Some("CBP"));
    assert_eq!(e.reported_billable, Some(true));
    assert_eq!(e.reported_category.as_deref(), Some("service"));
    assert_eq!(e.reported_pricing_type, None);
    assert_eq!(e.ts, 1_698_266_945_000_000);
}

#[test]
fn failed_status_keeps_its_error_code() {
    let (_, body) = bodies("message_status.json")
        .into_iter()
        .find(|(k, _)| k == "failed")
        .unwrap();
    let e = &parse(&body).events[0];
    assert_eq!(e.status, Some("failed"));
    assert_eq!(e.error_code.as_deref(), Some("130472"));
}

#[test]
fn system_and_template_webhooks_are_skipped_not_quarantined() {
    for (file, kind) in [
        ("system.json", "system_message"),
        (
            "template_status_update.json",
            "message_template_status_update",
        ),
        ("template_category_update.json", "template_category_update"),
    ] {
        for (case, body) in bodies(file) {
            let out = parse(&body);
            assert!(
                out.events.is_empty() && out.rejections.is_empty(),
                "{file}/{case}"
            );
            assert_eq!(out.skipped, vec![kind.to_string()], "{file}/{case}");
        }
    }
}

#[test]
fn business_app_echoes_become_agent_messages_out() {
    let all = bodies("outgoing_message.json");
    assert_eq!(all.len(), 3);
    for (case, body) in all {
        let out = parse(&body);
        assert!(out.rejections.is_empty(), "{case}: {:?}", out.rejections);
        assert_eq!(out.events.len(), 1, "{case}");
        let e = &out.events[0];
        assert_eq!(e.event_type, "message_out");
        assert_eq!(e.sender, Some("agent"));
        let wire: Value = serde_json::from_str(&body).unwrap();
        let echo = &wire["entry"][0]["changes"][0]["value"]["message_echoes"][0];
        assert_eq!(
            e.event_key,
            format!(
                "{}|out|{}",
                wire["entry"][0]["id"].as_str().unwrap(),
                echo["id"].as_str().unwrap()
            )
        );
        assert_eq!(e.message_type.as_deref(), echo["type"].as_str());
        // Where `to` is a placeholder, the contact's number identifies the customer.
        assert_eq!(e.customer.as_ref().unwrap().key, pseudonym("972987654321"));
    }
}

/// `pmp_webhooks.expected.md`, totals and rows.
#[test]
fn per_message_pricing_fixtures_match_the_hand_computed_table() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = ingest_paths(
        &lake,
        &[fixture("pmp_webhooks.ndjson")],
        "2025-10-07T00:00:00Z",
    );
    let f = report(&out, "pmp_webhooks.ndjson");
    assert_eq!(
        (
            f.read,
            f.accepted,
            f.duplicates,
            f.quarantined_total(),
            f.skipped_total()
        ),
        (17, 13, 0, 0, 4)
    );
    assert_eq!(f.skipped.get("account_update"), Some(&1));
    assert_eq!(f.skipped.get("group_message"), Some(&1));
    assert_eq!(f.skipped.get("message_template_status_update"), Some(&1));
    assert_eq!(f.skipped.get("system_message"), Some(&1));

    let by_type = query(
        &lake,
        "SELECT event_type, count(*) AS n FROM events GROUP BY event_type ORDER BY event_type",
    );
    assert_eq!(
        strings(&by_type, "event_type"),
        vec![
            Some("message_in".into()),
            Some("message_out".into()),
            Some("status".into())
        ]
    );
    assert_eq!(
        strings(&by_type, "n"),
        vec![Some("3".into()), Some("1".into()), Some("9".into())]
    );

    // line 1: billable given
    let e = event(&lake, "1000000001|status|wamid.pmp001|sent");
    assert_eq!(
        string(&e, "reported_pricing_model", 0).as_deref(),
        Some("PMP")
    );
    assert_eq!(string(&e, "reported_billable", 0).as_deref(), Some("true"));
    assert_eq!(
        string(&e, "reported_category", 0).as_deref(),
        Some("marketing")
    );
    assert_eq!(
        string(&e, "reported_pricing_type", 0).as_deref(),
        Some("regular")
    );
    assert_eq!(
        string(&e, "phone_number_id", 0).as_deref(),
        Some("2000000001")
    );
    // line 2: billable false given
    let e = event(&lake, "1000000001|status|wamid.pmp002|delivered");
    assert_eq!(string(&e, "reported_billable", 0).as_deref(), Some("false"));
    assert_eq!(
        string(&e, "reported_pricing_type", 0).as_deref(),
        Some("free_customer_service")
    );
    // line 3: `pricing_type` key, hyphenated category, no billable ⇒ regular ⇒ true
    let e = event(&lake, "1000000001|status|wamid.pmp003|read");
    assert_eq!(
        string(&e, "reported_category", 0).as_deref(),
        Some("authentication_international")
    );
    assert_eq!(
        string(&e, "reported_pricing_type", 0).as_deref(),
        Some("regular")
    );
    assert_eq!(string(&e, "reported_billable", 0).as_deref(), Some("true"));
    assert_eq!(
        string(&e, "ts", 0).as_deref().map(|t| &t[..19]),
        Some("2025-10-06 08:10:30")
    );
    // line 4: free entry point, no billable ⇒ false
    let e = event(&lake, "1000000001|status|wamid.pmp004|sent");
    assert_eq!(string(&e, "reported_billable", 0).as_deref(), Some("false"));
    assert_eq!(
        string(&e, "reported_pricing_type", 0).as_deref(),
        Some("free_entry_point")
    );
    // line 5: failed, no pricing
    let e = event(&lake, "1000000001|status|wamid.pmp005|failed");
    assert_eq!(string(&e, "error_code", 0).as_deref(), Some("131026"));
    assert_eq!(string(&e, "reported_pricing_model", 0), None);
    // line 6: the referral message
    let e = event(&lake, "1000000001|in|wamid.in006");
    assert_eq!(string(&e, "referral", 0).as_deref(), Some("true"));
    assert_eq!(
        string(&e, "customer_key", 0),
        Some(pseudonym("2348031234567"))
    );
    assert_eq!(string(&e, "market", 0).as_deref(), Some("Nigeria"));
    // line 7: numeric timestamp, Puerto Rico
    let e = event(&lake, "1000000001|in|wamid.in007");
    assert_eq!(
        string(&e, "ts", 0).as_deref().map(|t| &t[..19]),
        Some("2025-10-06 10:00:00")
    );
    assert_eq!(
        string(&e, "market", 0).as_deref(),
        Some("Rest of Latin America")
    );
    assert_eq!(string(&e, "customer_country", 0).as_deref(), Some("PR"));
    assert_eq!(string(&e, "customer_cc", 0).as_deref(), Some("1"));
    // line 8: user id never seen with a number
    let e = event(&lake, "1000000001|in|wamid.in008");
    assert_eq!(
        string(&e, "customer_key", 0),
        Some(pseudonym("US.1234567890"))
    );
    assert_eq!(
        string(&e, "customer_id_kind", 0).as_deref(),
        Some("user_id")
    );
    assert_eq!(string(&e, "market", 0).as_deref(), Some("Unknown"));
    // lines 9 and 11: the pair is learnt, and the user-id-only status maps through it
    for key in [
        "1000000001|status|wamid.pmp009|sent",
        "1000000001|status|wamid.pmp009|delivered",
    ] {
        let e = event(&lake, key);
        assert_eq!(
            string(&e, "customer_key", 0),
            Some(pseudonym("5215512345678")),
            "{key}"
        );
        assert_eq!(
            string(&e, "customer_id_kind", 0).as_deref(),
            Some("phone"),
            "{key}"
        );
        assert_eq!(string(&e, "market", 0).as_deref(), Some("Mexico"), "{key}");
    }
    let ids = query(&lake, "SELECT * FROM identities");
    assert_eq!(ids.height(), 1);
    assert_eq!(string(&ids, "user_key", 0), Some(pseudonym("MX.99887766")));
    assert_eq!(
        string(&ids, "customer_key", 0),
        Some(pseudonym("5215512345678"))
    );
    // line 10: echo
    let e = event(&lake, "1000000001|out|wamid.echo1");
    assert_eq!(string(&e, "sender", 0).as_deref(), Some("agent"));
    assert_eq!(
        string(&e, "customer_key", 0),
        Some(pseudonym("4915112345678"))
    );
    assert_eq!(string(&e, "market", 0).as_deref(), Some("Germany"));
}

/// `events_sample.expected.md`: the event log as CSV, including a quoted comma.
#[test]
fn event_log_csv_sample_matches_the_hand_computed_table() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = ingest_paths(
        &lake,
        &[fixture("events_sample.csv")],
        "2025-10-07T00:00:00Z",
    );
    let f = report(&out, "events_sample.csv");
    assert_eq!(f.format, "events-csv");
    assert_eq!((f.read, f.accepted, f.quarantined_total()), (15, 15, 0));
    let by_date = query(
        &lake,
        "SELECT CAST(date AS VARCHAR) AS d, count(*) AS n FROM events GROUP BY date ORDER BY date",
    );
    assert_eq!(
        strings(&by_date, "n"),
        vec![
            Some("5".into()),
            Some("3".into()),
            Some("3".into()),
            Some("4".into())
        ]
    );
    let e = event(&lake, "b_bank|csv_004");
    assert_eq!(
        string(&e, "case_category", 0).as_deref(),
        Some("billing, refunds")
    );
    assert_eq!(string(&e, "source_line", 0).as_deref(), Some("5"));
    let e = event(&lake, "b_air|csv_012");
    assert_eq!(
        string(&e, "ts", 0).as_deref().map(|t| &t[..19]),
        Some("2025-10-05 00:00:00")
    );
}
