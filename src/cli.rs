//! The command line (clap definitions only; no business logic here).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use crate::settings::LogFormat;

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "msgmeter",
    version,
    about = "Meters, bills and analyses business messaging: raw webhook and event logs into a Parquet lake",
    after_help = "Example:\n  msgmeter demo\n  msgmeter generate --out landing --days 3\n  msgmeter ingest --lake lake landing/\n  msgmeter query --lake lake \"SELECT market, count(*) FROM events GROUP BY market\""
)]
pub struct Cli {
    /// TOML config file (keys: lake, markets, accounts, rate_card, pricing_rules, pseudonym_key,
    /// max_quarantine_pct, max_line_bytes, memory_budget_mb, [metering] source, [metrics] timely_response_hours, [invoicing] issuer_name, issuer_address, issuer_tax_id, number_prefix, issuer_country, issuer_electronic_address, issuer_electronic_scheme)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MSGMETER_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Only warnings and errors on stderr
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MSGMETER_QUIET"
    )]
    pub quiet: bool,
    /// Log format on stderr [default: text, or `log_format` in the config file]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MSGMETER_LOG_FORMAT",
        value_enum
    )]
    pub log_format: Option<LogFormat>,
    /// Calling-code → market table [default: data/markets.csv, compiled in]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MSGMETER_MARKETS",
        value_name = "FILE"
    )]
    pub markets: Option<PathBuf>,
    /// Account registry [default: data/accounts.csv, compiled in]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MSGMETER_ACCOUNTS",
        value_name = "FILE"
    )]
    pub accounts: Option<PathBuf>,
    /// Rate card [default: data/rate_card.csv, compiled in]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MSGMETER_RATE_CARD",
        value_name = "FILE"
    )]
    pub rate_card: Option<PathBuf>,
    /// Periods of pricing rules [default: data/pricing_rules.toml, compiled in]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "MSGMETER_PRICING_RULES",
        value_name = "FILE"
    )]
    pub pricing_rules: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a month of synthetic traffic, ingest it into a fresh lake and print a summary
    Demo(commands::demo::DemoArgs),
    /// Write realistic synthetic traffic (deterministic for a seed, streamed to disk)
    Generate(commands::generate::GenerateArgs),
    /// Read raw logs (webhook or event-log NDJSON/CSV, plain/.gz/.zst) into LAKE/events
    Ingest(commands::ingest::IngestArgs),
    /// Recompute the derived tables (messages, conversations, usage_daily, reconciliation,
    /// billing_sources, reply_waits, cases, business_daily) for a range of UTC dates
    Build(commands::build::BuildArgs),
    /// Draft or finalize a billing month's invoices (invoices, invoice_lines, JSON, ERP CSV)
    Invoice(commands::invoice::InvoiceArgs),
    /// An invoice line's lineage: usage_daily rows, messages or conversations, raw events
    Explain(commands::explain::ExplainArgs),
    /// SQL over the lake's tables (events, identities, messages, conversations, usage_daily, …)
    Query(commands::query::QueryArgs),
    /// The data dictionary: every table's columns with type, unit, nullability and meaning
    Schema(commands::schema::SchemaArgs),
}
