//! Invoices (billing.md §4, §6–§8, §10): a billing month's usage in the billed source, the
//! rate card and the accounts become one invoice per business with charged units, a fee or
//! an adjustment — drafts recomputed by every run until the month is finalized, then
//! numbered and never changed again.
//!
//! - `lines.rs` prices usage (tiers, mid-month rates, free units, missing rates);
//! - `adjust.rs` turns late events of finalized months into adjustment lines;
//! - `model.rs` is the invoice, `register.rs` its tables, `documents.rs` its JSON and CSV.
//!
//! A run reads the lake and stages everything it writes (both tables of the month, the
//! documents, the removal of stale drafts) through the [`Run`]: readers see the month's old
//! state or its new one, never half of it.

pub mod adjust;
pub mod explain;
pub mod lines;
pub mod model;
pub mod register;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Days, NaiveDate, Utc};
use rayon::prelude::*;
use rust_decimal::Decimal;

use self::adjust::Adjustment;
use self::lines::{price_usage, MissingRate, PricedLine};
use self::model::{Customer, Document, Invoice, Issuer, Line, LineKey, LineKind, Status, VatRow};
use crate::accounts::{Account, Accounts};
use crate::error::{Error, Result};
use crate::lake::billed::{billed_usage, BilledSources};
use crate::lake::manifest::RunManifest;
use crate::lake::publication::write_staged;
use crate::lake::run::{Completed, LakeStatus, Run};
use crate::lake::{write_table_file, Lake};
use crate::money::{tax_on, Currency, Money, ROUNDING_RULE};
use crate::pricing::rates::RateCard;
use crate::schema::{INVOICES, INVOICE_LINES};
use crate::time::BillingMonth;

/// What turns an invoice into files (the documents stage, `crate::documents`): the run
/// stages them beside the month's tables. Billing knows only this trait.
pub trait Renderer: Sync + Send {
    /// One invoice's files (name, bytes), and the documents it skipped with why.
    fn invoice_files(&self, invoice: &Invoice) -> Result<Rendered>;
    /// The month's own files (name, bytes), e.g. the ERP CSV.
    fn month_files(
        &self,
        month: BillingMonth,
        invoices: &[Invoice],
    ) -> Result<Vec<(String, Vec<u8>)>>;
}

/// One invoice's rendered files.
#[derive(Debug, Default)]
pub struct Rendered {
    pub files: Vec<(String, Vec<u8>)>,
    /// Documents not written for this invoice, each with its reason.
    pub skipped: Vec<String>,
}

pub struct InvoiceOptions {
    pub lake: PathBuf,
    pub month: BillingMonth,
    /// The date the run is computed as of: a draft's issue date, a final invoice's issue
    /// (finalization) date.
    pub as_of: NaiveDate,
    pub finalize: bool,
    /// Preview one business's draft: computed and returned, nothing written.
    pub business: Option<String>,
    pub accounts: Accounts,
    pub rates: RateCard,
    pub issuer: Issuer,
    pub now: DateTime<Utc>,
    pub config_hashes: BTreeMap<String, String>,
    /// Renders each invoice's documents.
    pub renderer: std::sync::Arc<dyn Renderer>,
}

/// What became of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthState {
    /// Drafts written (or previewed).
    Drafted,
    /// Finalized by this run.
    Finalized,
    /// Final before this run: nothing changed.
    AlreadyFinal,
    /// `--finalize` asked, but some invoice could not be priced: drafts written, nothing
    /// final.
    FinalizationRefused,
}

/// A business whose invoice could not be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingFailure {
    pub business_id: String,
    /// The month whose usage lacked a rate (the invoiced month, or a final month being
    /// recomputed for its adjustments).
    pub month: BillingMonth,
    pub missing: Vec<MissingRate>,
    /// Anything else that keeps the invoice from being priced.
    pub problem: Option<String>,
}

impl std::fmt::Display for PricingFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "business {}: the invoice cannot be priced (usage of {}):",
            self.business_id, self.month
        )?;
        for m in &self.missing {
            write!(f, "\n  {m}")?;
        }
        if let Some(p) = &self.problem {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

pub struct InvoiceOutcome {
    pub manifest: RunManifest,
    pub month: BillingMonth,
    pub state: MonthState,
    /// The month's invoices as this run computed them (empty when the month was already
    /// final: its register is unchanged).
    pub invoices: Vec<Invoice>,
    pub failures: Vec<PricingFailure>,
    /// Final months recomputed for late events.
    pub corrected_months: Vec<BillingMonth>,
    /// Where the month's documents are.
    pub documents: PathBuf,
    /// Documents not written, with why (e.g. an e-invoice an account cannot have).
    pub skipped_documents: Vec<String>,
}

impl InvoiceOutcome {
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Draft, finalize or preview the invoices of `opts.month`.
pub fn invoice(opts: &InvoiceOptions) -> Result<InvoiceOutcome> {
    let lake = Lake::new(&opts.lake);
    if !lake.root.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such lake; ingest and build first",
            lake.root.display()
        )));
    }
    if opts.finalize && opts.as_of <= opts.month.last_day() {
        return Err(Error::Usage(format!(
            "cannot finalize {} as of {}: the month has not ended (use --date after {})",
            opts.month,
            opts.as_of,
            opts.month.last_day()
        )));
    }
    if opts.finalize && opts.business.is_some() {
        return Err(Error::Usage(
            "--finalize freezes the whole month (every business or none): drop --business".into(),
        ));
    }
    let documents = lake
        .table_dir(&INVOICES)
        .join(format!("month={}", opts.month));
    if opts.business.is_some() {
        // A preview reads the lake and writes nothing: no run, no lock.
        let (invoices, failures, corrected_months) = compute(&lake, opts)?;
        return Ok(InvoiceOutcome {
            manifest: RunManifest::default(),
            month: opts.month,
            state: MonthState::Drafted,
            invoices,
            failures,
            corrected_months,
            documents,
            skipped_documents: Vec::new(),
        });
    }
    let mut config = opts.config_hashes.clone();
    config.insert("month".into(), opts.month.to_string());
    config.insert("as_of".into(), opts.as_of.to_string());
    config.insert("finalize".into(), opts.finalize.to_string());
    let digest = crate::lake::manifest::config_digest("", &config);
    let record = |outcome: &str, problems: Vec<String>| {
        RunManifest::record("invoice", opts.now, &config, outcome, problems)
    };
    let run = Run::start(
        &lake,
        "invoice",
        &digest,
        record(
            "interrupted",
            vec!["interrupted: nothing of it was published".into()],
        ),
    )?;
    let result = (|| -> Result<InvoiceOutcome> {
        if is_final(&lake, opts.month)? {
            // (The watermark lists it again below: a run killed between its commit and
            // the watermark's move is repaired by the next.)
            return Ok(InvoiceOutcome {
                manifest: RunManifest::default(),
                month: opts.month,
                state: MonthState::AlreadyFinal,
                invoices: Vec::new(),
                failures: Vec::new(),
                corrected_months: Vec::new(),
                documents: documents.clone(),
                skipped_documents: Vec::new(),
            });
        }
        let (mut invoices, failures, corrected_months) = compute(&lake, opts)?;
        let state = match (opts.finalize, failures.is_empty()) {
            (true, true) => {
                number(&lake, opts, &mut invoices)?;
                MonthState::Finalized
            }
            (true, false) => MonthState::FinalizationRefused,
            (false, _) => MonthState::Drafted,
        };
        let skipped_documents = publish(&run, opts.month, &invoices, &*opts.renderer)?;
        Ok(InvoiceOutcome {
            skipped_documents,
            manifest: RunManifest::default(),
            month: opts.month,
            state,
            invoices,
            failures,
            corrected_months,
            documents: documents.clone(),
        })
    })();
    match result {
        Ok(mut outcome) => {
            let mut problems: Vec<String> =
                outcome.failures.iter().map(|f| f.to_string()).collect();
            problems.extend(outcome.skipped_documents.iter().cloned());
            if outcome.state == MonthState::FinalizationRefused {
                problems.push(format!(
                    "{} was not finalized: {} invoice(s) could not be priced",
                    opts.month,
                    outcome.failures.len()
                ));
            }
            let mut partitions_written = BTreeMap::new();
            if outcome.state != MonthState::AlreadyFinal {
                for t in [&INVOICES, &INVOICE_LINES] {
                    partitions_written.insert(t.name.to_string(), vec![opts.month.to_string()]);
                }
            }
            let outcome_label = if outcome.succeeded() {
                "ok"
            } else {
                "incomplete"
            };
            outcome.manifest = RunManifest {
                run_id: run.id().to_string(),
                partitions_written,
                stages: stage_sections(&outcome),
                ..record(outcome_label, problems)
            };
            let final_months = match outcome.state {
                MonthState::Finalized | MonthState::AlreadyFinal => vec![opts.month.to_string()],
                _ => Vec::new(),
            };
            run.finish(
                &outcome.manifest,
                Completed {
                    final_months,
                    ..Completed::default()
                },
            )?;
            Ok(outcome)
        }
        Err(e) => {
            run.abandon(&record("failed", vec![e.to_string()]))?;
            Err(e)
        }
    }
}

/// The manifest's sections: invoicing (invoices, notes, lines, failures, final months
/// recomputed) and documents (those skipped).
fn stage_sections(
    outcome: &InvoiceOutcome,
) -> BTreeMap<String, crate::lake::manifest::StageSection> {
    let count = |which: &dyn Fn(&Invoice) -> bool| {
        outcome.invoices.iter().filter(|i| which(i)).count() as i64
    };
    let invoicing = crate::lake::manifest::StageSection {
        months: vec![outcome.month.to_string()],
        counts: BTreeMap::from([
            ("invoices".to_string(), outcome.invoices.len() as i64),
            (
                "credit_or_adjustment_notes".to_string(),
                count(&|i| i.document != Document::Invoice),
            ),
            (
                "unregistered_accounts".to_string(),
                count(&|i| !i.customer.account_registered),
            ),
            (
                "lines".to_string(),
                outcome.invoices.iter().map(|i| i.lines.len() as i64).sum(),
            ),
            (
                "pricing_failures".to_string(),
                outcome.failures.len() as i64,
            ),
            (
                "final_months_recomputed".to_string(),
                outcome.corrected_months.len() as i64,
            ),
        ]),
        ..Default::default()
    };
    let documents = crate::lake::manifest::StageSection {
        months: vec![outcome.month.to_string()],
        counts: BTreeMap::from([(
            "skipped".to_string(),
            outcome.skipped_documents.len() as i64,
        )]),
        ..Default::default()
    };
    BTreeMap::from([
        ("invoicing".to_string(), invoicing),
        ("documents".to_string(), documents),
    ])
}

/// A month is final when its register says so or the watermark lists it (a month finalized
/// with no invoice at all has an empty register).
pub fn is_final(lake: &Lake, month: BillingMonth) -> Result<bool> {
    if LakeStatus::read(lake)?
        .final_months
        .contains(&month.to_string())
    {
        return Ok(true);
    }
    register::is_final(lake, month)
}

/// The month's invoices (drafts, in business-id order), the businesses that could not be
/// priced, and the final months recomputed for adjustments.
fn compute(
    lake: &Lake,
    opts: &InvoiceOptions,
) -> Result<(Vec<Invoice>, Vec<PricingFailure>, Vec<BillingMonth>)> {
    let month = opts.month;
    let label = month.to_string();
    tracing::debug!(rss_mib = crate::timing::rss_mib(), "invoice: start");
    let billed = BilledSources::read(lake)?;
    tracing::debug!(
        rss_mib = crate::timing::rss_mib(),
        "invoice: billed sources"
    );
    let usage = usage::by_business(billed_usage(lake, month)?, &format!("month {month}"))?;
    // The query's working memory (scans of a month of partitions) is freed: give it back
    // before the invoices are built.
    crate::memory::release_freed_memory();
    tracing::debug!(
        rss_mib = crate::timing::rss_mib(),
        businesses = usage.len(),
        "invoice: usage read"
    );
    let mut final_months: BTreeSet<BillingMonth> = BTreeSet::new();
    for m in lake.partition_months(&INVOICES)? {
        if register::is_final(lake, m)? {
            final_months.insert(m);
        }
    }
    for m in LakeStatus::read(lake)?.final_months {
        if let Ok(m) = m.parse() {
            final_months.insert(m);
        }
    }
    // The registers the adjustments compare with: the final months just before this one,
    // from the oldest whose usage changed since it was finalized (later ones may hold its
    // corrections); none when nothing changed.
    let mut registers = BTreeMap::new();
    let mut touched = false;
    for m in adjust::corrected_months(month, |m| final_months.contains(&m)) {
        touched = touched || adjust::touched_since_final(lake, m)?;
        if touched {
            if let Some(r) = register::read(lake, m)? {
                registers.insert(m, r);
            }
        }
    }
    let adjustments = adjust::for_month(
        lake,
        month,
        &registers,
        &final_months,
        &opts.accounts,
        &opts.rates,
        &billed,
    )?;
    tracing::debug!(rss_mib = crate::timing::rss_mib(), "invoice: adjustments");
    // Who gets an invoice: charged units, a fee or an adjustment (billing.md §8).
    let mut businesses: BTreeSet<String> = usage
        .iter()
        .filter(|(_, rows)| rows.iter().any(|(_, r)| r.is_charged() && r.units > 0))
        .map(|(b, _)| b.clone())
        .collect();
    businesses.extend(
        opts.accounts
            .iter()
            .filter(|a| charges_fee(a, month))
            .map(|a| a.business_id.clone()),
    );
    businesses.extend(adjustments.by_business.keys().cloned());
    if let Some(only) = &opts.business {
        businesses.retain(|b| b == only);
    }
    let results: Vec<Result<Invoice, PricingFailure>> = businesses
        .par_iter()
        .map(|business| {
            let account = opts.accounts.get(business);
            let rows = usage
                .get(business)
                .map(|rows| rows.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>())
                .unwrap_or_default();
            let source = usage
                .get(business)
                .and_then(|rows| rows.first())
                .map(|(s, _)| s.to_string())
                .unwrap_or_else(|| billed.of(business, &label).to_string());
            let currency = account_currency(&account);
            let usage_lines = price_usage(&rows, currency, account.markup_pct, &opts.rates)
                .map_err(|missing| PricingFailure {
                    business_id: business.clone(),
                    month,
                    missing,
                    problem: None,
                })?;
            let adjusted = adjustments
                .by_business
                .get(business)
                .cloned()
                .unwrap_or_default();
            Ok(assemble(
                month,
                &account,
                &opts.issuer,
                source,
                usage_lines,
                adjusted,
                opts.as_of,
            ))
        })
        .collect();
    tracing::debug!(rss_mib = crate::timing::rss_mib(), "invoice: priced");
    let mut invoices = Vec::new();
    let mut failures: BTreeMap<String, PricingFailure> = BTreeMap::new();
    for r in results {
        match r {
            Ok(i) => invoices.push(i),
            Err(f) => {
                failures.insert(f.business_id.clone(), f);
            }
        }
    }
    for (business, failure) in adjustments.failures {
        if opts.business.as_ref().is_some_and(|b| *b != business) {
            continue;
        }
        // The recompute of a final month failed: this business's adjustments are unknown,
        // so its invoice of this month is not written either.
        invoices.retain(|i| i.customer.business_id != business);
        failures.entry(business.clone()).or_insert(failure);
    }
    Ok((
        invoices,
        failures.into_values().collect(),
        adjustments.months,
    ))
}

fn account_currency(account: &Account) -> Currency {
    Currency::of(&account.currency).expect("account currencies are checked when accounts load")
}

/// The monthly fee is due for a month in which the account is active on at least one day
/// (no proration), when it is above zero (billing.md §10).
pub fn charges_fee(account: &Account, month: BillingMonth) -> bool {
    account.monthly_fee > Decimal::ZERO && is_active(account, month)
}

pub fn is_active(account: &Account, month: BillingMonth) -> bool {
    account
        .active_from
        .is_none_or(|from| from <= month.last_day())
        && account.active_to.is_none_or(|to| to >= month.first_day())
}

/// An account is closed for `month` when its last active day is before the month.
fn is_closed(account: &Account, month: BillingMonth) -> bool {
    account.active_to.is_some_and(|to| to < month.first_day())
}

fn describe(key: &LineKey) -> String {
    let mut s = format!(
        "{} {} ({}), {}",
        key.market,
        key.category,
        key.pricing_model.as_str(),
        key.pricing_type.replace('_', " ")
    );
    if let Some(t) = key.tier_from {
        if t > 1 {
            s.push_str(&format!(", from unit {t}"));
        }
    }
    s
}

/// One invoice from its priced lines: usage (in key order), the fee, adjustments (by the
/// month they correct, then key); subtotal, tax and total by the rounding rule.
pub fn assemble(
    month: BillingMonth,
    account: &Account,
    issuer: &Issuer,
    source: String,
    usage: Vec<PricedLine>,
    adjustments: Vec<Adjustment>,
    as_of: NaiveDate,
) -> Invoice {
    let currency = account_currency(account);
    let charged_or_fee = usage
        .iter()
        .any(|l| l.key.tier_from.is_some() && l.quantity > 0)
        || charges_fee(account, month);
    // A closed account with nothing else to invoice gets a standalone adjustment note.
    let adjustment_note = !charged_or_fee && !adjustments.is_empty() && is_closed(account, month);
    let mut lines: Vec<Line> = Vec::new();
    if !adjustment_note {
        for l in usage {
            lines.push(Line {
                line_no: 0,
                kind: LineKind::Usage,
                description: describe(&l.key),
                quantity: l.quantity,
                rate: l.rate,
                unit_price: l.key.unit_price,
                amount: l.amount,
                corrects_month: None,
                key: Some(l.key),
            });
        }
        if charges_fee(account, month) {
            lines.push(Line {
                line_no: 0,
                kind: LineKind::Fee,
                key: None,
                description: format!("Monthly fee, {month}"),
                quantity: 1,
                rate: None,
                unit_price: account.monthly_fee,
                amount: Money::round(account.monthly_fee, currency),
                corrects_month: None,
            });
        }
    }
    let mut adjustments = adjustments;
    adjustments.sort_by(|a, b| (a.corrects, &a.key).cmp(&(b.corrects, &b.key)));
    for a in adjustments {
        lines.push(Line {
            line_no: 0,
            kind: LineKind::Adjustment,
            description: format!("Correction of {}: {}", a.corrects, describe(&a.key)),
            quantity: a.quantity,
            rate: a.rate,
            unit_price: a.key.unit_price,
            amount: a.amount,
            corrects_month: Some(a.corrects),
            key: Some(a.key),
        });
    }
    for (i, l) in lines.iter_mut().enumerate() {
        l.line_no = i as u32 + 1;
    }
    let subtotal = Money::sum(currency, lines.iter().map(|l| l.amount));
    let tax = tax_on(subtotal, account.tax_pct);
    let total = subtotal + tax;
    let document = match (adjustment_note, total.is_negative()) {
        (false, false) => Document::Invoice,
        (false, true) => Document::CreditNote,
        (true, false) => Document::AdjustmentNote,
        (true, true) => Document::AdjustmentCreditNote,
    };
    Invoice {
        invoice_number: None,
        status: Status::Draft,
        document,
        title: document.title(),
        month,
        issuer: issuer.clone(),
        customer: Customer {
            business_id: account.business_id.clone(),
            name: account.name.clone(),
            address: account.address.clone(),
            vat_id: account.vat_id.clone(),
            country: account.country.clone(),
            billing_email: account.billing_email.clone(),
            buyer_reference: account.buyer_reference.clone(),
            electronic_address: account.electronic_address.clone(),
            electronic_address_scheme: account.electronic_address_scheme.clone(),
            account_registered: !account.is_default,
        },
        currency,
        source,
        period_start: month.first_day(),
        period_end: month.last_day(),
        issue_date: as_of,
        due_date: as_of
            .checked_add_days(Days::new(account.payment_terms_days as u64))
            .unwrap_or(as_of),
        payment_terms_days: account.payment_terms_days,
        lines,
        subtotal,
        tax_pct: account.tax_pct,
        markup_pct: account.markup_pct,
        tax,
        total,
        vat_breakdown: vec![VatRow {
            rate_pct: account.tax_pct,
            taxable: subtotal,
            tax,
        }],
        rounding_rule: ROUNDING_RULE,
        msgmeter_version: env!("CARGO_PKG_VERSION"),
    }
}

/// `<PREFIX>-<YYYY>-<NNNNNN>` (YYYY: the billing month's year) and, for adjustment notes,
/// `<PREFIX>-ADJ-<YYYY>-<NNNNNN>` (YYYY: the year of issue): gapless sequences per series
/// and year, continuing from the highest number the register holds, in business-id order.
fn number(lake: &Lake, opts: &InvoiceOptions, invoices: &mut [Invoice]) -> Result<()> {
    let prefix = &opts.issuer.number_prefix;
    let mut last = taken_numbers(lake, prefix)?;
    invoices.sort_by(|a, b| a.customer.business_id.cmp(&b.customer.business_id));
    for inv in invoices.iter_mut() {
        let (series, year) = if inv.document.is_adjustment_note() {
            ("ADJ-", chrono::Datelike::year(&opts.as_of))
        } else {
            ("", opts.month.year())
        };
        let n = last.entry((series.to_string(), year)).or_insert(0);
        *n += 1;
        inv.invoice_number = Some(format!("{prefix}-{series}{year}-{:06}", *n));
        inv.status = Status::Final;
    }
    Ok(())
}

/// The highest number taken per (series, year) over every month's register.
fn taken_numbers(lake: &Lake, prefix: &str) -> Result<BTreeMap<(String, i32), u32>> {
    let mut last: BTreeMap<(String, i32), u32> = BTreeMap::new();
    for m in lake.partition_months(&INVOICES)? {
        for number in register::numbers(lake, m)?.iter() {
            let Some(rest) = number
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('-'))
            else {
                continue;
            };
            let (series, rest) = match rest.strip_prefix("ADJ-") {
                Some(r) => ("ADJ-", r),
                None => ("", rest),
            };
            if let Some((year, seq)) = rest.split_once('-') {
                if let (Ok(year), Ok(seq)) = (year.parse::<i32>(), seq.parse::<u32>()) {
                    let n = last.entry((series.to_string(), year)).or_insert(0);
                    *n = (*n).max(seq);
                }
            }
        }
    }
    Ok(last)
}

/// Stage the month's tables and documents; drafts no longer computed are removed when the
/// run commits. Returns the documents the renderer skipped, with why.
fn publish(
    run: &Run,
    month: BillingMonth,
    invoices: &[Invoice],
    renderer: &dyn Renderer,
) -> Result<Vec<String>> {
    let stage = run.stage();
    let label = month.to_string();
    let (mut headers, mut lines) = register::frames(invoices)?;
    tracing::debug!(
        rss_mib = crate::timing::rss_mib(),
        "invoice: register frames"
    );
    write_table_file(&stage.month_partition_file(&INVOICES, &label), &mut headers)?;
    write_table_file(
        &stage.month_partition_file(&INVOICE_LINES, &label),
        &mut lines,
    )?;
    let dir = stage.table_dir(&INVOICES).join(format!("month={label}"));
    std::fs::create_dir_all(&dir).map_err(crate::error::write_err(&dir))?;
    // Each invoice's documents, rendered in parallel in chunks (a few MiB held at once) and
    // written unsynced into the stage (the commit flushes the stage once: an fsync per
    // file was most of the run's time).
    let mut written = BTreeSet::new();
    let mut skipped = Vec::new();
    for chunk in invoices.chunks(1024) {
        let rendered: Vec<Rendered> = chunk
            .par_iter()
            .map(|inv| renderer.invoice_files(inv))
            .collect::<Result<_>>()?;
        for r in rendered {
            for (name, bytes) in r.files {
                write_staged(&dir.join(&name), &bytes)?;
                written.insert(name);
            }
            skipped.extend(r.skipped);
        }
    }
    for (name, bytes) in renderer.month_files(month, invoices)? {
        write_staged(&dir.join(&name), &bytes)?;
    }
    tracing::debug!(rss_mib = crate::timing::rss_mib(), "invoice: documents");
    // Drafts of the month that this run did not write again.
    let live = run
        .lake()
        .table_dir(&INVOICES)
        .join(format!("month={label}"));
    if let Ok(entries) = std::fs::read_dir(&live) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("draft-") && !written.contains(&name) {
                run.remove_on_commit(format!("{}/month={label}/{name}", INVOICES.name));
            }
        }
    }
    Ok(skipped)
}
