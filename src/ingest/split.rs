//! A date too large for one bucket of the memory budget (issue 18) is published in
//! buckets: contiguous ranges of the `events` total order (business, then `ts`), cut at
//! whole minutes of the UTC day, each judged, sorted and written as one part file of the
//! date's partition. A business larger than a bucket spans several, cut by time: duplicates
//! of one key in two of them are found as across dates, by the kept keys carried from one
//! bucket to the next.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

/// Where each bucket of a date starts: (business, minute of the day), ascending; the
/// first bucket starts at the beginning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayBuckets {
    day_start: i64,
    starts: Vec<(String, u16)>,
}

/// Rows per business and minute of the day.
pub type Cells = HashMap<String, HashMap<u16, u64>>;

impl DayBuckets {
    /// Cut the date's cells, in the table's order, into buckets of at most `max_rows`
    /// (a single minute of one business larger than that is a bucket of its own).
    pub fn plan(cells: &Cells, max_rows: u64, day_start: i64) -> DayBuckets {
        let ordered: BTreeMap<(&str, u16), u64> = cells
            .iter()
            .flat_map(|(b, minutes)| minutes.iter().map(move |(m, n)| ((b.as_str(), *m), *n)))
            .collect();
        let mut starts = Vec::new();
        let mut load = 0;
        for ((business, minute), n) in ordered {
            if starts.is_empty() || (load > 0 && load + n > max_rows) {
                starts.push((business.to_string(), minute));
                load = 0;
            }
            load += n;
        }
        if starts.is_empty() {
            starts.push((String::new(), 0));
        }
        DayBuckets { day_start, starts }
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Never: a plan has at least one bucket.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The bucket of a row of `business` at `minute` of the day.
    pub fn of(&self, business: &str, minute: u16) -> usize {
        let after = self
            .starts
            .partition_point(|(b, m)| (b.as_str(), *m) <= (business, minute));
        after.saturating_sub(1)
    }

    /// The businesses bucket `k` holds rows of (its first and last may share theirs with
    /// the buckets beside it).
    pub fn businesses(&self, k: usize) -> crate::lake::buckets::BusinessRange {
        crate::lake::buckets::BusinessRange {
            from: match k {
                0 => String::new(),
                _ => self.starts[k].0.clone(),
            },
            // The next bucket's first business included: the smallest name after it.
            until: self.starts.get(k + 1).map(|s| format!("{}\0", s.0)),
        }
    }

    /// The business bucket `k + 1` starts with, if there is such a bucket.
    pub fn next_start(&self, k: usize) -> Option<String> {
        self.starts.get(k + 1).map(|s| s.0.clone())
    }

    /// The rows of bucket `k` among a partition's rows (for those already in the lake).
    pub fn predicate(&self, k: usize) -> Expr {
        let minute =
            (col("ts").cast(DataType::Int64) - lit(self.day_start)).floor_div(lit(60_000_000i64));
        let business = || col("business_id");
        let at_or_after = |(b, m): &(String, u16)| {
            business().gt(lit(b.clone())).or(business()
                .eq(lit(b.clone()))
                .and(minute.clone().gt_eq(lit(i64::from(*m)))))
        };
        let before = |(b, m): &(String, u16)| {
            business().lt(lit(b.clone())).or(business()
                .eq(lit(b.clone()))
                .and(minute.clone().lt(lit(i64::from(*m)))))
        };
        let mut p = lit(true);
        if k > 0 {
            let (b, _) = &self.starts[k];
            // The coarse bound on the business alone lets Parquet statistics skip row groups.
            p = p
                .and(business().gt_eq(lit(b.clone())))
                .and(at_or_after(&self.starts[k]));
        }
        if let Some(next) = self.starts.get(k + 1) {
            p = p
                .and(business().lt_eq(lit(next.0.clone())))
                .and(before(next));
        }
        p
    }
}
