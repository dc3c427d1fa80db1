//! The printable HTML of an invoice: one self-contained file (inline CSS, no script, no
//! network), from `templates/invoice.html` (askama: checked when msgmeter compiles, every
//! value HTML-escaped). The report stage reuses the same engine.

use askama::Template;

use super::page::Page;
use crate::error::{Error, Result};
use crate::invoicing::model::Invoice;

#[derive(Template)]
#[template(path = "invoice.html")]
struct InvoiceHtml<'a> {
    page: &'a Page,
}

pub fn render(invoice: &Invoice) -> Result<Vec<u8>> {
    let page = Page::of(invoice);
    InvoiceHtml { page: &page }
        .render()
        .map(String::into_bytes)
        .map_err(|e| Error::Failed {
            what: format!(
                "rendering the HTML of {}'s invoice",
                invoice.customer.business_id
            ),
            message: e.to_string(),
        })
}
