//! The `msgmeter` binary: parse, set up logging, run the command (`msgmeter::commands`),
//! map the outcome to an exit status: 0 success, 1 the job did not fully succeed, 2 usage.

use std::process::ExitCode;

use clap::Parser;

use msgmeter::cli::{Cli, Command, LogFormat};
use msgmeter::commands::{self, Outcome};
use msgmeter::error::Error;
use msgmeter::settings::ConfigFile;

// msgmeter allocates many small strings per event; mimalloc handles that far better than
// the system allocator (measured: see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Query(_) | Command::Demo(_)) {
        // Single-threaded still: the one moment the environment may be written.
        for (name, value) in msgmeter::query::TABLE_DISPLAY {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
    }
    // Ingest keeps freed memory (see msgmeter::memory). Other commands return it: build's
    // peak would otherwise be every stage's peak added up (measured: 10M events, peak RSS
    // 2.6 GiB → see docs/benchmarks.md).
    if matches!(cli.command, Command::Ingest(_) | Command::Demo(_)) {
        msgmeter::memory::keep_freed_memory(true);
    }
    // The config file is read first: it may choose the log format (a flag still wins).
    let config = ConfigFile::load(cli.config.as_deref());
    let format = cli
        .log_format
        .or(config.as_ref().ok().and_then(|(c, _)| c.log_format))
        .unwrap_or(LogFormat::Text);
    init_logging(cli.quiet, format);
    match config.and_then(|config| commands::run(cli, config)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Incomplete) => ExitCode::from(1),
        // The reader went away (`msgmeter query … | head -1`): nothing more to say.
        Err(e) if is_closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The message already holds its cause: printed once, not as a chain.
            tracing::error!("{e}");
            ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 })
        }
    }
}

fn is_closed_stdout(e: &Error) -> bool {
    match e {
        Error::Write { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
        Error::Polars { source, .. } => source.to_string().contains("Broken pipe"),
        _ => false,
    }
}

fn init_logging(quiet: bool, format: LogFormat) {
    let level = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MSGMETER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}
