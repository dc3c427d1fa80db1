//! `msgmeter build`: the derived tables for a range of UTC dates — metering (billing.md) and
//! analytics (metrics.md); see `crate::metering::build`.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::{to_stdout, Context, LakeArg, Outcome};
use crate::error::Result;
use crate::pipeline;
use crate::pricing::source::SourceChoice;
use crate::settings::Settings;

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  msgmeter build --lake lake --from 2025-10-01 --to 2025-10-31\n  msgmeter build --lake lake --source derived\n\nWrites messages, conversations, usage_daily, reconciliation, reply_waits, cases and\nbusiness_daily (date= partitions) and billing_sources (month= partitions).\nWithout --from/--to, every date that has events is built. Building a range gives the same\nrows as building each of its days in order."
)]
pub struct BuildArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    /// First UTC date to build [default: the lake's first date with events]
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last UTC date to build [default: the lake's last date with events]
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Which metering source is billed, per business and month [default: auto, or
    /// `metering.source` in the config file]
    #[arg(long, value_enum, env = "MSGMETER_METERING_SOURCE")]
    pub source: Option<SourceChoice>,
    /// The instant recorded in the run manifest (RFC 3339) [default: now]
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
    /// Memory the build plans for: a date with more events than fit is built in buckets
    /// of businesses [default: 512, or `memory_budget_mb` in the config file]
    #[arg(long, env = "MSGMETER_MEMORY_BUDGET_MB")]
    pub memory_budget_mb: Option<usize>,
}

/// Everything `build` needs, loaded and fingerprinted from the settings.
pub fn options(
    settings: &Settings,
    lake: PathBuf,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: Option<DateTime<Utc>>,
) -> Result<pipeline::BuildOptions> {
    let (_, markets_sha) = settings.markets()?;
    let (accounts, accounts_sha) = settings.accounts()?;
    let (rates, rates_sha) = settings.rate_card()?;
    let (rules, rules_sha) = settings.pricing_rules()?;
    let mut config_hashes = settings.config_hashes(&markets_sha);
    config_hashes.insert("accounts_sha256".into(), accounts_sha);
    config_hashes.insert("rate_card_sha256".into(), rates_sha);
    config_hashes.insert("pricing_rules_sha256".into(), rules_sha);
    Ok(pipeline::BuildOptions {
        lake,
        from,
        to,
        source: settings.metering_source,
        rules,
        rates,
        accounts,
        timely_response_hours: settings.timely_response_hours,
        memory_budget_bytes: settings.memory_budget_bytes(),
        now: now.unwrap_or_else(Utc::now),
        config_hashes,
    })
}

pub fn run(a: BuildArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|line| {
        line.lake = a.lake.lake;
        line.metering_source = a.source;
        line.memory_budget_mb = a.memory_budget_mb;
    })?;
    let outcome = pipeline::build(&options(&settings, settings.lake()?, a.from, a.to, a.now)?)?;
    if outcome.dates.is_empty() {
        writeln!(
            stdout,
            "nothing built: the range lies outside the lake's events; run {}",
            outcome.manifest.run_id
        )
        .map_err(to_stdout)?;
        return Ok(Outcome::Success);
    }
    let s = &outcome.summary;
    let (first, last) = (outcome.dates.first(), outcome.dates.last());
    let out = &mut *stdout;
    (|| -> std::io::Result<()> {
        writeln!(
            out,
            "built {} dates ({} … {}): {} messages ({} delivered, {} not metered by the derived source), {} conversations, {} usage rows, {} reconciliation rows",
            outcome.dates.len(),
            first.map(|d| d.to_string()).unwrap_or_default(),
            last.map(|d| d.to_string()).unwrap_or_default(),
            s.messages,
            s.delivered,
            s.unmetered_deliveries,
            s.conversations,
            s.usage_rows,
            s.reconciliation_rows
        )?;
        writeln!(
            out,
            "billable units: derived {}, reported {}; run {}",
            s.derived_billable_units, s.reported_billable_units, outcome.manifest.run_id
        )?;
        writeln!(out, "{}", outcome.analytics)
    })()
    .map_err(to_stdout)?;
    for p in &outcome.manifest.problems {
        tracing::warn!("{p}");
    }
    Ok(Outcome::Success)
}
