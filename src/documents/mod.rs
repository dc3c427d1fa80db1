//! The documents stage (billing.md §8; issue #17): an invoice model rendered as files — JSON
//! (the whole model), printable HTML, and the month's ERP CSV. Documents read no table and
//! compute nothing: every amount comes from the model. The invoice run stages what they
//! return beside the month's tables, under `LAKE/invoices/month=YYYY-MM/`.
//!
//! Names: a final invoice's files are named by its number (`INV-2025-000001.json`,
//! `.html`); a draft's by its business (`draft-<business>.json`: the id made safe by
//! `lake::file_name_for`), so a finalized month's drafts are found and removed.

pub mod einvoice;
pub mod erp_csv;
pub mod facturx;
pub mod html;
pub mod page;
pub mod pdf;

use crate::error::Result;
use crate::invoicing::model::Invoice;
use crate::invoicing::{Rendered, Renderer};
use crate::lake::file_name_for;
use crate::time::BillingMonth;

/// The document name of an invoice, without extension.
pub fn document_name(invoice: &Invoice) -> String {
    match &invoice.invoice_number {
        Some(number) => file_name_for(number),
        None => format!("draft-{}", file_name_for(&invoice.customer.business_id)),
    }
}

/// The invoice as pretty JSON, ending with a newline (amounts as strings).
pub fn json(invoice: &Invoice) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(invoice).expect("the invoice model serialises");
    bytes.push(b'\n');
    bytes
}

/// The name Factur-X gives the embedded XML.
pub const FACTURX_XML: &str = "factur-x.xml";

/// Every document msgmeter writes for an invoice run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Documents;

impl Renderer for Documents {
    fn invoice_files(&self, invoice: &Invoice) -> Result<Rendered> {
        let name = document_name(invoice);
        let mut files = vec![
            (format!("{name}.json"), json(invoice)),
            (format!("{name}.html"), html::render(invoice)?),
        ];
        let mut skipped = Vec::new();
        let pdf = match einvoice::unavailable(invoice) {
            None => {
                files.push((format!("{name}.ubl.xml"), einvoice::ubl(invoice)?));
                // The Factur-X PDF: the CII embedded, and the Factur-X XMP.
                let attachment = pdf::Attachment {
                    name: FACTURX_XML.into(),
                    description: "Factur-X invoice (EN 16931)".into(),
                    data: einvoice::cii(invoice)?,
                };
                facturx::add_xmp(
                    &pdf::render(invoice, Some(attachment))?,
                    "EN 16931",
                    FACTURX_XML,
                )?
            }
            // A draft has no e-invoice: that is no news.
            Some(_) if invoice.invoice_number.is_none() => pdf::render(invoice, None)?,
            Some(why) => {
                skipped.push(why);
                pdf::render(invoice, None)?
            }
        };
        files.push((format!("{name}.pdf"), pdf));
        Ok(Rendered { files, skipped })
    }

    fn month_files(
        &self,
        month: BillingMonth,
        invoices: &[Invoice],
    ) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(vec![(
            erp_csv::file_name(month),
            erp_csv::render(invoices)?,
        )])
    }
}
