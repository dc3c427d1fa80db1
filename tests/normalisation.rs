//! One test per normalisation rule of events.md §1–§4, each on a tiny hand-made input.

use msgmeter::ingest::normalize::{parse_timestamp, phone_digits, Reason};

use crate::common::*;

fn one_line_lake(lines: &[String], now: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "in.ndjson", lines);
    let lake = dir.path().join("lake");
    ingest_paths(&lake, &[input], now);
    (dir, lake)
}

#[test]
fn timestamps_are_epoch_strings_numbers_or_rfc3339_with_offset() {
    // 1698266945 s = 2023-10-25T20:49:05Z
    assert_eq!(
        parse_timestamp("1698266945", "ts"),
        Ok(1_698_266_945_000_000)
    );
    // ≥ 10^11 is milliseconds
    assert_eq!(
        parse_timestamp("1698266945123", "ts"),
        Ok(1_698_266_945_123_000)
    );
    // RFC 3339 with offset: 09:00 at -03:00 is 12:00 UTC
    assert_eq!(
        parse_timestamp("2023-10-25T17:49:05-03:00", "ts"),
        Ok(1_698_266_945_000_000)
    );
    let no_offset = parse_timestamp("2023-10-25T17:49:05", "ts").unwrap_err();
    assert_eq!(no_offset.reason, Reason::BadTimestamp);
    assert!(no_offset.message.contains("`ts`"));
    assert_eq!(
        parse_timestamp("yesterday", "ts").unwrap_err().reason,
        Reason::BadTimestamp
    );
}

#[test]
fn webhook_timestamps_may_be_numbers() {
    let (_d, lake) = one_line_lake(
        &[message_body(
            "B1",
            "wamid.n1",
            "1759744800",
            "5511987654321",
            "",
        )],
        "2025-10-07T00:00:00Z",
    );
    let e = event(&lake, "B1|in|wamid.n1");
    assert_eq!(
        string(&e, "ts", 0).as_deref().map(|t| &t[..19]),
        Some("2025-10-06 10:00:00")
    );
}

#[test]
fn read_without_delivered_is_kept_as_it_came() {
    // Metering treats a read message as delivered; ingest must simply keep the `read`.
    let (_d, lake) = one_line_lake(
        &[status_body(
            "B1",
            "wamid.r1",
            "read",
            1_759_744_800,
            "5511987654321",
            "",
        )],
        "2025-10-07T00:00:00Z",
    );
    let all = query(&lake, "SELECT status FROM events");
    assert_eq!(strings(&all, "status"), vec![Some("read".to_string())]);
}

#[test]
fn pricing_type_may_be_spelled_pricing_type_and_missing_billable_follows_the_type() {
    let lines = [
        status_body(
            "B1",
            "m1",
            "sent",
            1_759_744_800,
            "5511987654321",
            r#","pricing":{"pricing_model":"PMP","category":"utility","type":"free_customer_service"}"#,
        ),
        status_body(
            "B1",
            "m2",
            "sent",
            1_759_744_800,
            "5511987654321",
            r#","pricing":{"pricing_model":"PMP","category":"utility","pricing_type":"regular"}"#,
        ),
    ];
    let (_d, lake) = one_line_lake(&lines, "2025-10-07T00:00:00Z");
    let e = event(&lake, "B1|status|m1|sent");
    assert_eq!(
        string(&e, "reported_pricing_type", 0).as_deref(),
        Some("free_customer_service")
    );
    assert_eq!(string(&e, "reported_billable", 0).as_deref(), Some("false"));
    let e = event(&lake, "B1|status|m2|sent");
    assert_eq!(
        string(&e, "reported_pricing_type", 0).as_deref(),
        Some("regular")
    );
    assert_eq!(string(&e, "reported_billable", 0).as_deref(), Some("true"));
}

#[test]
fn unknown_category_is_kept_as_its_own_value() {
    let lines = [status_body(
        "B1",
        "m1",
        "delivered",
        1_759_744_800,
        "5511987654321",
        r#","pricing":{"billable":true,"pricing_model":"PMP","category":"Marketing-Premium","type":"regular"}"#,
    )];
    let (_d, lake) = one_line_lake(&lines, "2025-10-07T00:00:00Z");
    let e = event(&lake, "B1|status|m1|delivered");
    assert_eq!(
        string(&e, "reported_category", 0).as_deref(),
        Some("marketing_premium")
    );
}

#[test]
fn authentication_international_hyphen_is_normalised() {
    let lines = [status_body(
        "B1",
        "m1",
        "delivered",
        1_759_744_800,
        "5511987654321",
        r#","pricing":{"billable":true,"pricing_model":"PMP","category":"authentication-international","type":"regular"}"#,
    )];
    let (_d, lake) = one_line_lake(&lines, "2025-10-07T00:00:00Z");
    let e = event(&lake, "B1|status|m1|delivered");
    assert_eq!(
        string(&e, "reported_category", 0).as_deref(),
        Some("authentication_international")
    );
}

#[test]
fn caribbean_plus_one_numbers_are_rest_of_latin_america_and_the_rest_north_america() {
    let lines = [
        message_body("B1", "pr", "\"1759744800\"", "17875550123", ""),
        message_body("B1", "do", "\"1759744800\"", "18095550123", ""),
        message_body("B1", "jm", "\"1759744800\"", "18765550123", ""),
        message_body("B1", "ny", "\"1759744800\"", "12125550123", ""),
        message_body("B1", "ca", "\"1759744800\"", "14165550123", ""),
    ];
    let (_d, lake) = one_line_lake(&lines, "2025-10-07T00:00:00Z");
    let df = query(
        &lake,
        "SELECT message_id, market, customer_country, customer_cc FROM events ORDER BY message_id",
    );
    assert_eq!(
        strings(&df, "message_id")
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["ca", "do", "jm", "ny", "pr"]
    );
    assert_eq!(
        strings(&df, "market")
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        [
            "North America",
            "Rest of Latin America",
            "Rest of Latin America",
            "North America",
            "Rest of Latin America"
        ]
    );
    assert_eq!(
        strings(&df, "customer_country")
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["CA", "DO", "JM", "US", "PR"]
    );
    assert!(strings(&df, "customer_cc")
        .iter()
        .all(|c| c.as_deref() == Some("1")));
}

#[test]
fn phone_numbers_are_reduced_to_digits_so_both_formats_key_the_same_customer() {
    assert_eq!(
        phone_digits("+55 11 98765-4321").as_deref(),
        Some("5511987654321")
    );
    assert_eq!(
        phone_digits("(55) 11.98765.4321").as_deref(),
        Some("5511987654321")
    );
    assert_eq!(phone_digits("cust_7f3a9c"), None);
    let dir = tempfile::tempdir().unwrap();
    let webhook = write_lines(
        dir.path(),
        "w.ndjson",
        &[message_body(
            "B1",
            "w1",
            "\"1759744800\"",
            "5511987654321",
            "",
        )],
    );
    let log = write_lines(dir.path(), "e.ndjson", &[
        r#"{"event_id":"e1","ts":"2025-10-06T10:00:00Z","type":"message_in","business_id":"B1","customer":"+55 11 98765-4321","message_id":"x1"}"#.to_string(),
        r#"{"event_id":"e2","ts":"2025-10-06T10:00:00Z","type":"message_in","business_id":"B1","customer":"cust_7f3a9c","message_id":"x2"}"#.to_string(),
    ]);
    let lake = dir.path().join("lake");
    ingest_paths(&lake, &[webhook, log], "2025-10-07T00:00:00Z");
    let w = event(&lake, "B1|in|w1");
    let e = event(&lake, "B1|e1");
    assert_eq!(
        string(&w, "customer_key", 0),
        Some(pseudonym("5511987654321"))
    );
    assert_eq!(
        string(&e, "customer_key", 0),
        Some(pseudonym("5511987654321"))
    );
    let opaque = event(&lake, "B1|e2");
    assert_eq!(
        string(&opaque, "customer_key", 0),
        Some(pseudonym("cust_7f3a9c"))
    );
    assert_eq!(
        string(&opaque, "customer_id_kind", 0).as_deref(),
        Some("opaque")
    );
    assert_eq!(string(&opaque, "market", 0).as_deref(), Some("Unknown"));
}

#[test]
fn missing_sender_is_agent_for_free_form_and_system_for_templates() {
    let lines = [
        r#"{"event_id":"o1","ts":"2025-10-06T10:00:00Z","type":"message_out","business_id":"B1","customer":"+5511987654321","message_id":"x1","message_type":"text"}"#.to_string(),
        r#"{"event_id":"o2","ts":"2025-10-06T10:00:00Z","type":"message_out","business_id":"B1","customer":"+5511987654321","message_id":"x2","message_type":"template","template_category":"UTILITY"}"#.to_string(),
        r#"{"event_id":"o3","ts":"2025-10-06T10:00:00Z","type":"message_out","business_id":"B1","customer":"+5511987654321","message_id":"x3","message_type":"text","sender":"bot"}"#.to_string(),
    ];
    let (_d, lake) = one_line_lake(&lines, "2025-10-07T00:00:00Z");
    assert_eq!(
        string(&event(&lake, "B1|o1"), "sender", 0).as_deref(),
        Some("agent")
    );
    let o2 = event(&lake, "B1|o2");
    assert_eq!(string(&o2, "sender", 0).as_deref(), Some("system"));
    assert_eq!(
        string(&o2, "template_category", 0).as_deref(),
        Some("utility")
    );
    assert_eq!(
        string(&event(&lake, "B1|o3"), "sender", 0).as_deref(),
        Some("bot")
    );
}

#[test]
fn user_id_customers_map_through_identities_learnt_in_any_order() {
    // The user-id-only message comes first in the file; the pairing body after it.
    let user_only = r#"{"object":"whatsapp_business_account","entry":[{"id":"B1","changes":[{"value":{"contacts":[{"user_id":"BR.42"}],"messages":[{"from_user_id":"BR.42","id":"u1","timestamp":"1759744800","type":"text"}]},"field":"messages"}]}]}"#;
    let paired = r#"{"object":"whatsapp_business_account","entry":[{"id":"B1","changes":[{"value":{"contacts":[{"wa_id":"5511987654321","user_id":"BR.42"}],"messages":[{"from":"5511987654321","id":"u2","timestamp":"1759748400","type":"text"}]},"field":"messages"}]}]}"#;
    let (_d, lake) = one_line_lake(
        &[user_only.to_string(), paired.to_string()],
        "2025-10-07T00:00:00Z",
    );
    let e = event(&lake, "B1|in|u1");
    assert_eq!(
        string(&e, "customer_key", 0),
        Some(pseudonym("5511987654321"))
    );
    assert_eq!(string(&e, "market", 0).as_deref(), Some("Brazil"));
    // Another business's user id is not the same person.
    let ids = query(&lake, "SELECT business_id, user_key FROM identities");
    assert_eq!(strings(&ids, "business_id"), vec![Some("B1".to_string())]);
    assert_eq!(strings(&ids, "user_key"), vec![Some(pseudonym("BR.42"))]);
}

#[test]
fn retries_within_24_hours_are_duplicates_and_after_are_new_records() {
    // Same inbound message id three times: t, t+1h (retry), t+25h (a new record).
    let lines = [
        message_body("B1", "wamid.d", "\"1759744800\"", "5511987654321", ""),
        message_body("B1", "wamid.d", "\"1759748400\"", "5511987654321", ""),
        message_body("B1", "wamid.d", "\"1759834800\"", "5511987654321", ""),
    ];
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "in.ndjson", &lines);
    let lake = dir.path().join("lake");
    let out = ingest_paths(&lake, &[input], "2025-10-08T00:00:00Z");
    let f = report(&out, "in.ndjson");
    assert_eq!(
        (f.read, f.accepted, f.duplicates, f.conflicting_duplicates),
        (3, 2, 1, 1)
    );
    let kept = query(&lake, "SELECT source_line FROM events ORDER BY ts");
    assert_eq!(
        strings(&kept, "source_line"),
        vec![Some("1".to_string()), Some("3".to_string())]
    );
}

#[test]
fn the_content_hash_is_xxh3_of_each_field_present_or_absent_with_its_length() {
    use msgmeter::ingest::normalize::Event;
    let mut e = Event {
        event_key: "B2|in|wamid.2".into(),
        event_type: "message_in",
        ts: 1_759_312_800_000_001,
        business_id: "B2".into(),
        message_type: Some("text".into()),
        rating: Some(4),
        ..Event::default()
    };
    e.compute_content_hash();
    // The layout, fed to XXH3-64 field by field: 1, the length as u32 LE and the bytes
    // for a present field (numbers as decimal text), 0 for an absent one; 26 fields.
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let present = |h: &mut xxhash_rust::xxh3::Xxh3, v: &str| {
        h.update(&[1]);
        h.update(&(v.len() as u32).to_le_bytes());
        h.update(v.as_bytes());
    };
    present(&mut h, "B2|in|wamid.2");
    present(&mut h, "message_in");
    present(&mut h, "1759312800000001");
    present(&mut h, "B2");
    h.update(&[0, 0, 0]); // phone_number_id, customer, message_id
    present(&mut h, "text");
    h.update(&[0; 17]); // template_category … case_status
    present(&mut h, "4");
    assert_eq!(e.content_hash, h.digest());
}
