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
    /// The SQL statement
    pub sql: String,
}

pub fn run(a: QueryArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|line| line.lake = a.lake.lake)?;
    if a.out.is_none() && a.format == OutputFormat::Parquet {
        return Err(Error::Usage("--format parquet needs --out FILE".into()));
    }
    let mut df = query::run(&settings.lake()?, &a.sql)?;
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
