//! Splitting a run by business (issue 18): every metering and analytics rule is per
//! business × customer, and `events` is ordered by business first, so a run can take its
//! businesses in buckets of contiguous ranges, each within the memory budget, and write
//! each bucket's rows as one part file of the partition. Read in part order, the parts are
//! the partition in its total order; a date that fits one bucket is one file, as before.

use std::collections::BTreeMap;

use polars::prelude::*;

/// The fewest rows a bucket is planned for, whatever the budget: below it the cost of a
/// bucket (its reads and files) outweighs the memory saved.
pub const MIN_BUCKET_ROWS: usize = 4096;

/// The businesses from `from` (included) up to `until` (excluded; no end when `None`), by
/// `business_id` text order. The ranges of a plan cover every name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessRange {
    pub from: String,
    pub until: Option<String>,
}

impl BusinessRange {
    pub fn contains(&self, business: &str) -> bool {
        self.from.as_str() <= business && self.until.as_deref().is_none_or(|u| business < u)
    }

    /// The rows of these businesses (a filter Parquet row-group statistics can prune by).
    pub fn predicate(&self) -> Expr {
        let from = col("business_id").gt_eq(lit(self.from.clone()));
        match &self.until {
            Some(u) => from.and(col("business_id").lt(lit(u.clone()))),
            None => from,
        }
    }
}

impl std::fmt::Display for BusinessRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.until {
            Some(u) => write!(f, "[{:?}, {:?})", self.from, u),
            None => write!(f, "[{:?}, …)", self.from),
        }
    }
}

/// A bucket's view of the lake: the businesses it sees and the part it writes.
#[derive(Debug)]
pub struct Scope {
    pub businesses: BusinessRange,
    pub part: usize,
}

/// Cut businesses (ascending, each with its rows per date) into ranges whose rows on any
/// one date stay within `max_rows`, greedily in business order. A business with more rows
/// on a date than `max_rows` is a bucket of its own (a business is never split). The
/// ranges cover every name: the first starts at "" and the last has no end.
pub fn plan<K: Ord + Clone>(
    businesses: &BTreeMap<String, BTreeMap<K, u64>>,
    max_rows: u64,
) -> Vec<BusinessRange> {
    let mut starts: Vec<String> = Vec::new();
    let mut load: BTreeMap<K, u64> = BTreeMap::new();
    for (business, rows) in businesses {
        let fits = rows
            .iter()
            .all(|(k, n)| load.get(k).copied().unwrap_or(0) + n <= max_rows);
        if starts.is_empty() || !fits {
            starts.push(business.clone());
            load.clear();
        }
        for (k, n) in rows {
            *load.entry(k.clone()).or_default() += n;
        }
    }
    let mut ranges: Vec<BusinessRange> = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        ranges.push(BusinessRange {
            from: if i == 0 { String::new() } else { start.clone() },
            until: starts.get(i + 1).cloned(),
        });
    }
    ranges
}
