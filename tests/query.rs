//! `msgmeter query` takes what analysts type (spec README, Command line): time literals in
//! the forms people write, UTC times with their zone in CSV and JSON, one-line errors.

use std::process::Command;

use crate::common::*;

fn lake_with_three_events() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = [
        ("e1", "2025-10-01T23:00:00Z"),
        ("e2", "2025-10-02T00:00:00Z"),
        ("e3", "2025-10-02T05:30:00Z"),
    ]
    .iter()
    .map(|(id, ts)| event_line(id, "B1", ts))
    .collect();
    let input = write_lines(dir.path(), "in.ndjson", &lines);
    ingest_paths(&dir.path().join("lake"), &[input], "2025-10-09T00:00:00Z");
    dir
}

fn run(dir: &tempfile::TempDir, format: &str, sql: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args(["query", "--format", format, "--lake"])
        .arg(dir.path().join("lake"))
        .arg(sql)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn time_literals_in_the_forms_analysts_write() {
    let dir = lake_with_three_events();
    // Two of the three events are at or after midnight of 2 October (UTC).
    for condition in [
        "ts >= TIMESTAMP '2025-10-02 00:00:00'",
        "ts >= '2025-10-02T00:00:00Z'",
        "ts >= '2025-10-02T00:00:00+00:00'",
        "ts >= CAST('2025-10-02' AS TIMESTAMP)",
        "date >= DATE '2025-10-02'",
    ] {
        let (ok, out, err) = run(
            &dir,
            "csv",
            &format!("SELECT count(*) AS n FROM events WHERE {condition}"),
        );
        assert!(ok, "{condition}: {err}");
        assert_eq!(out, "n\n2\n", "{condition}");
        assert!(!err.contains("Deprecation"), "{condition}: {err}");
    }
}

#[test]
fn csv_and_json_times_carry_their_zone_and_json_ends_with_a_newline() {
    let dir = lake_with_three_events();
    let (_, csv, _) = run(&dir, "csv", "SELECT event_key, ts FROM events ORDER BY ts");
    assert_eq!(
        csv,
        "event_key,ts\nB1|e1,2025-10-01T23:00:00.000000Z\nB1|e2,2025-10-02T00:00:00.000000Z\nB1|e3,2025-10-02T05:30:00.000000Z\n"
    );
    let (_, json, _) = run(&dir, "json", "SELECT ts FROM events ORDER BY ts LIMIT 1");
    assert_eq!(json, "[{\"ts\":\"2025-10-01T23:00:00+00:00\"}]\n");
}

#[test]
fn a_function_polars_lacks_is_one_line_pointing_at_duckdb() {
    let dir = lake_with_three_events();
    let (ok, _, err) = run(&dir, "table", "SELECT date_trunc('month', ts) FROM events");
    assert!(!ok);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("date_trunc") && lines[0].contains("--duckdb-views"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_lake_that_is_a_file_says_so() {
    let dir = lake_with_three_events();
    // `msgmeter query … | head -0`: the reader is gone before the output is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args(["query", "--format", "csv", "--lake"])
        .arg(dir.path().join("lake"))
        .arg("SELECT * FROM events")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    let file = dir.path().join("in.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args(["query", "--lake"])
        .arg(&file)
        .arg("SELECT 1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a file, not a lake folder"));
    // A usage error creates nothing: build on a lake that does not exist.
    let missing = dir.path().join("no-lake");
    let out = Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args(["build", "--lake"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!missing.exists());
}

/// A build over a range outside the lake's events writes no partition and says so.
#[test]
fn a_build_over_a_range_without_events_writes_nothing_and_says_so() {
    let dir = lake_with_three_events();
    let lake = dir.path().join("lake");
    let out = Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args([
            "build",
            "--from",
            "2030-01-01",
            "--to",
            "2030-01-03",
            "--lake",
        ])
        .arg(&lake)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .starts_with("nothing built: the range lies outside the lake's events"));
    for table in [
        "messages",
        "conversations",
        "usage_daily",
        "reply_waits",
        "cases",
        "business_daily",
        "billing_sources",
    ] {
        assert!(!lake.join(table).exists(), "{table} was written");
    }
}

/// Only whole literals that are UTC instants are rewritten; text that merely holds one (an
/// escaped quote included) is left as written.
#[test]
fn only_whole_time_literals_are_rewritten() {
    use msgmeter::query::time_literals;
    assert_eq!(
        time_literals("SELECT * FROM events WHERE ts >= '2025-10-02T00:00:00Z' AND ts < '2025-10-03 00:00:00.5+00:00'"),
        "SELECT * FROM events WHERE ts >= TIMESTAMP '2025-10-02 00:00:00' AND ts < TIMESTAMP '2025-10-03 00:00:00.5'"
    );
    for untouched in [
        "SELECT 'he said ''2025-10-30T00:00:00Z''' AS s",
        "SELECT 'note 2025-10-30T00:00:00Z' AS s",
        "SELECT '2025-10-30T00:00:00+02:00' AS s",
        "SELECT 'unterminated 2025-10-30T00:00:00Z",
    ] {
        assert_eq!(time_literals(untouched), untouched);
    }
    assert_eq!(
        time_literals("SELECT * FROM events WHERE ts >= cast('2025-10-02' as timestamp) AND date = DATE '2025-10-02'"),
        "SELECT * FROM events WHERE ts >= TIMESTAMP '2025-10-02 00:00:00' AND date = DATE('2025-10-02')"
    );
}
