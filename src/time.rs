//! Time in msgmeter's words (spec README, "Time"): events are UTC microseconds; `date=`
//! partitions are UTC days; billing follows the account's time zone and sums by billing
//! month. One place for the conversions every stage makes, so that none of them reaches
//! into another stage for a helper.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

pub const HOUR_MICROS: i64 = 3_600_000_000;
pub const DAY_MICROS: i64 = 24 * HOUR_MICROS;

/// The UTC day of an instant (µs since the epoch).
pub fn utc_day(ts_micros: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(ts_micros)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// The first instant (µs) of a UTC day.
pub fn start_of(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_micros()
}

/// `n` days after `d`.
pub fn day_after(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).expect("date in range")
}

/// `n` days before `d`.
pub fn day_before(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).expect("date in range")
}

/// A billing month (`2025-10`): invoices sum usage by it, in the account's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillingMonth {
    first_day: NaiveDate,
}

impl BillingMonth {
    /// The billing month a billing date (already in the account's zone) falls in.
    pub fn of(billing_date: NaiveDate) -> Self {
        BillingMonth {
            first_day: billing_date.with_day(1).expect("day 1 exists"),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day.pred_opt().expect("date in range")
    }

    pub fn next(self) -> Self {
        BillingMonth {
            first_day: self
                .first_day
                .checked_add_months(chrono::Months::new(1))
                .expect("date in range"),
        }
    }

    pub fn previous(self) -> Self {
        BillingMonth {
            first_day: self
                .first_day
                .checked_sub_months(chrono::Months::new(1))
                .expect("date in range"),
        }
    }

    pub fn year(self) -> i32 {
        self.first_day.year()
    }

    pub fn contains(self, d: NaiveDate) -> bool {
        BillingMonth::of(d) == self
    }
}

impl fmt::Display for BillingMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first_day.format("%Y-%m"))
    }
}

impl FromStr for BillingMonth {
    type Err = String;
    /// `YYYY-MM`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 7)
            .map(BillingMonth::of)
            .ok_or_else(|| format!("{s:?} is not a billing month (YYYY-MM)"))
    }
}
