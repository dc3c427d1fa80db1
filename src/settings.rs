//! Settings resolved once, by the spec's precedence: flag > `MSGMETER_*` environment >
//! config file (`--config`, TOML) > built-in default. clap already applies flag > env;
//! this module adds the config file and the defaults, and hands commands plain values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::accounts::{Accounts, EMBEDDED_ACCOUNTS_CSV};
use crate::error::{read_err, Error, Result};
use crate::pricing::markets::{MarketTable, EMBEDDED_MARKETS_CSV};
use crate::pricing::rates::{RateCard, EMBEDDED_RATE_CARD};
use crate::pricing::rules::{PricingRules, EMBEDDED_PRICING_RULES};
use crate::pricing::source::SourceChoice;

/// The config file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub lake: Option<PathBuf>,
    pub markets: Option<PathBuf>,
    pub accounts: Option<PathBuf>,
    pub rate_card: Option<PathBuf>,
    pub pricing_rules: Option<PathBuf>,
    pub pseudonym_key: Option<String>,
    pub max_quarantine_pct: Option<f64>,
    pub max_line_bytes: Option<usize>,
    pub memory_budget_mb: Option<usize>,
    pub log_format: Option<LogFormat>,
    #[serde(default)]
    pub metering: MeteringConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub invoicing: InvoicingConfig,
    /// SHA-256 of the file's text (set by `load`).
    #[serde(skip)]
    pub sha256: Option<String>,
}

/// How logs are written on stderr: text for people, JSON for schedulers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[metrics]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A case's first response within this many hours is timely (metrics.md; default 24).
    pub timely_response_hours: Option<u32>,
}

/// `[invoicing]` in the config file: who issues the invoices (billing.md §8).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoicingConfig {
    pub issuer_name: Option<String>,
    pub issuer_address: Option<String>,
    pub issuer_tax_id: Option<String>,
    /// Invoice numbers are `<PREFIX>-<YYYY>-<NNNNNN>` (letters and digits; default `INV`).
    pub number_prefix: Option<String>,
    /// ISO 3166-1 alpha-2 country of the issuer (e-invoices need it: EN 16931 BT-40).
    pub issuer_country: Option<String>,
    /// The issuer's electronic address (BT-34) and its scheme (EAS code, e.g. `0088`).
    pub issuer_electronic_address: Option<String>,
    pub issuer_electronic_scheme: Option<String>,
}

pub const DEFAULT_ISSUER_NAME: &str = "msgmeter (configure [invoicing] issuer_name)";
pub const DEFAULT_NUMBER_PREFIX: &str = "INV";

/// `[metering]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeteringConfig {
    /// Which source is billed: auto (default), derived or reported (billing.md §5).
    pub source: Option<SourceChoice>,
}

impl ConfigFile {
    pub fn load(path: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>)> {
        let Some(path) = path else {
            return Ok((ConfigFile::default(), None));
        };
        let text = std::fs::read_to_string(path).map_err(read_err(path))?;
        let mut cfg: ConfigFile = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.into(),
            message: format!("{e}"),
        })?;
        cfg.sha256 = Some(sha256_hex(text.as_bytes()));
        Ok((cfg, Some(path.to_path_buf())))
    }
}

/// The key used when none is configured: public, so pseudonyms made with it can be reversed
/// by anyone with a phone book. `ingest` warns loudly when it is in use.
pub const DEMO_PSEUDONYM_KEY: &str = "msgmeter-demo-key-not-secret";

pub const DEFAULT_MAX_QUARANTINE_PCT: f64 = 1.0;
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Accepted events an ingest holds in memory before it spills them to scratch files.
pub const DEFAULT_MEMORY_BUDGET_MB: usize = 512;

/// Where the pseudonym key came from: the demo key only when nothing was configured.
#[derive(Debug, Clone)]
pub struct PseudonymKey {
    pub bytes: Vec<u8>,
    pub is_demo_key: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: Option<PathBuf>,
    pub lake: Option<PathBuf>,
    pub markets_path: Option<PathBuf>,
    pub accounts_path: Option<PathBuf>,
    pub rate_card_path: Option<PathBuf>,
    pub pricing_rules_path: Option<PathBuf>,
    pub metering_source: SourceChoice,
    pub timely_response_hours: u32,
    pub pseudonym_key: PseudonymKey,
    pub max_quarantine_pct: f64,
    pub max_line_bytes: usize,
    pub memory_budget_mb: usize,
    /// SHA-256 of the config file's text, read once when it was loaded.
    pub config_sha256: Option<String>,
    /// `[invoicing]`, with the number prefix checked.
    pub invoicing: InvoicingConfig,
    /// Each configuration input, read, parsed and hashed once (the first time it is asked).
    loaded: Loaded,
}

/// The configuration inputs as loaded: the value and the SHA-256 of its text.
#[derive(Debug, Clone, Default)]
struct Loaded {
    markets: std::sync::OnceLock<(MarketTable, String)>,
    accounts: std::sync::OnceLock<(Accounts, String)>,
    rate_card: std::sync::OnceLock<(RateCard, String)>,
    pricing_rules: std::sync::OnceLock<(PricingRules, String)>,
}

/// A configuration input from its file, or the embedded default: read, parsed and hashed
/// once, then lent from `cell`.
fn load_once<T: Clone>(
    cell: &std::sync::OnceLock<(T, String)>,
    path: Option<&Path>,
    embedded_text: &str,
    embedded: impl FnOnce() -> T,
    parse: impl FnOnce(&str, &Path) -> Result<T>,
) -> Result<(T, String)> {
    if let Some(loaded) = cell.get() {
        return Ok(loaded.clone());
    }
    let loaded = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(read_err(p))?;
            (parse(&text, p)?, sha256_hex(text.as_bytes()))
        }
        None => (embedded(), sha256_hex(embedded_text.as_bytes())),
    };
    Ok(cell.get_or_init(|| loaded).clone())
}

/// Values from flags or the environment (clap resolved those two already).
#[derive(Debug, Default, Clone)]
pub struct CommandLine {
    pub lake: Option<PathBuf>,
    pub markets: Option<PathBuf>,
    pub accounts: Option<PathBuf>,
    pub rate_card: Option<PathBuf>,
    pub pricing_rules: Option<PathBuf>,
    pub metering_source: Option<SourceChoice>,
    pub pseudonym_key: Option<String>,
    pub max_quarantine_pct: Option<f64>,
    pub max_line_bytes: Option<usize>,
    pub memory_budget_mb: Option<usize>,
}

impl Settings {
    pub fn resolve(
        cli: CommandLine,
        config: ConfigFile,
        config_path: Option<PathBuf>,
    ) -> Result<Settings> {
        // Relative paths in a config file are relative to the file.
        let base = config_path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let from_file =
            |p: Option<PathBuf>| p.map(|p| if p.is_absolute() { p } else { base.join(p) });
        let key = cli.pseudonym_key.or(config.pseudonym_key);
        let pseudonym_key = match key {
            Some(k) if k.len() < 16 => {
                return Err(Error::Usage(
                    "the pseudonym key is shorter than 16 bytes; use a long random secret \
                     (e.g. `openssl rand -hex 32`)"
                        .into(),
                ))
            }
            Some(k) => PseudonymKey {
                bytes: k.into_bytes(),
                is_demo_key: false,
            },
            None => PseudonymKey {
                bytes: DEMO_PSEUDONYM_KEY.as_bytes().to_vec(),
                is_demo_key: true,
            },
        };
        let max_quarantine_pct = cli
            .max_quarantine_pct
            .or(config.max_quarantine_pct)
            .unwrap_or(DEFAULT_MAX_QUARANTINE_PCT);
        if !(0.0..=100.0).contains(&max_quarantine_pct) {
            return Err(Error::Usage(format!(
                "--max-quarantine-pct {max_quarantine_pct} is not a percentage between 0 and 100"
            )));
        }
        let config_sha256 = config.sha256.clone();
        let mut invoicing = config.invoicing.clone();
        let prefix = invoicing
            .number_prefix
            .get_or_insert_with(|| DEFAULT_NUMBER_PREFIX.to_string());
        if prefix.is_empty()
            || prefix.len() > 16
            || !prefix.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(Error::Config {
                path: config_path.clone().unwrap_or_default(),
                message: format!(
                    "invoicing.number_prefix {prefix:?}: expected 1 to 16 letters or digits"
                ),
            });
        }
        Ok(Settings {
            invoicing,
            config_sha256,
            loaded: Loaded::default(),
            config_path,
            lake: cli.lake.or(from_file(config.lake)),
            markets_path: cli.markets.or(from_file(config.markets)),
            accounts_path: cli.accounts.or(from_file(config.accounts)),
            rate_card_path: cli.rate_card.or(from_file(config.rate_card)),
            pricing_rules_path: cli.pricing_rules.or(from_file(config.pricing_rules)),
            metering_source: cli
                .metering_source
                .or(config.metering.source)
                .unwrap_or_default(),
            timely_response_hours: config.metrics.timely_response_hours.unwrap_or(24),
            pseudonym_key,
            max_quarantine_pct,
            max_line_bytes: cli
                .max_line_bytes
                .or(config.max_line_bytes)
                .unwrap_or(DEFAULT_MAX_LINE_BYTES),
            memory_budget_mb: cli
                .memory_budget_mb
                .or(config.memory_budget_mb)
                .unwrap_or(DEFAULT_MEMORY_BUDGET_MB),
        })
    }

    pub fn lake(&self) -> Result<PathBuf> {
        let lake = self.lake.clone().ok_or_else(|| {
            Error::Usage(
                "no lake given: pass --lake DIR, set MSGMETER_LAKE, or `lake` in the config file"
                    .into(),
            )
        })?;
        if lake.exists() && !lake.is_dir() {
            return Err(Error::Usage(format!(
                "{}: is a file, not a lake folder; pass the folder that holds events/ and _runs/ \
                 (or a new folder for ingest to create)",
                lake.display()
            )));
        }
        Ok(lake)
    }

    /// The markets table in force and the SHA-256 of its text.
    pub fn markets(&self) -> Result<(MarketTable, String)> {
        load_once(
            &self.loaded.markets,
            self.markets_path.as_deref(),
            EMBEDDED_MARKETS_CSV,
            MarketTable::embedded,
            MarketTable::parse,
        )
    }

    /// The account registry in force and the SHA-256 of its text.
    pub fn accounts(&self) -> Result<(Accounts, String)> {
        load_once(
            &self.loaded.accounts,
            self.accounts_path.as_deref(),
            EMBEDDED_ACCOUNTS_CSV,
            Accounts::embedded,
            Accounts::parse,
        )
    }

    pub fn rate_card(&self) -> Result<(RateCard, String)> {
        load_once(
            &self.loaded.rate_card,
            self.rate_card_path.as_deref(),
            EMBEDDED_RATE_CARD,
            RateCard::embedded,
            RateCard::parse,
        )
    }

    pub fn pricing_rules(&self) -> Result<(PricingRules, String)> {
        load_once(
            &self.loaded.pricing_rules,
            self.pricing_rules_path.as_deref(),
            EMBEDDED_PRICING_RULES,
            PricingRules::embedded,
            PricingRules::parse,
        )
    }

    /// Hashes of the configuration inputs, for the run manifest.
    pub fn config_hashes(&self, markets_sha: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("markets_sha256".into(), markets_sha.to_string());
        if let Some(sha) = &self.config_sha256 {
            m.insert("config_file_sha256".into(), sha.clone());
        }
        m
    }
}

impl Settings {
    /// The ingest memory budget in bytes (a budget too large for the machine saturates).
    pub fn memory_budget_bytes(&self) -> usize {
        self.memory_budget_mb.saturating_mul(1 << 20)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
