//! `msgmeter query`: SQL (polars-sql) over every table present in the lake, and nothing
//! under `_restricted/`. Partitioned tables expose their partition column (`date`).

use std::io::Write;
use std::path::Path;

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::error::{write_err, Error, PolarsContext, Result};
use crate::schema::{self, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

/// Lazily scan one table of the lake, or `None` if the lake has no file of it.
pub fn scan_table(lake: &Path, table: &Table) -> Result<Option<LazyFrame>> {
    let dir = lake.join(table.name);
    let has_files = walk_has_parquet(&dir);
    if !has_files {
        return Ok(None);
    }
    let pattern = match table.partition {
        Some(_) => dir.join("*").join("*.parquet"),
        None => dir.join("*.parquet"),
    };
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            enabled: Some(table.partition.is_some()),
            hive_start_idx: 0,
            schema: None,
            try_parse_dates: true,
        },
        glob: true,
        ..Default::default()
    };
    let lf = LazyFrame::scan_parquet(PlRefPath::new(pattern.to_string_lossy().as_ref()), args)
        .ctx(format!("scanning table {}", table.name))?;
    Ok(Some(lf))
}

fn walk_has_parquet(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            walk_has_parquet(&p)
        } else {
            p.extension().is_some_and(|x| x == "parquet")
                && !e.file_name().to_string_lossy().starts_with('.')
        }
    })
}

/// A SQL context with every table the lake holds registered under its name.
pub fn context(lake: &Path) -> Result<(SQLContext, Vec<&'static str>)> {
    let ctx = SQLContext::new();
    let mut names = Vec::new();
    for table in schema::TABLES {
        if let Some(lf) = scan_table(lake, table)? {
            ctx.register(table.name, lf);
            names.push(table.name);
        }
    }
    Ok((ctx, names))
}

pub fn run(lake: &Path, sql: &str) -> Result<DataFrame> {
    if !lake.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such lake; ingest something first (`msgmeter ingest --lake {} FILES`)",
            lake.display(),
            lake.display()
        )));
    }
    let (mut ctx, names) = context(lake)?;
    let lf = ctx.execute(sql).map_err(|e| Error::Failed {
        what: "query".into(),
        message: format!("{e} (tables in this lake: {})", names.join(", ")),
    })?;
    lf.collect().ctx("running the query")
}

/// Write a result in the chosen format to `out`.
pub fn write_result(
    df: &mut DataFrame,
    format: OutputFormat,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<()> {
    match format {
        OutputFormat::Table => {
            // Show every row and column of a query result, as a person asked for them.
            let rows = df.height().to_string();
            let cols = df.width().to_string();
            // SAFETY-free in edition 2021: set before any other thread reads the variables.
            std::env::set_var(
                "POLARS_FMT_MAX_ROWS",
                if df.height() > 200 {
                    "40"
                } else {
                    rows.as_str()
                },
            );
            std::env::set_var("POLARS_FMT_MAX_COLS", cols);
            std::env::set_var("POLARS_FMT_STR_LEN", "64");
            writeln!(out, "{df}").map_err(write_err(out_name))
        }
        OutputFormat::Csv => CsvWriter::new(out)
            .include_header(true)
            .finish(df)
            .ctx("writing CSV"),
        OutputFormat::Json => JsonWriter::new(out)
            .with_json_format(JsonFormat::Json)
            .finish(df)
            .ctx("writing JSON"),
        OutputFormat::Parquet => ParquetWriter::new(out)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(df)
            .map(|_| ())
            .ctx("writing Parquet"),
    }
}
