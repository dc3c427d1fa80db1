//! Response times and complaint statistics (metrics.md): the clocks behind `reply_waits`,
//! `cases` and `business_daily`.
//!
//! The rules are pure functions over one customer's or one case's events, each tested on
//! hand-checked timelines: business hours in an IANA time zone ([`hours`]), the reply-wait
//! state machine and nearest-rank percentiles ([`waits`]), and case clocks ([`cases`]).
//! [`build`] reads the lake for them and writes `reply_waits`, `cases` and
//! `business_daily` as part of `msgmeter build`.

pub mod affected;
pub mod build;
pub mod cases;
mod daily;
pub mod feed;
pub mod waits;

/// One message in a customer's timeline with a business, as the reply-wait clock sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Happening {
    /// µs since the epoch, UTC.
    pub ts: i64,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The customer wrote (any type but a reaction).
    CustomerMessage,
    /// A reaction: refreshes the customer-service window, starts and joins no wait.
    Reaction,
    /// A template, or a non-template notification nobody typed (`sender` system): never
    /// an answer.
    Template,
    /// A non-template message by an agent or a bot.
    Reply { by: &'static str },
}

impl Happening {
    /// Order within a second: the customer's message first, so a reply stamped the same
    /// second answers it (metrics.md, Edge cases).
    pub fn order_key(&self) -> (i64, u8) {
        let rank = match self.kind {
            Kind::CustomerMessage | Kind::Reaction => 0,
            Kind::Template | Kind::Reply { .. } => 1,
        };
        (self.ts, rank)
    }
}
