//! `data/markets.csv`: a complete table of calling codes mapped to Meta's markets.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use msgmeter::pricing::markets::{MarketTable, EMBEDDED_MARKETS_CSV};

const MARKETS: [&str; 32] = [
    "Argentina",
    "Brazil",
    "Chile",
    "Colombia",
    "Egypt",
    "France",
    "Germany",
    "India",
    "Indonesia",
    "Israel",
    "Italy",
    "Malaysia",
    "Mexico",
    "Netherlands",
    "Nigeria",
    "Pakistan",
    "Peru",
    "Russia",
    "Saudi Arabia",
    "South Africa",
    "Spain",
    "Turkey",
    "United Arab Emirates",
    "United Kingdom",
    "North America",
    "Rest of Africa",
    "Rest of Asia Pacific",
    "Rest of Central & Eastern Europe",
    "Rest of Latin America",
    "Rest of Middle East",
    "Rest of Western Europe",
    "Other",
];

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 1).unwrap()
}

#[test]
fn every_market_is_one_of_metas_and_every_one_is_used() {
    let t = MarketTable::embedded();
    let used: BTreeSet<&str> = t.markets();
    let allowed: BTreeSet<&str> = MARKETS.into_iter().collect();
    assert_eq!(used, allowed);
}

#[test]
fn the_table_covers_the_worlds_calling_codes() {
    let t = MarketTable::embedded();
    assert!(t.len() >= 240, "{} rows", t.len());
    // One number from every ITU zone 1–9 and a sample of codes from each.
    for (number, country) in [
        ("12125550123", "US"),
        ("14165550123", "CA"),
        ("201001234567", "EG"),
        ("27821234567", "ZA"),
        ("2348031234567", "NG"),
        ("254712345678", "KE"),
        ("306912345678", "GR"),
        ("33612345678", "FR"),
        ("393123456789", "IT"),
        ("447700900123", "GB"),
        ("4915112345678", "DE"),
        ("5215512345678", "MX"),
        ("5511987654321", "BR"),
        ("541112345678", "AR"),
        ("5999123456", "CW"),
        ("60123456789", "MY"),
        ("61412345678", "AU"),
        ("6281234567890", "ID"),
        ("79161234567", "RU"),
        ("77011234567", "KZ"),
        ("818012345678", "JP"),
        ("84912345678", "VN"),
        ("919876543210", "IN"),
        ("905321234567", "TR"),
        ("923001234567", "PK"),
        ("966501234567", "SA"),
        ("971501234567", "AE"),
        ("972501234567", "IL"),
        ("998901234567", "UZ"),
        ("6723212345", "NF"),
    ] {
        let m = t
            .lookup(number, day())
            .unwrap_or_else(|| panic!("{number} has no market"));
        assert_eq!(m.country, country, "{number}");
    }
}

#[test]
fn longest_prefix_wins_and_calling_code_is_the_country_code_proper() {
    let t = MarketTable::embedded();
    let pr = t.lookup("17875550123", day()).unwrap();
    assert_eq!(
        (
            pr.market.as_str(),
            pr.calling_code.as_str(),
            pr.country.as_str()
        ),
        ("Rest of Latin America", "1", "PR")
    );
    let kz = t.lookup("77011234567", day()).unwrap();
    assert_eq!((kz.calling_code.as_str(), kz.country.as_str()), ("7", "KZ"));
    let ru = t.lookup("79161234567", day()).unwrap();
    assert_eq!(
        (ru.market.as_str(), ru.calling_code.as_str()),
        ("Russia", "7")
    );
    assert_eq!(t.lookup("5215512345678", day()).unwrap().market, "Mexico");
    assert_eq!(
        t.lookup("447700900123", day()).unwrap().market,
        "United Kingdom"
    );
}

#[test]
fn the_file_cites_its_sources() {
    let header: String = EMBEDDED_MARKETS_CSV
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect();
    assert!(header.contains("E.164"));
    assert!(header.to_lowercase().contains("nanp"));
    assert!(header.contains("Meta") || header.contains("WhatsApp"));
}

#[test]
fn rows_take_effect_from_their_valid_from_date() {
    let csv = "prefix,calling_code,country,market,valid_from\n44,44,GB,United Kingdom,2022-02-01\n44,44,GB,Rest of Western Europe,2026-01-01\n";
    let t = MarketTable::parse(csv, std::path::Path::new("test.csv")).unwrap();
    assert_eq!(
        t.lookup(
            "447700900123",
            NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
        )
        .unwrap()
        .market,
        "United Kingdom"
    );
    assert_eq!(
        t.lookup("447700900123", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
            .unwrap()
            .market,
        "Rest of Western Europe"
    );
    assert!(t
        .lookup("447700900123", NaiveDate::from_ymd_opt(2021, 1, 1).unwrap())
        .is_none());
}
