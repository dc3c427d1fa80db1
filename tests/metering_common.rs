//! A tiny language for hand-checked metering timelines: event-log lines for one business,
//! ingested into a temporary lake and built, then `usage_daily` read back as short lines
//! a person can check against billing.md by eye.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use msgmeter::accounts::Accounts;
use msgmeter::pipeline::{build, BuildOptions};
use msgmeter::pricing::rates::RateCard;
use msgmeter::pricing::rules::PricingRules;
use msgmeter::pricing::source::SourceChoice;

use crate::common::*;

pub const BUSINESS: &str = "biz_1";
/// A Brazilian customer (+55): market Brazil.
pub const BR: &str = "+5511900000001";
pub const BR2: &str = "+5511900000002";
/// An Indian customer (+91): market India (authentication_international is priced there).
pub const IN: &str = "+919800000001";
/// A Mexican customer (+52): market Mexico (no authentication_international rate).
pub const MX: &str = "+525500000001";

/// Event-log lines for one business, with event ids numbered as they are written.
#[derive(Default, Clone)]
pub struct Script {
    pub lines: Vec<String>,
    n: u32,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, fields: String) -> &mut Self {
        self.n += 1;
        self.lines.push(format!(
            r#"{{"event_id":"e{:05}","business_id":"{BUSINESS}",{fields}}}"#,
            self.n
        ));
        self
    }

    /// The customer writes (a text message).
    pub fn customer_writes(&mut self, customer: &str, at: &str) -> &mut Self {
        let id = format!("in{}", self.n);
        self.push(format!(
            r#""type":"message_in","ts":"{at}","customer":"{customer}","message_id":"{id}","message_type":"text""#
        ))
    }

    /// The customer writes after clicking an ad (a free entry point).
    pub fn customer_writes_from_ad(&mut self, customer: &str, at: &str) -> &mut Self {
        let id = format!("in{}", self.n);
        self.push(format!(
            r#""type":"message_in","ts":"{at}","customer":"{customer}","message_id":"{id}","message_type":"text","referral":true"#
        ))
    }

    /// A template of `category` sent at `at` (statuses follow separately).
    pub fn template(&mut self, customer: &str, id: &str, category: &str, at: &str) -> &mut Self {
        self.push(format!(
            r#""type":"message_out","ts":"{at}","customer":"{customer}","message_id":"{id}","message_type":"template","template_category":"{category}""#
        ))
    }

    /// A free-form (non-template) reply by an agent.
    pub fn reply(&mut self, customer: &str, id: &str, at: &str) -> &mut Self {
        self.push(format!(
            r#""type":"message_out","ts":"{at}","customer":"{customer}","message_id":"{id}","message_type":"text","sender":"agent""#
        ))
    }

    /// A reply typed by a bot.
    pub fn bot_reply(&mut self, customer: &str, id: &str, at: &str) -> &mut Self {
        self.push(format!(
            r#""type":"message_out","ts":"{at}","customer":"{customer}","message_id":"{id}","message_type":"text","sender":"bot""#
        ))
    }

    pub fn case_opened(
        &mut self,
        case: &str,
        customer: &str,
        kind: &str,
        category: &str,
        at: &str,
    ) -> &mut Self {
        self.push(format!(
            r#""type":"case_opened","ts":"{at}","customer":"{customer}","case_id":"{case}","case_kind":"{kind}","case_category":"{category}""#
        ))
    }

    pub fn case_status(&mut self, case: &str, status: &str, at: &str) -> &mut Self {
        self.push(format!(
            r#""type":"case_status","ts":"{at}","case_id":"{case}","case_status":"{status}""#
        ))
    }

    pub fn case_rating(&mut self, case: &str, rating: u8, at: &str) -> &mut Self {
        self.push(format!(
            r#""type":"case_rating","ts":"{at}","case_id":"{case}","rating":{rating}"#
        ))
    }

    pub fn status(&mut self, id: &str, status: &str, at: &str) -> &mut Self {
        self.push(format!(
            r#""type":"status","ts":"{at}","message_id":"{id}","status":"{status}""#
        ))
    }

    pub fn delivered(&mut self, id: &str, at: &str) -> &mut Self {
        self.status(id, "delivered", at)
    }

    /// A template sent and delivered at the same instant.
    pub fn template_delivered(
        &mut self,
        customer: &str,
        id: &str,
        category: &str,
        at: &str,
    ) -> &mut Self {
        self.template(customer, id, category, at).delivered(id, at)
    }

    /// A free-form reply sent and delivered at the same instant.
    pub fn reply_delivered(&mut self, customer: &str, id: &str, at: &str) -> &mut Self {
        self.reply(customer, id, at).delivered(id, at)
    }
}

/// A lake with the script ingested, not yet built.
pub struct MeterLake {
    pub dir: tempfile::TempDir,
    pub accounts: Accounts,
}

impl MeterLake {
    pub fn lake(&self) -> PathBuf {
        self.dir.path().join("lake")
    }

    pub fn build(&self, from: Option<&str>, to: Option<&str>) {
        self.build_with(from, to, SourceChoice::Auto);
    }

    pub fn build_with(&self, from: Option<&str>, to: Option<&str>, source: SourceChoice) {
        build(&build_options(
            &self.lake(),
            &self.accounts,
            from,
            to,
            source,
        ))
        .expect("build runs");
    }

    /// `usage_daily` rows of one source as `billing_date market category model type billable units`.
    pub fn usage(&self, source: &str) -> Vec<String> {
        usage_lines(&self.lake(), source)
    }
}

/// Build every date of the lake with the shipped accounts and the automatic source.
pub fn build_all(lake: &Path) -> msgmeter::pipeline::BuildOutcome {
    build(&build_options(
        lake,
        &Accounts::embedded(),
        None,
        None,
        SourceChoice::Auto,
    ))
    .expect("build runs")
}

pub fn build_options(
    lake: &Path,
    accounts: &Accounts,
    from: Option<&str>,
    to: Option<&str>,
    source: SourceChoice,
) -> BuildOptions {
    let date = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("test date");
    BuildOptions {
        lake: lake.to_path_buf(),
        from: from.map(date),
        to: to.map(date),
        source,
        rules: PricingRules::embedded(),
        rates: RateCard::embedded(),
        accounts: accounts.clone(),
        timely_response_hours: 24,
        memory_budget_bytes: 512 << 20,
        now: at("2030-01-01T00:00:00Z"),
        config_hashes: Default::default(),
    }
}

pub fn usage_lines(lake: &Path, source: &str) -> Vec<String> {
    let df = query(
        lake,
        &format!(
            "SELECT CAST(billing_date AS VARCHAR) AS d, market, category, pricing_model, \
             pricing_type, CAST(billable AS VARCHAR) AS b, CAST(sum(units) AS VARCHAR) AS u \
             FROM usage_daily WHERE source = '{source}' \
             GROUP BY d, market, category, pricing_model, pricing_type, b \
             ORDER BY d, market, category, pricing_model, pricing_type, b"
        ),
    );
    let cols: Vec<Vec<Option<String>>> = [
        "d",
        "market",
        "category",
        "pricing_model",
        "pricing_type",
        "b",
        "u",
    ]
    .iter()
    .map(|c| strings(&df, c))
    .collect();
    (0..df.height())
        .map(|i| {
            cols.iter()
                .map(|c| c[i].clone().unwrap_or_else(|| "null".into()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Accounts for the tests: `biz_1` billed in `timezone`, Brazilian, eligible for
/// authentication-international when `auth_intl`.
pub fn accounts(timezone: &str, auth_intl: bool) -> Accounts {
    accounts_with_hours(timezone, auth_intl, "mon-fri 09:00-18:00")
}

pub fn accounts_with_hours(timezone: &str, auth_intl: bool, hours: &str) -> Accounts {
    let csv = format!(
        "business_id,name,address,vat_id,country,currency,timezone,billing_email,tax_pct,markup_pct,monthly_fee,payment_terms_days,active_from,active_to,auth_intl_eligible,sla_first_response_minutes,business_hours\n\
         {BUSINESS},Test Bank,\"1 Test Street\",BR1,BR,USD,{timezone},b@example.com,0,0,0,30,2022-01-01,,{auth_intl},15,{hours}\n"
    );
    Accounts::parse(&csv, Path::new("test-accounts.csv")).expect("test accounts")
}

/// Ingest the script into a fresh lake (business `biz_1` billed in UTC unless `accounts`).
pub fn ingested(script: &Script) -> MeterLake {
    ingested_with(script, accounts("UTC", false))
}

pub fn ingested_with(script: &Script, accounts: Accounts) -> MeterLake {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write_lines(&dir.path().join("in"), "events.ndjson", &script.lines);
    let outcome = ingest_paths(&dir.path().join("lake"), &[input], "2030-01-01T00:00:00Z");
    assert_eq!(
        outcome.manifest.totals.quarantined, 0,
        "the test script is valid: {:?}",
        outcome.manifest.files
    );
    MeterLake { dir, accounts }
}

/// Ingest and build every date, then the derived usage.
pub fn derived_usage(script: &Script) -> Vec<String> {
    let lake = ingested(script);
    lake.build(None, None);
    lake.usage("derived")
}
