//! The account registry (billing.md §7), read from `data/accounts.csv`: who a business is,
//! which time zone it is billed in, which currency, and the schedule its response times are
//! measured against.
//!
//! A business seen in events but missing here is metered and invoiced with the defaults of
//! billing.md §7 (USD, UTC, no schedule, SLA 15 min) and flagged: [`Account::is_default`].
//!
//! Every field is parsed when the file is loaded (percentages and the fee as exact
//! decimals, the schedule of business hours), so a bad `accounts.csv` fails at load with
//! its file, line and field, not halfway through a build or an invoice.

pub mod hours;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;

use hours::Schedule;

use crate::error::{Error, Result};

pub const EMBEDDED_ACCOUNTS_CSV: &str = include_str!("../../data/accounts.csv");

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub business_id: String,
    pub name: String,
    pub address: String,
    pub vat_id: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 4217.
    pub currency: String,
    /// The billing and business-hours time zone.
    pub timezone: Tz,
    pub billing_email: String,
    /// Percent, e.g. `21` for 21 % VAT.
    pub tax_pct: Decimal,
    /// Percent added to the rate card's rates.
    pub markup_pct: Decimal,
    /// In `currency`, charged for every month the account is active.
    pub monthly_fee: Decimal,
    pub payment_terms_days: u32,
    pub active_from: Option<NaiveDate>,
    pub active_to: Option<NaiveDate>,
    pub auth_intl_eligible: bool,
    pub sla_first_response_minutes: u32,
    /// Opening hours (`mon-fri 09:00-18:00; sat 10:00-14:00` in the file); `None` when
    /// the business has no schedule (its business-hours durations are null).
    pub business_hours: Option<Schedule>,
    /// The buyer's reference for its invoices (EN 16931 BT-10), optional column.
    pub buyer_reference: String,
    /// The buyer's electronic address (BT-49) and its scheme (e.g. `0088`, `9930`), optional
    /// columns `electronic_address`, `electronic_address_scheme`.
    pub electronic_address: String,
    pub electronic_address_scheme: String,
    /// Not in the registry: the defaults of billing.md §7.
    pub is_default: bool,
}

impl Account {
    /// The account of a business missing from the registry (billing.md §7).
    pub fn default_for(business_id: &str) -> Account {
        Account {
            business_id: business_id.to_string(),
            name: business_id.to_string(),
            address: String::new(),
            vat_id: String::new(),
            country: String::new(),
            currency: "USD".into(),
            timezone: Tz::UTC,
            billing_email: String::new(),
            tax_pct: Decimal::ZERO,
            markup_pct: Decimal::ZERO,
            monthly_fee: Decimal::ZERO,
            payment_terms_days: 30,
            active_from: None,
            active_to: None,
            auth_intl_eligible: false,
            sla_first_response_minutes: 15,
            business_hours: None,
            buyer_reference: String::new(),
            electronic_address: String::new(),
            electronic_address_scheme: String::new(),
            is_default: true,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Row {
    business_id: String,
    name: String,
    address: String,
    vat_id: String,
    country: String,
    currency: String,
    timezone: String,
    billing_email: String,
    tax_pct: String,
    markup_pct: String,
    monthly_fee: String,
    payment_terms_days: u32,
    active_from: String,
    active_to: String,
    auth_intl_eligible: String,
    sla_first_response_minutes: u32,
    business_hours: String,
    // E-invoicing (issue #17): optional columns, empty when absent.
    #[serde(default)]
    buyer_reference: String,
    #[serde(default)]
    electronic_address: String,
    #[serde(default)]
    electronic_address_scheme: String,
}

#[derive(Debug, Clone, Default)]
pub struct Accounts {
    by_business: BTreeMap<String, Account>,
}

impl Accounts {
    pub fn embedded() -> Self {
        Self::parse(EMBEDDED_ACCOUNTS_CSV, Path::new("data/accounts.csv"))
            .expect("the shipped accounts are valid")
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let mut by_business = BTreeMap::new();
        let csv_err = |e: csv::Error| Error::Data {
            path: path.into(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: format!("{e}"),
        };
        let headers = reader.headers().map_err(csv_err)?.clone();
        for record in reader.records() {
            let record = record.map_err(csv_err)?;
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let row: Row = record.deserialize(Some(&headers)).map_err(csv_err)?;
            let bad = |field: &str, message: String| Error::Data {
                path: path.into(),
                line,
                message: format!("business {}: {field}: {message}", row.business_id),
            };
            let timezone: Tz = row.timezone.parse().map_err(|_| {
                bad(
                    "timezone",
                    format!("{:?} is not an IANA time zone", row.timezone),
                )
            })?;
            let date = |field: &str, text: &str| -> Result<Option<NaiveDate>> {
                if text.is_empty() {
                    return Ok(None);
                }
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|e| bad(field, format!("{text:?}: {e}")))
            };
            // Exact decimals, never negative: percentages and an amount of money.
            let decimal = |field: &str, text: &str| -> Result<Decimal> {
                let value: Decimal = text
                    .parse()
                    .map_err(|_| bad(field, format!("{text:?} is not a decimal number")))?;
                if value.is_sign_negative() {
                    return Err(bad(field, format!("{text:?} is negative")));
                }
                Ok(value)
            };
            if crate::money::Currency::of(&row.currency).is_none() {
                return Err(bad(
                    "currency",
                    format!("{:?} is not an ISO 4217 currency code", row.currency),
                ));
            }
            let business_hours =
                Schedule::parse(&row.business_hours).map_err(|e| bad("business_hours", e))?;
            let auth_intl_eligible = match row.auth_intl_eligible.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" | "" => false,
                other => {
                    return Err(bad(
                        "auth_intl_eligible",
                        format!("{other:?}: expected true or false"),
                    ))
                }
            };
            let account = Account {
                active_from: date("active_from", &row.active_from)?,
                active_to: date("active_to", &row.active_to)?,
                business_id: row.business_id.clone(),
                name: row.name,
                address: row.address,
                vat_id: row.vat_id,
                country: row.country,
                currency: row.currency,
                timezone,
                billing_email: row.billing_email,
                tax_pct: decimal("tax_pct", &row.tax_pct)?,
                markup_pct: decimal("markup_pct", &row.markup_pct)?,
                monthly_fee: decimal("monthly_fee", &row.monthly_fee)?,
                payment_terms_days: row.payment_terms_days,
                auth_intl_eligible,
                sla_first_response_minutes: row.sla_first_response_minutes,
                business_hours,
                buyer_reference: row.buyer_reference,
                electronic_address: row.electronic_address,
                electronic_address_scheme: row.electronic_address_scheme,
                is_default: false,
            };
            if by_business
                .insert(row.business_id.clone(), account)
                .is_some()
            {
                return Err(bad("business_id", "listed twice".into()));
            }
        }
        Ok(Accounts { by_business })
    }

    /// Every registered account, in business-id order.
    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.by_business.values()
    }

    /// The business's account, or the defaults when it is not registered (a registered
    /// account is lent, not copied).
    pub fn get(&self, business_id: &str) -> std::borrow::Cow<'_, Account> {
        match self.by_business.get(business_id) {
            Some(a) => std::borrow::Cow::Borrowed(a),
            None => std::borrow::Cow::Owned(Account::default_for(business_id)),
        }
    }
}
