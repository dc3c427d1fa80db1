//! The time vocabulary (spec README, "Time"): UTC days and billing months.

use chrono::NaiveDate;
use msgmeter::time::{start_of, utc_day, BillingMonth, DAY_MICROS};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn a_utc_day_spans_its_midnights() {
    // 2025-10-01T00:00:00Z is 1,759,276,800 s after the epoch.
    assert_eq!(start_of(d("2025-10-01")), 1_759_276_800_000_000);
    assert_eq!(utc_day(1_759_276_800_000_000), d("2025-10-01"));
    assert_eq!(utc_day(1_759_276_800_000_000 - 1), d("2025-09-30"));
    assert_eq!(
        utc_day(1_759_276_800_000_000 + DAY_MICROS - 1),
        d("2025-10-01")
    );
}

#[test]
fn a_billing_month_has_its_first_and_last_days() {
    let feb = BillingMonth::of(d("2024-02-17"));
    assert_eq!(feb.to_string(), "2024-02");
    assert_eq!(
        (feb.first_day(), feb.last_day()),
        (d("2024-02-01"), d("2024-02-29"))
    );
    assert_eq!(feb.next().to_string(), "2024-03");
    assert_eq!(
        BillingMonth::of(d("2025-12-31")).next().to_string(),
        "2026-01"
    );
    assert!(feb.contains(d("2024-02-29")) && !feb.contains(d("2024-03-01")));
    assert_eq!("2024-02".parse::<BillingMonth>(), Ok(feb));
    for bad in ["2024-2", "2024-13", "2024-02-01", "Feb 2024"] {
        assert!(bad.parse::<BillingMonth>().is_err(), "{bad}");
    }
}
