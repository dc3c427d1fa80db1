//! The `msgmeter` binary: parse, resolve settings, run, map errors to exit codes.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use msgmeter::cli::{Cli, Command, LogFormat};
use msgmeter::error::Error;
use msgmeter::settings::{CommandLine, ConfigFile, Settings};
use msgmeter::{demo, generate, ingest, metering, query, schema};

// msgmeter allocates many small strings per event; mimalloc handles that far better than
// the system allocator (measured: see README, Benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Ingest keeps freed memory (see msgmeter::memory). Other commands return it: build's
    // peak would otherwise be every stage's peak added up (measured: 10M events, peak RSS
    // 2.6 GiB → see README).
    if matches!(cli.command, Command::Ingest(_) | Command::Demo(_)) {
        msgmeter::memory::keep_freed_memory(true);
    }
    init_logging(cli.quiet, cli.log_format);
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            let usage = matches!(e.downcast_ref::<Error>(), Some(Error::Usage(_)));
            tracing::error!("{e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn init_logging(quiet: bool, format: LogFormat) {
    let level = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MSGMETER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}

/// Ok(false): the job ran but did not fully succeed (exit 1).
fn run(cli: Cli) -> anyhow::Result<bool> {
    let (config, config_path) = ConfigFile::load(cli.config.as_deref())?;
    let mut line = CommandLine {
        markets: cli.markets.clone(),
        accounts: cli.accounts.clone(),
        rate_card: cli.rate_card.clone(),
        pricing_rules: cli.pricing_rules.clone(),
        pseudonym_key: std::env::var("MSGMETER_PSEUDONYM_KEY").ok(),
        ..CommandLine::default()
    };
    let stdout = &mut std::io::stdout().lock();
    match cli.command {
        Command::Generate(a) => {
            if let Some(path) = &a.accounts_out {
                std::fs::write(path, generate::accounts_csv(a.businesses))
                    .with_context(|| format!("writing {}", path.display()))?;
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
            )?;
            Ok(true)
        }
        Command::Ingest(a) => {
            line.lake = a.lake;
            line.max_quarantine_pct = a.max_quarantine_pct;
            line.max_line_bytes = a.max_line_bytes;
            line.memory_budget_mb = a.memory_budget_mb;
            let settings = Settings::resolve(line, config, config_path)?;
            if settings.pseudonym_key.is_demo_key {
                tracing::warn!(
                    "NO PSEUDONYM KEY CONFIGURED: customer pseudonyms use the public demo key and can \
                     be reversed by anyone with a phone book. Set MSGMETER_PSEUDONYM_KEY or \
                     `pseudonym_key` in the config file before ingesting real data."
                );
            }
            let (markets, markets_sha) = settings.markets()?;
            msgmeter::interrupt::watch().context("catching Ctrl-C")?;
            let outcome = ingest::ingest(
                &ingest::IngestOptions {
                    lake: settings.lake()?,
                    format: a.format,
                    now: a.now.unwrap_or_else(chrono::Utc::now),
                    max_quarantine_pct: settings.max_quarantine_pct,
                    max_line_bytes: settings.max_line_bytes,
                    memory_budget_bytes: settings.memory_budget_bytes(),
                    markets,
                    pseudonym_key: settings.pseudonym_key.bytes.clone(),
                    config_hashes: settings.config_hashes(&markets_sha),
                },
                &a.paths,
            )?;
            let m = &outcome.manifest;
            if outcome.interrupted {
                eprintln!(
                    "msgmeter: interrupted: nothing was published, the lake's tables are as before; \
                     run {} is recorded as interrupted and the next ingest reads its {} files again",
                    m.run_id,
                    m.files.len()
                );
                return Ok(false);
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
                )?;
            }
            let t = &m.totals;
            writeln!(
                stdout,
                "total\tread {} = accepted {} + duplicates {} + quarantined {} + skipped {}; replaced in lake {}; failed files {}; run {}",
                t.read, t.accepted, t.duplicates, t.quarantined, t.skipped, t.replaced_in_lake, t.failed_files, m.run_id
            )?;
            if t.files == 0 && t.read == 0 {
                writeln!(stdout, "nothing new to ingest: the lake is unchanged")?;
            }
            for p in &m.problems {
                tracing::error!("{p}");
            }
            Ok(outcome.succeeded())
        }
        Command::Build(a) => {
            line.lake = a.lake;
            line.metering_source = a.source;
            let settings = Settings::resolve(line, config, config_path)?;
            let outcome =
                metering::build(&settings.build_options(settings.lake()?, a.from, a.to, a.now)?)?;
            let s = &outcome.summary;
            let (first, last) = (outcome.dates.first(), outcome.dates.last());
            writeln!(
                stdout,
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
                stdout,
                "billable units: derived {}, reported {}; run {}",
                s.derived_billable_units, s.reported_billable_units, outcome.manifest.run_id
            )?;
            let a = &outcome.analytics;
            writeln!(
                stdout,
                "reply waits {} ({} answered), cases {}, orphan case events {}",
                a.waits, a.waits_answered, a.cases, a.orphan_case_events
            )?;
            for p in &outcome.manifest.problems {
                tracing::warn!("{p}");
            }
            Ok(true)
        }
        Command::Query(a) => {
            line.lake = a.lake;
            let settings = Settings::resolve(line, config, config_path)?;
            let mut df = query::run(&settings.lake()?, &a.sql)?;
            match (&a.out, a.format) {
                (Some(path), format) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("creating {}", path.display()))?,
                    );
                    query::write_result(&mut df, format, &mut f, path)?;
                    f.flush()?;
                }
                (None, query::OutputFormat::Parquet) => {
                    return Err(Error::Usage("--format parquet needs --out FILE".into()).into())
                }
                (None, format) => {
                    query::write_result(&mut df, format, stdout, std::path::Path::new("stdout"))?
                }
            }
            Ok(true)
        }
        Command::Schema(a) => {
            let tables: Vec<&schema::Table> = match &a.table {
                Some(name) => vec![schema::table(name).ok_or_else(|| {
                    Error::Usage(format!(
                        "no table {name:?}; tables: {}",
                        schema::TABLES
                            .iter()
                            .map(|t| t.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?],
                None => schema::TABLES.to_vec(),
            };
            write!(stdout, "{}", schema::dictionary(&tables))?;
            Ok(true)
        }
        Command::Demo(a) => {
            let settings = Settings::resolve(line, config, config_path)?;
            Ok(demo::run(&a.out, &settings, stdout)?)
        }
    }
}
