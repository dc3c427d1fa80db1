//! The run manifest, `LAKE/_runs/<run-id>.json` (events.md §4): what a run read, what it
//! did with every record, and the fingerprints of the configuration it ran with. Manifests
//! are also the lake's memory of which files were already ingested.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use serde::{Deserialize, Serialize};

use super::Lake;
use crate::error::{read_err, write_err, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Ingested,
    AlreadyIngested,
    /// Still being written by whoever drops files (`.part`, `.tmp`): left for a later run.
    Deferred,
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
    /// Rows already in the lake that a better (earlier) version from this run displaced.
    pub replaced_in_lake: u64,
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
}

impl RunManifest {
    pub fn write(&self, lake: &Lake) -> Result<()> {
        let dir = lake.runs_dir();
        fs::create_dir_all(&dir).map_err(write_err(&dir))?;
        let path = dir.join(format!("{}.json", self.run_id));
        let mut json = serde_json::to_vec_pretty(self).expect("manifests serialise");
        json.push(b'\n');
        super::write_bytes_atomically(&path, &json)
    }
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
