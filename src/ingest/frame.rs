//! Normalised events as Arrow columns (the `events` table's schema, from `schema.rs`), and
//! the spill that holds them by UTC date between reading and publishing.
//!
//! Between the phases events are held as compact rows ([`EventRows`]), not as Arrow frames:
//! a frame holds 16 bytes per value of every column however short or absent the value is
//! (about 750 bytes an event), a row only what is there (about 330). The parse workers
//! encode their events; publishing decodes a whole date into one frame.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;
use polars::prelude::*;

use super::normalize::Event;
use super::SourceFile;
use crate::error::{read_err, write_err, Error, PolarsContext, Result};
use crate::schema::EVENTS;

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

/// Events of one UTC date as rows: each field in the `events` schema's order. Text is a
/// length byte and its bytes (255: null; 254: a little-endian `u32` length follows);
/// instants and numbers are little-endian `i64`/`u64`, optional ones behind a presence
/// byte; flags are one byte (0 null, 1 false, 2 true); the source file is its index in
/// the run's sources.
#[derive(Debug, Default)]
pub struct EventRows {
    bytes: Vec<u8>,
    rows: usize,
}

const NULL_TEXT: u8 = 255;
const LONG_TEXT: u8 = 254;

impl EventRows {
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Give back the growth slack once no more rows come.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// One event of the source file numbered `source` in the run's sources.
    pub fn push(&mut self, e: &Event, source: u32) {
        let b = &mut self.bytes;
        let text = |b: &mut Vec<u8>, v: Option<&str>| match v {
            Some(v) => {
                match u8::try_from(v.len()) {
                    Ok(len) if len < LONG_TEXT => b.push(len),
                    _ => {
                        // Identifiers are capped far below 4 GiB: longer is a bug upstream.
                        let len = u32::try_from(v.len()).expect("a field shorter than 4 GiB");
                        b.push(LONG_TEXT);
                        b.extend_from_slice(&len.to_le_bytes());
                    }
                }
                b.extend_from_slice(v.as_bytes());
            }
            None => b.push(NULL_TEXT),
        };
        let flag = |b: &mut Vec<u8>, v: Option<bool>| b.push(v.map_or(0, |v| 1 + u8::from(v)));
        let c = e.customer.as_ref();
        text(b, Some(&e.event_key));
        text(b, Some(e.event_type));
        b.extend_from_slice(&e.ts.to_le_bytes());
        text(b, Some(&e.business_id));
        text(b, e.phone_number_id.as_deref());
        text(b, c.map(|c| c.key.as_str()));
        text(b, c.map(|c| c.kind.as_str()));
        text(b, c.and_then(|c| c.calling_code.as_deref()));
        text(b, c.and_then(|c| c.country.as_deref()));
        text(b, c.map(|c| c.market.as_str()));
        text(b, e.message_id.as_deref());
        text(b, e.message_type.as_deref());
        text(b, e.template_category.as_deref());
        text(b, e.sender);
        text(b, e.agent_id.as_deref());
        flag(b, e.referral);
        text(b, e.status);
        text(b, e.reported_pricing_model);
        flag(b, e.reported_billable);
        text(b, e.reported_category.as_deref());
        text(b, e.reported_pricing_type.as_deref());
        text(b, e.conversation_id.as_deref());
        text(b, e.conversation_origin.as_deref());
        match e.conversation_expires {
            Some(t) => {
                b.push(1);
                b.extend_from_slice(&t.to_le_bytes());
            }
            None => b.push(0),
        }
        text(b, e.error_code.as_deref());
        text(b, e.case_id.as_deref());
        text(b, e.case_kind);
        text(b, e.case_category.as_deref());
        text(b, e.case_status);
        match e.rating {
            Some(r) => b.extend_from_slice(&[1, r as u8]),
            None => b.push(0),
        }
        b.extend_from_slice(&e.content_hash.to_le_bytes());
        b.extend_from_slice(&source.to_le_bytes());
        b.extend_from_slice(&e.source_line.to_le_bytes());
        self.rows += 1;
    }
}

/// Reads [`EventRows`] back, field by field.
struct RowReader<'a> {
    bytes: &'a [u8],
    at: usize,
    origin: &'a std::path::Path,
}

impl<'a> RowReader<'a> {
    fn corrupt(&self, what: &str) -> Error {
        Error::Failed {
            what: format!("reading scratch rows of {}", self.origin.display()),
            message: format!(
                "corrupt at byte {} ({what}); run the ingest again (it starts from the raw files)",
                self.at
            ),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let bytes = self.bytes;
        let piece = bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| self.corrupt("cut short"))?;
        self.at += n;
        Ok(piece)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take gives N bytes"))
    }

    fn text(&mut self) -> Result<Option<&'a str>> {
        let len = match self.array::<1>()?[0] {
            NULL_TEXT => return Ok(None),
            LONG_TEXT => u32::from_le_bytes(self.array()?) as usize,
            short => short as usize,
        };
        let raw = self.take(len)?;
        std::str::from_utf8(raw)
            .map(Some)
            .map_err(|_| self.corrupt("text that is not UTF-8"))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn flag(&mut self) -> Result<Option<bool>> {
        match self.array::<1>()?[0] {
            0 => Ok(None),
            1 => Ok(Some(false)),
            2 => Ok(Some(true)),
            _ => Err(self.corrupt("a flag that is not 0, 1 or 2")),
        }
    }

    fn present(&mut self) -> Result<bool> {
        match self.array::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.corrupt("a presence byte that is not 0 or 1")),
        }
    }
}

/// The `events` frame of all `pieces` (read from `origin`, named in errors), in schema
/// order.
pub fn decode_rows(
    pieces: &[EventRows],
    sources: &[SourceFile],
    origin: &std::path::Path,
) -> Result<DataFrame> {
    let n = pieces.iter().map(EventRows::rows).sum();
    // Text columns, in the order a row holds them, as builders.
    const TEXT: [&str; 26] = [
        "event_key",
        "event_type",
        "business_id",
        "phone_number_id",
        "customer_key",
        "customer_id_kind",
        "customer_cc",
        "customer_country",
        "market",
        "message_id",
        "message_type",
        "template_category",
        "sender",
        "agent_id",
        "status",
        "reported_pricing_model",
        "reported_category",
        "reported_pricing_type",
        "conversation_id",
        "conversation_origin",
        "error_code",
        "case_id",
        "case_kind",
        "case_category",
        "case_status",
        "source_file",
    ];
    let mut text: Vec<StringChunkedBuilder> = TEXT
        .iter()
        .map(|name| StringChunkedBuilder::new((*name).into(), n))
        .collect();
    let mut ts = Vec::with_capacity(n);
    let mut referral = Vec::with_capacity(n);
    let mut billable = Vec::with_capacity(n);
    let mut expires = Vec::with_capacity(n);
    let mut rating = Vec::with_capacity(n);
    let mut content_hash = Vec::with_capacity(n);
    let mut source_sha = Vec::with_capacity(n);
    let mut source_line = Vec::with_capacity(n);
    for piece in pieces {
        let mut r = RowReader {
            bytes: &piece.bytes,
            at: 0,
            origin,
        };
        for _ in 0..piece.rows {
            // The row's fields in order; `t(i)` moves text field i into its builder.
            macro_rules! t {
            ($($i:expr),+) => {$( text[$i].append_option(r.text()?); )+};
        }
            t!(0, 1);
            ts.push(r.i64()?);
            t!(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13);
            referral.push(r.flag()?);
            t!(14, 15);
            billable.push(r.flag()?);
            t!(16, 17, 18, 19);
            expires.push(if r.present()? { Some(r.i64()?) } else { None });
            t!(20, 21, 22, 23, 24);
            rating.push(if r.present()? {
                Some(r.array::<1>()?[0] as i8)
            } else {
                None
            });
            content_hash.push(u64::from_le_bytes(r.array()?));
            let source = u32::from_le_bytes(r.array()?) as usize;
            let source = sources
                .get(source)
                .ok_or_else(|| r.corrupt("a source that is not of this run"))?;
            text[25].append_value(&source.name);
            source_sha.push(source.sha256.as_str());
            source_line.push(r.i64()?);
        }
        if r.at != piece.bytes.len() {
            return Err(r.corrupt("bytes after the last row"));
        }
    }
    let mut by_name: std::collections::HashMap<&str, Column> = TEXT
        .iter()
        .zip(text)
        .map(|(name, b)| (*name, b.finish().into_column()))
        .collect();
    let timestamps = |name: &str, values: Vec<Option<i64>>| {
        Int64Chunked::from_iter_options(name.into(), values.into_iter())
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_column()
    };
    by_name.insert("ts", timestamps("ts", ts.into_iter().map(Some).collect()));
    by_name.insert("referral", Column::new("referral".into(), referral));
    by_name.insert(
        "reported_billable",
        Column::new("reported_billable".into(), billable),
    );
    by_name.insert(
        "conversation_expires",
        timestamps("conversation_expires", expires),
    );
    by_name.insert("rating", Column::new("rating".into(), rating));
    by_name.insert(
        "content_hash",
        Column::new("content_hash".into(), content_hash),
    );
    by_name.insert(
        "source_sha256",
        Column::new("source_sha256".into(), source_sha),
    );
    by_name.insert(
        "source_line",
        Column::new("source_line".into(), source_line),
    );
    let columns = EVENTS
        .columns
        .iter()
        .map(|c| {
            by_name
                .remove(c.name)
                .expect("every events column is decoded")
        })
        .collect();
    conform(DataFrame::new(n, columns).ctx("decoding scratch rows")?)
}

/// Accepted events between the two phases, by UTC date, as rows in memory up to a budget.
/// A run whose rows fit never touches the disk (here, writing a file cost about 6× as much
/// as touching as much fresh memory); a larger one appends everything buffered to the
/// dates' scratch files each time the budget fills, and publishes from the files.
pub struct Spill {
    dir: PathBuf,
    budget_bytes: usize,
    /// The parse workers' pieces, as they came.
    buffers: BTreeMap<NaiveDate, Vec<EventRows>>,
    buffered_bytes: usize,
    /// Rows pushed per date (buffered or spilled).
    rows: BTreeMap<NaiveDate, usize>,
    /// Each date's scratch file and the rows it holds.
    files: BTreeMap<NaiveDate, (PathBuf, usize)>,
}

impl Spill {
    pub fn new(dir: PathBuf, budget_bytes: usize) -> Self {
        Spill {
            dir,
            budget_bytes,
            buffers: BTreeMap::new(),
            buffered_bytes: 0,
            rows: BTreeMap::new(),
            files: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, date: NaiveDate, rows: EventRows) -> Result<()> {
        self.buffered_bytes += rows.bytes.len();
        *self.rows.entry(date).or_default() += rows.rows;
        self.buffers.entry(date).or_default().push(rows);
        if self.buffered_bytes >= self.budget_bytes {
            self.flush_buffers()?;
        }
        Ok(())
    }

    /// After the parse phase: a run that outgrew memory publishes from its files alone,
    /// so that publishing holds one or two dates, not also what is still buffered.
    pub fn finish_parse(&mut self) -> Result<()> {
        if self.files.is_empty() {
            return Ok(());
        }
        self.flush_buffers()
    }

    /// Append whatever is buffered to the dates' scratch files.
    fn flush_buffers(&mut self) -> Result<()> {
        if self.buffers.is_empty() {
            return Ok(());
        }
        let t = std::time::Instant::now();
        std::fs::create_dir_all(&self.dir).map_err(write_err(&self.dir))?;
        for (date, pieces) in std::mem::take(&mut self.buffers) {
            let (path, held) = self.files.entry(date).or_insert_with(|| {
                let name = format!("{}.rows", date.format("%Y-%m-%d"));
                (self.dir.join(name), 0)
            });
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&*path)
                .map_err(write_err(&*path))?;
            let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
            for rows in pieces {
                file.write_all(&rows.bytes).map_err(write_err(&*path))?;
                *held += rows.rows;
            }
            file.flush().map_err(write_err(&*path))?;
        }
        self.buffered_bytes = 0;
        crate::timing::add("spill", t.elapsed());
        Ok(())
    }

    pub fn dates(&self) -> BTreeSet<NaiveDate> {
        self.rows.keys().copied().collect()
    }

    /// How many rows [`Spill::take_date`] will give for `date`.
    pub fn rows_of(&self, date: NaiveDate) -> usize {
        self.rows.get(&date).copied().unwrap_or(0)
    }

    /// All rows of one date (spilled and buffered) as one frame, removed from the spill.
    pub fn take_date(
        &mut self,
        date: NaiveDate,
        sources: &[SourceFile],
    ) -> Result<Option<DataFrame>> {
        let mut pieces = Vec::new();
        let mut origin = self.dir.clone();
        if let Some((path, held)) = self.files.remove(&date) {
            pieces.push(EventRows {
                bytes: std::fs::read(&path).map_err(read_err(&path))?,
                rows: held,
            });
            let _ = std::fs::remove_file(&path);
            origin = path;
        }
        if let Some(buffered) = self.buffers.remove(&date) {
            self.buffered_bytes -= buffered.iter().map(|r| r.bytes.len()).sum::<usize>();
            pieces.extend(buffered);
        }
        self.rows.remove(&date);
        if pieces.iter().all(|p| p.rows == 0) {
            return Ok(None);
        }
        decode_rows(&pieces, sources, &origin).map(Some)
    }
}
