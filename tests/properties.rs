//! Invariants of ingest (spec README "Determinism", events.md §3): splitting the input
//! into files, shuffling its lines, ingesting in several runs in any order, or ingesting
//! twice leaves the `events` table's content unchanged apart from the source columns —
//! conflicting duplicates included; every file balances; same inputs, same bytes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::NaiveDate;
use msgmeter::generate::{generate, GenerateOptions, TrafficFormat};
use msgmeter::lake::manifest::FileStatus;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::common::*;

const NOW: &str = "2025-10-09T00:00:00Z";

/// A small realistic input (both formats, retries, late events, corrupt lines) plus
/// hand-made conflicting duplicates: same key, other content, within 24 h — one later
/// (the earlier must win) and one at the same instant (the smaller content hash wins).
fn corpus() -> &'static Vec<Vec<u8>> {
    static LINES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for (format, seed) in [(TrafficFormat::Whatsapp, 3), (TrafficFormat::Events, 4)] {
            let out = dir.path().join(format!("{format:?}"));
            let summary = generate(&GenerateOptions {
                out: out.clone(),
                format,
                businesses: 3,
                customers: 300,
                start: NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
                days: 2,
                events_per_day: 600,
                seed,
                files_per_day: 1,
            })
            .unwrap();
            for f in summary.files {
                let bytes = std::fs::read(f).unwrap();
                lines.extend(bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
            }
        }
        for (id, ts, kind) in [
            ("c1", "2025-10-01T10:00:00Z", "text"),
            ("c1", "2025-10-01T11:00:00Z", "image"),
            ("c2", "2025-10-01T23:30:00Z", "text"),
            ("c2", "2025-10-01T23:30:00Z", "audio"),
            ("c3", "2025-10-01T23:50:00Z", "text"),
            ("c3", "2025-10-02T00:20:00Z", "sticker"),
        ] {
            lines.push(format!(
                r#"{{"event_id":"{id}","ts":"{ts}","type":"message_in","business_id":"BX","customer":"+5511987654321","message_id":"m-{id}","message_type":"{kind}"}}"#
            ).into_bytes());
        }
        lines
    })
}

/// Write the lines (in this order) into `k` files of one folder.
fn split_into_files(dir: &Path, lines: &[Vec<u8>], k: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut paths = Vec::new();
    // Files of one format each: detection is per file.
    let (hooks, logs): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) = lines
        .iter()
        .partition(|l| l.windows(7).any(|w| w == b"\"entry\""));
    for (name, group) in [("hooks", hooks), ("log", logs)] {
        let per = group.len().div_ceil(k).max(1);
        for (i, chunk) in group.chunks(per).enumerate() {
            let path = dir.join(format!("{name}-{i}.ndjson"));
            let mut bytes = Vec::new();
            for l in chunk {
                bytes.extend_from_slice(l);
                bytes.push(b'\n');
            }
            std::fs::write(&path, bytes).unwrap();
            paths.push(path);
        }
    }
    paths
}

fn ingest_checked(lake: &Path, paths: &[PathBuf]) {
    ingest_checked_with_budget(lake, paths, options(lake, NOW).memory_budget_bytes);
}

fn ingest_checked_with_budget(lake: &Path, paths: &[PathBuf], memory_budget_bytes: usize) {
    let mut opts = options(lake, NOW);
    opts.max_quarantine_pct = 100.0;
    opts.memory_budget_bytes = memory_budget_bytes;
    let out = msgmeter::ingest::ingest(&opts, paths).unwrap();
    for f in &out.manifest.files {
        assert!(f.balances(), "{} does not balance: {f:?}", f.path);
    }
}

fn baseline() -> &'static polars::prelude::DataFrame {
    static BASE: OnceLock<polars::prelude::DataFrame> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let files = split_into_files(&dir.path().join("in"), corpus(), 1);
        let lake = dir.path().join("lake");
        ingest_checked(&lake, &files);
        events_content(&lake)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn splitting_shuffling_and_run_order_leave_the_events_table_unchanged(
        k in 1usize..5,
        seed in any::<u64>(),
        one_run_per_file in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = corpus().clone();
        lines.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let mut files = split_into_files(&dir.path().join("in"), &lines, k);
        let lake = dir.path().join("lake");
        if one_run_per_file {
            files.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 1));
            for f in &files {
                ingest_checked(&lake, std::slice::from_ref(f));
            }
        } else {
            ingest_checked(&lake, &files);
        }
        let got = events_content(&lake);
        prop_assert!(got.equals_missing(baseline()), "events differ for k={k} seed={seed}");
    }
}

#[test]
fn conflicting_duplicates_keep_the_earliest_then_the_smallest_hash() {
    let base = baseline();
    let keys = strings(base, "event_key");
    let kinds = strings(base, "message_type");
    let kind_of = |key: &str| -> Vec<String> {
        keys.iter()
            .zip(&kinds)
            .filter(|(k, _)| k.as_deref() == Some(key))
            .map(|(_, t)| t.clone().unwrap())
            .collect()
    };
    // c1: 10:00 beats 11:00. c3: 23:50 beats 00:20 the next day (across the partition).
    assert_eq!(kind_of("BX|c1"), vec!["text"]);
    assert_eq!(kind_of("BX|c3"), vec!["text"]);
    // c2: same instant — the smaller content hash wins, whichever came first.
    assert_eq!(kind_of("BX|c2").len(), 1);
}

#[test]
fn ingesting_twice_changes_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let files = split_into_files(&dir.path().join("in"), corpus(), 2);
    let lake = dir.path().join("lake");
    ingest_checked(&lake, &files);
    let before = lake_files(&lake);
    let again = ingest_paths(&lake, &files, NOW);
    assert!(again
        .manifest
        .files
        .iter()
        .all(|f| f.status == Some(FileStatus::AlreadyIngested) && f.read == 0));
    assert_eq!(
        lake_files(&lake),
        before,
        "a second run must not touch the lake"
    );
}

#[test]
fn same_inputs_and_now_give_byte_identical_table_files() {
    let dir = tempfile::tempdir().unwrap();
    let files = split_into_files(&dir.path().join("in"), corpus(), 3);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ingest_checked(&a, &files);
    ingest_checked(&b, &files);
    let fa = lake_files(&a);
    assert!(fa.keys().any(|k| k.starts_with("_restricted/conflicts/")));
    assert_same_table_files(&a, &b);
}

/// Both lakes hold the same files (events partitions among them), byte for byte.
fn assert_same_table_files(a: &Path, b: &Path) {
    let (fa, fb) = (lake_files(a), lake_files(b));
    assert!(fa.keys().any(|k| k.starts_with("events/date=")));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(v == &fb[k], "{k} differs");
    }
}

/// Accepted events wait for publishing in memory up to the budget and in scratch files
/// beyond it. A budget of 0 sends every parsed batch to the files (tests/spill.rs checks
/// that it does): the lake is the same.
#[test]
fn events_spilled_to_scratch_files_publish_exactly_as_events_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let files = split_into_files(&dir.path().join("in"), corpus(), 3);
    let (held, spilled) = (dir.path().join("held"), dir.path().join("spilled"));
    ingest_checked(&held, &files);
    ingest_checked_with_budget(&spilled, &files, 0);
    assert_same_table_files(&held, &spilled);
}

#[test]
fn the_event_log_as_csv_gives_the_same_events_as_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let mut lakes = Vec::new();
    for format in [TrafficFormat::Events, TrafficFormat::EventsCsv] {
        let out = dir.path().join(format!("{format:?}"));
        generate(&GenerateOptions {
            out: out.clone(),
            format,
            businesses: 3,
            customers: 200,
            start: NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
            days: 1,
            events_per_day: 800,
            seed: 5,
            files_per_day: 1,
        })
        .unwrap();
        let lake = dir.path().join(format!("lake-{format:?}"));
        ingest_checked(&lake, &[out]);
        lakes.push(events_content(&lake));
    }
    assert!(lakes[0].height() > 700);
    assert!(lakes[0].equals_missing(&lakes[1]));
}
