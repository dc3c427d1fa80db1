//! The invoice register: the `invoices` and `invoice_lines` tables of a billing month
//! (`month=` partitions), written from the invoice model and read back for what later runs
//! need to know (which months are final, the numbers taken, what a final invoice billed).

use chrono::NaiveDate;
use polars::prelude::*;
use rust_decimal::Decimal;

use super::model::{Invoice, LineKey, LineKind};
use crate::error::{Error, Result};
use crate::lake::columns::{
    bools, date_values, dates, decimal_values, decimals, ints, str_values, table_frame, text,
};
use crate::lake::{read_parquet, Lake};
use crate::money::UNIT_PRICE_SCALE;
use crate::pricing::rules::PricingModel;
use crate::schema::{ColumnType, Table, INVOICES, INVOICE_LINES};
use crate::time::BillingMonth;

/// An invoice header as the register holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredInvoice {
    pub invoice_number: Option<String>,
    pub business_id: String,
    pub status: String,
    pub document: String,
    pub source: String,
    pub currency: String,
    pub markup_pct: Decimal,
    pub total: Decimal,
    pub issue_date: NaiveDate,
}

/// A line as the register holds it (its unit price as stored: 10 places).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredLine {
    pub business_id: String,
    pub invoice_number: Option<String>,
    pub line_no: i64,
    pub kind: LineKind,
    pub key: Option<LineKey>,
    pub quantity: i64,
    pub rate: Option<Decimal>,
    pub amount: Decimal,
    pub corrects_month: Option<BillingMonth>,
}

/// One month of the register.
#[derive(Debug, Clone, Default)]
pub struct Register {
    pub invoices: Vec<RegisteredInvoice>,
    pub lines: Vec<RegisteredLine>,
}

impl Register {
    /// Final: the month was finalized (its invoices are numbered and never change).
    pub fn is_final(&self) -> bool {
        self.invoices.iter().any(|i| i.status == "final")
    }
}

fn decimal_scale(table: &Table, column: &str) -> (usize, usize) {
    match table.column(column).map(|c| c.kind) {
        Some(ColumnType::Decimal(p, s)) => (p, s),
        other => unreachable!(
            "{}.{column} is declared a decimal, not {other:?}",
            table.name
        ),
    }
}

fn money_column(
    table: &Table,
    name: &str,
    values: impl Iterator<Item = Option<Decimal>>,
) -> Result<Column> {
    let (p, s) = decimal_scale(table, name);
    decimals(name, values, p, s)
}

/// The month's two tables from its invoices, in register order (business id, then
/// document), lines in line order.
pub fn frames(invoices: &[Invoice]) -> Result<(DataFrame, DataFrame)> {
    let t = &INVOICES;
    let headers = table_frame(
        t,
        invoices.len(),
        vec![
            text(
                "invoice_number",
                invoices.iter().map(|i| i.invoice_number.as_deref()),
            ),
            text(
                "business_id",
                invoices
                    .iter()
                    .map(|i| Some(i.customer.business_id.as_str())),
            ),
            text("status", invoices.iter().map(|i| Some(i.status.as_str()))),
            text(
                "document",
                invoices.iter().map(|i| Some(i.document.as_str())),
            ),
            text(
                "customer_name",
                invoices.iter().map(|i| Some(i.customer.name.as_str())),
            ),
            bools(
                "account_registered",
                invoices.iter().map(|i| Some(i.customer.account_registered)),
            ),
            text("source", invoices.iter().map(|i| Some(i.source.as_str()))),
            text("currency", invoices.iter().map(|i| Some(i.currency.code()))),
            money_column(
                t,
                "subtotal",
                invoices.iter().map(|i| Some(i.subtotal.amount())),
            )?,
            money_column(t, "tax_pct", invoices.iter().map(|i| Some(i.tax_pct)))?,
            money_column(t, "markup_pct", invoices.iter().map(|i| Some(i.markup_pct)))?,
            money_column(t, "tax", invoices.iter().map(|i| Some(i.tax.amount())))?,
            money_column(t, "total", invoices.iter().map(|i| Some(i.total.amount())))?,
            dates("issue_date", invoices.iter().map(|i| Some(i.issue_date))),
            dates("due_date", invoices.iter().map(|i| Some(i.due_date))),
            dates(
                "period_start",
                invoices.iter().map(|i| Some(i.period_start)),
            ),
            dates("period_end", invoices.iter().map(|i| Some(i.period_end))),
            ints("lines", invoices.iter().map(|i| Some(i.lines.len() as i64))),
            text(
                "msgmeter_version",
                invoices.iter().map(|i| Some(i.msgmeter_version)),
            ),
            text(
                "rounding_rule",
                invoices.iter().map(|i| Some(i.rounding_rule)),
            ),
        ],
    )?;
    let rows: Vec<(&Invoice, &super::model::Line)> = invoices
        .iter()
        .flat_map(|i| i.lines.iter().map(move |l| (i, l)))
        .collect();
    let t = &INVOICE_LINES;
    let key = |l: &super::model::Line| l.key.clone();
    let lines = table_frame(
        t,
        rows.len(),
        vec![
            text(
                "invoice_number",
                rows.iter().map(|(i, _)| i.invoice_number.as_deref()),
            ),
            text(
                "business_id",
                rows.iter()
                    .map(|(i, _)| Some(i.customer.business_id.as_str())),
            ),
            ints("line_no", rows.iter().map(|(_, l)| Some(l.line_no as i64))),
            text("kind", rows.iter().map(|(_, l)| Some(l.kind.as_str()))),
            text(
                "pricing_model",
                rows.iter()
                    .map(|(_, l)| l.key.as_ref().map(|k| k.pricing_model.as_str())),
            ),
            text(
                "market",
                rows.iter()
                    .map(|(_, l)| l.key.as_ref().map(|k| k.market.as_str())),
            ),
            text(
                "category",
                rows.iter()
                    .map(|(_, l)| l.key.as_ref().map(|k| k.category.as_str())),
            ),
            text(
                "pricing_type",
                rows.iter()
                    .map(|(_, l)| l.key.as_ref().map(|k| k.pricing_type.as_str())),
            ),
            ints(
                "tier_from",
                rows.iter()
                    .map(|(_, l)| key(l).and_then(|k| k.tier_from).map(|t| t as i64)),
            ),
            ints("quantity", rows.iter().map(|(_, l)| Some(l.quantity))),
            money_column(t, "rate", rows.iter().map(|(_, l)| l.rate))?,
            money_column(
                t,
                "unit_price",
                rows.iter().map(|(_, l)| Some(l.unit_price)),
            )?,
            money_column(
                t,
                "amount",
                rows.iter().map(|(_, l)| Some(l.amount.amount())),
            )?,
            text(
                "currency",
                rows.iter().map(|(i, _)| Some(i.currency.code())),
            ),
            text(
                "corrects_month",
                rows.iter()
                    .map(|(_, l)| l.corrects_month.map(|m| m.to_string()))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|m| m.as_deref()),
            ),
        ],
    )?;
    Ok((headers, lines))
}

fn required<T: Clone>(values: &[Option<T>], i: usize, column: &str, table: &Table) -> Result<T> {
    values[i].clone().ok_or_else(|| Error::Failed {
        what: format!("reading the {} register", table.name),
        message: format!("row {} has no {column}", i + 1),
    })
}

/// The register of `month`, or `None` when it has no partition yet.
pub fn read(lake: &Lake, month: BillingMonth) -> Result<Option<Register>> {
    let label = month.to_string();
    let head_path = lake.month_partition_file(&INVOICES, &label);
    if !head_path.exists() {
        return Ok(None);
    }
    let df = read_parquet(&head_path, None)?;
    let t = &INVOICES;
    let (number, business, status, document, source, currency) = (
        str_values(&df, "invoice_number")?,
        str_values(&df, "business_id")?,
        str_values(&df, "status")?,
        str_values(&df, "document")?,
        str_values(&df, "source")?,
        str_values(&df, "currency")?,
    );
    let markup = decimal_values(&df, "markup_pct")?;
    let (total, issue) = (
        decimal_values(&df, "total")?,
        date_values(&df, "issue_date")?,
    );
    let mut register = Register::default();
    for (i, number) in number.iter().enumerate() {
        register.invoices.push(RegisteredInvoice {
            invoice_number: number.clone(),
            business_id: required(&business, i, "business_id", t)?,
            status: required(&status, i, "status", t)?,
            document: required(&document, i, "document", t)?,
            source: required(&source, i, "source", t)?,
            currency: required(&currency, i, "currency", t)?,
            markup_pct: required(&markup, i, "markup_pct", t)?,
            total: required(&total, i, "total", t)?,
            issue_date: required(&issue, i, "issue_date", t)?,
        });
    }
    let lines_path = lake.month_partition_file(&INVOICE_LINES, &label);
    if !lines_path.exists() {
        return Ok(Some(register));
    }
    let df = read_parquet(&lines_path, None)?;
    let t = &INVOICE_LINES;
    // Text read in place (no column copied into owned strings first): a register of 100,000
    // invoices has over half a million lines.
    let text_of = |name: &str| crate::lake::columns::str_column(&df, name);
    let (number, business, kind, model, market, category, pricing_type, corrects) = (
        text_of("invoice_number")?,
        text_of("business_id")?,
        text_of("kind")?,
        text_of("pricing_model")?,
        text_of("market")?,
        text_of("category")?,
        text_of("pricing_type")?,
        text_of("corrects_month")?,
    );
    let ints_of = |name: &str| crate::lake::columns::i64_values(&df, name);
    let (line_no, tier_from, quantity) = (
        ints_of("line_no")?,
        ints_of("tier_from")?,
        ints_of("quantity")?,
    );
    let (rate, unit_price, amount) = (
        decimal_values(&df, "rate")?,
        decimal_values(&df, "unit_price")?,
        decimal_values(&df, "amount")?,
    );
    for i in 0..df.height() {
        let kind_text = kind.get(i).unwrap_or_default();
        let kind = LineKind::parse(kind_text).ok_or_else(|| Error::Failed {
            what: "reading the invoice_lines register".into(),
            message: format!("row {}: unknown kind {kind_text:?}", i + 1),
        })?;
        let key = match (
            market.get(i),
            category.get(i),
            pricing_type.get(i),
            model.get(i),
        ) {
            (Some(market), Some(category), Some(pricing_type), Some(model)) => Some(LineKey {
                market: market.to_string(),
                category: category.to_string(),
                pricing_model: PricingModel::parse(model).ok_or_else(|| Error::Failed {
                    what: "reading the invoice_lines register".into(),
                    message: format!("row {}: unknown pricing model {model:?}", i + 1),
                })?,
                pricing_type: pricing_type.to_string(),
                tier_from: tier_from[i].map(|t| t as u64),
                unit_price: required(&unit_price, i, "unit_price", t)?,
            }),
            _ => None,
        };
        register.lines.push(RegisteredLine {
            business_id: business
                .get(i)
                .map(str::to_string)
                .ok_or_else(|| Error::Failed {
                    what: "reading the invoice_lines register".into(),
                    message: format!("row {} has no business_id", i + 1),
                })?,
            invoice_number: number.get(i).map(str::to_string),
            line_no: required(&line_no, i, "line_no", t)?,
            kind,
            key,
            quantity: required(&quantity, i, "quantity", t)?,
            rate: rate[i],
            amount: required(&amount, i, "amount", t)?,
            corrects_month: corrects.get(i).and_then(|m| m.parse().ok()),
        });
    }
    Ok(Some(register))
}

/// A line key as the register compares it: the unit price at its stored 10 places.
pub fn stored_key(key: &LineKey) -> LineKey {
    let mut price = key.unit_price.round_dp_with_strategy(
        UNIT_PRICE_SCALE,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    );
    price.normalize_assign();
    LineKey {
        unit_price: price,
        ..key.clone()
    }
}

/// One text column of a month's `invoices` partition (none when the month has none).
fn header_column(
    lake: &Lake,
    month: BillingMonth,
    column: &str,
) -> Result<Option<Vec<Option<String>>>> {
    let path = lake.month_partition_file(&INVOICES, &month.to_string());
    if !path.exists() {
        return Ok(None);
    }
    let df = read_parquet(&path, Some(vec![column.to_string()]))?;
    Ok(Some(str_values(&df, column)?))
}

/// Whether the month's register is final (read from its `status` column alone).
pub fn is_final(lake: &Lake, month: BillingMonth) -> Result<bool> {
    Ok(header_column(lake, month, "status")?
        .is_some_and(|s| s.iter().any(|s| s.as_deref() == Some("final"))))
}

/// The invoice numbers the month's register holds.
pub fn numbers(lake: &Lake, month: BillingMonth) -> Result<Vec<String>> {
    Ok(header_column(lake, month, "invoice_number")?
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}
