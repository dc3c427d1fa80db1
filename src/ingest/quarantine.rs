//! Quarantine: every rejected record, with its reason, file, line and item path, kept raw
//! under `LAKE/_restricted/quarantine/date=<ingest date>/` (restricted, because a raw line
//! may hold a phone number). One NDJSON file per input file, named by the input's hash, so
//! a re-run writes the same file and nothing is ever appended twice.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::normalize::Rejection;
use crate::error::{write_err, Result};

/// Raw text kept for a line over the length limit: enough to recognise it.
const TOO_LONG_KEPT_BYTES: usize = 4096;

#[derive(Serialize)]
struct QuarantineRecord<'a> {
    source_file: &'a str,
    source_sha256: &'a str,
    line: u64,
    item_path: &'a str,
    reason: &'static str,
    message: &'a str,
    raw: &'a str,
}

pub struct QuarantineWriter {
    dest: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    source_file: String,
    source_sha256: String,
}

impl QuarantineWriter {
    pub fn new(dir: PathBuf, source_file: &str, source_sha256: &str) -> Self {
        let dest = dir.join(format!(
            "{}.ndjson",
            &source_sha256[..16.min(source_sha256.len())]
        ));
        let tmp = dir.join(format!(
            ".{}.ndjson.tmp-{}",
            &source_sha256[..16.min(source_sha256.len())],
            std::process::id()
        ));
        QuarantineWriter {
            dest,
            tmp,
            out: None,
            source_file: source_file.to_string(),
            source_sha256: source_sha256.to_string(),
        }
    }

    pub fn record(
        &mut self,
        line: u64,
        item_path: &str,
        why: &Rejection,
        raw: &[u8],
    ) -> Result<()> {
        if self.out.is_none() {
            if let Some(dir) = self.tmp.parent() {
                fs::create_dir_all(dir).map_err(write_err(dir))?;
            }
            let f = File::create(&self.tmp).map_err(write_err(&self.tmp))?;
            self.out = Some(BufWriter::new(f));
        }
        let raw = &raw[..raw
            .len()
            .min(if why.reason == super::normalize::Reason::LineTooLong {
                TOO_LONG_KEPT_BYTES
            } else {
                usize::MAX
            })];
        let raw = String::from_utf8_lossy(raw);
        let rec = QuarantineRecord {
            source_file: &self.source_file,
            source_sha256: &self.source_sha256,
            line,
            item_path,
            reason: why.reason.as_str(),
            message: &why.message,
            raw: raw.trim_end_matches(['\r', '\n']),
        };
        let out = self.out.as_mut().expect("opened above");
        serde_json::to_writer(&mut *out, &rec).map_err(|e| write_err(&self.tmp)(e.into()))?;
        out.write_all(b"\n").map_err(write_err(&self.tmp))
    }

    /// Move the file into place (if anything was quarantined).
    pub fn finish(self) -> Result<()> {
        if let Some(out) = self.out {
            let f = out
                .into_inner()
                .map_err(|e| write_err(&self.tmp)(e.into_error()))?;
            f.sync_all().map_err(write_err(&self.tmp))?;
            fs::rename(&self.tmp, &self.dest).map_err(write_err(&self.dest))?;
        }
        Ok(())
    }
}
