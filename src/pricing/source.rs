//! The two metering sources (billing.md §5): `derived` (msgmeter's own metering of the
//! events under the pricing rules) and `reported` (the platform's pricing objects on the
//! statuses), and the choice of which one is billed. Shared vocabulary: metering writes
//! both, billing and settings name the choice.

pub const DERIVED: &str = "derived";
pub const REPORTED: &str = "reported";

/// Which source is billed (billing.md §5; `--source`, config `metering.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceChoice {
    /// `reported` if any status of the business in the month carries a pricing object
    #[default]
    Auto,
    Derived,
    Reported,
}

impl SourceChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceChoice::Auto => "auto",
            SourceChoice::Derived => DERIVED,
            SourceChoice::Reported => REPORTED,
        }
    }

    pub fn billed(self, pricing_objects_seen: bool) -> &'static str {
        match self {
            SourceChoice::Derived => DERIVED,
            SourceChoice::Reported => REPORTED,
            SourceChoice::Auto if pricing_objects_seen => REPORTED,
            SourceChoice::Auto => DERIVED,
        }
    }
}
