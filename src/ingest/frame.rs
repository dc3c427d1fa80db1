//! Normalised events as Arrow columns (the `events` table's schema, from `schema.rs`), and
//! the spill that holds them by UTC date between reading and publishing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use polars::prelude::*;

use super::normalize::Event;
use super::SourceFile;
use crate::error::{PolarsContext, Result};
use crate::lake;
use crate::schema::EVENTS;

/// Events held in memory (as Arrow frames) before they are spilled to scratch files.
const SPILL_ROWS: usize = 200_000;

fn text<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    Column::new(name.into(), values.collect::<Vec<_>>())
}

fn timestamps(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

/// The `events` columns of a batch of one file's events, in schema order.
pub fn events_frame(rows: &[Event], source: &SourceFile) -> Result<DataFrame> {
    let e = || rows.iter();
    let cust = || e().map(|e| e.customer.as_ref());
    let columns = vec![
        text("event_key", e().map(|e| Some(e.event_key.as_str()))),
        text("event_type", e().map(|e| Some(e.event_type))),
        timestamps("ts", e().map(|e| Some(e.ts))),
        text("business_id", e().map(|e| Some(e.business_id.as_str()))),
        text("phone_number_id", e().map(|e| e.phone_number_id.as_deref())),
        text("customer_key", cust().map(|c| c.map(|c| c.key.as_str()))),
        text(
            "customer_id_kind",
            cust().map(|c| c.map(|c| c.kind.as_str())),
        ),
        text(
            "customer_cc",
            cust().map(|c| c.and_then(|c| c.calling_code.as_deref())),
        ),
        text(
            "customer_country",
            cust().map(|c| c.and_then(|c| c.country.as_deref())),
        ),
        text("market", cust().map(|c| c.map(|c| c.market.as_str()))),
        text("message_id", e().map(|e| e.message_id.as_deref())),
        text("message_type", e().map(|e| e.message_type.as_deref())),
        text(
            "template_category",
            e().map(|e| e.template_category.as_deref()),
        ),
        text("sender", e().map(|e| e.sender)),
        text("agent_id", e().map(|e| e.agent_id.as_deref())),
        Column::new(
            "referral".into(),
            e().map(|e| e.referral).collect::<Vec<_>>(),
        ),
        text("status", e().map(|e| e.status)),
        text(
            "reported_pricing_model",
            e().map(|e| e.reported_pricing_model),
        ),
        Column::new(
            "reported_billable".into(),
            e().map(|e| e.reported_billable).collect::<Vec<_>>(),
        ),
        text(
            "reported_category",
            e().map(|e| e.reported_category.as_deref()),
        ),
        text(
            "reported_pricing_type",
            e().map(|e| e.reported_pricing_type.as_deref()),
        ),
        text("conversation_id", e().map(|e| e.conversation_id.as_deref())),
        text(
            "conversation_origin",
            e().map(|e| e.conversation_origin.as_deref()),
        ),
        timestamps("conversation_expires", e().map(|e| e.conversation_expires)),
        text("error_code", e().map(|e| e.error_code.as_deref())),
        text("case_id", e().map(|e| e.case_id.as_deref())),
        text("case_kind", e().map(|e| e.case_kind)),
        text("case_category", e().map(|e| e.case_category.as_deref())),
        text("case_status", e().map(|e| e.case_status)),
        Column::new("rating".into(), e().map(|e| e.rating).collect::<Vec<_>>()),
        Column::new(
            "content_hash".into(),
            e().map(|e| e.content_hash).collect::<Vec<_>>(),
        ),
        text(
            "source_file",
            rows.iter().map(|_| Some(source.name.as_str())),
        ),
        text(
            "source_sha256",
            rows.iter().map(|_| Some(source.sha256.as_str())),
        ),
        Column::new(
            "source_line".into(),
            e().map(|e| e.source_line).collect::<Vec<_>>(),
        ),
    ];
    debug_assert_eq!(columns.len(), EVENTS.columns.len());
    let df = DataFrame::new(rows.len(), columns).ctx("building the events frame")?;
    conform(df)
}

/// Cast a frame to the events schema exactly (types and column order), so frames read
/// back from files of any age stack with new ones.
pub fn conform(df: DataFrame) -> Result<DataFrame> {
    let mut columns = Vec::with_capacity(EVENTS.columns.len());
    for c in EVENTS.columns {
        let dtype = c.kind.polars();
        let col = match df.column(c.name) {
            Ok(col) if col.dtype() == &dtype => col.clone(),
            Ok(col) => col.cast(&dtype).ctx(format!("casting events.{}", c.name))?,
            Err(_) => Column::full_null(c.name.into(), df.height(), &dtype),
        };
        columns.push(col);
    }
    DataFrame::new(df.height(), columns).ctx("conforming to the events schema")
}

/// Accepted events between the two phases, by UTC date: frames in memory up to a bound,
/// then uncompressed scratch Parquet files (one per date and flush).
pub struct Spill {
    dir: PathBuf,
    buffers: BTreeMap<NaiveDate, Vec<DataFrame>>,
    buffered: usize,
    /// Rows pushed per date (buffered or spilled).
    rows: BTreeMap<NaiveDate, usize>,
    parts: BTreeMap<NaiveDate, Vec<PathBuf>>,
    flushes: u64,
}

impl Spill {
    pub fn new(dir: PathBuf) -> Self {
        Spill {
            dir,
            buffers: BTreeMap::new(),
            buffered: 0,
            rows: BTreeMap::new(),
            parts: BTreeMap::new(),
            flushes: 0,
        }
    }

    pub fn push(&mut self, date: NaiveDate, frame: DataFrame) -> Result<()> {
        self.buffered += frame.height();
        *self.rows.entry(date).or_default() += frame.height();
        self.buffers.entry(date).or_default().push(frame);
        if self.buffered >= SPILL_ROWS {
            let t = std::time::Instant::now();
            self.flush()?;
            crate::timing::add("spill", t.elapsed());
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        use rayon::prelude::*;
        let flush = self.flushes;
        self.flushes += 1;
        let dir = &self.dir;
        let written: Vec<Result<(NaiveDate, PathBuf)>> = std::mem::take(&mut self.buffers)
            .into_par_iter()
            .map(|(date, frames)| {
                let mut df = stack(frames)?.expect("buffers hold frames");
                df.rechunk_mut();
                let path = dir
                    .join(date.format("%Y-%m-%d").to_string())
                    .join(format!("part-{flush}.parquet"));
                lake::write_scratch_file(&path, &mut df)?;
                Ok((date, path))
            })
            .collect();
        for w in written {
            let (date, path) = w?;
            self.parts.entry(date).or_default().push(path);
        }
        self.buffered = 0;
        Ok(())
    }

    /// Write out whatever is still buffered, so that publishing holds no parse frames.
    pub fn flush_buffers(&mut self) -> Result<()> {
        if self.buffers.is_empty() {
            return Ok(());
        }
        let t = std::time::Instant::now();
        self.flush()?;
        crate::timing::add("spill", t.elapsed());
        Ok(())
    }

    pub fn dates(&self) -> BTreeSet<NaiveDate> {
        self.buffers
            .keys()
            .chain(self.parts.keys())
            .copied()
            .collect()
    }

    /// All rows of one date (spilled and buffered), removed from the spill.
    /// How many rows [`Spill::take_date`] will give for `date`.
    pub fn rows_of(&self, date: NaiveDate) -> usize {
        self.rows.get(&date).copied().unwrap_or(0)
    }

    pub fn take_date(&mut self, date: NaiveDate) -> Result<Option<DataFrame>> {
        let mut frames = Vec::new();
        for path in self.parts.remove(&date).unwrap_or_default() {
            frames.push(conform(lake::read_parquet(&path, None)?)?);
            let _ = std::fs::remove_file(&path);
        }
        if let Some(buffered) = self.buffers.remove(&date) {
            self.buffered -= buffered.iter().map(DataFrame::height).sum::<usize>();
            frames.extend(buffered);
        }
        stack(frames)
    }
}

fn stack(frames: Vec<DataFrame>) -> Result<Option<DataFrame>> {
    let mut frames = frames.into_iter();
    let Some(mut df) = frames.next() else {
        return Ok(None);
    };
    for f in frames {
        df.vstack_mut_owned(f).ctx("stacking events")?;
    }
    Ok(Some(df))
}
