//! `msgmeter demo`: the main job on synthetic sample traffic. For now: a month of webhook
//! and event-log traffic → ingest → build (metering, analytics) → October's invoices, drafted
//! then finalized → a summary with the ingest balance, the usage, the invoices and a few
//! queries. Reports extend it next.

use std::io::Write;
use std::path::Path;

use chrono::{NaiveDate, TimeZone, Utc};

use crate::error::{write_err, Result};
use crate::generate::{generate, GenerateOptions, TrafficFormat};
use crate::ingest::{ingest, FormatChoice};
use crate::query;
use crate::settings::Settings;

pub const DEMO_START: (i32, u32, u32) = (2025, 10, 1);
pub const DEMO_DAYS: u32 = 31;
/// Days after a month's end its invoices stay drafts (billing.md §8, `grace_days`).
pub const DEMO_GRACE_DAYS: i64 = 3;

/// The questions the demo asks the lake, as an analyst would.
pub const DEMO_QUERIES: &[(&str, &str)] = &[
    (
        "Events by type",
        "SELECT event_type, count(*) AS events FROM events GROUP BY event_type ORDER BY events DESC, event_type",
    ),
    (
        "Inbound customer messages by market (top 8)",
        "SELECT market, count(*) AS messages, count(DISTINCT customer_key) AS customers \
         FROM events WHERE event_type = 'message_in' GROUP BY market ORDER BY messages DESC, market LIMIT 8",
    ),
    (
        "Delivered statuses by reported pricing category (PMP era)",
        "SELECT reported_category, reported_pricing_type, count(*) AS statuses FROM events \
         WHERE event_type = 'status' AND status = 'delivered' AND reported_pricing_model = 'PMP' \
         GROUP BY 1, 2 ORDER BY statuses DESC, 1, 2",
    ),
    (
        "Billable usage by source and model (the derived source is our rules, reported is Meta's pricing objects)",
        "SELECT source, pricing_model, sum(units) AS units, count(DISTINCT business_id) AS businesses \
         FROM usage_daily WHERE billable GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "What did business 102000000000001 send to Brazil in October, by category (derived)",
        "SELECT category, pricing_type, billable, sum(units) AS messages FROM usage_daily \
         WHERE business_id = '102000000000001' AND market = 'Brazil' AND billing_month = '2025-10' \
         AND source = 'derived' GROUP BY 1, 2, 3 ORDER BY messages DESC, 1, 2, 3",
    ),
    (
        "Where derived and reported billable units differ (top 5)",
        "SELECT * FROM (SELECT business_id, market, category, sum(derived_units) AS derived, \
         sum(reported_units) AS reported, sum(difference) AS difference FROM reconciliation \
         GROUP BY 1, 2, 3) ORDER BY abs(difference) DESC, business_id, market, category LIMIT 5",
    ),
    (
        "Billed source per business and month",
        "SELECT billing_month, source, count(*) AS businesses FROM billing_sources GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "Response times per business over the month (from business_daily)",
        "SELECT business_id, sum(waits) AS waits, sum(waits_answered) AS answered, \
         sum(waits_unanswered) AS unanswered, median(wait_p50_seconds) AS median_daily_p50_s, \
         sum(sla_met) AS sla_met, sum(sla_over) AS sla_over \
         FROM business_daily GROUP BY 1 ORDER BY waits DESC, business_id LIMIT 8",
    ),
    (
        "Reply waits by who answered (reply_waits)",
        "SELECT replied_by, is_first, count(*) AS waits, avg(wait_seconds) AS mean_wait_s \
         FROM reply_waits GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "Cases by kind: opened, reopened, mean full resolution (cases)",
        "SELECT case_kind, count(*) AS cases, sum(CASE WHEN reopen_count > 0 THEN 1 ELSE 0 END) AS reopened, \
         avg(full_resolution_seconds) AS mean_full_resolution_s, avg(rating) AS mean_rating \
         FROM cases GROUP BY 1 ORDER BY 1",
    ),
    (
        "The invoice register, October (invoices)",
        "SELECT invoice_number, business_id, currency, subtotal, tax, total, due_date FROM invoices \
         WHERE month = '2025-10' ORDER BY invoice_number",
    ),
    (
        "Invoiced usage by category across currencies (invoice_lines, count of lines and units)",
        "SELECT category, currency, count(*) AS lines, sum(quantity) AS units, sum(amount) AS amount \
         FROM invoice_lines WHERE kind = 'usage' GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "Cases opened by kind and category (top 8)",
        "SELECT case_kind, case_category, count(*) AS cases FROM events \
         WHERE event_type = 'case_opened' GROUP BY 1, 2 ORDER BY cases DESC, 1, 2 LIMIT 8",
    ),
];

pub fn run(out_dir: &Path, settings: &Settings, stdout: &mut dyn Write) -> Result<bool> {
    let landing = out_dir.join("landing");
    let lake = out_dir.join("lake");
    for d in [&landing, &lake] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(write_err(d))?;
        }
    }
    let start =
        NaiveDate::from_ymd_opt(DEMO_START.0, DEMO_START.1, DEMO_START.2).expect("valid date");
    let mut generated = 0;
    for (format, seed) in [(TrafficFormat::Whatsapp, 7), (TrafficFormat::Events, 8)] {
        let summary = generate(&GenerateOptions {
            out: landing.join(match format {
                TrafficFormat::Whatsapp => "whatsapp",
                TrafficFormat::Events | TrafficFormat::EventsCsv => "events",
            }),
            format,
            businesses: 8,
            customers: 3_000,
            start,
            days: DEMO_DAYS,
            events_per_day: 2_000,
            seed,
            files_per_day: 2,
        })?;
        generated += summary.records;
    }
    let now = Utc.from_utc_datetime(
        &(start + chrono::Duration::days(DEMO_DAYS as i64))
            .and_hms_opt(6, 0, 0)
            .expect("valid"),
    );
    let outcome = ingest(
        &crate::commands::ingest::options(settings, lake.clone(), FormatChoice::Auto, now)?,
        std::slice::from_ref(&landing),
    )?;
    let built = crate::pipeline::build(&crate::commands::build::options(
        settings,
        lake.clone(),
        None,
        None,
        Some(now),
    )?)?;
    let t = &outcome.manifest.totals;
    let w = |e: std::io::Error| write_err("stdout")(e);
    writeln!(
        stdout,
        "msgmeter demo — {} days of synthetic traffic from {start}",
        DEMO_DAYS
    )
    .map_err(w)?;
    writeln!(stdout, "  landing files: {}", landing.display()).map_err(w)?;
    writeln!(stdout, "  lake:          {}", lake.display()).map_err(w)?;
    writeln!(
        stdout,
        "  manifest:      {}",
        lake.join("_runs")
            .join(format!("{}.json", outcome.manifest.run_id))
            .display()
    )
    .map_err(w)?;
    writeln!(
        stdout,
        "\nIngest: {} files, {} records generated",
        t.files, generated
    )
    .map_err(w)?;
    writeln!(
        stdout,
        "  read {} = accepted {} + duplicates {} (conflicting {}) + quarantined {} + skipped {}  [{}]",
        t.read,
        t.accepted,
        t.duplicates,
        t.conflicting_duplicates,
        t.quarantined,
        t.skipped,
        if t.read == t.accepted + t.duplicates + t.quarantined + t.skipped { "balances" } else { "DOES NOT BALANCE" }
    )
    .map_err(w)?;
    let b = &built.summary;
    writeln!(
        stdout,
        "\nBuild: {} dates; {} outbound messages ({} delivered), {} conversations, {} usage rows; \
         billable units derived {} / reported {}; {} reconciliation rows",
        built.dates.len(),
        b.messages,
        b.delivered,
        b.conversations,
        b.usage_rows,
        b.derived_billable_units,
        b.reported_billable_units,
        b.reconciliation_rows
    )
    .map_err(w)?;
    writeln!(stdout, "  {}", built.analytics).map_err(w)?;
    let invoiced = invoice_month(settings, &lake, now, stdout)?;
    for (title, sql) in DEMO_QUERIES {
        writeln!(
            stdout,
            "\n{title}\n  msgmeter query --lake {} \"{sql}\"",
            lake.display()
        )
        .map_err(w)?;
        let mut df = query::run(&lake, sql)?;
        query::write_result(
            &mut df,
            query::OutputFormat::Table,
            stdout,
            Path::new("stdout"),
        )?;
    }
    Ok(!outcome.too_much_quarantined && invoiced)
}

/// The issuer the demo's invoices name when none is configured.
fn demo_issuer(prefix: &str) -> crate::invoicing::model::Issuer {
    crate::invoicing::model::Issuer {
        name: "msgmeter demo issuer (configure [invoicing])".into(),
        address: "1 Demo Street, Dublin".into(),
        tax_id: "IE0000000DEMO".into(),
        number_prefix: prefix.to_string(),
        country: "IE".into(),
        electronic_address: "invoices@example.com".into(),
        electronic_address_scheme: "EM".into(),
    }
}

/// October's drafts as of its last day, then the month finalized after its grace period:
/// what finance sees at a month's end.
fn invoice_month(
    settings: &Settings,
    lake: &Path,
    now: chrono::DateTime<Utc>,
    stdout: &mut dyn Write,
) -> Result<bool> {
    use crate::invoicing::{invoice, MonthState};
    let w = |e: std::io::Error| write_err("stdout")(e);
    let month = crate::time::BillingMonth::of(
        NaiveDate::from_ymd_opt(DEMO_START.0, DEMO_START.1, DEMO_START.2).expect("valid date"),
    );
    let draft_day = month.last_day();
    let final_day = month.last_day() + chrono::Duration::days(DEMO_GRACE_DAYS + 1);
    let options = |as_of, finalize| {
        let mut o = crate::commands::invoice::options(
            settings,
            lake.to_path_buf(),
            month,
            Some(as_of),
            finalize,
            None,
            Some(now),
        )?;
        // Without a configured issuer, the demo's own (an e-invoice needs the issuer's
        // country, EN 16931 BT-40).
        if o.issuer.country.is_empty() {
            o.issuer = demo_issuer(&o.issuer.number_prefix);
        }
        Ok::<_, crate::error::Error>(o)
    };
    let drafts = invoice(&options(draft_day, false)?)?;
    writeln!(
        stdout,
        "\nInvoices for {month}: {} drafts as of {draft_day}\n  msgmeter invoice --lake {} --month {month} --date {draft_day}",
        drafts.invoices.len(),
        lake.display()
    )
    .map_err(w)?;
    for i in &drafts.invoices {
        writeln!(
            stdout,
            "  {:<16} {:<28} {:>4} lines  {} {:>12}  (source {}){}",
            i.customer.business_id,
            i.customer.name,
            i.lines.len(),
            i.currency,
            i.total.to_string(),
            i.source,
            if i.customer.account_registered {
                ""
            } else {
                "  not in accounts.csv"
            }
        )
        .map_err(w)?;
    }
    let finals = invoice(&options(final_day, true)?)?;
    if finals.state != MonthState::Finalized {
        for f in &finals.failures {
            writeln!(stdout, "  {f}").map_err(w)?;
        }
        return Ok(false);
    }
    writeln!(
        stdout,
        "\nFinalized on {final_day} (after the {DEMO_GRACE_DAYS}-day grace period): {} invoices\n  msgmeter invoice --lake {} --month {month} --finalize --date {final_day}",
        finals.invoices.len(),
        lake.display()
    )
    .map_err(w)?;
    if let Some(first) = finals.invoices.first() {
        let number = first.invoice_number.clone().unwrap_or_default();
        // One PDF (a Factur-X: PDF/A-3 with its CII XML inside) and the CII beside it, in
        // reports/, for a person to open.
        let name = crate::documents::document_name(first);
        let reports = lake.parent().unwrap_or(lake).join("reports");
        std::fs::create_dir_all(&reports).map_err(write_err(&reports))?;
        let pdf = reports.join(format!("{name}.pdf"));
        std::fs::copy(finals.documents.join(format!("{name}.pdf")), &pdf)
            .map_err(write_err(&pdf))?;
        let xml = reports.join(format!("{name}.factur-x.xml"));
        std::fs::write(&xml, crate::documents::einvoice::cii(first)?).map_err(write_err(&xml))?;
        writeln!(
            stdout,
            "  PDF (Factur-X, PDF/A-3b): {}\n  its CII XML (EN 16931): {}",
            pdf.display(),
            xml.display()
        )
        .map_err(w)?;
        writeln!(
            stdout,
            "  {number} for {}: subtotal {}, tax {}, total {} {}\n  {}\n  lineage: msgmeter explain --lake {} --invoice {number} --line 1",
            first.customer.name,
            first.subtotal,
            first.tax,
            first.total,
            first.currency,
            finals
                .documents
                .join(format!("{}.json", crate::documents::document_name(first)))
                .display(),
            lake.display()
        )
        .map_err(w)?;
    }
    Ok(true)
}
