//! `msgmeter query`: SQL over the lake's tables (see `crate::query`), printed as a table,
//! CSV or JSON, or written to a file (Parquet too).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{Context, LakeArg, Outcome};
use crate::error::{write_err, Error, Result};
use crate::query::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  msgmeter query --lake lake --format csv \\\n    \"SELECT business_id, market, count(*) AS n FROM events WHERE event_type = 'message_in' GROUP BY 1, 2 ORDER BY n DESC\""
)]
pub struct QueryArgs {
    #[command(flatten)]
    pub lake: LakeArg,
    /// How the result is written
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write the result here instead of stdout (required for parquet)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print DuckDB views over the lake's tables instead of running SQL (for the full SQL
    /// dialect: `msgmeter query --duckdb-views --lake lake > views.sql; duckdb -init views.sql`)
    #[arg(long, conflicts_with_all = ["sql", "out"])]
    pub duckdb_views: bool,
    /// The SQL statement (polars SQL; every time in the lake is UTC)
    #[arg(required_unless_present = "duckdb_views")]
    pub sql: Option<String>,
}

pub fn run(a: QueryArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|line| line.lake = a.lake.lake)?;
    if a.out.is_none() && a.format == OutputFormat::Parquet {
        return Err(Error::Usage("--format parquet needs --out FILE".into()));
    }
    let lake = settings.lake()?;
    let Some(sql) = a.sql.as_deref() else {
        let views = query::duckdb_views(&lake)?;
        stdout
            .write_all(views.as_bytes())
            .map_err(super::to_stdout)?;
        return Ok(Outcome::Success);
    };
    let mut df = query::run(&lake, sql)?;
    match &a.out {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(write_err(path))?;
            let mut f = std::io::BufWriter::new(file);
            query::write_result(&mut df, a.format, &mut f, path)?;
            f.flush().map_err(write_err(path))?;
        }
        None => query::write_result(&mut df, a.format, stdout, std::path::Path::new("stdout"))?,
    }
    Ok(Outcome::Success)
}
