//! What a person reads on an invoice, as text: the printable form the HTML and the PDF both
//! lay out (so they cannot disagree). Every value comes from the invoice model, formatted
//! here; nothing is computed.

use crate::invoicing::model::{Invoice, LineKind, Status};
use crate::money::display_unit_price;

/// One row of the lines table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line_no: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

/// Lines under one heading: a market and category, the fee, or the corrections of a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub heading: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatLine {
    pub label: String,
    pub taxable: String,
    pub tax: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Invoice, Credit note, Adjustment note, Adjustment credit note.
    pub title: String,
    /// The number, or `DRAFT` while it has none.
    pub number: String,
    pub is_draft: bool,
    pub period: String,
    pub issue_date: String,
    pub due_date: String,
    pub terms: String,
    pub currency: String,
    pub source: String,
    pub issuer_name: String,
    pub issuer_address: String,
    pub issuer_tax_id: String,
    pub business_id: String,
    pub customer_name: String,
    pub customer_address: String,
    pub customer_vat_id: String,
    pub customer_country: String,
    pub account_registered: bool,
    pub groups: Vec<Group>,
    pub subtotal: String,
    pub vat: Vec<VatLine>,
    pub total: String,
    pub source_line: String,
    pub rounding_rule: String,
    pub version: String,
}

impl Page {
    pub fn of(inv: &Invoice) -> Page {
        let mut groups: Vec<Group> = Vec::new();
        for l in &inv.lines {
            let heading = match (l.kind, &l.key, l.corrects_month) {
                (LineKind::Adjustment, _, Some(m)) => format!("Corrections of {m}"),
                (LineKind::Fee, _, _) => "Monthly fee".to_string(),
                (_, Some(k), _) => format!("{} · {}", k.market, k.category.replace('_', " ")),
                _ => String::new(),
            };
            let description = match (&l.key, l.kind) {
                (Some(k), _) => {
                    let mut d = format!(
                        "{} {}",
                        if k.pricing_model.as_str() == "CBP" {
                            "conversations"
                        } else {
                            "messages"
                        },
                        k.pricing_type.replace('_', " ")
                    );
                    if l.kind == LineKind::Adjustment {
                        d = format!("{} {}: {d}", k.market, k.category.replace('_', " "));
                    }
                    if let Some(t) = k.tier_from {
                        d.push_str(&format!(", tier from unit {t}"));
                    }
                    d
                }
                (None, _) => l.description.clone(),
            };
            let row = Row {
                line_no: l.line_no.to_string(),
                description,
                quantity: l.quantity.to_string(),
                unit_price: display_unit_price(l.unit_price).to_string(),
                amount: l.amount.to_string(),
            };
            match groups.last_mut() {
                Some(g) if g.heading == heading => g.rows.push(row),
                _ => groups.push(Group {
                    heading,
                    rows: vec![row],
                }),
            }
        }
        let is_draft = inv.status == Status::Draft;
        Page {
            title: inv.title.to_string(),
            number: inv.invoice_number.clone().unwrap_or_else(|| "DRAFT".into()),
            is_draft,
            period: format!("{} to {}", inv.period_start, inv.period_end),
            issue_date: inv.issue_date.to_string(),
            due_date: inv.due_date.to_string(),
            terms: format!("{} days", inv.payment_terms_days),
            currency: inv.currency.code().to_string(),
            source: inv.source.clone(),
            issuer_name: inv.issuer.name.clone(),
            issuer_address: inv.issuer.address.clone(),
            issuer_tax_id: inv.issuer.tax_id.clone(),
            business_id: inv.customer.business_id.clone(),
            customer_name: inv.customer.name.clone(),
            customer_address: inv.customer.address.clone(),
            customer_vat_id: inv.customer.vat_id.clone(),
            customer_country: inv.customer.country.clone(),
            account_registered: inv.customer.account_registered,
            groups,
            subtotal: inv.subtotal.to_string(),
            vat: inv
                .vat_breakdown
                .iter()
                .map(|v| VatLine {
                    label: format!("VAT {} %", v.rate_pct.normalize()),
                    taxable: v.taxable.to_string(),
                    tax: v.tax.to_string(),
                })
                .collect(),
            total: inv.total.to_string(),
            source_line: format!(
                "Usage metered from the {} source (billing.md §5){}.",
                inv.source,
                if is_draft {
                    "; a draft, recomputed until the month is finalized"
                } else {
                    ""
                }
            ),
            rounding_rule: format!("Rounding: {}.", inv.rounding_rule),
            version: inv.msgmeter_version.to_string(),
        }
    }
}
