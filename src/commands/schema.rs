//! `msgmeter schema [TABLE]`: the data dictionary, generated from `src/schema.rs`.

use std::io::Write;

use clap::Args;

use super::{to_stdout, Outcome};
use crate::error::{Error, Result};
use crate::schema;

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  msgmeter schema events")]
pub struct SchemaArgs {
    /// One table (default: all)
    pub table: Option<String>,
}

pub fn run(a: SchemaArgs, stdout: &mut dyn Write) -> Result<Outcome> {
    let tables: Vec<&schema::Table> = match &a.table {
        Some(name) => vec![schema::table(name).ok_or_else(|| {
            Error::Usage(format!(
                "no table {name:?}; tables: {}",
                schema::TABLES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?],
        None => schema::TABLES.to_vec(),
    };
    write!(stdout, "{}", schema::dictionary(&tables)).map_err(to_stdout)?;
    Ok(Outcome::Success)
}
