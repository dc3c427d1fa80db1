//! The one error type of the library. Every variant carries what a person needs to act:
//! the file, the line or the setting involved, and what to do next. Bad *records* are not
//! errors — they are quarantined (see `ingest::quarantine`); these are failures of a job.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}, line {line}: {message}")]
    Data {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "the lake {lake} is locked by another msgmeter run ({holder}); wait for it to finish \
         or, if that process is gone, run again: a dead holder's lock is taken over"
    )]
    Locked { lake: PathBuf, holder: String },
    #[error("{0}")]
    Usage(String),
    #[error("polars: {context}: {source}")]
    Polars {
        context: String,
        #[source]
        source: polars::error::PolarsError,
    },
    #[error("{what}: {message}")]
    Failed { what: String, message: String },
    #[error("interrupted (Ctrl-C or SIGTERM) before the run published anything")]
    Interrupted,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a human context to a polars error (`.ctx("reading events partition date=…")`).
pub trait PolarsContext<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T>;
}

impl<T> PolarsContext<T> for polars::error::PolarsResult<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| Error::Polars {
            context: context.into(),
            source,
        })
    }
}

pub fn read_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Read { path, source }
}

pub fn write_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Write { path, source }
}
