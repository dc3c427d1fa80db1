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
use crate::error::PolarsContext;
use crate::error::{Error, Result};
use crate::lake::columns::str_values;
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
use polars::prelude::*;

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
    /// A date with more events than fit is built in buckets of businesses (issue 18).
    pub memory_budget_bytes: usize,
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
    /// Buckets of businesses the build was split into (1: the whole lake at once).
    pub buckets: usize,
}

/// The UTC dates a build must redo when events arrived on `dates` (spec README, "What
/// nightly rebuilds", 1–3): the union of what each stage says new events affect —
/// metering, the days its windows reach and the rest of a billing month under a free
/// allowance; analytics, the start dates of the waits and cases they close or change.
/// Nightly adds its own date.
pub fn dates_to_rebuild(
    lake: &Lake,
    rules: &PricingRules,
    dates: &std::collections::BTreeSet<NaiveDate>,
) -> Result<std::collections::BTreeSet<NaiveDate>> {
    let mut all = metering::dates_affected(rules, dates);
    all.extend(crate::analytics::affected::dates_affected(lake, dates)?);
    Ok(all)
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
        vec!["interrupted before publishing: no table changed; build the dates again".into()],
    );
    let run = Run::start(&lake, "build", &digest, interrupted)?;
    let clock = Instant::now();
    match build_in(&run, opts) {
        Ok(mut outcome) => {
            let mut partitions_written = BTreeMap::new();
            let labels: Vec<String> = outcome.dates.iter().map(|d| d.to_string()).collect();
            for table in DATE_TABLES {
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
                    ("buckets", outcome.buckets as i64),
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
            buckets: 0,
        });
    }
    let (start, moved) = metering::first_date_to_build(lake, &opts.rules, &event_dates, from)?;
    let problems: Vec<String> = moved.into_iter().collect();
    for p in &problems {
        tracing::warn!("{p}");
    }

    // Every partition is written into the run's stage and published by its commit: a
    // build stopped at any point leaves the tables as they were. The stages read back what
    // they staged (analytics reads usage metering wrote), and the lake for the rest.
    let staged = lake.staged_in(run.stage());
    // A date with more events than the budget holds is built in buckets of businesses,
    // each bucket a view of the lake that reads only its businesses and writes its own part
    // of every partition (issue 18).
    let buckets = plan_buckets(lake, start, to, opts.memory_budget_bytes)?;
    let views: Vec<Lake> = match buckets.len() {
        0 | 1 => vec![staged],
        _ => buckets
            .iter()
            .enumerate()
            .map(|(k, range)| staged.scoped(range.clone(), k))
            .collect(),
    };
    let mut built = Built::default();
    for (k, view) in views.iter().enumerate() {
        if views.len() > 1 {
            tracing::info!(bucket = k, businesses = %buckets[k], "building a bucket of businesses");
        }
        let (metered, analytics) = build_bucket(view, opts, start, to)?;
        built.add(metered, analytics);
    }
    // Parts an earlier build split finer left beyond those written now go with the commit.
    for path in extra_parts(lake, &built, views.len())? {
        run.remove_on_commit(path);
    }
    Ok(BuildOutcome {
        manifest: RunManifest {
            problems,
            ..RunManifest::default()
        },
        dates: built.dates,
        months: built.months,
        summary: built.summary,
        analytics: built.analytics,
        buckets: views.len(),
    })
}

/// The stages over `[start, to]` as one view of the lake sees it (the whole lake, or one
/// bucket of businesses): metering, which hands every date it loads to the analytics feed,
/// then analytics.
fn build_bucket(
    lake: &Lake,
    opts: &BuildOptions,
    start: NaiveDate,
    to: NaiveDate,
) -> Result<(metering::Metered, AnalyticsSummary)> {
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
    Ok((metered, analytics))
}

/// What the buckets of a build wrote, together.
#[derive(Default)]
struct Built {
    dates: Vec<NaiveDate>,
    months: Vec<String>,
    summary: BuildSummary,
    analytics: AnalyticsSummary,
}

impl Built {
    fn add(&mut self, metered: metering::Metered, a: AnalyticsSummary) {
        // Every bucket builds the same dates and months.
        self.dates = metered.dates;
        self.months = metered.months;
        let (s, m) = (&mut self.summary, metered.summary);
        s.messages += m.messages;
        s.delivered += m.delivered;
        s.conversations += m.conversations;
        s.usage_rows += m.usage_rows;
        s.derived_billable_units += m.derived_billable_units;
        s.reported_billable_units += m.reported_billable_units;
        s.reconciliation_rows += m.reconciliation_rows;
        s.unmetered_deliveries += m.unmetered_deliveries;
        let t = &mut self.analytics;
        t.waits += a.waits;
        t.waits_answered += a.waits_answered;
        t.cases += a.cases;
        t.orphan_case_events += a.orphan_case_events;
    }
}

/// Building a date holds about this much memory per event of the date (measured: 10M
/// events in one day peaked at 6.2 GiB built whole).
const BUILD_BYTES_PER_EVENT: usize = 512;

/// The buckets of businesses a build of `[start, to]` takes, so that no bucket has more
/// events on any date its windows read than the budget holds: one bucket (the whole lake)
/// when every date fits, which is decided from the partitions' footers alone.
fn plan_buckets(
    lake: &Lake,
    start: NaiveDate,
    to: NaiveDate,
    budget_bytes: usize,
) -> Result<Vec<crate::lake::buckets::BusinessRange>> {
    let max_rows =
        (budget_bytes / BUILD_BYTES_PER_EVENT).max(crate::lake::buckets::MIN_BUCKET_ROWS);
    let (first, last) = (
        day_before(start, metering::LOOKBACK_DAYS),
        crate::time::day_after(to, metering::LOOKAHEAD_DAYS),
    );
    let dates: Vec<NaiveDate> = lake
        .partition_dates(&EVENTS)?
        .into_iter()
        .filter(|d| *d >= first && *d <= last)
        .collect();
    let mut dense = Vec::new();
    for &d in &dates {
        if lake.partition_rows(&EVENTS, d)? > max_rows {
            dense.push(d);
        }
    }
    if dense.is_empty() {
        return Ok(Vec::new());
    }
    // Rows per business on each date, counted part by part (a dense date's parts each
    // hold at most a bucket of ingest's rows, so its business ids are never all in memory).
    let mut rows: BTreeMap<String, BTreeMap<NaiveDate, u64>> = BTreeMap::new();
    for &d in &dates {
        for part in lake.date_parts(&EVENTS, d)? {
            let counts = lake
                .scan_parts(std::slice::from_ref(&part), &part.display().to_string())?
                .group_by([col("business_id")])
                .agg([len().cast(DataType::UInt64).alias("rows")])
                .collect()
                .ctx(format!("counting the events of {d} by business"))?;
            let b = str_values(&counts, "business_id")?;
            let n = counts.column("rows").ctx("events")?.u64().ctx("events")?;
            for (i, business) in b.into_iter().enumerate() {
                if let (Some(business), Some(n)) = (business, n.get(i)) {
                    *rows.entry(business).or_default().entry(d).or_default() += n;
                }
            }
        }
    }
    crate::memory::release_freed_memory();
    let buckets = crate::lake::buckets::plan(&rows, max_rows as u64);
    tracing::info!(
        dates = ?dense,
        buckets = buckets.len(),
        max_rows,
        "dates with more events than the memory budget holds: built in buckets of businesses"
    );
    Ok(buckets)
}

/// The lake's parts of every partition the build wrote, beyond the `parts` it wrote each
/// (left by an earlier build split into more buckets), as paths inside the lake.
fn extra_parts(lake: &Lake, built: &Built, parts: usize) -> Result<Vec<String>> {
    let mut dirs = Vec::new();
    for &d in &built.dates {
        for table in DATE_TABLES {
            dirs.push(lake.date_partition_dir(table, d));
        }
    }
    for m in &built.months {
        dirs.push(lake.month_partition_dir(&BILLING_SOURCES, m));
    }
    let mut extra = Vec::new();
    for dir in dirs {
        extra.extend(lake.parts_beyond(&dir, parts)?);
    }
    Ok(extra)
}

/// The `date=` tables a build writes.
const DATE_TABLES: [&crate::schema::Table; 7] = [
    &MESSAGES,
    &CONVERSATIONS,
    &USAGE_DAILY,
    &RECONCILIATION,
    &REPLY_WAITS,
    &CASES,
    &BUSINESS_DAILY,
];
