//! Invoices (billing.md §4, §6–§8, §10). Every amount below is worked out by hand in the
//! comment beside it: rate × (1 + markup/100) × quantity, rounded once, half away from zero.

use std::path::Path;

use proptest::prelude::*;
use rust_decimal::Decimal;

use msgmeter::invoicing::lines::{price_usage, MissingRate, UsageRow};
use msgmeter::invoicing::model::{Document, LineKind, Status};
use msgmeter::invoicing::{assemble, MonthState};
use msgmeter::money::{Currency, Money};
use msgmeter::pricing::rules::PricingModel;

use crate::common::*;
use crate::invoices_common::*;

fn dec(s: &str) -> Decimal {
    s.parse().expect("test decimal")
}

fn usd() -> Currency {
    Currency::of("USD").expect("USD")
}

fn row(
    d: &str,
    market: &str,
    category: &str,
    pricing_type: &str,
    billable: bool,
    units: i64,
) -> UsageRow {
    UsageRow {
        pricing_model: PricingModel::PerMessage,
        market: market.into(),
        category: category.into(),
        pricing_type: pricing_type.into(),
        billable,
        billing_date: date(d),
        units,
    }
}

// ---- money

#[test]
fn currency_exponents_come_from_iso_4217() {
    let exp = |c: &str| Currency::of(c).map(Currency::exponent);
    assert_eq!(exp("USD"), Some(2));
    assert_eq!(exp("EUR"), Some(2));
    assert_eq!(exp("JPY"), Some(0));
    assert_eq!(exp("KWD"), Some(3));
    assert_eq!(exp("BHD"), Some(3));
    assert_eq!(exp("CLF"), Some(4));
    // Gold has no minor unit; codes are upper case.
    assert_eq!(exp("XAU"), None);
    assert_eq!(exp("usd"), None);
}

#[test]
fn amounts_round_once_half_away_from_zero_to_the_minor_unit() {
    let round = |v: &str, c: &str| Money::round(dec(v), Currency::of(c).unwrap()).to_string();
    assert_eq!(round("0.125", "USD"), "0.13");
    assert_eq!(round("-0.125", "USD"), "-0.13");
    assert_eq!(round("0.124999", "USD"), "0.12");
    assert_eq!(round("12.3", "USD"), "12.30");
    assert_eq!(round("2.5", "JPY"), "3");
    assert_eq!(round("-2.5", "JPY"), "-3");
    assert_eq!(round("1230", "JPY"), "1230");
    assert_eq!(round("0.0125", "KWD"), "0.013");
    assert_eq!(round("12.3", "KWD"), "12.300");
}

// ---- lines

/// Three tiers: units 1–10 at 0.01, 11–20 at 0.008, from 21 at 0.005.
const TIERED: &str = "2025-01-01,USD,PMP,Brazil,utility,1,0.01,illustrative
2025-01-01,USD,PMP,Brazil,utility,11,0.008,illustrative
2025-01-01,USD,PMP,Brazil,utility,21,0.005,illustrative";

#[test]
fn a_quantity_straddling_two_tier_boundaries_is_split_over_three_tiers() {
    let lines = price_usage(
        &[row("2025-10-10", "Brazil", "utility", "regular", true, 25)],
        usd(),
        dec("10"),
        &card(TIERED),
    )
    .expect("priced");
    let got: Vec<(Option<u64>, i64, String, String)> = lines
        .iter()
        .map(|l| {
            (
                l.key.tier_from,
                l.quantity,
                l.key.unit_price.normalize().to_string(),
                l.amount.to_string(),
            )
        })
        .collect();
    // markup 10 %: 0.01 → 0.011, 0.008 → 0.0088, 0.005 → 0.0055
    // 10 × 0.011 = 0.11; 10 × 0.0088 = 0.088 → 0.09; 5 × 0.0055 = 0.0275 → 0.03
    assert_eq!(
        got,
        vec![
            (Some(1), 10, "0.011".into(), "0.11".into()),
            (Some(11), 10, "0.0088".into(), "0.09".into()),
            (Some(21), 5, "0.0055".into(), "0.03".into()),
        ]
    );
}

#[test]
fn a_mid_month_card_splits_the_line_and_a_tier_left_out_is_gone() {
    // On 2025-10-15 a new price replaces the key: tiers 1 and 11 only (tier 21 is gone).
    let rates = card(&format!(
        "{TIERED}
2025-10-15,USD,PMP,Brazil,utility,1,0.02,illustrative
2025-10-15,USD,PMP,Brazil,utility,11,0.015,illustrative"
    ));
    let lines = price_usage(
        &[
            row("2025-10-10", "Brazil", "utility", "regular", true, 15),
            row("2025-10-20", "Brazil", "utility", "regular", true, 10),
        ],
        usd(),
        Decimal::ZERO,
        &rates,
    )
    .expect("priced");
    let got: Vec<(Option<u64>, i64, String, String)> = lines
        .iter()
        .map(|l| {
            (
                l.key.tier_from,
                l.quantity,
                l.key.unit_price.normalize().to_string(),
                l.amount.to_string(),
            )
        })
        .collect();
    // Units 1–15 (Oct 10, old card): 10 at 0.01 = 0.10, 5 at 0.008 = 0.04.
    // Units 16–25 (Oct 20, new card): all in tier 11 at 0.015 = 0.15 — under the old card
    // units 21–25 would have been tier 21's.
    assert_eq!(
        got,
        vec![
            (Some(1), 10, "0.01".into(), "0.10".into()),
            (Some(11), 5, "0.008".into(), "0.04".into()),
            (Some(11), 10, "0.015".into(), "0.15".into()),
        ]
    );
}

#[test]
fn free_and_non_billable_units_are_zero_priced_lines_outside_the_tiers() {
    let lines = price_usage(
        &[
            row(
                "2025-10-10",
                "Brazil",
                "utility",
                "free_customer_service",
                false,
                7,
            ),
            row("2025-10-11", "Brazil", "utility", "regular", false, 3),
            row("2025-10-12", "Brazil", "utility", "regular", true, 2),
        ],
        usd(),
        Decimal::ZERO,
        &card(TIERED),
    )
    .expect("priced");
    let got: Vec<(String, Option<u64>, i64, String)> = lines
        .iter()
        .map(|l| {
            (
                l.key.pricing_type.clone(),
                l.key.tier_from,
                l.quantity,
                l.amount.to_string(),
            )
        })
        .collect();
    // The 2 charged units start the tiers at unit 1 (free units never count): 2 × 0.01.
    assert_eq!(
        got,
        vec![
            ("free_customer_service".into(), None, 7, "0.00".into()),
            ("regular".into(), None, 3, "0.00".into()),
            ("regular".into(), Some(1), 2, "0.02".into()),
        ]
    );
}

#[test]
fn a_missing_rate_is_named_once_with_the_first_date_that_needed_it() {
    let missing = price_usage(
        &[
            row("2025-10-05", "Mexico", "marketing", "regular", true, 1),
            row("2025-10-03", "Mexico", "marketing", "regular", true, 2),
            row("2025-10-04", "Brazil", "utility", "regular", true, 2),
            // Free units need no rate.
            row(
                "2025-10-01",
                "Chile",
                "service",
                "free_customer_service",
                false,
                2,
            ),
        ],
        usd(),
        Decimal::ZERO,
        &card(TIERED),
    )
    .expect_err("Mexico marketing has no rate");
    assert_eq!(
        missing,
        vec![MissingRate {
            currency: "USD".into(),
            market: "Mexico".into(),
            category: "marketing".into(),
            first_needed: date("2025-10-03"),
        }]
    );
}

// ---- one invoice: lines, fee, tax, total

#[test]
fn jpy_rounds_to_whole_yen_and_tax_is_rounded_once_on_the_subtotal() {
    let accts = accounts("jp1,Nippon Shop,1 Test,JPVAT1,JP,JPY,Asia/Tokyo,b@example.com,10,0,0,30,2025-01-01,,false,15,");
    let priced = price_usage(
        &[row("2025-10-10", "Japan", "marketing", "regular", true, 3)],
        Currency::of("JPY").unwrap(),
        Decimal::ZERO,
        &card("2025-01-01,JPY,PMP,Japan,marketing,,2.5,illustrative"),
    )
    .unwrap();
    let inv = assemble(
        month("2025-10"),
        &accts.get("jp1"),
        &issuer(),
        "derived".into(),
        priced,
        vec![],
        date("2025-10-20"),
    );
    // 3 × 2.5 = 7.5 → 8 (the half goes away from zero); tax 10 % of 8 = 0.8 → 1; total 9.
    assert_eq!(inv.lines[0].amount.to_string(), "8");
    assert_eq!(
        (
            inv.subtotal.to_string(),
            inv.tax.to_string(),
            inv.total.to_string()
        ),
        ("8".into(), "1".into(), "9".into())
    );
}

#[test]
fn kwd_keeps_three_places() {
    let accts = accounts("kw1,Gulf Airline,1 Test,KWVAT1,KW,KWD,Asia/Kuwait,b@example.com,5,0,0,30,2025-01-01,,false,15,");
    let priced = price_usage(
        &[row("2025-10-10", "Kuwait", "utility", "regular", true, 1)],
        Currency::of("KWD").unwrap(),
        Decimal::ZERO,
        &card("2025-01-01,KWD,PMP,Kuwait,utility,,0.0125,illustrative"),
    )
    .unwrap();
    let inv = assemble(
        month("2025-10"),
        &accts.get("kw1"),
        &issuer(),
        "derived".into(),
        priced,
        vec![],
        date("2025-10-20"),
    );
    // 0.0125 → 0.013; tax 5 % of 0.013 = 0.00065 → 0.001; total 0.014.
    assert_eq!(
        (
            inv.subtotal.to_string(),
            inv.tax.to_string(),
            inv.total.to_string()
        ),
        ("0.013".into(), "0.001".into(), "0.014".into())
    );
}

#[test]
fn markup_fee_and_tax_in_usd() {
    let accts = accounts(
        "us1,Air Test,1 Test,MXVAT1,MX,USD,UTC,b@example.com,16,5,99.00,14,2025-01-01,,false,15,",
    );
    let priced = price_usage(
        &[row("2025-10-10", "Brazil", "marketing", "regular", true, 7)],
        usd(),
        dec("5"),
        &card("2025-01-01,USD,PMP,Brazil,marketing,,0.0625,illustrative"),
    )
    .unwrap();
    let inv = assemble(
        month("2025-10"),
        &accts.get("us1"),
        &issuer(),
        "derived".into(),
        priced,
        vec![],
        date("2025-11-04"),
    );
    // unit price 0.0625 × 1.05 = 0.065625; 7 × 0.065625 = 0.459375 → 0.46
    // fee 99.00 (no markup); subtotal 99.46; tax 16 % = 15.9136 → 15.91; total 115.37
    let lines: Vec<(LineKind, i64, String)> = inv
        .lines
        .iter()
        .map(|l| (l.kind, l.quantity, l.amount.to_string()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (LineKind::Usage, 7, "0.46".into()),
            (LineKind::Fee, 1, "99.00".into())
        ]
    );
    assert_eq!(inv.lines[0].unit_price.normalize().to_string(), "0.065625");
    assert_eq!(
        (
            inv.subtotal.to_string(),
            inv.tax.to_string(),
            inv.total.to_string()
        ),
        ("99.46".into(), "15.91".into(), "115.37".into())
    );
    // Due date: issue + 14 days of terms; period: the month.
    assert_eq!(inv.due_date, date("2025-11-18"));
    assert_eq!(
        (inv.period_start, inv.period_end),
        (date("2025-10-01"), date("2025-10-31"))
    );
}

#[test]
fn many_tiny_lines_round_each_line_not_the_total() {
    let accts =
        accounts("us2,Tiny,1 Test,,US,USD,UTC,b@example.com,0,0,0,30,2025-01-01,,false,15,");
    let rows: Vec<UsageRow> = (0..10)
        .map(|i| {
            row(
                "2025-10-10",
                &format!("M{i}"),
                "marketing",
                "regular",
                true,
                1,
            )
        })
        .collect();
    let rates: String = (0..10)
        .map(|i| format!("2025-01-01,USD,PMP,M{i},marketing,,0.005,illustrative\n"))
        .collect();
    let priced = price_usage(&rows, usd(), Decimal::ZERO, &card(&rates)).unwrap();
    let inv = assemble(
        month("2025-10"),
        &accts.get("us2"),
        &issuer(),
        "derived".into(),
        priced,
        vec![],
        date("2025-11-04"),
    );
    // Each line: 0.005 → 0.01, so the subtotal is 10 × 0.01 = 0.10, where rounding the
    // unrounded total (10 × 0.005 = 0.05) would give 0.05.
    assert!(inv.lines.iter().all(|l| l.amount.to_string() == "0.01"));
    assert_eq!(inv.subtotal.to_string(), "0.10");
    assert_ne!(inv.subtotal, Money::round(dec("0.05"), usd()));
}

#[test]
fn the_fee_is_charged_whole_for_any_active_day_and_not_for_an_inactive_month() {
    let accts = accounts(
        "f1,Fee Co,1 Test,,US,USD,UTC,b@example.com,0,0,50.00,30,2025-10-31,2025-11-01,false,15,",
    );
    let a = accts.get("f1");
    assert!(msgmeter::invoicing::charges_fee(&a, month("2025-10")));
    assert!(msgmeter::invoicing::charges_fee(&a, month("2025-11")));
    assert!(!msgmeter::invoicing::charges_fee(&a, month("2025-09")));
    assert!(!msgmeter::invoicing::charges_fee(&a, month("2025-12")));
    let inv = assemble(
        month("2025-10"),
        &a,
        &issuer(),
        "derived".into(),
        vec![],
        vec![],
        date("2025-11-04"),
    );
    assert_eq!(inv.total.to_string(), "50.00");
}

// ---- the month on a lake

const CARD: &str = "2025-01-01,USD,PMP,Brazil,marketing,,0.0625,illustrative";

fn three_accounts(b3_currency: &str) -> msgmeter::accounts::Accounts {
    accounts(&format!(
        "b1,Alpha Bank,1 Rua Test,BRVAT1,BR,USD,UTC,a@example.com,0,0,0,30,2025-01-01,,false,15,
b2,=cmd|' /C calc'!A0,2 Rua Test,BRVAT2,BR,USD,UTC,b@example.com,0,0,0,30,2025-01-01,,false,15,
b3,Gamma,3 Rua Test,BRVAT3,BR,{b3_currency},UTC,c@example.com,0,0,0,30,2025-01-01,,false,15,"
    ))
}

fn october(lake: &Path) {
    write_usage(
        lake,
        &[
            charged("b1", "2025-10-03", "Brazil", "marketing", 4),
            charged("b2", "2025-10-04", "Brazil", "marketing", 2),
            charged("b3", "2025-10-05", "Brazil", "marketing", 1),
            free("b1", "2025-10-05", "Brazil", "service", 9),
        ],
    );
}

fn cli_invoice(lake: &Path, accounts_csv: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args(["--quiet", "--accounts"])
        .arg(accounts_csv)
        .arg("--rate-card")
        .arg(lake.parent().unwrap().join("card.csv"))
        .args(["invoice", "--lake"])
        .arg(lake)
        .args(args)
        .output()
        .expect("msgmeter runs")
}

#[test]
fn a_missing_rate_fails_one_invoice_drafts_the_others_and_refuses_finalization() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    october(&lake);
    std::fs::write(
        dir.path().join("card.csv"),
        format!("valid_from,currency,model,market,category,tier_from,rate,source\n{CARD}\n"),
    )
    .unwrap();
    let accounts_csv = dir.path().join("accounts.csv");
    // b3 is billed in JPY, and the card has no JPY price.
    let rows = "b1,Alpha Bank,1 Rua Test,BRVAT1,BR,USD,UTC,a@example.com,0,0,0,30,2025-01-01,,false,15,\nb2,Beta,2 Rua Test,BRVAT2,BR,USD,UTC,b@example.com,0,0,0,30,2025-01-01,,false,15,\nb3,Gamma,3 Rua Test,BRVAT3,BR,JPY,UTC,c@example.com,0,0,0,30,2025-01-01,,false,15,\n";
    std::fs::write(&accounts_csv, format!("{ACCOUNTS_HEADER}\n{rows}")).unwrap();

    let out = cli_invoice(
        &lake,
        &accounts_csv,
        &["--month", "2025-10", "--date", "2025-10-20"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("business b3"), "{stderr}");
    assert!(
        stderr.contains("no rate for currency JPY, market Brazil, category marketing (first needed on 2025-10-05)"),
        "{stderr}"
    );
    let mut drafts: Vec<String> = std::fs::read_dir(month_dir(&lake, "2025-10"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    drafts.sort();
    assert_eq!(drafts, vec!["draft-b1.json", "draft-b2.json"]);

    let before = month_hashes(&lake, "2025-10");
    let out = cli_invoice(
        &lake,
        &accounts_csv,
        &["--month", "2025-10", "--date", "2025-11-04", "--finalize"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT finalized"));
    let statuses = strings(&query(&lake, "select status from invoices"), "status");
    assert_eq!(statuses, vec![Some("draft".to_string()); 2]);
    let watermark = std::fs::read_to_string(lake.join("_status.json")).unwrap();
    assert!(watermark.contains("\"final_months\": []"), "{watermark}");
    // The refused run rewrote the drafts as of its date: still drafts, no numbers.
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        month_hashes(&lake, "2025-10").keys().collect::<Vec<_>>()
    );
}

#[test]
fn finalization_numbers_in_business_order_and_twice_equals_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    october(&lake);
    let (accts, rates) = (three_accounts("USD"), card(CARD));
    let drafted = run_invoice(&lake, "2025-10", "2025-10-20", false, &accts, &rates);
    assert_eq!(drafted.state, MonthState::Drafted);
    // Drafting twice gives the same bytes.
    let first = month_hashes(&lake, "2025-10");
    run_invoice(&lake, "2025-10", "2025-10-20", false, &accts, &rates);
    assert_eq!(first, month_hashes(&lake, "2025-10"));

    let done = run_invoice(&lake, "2025-10", "2025-11-04", true, &accts, &rates);
    assert_eq!(done.state, MonthState::Finalized);
    let numbers: Vec<(String, Option<String>)> = done
        .invoices
        .iter()
        .map(|i| (i.customer.business_id.clone(), i.invoice_number.clone()))
        .collect();
    assert_eq!(
        numbers,
        vec![
            ("b1".into(), Some("INV-2025-000001".into())),
            ("b2".into(), Some("INV-2025-000002".into())),
            ("b3".into(), Some("INV-2025-000003".into())),
        ]
    );
    // b1: 4 × 0.0625 = 0.25 and 9 free service messages at 0.00.
    let b1 = &done.invoices[0];
    assert_eq!(b1.total.to_string(), "0.25");
    assert_eq!(b1.lines.len(), 2);
    assert_eq!(b1.issue_date, date("2025-11-04"));
    assert_eq!(b1.status, Status::Final);
    let frozen = month_hashes(&lake, "2025-10");
    assert!(frozen.keys().any(|p| p.ends_with("INV-2025-000001.json")));
    assert!(!frozen.keys().any(|p| p
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("draft-")));
    let again = run_invoice(&lake, "2025-10", "2025-11-09", true, &accts, &rates);
    assert_eq!(again.state, MonthState::AlreadyFinal);
    assert_eq!(
        frozen,
        month_hashes(&lake, "2025-10"),
        "a final month never changes"
    );
}

#[test]
fn numbers_are_gapless_per_year_across_months_and_restart_in_a_new_year() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let (accts, rates) = (three_accounts("USD"), card(CARD));
    write_usage(
        &lake,
        &[
            charged("b1", "2025-11-03", "Brazil", "marketing", 1),
            charged("b3", "2025-11-04", "Brazil", "marketing", 1),
            charged("b2", "2025-12-03", "Brazil", "marketing", 1),
            charged("b1", "2026-01-03", "Brazil", "marketing", 1),
            charged("b2", "2026-01-03", "Brazil", "marketing", 1),
        ],
    );
    let mut got = Vec::new();
    for (m, on) in [
        ("2025-11", "2025-12-02"),
        ("2025-12", "2026-01-02"),
        ("2026-01", "2026-02-02"),
    ] {
        let done = run_invoice(&lake, m, on, true, &accts, &rates);
        got.extend(
            done.invoices
                .iter()
                .map(|i| i.invoice_number.clone().unwrap()),
        );
    }
    assert_eq!(
        got,
        vec![
            "INV-2025-000001",
            "INV-2025-000002",
            "INV-2025-000003",
            "INV-2026-000001",
            "INV-2026-000002"
        ]
    );
}

#[test]
fn a_business_missing_from_accounts_is_invoiced_with_defaults_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_usage(
        &lake,
        &[charged(
            "unknown-biz",
            "2025-10-03",
            "Brazil",
            "marketing",
            2,
        )],
    );
    let done = run_invoice(
        &lake,
        "2025-10",
        "2025-10-20",
        false,
        &three_accounts("USD"),
        &card(CARD),
    );
    let inv = &done.invoices[0];
    assert!(!inv.customer.account_registered);
    assert_eq!(inv.customer.name, "unknown-biz");
    // Defaults: USD, tax 0, terms 30 days. 2 × 0.0625 = 0.125 → 0.13.
    assert_eq!(
        (inv.currency.code(), inv.total.to_string()),
        ("USD", "0.13".to_string())
    );
    assert_eq!(inv.due_date, date("2025-11-19"));
    let flagged = query(&lake, "select account_registered from invoices");
    assert_eq!(
        strings(&flagged, "account_registered"),
        vec![Some("false".to_string())]
    );
}

#[test]
fn the_erp_csv_neutralises_formulas_in_text_cells() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    october(&lake);
    run_invoice(
        &lake,
        "2025-10",
        "2025-10-20",
        false,
        &three_accounts("USD"),
        &card(CARD),
    );
    let csv =
        std::fs::read_to_string(month_dir(&lake, "2025-10").join("invoice_lines-2025-10.csv"))
            .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = reader
        .records()
        .map(|r| r.unwrap().get(4).unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"'=cmd|' /C calc'!A0".to_string()),
        "{names:?}"
    );
    assert!(names.iter().all(|n| !n.starts_with('=')));
}

#[test]
fn a_late_event_for_a_final_month_becomes_an_adjustment_and_a_closed_account_gets_an_adj_note() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let accts = accounts(
        "b1,Alpha Bank,1 Rua Test,BRVAT1,BR,USD,UTC,a@example.com,0,0,0,30,2025-01-01,,false,15,
b4,Closed Co,4 Rua Test,BRVAT4,BR,USD,UTC,d@example.com,0,0,0,30,2025-01-01,2025-10-31,false,15,
b5,Shrinking Co,5 Rua Test,BRVAT5,BR,USD,UTC,e@example.com,0,0,0,30,2025-01-01,2025-10-31,false,15,",
    );
    let rates = card(CARD);
    let oct_3 = |b1: i64| {
        vec![
            charged("b1", "2025-10-03", "Brazil", "marketing", b1),
            charged("b4", "2025-10-03", "Brazil", "marketing", 2),
            charged("b5", "2025-10-03", "Brazil", "marketing", 3),
        ]
    };
    write_usage(&lake, &oct_3(3));
    write_usage(
        &lake,
        &[charged("b1", "2025-11-03", "Brazil", "marketing", 1)],
    );
    let oct = run_invoice(&lake, "2025-10", "2025-11-04", true, &accts, &rates);
    // b1 3 × 0.0625 = 0.1875 → 0.19; b4 2 × 0.0625 = 0.125 → 0.13; b5 3 → 0.19.
    let totals: Vec<String> = oct.invoices.iter().map(|i| i.total.to_string()).collect();
    assert_eq!(totals, vec!["0.19", "0.13", "0.19"]);
    let frozen = month_hashes(&lake, "2025-10");
    // Nothing of October changed: November's draft does not recompute it.
    let quiet = run_invoice(&lake, "2025-11", "2025-11-20", false, &accts, &rates);
    assert!(quiet.corrected_months.is_empty());
    assert!(quiet
        .invoices
        .iter()
        .all(|i| i.lines.iter().all(|l| l.corrects_month.is_none())));

    // Late events: one more message of b1 and two of b4 on 2025-10-20; b5's usage was
    // restated down to 1 message on 2025-10-03 (a rebuild after a correction).
    write_usage(
        &lake,
        &[
            charged("b1", "2025-10-03", "Brazil", "marketing", 3),
            charged("b4", "2025-10-03", "Brazil", "marketing", 2),
            charged("b5", "2025-10-03", "Brazil", "marketing", 1),
        ],
    );
    write_usage(
        &lake,
        &[
            charged("b1", "2025-10-20", "Brazil", "marketing", 1),
            charged("b4", "2025-10-20", "Brazil", "marketing", 2),
        ],
    );
    let nov = run_invoice(&lake, "2025-11", "2025-12-03", true, &accts, &rates);
    assert_eq!(
        frozen,
        month_hashes(&lake, "2025-10"),
        "the final month never changes"
    );
    assert_eq!(nov.corrected_months, vec![month("2025-10")]);
    let by = |b: &str| {
        nov.invoices
            .iter()
            .find(|i| i.customer.business_id == b)
            .unwrap()
    };

    // b1's November invoice: its usage (1 × 0.0625 → 0.06) and the correction of October:
    // 4 × 0.0625 = 0.25 recomputed − 0.19 invoiced = 0.06, quantity +1.
    let b1 = by("b1");
    let lines: Vec<(LineKind, i64, String, Option<String>)> = b1
        .lines
        .iter()
        .map(|l| {
            (
                l.kind,
                l.quantity,
                l.amount.to_string(),
                l.corrects_month.map(|m| m.to_string()),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (LineKind::Usage, 1, "0.06".into(), None),
            (
                LineKind::Adjustment,
                1,
                "0.06".into(),
                Some("2025-10".into())
            ),
        ]
    );
    assert_eq!(b1.document, Document::Invoice);
    assert_eq!(b1.invoice_number.as_deref(), Some("INV-2025-000004"));

    // b4 is closed (active to 2025-10-31) and has nothing in November: a standalone ADJ
    // note: 4 × 0.0625 = 0.25 − 0.13 = 0.12, numbered in the ADJ series of its issue year.
    let b4 = by("b4");
    assert_eq!(b4.document, Document::AdjustmentNote);
    assert_eq!(b4.invoice_number.as_deref(), Some("INV-ADJ-2025-000001"));
    assert_eq!((b4.lines.len(), b4.total.to_string()), (1, "0.12".into()));
    assert_eq!(b4.lines[0].quantity, 2);

    // b5's restatement is a credit: 1 × 0.0625 = 0.0625 → 0.06 − 0.19 = −0.13.
    let b5 = by("b5");
    assert_eq!(b5.document, Document::AdjustmentCreditNote);
    assert_eq!(
        (b5.lines[0].quantity, b5.total.to_string()),
        (-2, "-0.13".into())
    );
    assert_eq!(b5.title, "Adjustment credit note");

    // Invoicing December now carries nothing for October again: its corrections are billed.
    let dec = run_invoice(&lake, "2025-12", "2025-12-20", false, &accts, &rates);
    assert!(
        dec.invoices.is_empty(),
        "{:?}",
        dec.invoices.iter().map(|i| &i.lines).collect::<Vec<_>>()
    );
}

// ---- properties

fn usage_strategy() -> impl Strategy<Value = Vec<Usage>> {
    let one = (0usize..3, 1u32..29, 0usize..3, 0usize..2, 1i64..400).prop_map(
        |(b, day, market, kind, units)| {
            let business = ["p1", "p2", "p3"][b];
            let market = ["Brazil", "India", "Mexico"][market];
            let d = format!("2025-10-{day:02}");
            if kind == 0 {
                charged(business, &d, market, "utility", units)
            } else {
                free(business, &d, market, "service", units)
            }
        },
    );
    proptest::collection::vec(one, 1..25)
}

const PROP_CARD: &str = "2025-01-01,USD,PMP,Brazil,utility,1,0.0068,illustrative
2025-01-01,USD,PMP,Brazil,utility,101,0.00646,illustrative
2025-01-01,USD,PMP,Brazil,utility,501,0.00612,illustrative
2025-01-01,USD,PMP,India,utility,,0.0014,illustrative
2025-01-01,USD,PMP,Mexico,utility,1,0.013,illustrative
2025-10-15,USD,PMP,Mexico,utility,1,0.0125,illustrative
2025-10-15,USD,PMP,Mexico,utility,201,0.011,illustrative";

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn totals_add_up_units_are_all_billed_and_reruns_are_byte_identical(rows in usage_strategy(), markup in 0u32..30, tax in 0u32..25) {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        // write_usage replaces a date's partition: merge the rows of one date first.
        write_usage(&lake, &rows);
        let accts = accounts(&["p1", "p2", "p3"].iter().map(|b| format!(
            "{b},Prop {b},1 Test,,BR,USD,UTC,x@example.com,{tax},{markup},0,30,2025-01-01,,false,15,\n"
        )).collect::<String>());
        let rates = card(PROP_CARD);
        let done = run_invoice(&lake, "2025-10", "2025-10-29", false, &accts, &rates);
        for inv in &done.invoices {
            let usd = inv.currency;
            // subtotal = Σ lines; total = subtotal + tax; tax = round(subtotal × tax %).
            let sum: Decimal = inv.lines.iter().map(|l| l.amount.amount()).sum();
            prop_assert_eq!(inv.subtotal.amount(), sum);
            prop_assert_eq!(inv.total.amount(), inv.subtotal.amount() + inv.tax.amount());
            let tax_by_hand = (sum * Decimal::from(tax) / Decimal::from(100))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            prop_assert_eq!(inv.tax.amount(), tax_by_hand);
            // Every line: quantity × unit price rounded once.
            for l in &inv.lines {
                prop_assert_eq!(l.amount, Money::round(Decimal::from(l.quantity) * l.unit_price, usd));
            }
            // A second method for the charged lines: walk the units one by one in billing-
            // date order through the card (written out again here), count each unit at
            // its tier's rate, and compare quantities and amounts per (market, tier, rate).
            let mut by_unit: std::collections::BTreeMap<(String, u64, String), i64> = Default::default();
            for market in ["Brazil", "India", "Mexico"] {
                let mut days: Vec<(chrono::NaiveDate, i64)> = rows
                    .iter()
                    .filter(|r| r.business == inv.customer.business_id && r.market == market && r.pricing_type == "regular")
                    .map(|r| (r.billing_date, r.units))
                    .collect();
                days.sort();
                let mut n = 0u64;
                for (d, units) in days {
                    for _ in 0..units {
                        n += 1;
                        let late = d >= date("2025-10-15");
                        let (tier, rate) = match market {
                            "Brazil" if n >= 501 => (501, "0.00612"),
                            "Brazil" if n >= 101 => (101, "0.00646"),
                            "Brazil" => (1, "0.0068"),
                            "India" => (1, "0.0014"),
                            "Mexico" if late && n >= 201 => (201, "0.011"),
                            "Mexico" if late => (1, "0.0125"),
                            _ => (1, "0.013"),
                        };
                        *by_unit.entry((market.to_string(), tier, rate.to_string())).or_default() += 1;
                    }
                }
            }
            let charged: std::collections::BTreeMap<(String, u64, String), i64> = inv
                .lines
                .iter()
                .filter_map(|l| {
                    let k = l.key.as_ref()?;
                    Some(((k.market.clone(), k.tier_from?, l.rate?.normalize().to_string()), l.quantity))
                })
                .collect();
            prop_assert_eq!(&charged, &by_unit);
            for l in inv.lines.iter().filter(|l| l.key.as_ref().is_some_and(|k| k.tier_from.is_some())) {
                let by_hand = Decimal::from(l.quantity) * l.rate.unwrap() * (Decimal::ONE + Decimal::from(markup) / Decimal::from(100));
                prop_assert_eq!(l.amount, Money::round(by_hand, usd));
            }
            // Every unit of the business is on a line, charged or free.
            let units: i64 = rows.iter().filter(|r| r.business == inv.customer.business_id).map(|r| r.units).sum();
            let billed: i64 = inv.lines.iter().map(|l| l.quantity).sum();
            prop_assert_eq!(units, billed);
        }
        let first = month_hashes(&lake, "2025-10");
        run_invoice(&lake, "2025-10", "2025-10-29", false, &accts, &rates);
        prop_assert_eq!(&first, &month_hashes(&lake, "2025-10"));
    }
}

// ---- through the whole pipeline: events → build → invoice

#[test]
fn from_raw_events_to_a_final_invoice_and_a_late_event_adjusted_the_next_month() {
    use crate::metering_common::{ingested, Script, BR};
    let mut script = Script::new();
    for (i, day) in ["06", "07", "08", "20"].iter().enumerate() {
        let at = format!("2025-10-{day}T12:00:00Z");
        script.template_delivered(BR, &format!("t{i}"), "marketing", &at);
    }
    // The first three messages arrive in time; the fourth (2 lines) after October is final.
    let (in_time, late) = script.lines.split_at(6);
    let mut early = Script::new();
    early.lines = in_time.to_vec();
    let m = ingested(&early);
    m.build(None, None);
    let accts = crate::metering_common::accounts("UTC", false);
    let rates = msgmeter::pricing::rates::RateCard::embedded();
    let oct = run_invoice(&m.lake(), "2025-10", "2025-11-04", true, &accts, &rates);
    // 3 marketing templates delivered in Brazil (PMP, USD 0.0625 from 2025-07-01):
    // 3 × 0.0625 = 0.1875 → 0.19.
    let inv = &oct.invoices[0];
    assert_eq!(inv.invoice_number.as_deref(), Some("INV-2025-000001"));
    assert_eq!(
        (
            inv.lines.len(),
            inv.lines[0].quantity,
            inv.total.to_string()
        ),
        (1, 3, "0.19".into())
    );
    let json =
        std::fs::read_to_string(month_dir(&m.lake(), "2025-10").join("INV-2025-000001.json"))
            .unwrap();
    insta::assert_snapshot!("invoice_json", json);
    let frozen = month_hashes(&m.lake(), "2025-10");

    let late_file = write_lines(&m.dir.path().join("late"), "late.ndjson", late);
    ingest_paths(&m.lake(), &[late_file], "2030-01-01T00:00:00Z");
    m.build(None, None);
    let nov = run_invoice(&m.lake(), "2025-11", "2025-11-20", false, &accts, &rates);
    assert_eq!(frozen, month_hashes(&m.lake(), "2025-10"));
    // November: only the correction of October: 4 × 0.0625 = 0.25 − 0.19 = 0.06.
    let lines: Vec<(LineKind, i64, String, Option<String>)> = nov.invoices[0]
        .lines
        .iter()
        .map(|l| {
            (
                l.kind,
                l.quantity,
                l.amount.to_string(),
                l.corrects_month.map(|m| m.to_string()),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![(
            LineKind::Adjustment,
            1,
            "0.06".into(),
            Some("2025-10".into())
        )]
    );
}

#[test]
fn explain_leads_from_an_invoice_line_to_the_raw_lines_that_made_it() {
    use crate::metering_common::{ingested, Script, BR, BR2};
    use msgmeter::invoicing::explain::{explain, Target};
    let mut script = Script::new();
    // Lines 1–4: two marketing templates to BR, each sent and delivered.
    script.template_delivered(BR, "mk1", "marketing", "2025-10-06T12:00:00Z");
    script.template_delivered(BR, "mk2", "marketing", "2025-10-07T12:00:00Z");
    // Lines 5–6: a utility template to another customer: a line of its own.
    script.template_delivered(BR2, "ut1", "utility", "2025-10-07T13:00:00Z");
    // Line 7: a marketing template to BR2 that is never delivered: not billed, not traced.
    script.template(BR2, "mk3", "marketing", "2025-10-08T12:00:00Z");
    let m = ingested(&script);
    m.build(None, None);
    let accts = crate::metering_common::accounts("UTC", false);
    run_invoice(
        &m.lake(),
        "2025-10",
        "2025-11-04",
        true,
        &accts,
        &msgmeter::pricing::rates::RateCard::embedded(),
    );
    let lake = msgmeter::lake::Lake::new(m.lake());
    let found = explain(
        &lake,
        &accts,
        &Target::Number("INV-2025-000001".into()),
        Some(1),
    )
    .expect("explained");
    assert_eq!(found.len(), 1);
    let l = &found[0];
    // Line 1 is Brazil marketing: 2 × 0.0625 = 0.125 → 0.13.
    assert_eq!((l.line.quantity, l.amount()), (2, "0.13".to_string()));
    assert_eq!(
        strings(&l.usage, "units"),
        vec![Some("1".into()), Some("1".into())]
    );
    assert_eq!(l.units_table, "messages");
    assert_eq!(
        strings(&l.units, "message_id"),
        vec![Some("mk1".into()), Some("mk2".into())]
    );
    let events: Vec<(String, String, String)> = (0..l.events.height())
        .map(|i| {
            (
                string(&l.events, "event_key", i).unwrap(),
                string(&l.events, "source_file", i).unwrap(),
                string(&l.events, "source_line", i).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("biz_1|e00001".into(), "events.ndjson".into(), "1".into()),
            ("biz_1|e00002".into(), "events.ndjson".into(), "2".into()),
            ("biz_1|e00003".into(), "events.ndjson".into(), "3".into()),
            ("biz_1|e00004".into(), "events.ndjson".into(), "4".into()),
        ]
    );
    // The same through the command line, as JSON.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args(["explain", "--lake"])
        .arg(m.lake())
        .args([
            "--invoice",
            "INV-2025-000001",
            "--line",
            "2",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["line"]["category"], "utility");
    let lines: Vec<i64> = json[0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source_line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![5, 6]);
}

fn months_strategy() -> impl Strategy<Value = Vec<Usage>> {
    let one = (0usize..4, 0usize..4, 1u32..28, 1i64..50).prop_map(|(b, m, day, units)| {
        let business = ["q1", "q2", "q3", "q4"][b];
        let month = ["2025-10", "2025-11", "2025-12", "2026-01"][m];
        charged(
            business,
            &format!("{month}-{day:02}"),
            "Brazil",
            "marketing",
            units,
        )
    });
    proptest::collection::vec(one, 1..20)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Numbers are gapless per year over several months and businesses, in business-id
    /// order within a month; finalizing twice changes nothing.
    #[test]
    fn numbers_are_gapless_and_finalizing_twice_equals_once(rows in months_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        write_usage(&lake, &rows);
        let accts = accounts(&["q1", "q2", "q3", "q4"].iter().map(|b| format!(
            "{b},Prop {b},1 Test,,BR,USD,UTC,x@example.com,0,0,0,30,2025-01-01,,false,15,\n"
        )).collect::<String>());
        let rates = card(CARD);
        let mut by_year: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
        for (m, on) in [("2025-10", "2025-11-03"), ("2025-11", "2025-12-03"), ("2025-12", "2026-01-03"), ("2026-01", "2026-02-03")] {
            let done = run_invoice(&lake, m, on, true, &accts, &rates);
            // Businesses with usage that month, by hand.
            let mut expected: Vec<&str> = rows.iter().filter(|r| r.billing_date.to_string().starts_with(m)).map(|r| r.business.as_str()).collect();
            expected.sort();
            expected.dedup();
            let got: Vec<&str> = done.invoices.iter().map(|i| i.customer.business_id.as_str()).collect();
            prop_assert_eq!(got, expected);
            for i in &done.invoices {
                let number = i.invoice_number.clone().unwrap();
                let (year, seq) = number.strip_prefix("INV-").unwrap().split_once('-').unwrap();
                by_year.entry(year.to_string()).or_default().push(seq.parse().unwrap());
            }
            let frozen = month_hashes(&lake, m);
            let again = run_invoice(&lake, m, on, true, &accts, &rates);
            prop_assert_eq!(again.state, MonthState::AlreadyFinal);
            prop_assert_eq!(&frozen, &month_hashes(&lake, m));
        }
        for (_, seqs) in by_year {
            prop_assert_eq!(seqs.clone(), (1..=seqs.len() as u32).collect::<Vec<_>>());
        }
    }
}

#[test]
fn free_units_alone_never_make_an_adjustment_and_a_currency_change_is_refused_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let rates = card(&format!(
        "{CARD}\n2025-01-01,EUR,PMP,Brazil,marketing,,0.06,illustrative"
    ));
    let accts = |b2_currency: &str| {
        accounts(&format!(
            "b1,Alpha Bank,1 Rua Test,BRVAT1,BR,USD,UTC,a@example.com,0,0,0,30,2025-01-01,,false,15,
b2,Beta,2 Rua Test,BRVAT2,BR,{b2_currency},UTC,b@example.com,0,0,0,30,2025-01-01,,false,15,"
        ))
    };
    write_usage(
        &lake,
        &[
            free("b1", "2025-10-03", "Brazil", "service", 9),
            charged("b2", "2025-10-03", "Brazil", "marketing", 2),
        ],
    );
    let oct = run_invoice(&lake, "2025-10", "2025-11-04", true, &accts("USD"), &rates);
    // b1 had only free units: no invoice.
    assert_eq!(oct.invoices.len(), 1);
    // Late events: 4 more free messages for b1, 1 more marketing message for b2.
    write_usage(
        &lake,
        &[
            free("b1", "2025-10-03", "Brazil", "service", 9),
            charged("b2", "2025-10-03", "Brazil", "marketing", 2),
            free("b1", "2025-10-20", "Brazil", "service", 4),
            charged("b2", "2025-10-20", "Brazil", "marketing", 1),
        ],
    );
    let nov = run_invoice(&lake, "2025-11", "2025-11-20", false, &accts("USD"), &rates);
    let businesses: Vec<&str> = nov
        .invoices
        .iter()
        .map(|i| i.customer.business_id.as_str())
        .collect();
    // b2's correction: 3 × 0.0625 = 0.1875 → 0.19 − 0.13 = 0.06; b1: nothing to invoice.
    assert_eq!(businesses, vec!["b2"]);
    assert_eq!(nov.invoices[0].total.to_string(), "0.06");
    // b2 now billed in EUR: October's USD correction cannot go on a EUR invoice.
    let nov = run_invoice(&lake, "2025-11", "2025-11-20", false, &accts("EUR"), &rates);
    assert!(nov.invoices.is_empty());
    assert_eq!(nov.failures.len(), 1);
    let said = nov.failures[0].to_string();
    assert!(
        said.contains("business b2")
            && said.contains("changed from USD (the final invoice of 2025-10) to EUR"),
        "{said}"
    );
}

/// Second method: every usage line of every invoice of the committed sample (both formats,
/// both sources billed) is traced by `explain` to exactly as many units — messages,
/// conversations or reported statuses — as its `usage_daily` rows sum to.
#[test]
fn explain_finds_exactly_the_units_of_every_line_of_the_sample() {
    use msgmeter::invoicing::explain::{explain, Target};
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let accts = msgmeter::accounts::Accounts::embedded();
    let rates = msgmeter::pricing::rates::RateCard::embedded();
    let mut lines = 0;
    let mut sources = std::collections::BTreeSet::new();
    // The sample bills the reported source (auto); built again billing derived.
    for choice in [
        msgmeter::pricing::source::SourceChoice::Auto,
        msgmeter::pricing::source::SourceChoice::Derived,
    ] {
        msgmeter::pipeline::build(&crate::metering_common::build_options(
            &lake, &accts, None, None, choice,
        ))
        .expect("build runs");
        let months = strings(
            &query(
                &lake,
                "SELECT DISTINCT billing_month FROM usage_daily ORDER BY 1",
            ),
            "billing_month",
        );
        for m in months.into_iter().flatten() {
            let done = run_invoice(&lake, &m, "2025-12-31", false, &accts, &rates);
            let l = msgmeter::lake::Lake::new(&lake);
            for inv in &done.invoices {
                let target = Target::Draft {
                    business: inv.customer.business_id.clone(),
                    month: month(&m),
                };
                for lineage in explain(&l, &accts, &target, None).expect("explained") {
                    if lineage.line.kind != LineKind::Usage {
                        continue;
                    }
                    let units: i64 = strings(&lineage.usage, "units")
                        .iter()
                        .map(|u| u.as_deref().unwrap().parse::<i64>().unwrap())
                        .sum();
                    let id = if lineage.units_table == "conversations" {
                        "conversation_id"
                    } else {
                        "message_id"
                    };
                    let traced = strings(&lineage.units, id)
                        .into_iter()
                        .collect::<std::collections::BTreeSet<_>>()
                        .len() as i64;
                    assert_eq!(
                        (units, traced),
                        (lineage.line.quantity, lineage.line.quantity),
                        "{} line {} ({:?}, source {})",
                        inv.customer.business_id,
                        lineage.line.line_no,
                        lineage.line.key,
                        lineage.source
                    );
                    assert!(lineage.events.height() as i64 >= traced);
                    sources.insert(lineage.source.clone());
                    lines += 1;
                }
            }
        }
    }
    assert!(lines > 50, "{lines} lines traced");
    assert_eq!(
        sources.len(),
        2,
        "both sources billed somewhere: {sources:?}"
    );
}
