//! `msgmeter build`, the build driver: resolves the dates to build, runs the metering stage
//! over them (which reads each date's events once, as the date enters its window, and hands
//! every loaded date on), feeds those events to the analytics stage, then runs analytics
//! over the same dates. The stages never call each other: each reads tables and the events
//! the driver hands it, and writes its own tables. `nightly` will drive the same stages.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};

use crate::accounts::Accounts;
use crate::analytics::build::AnalyticsSummary;
use crate::analytics::feed::Feed;
use crate::error::{Error, Result};
use crate::lake::manifest::RunManifest;
use crate::lake::run::{Completed, Run};
use crate::lake::Lake;
use crate::metering::{self, BuildSummary, Pricing};
use crate::pricing::rates::RateCard;
use crate::pricing::rules::PricingRules;
use crate::pricing::source::SourceChoice;
use crate::schema::{
    BILLING_SOURCES, BUSINESS_DAILY, CASES, CONVERSATIONS, EVENTS, MESSAGES, RECONCILIATION,
    REPLY_WAITS, USAGE_DAILY,
};
use crate::time::{day_before, HOUR_MICROS};

pub struct BuildOptions {
    pub lake: PathBuf,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub source: SourceChoice,
    pub rules: PricingRules,
    pub rates: RateCard,
    pub accounts: Accounts,
    /// A case's first response within this many hours is timely (`[metrics]` in config).
    pub timely_response_hours: u32,
    /// The instant recorded in the manifest (nothing else reads the clock).
    pub now: DateTime<Utc>,
    pub config_hashes: BTreeMap<String, String>,
}

pub struct BuildOutcome {
    pub manifest: RunManifest,
    pub dates: Vec<NaiveDate>,
    /// Billing months of `billing_sources` written.
    pub months: Vec<String>,
    pub summary: BuildSummary,
    pub analytics: AnalyticsSummary,
}

/// Build the derived tables of `[from, to]` as one run on the lake.
pub fn build(opts: &BuildOptions) -> Result<BuildOutcome> {
    let lake = Lake::new(&opts.lake);
    // A lake that does not exist is a usage error, and nothing is created for it.
    if !lake.root.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such lake; ingest something first (`msgmeter ingest --lake {} FILES`)",
            lake.root.display(),
            lake.root.display()
        )));
    }
    let mut config = opts.config_hashes.clone();
    config.insert("metering_source".into(), opts.source.as_str().into());
    let digest =
        crate::lake::manifest::config_digest(&format!("{:?}..{:?}", opts.from, opts.to), &config);
    let record = |outcome: &str, problems: Vec<String>| {
        RunManifest::record("build", opts.now, &config, outcome, problems)
    };
    let interrupted = record(
        "interrupted",
        vec![
            "interrupted: the dates it was building may be partly rewritten; build them again"
                .into(),
        ],
    );
    let run = Run::start(&lake, "build", &digest, interrupted)?;
    let clock = Instant::now();
    match build_in(&run, opts) {
        Ok(mut outcome) => {
            let mut partitions_written = BTreeMap::new();
            let labels: Vec<String> = outcome.dates.iter().map(|d| d.to_string()).collect();
            for table in [
                &MESSAGES,
                &CONVERSATIONS,
                &USAGE_DAILY,
                &RECONCILIATION,
                &REPLY_WAITS,
                &CASES,
                &BUSINESS_DAILY,
            ] {
                partitions_written.insert(table.name.to_string(), labels.clone());
            }
            partitions_written.insert(BILLING_SOURCES.name.to_string(), outcome.months.clone());
            let finished = opts.now
                + chrono::Duration::from_std(clock.elapsed())
                    .unwrap_or_else(|_| chrono::Duration::zero());
            outcome.manifest = RunManifest {
                run_id: run.id().to_string(),
                finished_at: finished.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                partitions_written,
                stage_seconds: crate::timing::take(),
                ..record("ok", std::mem::take(&mut outcome.manifest.problems))
            };
            outcome.manifest.stages = stage_sections(&outcome);
            let built_dates = outcome.dates.clone();
            run.finish(
                &outcome.manifest,
                Completed {
                    built_dates,
                    ..Completed::default()
                },
            )?;
            Ok(outcome)
        }
        Err(e) => {
            run.abandon(&record("failed", vec![e.to_string()]))?;
            Err(e)
        }
    }
}

/// The stages, in order, under the run.
/// The manifest's sections: metering and analytics, each with its dates, counts and the
/// timers it owns.
fn stage_sections(outcome: &BuildOutcome) -> BTreeMap<String, crate::lake::manifest::StageSection> {
    use crate::lake::manifest::StageSection;
    let s = &outcome.summary;
    let a = &outcome.analytics;
    let is_analytics = |step: &str| {
        ["analytics", "business_daily", "cases", "reply_waits"]
            .iter()
            .any(|p| step.starts_with(p))
    };
    let seconds = |analytics: bool| {
        outcome
            .manifest
            .stage_seconds
            .iter()
            .filter(|(k, _)| is_analytics(k) == analytics)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let counts = |pairs: &[(&str, i64)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    BTreeMap::from([
        (
            "metering".to_string(),
            StageSection {
                dates: outcome.dates.clone(),
                months: outcome.months.clone(),
                counts: counts(&[
                    ("messages", s.messages as i64),
                    ("delivered", s.delivered as i64),
                    ("unmetered_deliveries", s.unmetered_deliveries as i64),
                    ("conversations", s.conversations as i64),
                    ("usage_rows", s.usage_rows as i64),
                    ("reconciliation_rows", s.reconciliation_rows as i64),
                    ("derived_billable_units", s.derived_billable_units),
                    ("reported_billable_units", s.reported_billable_units),
                ]),
                seconds: seconds(false),
            },
        ),
        (
            "analytics".to_string(),
            StageSection {
                dates: outcome.dates.clone(),
                months: Vec::new(),
                counts: counts(&[
                    ("reply_waits", a.waits as i64),
                    ("reply_waits_answered", a.waits_answered as i64),
                    ("cases", a.cases as i64),
                    ("orphan_case_events", a.orphan_case_events as i64),
                ]),
                seconds: seconds(true),
            },
        ),
    ])
}

fn build_in(run: &Run, opts: &BuildOptions) -> Result<BuildOutcome> {
    let lake = run.lake();
    let event_dates = lake.partition_dates(&EVENTS)?;
    let (Some(&first), Some(&last)) = (event_dates.first(), event_dates.last()) else {
        return Err(Error::Usage(format!(
            "{}: the lake has no events; run `msgmeter ingest --lake {} FILES` first",
            opts.lake.display(),
            opts.lake.display()
        )));
    };
    let from = opts.from.unwrap_or(first);
    let to = opts.to.unwrap_or(last);
    if from > to {
        return Err(Error::Usage(format!("--from {from} is after --to {to}")));
    }
    // A range outside the lake's events has nothing to build: no partition is written for
    // it. (A date without events inside their span is built like any other, as a range
    // through it builds it: cases still open make its backlog.)
    if to < first || from > last {
        let said = format!(
            "no events from {from} to {to} (the lake's events are from {first} to {last}): \
             nothing was built"
        );
        tracing::warn!("{said}");
        return Ok(BuildOutcome {
            manifest: RunManifest {
                problems: vec![said],
                ..RunManifest::default()
            },
            dates: Vec::new(),
            months: Vec::new(),
            summary: BuildSummary::default(),
            analytics: AnalyticsSummary::default(),
        });
    }
    let (start, moved) = metering::first_date_to_build(lake, &opts.rules, &event_dates, from)?;
    let problems: Vec<String> = moved.into_iter().collect();
    for p in &problems {
        tracing::warn!("{p}");
    }

    // Metering reads each date once; the analytics feed takes every date it loads.
    let mut feed = Feed::new(day_before(start, 1));
    let pricing = Pricing {
        rules: &opts.rules,
        rates: &opts.rates,
    };
    let metered = metering::meter(
        lake,
        &pricing,
        opts.source,
        &opts.accounts,
        (start, to),
        &mut |date, events| {
            let t = Instant::now();
            feed.add(date, events)?;
            crate::timing::add("analytics_feed", t.elapsed());
            Ok(())
        },
    )?;
    // Response times and cases (metrics.md) read the billed source and usage just written.
    let analytics = crate::analytics::build::build(
        lake,
        &opts.accounts,
        &metered.dates,
        i64::from(opts.timely_response_hours) * HOUR_MICROS,
        feed,
    )?;
    Ok(BuildOutcome {
        manifest: RunManifest {
            problems,
            ..RunManifest::default()
        },
        dates: metered.dates,
        months: metered.months,
        summary: metered.summary,
        analytics,
    })
}
