//! `msgmeter ingest`: raw logs into the lake's `events` (see `crate::ingest`); prints every
//! file's balance and the run's.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;

use super::{to_stdout, Context, LakeArg, Outcome};
use crate::error::Result;
use crate::ingest::{self, FormatChoice};
use crate::settings::Settings;

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  MSGMETER_PSEUDONYM_KEY=$(cat /secrets/key) msgmeter ingest --lake lake landing/2025-10-01/\n\nEvery readable file is ingested even when others are not: a file that cannot be read\n(unrecognisable, a CSV header without event_id, ts, type, business_id) is `failed` in the\nmanifest with its reason; a compressed file cut short keeps its whole lines and the rest is\none `truncated_input` record; a folder's files that are not raw logs are `skipped_file`.\nCtrl-C stops before anything is published; a killed run is completed or recorded as\ninterrupted by the next run.\n\nExit status: 0 ok; 1 the job did not fully succeed (a failed file, bad configuration,\nquarantine above --max-quarantine-pct, interrupted: everything good is still written); 2\nusage error."
)]
pub struct IngestArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    /// Which parser reads the files: decided from each file's content with `auto`
    #[arg(long, value_enum, default_value_t = FormatChoice::Auto)]
    pub format: FormatChoice,
    /// The instant that decides `future_timestamp` (RFC 3339) [default: now]
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
    /// Exit 1 when more than this percentage of records is quarantined [default: 1]
    #[arg(long, env = "MSGMETER_MAX_QUARANTINE_PCT")]
    pub max_quarantine_pct: Option<f64>,
    /// Lines longer than this are quarantined as line_too_long [default: 1048576]
    #[arg(long, env = "MSGMETER_MAX_LINE_BYTES")]
    pub max_line_bytes: Option<usize>,
    /// Accepted events held in memory (MB of compact rows) before the rest spills to
    /// scratch files under the lake [default: 512]
    #[arg(long, env = "MSGMETER_MEMORY_BUDGET_MB")]
    pub memory_budget_mb: Option<usize>,
    /// Files or folders (read recursively, in path order; a folder's .ndjson, .jsonl, .json
    /// and .csv files, optionally .gz or .zst)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// What `ingest` needs, from the settings (the demo ingests with the same).
pub fn options(
    settings: &Settings,
    lake: PathBuf,
    format: FormatChoice,
    now: DateTime<Utc>,
) -> Result<ingest::IngestOptions> {
    let (markets, markets_sha) = settings.markets()?;
    Ok(ingest::IngestOptions {
        lake,
        format,
        now,
        max_quarantine_pct: settings.max_quarantine_pct,
        max_line_bytes: settings.max_line_bytes,
        memory_budget_bytes: settings.memory_budget_bytes(),
        markets,
        pseudonym_key: settings.pseudonym_key.bytes.clone(),
        config_hashes: settings.config_hashes(&markets_sha),
    })
}

pub fn run(a: IngestArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|line| {
        line.lake = a.lake.lake;
        line.max_quarantine_pct = a.max_quarantine_pct;
        line.max_line_bytes = a.max_line_bytes;
        line.memory_budget_mb = a.memory_budget_mb;
    })?;
    if settings.pseudonym_key.is_demo_key {
        tracing::warn!(
            "NO PSEUDONYM KEY CONFIGURED: customer pseudonyms use the public demo key and can \
             be reversed by anyone with a phone book. Set MSGMETER_PSEUDONYM_KEY or \
             `pseudonym_key` in the config file before ingesting real data."
        );
    }
    let opts = options(
        &settings,
        settings.lake()?,
        a.format,
        a.now.unwrap_or_else(Utc::now),
    )?;
    crate::interrupt::watch().map_err(|e| crate::Error::Failed {
        what: "catching Ctrl-C".into(),
        message: e.to_string(),
    })?;
    let outcome = ingest::ingest(&opts, &a.paths)?;
    let m = &outcome.manifest;
    if outcome.interrupted {
        eprintln!(
            "msgmeter: interrupted: nothing was published, the lake's tables are as before; \
             run {} is recorded as interrupted and the next ingest reads its {} files again",
            m.run_id,
            m.files.len()
        );
        return Ok(Outcome::Incomplete);
    }
    for f in &m.files {
        writeln!(
            stdout,
            "{}\t{}\t{:?}\tread {} accepted {} duplicates {} (conflicting {}) quarantined {} skipped {} replaced {}{}",
            f.path,
            f.format,
            f.status.clone().expect("every file has a status"),
            f.read,
            f.accepted,
            f.duplicates,
            f.conflicting_duplicates,
            f.quarantined_total(),
            f.skipped_total(),
            f.replaced,
            f.reason.as_deref().map(|r| format!("\t{r}")).unwrap_or_default()
        )
        .map_err(to_stdout)?;
    }
    let t = &m.totals;
    writeln!(
        stdout,
        "total\tread {} = accepted {} + duplicates {} + quarantined {} + skipped {}; replaced in lake {}; failed files {}; run {}",
        t.read, t.accepted, t.duplicates, t.quarantined, t.skipped, t.replaced_in_lake, t.failed_files, m.run_id
    )
    .map_err(to_stdout)?;
    if t.files == 0 && t.read == 0 {
        writeln!(stdout, "nothing new to ingest: the lake is unchanged").map_err(to_stdout)?;
    }
    for p in &m.problems {
        tracing::error!("{p}");
    }
    Ok(Outcome::from_success(outcome.succeeded()))
}
