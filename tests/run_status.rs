//! A run on the lake (spec README "Atomic", "The lake"): one lock, recovery of interrupted
//! runs by whatever command comes next, and the `_status.json` watermark moved last.

use msgmeter::lake::manifest::RunManifest;
use msgmeter::lake::run::LakeStatus;
use msgmeter::lake::Lake;

use crate::common::*;
use crate::metering_common::*;

fn date(d: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
}

#[test]
fn the_watermark_names_the_last_ingest_its_dates_and_the_last_build() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = [
        ("e1", "2025-10-01T10:00:00Z"),
        ("e2", "2025-10-03T10:00:00Z"),
    ]
    .iter()
    .map(|(id, ts)| event_line(id, "B1", ts))
    .collect();
    let input = write_lines(dir.path(), "in.ndjson", &lines);
    let lake = dir.path().join("lake");
    assert_eq!(
        LakeStatus::read(&Lake::new(&lake)).unwrap(),
        LakeStatus::default()
    );
    let ingested = ingest_paths(&lake, &[input], "2025-10-09T00:00:00Z");
    let status = LakeStatus::read(&Lake::new(&lake)).unwrap();
    let last = status.last_ingest.clone().unwrap();
    assert_eq!(last.run_id, ingested.manifest.run_id);
    assert_eq!(status.last_run, Some(last));
    assert_eq!(
        status.event_dates,
        Some([date("2025-10-01"), date("2025-10-03")])
    );
    assert!(status.last_build.is_none() && status.built_dates.is_empty());

    let built = build_all(&lake);
    let status = LakeStatus::read(&Lake::new(&lake)).unwrap();
    assert_eq!(
        status.last_build.as_ref().unwrap().run_id,
        built.manifest.run_id
    );
    assert_eq!(status.last_run.as_ref().unwrap().command, "build");
    assert_eq!(status.built_dates, built.dates);
    assert_eq!(status.built_dates.first(), Some(&date("2025-10-01")));
    // The ingest is still the last ingest.
    assert_eq!(status.last_ingest.unwrap().run_id, ingested.manifest.run_id);
}

/// Whatever command takes the lake next completes an interrupted run first (a build after a
/// killed ingest must not throw away what the ingest staged).
#[test]
fn a_build_records_an_interrupted_run_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_lines(
        dir.path(),
        "in.ndjson",
        &[event_line("e1", "B1", "2025-10-01T10:00:00Z")],
    );
    let lake_path = dir.path().join("lake");
    ingest_paths(&lake_path, &[input], "2025-10-09T00:00:00Z");
    let lake = Lake::new(&lake_path);
    let intent = RunManifest {
        command: "ingest".into(),
        outcome: "interrupted".into(),
        ..RunManifest::default()
    };
    let p = msgmeter::lake::publication::Publication::begin(&lake, "ingest", "0123abcd", intent)
        .unwrap();
    let id = p.run_id().to_string();
    drop(p);
    assert!(!lake_path.join("_runs").join(format!("{id}.json")).exists());
    build_all(&lake_path);
    let text = std::fs::read_to_string(lake_path.join("_runs").join(format!("{id}.json"))).unwrap();
    let m: RunManifest = serde_json::from_str(&text).unwrap();
    assert_eq!(m.outcome, "interrupted");
    assert!(!lake_path.join("_runs/open").exists());
}

/// The manifest has a section per stage, and its counts are the tables' (counted again by
/// query).
#[test]
fn a_build_and_an_invoice_run_record_a_section_per_stage() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let built = crate::metering_common::build_all(&lake);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            lake.join("_runs")
                .join(format!("{}.json", built.manifest.run_id)),
        )
        .unwrap(),
    )
    .unwrap();
    let count = |sql: &str| {
        string(&query(&lake, sql), "n", 0)
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let metering = &manifest["stages"]["metering"];
    assert_eq!(
        metering["counts"]["messages"].as_i64(),
        Some(count("SELECT count(*) AS n FROM messages"))
    );
    assert_eq!(
        metering["counts"]["conversations"].as_i64(),
        Some(count("SELECT count(*) AS n FROM conversations"))
    );
    assert_eq!(
        metering["counts"]["usage_rows"].as_i64(),
        Some(count("SELECT count(*) AS n FROM usage_daily"))
    );
    // Every day from the first date with events to the last, gaps included.
    let span = query(&lake, "SELECT min(date) AS a, max(date) AS b FROM events");
    let day = |c: &str| {
        chrono::NaiveDate::parse_from_str(&string(&span, c, 0).unwrap(), "%Y-%m-%d").unwrap()
    };
    assert_eq!(
        metering["dates"].as_array().unwrap().len() as i64,
        (day("b") - day("a")).num_days() + 1
    );
    let analytics = &manifest["stages"]["analytics"];
    assert_eq!(
        analytics["counts"]["reply_waits"].as_i64(),
        Some(count("SELECT count(*) AS n FROM reply_waits"))
    );
    assert_eq!(
        analytics["counts"]["cases"].as_i64(),
        Some(count("SELECT count(*) AS n FROM cases"))
    );
    assert!(analytics["seconds"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("assemble")));

    let done = crate::invoices_common::run_invoice(
        &lake,
        "2025-10",
        "2025-10-20",
        false,
        &msgmeter::accounts::Accounts::embedded(),
        &msgmeter::pricing::rates::RateCard::embedded(),
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            lake.join("_runs")
                .join(format!("{}.json", done.manifest.run_id)),
        )
        .unwrap(),
    )
    .unwrap();
    let invoicing = &manifest["stages"]["invoicing"];
    assert_eq!(
        invoicing["counts"]["invoices"].as_i64(),
        Some(count("SELECT count(*) AS n FROM invoices"))
    );
    assert_eq!(
        invoicing["counts"]["lines"].as_i64(),
        Some(count("SELECT count(*) AS n FROM invoice_lines"))
    );
    assert_eq!(invoicing["months"], serde_json::json!(["2025-10"]));
}
