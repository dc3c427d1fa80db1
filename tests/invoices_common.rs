//! Invoice fixtures: a lake holding hand-written `usage_daily` and `billing_sources` rows
//! (the invoice stage's input tables, as metering writes them), small rate cards and
//! accounts written inline, and the invoice run's options.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use msgmeter::accounts::Accounts;
use msgmeter::invoicing::model::Issuer;
use msgmeter::invoicing::{invoice, InvoiceOptions, InvoiceOutcome};
use msgmeter::lake::columns::{bools, dates, ints, table_frame, text};
use msgmeter::lake::{write_table_file, Lake};
use msgmeter::pricing::rates::RateCard;
use msgmeter::schema::{BILLING_SOURCES, USAGE_DAILY};
use msgmeter::time::BillingMonth;

use crate::common::at;

pub fn date(d: &str) -> NaiveDate {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("test date")
}

pub fn month(m: &str) -> BillingMonth {
    m.parse().expect("test month")
}

pub fn card(rows: &str) -> RateCard {
    let text = format!("valid_from,currency,model,market,category,tier_from,rate,source\n{rows}");
    RateCard::parse(&text, Path::new("test_rate_card.csv")).expect("test card parses")
}

pub const ACCOUNTS_HEADER: &str = "business_id,name,address,vat_id,country,currency,timezone,billing_email,tax_pct,markup_pct,monthly_fee,payment_terms_days,active_from,active_to,auth_intl_eligible,sla_first_response_minutes,business_hours";

pub fn accounts(rows: &str) -> Accounts {
    Accounts::parse(
        &format!("{ACCOUNTS_HEADER}\n{rows}"),
        Path::new("test_accounts.csv"),
    )
    .expect("test accounts parse")
}

/// One `usage_daily` row (UTC accounts: the charge's UTC date is its billing date).
#[derive(Debug, Clone)]
pub struct Usage {
    pub business: String,
    pub billing_date: NaiveDate,
    pub market: String,
    pub category: String,
    pub model: &'static str,
    pub pricing_type: &'static str,
    pub source: &'static str,
    pub billable: bool,
    pub units: i64,
}

/// A charged PMP unit row of the derived source.
pub fn charged(business: &str, d: &str, market: &str, category: &str, units: i64) -> Usage {
    Usage {
        business: business.into(),
        billing_date: date(d),
        market: market.into(),
        category: category.into(),
        model: "PMP",
        pricing_type: "regular",
        source: "derived",
        billable: true,
        units,
    }
}

/// Free units (`free_customer_service`) of the derived source.
pub fn free(business: &str, d: &str, market: &str, category: &str, units: i64) -> Usage {
    Usage {
        pricing_type: "free_customer_service",
        billable: false,
        ..charged(business, d, market, category, units)
    }
}

/// Write `rows` as the lake's `usage_daily` (one partition per date, replacing what was
/// there for those dates) and `billing_sources` (the derived source for every business and
/// month seen), as a build would.
pub fn write_usage(lake: &Path, rows: &[Usage]) {
    let lake = Lake::new(lake);
    let mut by_date: BTreeMap<NaiveDate, Vec<&Usage>> = BTreeMap::new();
    for r in rows {
        by_date.entry(r.billing_date).or_default().push(r);
    }
    for (d, rows) in &by_date {
        let months: Vec<String> = rows
            .iter()
            .map(|r| BillingMonth::of(r.billing_date).to_string())
            .collect();
        let mut df = table_frame(
            &USAGE_DAILY,
            rows.len(),
            vec![
                dates("billing_date", rows.iter().map(|r| Some(r.billing_date))),
                text("billing_month", months.iter().map(|m| Some(m.as_str()))),
                text(
                    "business_id",
                    rows.iter().map(|r| Some(r.business.as_str())),
                ),
                text("market", rows.iter().map(|r| Some(r.market.as_str()))),
                text("category", rows.iter().map(|r| Some(r.category.as_str()))),
                text("pricing_model", rows.iter().map(|r| Some(r.model))),
                text("pricing_type", rows.iter().map(|r| Some(r.pricing_type))),
                text("source", rows.iter().map(|r| Some(r.source))),
                bools("billable", rows.iter().map(|r| Some(r.billable))),
                ints("units", rows.iter().map(|r| Some(r.units))),
            ],
        )
        .expect("usage frame");
        write_table_file(&lake.date_partition_file(&USAGE_DAILY, *d), &mut df).expect("write");
    }
    let mut by_month: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        let m = BillingMonth::of(r.billing_date).to_string();
        let v = by_month.entry(m).or_default();
        if !v.contains(&r.business) {
            v.push(r.business.clone());
        }
    }
    for (m, mut businesses) in by_month {
        // Keep the businesses an earlier write recorded for the month.
        let path = lake.month_partition_file(&BILLING_SOURCES, &m);
        if path.exists() {
            let df = msgmeter::lake::read_parquet(&path, None).expect("read billing_sources");
            for b in msgmeter::lake::columns::str_values(&df, "business_id")
                .unwrap()
                .into_iter()
                .flatten()
            {
                if !businesses.contains(&b) {
                    businesses.push(b);
                }
            }
        }
        businesses.sort();
        let mut df = table_frame(
            &BILLING_SOURCES,
            businesses.len(),
            vec![
                text("business_id", businesses.iter().map(|b| Some(b.as_str()))),
                text("billing_month", businesses.iter().map(|_| Some(m.as_str()))),
                text("source", businesses.iter().map(|_| Some("derived"))),
                text("choice", businesses.iter().map(|_| Some("derived"))),
                bools(
                    "pricing_objects_seen",
                    businesses.iter().map(|_| Some(false)),
                ),
            ],
        )
        .expect("billing_sources frame");
        write_table_file(&lake.month_partition_file(&BILLING_SOURCES, &m), &mut df).expect("write");
    }
}

pub fn issuer() -> Issuer {
    Issuer {
        name: "Example Messaging Ltd".into(),
        address: "1 Test Street, Dublin".into(),
        tax_id: "IE1234567T".into(),
        number_prefix: "INV".into(),
        country: "IE".into(),
        electronic_address: "issuer@example.com".into(),
        electronic_address_scheme: "EM".into(),
    }
}

pub fn options(
    lake: &Path,
    m: &str,
    as_of: &str,
    finalize: bool,
    accounts: &Accounts,
    card: &RateCard,
) -> InvoiceOptions {
    InvoiceOptions {
        lake: lake.to_path_buf(),
        month: month(m),
        as_of: date(as_of),
        finalize,
        business: None,
        accounts: accounts.clone(),
        rates: card.clone(),
        issuer: issuer(),
        now: at("2030-01-01T00:00:00Z"),
        config_hashes: Default::default(),
        renderer: std::sync::Arc::new(msgmeter::documents::Documents::default()),
    }
}

pub fn run_invoice(
    lake: &Path,
    m: &str,
    as_of: &str,
    finalize: bool,
    accounts: &Accounts,
    card: &RateCard,
) -> InvoiceOutcome {
    invoice(&options(lake, m, as_of, finalize, accounts, card)).expect("invoice runs")
}

/// SHA-256 of every file under `dir` (relative path → hash).
pub fn hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    use sha2::{Digest, Sha256};
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).expect("readable");
                out.insert(
                    p.strip_prefix(root).expect("under root").to_path_buf(),
                    hex::encode(Sha256::digest(&bytes)),
                );
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// The month's documents folder.
pub fn month_dir(lake: &Path, m: &str) -> PathBuf {
    lake.join("invoices").join(format!("month={m}"))
}

/// SHA-256 of every file of a month: both tables' partitions and the documents.
pub fn month_hashes(lake: &Path, m: &str) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for table in ["invoices", "invoice_lines"] {
        let dir = lake.join(table).join(format!("month={m}"));
        for (p, h) in hashes(&dir) {
            out.insert(Path::new(table).join(p), h);
        }
    }
    out
}
