//! The invoice model (billing.md §8, §10): what an invoice *is*, independent of how it is
//! stored (`register.rs`: the `invoices` / `invoice_lines` tables) or shown (`documents.rs`:
//! JSON and the ERP CSV; PDF, HTML and e-invoices render the same model). Documents add no
//! arithmetic of their own: every amount here is already final.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::{Currency, Money};
use crate::pricing::rules::PricingModel;
use crate::time::BillingMonth;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recomputed by every run until the month is finalized.
    Draft,
    /// Numbered; never changes again.
    Final,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Final => "final",
        }
    }
}

/// What kind of document an invoice is, as its title says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Document {
    Invoice,
    /// An invoice whose total is negative.
    CreditNote,
    /// A standalone note of adjustments for a business with no later invoice (closed
    /// account), numbered in the ADJ series.
    AdjustmentNote,
    /// An adjustment note whose total is negative.
    AdjustmentCreditNote,
}

impl Document {
    pub fn as_str(self) -> &'static str {
        match self {
            Document::Invoice => "invoice",
            Document::CreditNote => "credit_note",
            Document::AdjustmentNote => "adjustment_note",
            Document::AdjustmentCreditNote => "adjustment_credit_note",
        }
    }

    /// The title printed on the document.
    pub fn title(self) -> &'static str {
        match self {
            Document::Invoice => "Invoice",
            Document::CreditNote => "Credit note",
            Document::AdjustmentNote => "Adjustment note",
            Document::AdjustmentCreditNote => "Adjustment credit note",
        }
    }

    pub fn is_adjustment_note(self) -> bool {
        matches!(
            self,
            Document::AdjustmentNote | Document::AdjustmentCreditNote
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Usage,
    Fee,
    Adjustment,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Usage => "usage",
            LineKind::Fee => "fee",
            LineKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(text: &str) -> Option<LineKind> {
        match text {
            "usage" => Some(LineKind::Usage),
            "fee" => Some(LineKind::Fee),
            "adjustment" => Some(LineKind::Adjustment),
            _ => None,
        }
    }
}

/// What a usage line prices, and what an adjustment compares: a line's key (billing.md §10:
/// market, category, pricing type, tier, unit price; and the pricing model, since CBP and
/// PMP units are different things).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LineKey {
    pub market: String,
    pub category: String,
    /// `CBP` or `PMP`.
    pub pricing_model: PricingModel,
    pub pricing_type: String,
    /// First unit of the volume tier; `None` for free units.
    pub tier_from: Option<u64>,
    /// The full-precision unit price (zero for free units).
    #[serde(skip)]
    pub unit_price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub line_no: u32,
    pub kind: LineKind,
    /// Usage and adjustment lines; `None` for the fee.
    #[serde(flatten)]
    pub key: Option<LineKey>,
    pub description: String,
    /// Units; the fee is 1; an adjustment's may be negative.
    pub quantity: i64,
    /// The card's rate before markup (charged units only).
    #[serde(serialize_with = "opt_decimal_str")]
    pub rate: Option<Decimal>,
    /// Full precision: the amount is computed from it. Shown rounded to 10 places.
    #[serde(serialize_with = "unit_price_str")]
    pub unit_price: Decimal,
    pub amount: Money,
    /// An adjustment: the finalized month it corrects.
    #[serde(serialize_with = "opt_month_str")]
    pub corrects_month: Option<BillingMonth>,
}

/// Who issues the invoices (configuration: `[invoicing]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issuer {
    pub name: String,
    pub address: String,
    pub tax_id: String,
    pub number_prefix: String,
    /// ISO 3166-1 alpha-2; empty when not configured (e-invoices are then skipped).
    pub country: String,
    pub electronic_address: String,
    pub electronic_address_scheme: String,
}

/// Who is invoiced (the account, billing.md §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub business_id: String,
    pub name: String,
    pub address: String,
    pub vat_id: String,
    /// ISO 3166-1 alpha-2; empty for an unregistered business.
    pub country: String,
    pub billing_email: String,
    /// EN 16931 BT-10, BT-49 (empty when the account has none).
    pub buyer_reference: String,
    pub electronic_address: String,
    pub electronic_address_scheme: String,
    /// False: missing from accounts.csv, invoiced with the defaults (flagged).
    pub account_registered: bool,
}

/// One VAT rate's share of the invoice (one rate per invoice: the account's).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VatRow {
    #[serde(serialize_with = "decimal_str")]
    pub rate_pct: Decimal,
    pub taxable: Money,
    pub tax: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invoice {
    /// Null while draft.
    pub invoice_number: Option<String>,
    pub status: Status,
    pub document: Document,
    pub title: &'static str,
    #[serde(serialize_with = "month_str")]
    pub month: BillingMonth,
    pub issuer: Issuer,
    pub customer: Customer,
    #[serde(serialize_with = "currency_str")]
    pub currency: Currency,
    /// The metering source billed (billing.md §5).
    pub source: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub payment_terms_days: u32,
    pub lines: Vec<Line>,
    pub subtotal: Money,
    #[serde(serialize_with = "decimal_str")]
    pub tax_pct: Decimal,
    /// The markup the unit prices carry (billing.md §8).
    #[serde(serialize_with = "decimal_str")]
    pub markup_pct: Decimal,
    pub tax: Money,
    pub total: Money,
    pub vat_breakdown: Vec<VatRow>,
    pub rounding_rule: &'static str,
    pub msgmeter_version: &'static str,
}

fn decimal_str<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.normalize())
}

fn opt_decimal_str<S: serde::Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(&d.normalize()),
        None => s.serialize_none(),
    }
}

fn unit_price_str<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&crate::money::display_unit_price(*d))
}

fn month_str<S: serde::Serializer>(m: &BillingMonth, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(m)
}

fn opt_month_str<S: serde::Serializer>(m: &Option<BillingMonth>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.collect_str(m),
        None => s.serialize_none(),
    }
}

fn currency_str<S: serde::Serializer>(c: &Currency, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(c)
}
