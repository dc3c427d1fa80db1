//! Normalised events as Arrow columns (the `events` table's schema, from `schema.rs`), and
//! the spill that holds them by UTC date between reading and publishing.
//!
//! Between the phases events are held as compact rows ([`EventRows`]), not as Arrow frames:
//! a frame holds 16 bytes per value of every column however short or absent the value is
//! (about 750 bytes an event), a row only what is there (about 360 for a webhook event).
//! The parse workers encode their events; publishing decodes a whole date into one frame.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;
use polars::prelude::*;

use super::normalize::Event;
use super::SourceFile;
use crate::error::{read_err, write_err, Error, PolarsContext, Result};
use crate::schema::{ColumnType, EVENTS};

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

/// Events of one UTC date as rows: each row is its length (little-endian `u32`, so a file
/// can be read in blocks) and then its fields in the `events` schema's order. Text is a
/// length byte and its bytes (255: null; 254: a little-endian `u32` length follows);
/// instants and numbers are little-endian `i64`/`u64`, optional ones behind a presence
/// byte; flags are one byte (0 null, 1 false, 2 true); the source file is its index in
/// the run's sources.
#[derive(Debug, Default)]
pub struct EventRows {
    bytes: Vec<u8>,
    rows: usize,
}

/// A webhook event's row is about 360 bytes.
const TYPICAL_ROW_BYTES: usize = 384;
/// Pieces of fewer events (late events of another day, say) get a buffer of their size.
const RECYCLED_MIN_EVENTS: usize = 512;

/// Buffers of flushed pieces, for the parse workers' next pieces.
static SPARE_BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

const NULL_TEXT: u8 = 255;
const LONG_TEXT: u8 = 254;

impl EventRows {
    /// Room for about `events` rows: a buffer a spill flush gave back when there is one
    /// (a large run then cycles the same memory instead of faulting in fresh pages),
    /// else a new one.
    pub fn with_room_for(events: usize) -> Self {
        let bytes = if events >= RECYCLED_MIN_EVENTS {
            SPARE_BUFFERS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop()
        } else {
            None
        };
        EventRows {
            bytes: bytes.unwrap_or_else(|| Vec::with_capacity(events * TYPICAL_ROW_BYTES)),
            rows: 0,
        }
    }

    /// Memory this piece holds (what the spill's budget counts).
    pub fn held_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Hand the buffer back for [`EventRows::with_room_for`], once its rows are written.
    fn recycle(mut self) {
        if self.bytes.capacity() >= RECYCLED_MIN_EVENTS * TYPICAL_ROW_BYTES {
            self.bytes.clear();
            SPARE_BUFFERS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(self.bytes);
        }
    }

    /// One event of the source file numbered `source` in the run's sources.
    pub fn push(&mut self, e: &Event, source: u32) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
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
        let len = u32::try_from(b.len() - start - 4).expect("a row shorter than 4 GiB");
        b[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.rows += 1;
    }
}

/// Reads [`EventRows`] back, field by field.
struct RowReader<'a> {
    bytes: &'a [u8],
    at: usize,
    origin: &'a std::path::Path,
}

/// Scratch rows that cannot be read back as written.
fn unreadable_scratch(origin: &std::path::Path, what: impl std::fmt::Display) -> Error {
    Error::Failed {
        what: format!("reading scratch rows of {}", origin.display()),
        message: format!("{what}; run the ingest again (it starts from the raw files)"),
    }
}

impl<'a> RowReader<'a> {
    fn corrupt(&self, what: &str) -> Error {
        unreadable_scratch(self.origin, format!("corrupt at byte {} ({what})", self.at))
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

/// The `events` table's text columns, in schema order: the order a row holds them in (the
/// source file's hash, last, is not in the row but looked up by the source's index).
fn text_columns() -> impl Iterator<Item = &'static str> {
    EVENTS
        .columns
        .iter()
        .filter(|c| c.kind == ColumnType::Text)
        .map(|c| c.name)
}

/// Builds the `events` frame of rows fed to it one at a time.
struct RowsDecoder<'s> {
    sources: &'s [SourceFile],
    rows: usize,
    text: Vec<StringChunkedBuilder>,
    ts: Vec<i64>,
    referral: Vec<Option<bool>>,
    billable: Vec<Option<bool>>,
    expires: Vec<Option<i64>>,
    rating: Vec<Option<i8>>,
    content_hash: Vec<u64>,
    source_line: Vec<i64>,
}

impl<'s> RowsDecoder<'s> {
    fn new(sources: &'s [SourceFile], n: usize) -> Self {
        RowsDecoder {
            sources,
            rows: 0,
            text: text_columns()
                .map(|name| StringChunkedBuilder::new(name.into(), n))
                .collect(),
            ts: Vec::with_capacity(n),
            referral: Vec::with_capacity(n),
            billable: Vec::with_capacity(n),
            expires: Vec::with_capacity(n),
            rating: Vec::with_capacity(n),
            content_hash: Vec::with_capacity(n),
            source_line: Vec::with_capacity(n),
        }
    }

    /// Decode every whole row at the start of `bytes`; returns how many bytes they took
    /// (a row cut short at the end is left for the next block).
    fn decode_whole_rows(&mut self, bytes: &[u8], origin: &std::path::Path) -> Result<usize> {
        let mut at = 0;
        while let Some(head) = bytes.get(at..at + 4) {
            let len = u32::from_le_bytes(head.try_into().expect("4 bytes")) as usize;
            let Some(row) = bytes.get(at + 4..at + 4 + len) else {
                break;
            };
            let mut r = RowReader {
                bytes: row,
                at: 0,
                origin,
            };
            self.row(&mut r)?;
            if r.at != row.len() {
                return Err(r.corrupt("a row longer than its fields"));
            }
            at += 4 + len;
        }
        Ok(at)
    }

    fn row(&mut self, r: &mut RowReader<'_>) -> Result<()> {
        let text = &mut self.text;
        // The row's fields in order; `t!(i, …)` moves text field i into its builder.
        macro_rules! t {
            ($($i:expr),+) => {$( text[$i].append_option(r.text()?); )+};
        }
        t!(0, 1);
        self.ts.push(r.i64()?);
        t!(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13);
        self.referral.push(r.flag()?);
        t!(14, 15);
        self.billable.push(r.flag()?);
        t!(16, 17, 18, 19);
        let expires = if r.present()? { Some(r.i64()?) } else { None };
        self.expires.push(expires);
        t!(20, 21, 22, 23, 24);
        let rating = if r.present()? {
            Some(r.array::<1>()?[0] as i8)
        } else {
            None
        };
        self.rating.push(rating);
        self.content_hash.push(u64::from_le_bytes(r.array()?));
        let source = u32::from_le_bytes(r.array()?) as usize;
        let source = self
            .sources
            .get(source)
            .ok_or_else(|| r.corrupt("a source that is not of this run"))?;
        text[25].append_value(&source.name);
        text[26].append_value(&source.sha256);
        self.source_line.push(r.i64()?);
        self.rows += 1;
        Ok(())
    }

    fn finish(self) -> Result<DataFrame> {
        let n = self.rows;
        let mut by_name: std::collections::HashMap<&str, Column> = text_columns()
            .zip(self.text)
            .map(|(name, b)| (name, b.finish().into_column()))
            .collect();
        let timestamps = |name: &str, values: Int64Chunked| {
            values
                .with_name(name.into())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column()
        };
        let ts = Int64Chunked::from_vec("ts".into(), self.ts);
        let expires = Int64Chunked::from_iter_options("".into(), self.expires.into_iter());
        by_name.insert("ts", timestamps("ts", ts));
        by_name.insert(
            "conversation_expires",
            timestamps("conversation_expires", expires),
        );
        for (name, values) in [
            ("referral", self.referral),
            ("reported_billable", self.billable),
        ] {
            by_name.insert(name, Column::new(name.into(), values));
        }
        by_name.insert("rating", Column::new("rating".into(), self.rating));
        by_name.insert(
            "content_hash",
            Column::new("content_hash".into(), self.content_hash),
        );
        by_name.insert(
            "source_line",
            Column::new("source_line".into(), self.source_line),
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
}

/// A scratch file is read back in blocks of this size, not whole.
const READ_BLOCK_BYTES: u64 = 8 << 20;

/// Decode a date's scratch file into `decoder`, block by block.
fn decode_file(decoder: &mut RowsDecoder<'_>, path: &std::path::Path) -> Result<()> {
    each_block_of(path, &mut |block| decoder.decode_whole_rows(block, path))
}

/// Read a scratch file in blocks, handing each to `use_rows` (which returns how many bytes
/// of whole rows it used; the rest starts the next block). A file must end on a row's end.
fn each_block_of(
    path: &std::path::Path,
    use_rows: &mut dyn FnMut(&[u8]) -> Result<usize>,
) -> Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(read_err(path))?;
    let mut block: Vec<u8> = Vec::new();
    loop {
        let got = (&mut file)
            .take(READ_BLOCK_BYTES)
            .read_to_end(&mut block)
            .map_err(read_err(path))?;
        let used = use_rows(&block)?;
        if got == 0 {
            if used != block.len() {
                return Err(unreadable_scratch(path, "the file ends inside a row"));
            }
            return Ok(());
        }
        block.drain(..used);
    }
}

/// The business and `ts` of a row (its header included): what splitting a date reads.
fn business_and_ts<'a>(row: &'a [u8], origin: &'a std::path::Path) -> Result<(&'a str, i64)> {
    let mut r = RowReader {
        bytes: row,
        at: 4,
        origin,
    };
    r.text()?; // event_key
    r.text()?; // event_type
    let ts = r.i64()?;
    let business = r
        .text()?
        .ok_or_else(|| r.corrupt("a row without a business"))?;
    Ok((business, ts))
}

/// Call `f` with every whole row (header included) of `bytes`; returns the bytes used.
fn each_whole_row(bytes: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<usize> {
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + 4) {
        let len = u32::from_le_bytes(head.try_into().expect("4 bytes")) as usize;
        let Some(row) = bytes.get(at..at + 4 + len) else {
            break;
        };
        f(row)?;
        at += 4 + len;
    }
    Ok(at)
}

/// The rows of one bucket of a date split by business (issue 18), in a scratch file.
pub struct BucketRows {
    path: PathBuf,
    rows: usize,
}

impl BucketRows {
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The bucket's rows as one frame (none if it has no new rows); the file goes.
    pub fn take(self, sources: &[SourceFile]) -> Result<Option<DataFrame>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let mut decoder = RowsDecoder::new(sources, self.rows);
        decode_file(&mut decoder, &self.path)?;
        let _ = std::fs::remove_file(&self.path);
        if decoder.rows != self.rows {
            return Err(unreadable_scratch(
                &self.path,
                format!("{} rows read back of {}", decoder.rows, self.rows),
            ));
        }
        decoder.finish().map(Some)
    }
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
    /// Each date's scratch file, once a flush has written one.
    files: BTreeMap<NaiveDate, PathBuf>,
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
        self.buffered_bytes += rows.held_bytes();
        *self.rows.entry(date).or_default() += rows.rows;
        self.buffers.entry(date).or_default().push(rows);
        if self.buffered_bytes >= self.budget_bytes {
            self.flush_buffers()?;
        }
        Ok(())
    }

    /// After the parse phase: a run that outgrew memory publishes from its files alone,
    /// so that publishing holds one or two dates, not also what is still buffered; the
    /// spare buffers are dropped.
    pub fn finish_parse(&mut self) -> Result<()> {
        if !self.files.is_empty() {
            self.flush_buffers()?;
        }
        SPARE_BUFFERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        Ok(())
    }

    /// Append whatever is buffered to the dates' scratch files.
    fn flush_buffers(&mut self) -> Result<()> {
        if self.buffers.is_empty() {
            return Ok(());
        }
        let t = std::time::Instant::now();
        std::fs::create_dir_all(&self.dir).map_err(write_err(&self.dir))?;
        for (date, pieces) in std::mem::take(&mut self.buffers) {
            let path = self
                .files
                .entry(date)
                .or_insert_with(|| self.dir.join(format!("{}.rows", date.format("%Y-%m-%d"))));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&*path)
                .map_err(write_err(&*path))?;
            let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
            for rows in pieces {
                file.write_all(&rows.bytes).map_err(write_err(&*path))?;
                rows.recycle();
            }
            file.flush().map_err(write_err(&*path))?;
        }
        self.buffered_bytes = 0;
        crate::timing::add("spill", t.elapsed());
        Ok(())
    }

    /// Did the run outgrow its memory budget (and publish from scratch files)?
    pub fn spilled(&self) -> bool {
        !self.files.is_empty()
    }

    pub fn dates(&self) -> BTreeSet<NaiveDate> {
        self.rows.keys().copied().collect()
    }

    /// How many rows [`Spill::take_date`] will give for `date`.
    pub fn rows_of(&self, date: NaiveDate) -> usize {
        self.rows.get(&date).copied().unwrap_or(0)
    }

    /// Call `f` with every row of `date` (header included), spilled then buffered: the
    /// order they were pushed in.
    fn each_row_of(&self, date: NaiveDate, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        if let Some(path) = self.files.get(&date) {
            each_block_of(path, &mut |block| each_whole_row(block, f))?;
        }
        for piece in self.buffers.get(&date).into_iter().flatten() {
            if each_whole_row(&piece.bytes, f)? != piece.bytes.len() {
                return Err(unreadable_scratch(
                    &self.dir,
                    "a row held in memory is cut short",
                ));
            }
        }
        Ok(())
    }

    /// Rows of `date` per business and per minute of the UTC day (`ts` at or after
    /// `day_start`): what a date too large for one bucket is split by.
    pub fn cells_of(
        &self,
        date: NaiveDate,
        day_start: i64,
        cells: &mut std::collections::HashMap<String, std::collections::HashMap<u16, u64>>,
    ) -> Result<()> {
        let dir = self.dir.clone();
        self.each_row_of(date, &mut |row| {
            let (business, ts) = business_and_ts(row, &dir)?;
            let minute = minute_of_day(ts, day_start);
            match cells.get_mut(business) {
                Some(m) => *m.entry(minute).or_default() += 1,
                None => {
                    cells.insert(business.to_string(), [(minute, 1)].into());
                }
            }
            Ok(())
        })
    }

    /// Move `date`'s rows into one scratch file per bucket (`bucket_of` a row's business
    /// and minute of the day), in the order they were pushed; `date` leaves the spill.
    pub fn split_date(
        &mut self,
        date: NaiveDate,
        day_start: i64,
        buckets: usize,
        bucket_of: &dyn Fn(&str, u16) -> usize,
    ) -> Result<Vec<BucketRows>> {
        std::fs::create_dir_all(&self.dir).map_err(write_err(&self.dir))?;
        let day = date.format("%Y-%m-%d");
        let dir = self.dir.clone();
        let mut buckets_rows = Vec::with_capacity(buckets);
        // A pass over the date's rows writes at most this many bucket files at once (open
        // files and their buffers stay few however many buckets a small budget makes).
        for first in (0..buckets).step_by(SPLIT_FILES_PER_PASS) {
            let last = (first + SPLIT_FILES_PER_PASS).min(buckets);
            let mut out: Vec<(std::io::BufWriter<std::fs::File>, BucketRows)> = Vec::new();
            for k in first..last {
                let path = self.dir.join(format!("{day}.bucket-{k}.rows"));
                let file = std::fs::File::create(&path).map_err(write_err(&path))?;
                out.push((
                    std::io::BufWriter::with_capacity(64 << 10, file),
                    BucketRows { path, rows: 0 },
                ));
            }
            self.each_row_of(date, &mut |row| {
                let (business, ts) = business_and_ts(row, &dir)?;
                let k = bucket_of(business, minute_of_day(ts, day_start));
                if (first..last).contains(&k) {
                    let (w, b) = &mut out[k - first];
                    w.write_all(row).map_err(write_err(&b.path))?;
                    b.rows += 1;
                }
                Ok(())
            })?;
            for (mut w, b) in out {
                w.flush().map_err(write_err(&b.path))?;
                buckets_rows.push(b);
            }
        }
        let buckets = buckets_rows;
        self.rows.remove(&date);
        if let Some(path) = self.files.remove(&date) {
            let _ = std::fs::remove_file(&path);
        }
        for piece in self.buffers.remove(&date).unwrap_or_default() {
            self.buffered_bytes -= piece.held_bytes();
            piece.recycle();
        }
        Ok(buckets)
    }

    /// All rows of one date (spilled and buffered) as one frame, removed from the spill.
    pub fn take_date(
        &mut self,
        date: NaiveDate,
        sources: &[SourceFile],
    ) -> Result<Option<DataFrame>> {
        let rows = self.rows.remove(&date).unwrap_or(0);
        if rows == 0 {
            return Ok(None);
        }
        let mut decoder = RowsDecoder::new(sources, rows);
        // Spilled rows first, then those still buffered: the order they were pushed in.
        if let Some(path) = self.files.remove(&date) {
            decode_file(&mut decoder, &path)?;
            let _ = std::fs::remove_file(&path);
        }
        for piece in self.buffers.remove(&date).unwrap_or_default() {
            self.buffered_bytes -= piece.held_bytes();
            if decoder.decode_whole_rows(&piece.bytes, &self.dir)? != piece.bytes.len() {
                return Err(unreadable_scratch(
                    &self.dir,
                    "a row held in memory is cut short",
                ));
            }
        }
        if decoder.rows != rows {
            return Err(unreadable_scratch(
                &self.dir,
                format!(
                    "{} rows of {date} read back of {rows} written",
                    decoder.rows
                ),
            ));
        }
        decoder.finish().map(Some)
    }
}

/// Bucket files one pass of [`Spill::split_date`] writes at most.
const SPLIT_FILES_PER_PASS: usize = 128;

/// The minute of the UTC day that starts at `day_start` (µs) of an instant on that day.
pub fn minute_of_day(ts: i64, day_start: i64) -> u16 {
    ((ts - day_start).clamp(0, crate::time::DAY_MICROS - 1) / 60_000_000) as u16
}
