//! `msgmeter build`: the derived tables for a range of UTC dates — metering (billing.md) and
//! analytics (metrics.md); see `crate::metering::build`.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::{to_stdout, Context, LakeArg, Outcome};
use crate::error::Result;
use crate::metering::{self, SourceChoice};

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
}

pub fn run(a: BuildArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|line| {
        line.lake = a.lake.lake;
        line.metering_source = a.source;
    })?;
    let outcome =
        metering::build(&settings.build_options(settings.lake()?, a.from, a.to, a.now)?)?;
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
        let a = &outcome.analytics;
        writeln!(
            out,
            "reply waits {} ({} answered), cases {}, orphan case events {}",
            a.waits, a.waits_answered, a.cases, a.orphan_case_events
        )
    })()
    .map_err(to_stdout)?;
    for p in &outcome.manifest.problems {
        tracing::warn!("{p}");
    }
    Ok(Outcome::Success)
}
