//! The periods of pricing rules (billing.md §1), read from `data/pricing_rules.toml`.
//!
//! Rules are data keyed by the date they take effect, because Meta changed them five times
//! in four years and an invoice for an old month must be priced by the rules of that month.
//! A period starts at 00:00 of its `from` date in the account's billing time zone, so the
//! lookup takes the *local* date of the charge.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The rules shipped in `data/pricing_rules.toml`, compiled in.
pub const EMBEDDED_PRICING_RULES: &str = include_str!("../../data/pricing_rules.toml");

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
pub enum PricingModel {
    /// Conversation-based pricing: one charge per 24 h conversation.
    #[serde(rename = "CBP")]
    Conversation,
    /// Per-message pricing: one charge per delivered template message.
    #[serde(rename = "PMP")]
    PerMessage,
}

/// The models as the tables write them (`pricing_model`).
pub const CBP: &str = PricingModel::Conversation.as_str();
pub const PMP: &str = PricingModel::PerMessage.as_str();

impl PricingModel {
    pub const fn as_str(self) -> &'static str {
        match self {
            PricingModel::Conversation => "CBP",
            PricingModel::PerMessage => "PMP",
        }
    }

    /// `CBP` or `PMP`, as the tables write it.
    pub fn parse(text: &str) -> Option<PricingModel> {
        match text {
            "CBP" => Some(PricingModel::Conversation),
            "PMP" => Some(PricingModel::PerMessage),
            _ => None,
        }
    }
}

/// One period of rules, in force from `from` until the next period.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub from: NaiveDate,
    pub model: PricingModel,
    pub categories: Vec<String>,
    #[serde(default)]
    pub one_conversation_at_a_time: bool,
    #[serde(default)]
    pub free_tier_conversations: u64,
    #[serde(default)]
    pub free_tier_categories: Vec<String>,
    #[serde(default)]
    pub service_free: bool,
    #[serde(default)]
    pub utility_in_window_free: bool,
    pub free_entry_point_hours: i64,
}

impl Period {
    /// Does a conversation of `category` draw on the month's free allowance?
    pub fn draws_on_free_tier(&self, category: &str) -> bool {
        self.free_tier_conversations > 0
            && self
                .free_tier_categories
                .iter()
                .any(|c| c == "*" || c == category)
    }
}

#[derive(Debug, Deserialize)]
struct RulesFile {
    period: Vec<Period>,
}

#[derive(Debug, Clone)]
pub struct PricingRules {
    /// Ascending by `from`.
    periods: Vec<Period>,
}

impl PricingRules {
    pub fn embedded() -> Self {
        Self::parse(EMBEDDED_PRICING_RULES, Path::new("data/pricing_rules.toml"))
            .expect("the shipped pricing rules are valid")
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file: RulesFile = toml::from_str(text).map_err(|e| Error::Config {
            path: path.into(),
            message: format!("{e}"),
        })?;
        let mut periods = file.period;
        if periods.is_empty() {
            return Err(Error::Config {
                path: path.into(),
                message: "no [[period]] in the pricing rules".into(),
            });
        }
        periods.sort_by_key(|p| p.from);
        if let Some(w) = periods.windows(2).find(|w| w[0].from == w[1].from) {
            return Err(Error::Config {
                path: path.into(),
                message: format!("two periods start on {}", w[0].from),
            });
        }
        Ok(PricingRules { periods })
    }

    /// The period in force on a local (billing time zone) date; `None` before the first.
    pub fn period_on(&self, local_date: NaiveDate) -> Option<&Period> {
        self.periods.iter().rev().find(|p| p.from <= local_date)
    }

    pub fn periods(&self) -> &[Period] {
        &self.periods
    }

    /// Whether conversation-based pricing is in force anywhere in the local dates
    /// `[from, to]`: only then do conversation windows chain from one day into the next.
    pub fn conversations_between(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.periods.iter().enumerate().any(|(i, p)| {
            let end = self.periods.get(i + 1).map(|n| n.from);
            p.model == PricingModel::Conversation && p.from <= to && end.is_none_or(|e| e > from)
        })
    }
}
