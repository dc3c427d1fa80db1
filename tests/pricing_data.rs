//! The shipped rules and rate card (billing.md §1, §4, §6): complete for every era they
//! claim, labelled, and graduated tiers that put the n-th unit at the right rate.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use msgmeter::pricing::rates::{graduated, RateCard, Tier, TierQuantity};
use msgmeter::pricing::rules::{PricingModel, PricingRules};
use rust_decimal::Decimal;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// The 32 pricing markets, read from `data/markets.csv` (every market a number can be in).
fn markets() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/markets.csv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("prefix,"))
        .filter_map(|l| l.split(',').nth(3).map(str::to_string))
        .collect()
}

#[test]
fn the_rate_card_prices_every_market_and_category_of_every_era() {
    let card = RateCard::embedded();
    let markets = markets();
    assert_eq!(markets.len(), 32, "{markets:?}");
    // (a day inside each era, model, categories every market must have)
    let eras: [(&str, PricingModel, &[&str]); 5] = [
        (
            "2022-06-15",
            PricingModel::Conversation,
            &["business_initiated", "user_initiated"],
        ),
        (
            "2023-09-15",
            PricingModel::Conversation,
            &["marketing", "utility", "authentication", "service"],
        ),
        (
            "2025-08-15",
            PricingModel::PerMessage,
            &["marketing", "utility", "authentication"],
        ),
        (
            "2026-03-15",
            PricingModel::PerMessage,
            &["marketing", "utility", "authentication"],
        ),
        (
            "2026-11-15",
            PricingModel::PerMessage,
            &["marketing", "utility", "authentication", "service"],
        ),
    ];
    let mut missing = Vec::new();
    for currency in ["USD", "EUR", "GBP", "INR"] {
        for (day, model, categories) in eras {
            for market in &markets {
                for category in categories {
                    if !card.has_rate(currency, model, market, category, date(day)) {
                        missing.push(format!("{currency} {day} {model:?} {market} {category}"));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "missing rate card keys: {missing:#?}");
}

#[test]
fn every_rate_card_row_is_labelled_published_or_illustrative() {
    let text = msgmeter::pricing::rates::EMBEDDED_RATE_CARD;
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("valid_from,") && !l.trim().is_empty())
        .collect();
    assert!(rows.len() > 1000);
    for row in &rows {
        let source = row.rsplit(',').next().unwrap();
        assert!(source == "published" || source == "illustrative", "{row}");
    }
    // The published 2026-01-01 figures of shared/data/rates are carried as published.
    assert!(rows.contains(&"2026-01-01,USD,PMP,Brazil,marketing,,0.0625,published"));
}

#[test]
fn service_from_2026_10_01_costs_the_markets_utility_rate() {
    let card = RateCard::embedded();
    for market in markets() {
        let on = date("2026-10-15");
        let service = card
            .tiers("USD", PricingModel::PerMessage, &market, "service", on)
            .unwrap();
        let utility = card
            .tiers("USD", PricingModel::PerMessage, &market, "utility", on)
            .unwrap();
        assert_eq!(service[0].rate, utility[0].rate, "{market}");
    }
}

#[test]
fn published_rates_come_from_the_shared_figures() {
    let card = RateCard::embedded();
    let rate = |on: &str, model, market: &str, category: &str| {
        card.tiers("USD", model, market, category, date(on))
            .unwrap()[0]
            .rate
    };
    use PricingModel::*;
    // rates README: CBP 2023-06-01 Brazil marketing 0.075; CBP 2022 Mexico BI 0.04188;
    // PMP 2025-07-01 Other marketing 0.0604; PMP 2026-07-01 Chile marketing 0.0889.
    assert_eq!(
        rate("2023-06-01", Conversation, "Brazil", "marketing"),
        dec("0.075")
    );
    assert_eq!(
        rate("2023-05-31", Conversation, "Mexico", "business_initiated"),
        dec("0.04188")
    );
    assert_eq!(
        rate("2025-07-01", PerMessage, "Other", "marketing"),
        dec("0.0604")
    );
    assert_eq!(
        rate("2026-06-30", PerMessage, "Chile", "marketing"),
        dec("0.0889")
    );
    assert_eq!(
        rate("2026-07-01", PerMessage, "Chile", "utility"),
        dec("0.02")
    );
    // The day before a publication, the earlier price holds.
    assert_eq!(
        rate("2025-12-31", PerMessage, "Brazil", "marketing"),
        rate("2025-07-01", PerMessage, "Brazil", "marketing")
    );
    // Unknown market is priced at Other.
    assert_eq!(
        rate("2026-03-01", PerMessage, "Unknown", "marketing"),
        dec("0.0604")
    );
}

#[test]
fn a_newer_publication_replaces_every_tier_of_the_key() {
    let text = "valid_from,currency,model,market,category,tier_from,rate,source\n\
                2025-07-01,USD,PMP,Brazil,utility,1,0.01,illustrative\n\
                2025-07-01,USD,PMP,Brazil,utility,101,0.009,illustrative\n\
                2026-01-01,USD,PMP,Brazil,utility,,0.008,illustrative\n";
    let card = RateCard::parse(text, std::path::Path::new("t.csv")).unwrap();
    let old = card
        .tiers(
            "USD",
            PricingModel::PerMessage,
            "Brazil",
            "utility",
            date("2025-12-31"),
        )
        .unwrap();
    assert_eq!(old.len(), 2);
    let new = card
        .tiers(
            "USD",
            PricingModel::PerMessage,
            "Brazil",
            "utility",
            date("2026-01-01"),
        )
        .unwrap();
    assert_eq!(new.len(), 1, "the 101+ tier is gone");
    assert_eq!(new[0].rate, dec("0.008"));
    assert!(card
        .tiers(
            "EUR",
            PricingModel::PerMessage,
            "Brazil",
            "utility",
            date("2026-01-01")
        )
        .is_none());
}

fn tier(from: u64, rate: &str) -> Tier {
    Tier {
        from,
        rate: dec(rate),
        source: "illustrative".into(),
    }
}

#[test]
fn graduated_tiers_put_the_nth_unit_at_the_right_rate() {
    let tiers = [
        tier(1, "0.0068"),
        tier(1_000_001, "0.00646"),
        tier(5_000_001, "0.00612"),
    ];
    let q = |tier_from, quantity, rate: &str| TierQuantity {
        tier_from,
        quantity,
        rate: dec(rate),
    };
    assert_eq!(graduated(&tiers, 0), vec![]);
    assert_eq!(graduated(&tiers, 1), vec![q(1, 1, "0.0068")]);
    assert_eq!(
        graduated(&tiers, 1_000_000),
        vec![q(1, 1_000_000, "0.0068")]
    );
    // The 1,000,001st unit is the first at the second tier's rate.
    assert_eq!(
        graduated(&tiers, 1_000_001),
        vec![q(1, 1_000_000, "0.0068"), q(1_000_001, 1, "0.00646")]
    );
    assert_eq!(
        graduated(&tiers, 7_000_000),
        vec![
            q(1, 1_000_000, "0.0068"),
            q(1_000_001, 4_000_000, "0.00646"),
            q(5_000_001, 2_000_000, "0.00612")
        ]
    );
    // A single base rate covers everything.
    assert_eq!(graduated(&tiers[..1], 42), vec![q(1, 42, "0.0068")]);
}

#[test]
fn the_shipped_card_tiers_utility_at_one_million() {
    // Illustrative tiers: 1,000,001 → base × 0.95 (Brazil 2026-01-01 utility 0.0068).
    let card = RateCard::embedded();
    let tiers = card
        .tiers(
            "USD",
            PricingModel::PerMessage,
            "Brazil",
            "utility",
            date("2026-02-01"),
        )
        .unwrap();
    let split = graduated(tiers, 1_000_001);
    assert_eq!(split[1].tier_from, 1_000_001);
    assert_eq!(split[1].quantity, 1);
    assert_eq!(split[1].rate, dec("0.0068") * dec("0.95"));
}

#[test]
fn the_shipped_rules_hold_the_real_history() {
    let rules = PricingRules::embedded();
    let p = |d: &str| rules.period_on(date(d)).unwrap();
    assert!(rules.period_on(date("2022-01-31")).is_none());
    assert!(p("2022-02-01").one_conversation_at_a_time);
    assert_eq!(p("2023-05-31").free_tier_categories, vec!["*".to_string()]);
    assert_eq!(
        p("2023-06-01").free_tier_categories,
        vec!["service".to_string()]
    );
    assert!(!p("2024-10-31").service_free);
    assert!(p("2024-11-01").service_free);
    assert_eq!(p("2025-06-30").model, PricingModel::Conversation);
    assert_eq!(p("2025-07-01").model, PricingModel::PerMessage);
    assert!(p("2025-07-01").utility_in_window_free);
    assert!(!p("2026-10-01").service_free && !p("2026-10-01").utility_in_window_free);
}
