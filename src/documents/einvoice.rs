//! E-invoices (EN 16931): a UBL 2.1 invoice in the Peppol BIS Billing 3.0 shape, and the
//! CII XML (UN/CEFACT D16B) that the Factur-X PDF embeds. Both are written from the invoice
//! model with quick-xml; neither computes anything but signs (a credit note states its
//! amounts as positive credits).
//!
//! - Only a final invoice has an e-invoice (a draft has no number, BT-1); a document that
//!   cannot be valid is skipped with a reason: the issuer's country or the buyer's is
//!   unknown (BT-40, BT-55).
//! - Unit code `C62` (one) for messages and conversations, and the fee.
//! - VAT category, from the account (one per invoice, every line alike): `S` (standard)
//!   when its tax rate is above zero; `AE` (reverse charge, 0 %) when the issuer and the
//!   buyer are in two EU countries and both have a VAT id; otherwise `O` (outside the scope
//!   of VAT: no VAT ids are stated then, BR-O-02/-03). An invoice whose lines would mix `O`
//!   with taxed categories is refused.

use std::io::Cursor;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::invoicing::model::{Document, Invoice, Line};
use crate::money::{display_unit_price, Money};

/// EU member states (ISO 3166-1 alpha-2; Greece as `GR`).
const EU: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// An EN 16931 VAT category (UNCL5305).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VatCategory {
    Standard,
    ReverseCharge,
    OutsideScope,
}

impl VatCategory {
    pub fn code(self) -> &'static str {
        match self {
            VatCategory::Standard => "S",
            VatCategory::ReverseCharge => "AE",
            VatCategory::OutsideScope => "O",
        }
    }

    /// The exemption reason code (VATEX) a category other than `S` must state.
    fn exemption(self) -> Option<(&'static str, &'static str)> {
        match self {
            VatCategory::Standard => None,
            VatCategory::ReverseCharge => Some(("VATEX-EU-AE", "Reverse charge")),
            VatCategory::OutsideScope => Some(("VATEX-EU-O", "Not subject to VAT")),
        }
    }
}

/// The account's VAT category for an invoice.
pub fn vat_category(inv: &Invoice) -> VatCategory {
    let (seller, buyer) = (inv.issuer.country.as_str(), inv.customer.country.as_str());
    if inv.tax_pct > Decimal::ZERO {
        VatCategory::Standard
    } else if EU.contains(&seller)
        && EU.contains(&buyer)
        && seller != buyer
        && !inv.issuer.tax_id.is_empty()
        && !inv.customer.vat_id.is_empty()
    {
        VatCategory::ReverseCharge
    } else {
        VatCategory::OutsideScope
    }
}

/// Refuse lines that mix `O` with a taxed category (EN 16931 BR-O-11…14).
pub fn check_categories(categories: &[VatCategory]) -> std::result::Result<(), String> {
    let outside = categories.contains(&VatCategory::OutsideScope);
    let taxed = categories.iter().any(|c| *c != VatCategory::OutsideScope);
    if outside && taxed {
        return Err(
            "an invoice cannot mix lines outside the scope of VAT (category O) with taxed lines"
                .into(),
        );
    }
    Ok(())
}

/// Why an invoice has no e-invoice, or `None` when it can have one.
pub fn unavailable(inv: &Invoice) -> Option<String> {
    if inv.invoice_number.is_none() {
        return Some("a draft has no e-invoice (no number yet)".into());
    }
    if inv.issuer.country.len() != 2 {
        return Some(format!(
            "{}: no e-invoice: the issuer's country is not configured (invoicing.issuer_country, EN 16931 BT-40)",
            inv.invoice_number.as_deref().unwrap_or_default()
        ));
    }
    if inv.customer.country.len() != 2 {
        return Some(format!(
            "{}: no e-invoice: business {} has no country in accounts.csv (EN 16931 BT-55)",
            inv.invoice_number.as_deref().unwrap_or_default(),
            inv.customer.business_id
        ));
    }
    let number = inv.invoice_number.as_deref().unwrap_or_default();
    let category = vat_category(inv);
    if let Err(e) = check_categories(&vec![category; inv.lines.len()]) {
        return Some(format!("{number}: no e-invoice: {e}"));
    }
    let places = inv.currency.exponent();
    if places > 2 {
        return Some(format!(
            "{number}: no e-invoice: amounts in {} have {places} decimals and EN 16931 allows \
             at most 2 (BR-DEC)",
            inv.currency.code()
        ));
    }
    if category != VatCategory::OutsideScope {
        if inv.issuer.tax_id.is_empty() {
            return Some(format!(
                "{number}: no e-invoice: a taxed invoice must state the seller's VAT id, and \
                 none is configured (invoicing.issuer_tax_id; BR-S-2, BR-AE-2)"
            ));
        }
        let unprefixed = [
            ("the issuer's VAT id", inv.issuer.tax_id.as_str()),
            ("the buyer's VAT id", inv.customer.vat_id.as_str()),
        ]
        .into_iter()
        .find(|(_, id)| !id.is_empty() && !has_country_prefix(id));
        if let Some((whose, id)) = unprefixed {
            return Some(format!(
                "{number}: no e-invoice: {whose} {id:?} does not start with its country's \
                 two-letter code (BR-CO-9)"
            ));
        }
    }
    None
}

/// A VAT identifier starts with its country's ISO 3166-1 alpha-2 code (Greece: `EL`).
fn has_country_prefix(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() > 2 && b[0].is_ascii_uppercase() && b[1].is_ascii_uppercase()
}

/// `-1` for a credit note (its amounts are stated as positive credits), else `1`.
fn sign(inv: &Invoice) -> Decimal {
    if matches!(
        inv.document,
        Document::CreditNote | Document::AdjustmentCreditNote
    ) {
        Decimal::NEGATIVE_ONE
    } else {
        Decimal::ONE
    }
}

fn is_credit(inv: &Invoice) -> bool {
    sign(inv).is_sign_negative()
}

fn amount(m: Money, sign: Decimal) -> String {
    Money::round(m.amount() * sign, m.currency()).to_string()
}

fn xml_err(e: impl std::fmt::Display) -> Error {
    Error::Failed {
        what: "writing an e-invoice".into(),
        message: e.to_string(),
    }
}

/// A small XML builder over quick-xml: elements with text, attributes and children.
struct Xml {
    w: Writer<Cursor<Vec<u8>>>,
}

impl Xml {
    fn new() -> Result<Xml> {
        let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .map_err(xml_err)?;
        Ok(Xml { w })
    }

    /// `<name attrs…>text</name>`.
    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> Result<()> {
        self.w
            .create_element(name)
            .with_attributes(attrs.iter().copied())
            .write_text_content(BytesText::new(text))
            .map_err(xml_err)?;
        Ok(())
    }

    /// `<name attrs…>children</name>`.
    fn node(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        children: impl FnOnce(&mut Xml) -> Result<()>,
    ) -> Result<()> {
        let mut start = quick_xml::events::BytesStart::new(name);
        for a in attrs {
            start.push_attribute(*a);
        }
        self.w.write_event(Event::Start(start)).map_err(xml_err)?;
        children(self)?;
        self.w
            .write_event(Event::End(quick_xml::events::BytesEnd::new(name)))
            .map_err(xml_err)?;
        Ok(())
    }

    fn finish(self) -> Vec<u8> {
        let mut bytes = self.w.into_inner().into_inner();
        bytes.push(b'\n');
        bytes
    }
}

fn item_name(l: &Line) -> String {
    l.description.clone()
}

/// The UBL 2.1 invoice (or credit note) of a final invoice, Peppol BIS Billing 3.0 shape.
pub fn ubl(inv: &Invoice) -> Result<Vec<u8>> {
    let credit = is_credit(inv);
    let s = sign(inv);
    let cur = inv.currency.code();
    let category = vat_category(inv);
    let number = inv.invoice_number.clone().unwrap_or_default();
    let root = if credit { "CreditNote" } else { "Invoice" };
    let ns = if credit {
        "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
    } else {
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    };
    let mut x = Xml::new()?;
    x.node(
        root,
        &[
            ("xmlns", ns),
            (
                "xmlns:cac",
                "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
            ),
            (
                "xmlns:cbc",
                "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
            ),
        ],
        |x| {
            // Peppol BIS Billing 3.0 requires both parties' electronic addresses
            // (PEPPOL-EN16931-R010, R020): without them the document claims EN 16931 only.
            let reachable =
                |(address, scheme): (&str, &str)| !address.is_empty() && !scheme.is_empty();
            let peppol = reachable(Party::seller(inv).endpoint)
                && reachable(Party::buyer(inv).endpoint);
            match peppol {
                true => {
                    x.text(
                        "cbc:CustomizationID",
                        &[],
                        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
                    )?;
                    x.text(
                        "cbc:ProfileID",
                        &[],
                        "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
                    )?;
                }
                false => x.text("cbc:CustomizationID", &[], "urn:cen.eu:en16931:2017")?,
            }
            x.text("cbc:ID", &[], &number)?;
            x.text("cbc:IssueDate", &[], &inv.issue_date.to_string())?;
            if !credit {
                x.text("cbc:DueDate", &[], &inv.due_date.to_string())?;
                x.text("cbc:InvoiceTypeCode", &[], "380")?;
            } else {
                x.text("cbc:CreditNoteTypeCode", &[], "381")?;
            }
            x.text(
                "cbc:Note",
                &[],
                &format!(
                    "{}, {}: usage metered from the {} source",
                    inv.title, inv.month, inv.source
                ),
            )?;
            x.text("cbc:DocumentCurrencyCode", &[], cur)?;
            let buyer_ref = if inv.customer.buyer_reference.is_empty() {
                inv.customer.business_id.clone()
            } else {
                inv.customer.buyer_reference.clone()
            };
            x.text("cbc:BuyerReference", &[], &buyer_ref)?;
            x.node("cac:InvoicePeriod", &[], |x| {
                x.text("cbc:StartDate", &[], &inv.period_start.to_string())?;
                x.text("cbc:EndDate", &[], &inv.period_end.to_string())
            })?;
            ubl_party(
                x,
                "cac:AccountingSupplierParty",
                Party::seller(inv),
                category,
            )?;
            ubl_party(
                x,
                "cac:AccountingCustomerParty",
                Party::buyer(inv),
                category,
            )?;
            // No payment means: a credit transfer (code 30) must name the account paid
            // into (BR-61), which msgmeter does not hold; the terms say when.
            x.node("cac:PaymentTerms", &[], |x| {
                x.text(
                    "cbc:Note",
                    &[],
                    &format!(
                        "Payment within {} days, due {}",
                        inv.payment_terms_days, inv.due_date
                    ),
                )
            })?;
            x.node("cac:TaxTotal", &[], |x| {
                x.text("cbc:TaxAmount", &[("currencyID", cur)], &amount(inv.tax, s))?;
                x.node("cac:TaxSubtotal", &[], |x| {
                    x.text(
                        "cbc:TaxableAmount",
                        &[("currencyID", cur)],
                        &amount(inv.subtotal, s),
                    )?;
                    x.text("cbc:TaxAmount", &[("currencyID", cur)], &amount(inv.tax, s))?;
                    ubl_tax_category(x, "cac:TaxCategory", category, inv.tax_pct, true)
                })
            })?;
            x.node("cac:LegalMonetaryTotal", &[], |x| {
                x.text(
                    "cbc:LineExtensionAmount",
                    &[("currencyID", cur)],
                    &amount(inv.subtotal, s),
                )?;
                x.text(
                    "cbc:TaxExclusiveAmount",
                    &[("currencyID", cur)],
                    &amount(inv.subtotal, s),
                )?;
                x.text(
                    "cbc:TaxInclusiveAmount",
                    &[("currencyID", cur)],
                    &amount(inv.total, s),
                )?;
                x.text(
                    "cbc:PayableAmount",
                    &[("currencyID", cur)],
                    &amount(inv.total, s),
                )
            })?;
            ubl_lines(x, inv, credit, category)
        },
    )?;
    Ok(x.finish())
}

/// The UBL invoice's (or credit note's) lines, amounts stated with the document's sign.
fn ubl_lines(x: &mut Xml, inv: &Invoice, credit: bool, category: VatCategory) -> Result<()> {
    let (cur, s) = (inv.currency.code(), sign(inv));
    let (line_tag, qty_tag) = if credit {
        ("cac:CreditNoteLine", "cbc:CreditedQuantity")
    } else {
        ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    };
    for l in &inv.lines {
        x.node(line_tag, &[], |x| {
            x.text("cbc:ID", &[], &l.line_no.to_string())?;
            x.text(
                qty_tag,
                &[("unitCode", "C62")],
                &(Decimal::from(l.quantity) * s).to_string(),
            )?;
            x.text(
                "cbc:LineExtensionAmount",
                &[("currencyID", cur)],
                &amount(l.amount, s),
            )?;
            x.node("cac:Item", &[], |x| {
                x.text("cbc:Name", &[], &item_name(l))?;
                ubl_tax_category(x, "cac:ClassifiedTaxCategory", category, inv.tax_pct, false)
            })?;
            x.node("cac:Price", &[], |x| {
                x.text(
                    "cbc:PriceAmount",
                    &[("currencyID", cur)],
                    &display_unit_price(l.unit_price).to_string(),
                )
            })
        })?;
    }
    Ok(())
}

/// A trade party as both formats state it.
struct Party<'a> {
    /// The seller states an identifier (BT-29) when no VAT id may be stated (category O,
    /// BR-CO-26): its tax id.
    seller_id: Option<&'a str>,
    name: &'a str,
    address: &'a str,
    country: &'a str,
    vat_id: &'a str,
    endpoint: (&'a str, &'a str),
}

impl<'a> Party<'a> {
    fn seller(inv: &'a Invoice) -> Party<'a> {
        Party {
            seller_id: (!inv.issuer.tax_id.is_empty()).then_some(inv.issuer.tax_id.as_str()),
            name: &inv.issuer.name,
            address: &inv.issuer.address,
            country: &inv.issuer.country,
            vat_id: &inv.issuer.tax_id,
            endpoint: (
                &inv.issuer.electronic_address,
                &inv.issuer.electronic_address_scheme,
            ),
        }
    }

    fn buyer(inv: &'a Invoice) -> Party<'a> {
        Party {
            seller_id: None,
            name: &inv.customer.name,
            address: &inv.customer.address,
            country: &inv.customer.country,
            vat_id: &inv.customer.vat_id,
            endpoint: (
                &inv.customer.electronic_address,
                &inv.customer.electronic_address_scheme,
            ),
        }
    }
}

fn ubl_party(x: &mut Xml, tag: &str, p: Party<'_>, category: VatCategory) -> Result<()> {
    x.node(tag, &[], |x| {
        x.node("cac:Party", &[], |x| {
            let (address, scheme) = p.endpoint;
            if !address.is_empty() && !scheme.is_empty() {
                x.text("cbc:EndpointID", &[("schemeID", scheme)], address)?;
            }
            if let (Some(id), VatCategory::OutsideScope) = (p.seller_id, category) {
                x.node("cac:PartyIdentification", &[], |x| {
                    x.text("cbc:ID", &[], id)
                })?;
            }
            x.node("cac:PostalAddress", &[], |x| {
                if !p.address.is_empty() {
                    x.text("cbc:StreetName", &[], p.address)?;
                }
                x.node("cac:Country", &[], |x| {
                    x.text("cbc:IdentificationCode", &[], p.country)
                })
            })?;
            if !p.vat_id.is_empty() && category != VatCategory::OutsideScope {
                x.node("cac:PartyTaxScheme", &[], |x| {
                    x.text("cbc:CompanyID", &[], p.vat_id)?;
                    x.node("cac:TaxScheme", &[], |x| x.text("cbc:ID", &[], "VAT"))
                })?;
            }
            x.node("cac:PartyLegalEntity", &[], |x| {
                x.text("cbc:RegistrationName", &[], p.name)
            })
        })
    })
}

fn ubl_tax_category(
    x: &mut Xml,
    tag: &str,
    category: VatCategory,
    rate: Decimal,
    with_reason: bool,
) -> Result<()> {
    x.node(tag, &[], |x| {
        x.text("cbc:ID", &[], category.code())?;
        if category != VatCategory::OutsideScope {
            let pct = if category == VatCategory::Standard {
                rate
            } else {
                Decimal::ZERO
            };
            x.text("cbc:Percent", &[], &pct.normalize().to_string())?;
        }
        if with_reason {
            if let Some((code, text)) = category.exemption() {
                x.text("cbc:TaxExemptionReasonCode", &[], code)?;
                x.text("cbc:TaxExemptionReason", &[], text)?;
            }
        }
        x.node("cac:TaxScheme", &[], |x| x.text("cbc:ID", &[], "VAT"))
    })
}

fn cii_date(x: &mut Xml, tag: &str, d: chrono::NaiveDate) -> Result<()> {
    x.node(tag, &[], |x| {
        x.text(
            "udt:DateTimeString",
            &[("format", "102")],
            &d.format("%Y%m%d").to_string(),
        )
    })
}

fn cii_party(x: &mut Xml, tag: &str, p: Party<'_>, category: VatCategory) -> Result<()> {
    x.node(tag, &[], |x| {
        if let (Some(id), VatCategory::OutsideScope) = (p.seller_id, category) {
            x.text("ram:ID", &[], id)?;
        }
        x.text("ram:Name", &[], p.name)?;
        x.node("ram:PostalTradeAddress", &[], |x| {
            if !p.address.is_empty() {
                x.text("ram:LineOne", &[], p.address)?;
            }
            x.text("ram:CountryID", &[], p.country)
        })?;
        let (address, scheme) = p.endpoint;
        if !address.is_empty() && !scheme.is_empty() {
            x.node("ram:URIUniversalCommunication", &[], |x| {
                x.text("ram:URIID", &[("schemeID", scheme)], address)
            })?;
        }
        if !p.vat_id.is_empty() && category != VatCategory::OutsideScope {
            x.node("ram:SpecifiedTaxRegistration", &[], |x| {
                x.text("ram:ID", &[("schemeID", "VA")], p.vat_id)
            })?;
        }
        Ok(())
    })
}

fn cii_line_tax(x: &mut Xml, category: VatCategory, rate: Decimal) -> Result<()> {
    x.node("ram:ApplicableTradeTax", &[], |x| {
        x.text("ram:TypeCode", &[], "VAT")?;
        x.text("ram:CategoryCode", &[], category.code())?;
        match category {
            VatCategory::Standard => x.text(
                "ram:RateApplicablePercent",
                &[],
                &rate.normalize().to_string(),
            ),
            VatCategory::ReverseCharge => x.text("ram:RateApplicablePercent", &[], "0"),
            VatCategory::OutsideScope => Ok(()),
        }
    })
}

/// The CII XML (UN/CEFACT D16B, Factur-X EN 16931 profile) of a final invoice: what the
/// Factur-X PDF embeds as `factur-x.xml`.
pub fn cii(inv: &Invoice) -> Result<Vec<u8>> {
    let s = sign(inv);
    let cur = inv.currency.code();
    let category = vat_category(inv);
    let number = inv.invoice_number.clone().unwrap_or_default();
    let mut x = Xml::new()?;
    x.node(
        "rsm:CrossIndustryInvoice",
        &[
            ("xmlns:rsm", "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"),
            ("xmlns:qdt", "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"),
            (
                "xmlns:ram",
                "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
            ),
            ("xmlns:udt", "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"),
        ],
        |x| {
            x.node("rsm:ExchangedDocumentContext", &[], |x| {
                x.node("ram:GuidelineSpecifiedDocumentContextParameter", &[], |x| {
                    x.text("ram:ID", &[], "urn:cen.eu:en16931:2017")
                })
            })?;
            x.node("rsm:ExchangedDocument", &[], |x| {
                x.text("ram:ID", &[], &number)?;
                x.text("ram:TypeCode", &[], if is_credit(inv) { "381" } else { "380" })?;
                cii_date(x, "ram:IssueDateTime", inv.issue_date)?;
                x.node("ram:IncludedNote", &[], |x| {
                    x.text(
                        "ram:Content",
                        &[],
                        &format!("{}, {}: usage metered from the {} source", inv.title, inv.month, inv.source),
                    )
                })
            })?;
            x.node("rsm:SupplyChainTradeTransaction", &[], |x| {
                for l in &inv.lines {
                    x.node("ram:IncludedSupplyChainTradeLineItem", &[], |x| {
                        x.node("ram:AssociatedDocumentLineDocument", &[], |x| {
                            x.text("ram:LineID", &[], &l.line_no.to_string())
                        })?;
                        x.node("ram:SpecifiedTradeProduct", &[], |x| {
                            x.text("ram:Name", &[], &item_name(l))
                        })?;
                        x.node("ram:SpecifiedLineTradeAgreement", &[], |x| {
                            x.node("ram:NetPriceProductTradePrice", &[], |x| {
                                x.text("ram:ChargeAmount", &[], &display_unit_price(l.unit_price).to_string())
                            })
                        })?;
                        x.node("ram:SpecifiedLineTradeDelivery", &[], |x| {
                            x.text(
                                "ram:BilledQuantity",
                                &[("unitCode", "C62")],
                                &(Decimal::from(l.quantity) * s).to_string(),
                            )
                        })?;
                        x.node("ram:SpecifiedLineTradeSettlement", &[], |x| {
                            cii_line_tax(x, category, inv.tax_pct)?;
                            x.node("ram:SpecifiedTradeSettlementLineMonetarySummation", &[], |x| {
                                x.text("ram:LineTotalAmount", &[], &amount(l.amount, s))
                            })
                        })
                    })?;
                }
                x.node("ram:ApplicableHeaderTradeAgreement", &[], |x| {
                    let buyer_ref = if inv.customer.buyer_reference.is_empty() {
                        inv.customer.business_id.clone()
                    } else {
                        inv.customer.buyer_reference.clone()
                    };
                    x.text("ram:BuyerReference", &[], &buyer_ref)?;
                    cii_party(x, "ram:SellerTradeParty", Party::seller(inv), category)?;
                    cii_party(x, "ram:BuyerTradeParty", Party::buyer(inv), category)
                })?;
                x.node("ram:ApplicableHeaderTradeDelivery", &[], |_| Ok(()))?;
                x.node("ram:ApplicableHeaderTradeSettlement", &[], |x| {
                    x.text("ram:InvoiceCurrencyCode", &[], cur)?;
                    x.node("ram:ApplicableTradeTax", &[], |x| {
                        x.text("ram:CalculatedAmount", &[], &amount(inv.tax, s))?;
                        x.text("ram:TypeCode", &[], "VAT")?;
                        if let Some((_, reason)) = category.exemption() {
                            x.text("ram:ExemptionReason", &[], reason)?;
                        }
                        x.text("ram:BasisAmount", &[], &amount(inv.subtotal, s))?;
                        x.text("ram:CategoryCode", &[], category.code())?;
                        if let Some((code, _)) = category.exemption() {
                            x.text("ram:ExemptionReasonCode", &[], code)?;
                        }
                        match category {
                            VatCategory::Standard => {
                                x.text("ram:RateApplicablePercent", &[], &inv.tax_pct.normalize().to_string())
                            }
                            VatCategory::ReverseCharge => x.text("ram:RateApplicablePercent", &[], "0"),
                            VatCategory::OutsideScope => Ok(()),
                        }
                    })?;
                    x.node("ram:BillingSpecifiedPeriod", &[], |x| {
                        cii_date(x, "ram:StartDateTime", inv.period_start)?;
                        cii_date(x, "ram:EndDateTime", inv.period_end)
                    })?;
                    x.node("ram:SpecifiedTradePaymentTerms", &[], |x| {
                        x.text(
                            "ram:Description",
                            &[],
                            &format!("Payment within {} days", inv.payment_terms_days),
                        )?;
                        cii_date(x, "ram:DueDateDateTime", inv.due_date)
                    })?;
                    x.node("ram:SpecifiedTradeSettlementHeaderMonetarySummation", &[], |x| {
                        x.text("ram:LineTotalAmount", &[], &amount(inv.subtotal, s))?;
                        x.text("ram:TaxBasisTotalAmount", &[], &amount(inv.subtotal, s))?;
                        x.text("ram:TaxTotalAmount", &[("currencyID", cur)], &amount(inv.tax, s))?;
                        x.text("ram:GrandTotalAmount", &[], &amount(inv.total, s))?;
                        x.text("ram:DuePayableAmount", &[], &amount(inv.total, s))
                    })
                })
            })
        },
    )?;
    Ok(x.finish())
}
