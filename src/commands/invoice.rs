//! `msgmeter invoice`: a billing month's invoices — drafts, or finalized and numbered; see
//! `crate::invoicing`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::{to_stdout, Context, LakeArg, Outcome};
use crate::error::Result;
use crate::invoicing::model::{Invoice, Issuer};
use crate::invoicing::{self, InvoiceOptions, MonthState};
use crate::money::Money;
use crate::settings::{Settings, DEFAULT_ISSUER_NAME};
use crate::time::BillingMonth;

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  msgmeter invoice --lake lake --month 2025-10 --date 2025-10-20\n  msgmeter invoice --lake lake --month 2025-10 --finalize --date 2025-11-04\n  msgmeter invoice --lake lake --month 2025-10 --business 102000000000001\n\nWrites the invoices and invoice_lines tables (month= partitions), one JSON per invoice and\nthe month's ERP CSV under LAKE/invoices/month=YYYY-MM/. Drafts are recomputed by every run;\n--finalize numbers them (PREFIX-YYYY-NNNNNN) and freezes the month, only if every invoice\ncould be priced. Late events of a finalized month become adjustment lines on the next open\nmonth's invoices. Exit status 1 when an invoice could not be priced (a rate is missing)."
)]
pub struct InvoiceArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    /// The billing month, YYYY-MM
    #[arg(long, value_parser = parse_month)]
    pub month: BillingMonth,
    /// Finalize the month: number every invoice and never change them again (the month
    /// must have ended by --date, and every invoice must be priced)
    #[arg(long)]
    pub finalize: bool,
    /// The date the run is computed as of: the issue date [default: today, UTC]
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Documents to write beside the JSON and the ERP CSV (`none` for only those)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "html,pdf,einvoice"
    )]
    pub documents: Vec<crate::documents::Kind>,
    /// Preview one business's draft on stdout; nothing is written
    #[arg(long, value_name = "ID")]
    pub business: Option<String>,
    /// The instant recorded in the run manifest (RFC 3339) [default: now]
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
}

fn parse_month(text: &str) -> std::result::Result<BillingMonth, String> {
    text.parse()
}

/// Everything `invoice` needs, loaded and fingerprinted from the settings.
pub fn options(
    settings: &Settings,
    lake: PathBuf,
    month: BillingMonth,
    as_of: Option<NaiveDate>,
    finalize: bool,
    business: Option<String>,
    now: Option<DateTime<Utc>>,
) -> Result<InvoiceOptions> {
    let (_, markets_sha) = settings.markets()?;
    let (accounts, accounts_sha) = settings.accounts()?;
    let (rates, rates_sha) = settings.rate_card()?;
    let mut config_hashes = settings.config_hashes(&markets_sha);
    config_hashes.insert("accounts_sha256".into(), accounts_sha);
    config_hashes.insert("rate_card_sha256".into(), rates_sha);
    let inv = &settings.invoicing;
    let now = now.unwrap_or_else(Utc::now);
    Ok(InvoiceOptions {
        lake,
        month,
        as_of: as_of.unwrap_or_else(|| now.date_naive()),
        finalize,
        business,
        accounts,
        rates,
        issuer: Issuer {
            name: inv
                .issuer_name
                .clone()
                .unwrap_or_else(|| DEFAULT_ISSUER_NAME.into()),
            address: inv.issuer_address.clone().unwrap_or_default(),
            tax_id: inv.issuer_tax_id.clone().unwrap_or_default(),
            number_prefix: inv.number_prefix.clone().unwrap_or_default(),
            country: inv.issuer_country.clone().unwrap_or_default(),
            electronic_address: inv.issuer_electronic_address.clone().unwrap_or_default(),
            electronic_address_scheme: inv.issuer_electronic_scheme.clone().unwrap_or_default(),
        },
        now,
        config_hashes,
        renderer: std::sync::Arc::new(crate::documents::Documents::default()),
    })
}

pub fn run(a: InvoiceArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|line| line.lake = a.lake.lake)?;
    let opts = options(
        &settings,
        settings.lake()?,
        a.month,
        a.date,
        a.finalize,
        a.business.clone(),
        a.now,
    )?;
    let opts = InvoiceOptions {
        renderer: std::sync::Arc::new(crate::documents::Documents::of(&a.documents)),
        ..opts
    };
    let outcome = invoicing::invoice(&opts)?;
    for f in &outcome.failures {
        tracing::error!("{f}");
    }
    let out = &mut *stdout;
    (|| -> std::io::Result<()> {
        if a.business.is_some() {
            for i in &outcome.invoices {
                print_invoice(out, i)?;
            }
            if outcome.invoices.is_empty() && outcome.failures.is_empty() {
                writeln!(
                    out,
                    "{}: nothing to invoice in {} (no charged units, fee or adjustment)",
                    a.business.as_deref().unwrap_or_default(),
                    a.month
                )?;
            }
            return Ok(());
        }
        match outcome.state {
            MonthState::AlreadyFinal => writeln!(
                out,
                "{} is final: its invoices never change (late events become adjustments on the next open month); run {}",
                a.month, outcome.manifest.run_id
            )?,
            state => {
                let verb = match state {
                    MonthState::Finalized => "finalized",
                    MonthState::FinalizationRefused => "NOT finalized (see the errors above); drafted",
                    _ => "drafted",
                };
                writeln!(
                    out,
                    "{} {verb}: {} invoices{}{}",
                    a.month,
                    outcome.invoices.len(),
                    count_phrase(&outcome.invoices, |i| i.document.as_str() != "invoice", "credit or adjustment notes"),
                    count_phrase(&outcome.invoices, |i| !i.customer.account_registered, "invoiced with defaults (not in accounts.csv)"),
                )?;
                for (currency, (n, subtotal, tax, total)) in totals(&outcome.invoices) {
                    writeln!(
                        out,
                        "  {currency}: {n} invoices, subtotal {subtotal}, tax {tax}, total {total}"
                    )?;
                }
                if let (Some(first), Some(last)) = (
                    outcome.invoices.first().and_then(|i| i.invoice_number.as_deref()),
                    outcome.invoices.last().and_then(|i| i.invoice_number.as_deref()),
                ) {
                    writeln!(out, "  numbered {first} … {last}")?;
                }
                if !outcome.corrected_months.is_empty() {
                    let months: Vec<String> =
                        outcome.corrected_months.iter().map(|m| m.to_string()).collect();
                    writeln!(out, "  final months recomputed for late events: {}", months.join(", "))?;
                }
                if !outcome.skipped_documents.is_empty() {
                    writeln!(out, "  {} documents skipped:", outcome.skipped_documents.len())?;
                    for why in outcome.skipped_documents.iter().take(5) {
                        writeln!(out, "    {why}")?;
                    }
                    if outcome.skipped_documents.len() > 5 {
                        writeln!(out, "    … (every reason is in the run manifest)")?;
                    }
                }
                writeln!(
                    out,
                    "documents in {}; run {}",
                    outcome.documents.display(),
                    outcome.manifest.run_id
                )?;
            }
        }
        Ok(())
    })()
    .map_err(to_stdout)?;
    Ok(Outcome::from_success(outcome.succeeded()))
}

fn count_phrase(invoices: &[Invoice], which: impl Fn(&Invoice) -> bool, what: &str) -> String {
    match invoices.iter().filter(|i| which(i)).count() {
        0 => String::new(),
        n => format!(", {n} {what}"),
    }
}

/// Per currency: invoices, Σ subtotal, Σ tax, Σ total.
fn totals(invoices: &[Invoice]) -> BTreeMap<&'static str, (usize, Money, Money, Money)> {
    let mut out: BTreeMap<&'static str, (usize, Money, Money, Money)> = BTreeMap::new();
    for i in invoices {
        let zero = Money::zero(i.currency);
        let e = out
            .entry(i.currency.code())
            .or_insert((0, zero, zero, zero));
        e.0 += 1;
        e.1 = e.1 + i.subtotal;
        e.2 = e.2 + i.tax;
        e.3 = e.3 + i.total;
    }
    out
}

fn print_invoice(out: &mut dyn Write, i: &Invoice) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {} for {} ({}), {} {}, source {}{}",
        i.status.as_str(),
        i.title.to_lowercase(),
        i.customer.name,
        i.customer.business_id,
        i.month,
        i.currency,
        i.source,
        if i.customer.account_registered {
            ""
        } else {
            " — not in accounts.csv: defaults used"
        }
    )?;
    writeln!(
        out,
        "{:>4}  {:<60} {:>10} {:>16} {:>14}",
        "line", "description", "quantity", "unit price", "amount"
    )?;
    for l in &i.lines {
        writeln!(
            out,
            "{:>4}  {:<60} {:>10} {:>16} {:>14}",
            l.line_no,
            l.description,
            l.quantity,
            crate::money::display_unit_price(l.unit_price).to_string(),
            l.amount.to_string()
        )?;
    }
    writeln!(out, "{:>108}", format!("subtotal {}", i.subtotal))?;
    writeln!(
        out,
        "{:>108}",
        format!("tax {}% {}", i.tax_pct.normalize(), i.tax)
    )?;
    writeln!(out, "{:>108}", format!("total {} {}", i.total, i.currency))
}
