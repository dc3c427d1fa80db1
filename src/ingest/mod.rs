//! `msgmeter ingest`: raw logs into the lake's `events` and `identities` tables
//! (events.md, spec README "Promises").
//!
//! Two phases keep memory flat however large the input:
//! 1. **Read** every new file in order, parse its lines in parallel (rayon), normalise, and
//!    hold accepted events by UTC date as compact rows, in memory up to a budget and in
//!    scratch files beyond it; rejected records go to quarantine as they are met.
//! 2. **Publish** each touched date in ascending order: merge the spilled rows with the
//!    date's existing partition, drop duplicates by the order-free rule, and write the
//!    partition atomically. Only the keys of the previous day are carried between dates,
//!    because duplicates are records with one key less than 24 h apart.

mod dedupe;
pub mod eventlog;
pub mod frame;
pub mod normalize;
pub mod quarantine;
mod reader;
pub mod scalar;
pub mod split;
pub mod whatsapp;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::lake::manifest::{ingested_file_hashes, FileReport, FileStatus, RunManifest, Totals};
use crate::lake::run::{Completed, Run};
use crate::lake::Lake;
use crate::pricing::markets::MarketTable;
pub use eventlog::FIELDS as EVENT_LOG_FIELDS;
use normalize::{Event, IdentityPair, Normalizer, Pseudonymizer, Reason, Rejection};
pub use reader::{list_inputs, InputFormat, Listed};

/// Which parser to use: decided from each file's content with `Auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatChoice {
    Auto,
    Whatsapp,
    Events,
}

pub struct IngestOptions {
    pub lake: PathBuf,
    pub format: FormatChoice,
    pub now: DateTime<Utc>,
    pub max_quarantine_pct: f64,
    pub max_line_bytes: usize,
    /// Accepted events (as compact rows) held in memory before they spill to scratch files.
    pub memory_budget_bytes: usize,
    pub markets: MarketTable,
    pub pseudonym_key: Vec<u8>,
    /// Hashes of the configuration inputs, recorded in the manifest.
    pub config_hashes: BTreeMap<String, String>,
}

pub struct IngestOutcome {
    pub manifest: RunManifest,
    /// Quarantined records exceeded `--max-quarantine-pct` of all records read.
    pub too_much_quarantined: bool,
    /// Stopped by Ctrl-C or SIGTERM before publishing: nothing was written to the tables.
    pub interrupted: bool,
}

impl IngestOutcome {
    /// Everything read was ingested and within the quarantine limit (exit status 0).
    pub fn succeeded(&self) -> bool {
        !self.too_much_quarantined && self.manifest.totals.failed_files == 0 && !self.interrupted
    }
}

/// What one line (or CSV row) turned into. Each record it held is exactly one of: an
/// event, a rejection, a skip.
#[derive(Debug, Default)]
pub struct LineOutcome {
    pub events: Vec<Event>,
    /// Events accepted from this line and already moved into a frame.
    pub moved_events: u64,
    pub rejections: Vec<(String, Rejection)>,
    pub skipped: Vec<String>,
    pub identities: Vec<IdentityPair>,
}

impl LineOutcome {
    pub fn accept(&mut self, e: Event) {
        self.events.push(e);
    }
    pub fn reject(&mut self, item_path: String, why: Rejection) {
        self.rejections.push((item_path, why));
    }
    /// The whole line is one bad record.
    pub fn reject_line(&mut self, why: Rejection) {
        self.rejections.push((String::new(), why));
    }
    pub fn skip(&mut self, kind: String) {
        self.skipped.push(kind);
    }
    pub fn records(&self) -> u64 {
        self.accepted() + (self.rejections.len() + self.skipped.len()) as u64
    }
    pub fn accepted(&self) -> u64 {
        self.events.len() as u64 + self.moved_events
    }
}

/// A line (or webhook item) that is not JSON at all, JSON that is not an object, or an
/// object of the wrong shape. The one place these three are told apart.
/// `shape_error` is serde's complaint about an object, when there is one: it names the field.
pub fn classify_json_error(text: &str, shape_error: Option<&serde_json::Error>) -> Rejection {
    let is_object = text.trim_start().starts_with('{');
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) if !is_object => Rejection::new(Reason::NotAnObject, "valid JSON, but not an object"),
        Ok(_) => Rejection::new(
            Reason::MalformedJson,
            match shape_error {
                Some(e) => format!("unexpected shape: {e}"),
                None => "valid JSON, but not of the expected shape".to_string(),
            },
        ),
        Err(e) => Rejection::new(Reason::MalformedJson, format!("not valid JSON: {e}")),
    }
}

/// Parse one NDJSON line of the given format (not blank; its length already checked) into
/// `out`, appending its events to those already there.
pub fn parse_json_line(
    line: &[u8],
    format: InputFormat,
    n: &Normalizer<'_>,
    max_line_bytes: usize,
    out: &mut LineOutcome,
) {
    if line.len() > max_line_bytes {
        out.reject_line(Rejection::new(
            Reason::LineTooLong,
            format!(
                "line is {} bytes, over the limit of {max_line_bytes}",
                line.len()
            ),
        ));
        return;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        out.reject_line(Rejection::new(
            Reason::InvalidUtf8,
            "line is not valid UTF-8",
        ));
        return;
    };
    if !text.trim_start().starts_with('{') {
        // serde would read a JSON array positionally into a struct: reject it here.
        out.reject_line(classify_json_error(text, None));
        return;
    }
    match format {
        InputFormat::Whatsapp => whatsapp::parse_line(text, n, out),
        InputFormat::EventsJson | InputFormat::EventsCsv => {
            match serde_json::from_str::<eventlog::EventLogRecord<'_>>(text) {
                Ok(rec) => match eventlog::normalise(&rec, n) {
                    Ok(e) => out.accept(e),
                    Err(r) => out.reject_line(r),
                },
                Err(e) => out.reject_line(classify_json_error(text, Some(&e))),
            }
        }
    }
}

/// One input file of this run.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Its place among the run's sources (scratch rows name their file by it).
    pub index: u32,
    pub path: PathBuf,
    pub name: String,
    pub sha256: String,
}

/// Everything phase 1 accumulates.
struct Collected {
    spill: frame::Spill,
    /// The earliest pairing of each (business, user id) seen so far.
    identities: HashMap<(String, String), IdentityPair>,
}

impl Collected {
    fn learn(&mut self, pair: IdentityPair) {
        let key = (pair.business_id.clone(), pair.user_key.clone());
        match self.identities.get(&key) {
            Some(known) if (known.ts, &known.customer.key) <= (pair.ts, &pair.customer.key) => {}
            _ => {
                self.identities.insert(key, pair);
            }
        }
    }
}

pub fn ingest(opts: &IngestOptions, paths: &[PathBuf]) -> Result<IngestOutcome> {
    // A usage error (an input that does not exist) is found before the lake is touched.
    let inputs = list_inputs(paths)?;
    let lake = Lake::new(&opts.lake);

    // Content hashes decide what is already ingested; hashing is I/O and SHA-256 bound,
    // so all files are hashed up front on every core. A file that cannot be read fails
    // alone.
    let t = Instant::now();
    let hashes: Vec<Option<std::result::Result<String, String>>> = inputs
        .par_iter()
        .map(|i| {
            (i.listed == Listed::Log)
                .then(|| reader::sha256_of_file(&i.path).map_err(|e| e.to_string()))
        })
        .collect();
    crate::timing::add("hash", t.elapsed());

    let mut config = opts.config_hashes.clone();
    config.insert(
        "pseudonym_key_fingerprint".into(),
        Pseudonymizer::fingerprint(&opts.pseudonym_key),
    );
    let started = Utc::now();
    let manifest = |files: Vec<FileReport>, outcome: &str, problems: Vec<String>| RunManifest {
        run_id: String::new(),
        command: "ingest".into(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        msgmeter_version: env!("CARGO_PKG_VERSION").into(),
        now: opts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        config: config.clone(),
        totals: totals_of(&files),
        files,
        outcome: outcome.into(),
        problems,
        ..RunManifest::default()
    };
    // What stands for this run should it never commit: every file `interrupted`.
    let listed: Vec<FileReport> = inputs
        .iter()
        .zip(&hashes)
        .map(|(input, hash)| FileReport {
            path: input.path.display().to_string(),
            sha256: hash.clone().and_then(|h| h.ok()).unwrap_or_default(),
            format: "unknown".into(),
            status: Some(FileStatus::Interrupted),
            ..FileReport::default()
        })
        .collect();
    let digest = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for f in &listed {
            h.update(f.path.as_bytes());
            h.update(f.sha256.as_bytes());
        }
        hex::encode(h.finalize())
    };
    let interrupted = manifest(
        listed,
        "interrupted",
        vec![INTERRUPTED_BEFORE_PUBLISHING.to_string()],
    );
    // Hashing reads only the inputs, so it runs before the lock: the run id and the run's
    // recorded intent name the hashes.
    let run = Run::start(&lake, "ingest", &digest, interrupted.clone())?;
    let run_id = run.id().to_string();
    let clock = Instant::now();
    match read_and_publish(opts, &lake, run.stage(), &inputs, hashes) {
        Ok(Publishing {
            reports: files,
            dates_written,
            identities_changed,
            removed,
            split,
        }) => {
            for path in removed {
                run.remove_on_commit(path);
            }
            let (problems, too_much_quarantined) = problems_of(opts, &lake, &files);
            let ok = problems.is_empty();
            let mut m = manifest(files, if ok { "ok" } else { "failed" }, problems);
            m.run_id = run_id;
            m.partitions_written.insert(
                "events".to_string(),
                dates_written
                    .iter()
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .collect(),
            );
            if identities_changed {
                m.partitions_written.insert(
                    "identities".to_string(),
                    vec!["(unpartitioned)".to_string()],
                );
            }
            m.stage_seconds = crate::timing::take();
            m.stages.insert(
                "publishing".into(),
                publishing_section(&dates_written, split),
            );
            m.stage_seconds
                .insert("total".into(), clock.elapsed().as_secs_f64());
            // Scratch rows go while the lock is held (the next run may start the moment it
            // is released); the staged files go with the commit.
            remove_spill(&lake);
            run.finish(&m, Completed::default())?;
            if crate::interrupt::requested() {
                tracing::warn!(
                    "interrupted while publishing: run {} finished its publication first and is complete",
                    m.run_id
                );
            }
            Ok(IngestOutcome {
                manifest: m,
                too_much_quarantined,
                interrupted: false,
            })
        }
        Err(Error::Interrupted) => {
            let mut m = interrupted;
            m.run_id = run_id;
            m.finished_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            remove_spill(&lake);
            run.abandon(&m)?;
            Ok(IngestOutcome {
                manifest: m,
                too_much_quarantined: false,
                interrupted: true,
            })
        }
        Err(e) => {
            let mut m = interrupted;
            m.run_id = run_id;
            m.outcome = "failed".into();
            m.problems = vec![format!("{e}; nothing of this run was published")];
            remove_spill(&lake);
            run.abandon(&m)?;
            Err(e)
        }
    }
}

/// The manifest's section on publishing: the dates written, and how a date larger than
/// the memory budget was split (issue 18): `buckets_max_rows`, and per split date its
/// number of buckets (`buckets_<date>`).
fn publishing_section(
    dates: &[NaiveDate],
    (split, max_rows): (BTreeMap<NaiveDate, usize>, usize),
) -> crate::lake::manifest::StageSection {
    let mut counts = BTreeMap::from([
        ("dates".to_string(), dates.len() as i64),
        ("buckets_max_rows".to_string(), max_rows as i64),
    ]);
    for (date, buckets) in split {
        counts.insert(format!("buckets_{date}"), buckets as i64);
    }
    crate::lake::manifest::StageSection {
        dates: dates.to_vec(),
        counts,
        ..Default::default()
    }
}

/// The scratch rows of the parse phase (`_tmp/spill/`), removed before the run lets go of
/// the lake. What is left after a crash goes at the next run's start.
fn remove_spill(lake: &Lake) {
    let _ = std::fs::remove_dir_all(lake.scratch_dir().join("spill"));
}

/// What did not fully succeed, for the manifest and the exit status: every failed file,
/// and quarantine above `--max-quarantine-pct` (the second value says whether it was).
fn problems_of(opts: &IngestOptions, lake: &Lake, files: &[FileReport]) -> (Vec<String>, bool) {
    let mut problems: Vec<String> = files
        .iter()
        .filter(|f| f.status == Some(FileStatus::Failed))
        .map(|f| {
            format!(
                "{}: not ingested: {}",
                f.path,
                f.reason.as_deref().unwrap_or("unreadable")
            )
        })
        .collect();
    let totals = totals_of(files);
    let too_much_quarantined = totals.read > 0
        && (totals.quarantined as f64) * 100.0 > opts.max_quarantine_pct * totals.read as f64;
    if too_much_quarantined {
        problems.push(format!(
            "{} of {} records ({:.2} %) were quarantined, above --max-quarantine-pct {} %; \
             everything else was written — see {}",
            totals.quarantined,
            totals.read,
            totals.quarantined as f64 * 100.0 / totals.read as f64,
            opts.max_quarantine_pct,
            lake.root.join("_restricted").join("quarantine").display()
        ));
    }
    (problems, too_much_quarantined)
}

const INTERRUPTED_BEFORE_PUBLISHING: &str = "interrupted before publishing: nothing of this run \
    reached the tables; the next ingest of the same files reads them again";

/// The run's totals: the sum of its files' counts.
fn totals_of(files: &[FileReport]) -> Totals {
    let mut totals = Totals::default();
    for r in files {
        match r.status {
            Some(FileStatus::Ingested) => totals.files += 1,
            Some(FileStatus::Failed) => totals.failed_files += 1,
            _ => {}
        }
        totals.read += r.read;
        totals.accepted += r.accepted;
        totals.duplicates += r.duplicates;
        totals.conflicting_duplicates += r.conflicting_duplicates;
        totals.quarantined += r.quarantined_total();
        totals.skipped += r.skipped_total();
        totals.replaced_in_lake += r.replaced;
    }
    totals
}

fn stop_if_interrupted() -> Result<()> {
    match crate::interrupt::requested() {
        true => Err(Error::Interrupted),
        false => Ok(()),
    }
}

/// Both phases, writing into `stage` (see `lake::publication`): every file read in order,
/// then every touched date published.
fn read_and_publish(
    opts: &IngestOptions,
    lake: &Lake,
    stage: &Lake,
    inputs: &[reader::InputFile],
    hashes: Vec<Option<std::result::Result<String, String>>>,
) -> Result<Publishing> {
    let already = ingested_file_hashes(lake)?;
    let pseudonyms = Pseudonymizer::new(&opts.pseudonym_key);
    let mut reading = Reading {
        opts,
        normalizer: Normalizer::new(
            &opts.markets,
            &pseudonyms,
            (opts.now + Duration::hours(24)).timestamp_micros(),
        ),
        quarantine_dir: stage
            .restricted_dir()?
            .join("quarantine")
            .join(format!("date={}", opts.now.date_naive().format("%Y-%m-%d"))),
        reports: Vec::new(),
        sources: Vec::new(),
        report_of_source: Vec::new(),
        collected: Collected {
            spill: frame::Spill::new(lake.scratch_dir().join("spill"), opts.memory_budget_bytes),
            identities: HashMap::new(),
        },
    };
    let mut seen_in_run: BTreeSet<String> = BTreeSet::new();
    for (input, hash) in inputs.iter().zip(hashes) {
        stop_if_interrupted()?;
        match before_reading(input, hash, &already, &mut seen_in_run) {
            BeforeReading::Done(report) => reading.reports.push(report),
            BeforeReading::Read(report) => reading.file(input, report)?,
        }
    }
    publish(lake, stage, reading)
}

/// What a file is before it is read.
enum BeforeReading {
    /// To be read: its report so far.
    Read(FileReport),
    /// Not read (deferred, not a raw log, unreadable, empty, already ingested): its report.
    Done(FileReport),
}

fn before_reading(
    input: &reader::InputFile,
    hash: Option<std::result::Result<String, String>>,
    already: &BTreeSet<String>,
    seen_in_run: &mut BTreeSet<String>,
) -> BeforeReading {
    let mut report = FileReport {
        path: input.path.display().to_string(),
        format: "unknown".into(),
        ..FileReport::default()
    };
    let done = |mut report: FileReport, status, reason: Option<String>| {
        report.status = Some(status);
        report.reason = reason;
        BeforeReading::Done(report)
    };
    match (&input.listed, hash) {
        (Listed::Deferred, _) => return done(report, FileStatus::Deferred, None),
        (Listed::Unsupported(why), _) => {
            return done(report, FileStatus::SkippedFile, Some(why.clone()))
        }
        (Listed::Log, Some(Ok(sha256))) => report.sha256 = sha256,
        (Listed::Log, not_hashed) => {
            let why = not_hashed.and_then(|h| h.err());
            let why = why.unwrap_or_else(|| "cannot read it".into());
            return done(report, FileStatus::Failed, Some(why));
        }
    }
    if std::fs::metadata(&input.path).is_ok_and(|m| m.len() == 0) {
        let why = "the file is empty (0 bytes): nothing to read".to_string();
        return done(report, FileStatus::Empty, Some(why));
    }
    if already.contains(&report.sha256) || !seen_in_run.insert(report.sha256.clone()) {
        tracing::info!(file = %input.path.display(), "already ingested (same content hash): skipped");
        return done(report, FileStatus::AlreadyIngested, None);
    }
    BeforeReading::Read(report)
}

/// Phase 1's state: the files read so far and what they gave.
struct Reading<'a> {
    opts: &'a IngestOptions,
    normalizer: Normalizer<'a>,
    quarantine_dir: PathBuf,
    reports: Vec<FileReport>,
    sources: Vec<SourceFile>,
    /// The report of each source, by the source's index.
    report_of_source: Vec<usize>,
    collected: Collected,
}

impl Reading<'_> {
    /// Read one file: its records counted, quarantined or collected. A file that cannot be
    /// read at all is reported `failed`; the run goes on.
    fn file(&mut self, input: &reader::InputFile, mut report: FileReport) -> Result<()> {
        let failed = |mut report: FileReport, e: &Error| {
            tracing::error!(file = %input.path.display(), "not ingested: {e}");
            report.status = Some(FileStatus::Failed);
            report.reason = Some(file_failure(e));
            report
        };
        let format = match reader::detect_format(&input.path, self.opts.format) {
            Ok(f) => f,
            Err(e) => {
                self.reports.push(failed(report, &e));
                return Ok(());
            }
        };
        report.format = format.label().to_string();
        report.status = Some(FileStatus::Ingested);
        let source = SourceFile {
            index: self.sources.len() as u32,
            path: input.path.clone(),
            name: input
                .path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            sha256: report.sha256.clone(),
        };
        let mut quarantine = quarantine::QuarantineWriter::new(
            self.quarantine_dir.clone(),
            &source.name,
            &source.sha256,
        );
        let file_clock = Instant::now();
        let before = FileReport {
            path: report.path.clone(),
            sha256: report.sha256.clone(),
            format: report.format.clone(),
            ..FileReport::default()
        };
        // Whether anything of the file was recorded: a failure before that is the file's
        // alone (unreadable, a CSV header without the required columns); after it, the
        // reader has already turned what it could not read into a `truncated_input` record,
        // so what remains is a failure of the run (writing the lake).
        let mut recorded_any = false;
        let collected = &mut self.collected;
        let mut sink = |chunk: Chunk<'_>| -> Result<()> {
            stop_if_interrupted()?;
            recorded_any = true;
            for (line_no, raw, outcome) in chunk.lines {
                report.read += outcome.records();
                report.accepted += outcome.accepted();
                for (item_path, why) in &outcome.rejections {
                    *report
                        .quarantined
                        .entry(why.reason.as_str().to_string())
                        .or_default() += 1;
                    quarantine.record(line_no, item_path, why, &raw)?;
                }
                for kind in outcome.skipped {
                    *report.skipped.entry(kind).or_default() += 1;
                }
                for pair in outcome.identities {
                    collected.learn(pair);
                }
            }
            for (date, rows) in chunk.rows {
                collected.spill.push(date, rows)?;
            }
            Ok(())
        };
        let read = reader::read_records(
            &input.path,
            format,
            &self.normalizer,
            self.opts.max_line_bytes,
            &source,
            &mut sink,
        );
        match read {
            Ok(()) => {}
            Err(e @ Error::Interrupted) => return Err(e),
            Err(e) if !recorded_any => {
                self.reports.push(failed(before, &e));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        quarantine.finish()?;
        tracing::debug!(
            file = %input.path.display(),
            format = format.label(),
            read = report.read,
            seconds = file_clock.elapsed().as_secs_f64(),
            "read"
        );
        self.sources.push(source);
        self.report_of_source.push(self.reports.len());
        self.reports.push(report);
        Ok(())
    }
}

/// Phase 2: identities first (they rewrite user-id customers), then events by date, and
/// what dedupe found counted into the files' reports.
fn publish(lake: &Lake, stage: &Lake, reading: Reading<'_>) -> Result<Publishing> {
    let Reading {
        opts,
        mut reports,
        sources,
        report_of_source,
        collected,
        ..
    } = reading;
    // Publishing holds one or two dates at a time besides the rows of a run that fits in
    // memory: nothing else of the parse phase stays — a larger run's last buffered rows go
    // to their scratch files, the workers' customer caches and the read buffer are dropped,
    // and what the workers freed goes back (publish runs on other threads). Memory freed
    // while the allocator keeps it never goes back (`memory.rs`), so keeping stops first.
    crate::memory::keep_freed_memory(false);
    let mut spill = collected.spill;
    spill.finish_parse()?;
    rayon::broadcast(|_| normalize::forget_cached_customers());
    normalize::forget_cached_customers();
    reader::forget_read_buffer();
    crate::memory::release_freed_memory();
    tracing::debug!(rss_mb = crate::timing::rss_mib(), "parse memory released");
    stop_if_interrupted()?;
    let publish_clock = Instant::now();
    let pairs: Vec<IdentityPair> = collected.identities.into_values().collect();
    let identities = dedupe::publish_identities(lake, stage, &pairs)?;
    let max_rows = dedupe::bucket_rows(opts.memory_budget_bytes);
    let published = dedupe::publish_events(lake, stage, spill, &sources, &identities, max_rows)?;
    crate::timing::add("publish", publish_clock.elapsed());

    for (source, counts) in published.by_source.iter().enumerate() {
        let r = &mut reports[report_of_source[source]];
        r.duplicates = counts.duplicates;
        r.conflicting_duplicates = counts.conflicting;
        r.replaced = counts.replaced;
        // Every record of the file was counted accepted as it was read; its duplicates are
        // among them.
        r.accepted -= counts.duplicates;
    }
    Ok(Publishing {
        reports,
        dates_written: published.dates_written,
        identities_changed: identities.changed,
        removed: published.removed,
        split: (published.split, max_rows),
    })
}

/// What publishing did: the files' reports, the dates written, whether `identities`
/// changed, and the lake files the commit removes.
struct Publishing {
    reports: Vec<FileReport>,
    dates_written: Vec<NaiveDate>,
    identities_changed: bool,
    removed: Vec<String>,
    /// Dates published in buckets, with how many; and the most rows a bucket holds.
    split: (BTreeMap<NaiveDate, usize>, usize),
}

/// Why a file could not be ingested, for its report: the error without the path (the
/// report names the file).
fn file_failure(e: &Error) -> String {
    match e {
        Error::Read { source, .. } => format!("cannot read it: {source}"),
        Error::Data { line, message, .. } => format!("line {line}: {message}"),
        other => other.to_string(),
    }
}

/// Map of identities: business-scoped user id (keyed) → the number's customer.
pub type IdentityMap = HashMap<(String, String), normalize::Customer>;

pub(crate) fn utc_date_of(ts: i64) -> NaiveDate {
    normalize::utc_day(ts)
}

/// What one chunk of a file turned into: each line's outcome (events already moved out)
/// and the accepted events as scratch rows by UTC date.
pub struct Chunk<'a> {
    /// Line number, raw line (needed only if something in it was rejected), outcome.
    pub lines: Vec<(u64, std::borrow::Cow<'a, [u8]>, LineOutcome)>,
    pub rows: Vec<(NaiveDate, frame::EventRows)>,
}

impl Chunk<'_> {
    /// Detach from the read buffer, keeping the raw text of rejected lines only, so the
    /// next chunk can be read and parsed while this one is being recorded.
    pub fn into_owned(self) -> Chunk<'static> {
        Chunk {
            lines: self
                .lines
                .into_iter()
                .map(|(no, raw, o)| {
                    let raw = if o.rejections.is_empty() {
                        Vec::new()
                    } else {
                        raw.into_owned()
                    };
                    (no, std::borrow::Cow::Owned(raw), o)
                })
                .collect(),
            rows: self.rows,
        }
    }
}

/// One parse worker's result: its lines' outcomes and its events as rows by date.
type WorkerOutput = (Vec<LineOutcome>, Vec<(NaiveDate, frame::EventRows)>);

/// Lines a worker handles at once.
const WORKER_LINES: usize = 2048;

/// Parse `items` in parallel. Each worker also encodes its accepted events as scratch
/// rows, so the single-threaded rest of the run only counts and routes.
pub(crate) fn parse_parallel<'a, T: Sync>(
    items: &'a [T],
    line_of: impl Fn(&'a T) -> (u64, &'a [u8]) + Sync,
    parse: impl Fn(&T, &mut LineOutcome) + Sync,
    source: &SourceFile,
) -> Result<Chunk<'a>> {
    let parts: Vec<Result<WorkerOutput>> = items
        .par_chunks(WORKER_LINES)
        .map(|part| {
            // The part's lines append their events to one vector (no vector per line);
            // each line keeps its count and its rejections.
            let mut parsed = LineOutcome {
                events: Vec::with_capacity(part.len() * 2),
                ..LineOutcome::default()
            };
            let outcomes: Vec<LineOutcome> = part
                .iter()
                .map(|item| {
                    let before = parsed.events.len();
                    parse(item, &mut parsed);
                    let line_no = line_of(item).0 as i64;
                    for e in &mut parsed.events[before..] {
                        e.source_line = line_no;
                    }
                    LineOutcome {
                        events: Vec::new(),
                        moved_events: (parsed.events.len() - before) as u64,
                        rejections: std::mem::take(&mut parsed.rejections),
                        skipped: std::mem::take(&mut parsed.skipped),
                        identities: std::mem::take(&mut parsed.identities),
                    }
                })
                .collect();
            // Each event is encoded straight into its date's rows, sized by a first count:
            // no event is moved again (one is about 450 bytes).
            let dates: Vec<NaiveDate> = parsed.events.iter().map(|e| utc_date_of(e.ts)).collect();
            let mut per_date: BTreeMap<NaiveDate, usize> = BTreeMap::new();
            for &date in &dates {
                *per_date.entry(date).or_default() += 1;
            }
            let mut by_date: BTreeMap<NaiveDate, frame::EventRows> = per_date
                .into_iter()
                .map(|(date, n)| (date, frame::EventRows::with_room_for(n)))
                .collect();
            for (e, date) in parsed.events.iter().zip(&dates) {
                let rows = by_date
                    .get_mut(date)
                    .expect("every event's date was counted");
                rows.push(e, source.index);
            }
            let rows: Vec<_> = by_date.into_iter().collect();
            Ok((outcomes, rows))
        })
        .collect();
    let mut chunk = Chunk {
        lines: Vec::with_capacity(items.len()),
        rows: Vec::new(),
    };
    let mut items = items.iter();
    for part in parts {
        let (outcomes, rows) = part?;
        for o in outcomes {
            let (line_no, raw) = line_of(items.next().expect("one outcome per item"));
            chunk
                .lines
                .push((line_no, std::borrow::Cow::Borrowed(raw), o));
        }
        chunk.rows.extend(rows);
    }
    Ok(chunk)
}

pub(crate) fn no_such_input(path: &Path) -> Error {
    Error::Usage(format!(
        "{}: no such file or folder; pass raw log files or folders holding them",
        path.display()
    ))
}
