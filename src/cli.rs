//! The command line (clap definitions only; no business logic here).

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::generate::TrafficFormat;
use crate::ingest::FormatChoice;
use crate::metering::SourceChoice;
use crate::query::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "msgmeter",
    version,
    about = "Meters, bills and analyses business messaging: raw webhook and event logs into a Parquet lake",
    after_help = "Example:\n  msgmeter demo\n  msgmeter generate --out landing --days 3\n  msgmeter ingest --lake lake landing/\n  msgmeter query --lake lake \"SELECT market, count(*) FROM events GROUP BY market\""
)]
pub struct Cli {
    /// TOML config file (keys: lake, markets, accounts, rate_card, pricing_rules, pseudonym_key,
    /// max_quarantine_pct, max_line_bytes, memory_budget_mb, [metering] source, [metrics] timely_response_hours)
    #[arg(long, global = true, env = "MSGMETER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only warnings and errors on stderr
    #[arg(long, global = true, env = "MSGMETER_QUIET")]
    pub quiet: bool,
    /// Log format on stderr
    #[arg(long, global = true, env = "MSGMETER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Calling-code → market table [default: data/markets.csv, compiled in]
    #[arg(long, global = true, env = "MSGMETER_MARKETS", value_name = "FILE")]
    pub markets: Option<PathBuf>,
    /// Account registry [default: data/accounts.csv, compiled in]
    #[arg(long, global = true, env = "MSGMETER_ACCOUNTS", value_name = "FILE")]
    pub accounts: Option<PathBuf>,
    /// Rate card [default: data/rate_card.csv, compiled in]
    #[arg(long, global = true, env = "MSGMETER_RATE_CARD", value_name = "FILE")]
    pub rate_card: Option<PathBuf>,
    /// Periods of pricing rules [default: data/pricing_rules.toml, compiled in]
    #[arg(
        long,
        global = true,
        env = "MSGMETER_PRICING_RULES",
        value_name = "FILE"
    )]
    pub pricing_rules: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a month of synthetic traffic, ingest it into a fresh lake and print a summary
    #[command(after_help = "Example:\n  msgmeter demo --out reports/demo")]
    Demo(DemoArgs),
    /// Write realistic synthetic traffic (deterministic for a seed, streamed to disk)
    #[command(
        after_help = "Example:\n  msgmeter generate --out landing --format whatsapp --days 7 --events-per-day 200000 --files-per-day 6"
    )]
    Generate(GenerateArgs),
    /// Read raw logs (webhook or event-log NDJSON/CSV, plain/.gz/.zst) into LAKE/events
    #[command(
        after_help = "Example:\n  MSGMETER_PSEUDONYM_KEY=$(cat /secrets/key) msgmeter ingest --lake lake landing/2025-10-01/\n\nEvery readable file is ingested even when others are not: a file that cannot be read\n(unrecognisable, a CSV header without event_id, ts, type, business_id) is `failed` in the\nmanifest with its reason; a compressed file cut short keeps its whole lines and the rest is\none `truncated_input` record; a folder's files that are not raw logs are `skipped_file`.\nCtrl-C stops before anything is published; a killed run is completed or recorded as\ninterrupted by the next run.\n\nExit status: 0 ok; 1 the job did not fully succeed (a failed file, bad configuration,\nquarantine above --max-quarantine-pct, interrupted: everything good is still written); 2\nusage error."
    )]
    Ingest(IngestArgs),
    /// Recompute the derived tables (messages, conversations, usage_daily, reconciliation,
    /// billing_sources) for a range of UTC dates
    #[command(
        after_help = "Example:\n  msgmeter build --lake lake --from 2025-10-01 --to 2025-10-31\n  msgmeter build --lake lake --source derived\n\nWithout --from/--to, every date that has events is built. Building a range gives the same\nrows as building each of its days in order."
    )]
    Build(BuildArgs),
    /// SQL over the lake's tables (events, identities, messages, conversations, usage_daily, …)
    #[command(
        after_help = "Example:\n  msgmeter query --lake lake --format csv \\\n    \"SELECT business_id, market, count(*) AS n FROM events WHERE event_type = 'message_in' GROUP BY 1, 2 ORDER BY n DESC\""
    )]
    Query(QueryArgs),
    /// The data dictionary: every table's columns with type, unit, nullability and meaning
    #[command(after_help = "Example:\n  msgmeter schema events")]
    Schema(SchemaArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo's landing files and lake (recreated)
    #[arg(long, default_value = "reports/demo")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write the files into
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = TrafficFormat::Whatsapp)]
    pub format: TrafficFormat,
    #[arg(long, default_value_t = 12)]
    pub businesses: usize,
    #[arg(long, default_value_t = 20_000)]
    pub customers: usize,
    /// First UTC day
    #[arg(long, default_value = "2025-10-01")]
    pub start: NaiveDate,
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Records per day (approximate: whole conversations are generated)
    #[arg(long, default_value_t = 100_000)]
    pub events_per_day: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Files each day is split into, as a landing folder receives them
    #[arg(long, default_value_t = 4)]
    pub files_per_day: u32,
    /// Also write the generated businesses' accounts (data/accounts.csv's shape) here
    #[arg(long, value_name = "FILE")]
    pub accounts_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The lake folder
    #[arg(long, env = "MSGMETER_LAKE")]
    pub lake: Option<PathBuf>,
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

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[arg(long, env = "MSGMETER_LAKE")]
    pub lake: Option<PathBuf>,
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

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[arg(long, env = "MSGMETER_LAKE")]
    pub lake: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write the result here instead of stdout (required for parquet)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The SQL statement
    pub sql: String,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// One table (default: all)
    pub table: Option<String>,
}
