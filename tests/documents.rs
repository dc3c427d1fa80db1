//! Invoice documents (issue #17): the PDF/A-3 read back by poppler (`pdftotext`,
//! `pdffonts`), the Factur-X and UBL XML checked against their XSDs by the `factur-x`
//! Python package (akretion), the HTML escaped. The values compared are the invoice's
//! amounts worked out by hand in the comments.

use std::path::{Path, PathBuf};
use std::process::Command;

use msgmeter::documents::einvoice::{check_categories, VatCategory};
use msgmeter::invoicing::InvoiceOutcome;

use crate::common::stdout_of;
use crate::invoices_common::*;

const CARD: &str = "2025-01-01,EUR,PMP,Brazil,marketing,,0.0625,illustrative
2025-01-01,USD,PMP,Brazil,marketing,,0.0625,illustrative";

/// Names in four scripts, and one that tries to be markup and a formula.
const ACCOUNTS: &str = "d1,Alpha Bank,1 Hauptstraße,DE123456789,DE,EUR,UTC,a@example.com,19,0,10.00,30,2025-01-01,,false,15,
d2,Банк Восток,2 ул. Ленина,,RU,USD,UTC,b@example.com,0,0,0,30,2025-01-01,,false,15,
d3,مصرف الشرق (ش.م.ع) ?,3 شارع / 4 & 5…,,AE,USD,UTC,c@example.com,0,0,0,30,2025-01-01,,false,15,
d4,भारत बैंक,4 मार्ग,,IN,USD,UTC,d@example.com,0,0,0,30,2025-01-01,,false,15,
d5,<script>alert(1)</script> =cmd|' /C calc'!A0,5 Rue,FR99999999999,FR,EUR,UTC,e@example.com,0,0,0,30,2025-01-01,,false,15,";

fn finalized_october() -> (tempfile::TempDir, PathBuf, InvoiceOutcome) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_usage(
        &lake,
        &["d1", "d2", "d3", "d4", "d5"]
            .iter()
            .map(|b| charged(b, "2025-10-03", "Brazil", "marketing", 3))
            .chain([free("d1", "2025-10-04", "Brazil", "service", 5)])
            .collect::<Vec<_>>(),
    );
    let done = run_invoice(
        &lake,
        "2025-10",
        "2025-11-04",
        true,
        &accounts(ACCOUNTS),
        &card(CARD),
    );
    (dir, lake, done)
}

fn doc(lake: &Path, number: &str, ext: &str) -> PathBuf {
    month_dir(lake, "2025-10").join(format!("{number}.{ext}"))
}

fn pdftotext(pdf: &Path) -> String {
    // pdftotext is poppler-utils' (.ci/run installs it).
    stdout_of(
        Command::new("pdftotext")
            .args(["-layout", "-enc", "UTF-8"])
            .arg(pdf)
            .arg("-"),
        0,
    )
}

#[test]
fn the_pdf_shows_the_number_every_line_amount_and_the_total_in_embedded_fonts() {
    let (_dir, lake, done) = finalized_october();
    let d1 = &done.invoices[0];
    assert_eq!(d1.invoice_number.as_deref(), Some("INV-2025-000001"));
    let pdf = doc(&lake, "INV-2025-000001", "pdf");
    let text = pdftotext(&pdf);
    // d1: 3 × 0.0625 = 0.1875 → 0.19; 5 free service messages 0.00; fee 10.00; subtotal
    // 10.19; VAT 19 % = 1.9361 → 1.94; total 12.13.
    for needle in [
        "INV-2025-000001",
        "Invoice",
        "0.19",
        "0.00",
        "10.00",
        "10.19",
        "1.94",
        "12.13",
        "Alpha Bank",
        "derived",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert_eq!(d1.total.to_string(), "12.13");
    assert!(text.contains("page 1 / 1"), "{text}");
    let fonts = Command::new("pdffonts").arg(&pdf).output().unwrap();
    let listing = String::from_utf8(fonts.stdout).unwrap();
    let rows: Vec<&str> = listing.lines().skip(2).collect();
    assert!(!rows.is_empty(), "{listing}");
    // Columns: name, type, encoding, emb, sub, uni, object, id.
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let n = cols.len();
        assert_eq!(
            (cols[n - 5], cols[n - 4]),
            ("yes", "yes"),
            "not embedded and subset: {row}"
        );
    }
}

#[test]
fn names_in_cyrillic_arabic_and_devanagari_come_back_out_of_the_pdf() {
    let (_dir, lake, done) = finalized_october();
    for (business, name) in [
        ("d2", "Банк Восток"),
        ("d3", "مصرف الشرق"),
        ("d4", "भारत बैंक"),
    ] {
        let inv = done
            .invoices
            .iter()
            .find(|i| i.customer.business_id == business)
            .unwrap();
        let text = pdftotext(&doc(&lake, inv.invoice_number.as_deref().unwrap(), "pdf"));
        let words_found = name.split(' ').all(|w| text.contains(w));
        assert!(words_found, "{name:?} not in:\n{text}");
    }
}

fn python() -> Option<String> {
    match std::env::var("MSGMETER_FACTURX_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            eprintln!("skipped: MSGMETER_FACTURX_PYTHON is not set (.ci/run sets it)");
            None
        }
    }
}

/// Run `script` with the factur-x venv's python; its stdout.
fn run_python(python: &str, script: &str, args: &[&Path]) -> String {
    stdout_of(Command::new(python).arg("-c").arg(script).args(args), 0)
}

#[test]
fn the_factur_x_pdf_carries_a_cii_that_passes_its_xsd_with_the_invoice_totals() {
    let Some(python) = python() else { return };
    let (_dir, lake, done) = finalized_october();
    let pdf = doc(&lake, "INV-2025-000001", "pdf");
    let said = run_python(
        &python,
        r#"
import sys, facturx
from lxml import etree
pdf = open(sys.argv[1], 'rb').read()
name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
print(name)
print(facturx.get_flavor(etree.fromstring(xml)), facturx.get_level(etree.fromstring(xml)))
print(facturx.xml_check_xsd(xml, flavor='factur-x', level='en16931'))
ns = {'ram': 'urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100'}
root = etree.fromstring(xml)
for tag in ['LineTotalAmount', 'TaxTotalAmount', 'GrandTotalAmount', 'DuePayableAmount']:
    print(tag, root.find('.//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:' + tag, ns).text)
"#,
        &[&pdf],
    );
    let inv = &done.invoices[0];
    let expected = format!(
        "factur-x.xml\nfactur-x en16931\nTrue\nLineTotalAmount {}\nTaxTotalAmount {}\nGrandTotalAmount {}\nDuePayableAmount {}\n",
        inv.subtotal, inv.tax, inv.total, inv.total
    );
    assert_eq!(said, expected);
    // By hand: 10.19, 1.94, 12.13 (see the PDF test).
    assert!(said.contains("GrandTotalAmount 12.13"));
}

#[test]
fn the_ubl_invoice_passes_the_ubl_xsd_and_carries_the_mandatory_business_terms() {
    let Some(python) = python() else { return };
    let (_dir, lake, _done) = finalized_october();
    let ubl = doc(&lake, "INV-2025-000001", "ubl.xml");
    let said = run_python(
        &python,
        r#"
import sys, facturx
from lxml import etree
xml = open(sys.argv[1], 'rb').read()
print(facturx.xml_check_xsd(xml, flavor='ubl-2.1-invoice'))
ns = {'cbc': 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2',
      'cac': 'urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2'}
root = etree.fromstring(xml)
terms = {
  'BT-24 specification': 'cbc:CustomizationID',
  'BT-1 number': 'cbc:ID', 'BT-2 issue date': 'cbc:IssueDate', 'BT-3 type code': 'cbc:InvoiceTypeCode',
  'BT-5 currency': 'cbc:DocumentCurrencyCode', 'BT-9 due date': 'cbc:DueDate',
  'BT-27 seller name': 'cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName',
  'BT-40 seller country': 'cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode',
  'BT-44 buyer name': 'cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName',
  'BT-55 buyer country': 'cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode',
  'BT-106 lines net': 'cac:LegalMonetaryTotal/cbc:LineExtensionAmount',
  'BT-110 VAT total': 'cac:TaxTotal/cbc:TaxAmount',
  'BT-112 total': 'cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount',
  'BT-115 payable': 'cac:LegalMonetaryTotal/cbc:PayableAmount',
  'BT-118 VAT category': 'cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID',
}
for term, path in terms.items():
    print(term, root.find(path, ns).text)
print('BT-23 process', root.find('cbc:ProfileID', ns), 'payment means', root.find('cac:PaymentMeans', ns))
for line in root.findall('cac:InvoiceLine', ns):
    print('BT-126/129/131 line', line.find('cbc:ID', ns).text, line.find('cbc:InvoicedQuantity', ns).text,
          line.find('cbc:InvoicedQuantity', ns).get('unitCode'), line.find('cbc:LineExtensionAmount', ns).text)
"#,
        &[&ubl],
    );
    assert_eq!(
        said,
        "True
BT-24 specification urn:cen.eu:en16931:2017
BT-1 number INV-2025-000001
BT-2 issue date 2025-11-04
BT-3 type code 380
BT-5 currency EUR
BT-9 due date 2025-12-04
BT-27 seller name Example Messaging Ltd
BT-40 seller country IE
BT-44 buyer name Alpha Bank
BT-55 buyer country DE
BT-106 lines net 10.19
BT-110 VAT total 1.94
BT-112 total 12.13
BT-115 payable 12.13
BT-118 VAT category S
BT-23 process None payment means None
BT-126/129/131 line 1 3 C62 0.19
BT-126/129/131 line 2 5 C62 0.00
BT-126/129/131 line 3 1 C62 10.00
"
    );
}

#[test]
fn html_escapes_every_data_string() {
    let (_dir, lake, done) = finalized_october();
    let d5 = done
        .invoices
        .iter()
        .find(|i| i.customer.business_id == "d5")
        .unwrap();
    let html =
        std::fs::read_to_string(doc(&lake, d5.invoice_number.as_deref().unwrap(), "html")).unwrap();
    assert!(!html.contains("<script>"), "unescaped markup");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("=cmd|&#39; /C calc&#39;!A0")
            || html.contains("=cmd|&#x27; /C calc&#x27;!A0"),
        "{html}"
    );
    // Self-contained: no script, no link, nothing fetched.
    for banned in ["<script", "<link", "src=", "http://", "https://"] {
        assert!(!html.contains(banned), "{banned} in the HTML");
    }
    let d1 = std::fs::read_to_string(doc(&lake, "INV-2025-000001", "html")).unwrap();
    insta::assert_snapshot!("invoice_html", d1);
}

#[test]
fn documents_render_to_the_same_bytes_twice() {
    let (_dir, lake, done) = finalized_october();
    use msgmeter::invoicing::Renderer;
    for inv in &done.invoices {
        let a = msgmeter::documents::Documents::default()
            .invoice_files(inv)
            .unwrap();
        let b = msgmeter::documents::Documents::default()
            .invoice_files(inv)
            .unwrap();
        assert_eq!(a.files, b.files);
        // And the same bytes as the run wrote.
        for (name, bytes) in &a.files {
            assert_eq!(
                &std::fs::read(month_dir(&lake, "2025-10").join(name)).unwrap(),
                bytes,
                "{name}"
            );
        }
    }
}

#[test]
fn vat_categories_follow_the_account_and_outside_scope_never_mixes_with_taxed_lines() {
    let (_dir, _lake, done) = finalized_october();
    let category = |b: &str| {
        msgmeter::documents::einvoice::vat_category(
            done.invoices
                .iter()
                .find(|i| i.customer.business_id == b)
                .unwrap(),
        )
    };
    // d1: 19 % → S. d5: FR with a VAT id, tax 0, issuer in IE with one → reverse charge.
    // d2: RU, tax 0 → outside the scope of EU VAT.
    assert_eq!(category("d1"), VatCategory::Standard);
    assert_eq!(category("d5"), VatCategory::ReverseCharge);
    assert_eq!(category("d2"), VatCategory::OutsideScope);
    assert!(check_categories(&[VatCategory::Standard, VatCategory::Standard]).is_ok());
    let refused =
        check_categories(&[VatCategory::OutsideScope, VatCategory::Standard]).unwrap_err();
    assert!(refused.contains("category O"), "{refused}");
}

#[test]
fn a_draft_pdf_says_draft_and_has_no_e_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_usage(
        &lake,
        &[charged("d1", "2025-10-03", "Brazil", "marketing", 3)],
    );
    run_invoice(
        &lake,
        "2025-10",
        "2025-10-20",
        false,
        &accounts(ACCOUNTS),
        &card(CARD),
    );
    let text = pdftotext(&month_dir(&lake, "2025-10").join("draft-d1.pdf"));
    assert!(text.contains("DRAFT"), "{text}");
    assert!(!month_dir(&lake, "2025-10")
        .join("draft-d1.ubl.xml")
        .exists());
}

#[test]
fn an_invoice_outside_the_scope_of_vat_states_no_vat_ids_and_still_passes_both_xsds() {
    let Some(python) = python() else { return };
    let (_dir, lake, done) = finalized_october();
    // d2 (Russia, tax 0): category O. The seller is identified by its tax id as BT-29
    // instead (BR-CO-26), and no VAT id is stated (BR-O-02, BR-O-03).
    let d2 = done
        .invoices
        .iter()
        .find(|i| i.customer.business_id == "d2")
        .unwrap();
    let number = d2.invoice_number.as_deref().unwrap();
    let said = run_python(
        &python,
        r#"
import sys, facturx
from lxml import etree
ubl = open(sys.argv[1], 'rb').read()
name, cii = facturx.get_xml_from_pdf(open(sys.argv[2], 'rb').read(), check_xsd=False)
print(facturx.xml_check_xsd(ubl, flavor='ubl-2.1-invoice'), facturx.xml_check_xsd(cii, flavor='factur-x', level='en16931'))
ns = {'cbc': 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2',
      'cac': 'urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2'}
root = etree.fromstring(ubl)
print(root.find('cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID', ns).text,
      root.find('cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReasonCode', ns).text,
      len(root.findall('.//cac:PartyTaxScheme', ns)),
      root.find('cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID', ns).text)
"#,
        &[&doc(&lake, number, "ubl.xml"), &doc(&lake, number, "pdf")],
    );
    assert_eq!(said, "True True\nO VATEX-EU-O 0 IE1234567T\n");
}

/// An e-invoice that could not be valid EN 16931 is not written; the run says why, naming
/// the rule: amounts with three decimals (BR-DEC), a VAT id without its country code
/// (BR-CO-9), a taxed invoice without the seller's VAT id (BR-S-2). The others are written.
#[test]
fn an_e_invoice_that_could_not_be_valid_is_skipped_with_the_rule_it_breaks() {
    const CARD: &str = "2025-01-01,EUR,PMP,Brazil,marketing,,0.0625,illustrative
2025-01-01,KWD,PMP,Brazil,marketing,,0.0625,illustrative";
    // k1 bills in Kuwaiti dinars (3 decimals); ok1 is a German bank taxed at 19 % with a
    // proper VAT id; v1 the same with a VAT id lacking its "DE".
    const ACCOUNTS: &str =
        "k1,Gulf Bank,1 Street,,KW,KWD,UTC,k@example.com,0,0,0,30,2025-01-01,,false,15,
ok1,Good Bank,2 Straße,DE123456789,DE,EUR,UTC,o@example.com,19,0,0,30,2025-01-01,,false,15,
v1,Vat Bank,3 Straße,123456789,DE,EUR,UTC,v@example.com,19,0,0,30,2025-01-01,,false,15,";
    let usage: Vec<_> = ["k1", "ok1", "v1"]
        .iter()
        .map(|b| charged(b, "2025-10-03", "Brazil", "marketing", 3))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_usage(&lake, &usage);
    let done = run_invoice(
        &lake,
        "2025-10",
        "2025-11-04",
        true,
        &accounts(ACCOUNTS),
        &card(CARD),
    );
    // Numbered in business order: k1, ok1, v1.
    assert_eq!(
        done.skipped_documents.len(),
        2,
        "{:?}",
        done.skipped_documents
    );
    assert!(done.skipped_documents[0].starts_with("INV-2025-000001: no e-invoice"));
    assert!(done.skipped_documents[0].contains("KWD have 3 decimals"));
    assert!(done.skipped_documents[0].contains("BR-DEC"));
    assert!(done.skipped_documents[1].starts_with("INV-2025-000003: no e-invoice"));
    assert!(done.skipped_documents[1].contains(r#"the buyer's VAT id "123456789""#));
    assert!(done.skipped_documents[1].contains("BR-CO-9"));
    assert!(doc(&lake, "INV-2025-000002", "ubl.xml").exists());
    assert!(!doc(&lake, "INV-2025-000001", "ubl.xml").exists());
    assert!(!doc(&lake, "INV-2025-000003", "ubl.xml").exists());

    // Without the issuer's VAT id, the taxed invoices have none.
    let lake = dir.path().join("no-vat-id");
    write_usage(&lake, &usage);
    let mut opts = options(
        &lake,
        "2025-10",
        "2025-11-04",
        true,
        &accounts(ACCOUNTS),
        &card(CARD),
    );
    opts.issuer.tax_id = String::new();
    let done = msgmeter::invoicing::invoice(&opts).unwrap();
    assert_eq!(
        done.skipped_documents.len(),
        3,
        "{:?}",
        done.skipped_documents
    );
    assert!(done.skipped_documents[1].starts_with("INV-2025-000002: no e-invoice"));
    assert!(done.skipped_documents[1].contains("BR-S-2"));
}
