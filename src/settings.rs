//! Settings resolved once, by the spec's precedence: flag > `MSGMETER_*` environment >
//! config file (`--config`, TOML) > built-in default. clap already applies flag > env;
//! this module adds the config file and the defaults, and hands commands plain values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{read_err, Error, Result};
use crate::ingest::normalize::DEMO_PSEUDONYM_KEY;
use crate::pricing::markets::{MarketTable, EMBEDDED_MARKETS_CSV};

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
    pub log_format: Option<String>,
}

impl ConfigFile {
    pub fn load(path: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>)> {
        let Some(path) = path else {
            return Ok((ConfigFile::default(), None));
        };
        let text = std::fs::read_to_string(path).map_err(read_err(path))?;
        let cfg = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.into(),
            message: format!("{e}"),
        })?;
        Ok((cfg, Some(path.to_path_buf())))
    }
}

pub const DEFAULT_MAX_QUARANTINE_PCT: f64 = 1.0;
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

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
    pub pseudonym_key: PseudonymKey,
    pub max_quarantine_pct: f64,
    pub max_line_bytes: usize,
}

/// Values from flags or the environment (clap resolved those two already).
#[derive(Debug, Default, Clone)]
pub struct CommandLine {
    pub lake: Option<PathBuf>,
    pub markets: Option<PathBuf>,
    pub pseudonym_key: Option<String>,
    pub max_quarantine_pct: Option<f64>,
    pub max_line_bytes: Option<usize>,
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
        Ok(Settings {
            config_path,
            lake: cli.lake.or(from_file(config.lake)),
            markets_path: cli.markets.or(from_file(config.markets)),
            pseudonym_key,
            max_quarantine_pct,
            max_line_bytes: cli
                .max_line_bytes
                .or(config.max_line_bytes)
                .unwrap_or(DEFAULT_MAX_LINE_BYTES),
        })
    }

    pub fn lake(&self) -> Result<PathBuf> {
        self.lake.clone().ok_or_else(|| {
            Error::Usage(
                "no lake given: pass --lake DIR, set MSGMETER_LAKE, or `lake` in the config file"
                    .into(),
            )
        })
    }

    /// The markets table in force and the SHA-256 of its text.
    pub fn markets(&self) -> Result<(MarketTable, String)> {
        match &self.markets_path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(read_err(p))?;
                Ok((MarketTable::parse(&text, p)?, sha256_hex(text.as_bytes())))
            }
            None => Ok((
                MarketTable::embedded(),
                sha256_hex(EMBEDDED_MARKETS_CSV.as_bytes()),
            )),
        }
    }

    /// Hashes of the configuration inputs, for the run manifest.
    pub fn config_hashes(&self, markets_sha: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("markets_sha256".into(), markets_sha.to_string());
        if let Some(p) = &self.config_path {
            if let Ok(bytes) = std::fs::read(p) {
                m.insert("config_file_sha256".into(), sha256_hex(&bytes));
            }
        }
        m
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
