//! The month's ERP CSV (billing.md §8): every line of every invoice of a billing month, one
//! row each, with its invoice's header fields, safe to open in a spreadsheet.

use crate::error::{Error, Result};
use crate::invoicing::model::Invoice;
use crate::time::BillingMonth;

pub fn file_name(month: BillingMonth) -> String {
    format!("invoice_lines-{month}.csv")
}

/// A text cell a spreadsheet will not run: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'` (OWASP's advice for CSV injection). Numbers msgmeter
/// formats itself (amounts, quantities: `-12.30` is a credit, not a formula) are written as
/// they are, so the ERP reads them as numbers.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Every line of the month's invoices, one row each, for the ERP import.
pub fn render(invoices: &[Invoice]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| Error::Failed {
        what: "writing the ERP CSV".into(),
        message: e.to_string(),
    };
    w.write_record([
        "invoice_number",
        "status",
        "document",
        "business_id",
        "customer_name",
        "customer_vat_id",
        "month",
        "issue_date",
        "due_date",
        "currency",
        "line_no",
        "kind",
        "description",
        "pricing_model",
        "market",
        "category",
        "pricing_type",
        "tier_from",
        "quantity",
        "unit_price",
        "amount",
        "tax_pct",
        "corrects_month",
    ])
    .map_err(failed)?;
    for inv in invoices {
        for l in &inv.lines {
            let key = l.key.as_ref();
            let text = |s: &str| spreadsheet_safe(s).into_owned();
            w.write_record([
                inv.invoice_number.clone().unwrap_or_default(),
                inv.status.as_str().to_string(),
                inv.document.as_str().to_string(),
                text(&inv.customer.business_id),
                text(&inv.customer.name),
                text(&inv.customer.vat_id),
                inv.month.to_string(),
                inv.issue_date.to_string(),
                inv.due_date.to_string(),
                inv.currency.code().to_string(),
                l.line_no.to_string(),
                l.kind.as_str().to_string(),
                text(&l.description),
                key.map(|k| k.pricing_model.as_str().to_string())
                    .unwrap_or_default(),
                key.map(|k| text(&k.market)).unwrap_or_default(),
                key.map(|k| text(&k.category)).unwrap_or_default(),
                key.map(|k| text(&k.pricing_type)).unwrap_or_default(),
                key.and_then(|k| k.tier_from)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                l.quantity.to_string(),
                crate::money::display_unit_price(l.unit_price).to_string(),
                l.amount.to_string(),
                inv.tax_pct.normalize().to_string(),
                l.corrects_month.map(|m| m.to_string()).unwrap_or_default(),
            ])
            .map_err(failed)?;
        }
    }
    w.into_inner().map_err(|e| Error::Failed {
        what: "writing the ERP CSV".into(),
        message: e.to_string(),
    })
}
