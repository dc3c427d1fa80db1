//! Helpers shared by the tests: a lake in a temp folder, ingest with a fixed key and
//! `--now`, and table reads.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use polars::prelude::*;
use sha2::Sha256;

use msgmeter::ingest::{ingest, FormatChoice, IngestOptions, IngestOutcome};
use msgmeter::lake::manifest::FileReport;
use msgmeter::pricing::markets::MarketTable;

pub const TEST_KEY: &str = "test-pseudonym-key-0123456789abcdef";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A real webhook body file from `tests/fixtures/webhooks/` (pywa's test data, MIT; see the
/// README there for provenance).
pub fn webhook_fixture(name: &str) -> PathBuf {
    fixture("webhooks").join(name)
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid test time")
        .with_timezone(&Utc)
}

pub fn options(lake: &Path, now: &str) -> IngestOptions {
    IngestOptions {
        lake: lake.to_path_buf(),
        format: FormatChoice::Auto,
        now: at(now),
        max_quarantine_pct: 1.0,
        max_line_bytes: 1 << 20,
        memory_budget_bytes: 512 << 20,
        markets: MarketTable::embedded(),
        pseudonym_key: TEST_KEY.as_bytes().to_vec(),
        config_hashes: Default::default(),
    }
}

pub fn ingest_paths(lake: &Path, paths: &[PathBuf], now: &str) -> IngestOutcome {
    ingest(&options(lake, now), paths).expect("ingest runs")
}

/// The pseudonym computed independently of msgmeter: HMAC-SHA-256, first 16 bytes, hex.
pub fn pseudonym(identity: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(TEST_KEY.as_bytes()).expect("any key length");
    mac.update(identity.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

pub fn query(lake: &Path, sql: &str) -> DataFrame {
    msgmeter::query::run(lake, sql).expect("query runs")
}

pub fn strings(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    df.column(column)
        .expect("column exists")
        .cast(&DataType::String)
        .expect("castable to text")
        .str()
        .expect("text")
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

pub fn string(df: &DataFrame, column: &str, row: usize) -> Option<String> {
    strings(df, column)[row].clone()
}

pub fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).expect("write input");
    path
}

pub fn report<'a>(outcome: &'a IngestOutcome, file_name: &str) -> &'a FileReport {
    outcome
        .manifest
        .files
        .iter()
        .find(|f| f.path.ends_with(file_name))
        .expect("file in manifest")
}

/// One event of the events table, by event key (exactly one must exist).
pub fn event(lake: &Path, event_key: &str) -> DataFrame {
    let df = query(
        lake,
        &format!("SELECT * FROM events WHERE event_key = '{event_key}'"),
    );
    assert_eq!(df.height(), 1, "exactly one event {event_key}");
    df
}

/// The events table without the source columns, in a canonical order: what must not
/// depend on how the input was split, ordered or repeated.
pub fn events_content(lake: &Path) -> DataFrame {
    let df = query(
        lake,
        "SELECT * FROM events ORDER BY event_key, ts, content_hash",
    );
    df.drop_many(["source_file", "source_sha256", "source_line"])
}

/// Every file under the lake outside `_runs/` (and the watermark `_status.json`, which names
/// the last run), with its bytes, by relative path.
pub fn lake_files(lake: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("readable").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .to_string();
            // Run records: the manifests, the lock and the watermark name runs and times.
            if rel.starts_with("_runs") || rel == "_lock" || rel == "_status.json" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).expect("readable"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(lake, lake, &mut out);
    out
}

/// An event-log `message_in` of business `business` at `ts` (RFC 3339), id `id`.
pub fn event_line(id: &str, business: &str, ts: &str) -> String {
    serde_json::json!({
        "event_id": id,
        "ts": ts,
        "type": "message_in",
        "business_id": business,
        "customer": "+5511987654321",
        "message_id": format!("m-{id}"),
        "message_type": "text",
    })
    .to_string()
}

/// `msgmeter ingest` through the CLI with the test key and a fixed `--now`, quiet.
pub fn cli_ingest(lake: &Path, inputs: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_msgmeter"));
    c.env("MSGMETER_PSEUDONYM_KEY", TEST_KEY)
        .args([
            "--quiet",
            "ingest",
            "--now",
            "2025-10-10T00:00:00Z",
            "--lake",
        ])
        .arg(lake)
        .arg(inputs);
    c
}

/// The committed sample (`data/sample/`, both formats) ingested into `lake`.
pub fn ingest_sample(lake: &Path) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    ingest_paths(
        lake,
        &[sample.join("whatsapp"), sample.join("events")],
        "2025-10-09T00:00:00Z",
    );
}

/// Webhook body carrying one status item.
pub fn status_body(
    business: &str,
    message_id: &str,
    status: &str,
    ts: i64,
    recipient: &str,
    extra: &str,
) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{business}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"777"}},"statuses":[{{"id":"{message_id}","status":"{status}","timestamp":"{ts}","recipient_id":"{recipient}"{extra}}}]}},"field":"messages"}}]}}]}}"#
    )
}

/// Webhook body carrying one inbound message.
pub fn message_body(business: &str, message_id: &str, ts: &str, from: &str, extra: &str) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{business}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"777"}},"messages":[{{"from":"{from}","id":"{message_id}","timestamp":{ts},"type":"text","text":{{"body":"hi"}}{extra}}}]}},"field":"messages"}}]}}]}}"#
    )
}

/// Run a command to completion; its stdout as text, asserting its exit status (its stderr
/// shown if it differs).
pub fn stdout_of(c: &mut std::process::Command, code: i32) -> String {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{:?} does not run: {e}", c.get_program()));
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
