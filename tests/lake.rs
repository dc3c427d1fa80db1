//! The lake's promises: Parquet conventions, row order, atomic publication, the lock,
//! deferred and already-ingested files (spec README "The lake", "Promises").

use std::path::Path;

use msgmeter::lake::manifest::FileStatus;
use msgmeter::lake::Lake;

use crate::common::*;

fn parquet_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            parquet_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
}

#[test]
fn table_files_carry_the_schema_version_and_are_sorted_by_business_then_time() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_paths(
        &lake,
        &[fixture("bad_events.ndjson"), fixture("pmp_webhooks.ndjson")],
        "2025-10-10T00:00:00Z",
    );
    let mut files = Vec::new();
    parquet_files(&lake.join("events"), &mut files);
    parquet_files(&lake.join("identities"), &mut files);
    assert!(files.len() > 3);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let footer =
            String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(8192)..]).to_string();
        assert!(
            footer.contains("msgmeter.schema_version"),
            "{}",
            f.display()
        );
    }
    // Within each partition: business, then ts, then event_key.
    let df = query(&lake, "SELECT date, business_id, ts, event_key FROM events");
    let rows: Vec<(String, String, String, String)> = (0..df.height())
        .map(|i| {
            (
                string(&df, "date", i).unwrap(),
                string(&df, "business_id", i).unwrap(),
                string(&df, "ts", i).unwrap(),
                string(&df, "event_key", i).unwrap(),
            )
        })
        .collect();
    for date in rows
        .iter()
        .map(|r| r.0.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let part: Vec<_> = rows
            .iter()
            .filter(|r| r.0 == date)
            .map(|r| (r.1.clone(), r.2.clone(), r.3.clone()))
            .collect();
        let mut sorted = part.clone();
        sorted.sort();
        assert_eq!(
            part, sorted,
            "partition {date} is in business, ts, key order"
        );
    }
}

#[test]
fn a_partitions_row_count_comes_from_its_footer_and_is_zero_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake_dir = dir.path().join("lake");
    ingest_paths(
        &lake_dir,
        &[fixture("bad_events.ndjson")],
        "2025-10-10T00:00:00Z",
    );
    let lake = Lake::new(&lake_dir);
    let counts = query(
        &lake_dir,
        "SELECT date, count(*) AS n FROM events GROUP BY date ORDER BY date",
    );
    let dates = lake.partition_dates(&msgmeter::schema::EVENTS).unwrap();
    // bad_events.expected.md: 20 accepted events on 8 dates.
    let from_footers: Vec<String> = dates
        .iter()
        .map(|&d| {
            lake.partition_rows(&msgmeter::schema::EVENTS, d)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        from_footers,
        ["3", "2", "2", "2", "3", "3", "4", "1"],
        "dates {dates:?}"
    );
    assert_eq!(
        strings(&counts, "n")
            .into_iter()
            .map(Option::unwrap)
            .collect::<Vec<_>>(),
        from_footers
    );
    let before_any = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    assert_eq!(
        lake.partition_rows(&msgmeter::schema::EVENTS, before_any)
            .unwrap(),
        0
    );
}

#[test]
fn no_temporary_files_are_left_and_restricted_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_paths(
        &lake,
        &[fixture("bad_events.ndjson")],
        "2025-10-10T00:00:00Z",
    );
    let files = lake_files(&lake);
    assert!(
        files.keys().all(|k| !k.contains(".tmp-")),
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );
    assert!(!lake.join("_tmp").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(lake.join("_restricted"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[test]
fn a_second_run_on_a_locked_lake_stops_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let holder = Lake::new(&lake).lock("test holder").unwrap();
    let err = match msgmeter::ingest::ingest(
        &options(&lake, "2025-10-10T00:00:00Z"),
        &[fixture("pmp_webhooks.ndjson")],
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a locked lake must refuse a second run"),
    };
    assert!(
        err.contains("locked") && err.contains("test holder"),
        "{err}"
    );
    drop(holder);
    // Released (as the kernel does when a holder dies): the next run takes it.
    ingest_paths(
        &lake,
        &[fixture("pmp_webhooks.ndjson")],
        "2025-10-10T00:00:00Z",
    );
}

#[test]
fn files_still_being_written_are_deferred_and_known_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    std::fs::create_dir_all(&landing).unwrap();
    std::fs::copy(fixture("pmp_webhooks.ndjson"), landing.join("a.ndjson")).unwrap();
    std::fs::copy(fixture("pmp_webhooks.ndjson"), landing.join("b.ndjson")).unwrap();
    std::fs::write(landing.join("c.ndjson.part"), b"{\"half\":").unwrap();
    let lake = dir.path().join("lake");
    let out = ingest_paths(
        &lake,
        std::slice::from_ref(&landing),
        "2025-10-10T00:00:00Z",
    );
    assert_eq!(report(&out, "a.ndjson").status, Some(FileStatus::Ingested));
    // Same content as a.ndjson: already ingested, all counts 0.
    let b = report(&out, "b.ndjson");
    assert_eq!(
        (b.status.clone(), b.read),
        (Some(FileStatus::AlreadyIngested), 0)
    );
    let c = report(&out, "c.ndjson.part");
    assert_eq!((c.status.clone(), c.read), (Some(FileStatus::Deferred), 0));
    // The manifest lists every file with the equation's counts.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            lake.join("_runs")
                .join(format!("{}.json", out.manifest.run_id)),
        )
        .unwrap(),
    )
    .unwrap();
    for key in [
        "run_id",
        "command",
        "started_at",
        "finished_at",
        "msgmeter_version",
        "files",
        "config",
    ] {
        assert!(manifest.get(key).is_some(), "manifest has {key}");
    }
    assert!(manifest["config"]["pseudonym_key_fingerprint"].is_string());
    assert_eq!(manifest["files"][0]["read"], 17);
}

#[test]
fn shipped_accounts_describe_the_generated_businesses() {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/accounts.csv"),
    )
    .unwrap();
    assert_eq!(shipped, msgmeter::generate::accounts_csv(12));
    let mut rows = csv::Reader::from_reader(shipped.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(str::to_string).collect();
    // billing.md §7, in order.
    assert_eq!(
        header.join(","),
        "business_id,name,address,vat_id,country,currency,timezone,billing_email,tax_pct,markup_pct,monthly_fee,payment_terms_days,active_from,active_to,auth_intl_eligible,sla_first_response_minutes,business_hours"
    );
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 12);
    assert!(
        rows.iter().any(|r| r[16].is_empty()),
        "one account has no schedule"
    );
    for r in &rows {
        assert!(
            r[6].parse::<chrono_tz::Tz>().is_ok(),
            "{} is an IANA zone",
            &r[6]
        );
    }
}

#[test]
fn the_committed_sample_ingests_with_books_that_balance() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let out = ingest_paths(&lake, &[sample], "2025-10-05T00:00:00Z");
    let t = &out.manifest.totals;
    assert_eq!(t.files, 6);
    assert!(t.read > 9000 && t.accepted > 8500, "{t:?}");
    assert_eq!(
        t.read,
        t.accepted + t.duplicates + t.quarantined + t.skipped
    );
    assert!(!out.too_much_quarantined);
    let formats: std::collections::BTreeSet<&str> = out
        .manifest
        .files
        .iter()
        .map(|f| f.format.as_str())
        .collect();
    assert_eq!(formats, ["events-csv", "whatsapp"].into_iter().collect());
}

/// A run killed at any moment and then re-run leaves the lake equal, byte for byte outside
/// `_runs/`, to the lake of a run that was never interrupted (spec README, Determinism).
#[test]
fn a_killed_run_then_rerun_leaves_the_same_lake() {
    use chrono::NaiveDate;
    use msgmeter::generate::{generate, GenerateOptions, TrafficFormat};
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    generate(&GenerateOptions {
        out: landing.clone(),
        format: TrafficFormat::Whatsapp,
        businesses: 6,
        customers: 3000,
        start: NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
        days: 3,
        events_per_day: 40_000,
        seed: 9,
        files_per_day: 2,
    })
    .unwrap();
    let run = |lake: &Path| cli_ingest(lake, &landing);
    let clean = dir.path().join("clean");
    assert!(run(&clean).status().unwrap().success());
    let expected = lake_files(&clean);
    // Kill at several moments: early (reading), middle, late (publishing).
    let mut interrupted = 0;
    for (i, after_ms) in [40u64, 200, 450].into_iter().enumerate() {
        let lake = dir.path().join(format!("killed-{i}"));
        let mut child = run(&lake).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(after_ms));
        let _ = child.kill();
        let _ = child.wait();
        // A run that finished wrote its manifest; a killed one did not (its intent waits
        // in `_runs/open/` for the next run).
        let finished = std::fs::read_dir(lake.join("_runs"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .unwrap_or(false);
        if !finished {
            interrupted += 1;
        }
        assert!(run(&lake).status().unwrap().success());
        let got = lake_files(&lake);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "kill after {after_ms} ms"
        );
        for (k, v) in &expected {
            assert!(&got[k] == v, "{k} differs after a kill at {after_ms} ms");
        }
    }
    assert!(
        interrupted >= 2,
        "the kills must land mid-run ({interrupted} of 3 did)"
    );
}

/// The one background writer: a failed write stops writing, the producer's next send says
/// so, and the write's error (naming its file) is what the run reports.
#[test]
fn a_failed_background_write_stops_the_producer_and_is_reported() {
    use msgmeter::lake::writer::in_background;
    let dir = tempfile::tempdir().unwrap();
    // A file where a folder should be: nothing can be written under it.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let frame = || {
        polars::prelude::DataFrame::new(1, vec![polars::prelude::Column::new("a".into(), [1i64])])
            .unwrap()
    };
    let mut sends_after_the_failure = 0;
    let result = in_background(2, 0, "test_write", |writes| {
        writes.send(blocker.join("t/part-0.parquet"), frame())?;
        writes.wait_all();
        for i in 0..5 {
            if writes
                .send(dir.path().join(format!("ok-{i}.parquet")), frame())
                .is_err()
            {
                break;
            }
            sends_after_the_failure += 1;
        }
        Ok(())
    });
    let err = result.expect_err("the write failed").to_string();
    assert!(err.contains("blocker"), "{err}");
    assert_eq!(sends_after_the_failure, 0, "the producer was told at once");
    // And a good run writes every file.
    in_background(2, 1, "test_write", |writes| {
        for i in 0..4 {
            writes.send(dir.path().join(format!("good-{i}.parquet")), frame())?;
        }
        Ok(())
    })
    .unwrap();
    for i in 0..4 {
        assert!(dir.path().join(format!("good-{i}.parquet")).exists());
    }
}

/// `build` publishes through the run's stage (issue 15): a build that fails half way, after
/// metering has written some dates, leaves every table file as it was, to the byte and the
/// modification time, and no staged file behind.
#[test]
fn a_build_that_fails_half_way_leaves_every_table_as_it_was() {
    use msgmeter::metering::SourceChoice;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    crate::metering_common::build_all(&lake);
    let tables = |lake: &Path| {
        let mut files = Vec::new();
        for table in [
            "messages",
            "conversations",
            "usage_daily",
            "reconciliation",
            "billing_sources",
            "reply_waits",
            "cases",
            "business_daily",
        ] {
            parquet_files(&lake.join(table), &mut files);
        }
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
                (p.clone(), std::fs::read(&p).unwrap(), modified)
            })
            .collect::<Vec<_>>()
    };
    let before = tables(&lake);
    assert!(before.len() > 8);

    // The last date's events cannot be read: a build to the date before loads it (its
    // window reaches a day ahead) only once the earlier dates are metered and staged.
    let dates = Lake::new(&lake)
        .partition_dates(&msgmeter::schema::EVENTS)
        .unwrap();
    let (to, last) = (dates[dates.len() - 2], dates[dates.len() - 1]);
    let broken = lake
        .join("events")
        .join(format!("date={last}"))
        .join("part-0.parquet");
    std::fs::write(&broken, b"not a parquet file").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut opts = crate::metering_common::build_options(
        &lake,
        &msgmeter::accounts::Accounts::embedded(),
        None,
        Some(&to.to_string()),
        // Another billed source: a build that wrote in place would change the files.
        SourceChoice::Derived,
    );
    opts.now = at("2030-02-01T00:00:00Z");
    let Err(err) = msgmeter::pipeline::build(&opts) else {
        panic!("the build must fail on the unreadable date");
    };
    let err = err.to_string();
    assert!(err.contains(&broken.display().to_string()), "{err}");
    assert!(before == tables(&lake), "no table file changed");
    assert!(!lake.join("_tmp").exists(), "nothing staged is left");
}
