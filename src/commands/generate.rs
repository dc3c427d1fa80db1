//! `msgmeter generate`: realistic synthetic traffic, deterministic for a seed, streamed to
//! disk (see `crate::generate`).

use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::{to_stdout, Outcome};
use crate::error::{write_err, Result};
use crate::generate::{self, TrafficFormat};

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  msgmeter generate --out landing --format whatsapp --days 7 --events-per-day 200000 --files-per-day 6"
)]
pub struct GenerateArgs {
    /// Folder to write the files into
    #[arg(long)]
    pub out: PathBuf,
    /// Meta-shaped webhook bodies, or our own event log (NDJSON or CSV; cases exist only there)
    #[arg(long, value_enum, default_value_t = TrafficFormat::Whatsapp)]
    pub format: TrafficFormat,
    /// Businesses sending traffic
    #[arg(long, default_value_t = 12)]
    pub businesses: usize,
    /// Distinct customers (phone numbers) across all businesses
    #[arg(long, default_value_t = 20_000)]
    pub customers: usize,
    /// First UTC day
    #[arg(long, default_value = "2025-10-01")]
    pub start: NaiveDate,
    /// Number of days
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Records per day (approximate: whole conversations are generated)
    #[arg(long, default_value_t = 100_000)]
    pub events_per_day: u64,
    /// Seed: the same seed and flags give the same files, byte for byte
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Files each day is split into, as a landing folder receives them
    #[arg(long, default_value_t = 4)]
    pub files_per_day: u32,
    /// Also write the generated businesses' accounts (data/accounts.csv's shape) here
    #[arg(long, value_name = "FILE")]
    pub accounts_out: Option<PathBuf>,
}

pub fn run(a: GenerateArgs, stdout: &mut dyn Write) -> Result<Outcome> {
    if let Some(path) = &a.accounts_out {
        std::fs::write(path, generate::accounts_csv(a.businesses)).map_err(write_err(path))?;
    }
    let summary = generate::generate(&generate::GenerateOptions {
        out: a.out.clone(),
        format: a.format,
        businesses: a.businesses,
        customers: a.customers,
        start: a.start,
        days: a.days,
        events_per_day: a.events_per_day,
        seed: a.seed,
        files_per_day: a.files_per_day,
    })?;
    writeln!(
        stdout,
        "wrote {} files to {}: {} lines, {} records, {:.1} MB",
        summary.files.len(),
        a.out.display(),
        summary.lines,
        summary.records,
        summary.bytes as f64 / 1e6
    )
    .map_err(to_stdout)?;
    Ok(Outcome::Success)
}
