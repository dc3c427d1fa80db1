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

/// How much of a result `--format table` shows: polars reads these variables, and only
/// these (it has no setter). The binary sets the ones a person has not set, once, before it
/// starts any thread: every column, up to 200 rows (the first and last 100 of a longer
/// result), text up to 64 characters.
pub const TABLE_DISPLAY: [(&str, &str); 3] = [
    ("POLARS_FMT_MAX_ROWS", "200"),
    ("POLARS_FMT_MAX_COLS", "-1"),
    ("POLARS_FMT_STR_LEN", "64"),
];

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
///
/// Every time in the lake is UTC. Its timestamp columns are shown to SQL as plain
/// (zone-less) UTC timestamps, because polars SQL cannot compare a zoned column with the
/// literals analysts write (`ts >= TIMESTAMP '2025-10-30 00:00:00'`, `CAST('2025-10-30' AS
/// TIMESTAMP)`); `run` puts the zone back on the result.
pub fn context(lake: &Path) -> Result<(SQLContext, Vec<&'static str>)> {
    let ctx = SQLContext::new();
    let mut names = Vec::new();
    for table in schema::TABLES {
        if let Some(mut lf) = scan_table(lake, table)? {
            let schema = lf
                .collect_schema()
                .ctx(format!("reading the schema of {}", table.name))?;
            let zoned: Vec<Expr> = schema
                .iter()
                .filter_map(|(name, dtype)| match dtype {
                    DataType::Datetime(unit, Some(_)) => {
                        Some(col(name.clone()).cast(DataType::Datetime(*unit, None)))
                    }
                    _ => None,
                })
                .collect();
            if !zoned.is_empty() {
                lf = lf.with_columns(zoned);
            }
            ctx.register(table.name, lf);
            names.push(table.name);
        }
    }
    Ok((ctx, names))
}

/// Times in a result are UTC (the lake holds nothing else): say so on every timestamp
/// column, so that CSV and JSON carry the zone.
fn mark_utc(df: DataFrame) -> Result<DataFrame> {
    let naive: Vec<Expr> = df
        .schema()
        .iter()
        .filter_map(|(name, dtype)| match dtype {
            DataType::Datetime(unit, None) => {
                Some(col(name.clone()).cast(DataType::Datetime(*unit, Some(TimeZone::UTC))))
            }
            _ => None,
        })
        .collect();
    if naive.is_empty() {
        return Ok(df);
    }
    df.lazy()
        .with_columns(naive)
        .collect()
        .ctx("marking result times as UTC")
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
    let sql = time_literals(sql);
    let failed = |e: PolarsError| {
        Error::Failed {
        what: "query".into(),
        message: format!(
            "{} (tables in this lake: {}). polars SQL lacks some of SQL's functions \
             (date_trunc among them): for the full dialect open the lake in DuckDB with the views of \
             `msgmeter query --duckdb-views --lake {}`",
            first_line(&e.to_string()),
            names.join(", "),
            lake.display()
        ),
    }
    };
    let lf = ctx.execute(&sql).map_err(failed)?;
    mark_utc(lf.collect().map_err(failed)?)
}

/// The first line of a polars error: the rest is its query plan.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}

/// Time literals as analysts write them, in the forms polars SQL compares with a timestamp
/// column: an RFC 3339 UTC string (`'2025-10-30T00:00:00Z'`, `…+00:00`) becomes
/// `TIMESTAMP '2025-10-30 00:00:00'`, and `CAST('2025-10-30' AS TIMESTAMP)` becomes
/// `TIMESTAMP '2025-10-30 00:00:00'`, and `DATE '2025-10-30'` becomes `DATE('2025-10-30')`.
/// Every time in the lake is UTC, so both mean the same
/// instant; other string literals are left alone.
pub fn time_literals(sql: &str) -> String {
    use std::sync::LazyLock;
    static UTC_INSTANT: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(?:Z|\+00:?00)$",
        )
        .expect("a valid pattern")
    });
    static CAST_DATE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)CAST\(\s*'(\d{4}-\d{2}-\d{2})'\s+AS\s+TIMESTAMP\s*\)")
            .expect("a valid pattern")
    });
    static DATE_LITERAL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\bDATE\s+'(\d{4}-\d{2}-\d{2})'").expect("a valid pattern")
    });
    // Whole string literals only (a quote inside one is written twice), so that text
    // which merely contains a time is left alone.
    let mut rewritten = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(open) = rest.find('\'') {
        rewritten.push_str(&rest[..open]);
        let body = &rest[open + 1..];
        let mut end = None;
        let mut i = 0;
        while let Some(q) = body[i..].find('\'') {
            let at = i + q;
            if body[at + 1..].starts_with('\'') {
                i = at + 2; // an escaped quote
            } else {
                end = Some(at);
                break;
            }
        }
        let Some(end) = end else {
            rewritten.push_str(&rest[open..]); // unterminated: polars will say so
            rest = "";
            break;
        };
        let literal = &body[..end];
        match UTC_INSTANT.captures(literal) {
            Some(c) => rewritten.push_str(&format!("TIMESTAMP '{} {}'", &c[1], &c[2])),
            None => {
                rewritten.push('\'');
                rewritten.push_str(literal);
                rewritten.push('\'');
            }
        }
        rest = &body[end + 1..];
    }
    rewritten.push_str(rest);
    let sql = CAST_DATE
        .replace_all(&rewritten, "TIMESTAMP '$1 00:00:00'")
        .into_owned();
    // `DATE '…'` is a deprecated string cast in polars (it prints a notice); `DATE('…')` is
    // the same date, parsed.
    DATE_LITERAL.replace_all(&sql, "DATE('$1')").into_owned()
}

/// DuckDB views over the lake (`msgmeter query --duckdb-views`): one typed view per table
/// the lake holds, named as `query` names it, over its Parquet files by absolute path
/// (`date` partitions typed DATE, `month` partitions text). Nothing under `_restricted/`.
/// Open with `duckdb -init views.sql`, or `.read views.sql` in a DuckDB session.
pub fn duckdb_views(lake: &Path) -> Result<String> {
    let root = std::fs::canonicalize(lake).map_err(crate::error::read_err(lake))?;
    let quote = |p: &Path| format!("'{}'", p.to_string_lossy().replace('\'', "''"));
    let mut sql = format!(
        "-- The msgmeter lake {} as DuckDB views (all times UTC).\n",
        root.display()
    );
    for table in schema::TABLES {
        let dir = root.join(table.name);
        if !walk_has_parquet(&dir) {
            continue;
        }
        let source = match table.partition {
            Some(column) => format!(
                "read_parquet({}, hive_partitioning = true, hive_types = {{'{column}': {}}})",
                quote(&dir.join("*").join("*.parquet")),
                if column == "date" { "DATE" } else { "VARCHAR" }
            ),
            None => format!("read_parquet({})", quote(&dir.join("*.parquet"))),
        };
        sql.push_str(&format!(
            "CREATE OR REPLACE VIEW {} AS SELECT * FROM {source};\n",
            table.name
        ));
    }
    Ok(sql)
}

/// Write a result in the chosen format to `out`.
pub fn write_result(
    df: &mut DataFrame,
    format: OutputFormat,
    out: &mut dyn Write,
    out_name: &Path,
) -> Result<()> {
    match format {
        // How much of a table is shown: `TABLE_DISPLAY` (set by the binary at its start).
        OutputFormat::Table => writeln!(out, "{df}").map_err(write_err(out_name)),
        // Times as RFC 3339 in UTC, with their `Z`.
        OutputFormat::Csv => CsvWriter::new(out)
            .include_header(true)
            .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S%.6fZ".into()))
            .finish(df)
            .ctx("writing CSV"),
        OutputFormat::Json => {
            JsonWriter::new(&mut *out)
                .with_json_format(JsonFormat::Json)
                .finish(df)
                .ctx("writing JSON")?;
            writeln!(out).map_err(write_err(out_name))
        }
        OutputFormat::Parquet => ParquetWriter::new(out)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(df)
            .map(|_| ())
            .ctx("writing Parquet"),
    }
}
