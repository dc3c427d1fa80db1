//! `msgmeter explain`: where an invoice line comes from, down to the raw lines; see
//! `crate::invoicing::explain`.

use std::io::Write;
use std::path::Path;

use clap::Args;

use super::{to_stdout, Context, LakeArg, Outcome};
use crate::error::{Error, Result};
use crate::invoicing::explain::{explain, Lineage, Target};
use crate::lake::Lake;
use crate::query::{write_result, OutputFormat};
use crate::time::BillingMonth;

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  msgmeter explain --lake lake --invoice INV-2025-000001 --line 1\n  msgmeter explain --lake lake --business 102000000000001 --month 2025-10 --format json\n\nFor each line: the usage_daily rows it sums, the messages (PMP) or conversations (CBP)\ncounted in them (under the reported source: the status events with Meta's pricing\nobject), and the raw events behind those with their source file and line.\nCSV prints the three parts one after the other, each after a `# part` line."
)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    /// A final invoice's number
    #[arg(long, value_name = "NUMBER", conflicts_with_all = ["business", "month"], required_unless_present = "business")]
    pub invoice: Option<String>,
    /// A draft: the business (with --month)
    #[arg(long, value_name = "ID", requires = "month")]
    pub business: Option<String>,
    /// A draft: the billing month, YYYY-MM (with --business)
    #[arg(long, value_parser = parse_month, requires = "business")]
    pub month: Option<BillingMonth>,
    /// One line (its line_no) [default: every line]
    #[arg(long, value_name = "N")]
    pub line: Option<i64>,
    /// table, csv or json
    #[arg(long, value_enum, default_value = "table")]
    pub format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    Table,
    Csv,
    Json,
}

fn parse_month(text: &str) -> std::result::Result<BillingMonth, String> {
    text.parse()
}

pub fn run(a: ExplainArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|line| line.lake = a.lake.lake)?;
    let lake = Lake::new(settings.lake()?);
    if !lake.root.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such lake",
            lake.root.display()
        )));
    }
    let target = match (a.invoice, a.business, a.month) {
        (Some(number), _, _) => Target::Number(number),
        (None, Some(business), Some(month)) => Target::Draft { business, month },
        _ => {
            return Err(Error::Usage(
                "pass --invoice NUMBER, or --business ID --month YYYY-MM".into(),
            ))
        }
    };
    let (accounts, _) = settings.accounts()?;
    let lineages = explain(&lake, &accounts, &target, a.line)?;
    let out_name = Path::new("stdout");
    match a.format {
        ExplainFormat::Json => {
            let mut parts = Vec::new();
            for l in lineages {
                parts.push(json_of(l)?);
            }
            let mut text = serde_json::to_string_pretty(&parts).expect("JSON values serialise");
            text.push('\n');
            stdout.write_all(text.as_bytes()).map_err(to_stdout)?;
        }
        format => {
            let out_format = if format == ExplainFormat::Csv {
                OutputFormat::Csv
            } else {
                OutputFormat::Table
            };
            for mut l in lineages {
                let key = l.line.key.as_ref();
                let head = format!(
                    "{} {} ({}, source {}), line {}: {} {} {}, quantity {}, amount {}{}",
                    if format == ExplainFormat::Csv {
                        "#"
                    } else {
                        "=="
                    },
                    l.invoice,
                    l.month,
                    l.source,
                    l.line.line_no,
                    l.line.kind.as_str(),
                    key.map(|k| format!(
                        "{} {} {} {}",
                        k.market,
                        k.category,
                        k.pricing_model.as_str(),
                        k.pricing_type
                    ))
                    .unwrap_or_default(),
                    key.and_then(|k| k.tier_from)
                        .map(|t| format!("tier from {t}"))
                        .unwrap_or_default(),
                    l.line.quantity,
                    l.amount(),
                    l.line
                        .corrects_month
                        .map(|m| format!(", corrects {m}"))
                        .unwrap_or_default(),
                );
                writeln!(stdout, "{head}").map_err(to_stdout)?;
                for (name, df) in [
                    ("usage_daily", &mut l.usage),
                    (l.units_table, &mut l.units),
                    ("events", &mut l.events),
                ] {
                    writeln!(stdout, "# {name}: {} rows", df.height()).map_err(to_stdout)?;
                    if df.width() > 0 {
                        write_result(df, out_format, stdout, out_name)?;
                    }
                }
            }
        }
    }
    Ok(Outcome::Success)
}

/// A lineage as JSON: the line, then each part as an array of row objects.
fn json_of(mut l: Lineage) -> Result<serde_json::Value> {
    let rows = |df: &mut polars::prelude::DataFrame| -> Result<serde_json::Value> {
        let mut bytes = Vec::new();
        if df.width() > 0 {
            write_result(df, OutputFormat::Json, &mut bytes, Path::new("JSON"))?;
        } else {
            bytes.extend_from_slice(b"[]");
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Failed {
            what: "writing the lineage as JSON".into(),
            message: e.to_string(),
        })
    };
    let key = l.line.key.clone();
    Ok(serde_json::json!({
        "invoice": l.invoice,
        "currency": l.currency,
        "month": l.month.to_string(),
        "source": l.source,
        "line": {
            "line_no": l.line.line_no,
            "kind": l.line.kind.as_str(),
            "market": key.as_ref().map(|k| k.market.clone()),
            "category": key.as_ref().map(|k| k.category.clone()),
            "pricing_model": key.as_ref().map(|k| k.pricing_model.as_str()),
            "pricing_type": key.as_ref().map(|k| k.pricing_type.clone()),
            "tier_from": key.as_ref().and_then(|k| k.tier_from),
            "quantity": l.line.quantity,
            "amount": l.amount(),
            "corrects_month": l.line.corrects_month.map(|m| m.to_string()),
        },
        "usage_daily": rows(&mut l.usage)?,
        l.units_table: rows(&mut l.units)?,
        "events": rows(&mut l.events)?,
    }))
}
