//! The account registry (billing.md §7) is parsed whole when it is loaded: a bad field fails
//! at load with its file, line and field.

use std::path::Path;

use msgmeter::accounts::Accounts;
use rust_decimal::Decimal;

const HEADER: &str = "business_id,name,address,vat_id,country,currency,timezone,billing_email,tax_pct,markup_pct,monthly_fee,payment_terms_days,active_from,active_to,auth_intl_eligible,sla_first_response_minutes,business_hours\n";

fn with_row(row: &str) -> String {
    format!("{HEADER}B0,Good,addr,VAT0,BR,USD,UTC,b@x,0,0,0,30,,,false,15,\n{row}\n")
}

#[test]
fn percentages_fee_and_hours_are_parsed_on_load() {
    let text = with_row("B1,Acme,addr,VAT1,DE,EUR,Europe/Berlin,b@x,19,12.5,99.90,14,2025-01-01,,true,30,mon-fri 09:00-18:00");
    let accounts = Accounts::parse(&text, Path::new("accounts.csv")).unwrap();
    let a = accounts.get("B1");
    assert_eq!(a.tax_pct, Decimal::new(19, 0));
    assert_eq!(a.markup_pct, Decimal::new(125, 1));
    assert_eq!(a.monthly_fee, Decimal::new(9990, 2));
    assert!(a.business_hours.is_some());
    assert!(accounts.get("B0").business_hours.is_none());
    // A business not registered gets the defaults, flagged.
    assert!(accounts.get("nobody").is_default);
}

#[test]
fn a_bad_field_fails_at_load_naming_file_line_and_field() {
    for (row, field, what) in [
        (
            "B1,Acme,addr,VAT1,DE,EUR,UTC,b@x,nineteen,0,0,14,,,false,30,",
            "tax_pct",
            "not a decimal",
        ),
        (
            "B1,Acme,addr,VAT1,DE,EUR,UTC,b@x,19,-5,0,14,,,false,30,",
            "markup_pct",
            "negative",
        ),
        (
            "B1,Acme,addr,VAT1,DE,EUR,UTC,b@x,19,0,1e3x,14,,,false,30,",
            "monthly_fee",
            "not a decimal",
        ),
        (
            "B1,Acme,addr,VAT1,DE,EUR,UTC,b@x,19,0,0,14,,,false,30,mon-fry 09:00-18:00",
            "business_hours",
            "not a day",
        ),
    ] {
        let err = Accounts::parse(&with_row(row), Path::new("accounts.csv"))
            .expect_err(row)
            .to_string();
        assert!(err.starts_with("accounts.csv, line 3"), "{err}");
        assert!(err.contains(field) && err.contains(what), "{err}");
    }
}

/// Settings read, parse and hash each configuration input once per command: asked twice,
/// the file is not read again (here it is gone by then) and the hash is the same.
#[test]
fn a_configuration_input_is_read_and_hashed_once() {
    use msgmeter::settings::{CommandLine, ConfigFile, Settings};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.csv");
    let text = with_row("B1,Acme,addr,VAT1,DE,EUR,UTC,b@x,19,0,0,14,,,false,30,");
    std::fs::write(&path, &text).unwrap();
    let settings = Settings::resolve(
        CommandLine {
            accounts: Some(path.clone()),
            ..CommandLine::default()
        },
        ConfigFile::default(),
        None,
    )
    .unwrap();
    let (first, sha) = settings.accounts().unwrap();
    std::fs::remove_file(&path).unwrap();
    let (again, sha_again) = settings.accounts().unwrap();
    assert_eq!(sha, sha_again);
    // The SHA-256 of the text, computed here independently.
    use sha2::Digest;
    assert_eq!(sha, hex::encode(sha2::Sha256::digest(text.as_bytes())));
    assert_eq!(first.get("B1").tax_pct, again.get("B1").tax_pct);
}
