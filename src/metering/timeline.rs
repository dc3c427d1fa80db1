//! One customer's timeline with one business — what every pricing rule looks at — and the
//! two windows both models share (billing.md §2): the customer-service window (24 h from
//! the latest customer message) and the free-entry-point window (72 h from the delivery of
//! the business's first reply within 24 h of an ad referral).
//!
//! Windows are half-open: a window opened at t covers [t, t + length).

use crate::pricing::rules::Period;

pub use crate::time::{DAY_MICROS, HOUR_MICROS};

/// A message the customer wrote (reactions included: they refresh the window too).
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub ts: i64,
    /// Came from a click-to-WhatsApp ad or page button.
    pub referral: bool,
}

/// An outbound message of the business with what its events say about delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub message_id: String,
    /// Known through a `message_out` event (else only through its statuses).
    pub has_message_out: bool,
    /// `None` when only statuses are known and they carry no category.
    pub is_template: Option<bool>,
    /// Template category (message_out), or the reported pricing category (webhook-only).
    pub category: Option<String>,
    pub sender: Option<String>,
    pub market: Option<String>,
    pub country: Option<String>,
    pub sent_at: i64,
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
    pub failed_at: Option<i64>,
}

/// Everything loaded about one (business, customer) pair, each list ascending by time.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub business_id: String,
    pub customer_key: Option<String>,
    pub inbound: Vec<Inbound>,
    pub outbound: Vec<Outbound>,
}

impl Timeline {
    /// Outbound messages that were delivered, in delivery order (ties: message id).
    pub fn deliveries(&self) -> Vec<&Outbound> {
        let mut d: Vec<&Outbound> = self
            .outbound
            .iter()
            .filter(|m| m.delivered_at.is_some())
            .collect();
        d.sort_by(|a, b| (a.delivered_at, &a.message_id).cmp(&(b.delivered_at, &b.message_id)));
        d
    }

    /// Is a customer-service window open at `t`? It opens at each customer message and
    /// lasts 24 h from the latest one; a customer message stamped the same second as the
    /// delivery comes first (metrics.md, order within a second).
    pub fn service_window_open(&self, t: i64) -> bool {
        // The latest inbound at or before t.
        let i = self.inbound.partition_point(|m| m.ts <= t);
        i > 0 && t < self.inbound[i - 1].ts + DAY_MICROS
    }

    /// The free-entry-point windows: for each referral, the first delivery in
    /// [referral, referral + 24 h) opens a window of `hours_at(delivery)` hours.
    /// Windows are independent of one another, so a window depends only on events of the
    /// 96 h before any instant it covers (no chain from older days).
    pub fn entry_point_windows(
        &self,
        deliveries: &[&Outbound],
        hours_at: impl Fn(i64) -> i64,
    ) -> Vec<(i64, i64)> {
        let mut windows: Vec<(i64, i64)> = Vec::new();
        for r in self.inbound.iter().filter(|m| m.referral) {
            let first = deliveries.iter().find_map(|m| {
                let d = m.delivered_at?;
                (d >= r.ts && d < r.ts + DAY_MICROS).then_some(d)
            });
            if let Some(d) = first {
                windows.push((d, d + hours_at(d) * HOUR_MICROS));
            }
        }
        windows.sort();
        windows.dedup();
        windows
    }
}

/// The newest free-entry-point window covering `t`. Newest, so that the delivery that
/// opened a window always belongs to it: every window's conversation then opens on the day
/// of its own first message, whatever older window overlaps it.
pub fn window_covering(windows: &[(i64, i64)], t: i64) -> Option<(i64, i64)> {
    windows
        .iter()
        .rev()
        .copied()
        .find(|(s, e)| *s <= t && t < *e)
}

/// What the rules decided for one delivered message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePricing {
    pub message_id: String,
    pub delivered_at: i64,
    pub category: Option<String>,
    pub is_template: Option<bool>,
    /// CBP or PMP in force at the delivery; `None` before the first period of rules.
    pub model: Option<&'static str>,
    /// `None`: not metered under the derived source (webhook-only CBP, or no category).
    pub pricing_type: Option<&'static str>,
    pub billable: Option<bool>,
    pub conversation_id: Option<String>,
}

/// A conversation derived under CBP.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub business_id: String,
    pub conversation_id: String,
    pub customer_key: Option<String>,
    pub market: Option<String>,
    pub category: String,
    pub opened_at: i64,
    pub expires_at: i64,
    pub pricing_type: &'static str,
}

impl Conversation {
    pub fn is_open_at(&self, t: i64) -> bool {
        self.opened_at <= t && t < self.expires_at
    }
}

/// Pricing types (spec README, usage_daily).
pub const REGULAR: &str = "regular";
pub const FREE_CUSTOMER_SERVICE: &str = "free_customer_service";
pub const FREE_ENTRY_POINT: &str = "free_entry_point";
pub const FREE_TIER: &str = "free_tier";

pub const SERVICE: &str = "service";
pub const REFERRAL_CONVERSION: &str = "referral_conversion";

/// The pricing type of a newly opened CBP conversation before the monthly allowance.
pub fn conversation_pricing_type(period: &Period, category: &str) -> &'static str {
    if category == REFERRAL_CONVERSION {
        FREE_ENTRY_POINT
    } else if category == SERVICE && period.service_free {
        FREE_CUSTOMER_SERVICE
    } else {
        REGULAR
    }
}
