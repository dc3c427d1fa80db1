//! One file per subcommand (the xsv/qsv layout): each holds its arguments with their help
//! text (clap) and `run`, which resolves the settings it needs, calls the library and prints
//! the summary. `main.rs` only parses, runs and maps the outcome to an exit status.

pub mod build;
pub mod demo;
pub mod explain;
pub mod generate;
pub mod ingest;
pub mod invoice;
pub mod query;
pub mod schema;

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::cli::{Cli, Command};
use crate::error::{write_err, Error, Result};
use crate::settings::{CommandLine, ConfigFile, Settings};

/// How a command ended, when it ran: exit status 0, or 1 (it did what it could and the
/// message lists what failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Incomplete,
}

impl Outcome {
    pub fn from_success(ok: bool) -> Self {
        if ok {
            Outcome::Success
        } else {
            Outcome::Incomplete
        }
    }
}

/// `--lake`, declared once for every command that reads or writes a lake.
#[derive(Debug, Clone, Args)]
pub struct LakeArg {
    /// The lake folder [or `lake` in the config file]
    #[arg(long, env = "MSGMETER_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
}

/// What every command receives: the global flags and the config file, resolved into
/// [`Settings`] (flag > environment > file > default) by the command, once.
pub struct Context {
    pub line: CommandLine,
    pub config: ConfigFile,
    pub config_path: Option<PathBuf>,
}

impl Context {
    /// Settings with this command's own flags laid over the global ones.
    pub fn settings(self, own: impl FnOnce(&mut CommandLine)) -> Result<Settings> {
        let mut line = self.line;
        own(&mut line);
        Settings::resolve(line, self.config, self.config_path)
    }
}

/// Run the parsed command line with its config file (`ConfigFile::load`).
pub fn run(cli: Cli, (config, config_path): (ConfigFile, Option<PathBuf>)) -> Result<Outcome> {
    let ctx = Context {
        line: CommandLine {
            markets: cli.markets,
            accounts: cli.accounts,
            rate_card: cli.rate_card,
            pricing_rules: cli.pricing_rules,
            pseudonym_key: std::env::var("MSGMETER_PSEUDONYM_KEY").ok(),
            ..CommandLine::default()
        },
        config,
        config_path,
    };
    let stdout = &mut std::io::stdout().lock();
    let outcome = match cli.command {
        Command::Demo(a) => demo::run(a, ctx, stdout),
        Command::Generate(a) => generate::run(a, stdout),
        Command::Ingest(a) => ingest::run(a, ctx, stdout),
        Command::Build(a) => build::run(a, ctx, stdout),
        Command::Invoice(a) => invoice::run(a, ctx, stdout),
        Command::Explain(a) => explain::run(a, ctx, stdout),
        Command::Query(a) => query::run(a, ctx, stdout),
        Command::Schema(a) => schema::run(a, stdout),
    }?;
    stdout.flush().map_err(to_stdout)?;
    Ok(outcome)
}

/// A failed write to stdout (a closed pipe among them: `main` exits quietly then).
pub fn to_stdout(e: std::io::Error) -> Error {
    write_err("stdout")(e)
}
