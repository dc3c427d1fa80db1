//! Reply waits (metrics.md "Reply waits"): how long a customer waits for the business.
//!
//! A wait starts at a customer message when the business owes that customer no reply, and
//! stops at the business's next non-template message (an agent's or a bot's). Further
//! customer messages join the open wait; reactions neither start nor join one; templates
//! never stop one (a notification is not an answer). Within one second, the customer's
//! message comes first, so a reply stamped the same second answers it (0 s).

use super::{Happening, Kind};

pub const DAY_MICROS: i64 = 86_400_000_000;

/// One wait, before durations are measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyWait {
    pub started_at: i64,
    /// The first reply by anyone (agent or bot); `None` while unanswered.
    pub replied_at: Option<i64>,
    pub replied_by: Option<&'static str>,
    /// The first reply by a person: "first human response" skips bots.
    pub human_replied_at: Option<i64>,
    pub inbound_messages: i64,
    /// Nothing in either direction (templates and reactions included) in the 24 h before.
    pub is_first: bool,
}

/// The waits of one customer's timeline, in [`Happening::order_key`] order.
pub fn reply_waits(
    timeline: impl IntoIterator<Item = impl std::borrow::Borrow<Happening>>,
) -> Vec<ReplyWait> {
    let mut waits: Vec<ReplyWait> = Vec::new();
    let mut open: Option<usize> = None;
    // The latest instant of any message before the current one (for is_first).
    let mut last_message: Option<i64> = None;
    for h in timeline {
        let h = *h.borrow();
        match h.kind {
            Kind::CustomerMessage => match open {
                Some(i) => waits[i].inbound_messages += 1,
                None => {
                    let is_first = last_message.is_none_or(|t| t <= h.ts - DAY_MICROS);
                    waits.push(ReplyWait {
                        started_at: h.ts,
                        replied_at: None,
                        replied_by: None,
                        human_replied_at: None,
                        inbound_messages: 1,
                        is_first,
                    });
                    open = Some(waits.len() - 1);
                }
            },
            Kind::Reaction | Kind::Template => {}
            Kind::Reply { by } => {
                if let Some(i) = open.take() {
                    waits[i].replied_at = Some(h.ts);
                    waits[i].replied_by = Some(by);
                }
                // A person's reply completes the human clock of the latest wait still
                // waiting for one (a bot may have closed it first).
                if by == "agent" {
                    if let Some(w) = waits.last_mut() {
                        if w.human_replied_at.is_none() {
                            w.human_replied_at = Some(h.ts);
                        }
                    }
                }
            }
        }
        last_message = Some(h.ts);
    }
    waits
}

/// The nearest-rank percentile: the value at 1-based position ⌈q·n⌉ of the sorted values
/// (metrics.md; not polars' `Nearest`). `None` for no values.
pub fn nearest_rank(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // ⌈q·n⌉ computed in integers where q is a whole percent, so 0.9 × 10 is exactly 9.
    let percent = (q * 100.0).round() as usize;
    let rank = (percent * n).div_ceil(100).clamp(1, n);
    Some(sorted[rank - 1])
}
