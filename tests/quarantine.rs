//! The bad-input corpus: one case per quarantine reason, each with its reason and line,
//! and every other line of the file ingested (events.md §3–§4).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::*;

fn quarantined(lake: &Path) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let root = lake.join("_restricted/quarantine");
    for day in std::fs::read_dir(&root).unwrap().flatten() {
        for f in std::fs::read_dir(day.path()).unwrap().flatten() {
            for line in std::fs::read_to_string(f.path()).unwrap().lines() {
                out.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    out.sort_by_key(|v| {
        (
            v["source_file"].as_str().unwrap().to_string(),
            v["line"].as_u64().unwrap(),
        )
    });
    out
}

#[test]
fn each_quarantine_reason_names_its_line_and_the_rest_of_the_file_is_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = ingest_paths(
        &lake,
        &[fixture("bad_events.ndjson")],
        "2025-10-10T00:00:00Z",
    );
    let f = report(&out, "bad_events.ndjson");
    // bad_events.expected.md: 29 records = 20 accepted + 9 quarantined.
    assert_eq!(
        (f.read, f.accepted, f.duplicates, f.skipped_total()),
        (29, 20, 0, 0)
    );
    let expected: BTreeMap<u64, &str> = [
        (4, "malformed_json"),
        (7, "missing_field"),
        (9, "bad_timestamp"),
        (12, "bad_enum"),
        (16, "bad_identifier"),
        (18, "invalid_utf8"),
        (21, "future_timestamp"),
        (23, "not_an_object"),
        (25, "out_of_range"),
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<u64, String> = quarantined(&lake)
        .iter()
        .map(|q| {
            (
                q["line"].as_u64().unwrap(),
                q["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        expected.iter().map(|(k, v)| (*k, v.to_string())).collect()
    );
    for (reason, n) in &f.quarantined {
        assert_eq!(*n, 1, "{reason}");
    }
    // The message names the field where one is at fault.
    let q = quarantined(&lake);
    let message = |line: u64| {
        q.iter().find(|v| v["line"] == line).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(message(7).contains("template_category"));
    assert!(message(9).contains("`ts`"));
    assert!(message(12).contains("`type`"));
    assert!(message(16).contains("business_id"));
    assert!(message(21).contains("`ts`"));
    assert!(message(25).contains("rating"));
    // Every valid line is in the table, by its own line number.
    let lines = query(&lake, "SELECT source_line FROM events ORDER BY source_line");
    let lines: Vec<i64> = strings(&lines, "source_line")
        .into_iter()
        .map(|l| l.unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![1, 2, 3, 5, 6, 8, 10, 11, 13, 15, 17, 19, 20, 22, 24, 26, 27, 28, 29, 30]
    );
    // Accepted events per UTC date, from the expected table.
    let by_date = query(
        &lake,
        "SELECT date, count(*) AS n FROM events GROUP BY date ORDER BY date",
    );
    assert_eq!(
        strings(&by_date, "n")
            .into_iter()
            .map(|n| n.unwrap())
            .collect::<Vec<_>>(),
        ["3", "2", "2", "2", "3", "3", "4", "1"]
    );
    assert!(out.too_much_quarantined, "9 of 29 is above 1 %");
}

#[test]
fn a_line_over_the_limit_is_line_too_long_and_its_neighbours_are_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!(
        r#"{{"event_id":"e2","ts":"2025-10-06T10:00:00Z","type":"message_in","business_id":"B1","customer":"+5511987654321","message_id":"x2","pad":"{}"}}"#,
        "x".repeat(5000)
    );
    let lines = vec![
        r#"{"event_id":"e1","ts":"2025-10-06T10:00:00Z","type":"message_in","business_id":"B1","customer":"+5511987654321","message_id":"x1"}"#.to_string(),
        long,
        r#"{"event_id":"e3","ts":"2025-10-06T10:00:00Z","type":"message_in","business_id":"B1","customer":"+5511987654321","message_id":"x3"}"#.to_string(),
    ];
    let input = write_lines(dir.path(), "long.ndjson", &lines);
    let lake = dir.path().join("lake");
    let mut opts = options(&lake, "2025-10-07T00:00:00Z");
    opts.max_line_bytes = 1000;
    opts.max_quarantine_pct = 100.0;
    let out = msgmeter::ingest::ingest(&opts, &[input]).unwrap();
    let f = report(&out, "long.ndjson");
    assert_eq!((f.read, f.accepted), (3, 2));
    assert_eq!(f.quarantined.get("line_too_long"), Some(&1));
    let q = quarantined(&lake);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["line"], 2);
    assert!(!out.too_much_quarantined);
}

#[test]
fn lines_keep_their_numbers_across_read_chunks_and_after_a_line_longer_than_a_chunk() {
    // Files are read 8 MB at a time. The file holds:
    // - first, a 17 MB record: longer than two chunks (and than the line limit), so it is
    //   never buffered whole but skipped up to its newline;
    // - 15,000 events of about 640 bytes (9.6 MB: lines across chunk boundaries), with a
    //   blank line, a CRLF-ended line and, before event 12,000, a 9 MB record (longer than
    //   a chunk, shorter than two) among them.
    // The same text plain, gzipped and zstd-compressed (read through a decoder). The
    // expected line numbers are counted as the text is laid out.
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let event = |i: usize| {
        format!(
            r#"{{"event_id":"e{i}","ts":"2025-10-06T10:00:00Z","type":"message_in","business_id":"B1","customer":"+5511987654321","message_id":"x{i}","pad":"{}"}}"#,
            "p".repeat(500)
        )
    };
    let huge =
        |id: &str, bytes: usize| format!(r#"{{"event_id":"{id}","pad":"{}"}}"#, "x".repeat(bytes));
    let mut text = String::new();
    let mut line = 0i64;
    let mut push_line = |text: &mut String, body: &str, ending: &str| {
        text.push_str(body);
        text.push_str(ending);
        line += 1;
        line
    };
    let mut too_long = vec![push_line(&mut text, &huge("huge", 17 << 20), "\n")];
    let mut expected: Vec<(String, i64)> = Vec::new();
    for i in 0..15_000 {
        if i == 7_000 {
            push_line(&mut text, "", "\n");
        }
        if i == 12_000 {
            too_long.push(push_line(&mut text, &huge("long", 9 << 20), "\n"));
        }
        let ending = if i == 9_000 { "\r\n" } else { "\n" };
        expected.push((format!("x{i}"), push_line(&mut text, &event(i), ending)));
    }
    // Event i is on line i + 2 up to the blank line, i + 3 up to the 9 MB line, i + 4 after.
    assert_eq!((expected[6_999].1, expected[7_000].1), (7_001, 7_003));
    assert_eq!((expected[11_999].1, expected[12_000].1), (12_002, 12_004));
    assert_eq!(too_long, [1, 12_003]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let encodings = [
        ("chunks.ndjson", text.as_bytes().to_vec()),
        ("chunks.ndjson.gz", gz.finish().unwrap()),
        (
            "chunks.ndjson.zst",
            zstd::encode_all(text.as_bytes(), 1).unwrap(),
        ),
    ];
    for (name, bytes) in encodings {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let lake = dir.path().join(format!("lake-{name}"));
        let mut opts = options(&lake, "2025-10-07T00:00:00Z");
        opts.max_quarantine_pct = 100.0;
        let out = msgmeter::ingest::ingest(&opts, &[input]).unwrap();
        let f = report(&out, name);
        assert_eq!((f.read, f.accepted), (15_002, 15_000), "{name}");
        let q = quarantined(&lake);
        let lines: Vec<i64> = q.iter().map(|v| v["line"].as_i64().unwrap()).collect();
        assert_eq!(lines, too_long, "{name}");
        assert!(q.iter().all(|v| v["reason"] == "line_too_long"), "{name}");
        let got = query(
            &lake,
            "SELECT message_id, source_line FROM events ORDER BY source_line",
        );
        let got: Vec<(String, i64)> = strings(&got, "message_id")
            .into_iter()
            .zip(strings(&got, "source_line"))
            .map(|(m, l)| (m.unwrap(), l.unwrap().parse().unwrap()))
            .collect();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn a_bad_item_inside_a_good_body_is_quarantined_alone_with_its_path() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"B1","changes":[{"value":{"statuses":[{"id":"m1","status":"sent","timestamp":"1759744800","recipient_id":"5511987654321"},{"id":"m2","status":"teleported","timestamp":"1759744800","recipient_id":"5511987654321"},"not an object",{"id":"m3","status":"read","timestamp":"soon","recipient_id":"5511987654321"}]},"field":"messages"}]}]}"#;
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(dir.path(), "w.ndjson", &[body.to_string()]);
    let lake = dir.path().join("lake");
    let out = ingest_paths(&lake, &[input], "2025-10-07T00:00:00Z");
    let f = report(&out, "w.ndjson");
    assert_eq!((f.read, f.accepted, f.quarantined_total()), (4, 1, 3));
    let q = quarantined(&lake);
    let got: Vec<(String, String)> = q
        .iter()
        .map(|v| {
            (
                v["item_path"].as_str().unwrap().to_string(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "entry[0].changes[0].value.statuses[1]".to_string(),
                "bad_enum".to_string()
            ),
            (
                "entry[0].changes[0].value.statuses[2]".to_string(),
                "not_an_object".to_string()
            ),
            (
                "entry[0].changes[0].value.statuses[3]".to_string(),
                "bad_timestamp".to_string()
            ),
        ]
    );
    assert!(q.iter().all(|v| v["line"] == 1));
    event(&lake, "B1|status|m1|sent");
}

#[test]
fn gzip_and_zstd_inputs_are_read_by_content() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(fixture("pmp_webhooks.ndjson")).unwrap();
    let gz_path = dir.path().join("a.ndjson.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&plain).unwrap();
    gz.finish().unwrap();
    let csv = std::fs::read(fixture("events_sample.csv")).unwrap();
    // A zstd file whose name says nothing about its format.
    let zst_path = dir.path().join("b.data");
    std::fs::write(&zst_path, zstd::encode_all(&csv[..], 3).unwrap()).unwrap();
    let lake = dir.path().join("lake");
    let out = ingest_paths(&lake, &[gz_path, zst_path], "2025-10-07T00:00:00Z");
    assert_eq!(report(&out, "a.ndjson.gz").format, "whatsapp");
    assert_eq!(report(&out, "a.ndjson.gz").accepted, 13);
    assert_eq!(report(&out, "b.data").format, "events-csv");
    assert_eq!(report(&out, "b.data").accepted, 15);
}
