//! Splitting a run by business (issue 18): every metering and analytics rule is per
//! business × customer, and `events` is ordered by business first, so a run can take its
//! businesses in buckets of contiguous ranges, each within the memory budget, and write
//! each bucket's rows as one part file of the partition. Read in part order, the parts are
//! the partition in its total order; a date that fits one bucket is one file, as before.

use std::collections::BTreeMap;

use polars::prelude::*;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn businesses(rows: &[(&str, &[(u32, u64)])]) -> BTreeMap<String, BTreeMap<u32, u64>> {
        rows.iter()
            .map(|(b, r)| (b.to_string(), r.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn ranges_keep_every_date_within_the_limit() {
        // b1+b2 on day 1 = 6 ≤ 6; adding b3 makes day 2 = 4+3 = 7 > 6: a new range.
        let b = businesses(&[
            ("b1", &[(1, 2), (2, 4)]),
            ("b2", &[(1, 4)]),
            ("b3", &[(2, 3)]),
            ("b4", &[(1, 9)]),
            ("b5", &[(2, 1)]),
        ]);
        let ranges = plan(&b, 6);
        let pairs: Vec<(&str, Option<&str>)> = ranges
            .iter()
            .map(|r| (r.from.as_str(), r.until.as_deref()))
            .collect();
        // b4 alone is over the limit on day 1: a range of its own, which b5 (day 2 only)
        // then joins. The first range starts at "", the last has no end.
        assert_eq!(pairs, [("", Some("b3")), ("b3", Some("b4")), ("b4", None)]);
        assert!(ranges[0].contains("a") && ranges[0].contains("b2") && !ranges[0].contains("b3"));
        assert!(ranges[2].contains("zz"));
    }

    #[test]
    fn everything_within_the_limit_is_one_range() {
        let b = businesses(&[("a", &[(1, 1)]), ("z", &[(1, 1)])]);
        assert_eq!(
            plan(&b, 2),
            [BusinessRange {
                from: String::new(),
                until: None
            }]
        );
        assert!(plan(&BTreeMap::<String, BTreeMap<u32, u64>>::new(), 2).is_empty());
    }
}
