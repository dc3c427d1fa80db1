//! No raw phone number of the input appears anywhere in the lake outside `_restricted/`
//! (spec README "Personal data").

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use msgmeter::generate::{generate, GenerateOptions, TrafficFormat};
use polars::prelude::*;
use serde_json::Value;

use crate::common::*;

fn numbers_in(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if matches!(
                    k.as_str(),
                    "from" | "recipient_id" | "wa_id" | "to" | "customer"
                ) {
                    if let Some(s) = v.as_str() {
                        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
                        if digits.len() >= 7 {
                            out.insert(digits);
                        }
                    }
                }
                numbers_in(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| numbers_in(v, out)),
        _ => {}
    }
}

fn all_text_in_tables(lake: &Path) -> Vec<String> {
    let mut texts = Vec::new();
    for table in ["events", "identities"] {
        let df = query(lake, &format!("SELECT * FROM {table}"));
        for col in df.columns() {
            if let Ok(s) = col.cast(&DataType::String) {
                texts.extend(s.str().unwrap().iter().flatten().map(str::to_string));
            }
        }
    }
    texts
}

#[test]
fn no_raw_phone_number_reaches_the_tables_or_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let mut numbers = BTreeSet::new();
    let mut inputs = Vec::new();
    for (format, seed) in [(TrafficFormat::Whatsapp, 11), (TrafficFormat::Events, 12)] {
        let out = dir.path().join(format!("{format:?}"));
        generate(&GenerateOptions {
            out: out.clone(),
            format,
            businesses: 4,
            customers: 400,
            start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            days: 1,
            events_per_day: 1500,
            seed,
            files_per_day: 1,
        })
        .unwrap();
        inputs.push(out);
    }
    inputs.push(fixture("pmp_webhooks.ndjson"));
    inputs.push(fixture("bad_events.ndjson"));
    for input in &inputs {
        let files: Vec<_> = if input.is_dir() {
            std::fs::read_dir(input)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect()
        } else {
            vec![input.clone()]
        };
        for f in files {
            for line in String::from_utf8_lossy(&std::fs::read(f).unwrap()).lines() {
                if let Ok(v) = serde_json::from_str::<Value>(line) {
                    numbers_in(&v, &mut numbers);
                }
            }
        }
    }
    assert!(
        numbers.len() > 100,
        "the input has many customers ({})",
        numbers.len()
    );
    let lake = dir.path().join("lake");
    let mut opts = options(&lake, "2026-01-07T00:00:00Z");
    opts.max_quarantine_pct = 100.0;
    msgmeter::ingest::ingest(&opts, &inputs).unwrap();

    let texts = all_text_in_tables(&lake);
    assert!(texts.len() > 1000);
    for t in &texts {
        for n in &numbers {
            assert!(
                !t.contains(n.as_str()),
                "raw number {n} found in a table value {t:?}"
            );
        }
    }
    // Non-table files outside _restricted (manifests, status) hold no number either.
    for (path, bytes) in lake_files(&lake).into_iter().chain(
        std::fs::read_dir(lake.join("_runs"))
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    format!("_runs/{}", e.file_name().to_string_lossy()),
                    std::fs::read(e.path()).unwrap(),
                )
            }),
    ) {
        if path.starts_with("_restricted") || path.ends_with(".parquet") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for n in &numbers {
            assert!(!text.contains(n.as_str()), "raw number {n} in {path}");
        }
    }
}
