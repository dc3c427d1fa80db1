//! The spill between ingest's phases (events.md §3 columns, README "Ingest memory
//! budget"): events written as scratch rows and read back give the `events` columns the
//! events had, whether the rows stayed in memory or went through a scratch file.

use chrono::NaiveDate;
use msgmeter::ingest::frame::{EventRows, Spill};
use msgmeter::ingest::normalize::{Customer, CustomerIdKind, Event};
use msgmeter::ingest::SourceFile;
use polars::prelude::*;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 1).unwrap()
}

/// 2025-10-01T10:00:00Z in µs.
const TEN_AM: i64 = 1_759_312_800_000_000;

/// Every field set (a text longer than 253 bytes among them), and every optional one unset.
fn events() -> Vec<Event> {
    let full = Event {
        event_key: "B1|status|wamid.1|delivered".into(),
        event_type: "status",
        ts: TEN_AM,
        business_id: "B1".into(),
        phone_number_id: Some("PN1".into()),
        customer: Some(
            Customer {
                key: "0123456789abcdef0123456789abcdef".into(),
                kind: CustomerIdKind::Phone,
                calling_code: Some("52".into()),
                country: Some("MX".into()),
                market: "Mexico".into(),
            }
            .into(),
        ),
        message_id: Some("wamid.1".into()),
        message_type: Some("template".into()),
        template_category: Some("utility".into()),
        sender: Some("bot"),
        agent_id: Some("a".repeat(300)),
        referral: Some(false),
        status: Some("delivered"),
        reported_pricing_model: Some("PMP"),
        reported_billable: Some(true),
        reported_category: Some("utility".into()),
        reported_pricing_type: Some("regular".into()),
        conversation_id: Some("conv-1".into()),
        conversation_origin: Some("utility".into()),
        conversation_expires: Some(TEN_AM + 86_400_000_000),
        error_code: Some("131047".into()),
        case_id: Some("case-1".into()),
        case_kind: Some("complaint"),
        case_category: Some("billing".into()),
        case_status: Some("open"),
        rating: Some(4),
        content_hash: u64::MAX,
        source_line: 7,
    };
    let bare = Event {
        event_key: "B2|in|wamid.2".into(),
        event_type: "message_in",
        ts: TEN_AM + 1,
        business_id: "B2".into(),
        content_hash: 1,
        source_line: 1,
        ..Event::default()
    };
    vec![full, bare]
}

fn sources() -> Vec<SourceFile> {
    vec![
        SourceFile {
            index: 0,
            path: "in/a.ndjson".into(),
            name: "a.ndjson".into(),
            sha256: "aa".repeat(32),
        },
        SourceFile {
            index: 1,
            path: "in/b.ndjson".into(),
            name: "b.ndjson".into(),
            sha256: "bb".repeat(32),
        },
    ]
}

/// The date's frame after pushing each event as its own piece (the first from source 1,
/// the second from source 0), and whether a scratch file was written.
fn round_trip(budget_bytes: usize) -> (DataFrame, bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut spill = Spill::new(dir.path().join("spill"), budget_bytes);
    for (e, source) in events().iter().zip([1, 0]) {
        let mut rows = EventRows::with_room_for(1);
        rows.push(e, source);
        spill.push(day(), rows).unwrap();
    }
    spill.finish_parse().unwrap();
    let wrote_file = spill.spilled();
    let frame = spill.take_date(day(), &sources()).unwrap().unwrap();
    (frame, wrote_file)
}

fn text(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn scratch_rows_give_back_every_column_of_the_events_in_memory_and_from_files() {
    let (held, held_wrote) = round_trip(usize::MAX);
    let (spilled, spilled_wrote) = round_trip(0);
    assert!(!held_wrote, "within the budget nothing is written");
    assert!(
        spilled_wrote,
        "a budget of 0 writes every piece to the date's file"
    );
    assert!(held.equals_missing(&spilled));

    let df = &spilled;
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    let schema: Vec<&str> = msgmeter::schema::EVENTS
        .columns
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, schema);
    assert_eq!(df.height(), 2);
    let expect = [
        (
            "event_key",
            [s("B1|status|wamid.1|delivered"), s("B2|in|wamid.2")],
        ),
        ("event_type", [s("status"), s("message_in")]),
        ("business_id", [s("B1"), s("B2")]),
        ("phone_number_id", [s("PN1"), None]),
        (
            "customer_key",
            [s("0123456789abcdef0123456789abcdef"), None],
        ),
        ("customer_id_kind", [s("phone"), None]),
        ("customer_cc", [s("52"), None]),
        ("customer_country", [s("MX"), None]),
        ("market", [s("Mexico"), None]),
        ("message_id", [s("wamid.1"), None]),
        ("message_type", [s("template"), None]),
        ("template_category", [s("utility"), None]),
        ("sender", [s("bot"), None]),
        ("agent_id", [Some("a".repeat(300)), None]),
        ("status", [s("delivered"), None]),
        ("reported_pricing_model", [s("PMP"), None]),
        ("reported_category", [s("utility"), None]),
        ("reported_pricing_type", [s("regular"), None]),
        ("conversation_id", [s("conv-1"), None]),
        ("conversation_origin", [s("utility"), None]),
        ("error_code", [s("131047"), None]),
        ("case_id", [s("case-1"), None]),
        ("case_kind", [s("complaint"), None]),
        ("case_category", [s("billing"), None]),
        ("case_status", [s("open"), None]),
        ("source_file", [s("b.ndjson"), s("a.ndjson")]),
        (
            "source_sha256",
            [Some("bb".repeat(32)), Some("aa".repeat(32))],
        ),
    ];
    for (name, values) in expect {
        assert_eq!(text(df, name), values.to_vec(), "{name}");
    }
    let instants = |name: &str| -> Vec<Option<i64>> {
        let c = df.column(name).unwrap();
        assert_eq!(
            c.dtype(),
            &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            "{name}"
        );
        c.cast(&DataType::Int64)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect()
    };
    assert_eq!(instants("ts"), vec![Some(TEN_AM), Some(TEN_AM + 1)]);
    assert_eq!(
        instants("conversation_expires"),
        vec![Some(TEN_AM + 86_400_000_000), None]
    );
    let flags = |name: &str| -> Vec<Option<bool>> {
        df.column(name).unwrap().bool().unwrap().iter().collect()
    };
    assert_eq!(flags("referral"), vec![Some(false), None]);
    assert_eq!(flags("reported_billable"), vec![Some(true), None]);
    let rating: Vec<Option<i8>> = df.column("rating").unwrap().i8().unwrap().iter().collect();
    assert_eq!(rating, vec![Some(4), None]);
    let hash: Vec<Option<u64>> = df
        .column("content_hash")
        .unwrap()
        .u64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(hash, vec![Some(u64::MAX), Some(1)]);
    let lines: Vec<Option<i64>> = df
        .column("source_line")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(lines, vec![Some(7), Some(1)]);
}
