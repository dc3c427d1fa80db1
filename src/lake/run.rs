//! A run on the lake (spec README, "Atomic"): what every command that writes the lake does
//! the same way, in one place. Starting a run takes the lake's lock (once, for the whole
//! run), completes what an interrupted run left (`publication::recover`: it must come before
//! anything clears the scratch folder, where a committed run's files may still wait),
//! clears leftovers, derives the run id and records the run's intent. Finishing it publishes
//! what it staged, writes its manifest and, last, moves the `_status.json` watermark, so
//! that a reader of the watermark never sees a half run.

use std::fs;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::manifest::RunManifest;
use super::publication::{self, Publication};
use super::{Lake, LakeLock};
use crate::error::{read_err, Error, Result};

/// One run, from its lock to its watermark.
pub struct Run {
    lake: Lake,
    publication: Publication,
    _lock: LakeLock,
}

impl Run {
    /// Lock the lake, recover, clear leftovers and record `intent` (the manifest that stands
    /// for the run if it never finishes). `digest` names what the run reads.
    pub fn start(lake: &Lake, command: &str, digest: &str, intent: RunManifest) -> Result<Run> {
        let lock = lake.lock(command)?;
        for said in publication::recover(lake)? {
            tracing::warn!("{said}");
        }
        super::remove_leftovers(lake)?;
        let publication = Publication::begin(lake, command, digest, intent)?;
        Ok(Run {
            lake: lake.clone(),
            publication,
            _lock: lock,
        })
    }

    pub fn id(&self) -> &str {
        self.publication.run_id()
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Where the run writes what it publishes (laid out like the lake).
    pub fn stage(&self) -> &Lake {
        self.publication.stage()
    }

    /// Remove a file of the lake (relative path, `/` separators) when the run publishes.
    pub fn remove_on_commit(&self, path_in_lake: String) {
        self.publication.remove_on_commit(path_in_lake)
    }

    /// Publish what was staged, write the manifest, then update the watermark with `done`.
    pub fn finish(self, manifest: &RunManifest, done: Completed) -> Result<()> {
        let manifest = RunManifest {
            run_id: self.id().to_string(),
            ..manifest.clone()
        };
        self.publication.commit(&manifest)?;
        LakeStatus::update(&self.lake, &manifest, done)
    }

    /// Stop without publishing: `manifest` (its outcome says why) is the run's record; the
    /// watermark does not move.
    pub fn abandon(self, manifest: &RunManifest) -> Result<()> {
        self.publication.abandon(manifest)
    }
}

/// What a finished run completed, for the watermark (an ingest's dates are read from the
/// lake: the watermark names the whole range that holds events).
#[derive(Debug, Clone, Default)]
pub struct Completed {
    /// UTC dates whose derived tables this run built (build).
    pub built_dates: Vec<NaiveDate>,
    /// Billing months this run finalized (invoice).
    pub final_months: Vec<String>,
}

/// A run, as the watermark names it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunRef {
    pub run_id: String,
    pub command: String,
    pub finished_at: String,
    pub outcome: String,
}

/// `LAKE/_status.json`: the completeness watermark analysts read (spec README, "The
/// lake"). Written atomically, last, by every run that finished.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LakeStatus {
    /// The last run that finished (any command).
    pub last_run: Option<RunRef>,
    /// The last ingest that finished, and the first and last UTC dates holding events.
    pub last_ingest: Option<RunRef>,
    pub event_dates: Option<[NaiveDate; 2]>,
    /// The last build that finished and the dates it built.
    pub last_build: Option<RunRef>,
    pub built_dates: Vec<NaiveDate>,
    /// Billing months whose invoices are final (none until invoicing exists).
    pub final_months: Vec<String>,
}

impl LakeStatus {
    pub fn read(lake: &Lake) -> Result<LakeStatus> {
        let path = lake.root.join("_status.json");
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Data {
                path,
                line: e.line() as u64,
                message: format!("unreadable watermark: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LakeStatus::default()),
            Err(e) => Err(read_err(&path)(e)),
        }
    }

    fn update(lake: &Lake, manifest: &RunManifest, done: Completed) -> Result<()> {
        let mut status = LakeStatus::read(lake)?;
        let run = RunRef {
            run_id: manifest.run_id.clone(),
            command: manifest.command.clone(),
            finished_at: manifest.finished_at.clone(),
            outcome: manifest.outcome.clone(),
        };
        if manifest.command == "ingest" {
            let dates = lake.partition_dates(&crate::schema::EVENTS)?;
            status.event_dates = dates.first().zip(dates.last()).map(|(a, b)| [*a, *b]);
            status.last_ingest = Some(run.clone());
        }
        if !done.built_dates.is_empty() {
            status.built_dates = done.built_dates;
            status.last_build = Some(run.clone());
        }
        for month in done.final_months {
            if !status.final_months.contains(&month) {
                status.final_months.push(month);
            }
        }
        status.final_months.sort();
        status.last_run = Some(run);
        let mut json = serde_json::to_vec_pretty(&status).expect("the watermark serialises");
        json.push(b'\n');
        super::write_bytes_atomically(&lake.root.join("_status.json"), &json)
    }
}
