//! Cases (metrics.md "Cases"): a request or complaint the business logged, with its clocks.
//!
//! `resolved` and `closed` are the done states. Time to first response runs from opening
//! to the first agent (human) non-template message to the case's customer before the case
//! is first done; first resolution to the first entry into a done state; full resolution
//! to the last entry into a done state from a non-done one (null while the latest status is
//! not done); the customer waits while the case is `open`, `reopened` or `on_hold` — not
//! `pending`, which waits on the customer.

/// What the events say about one case.
#[derive(Debug, Clone, Default)]
pub struct CaseEvents<'a> {
    pub opened_at: i64,
    /// `(ts, status)` ascending.
    pub statuses: Vec<(i64, &'a str)>,
    /// `(ts, rating)` ascending.
    pub ratings: Vec<(i64, i8)>,
}

/// The clocks of one case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseClocks {
    pub first_response_at: Option<i64>,
    pub first_resolved_at: Option<i64>,
    pub last_resolved_at: Option<i64>,
    pub reopen_count: i64,
    pub agent_replies: i64,
    /// µs spent in open / reopened / on_hold up to full resolution; `None` while not done.
    pub customer_wait_micros: Option<i64>,
    /// The latest rating.
    pub rating: Option<i8>,
}

pub fn is_done(status: &str) -> bool {
    status == "resolved" || status == "closed"
}

fn customer_waits_in(status: &str) -> bool {
    matches!(status, "open" | "reopened" | "on_hold")
}

/// The clocks of a case, given the instants of the agent's non-template messages to its
/// customer (ascending).
pub fn case_clocks(case: &CaseEvents, agent_messages: &[i64]) -> CaseClocks {
    let opened = case.opened_at;
    let mut clocks = CaseClocks::default();
    let mut state = "open";
    let mut since = opened;
    let mut waited = 0i64;
    for &(ts, status) in case.statuses.iter().filter(|(ts, _)| *ts >= opened) {
        if customer_waits_in(state) {
            waited += ts - since;
        }
        // Entries into `reopened`: a repeated status is not a new entry.
        if status == "reopened" && state != "reopened" {
            clocks.reopen_count += 1;
        }
        if is_done(status) && !is_done(state) {
            if clocks.first_resolved_at.is_none() {
                clocks.first_resolved_at = Some(ts);
            }
            clocks.last_resolved_at = Some(ts);
        }
        state = status;
        since = ts;
    }
    if !is_done(state) {
        clocks.last_resolved_at = None;
    }
    clocks.customer_wait_micros = clocks.last_resolved_at.map(|_| waited);
    let before_first_done = |t: i64| clocks.first_resolved_at.is_none_or(|r| t < r);
    clocks.first_response_at = agent_messages
        .iter()
        .copied()
        .find(|t| *t >= opened && before_first_done(*t));
    let until = clocks.last_resolved_at;
    clocks.agent_replies = agent_messages
        .iter()
        .filter(|t| **t >= opened && until.is_none_or(|u| **t <= u))
        .count() as i64;
    clocks.rating = case
        .ratings
        .iter()
        .max_by_key(|(ts, _)| *ts)
        .map(|(_, r)| *r);
    clocks
}

/// CSAT counts ratings of 4 and 5 as satisfied (a 3 is not).
pub fn is_satisfied(rating: i8) -> bool {
    rating >= 4
}

/// CSAT of a set of cases' latest ratings: (satisfied, rated); unrated cases excluded.
pub fn csat(ratings: impl IntoIterator<Item = Option<i8>>) -> (u64, u64) {
    ratings
        .into_iter()
        .flatten()
        .fold((0, 0), |(s, n), r| (s + is_satisfied(r) as u64, n + 1))
}
