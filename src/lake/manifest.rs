//! The run manifest, `LAKE/_runs/<run-id>.json` (events.md §4): what a run read, what it
//! did with every record, and the fingerprints of the configuration it ran with. Manifests
//! are also the lake's memory of which files were already ingested.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use serde::{Deserialize, Serialize};

use super::Lake;
use crate::error::{read_err, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Ingested,
    AlreadyIngested,
    /// Still being written by whoever drops files (`.part`, `.tmp`): left for a later run.
    Deferred,
    /// Could not be read at all (unreadable, format unrecognisable, a CSV header without the
    /// required columns): nothing of it was ingested; `reason` says why. The run exits 1.
    Failed,
    /// In a landing folder but not a raw log (an unsupported extension): not read.
    SkippedFile,
    /// Zero bytes: nothing to read.
    Empty,
    /// The run stopped (killed, Ctrl-C) before publishing: nothing of it reached the tables,
    /// and the next run reads the file again.
    Interrupted,
}

/// What happened to one input file. `read = accepted + duplicates + Σ quarantined + Σ skipped`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileReport {
    pub path: String,
    pub sha256: String,
    pub format: String,
    pub status: Option<FileStatus>,
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub conflicting_duplicates: u64,
    pub quarantined: BTreeMap<String, u64>,
    pub skipped: BTreeMap<String, u64>,
    /// Rows already in the lake (from earlier runs) that this file's versions displaced: an
    /// earlier `ts`, or the same `ts` and a smaller content hash. Over the lake's whole
    /// history, Σ accepted − Σ replaced = rows of `events`.
    #[serde(default)]
    pub replaced: u64,
    /// Why a file was failed, skipped or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl FileReport {
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
    /// The "nothing lost" equation.
    pub fn balances(&self) -> bool {
        self.read
            == self.accepted + self.duplicates + self.quarantined_total() + self.skipped_total()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub files: u64,
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub conflicting_duplicates: u64,
    pub quarantined: u64,
    pub skipped: u64,
    /// Rows already in the lake that a better (earlier) version from this run displaced
    /// (Σ of the files' `replaced`).
    pub replaced_in_lake: u64,
    /// Files that could not be read (status `failed`).
    #[serde(default)]
    pub failed_files: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunManifest {
    pub run_id: String,
    pub command: String,
    pub started_at: String,
    pub finished_at: String,
    pub msgmeter_version: String,
    /// The instant the run judged "future" against (`--now`).
    pub now: String,
    /// SHA-256 of each configuration input, and the pseudonym key's fingerprint.
    pub config: BTreeMap<String, String>,
    pub files: Vec<FileReport>,
    pub totals: Totals,
    /// Partitions written, per table.
    pub partitions_written: BTreeMap<String, Vec<String>>,
    pub outcome: String,
    pub problems: Vec<String>,
    /// Seconds spent per stage (wall time, for diagnosis only).
    #[serde(default)]
    pub stage_seconds: BTreeMap<String, f64>,
    /// One section per stage of the run (build: metering, analytics; invoice: invoicing,
    /// documents): what it covered, what it counted and where its time went.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<String, StageSection>,
}

/// What one stage of a run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StageSection {
    /// UTC dates it wrote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<chrono::NaiveDate>,
    /// Billing months it wrote (`YYYY-MM`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<String>,
    /// Its counts, by name.
    #[serde(default)]
    pub counts: BTreeMap<String, i64>,
    /// Wall seconds of its steps (the entries of `stage_seconds` it owns).
    #[serde(default)]
    pub seconds: BTreeMap<String, f64>,
}

impl RunManifest {
    /// The record of a `command` run that started at `now` with `config`, ending with
    /// `outcome` and `problems` (what a run's intent and its final manifest both start from).
    pub fn record(
        command: &str,
        now: chrono::DateTime<chrono::Utc>,
        config: &BTreeMap<String, String>,
        outcome: &str,
        problems: Vec<String>,
    ) -> RunManifest {
        let secs = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        RunManifest {
            command: command.into(),
            started_at: secs.clone(),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            msgmeter_version: env!("CARGO_PKG_VERSION").into(),
            now: secs,
            config: config.clone(),
            outcome: outcome.into(),
            problems,
            ..RunManifest::default()
        }
    }
}

/// SHA-256 (hex) of what a run reads: `head`, then every configuration key and value.
pub fn config_digest(head: &str, config: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(head.as_bytes());
    for (k, v) in config {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(h.finalize())
}

/// SHA-256 of every file some earlier run ingested, read from the manifests.
pub fn ingested_file_hashes(lake: &Lake) -> Result<BTreeSet<String>> {
    let dir = lake.runs_dir();
    let mut hashes = BTreeSet::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(hashes),
        Err(e) => return Err(read_err(&dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(read_err(&dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(read_err(&path))?;
        // A manifest we cannot read is not proof that anything was ingested.
        let Ok(m) = serde_json::from_str::<RunManifest>(&text) else {
            continue;
        };
        for f in m.files {
            if f.status == Some(FileStatus::Ingested) {
                hashes.insert(f.sha256);
            }
        }
    }
    Ok(hashes)
}
