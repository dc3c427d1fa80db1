//! Customer number → calling code, country and pricing market, by longest-prefix match of
//! the number's digits in `data/markets.csv` (events.md §3 "Market").
//!
//! The table is data because Meta moves countries between markets over time: each row has
//! a `valid_from`, and a lookup on a date uses the newest row in force that day.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;

use crate::error::{Error, Result};

/// The table shipped in `data/markets.csv`, compiled in so the binary works from anywhere.
pub const EMBEDDED_MARKETS_CSV: &str = include_str!("../../data/markets.csv");

/// Market of customers known only by an id: priced at the `Other` rate and flagged.
pub const UNKNOWN_MARKET: &str = "Unknown";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketOfNumber {
    pub calling_code: String,
    pub country: String,
    pub market: String,
}

#[derive(Debug, Clone)]
struct Row {
    valid_from: NaiveDate,
    found: MarketOfNumber,
}

#[derive(Debug, Clone)]
pub struct MarketTable {
    by_prefix: HashMap<String, Vec<Row>>,
    longest_prefix: usize,
}

impl MarketTable {
    pub fn embedded() -> Self {
        Self::parse(
            EMBEDDED_MARKETS_CSV,
            Path::new("data/markets.csv (embedded)"),
        )
        .expect("the embedded markets table is valid (checked by tests)")
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut by_prefix: HashMap<String, Vec<Row>> = HashMap::new();
        let mut header_seen = false;
        for (i, line) in text.lines().enumerate() {
            let line_no = i as u64 + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if !header_seen {
                if fields != ["prefix", "calling_code", "country", "market", "valid_from"] {
                    return Err(Error::Data {
                        path: path.into(),
                        line: line_no,
                        message:
                            "expected the header prefix,calling_code,country,market,valid_from"
                                .into(),
                    });
                }
                header_seen = true;
                continue;
            }
            let bad = |message: String| Error::Data {
                path: path.into(),
                line: line_no,
                message,
            };
            let [prefix, calling_code, country, market, valid_from] = fields[..] else {
                return Err(bad(format!("expected 5 fields, found {}", fields.len())));
            };
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("prefix {prefix:?} is not digits")));
            }
            if !prefix.starts_with(calling_code) || calling_code.is_empty() {
                return Err(bad(format!(
                    "prefix {prefix} does not start with its calling code {calling_code}"
                )));
            }
            let valid_from = NaiveDate::parse_from_str(valid_from, "%Y-%m-%d")
                .map_err(|e| bad(format!("valid_from {valid_from:?}: {e}")))?;
            by_prefix.entry(prefix.to_string()).or_default().push(Row {
                valid_from,
                found: MarketOfNumber {
                    calling_code: calling_code.to_string(),
                    country: country.to_string(),
                    market: market.to_string(),
                },
            });
        }
        if by_prefix.is_empty() {
            return Err(Error::Config {
                path: path.into(),
                message: "the markets table has no rows".into(),
            });
        }
        for rows in by_prefix.values_mut() {
            rows.sort_by_key(|r| r.valid_from);
        }
        let longest_prefix = by_prefix.keys().map(String::len).max().unwrap_or(0);
        Ok(MarketTable {
            by_prefix,
            longest_prefix,
        })
    }

    /// The market of a number (digits only, no `+`) on `day`: the longest prefix with a
    /// row in force that day. `None` when no prefix matches (an unassigned code).
    pub fn lookup(&self, digits: &str, day: NaiveDate) -> Option<&MarketOfNumber> {
        let max = self.longest_prefix.min(digits.len());
        for len in (1..=max).rev() {
            if let Some(rows) = self.by_prefix.get(&digits[..len]) {
                if let Some(row) = rows.iter().rev().find(|r| r.valid_from <= day) {
                    return Some(&row.found);
                }
            }
        }
        None
    }

    pub fn markets(&self) -> std::collections::BTreeSet<&str> {
        self.by_prefix
            .values()
            .flatten()
            .map(|r| r.found.market.as_str())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_prefix.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }
}
