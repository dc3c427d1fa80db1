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

/// The documents msgmeter writes for an invoice run: the JSON and the month's ERP CSV
/// always, the others as chosen (`invoice --documents`; all by default).
#[derive(Debug, Clone, Copy)]
pub struct Documents {
    pub html: bool,
    pub pdf: bool,
    /// UBL, and the CII inside a Factur-X PDF.
    pub einvoice: bool,
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            html: true,
            pdf: true,
            einvoice: true,
        }
    }
}

/// `--documents`: a kind of document an invoice run can write besides the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The printable HTML
    Html,
    /// The PDF/A-3b (a Factur-X when the e-invoice is written too)
    Pdf,
    /// The UBL 2.1 XML, and the CII XML inside the PDF
    Einvoice,
    /// None but the JSON and the ERP CSV
    None,
}

impl Documents {
    pub fn of(kinds: &[Kind]) -> Documents {
        Documents {
            html: kinds.contains(&Kind::Html),
            pdf: kinds.contains(&Kind::Pdf),
            einvoice: kinds.contains(&Kind::Einvoice),
        }
    }
}

impl Renderer for Documents {
    fn invoice_files(&self, invoice: &Invoice) -> Result<Rendered> {
        let name = document_name(invoice);
        let mut files = vec![(format!("{name}.json"), json(invoice))];
        if self.html {
            files.push((format!("{name}.html"), html::render(invoice)?));
        }
        let mut skipped = Vec::new();
        // A draft has no e-invoice, and one not asked for is no news either.
        let e_invoice = match (self.einvoice, einvoice::unavailable(invoice)) {
            (false, _) => false,
            (true, None) => true,
            (true, Some(_)) if invoice.invoice_number.is_none() => false,
            (true, Some(why)) => {
                skipped.push(why);
                false
            }
        };
        if e_invoice {
            files.push((format!("{name}.ubl.xml"), einvoice::ubl(invoice)?));
        }
        if self.pdf {
            let pdf = if e_invoice {
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
            } else {
                pdf::render(invoice, None)?
            };
            files.push((format!("{name}.pdf"), pdf));
        }
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
