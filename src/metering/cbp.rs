//! Conversation-based pricing (billing.md §3): which conversation a delivered message
//! belongs to, opening a new one when none of the right kind is open.
//!
//! This is the genuinely sequential rule of metering — whether a conversation is open at a
//! delivery depends on when the previous one opened, and so on back — so it is a plain walk
//! over one customer's deliveries, and the conversations open at the start of a day are
//! handed in from the day before (the `conversations` table).

use crate::pricing::rules::Period;

use super::timeline::{conversation_pricing_type, Conversation, DAY_MICROS, SERVICE};

pub const BUSINESS_INITIATED: &str = "business_initiated";
pub const USER_INITIATED: &str = "user_initiated";

/// A delivered message about to be placed in a conversation.
pub struct Delivery<'a> {
    pub at: i64,
    pub is_template: bool,
    /// The template's category (authentication_international already resolved).
    pub category: &'a str,
}

/// Find the open conversation `delivery` joins, or open one. Returns the index into `open`.
/// `open` holds the pair's regular (non-entry-point) conversations, oldest first.
pub fn place(
    period: &Period,
    delivery: &Delivery<'_>,
    open: &mut Vec<Conversation>,
    new_conversation: impl FnOnce(&str, i64) -> Conversation,
) -> usize {
    let t = delivery.at;
    let joinable = |c: &Conversation| c.is_open_at(t);
    let found = if period.one_conversation_at_a_time {
        // 2022–23: one conversation at a time covers every message for 24 h.
        open.iter().position(joinable)
    } else if delivery.is_template {
        // A template joins an open conversation of its own category only.
        open.iter()
            .position(|c| joinable(c) && c.category == delivery.category)
    } else {
        // A free-form message joins any open conversation (the oldest).
        open.iter().position(joinable)
    };
    if let Some(i) = found {
        return i;
    }
    let category = match (period.one_conversation_at_a_time, delivery.is_template) {
        (true, true) => BUSINESS_INITIATED,
        (true, false) => USER_INITIATED,
        (false, true) => delivery.category,
        (false, false) => SERVICE,
    };
    let mut c = new_conversation(category, t);
    c.expires_at = t + DAY_MICROS;
    c.pricing_type = conversation_pricing_type(period, category);
    open.push(c);
    open.len() - 1
}
