//! Raw files: which ones to read (files and folders, in a defined order), how to open them
//! (plain, gzip or zstd, recognised by their first bytes), which format they hold (from
//! their content), and how their lines reach the parsers in parallel chunks.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::normalize::{Normalizer, Reason, Rejection};
use super::{eventlog, Chunk, FormatChoice, LineOutcome, SourceFile};
use crate::error::{read_err, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Whatsapp,
    EventsJson,
    EventsCsv,
}

impl InputFormat {
    pub fn label(self) -> &'static str {
        match self {
            InputFormat::Whatsapp => "whatsapp",
            InputFormat::EventsJson => "events-ndjson",
            InputFormat::EventsCsv => "events-csv",
        }
    }
}

/// What the listing found a path to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A raw log to read.
    Log,
    /// Still being written (`.part`, `.tmp`): reported, not read.
    Deferred,
    /// In a folder, but not a raw log (its extension): reported as `skipped_file`, not read.
    Unsupported(String),
}

#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub listed: Listed,
}

const READABLE: [&str; 4] = ["ndjson", "jsonl", "json", "csv"];

/// What a file in a folder is, by its name; `None` for a hidden file (a name starting with
/// a dot: editors' and uploaders' own files), which is passed over in silence.
fn classify(path: &Path) -> Option<Listed> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.starts_with('.') {
        return None;
    }
    if name.ends_with(".part") || name.ends_with(".tmp") {
        return Some(Listed::Deferred);
    }
    let base = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    match base.rsplit_once('.') {
        Some((_, ext)) if READABLE.contains(&ext) => Some(Listed::Log),
        found => Some(Listed::Unsupported(format!(
            "not a raw log: {}; msgmeter reads .ndjson, .jsonl, .json and .csv files, \
             optionally .gz or .zst",
            match found {
                Some((_, ext)) => format!("the extension .{ext} is not one it reads"),
                None => "the name has no extension".to_string(),
            }
        ))),
    }
}

/// Files named on the command line, in that order; a folder's files in lexicographic path
/// order. Files named explicitly are read whatever their extension; a folder's files that
/// are not raw logs are listed (to be reported), not read.
pub fn list_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            for f in found {
                if let Some(listed) = classify(&f) {
                    out.push(InputFile { path: f, listed });
                }
            }
        } else if p.is_file() {
            let listed = match classify(p) {
                Some(Listed::Deferred) => Listed::Deferred,
                _ => Listed::Log,
            };
            out.push(InputFile {
                path: p.clone(),
                listed,
            });
        } else {
            return Err(super::no_such_input(p));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let path = entry.map_err(read_err(dir))?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

pub fn sha256_of_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(read_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(read_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Open a file, decompressing gzip or zstd as their magic bytes say.
pub fn open_decoded(path: &Path) -> Result<Box<dyn Read + Send>> {
    let mut f = File::open(path).map_err(read_err(path))?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = f.read(&mut magic[got..]).map_err(read_err(path))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let f = File::open(path).map_err(read_err(path))?;
    let buffered = BufReader::with_capacity(1 << 20, f);
    Ok(if got >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else if got == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::Decoder::with_buffer(buffered).map_err(read_err(path))?)
    } else {
        Box::new(buffered)
    })
}

/// Decide a file's format from its first non-blank lines.
pub fn detect_format(path: &Path, choice: FormatChoice) -> Result<InputFormat> {
    let mut head = Vec::with_capacity(256 * 1024);
    // A file cut short (a truncated `.gz`) is judged by what could be read: its reader
    // turns the rest into one `truncated_input` record.
    let _ = open_decoded(path)?.take(256 * 1024).read_to_end(&mut head);
    let text = String::from_utf8_lossy(&head);
    let mut first_lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(20);
    let first = first_lines.clone().next().unwrap_or("");
    let looks_json = first.starts_with('{') || first.starts_with('[');
    let named_csv = {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let base = name
            .strip_suffix(".gz")
            .or_else(|| name.strip_suffix(".zst"))
            .unwrap_or(&name)
            .to_string();
        base.ends_with(".csv")
    };
    // A `.csv` file is read as the event log's CSV (its header is then checked for the
    // required columns); so is any file whose first line is a header naming `event_id`.
    let looks_csv_header =
        !looks_json && (named_csv || (first.contains("event_id") && first.contains(',')));
    match choice {
        FormatChoice::Whatsapp => Ok(InputFormat::Whatsapp),
        FormatChoice::Events if looks_json => Ok(InputFormat::EventsJson),
        FormatChoice::Events => Ok(InputFormat::EventsCsv),
        FormatChoice::Auto => {
            if looks_csv_header {
                return Ok(InputFormat::EventsCsv);
            }
            // Webhook bodies name the object and carry `entry`; event-log records carry
            // `event_id`. Look past corrupt first lines.
            for line in first_lines.by_ref() {
                if line.contains("\"entry\"") && line.contains("\"object\"") {
                    return Ok(InputFormat::Whatsapp);
                }
                if line.contains("\"event_id\"") {
                    return Ok(InputFormat::EventsJson);
                }
            }
            if first.is_empty() {
                // An empty file: any parser reads zero records from it.
                return Ok(InputFormat::EventsJson);
            }
            Err(Error::Data {
                path: path.into(),
                line: 1,
                message: "cannot tell the format from the first lines (neither webhook bodies \
                          with `object` and `entry`, nor event-log records with `event_id`); \
                          pass --format whatsapp or --format events"
                    .into(),
            })
        }
    }
}

/// Lines handed to the parsers at a time: big enough to keep both cores busy, small enough
/// to keep memory flat.
const CHUNK_BYTES: usize = 8 << 20;

pub type Sink<'s> = dyn FnMut(Chunk<'_>) -> Result<()> + Send + 's;

/// The read buffer's size: a chunk, and room for the line it cuts at its end.
const READ_BUFFER_BYTES: usize = CHUNK_BYTES + (1 << 20);

thread_local! {
    /// The read buffer, kept from file to file (a new one per file faulted in fresh pages
    /// for every file) unless a long line made it grow; dropped after the parse phase.
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Drop this thread's read buffer (after the parse phase).
pub fn forget_read_buffer() {
    drop(READ_BUFFER.take());
}

/// Read every record of a file, handing `sink` one parsed chunk at a time, in file order.
pub fn read_records(
    path: &Path,
    format: InputFormat,
    n: &Normalizer<'_>,
    max_line_bytes: usize,
    source: &SourceFile,
    sink: &mut Sink<'_>,
) -> Result<()> {
    match format {
        InputFormat::EventsCsv => read_csv(path, n, max_line_bytes, source, sink),
        _ => read_ndjson(path, format, n, max_line_bytes, source, sink),
    }
}

fn single(line_no: u64, raw: &[u8], outcome: LineOutcome) -> Chunk<'_> {
    Chunk {
        lines: vec![(line_no, std::borrow::Cow::Borrowed(raw), outcome)],
        rows: Vec::new(),
    }
}

fn read_ndjson(
    path: &Path,
    format: InputFormat,
    n: &Normalizer<'_>,
    max_line_bytes: usize,
    source: &SourceFile,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let mut input = open_decoded(path)?;
    let mut buf: Vec<u8> = READ_BUFFER.take();
    buf.clear();
    buf.reserve(READ_BUFFER_BYTES);
    let mut line_no: u64 = 0;
    let mut eof = false;
    // A line that outgrows the buffer (longer than the limit and than a chunk once a whole
    // chunk is buffered after its start) is not buffered whole: its head is kept for the
    // quarantine and the rest skipped up to the next newline. A shorter over-long line is
    // buffered and rejected by the parser.
    let mut overlong: Option<(u64, Vec<u8>, usize)> = None;
    // The previous chunk, parsed but not yet recorded: it is handed to `sink` while the
    // workers parse the next one.
    let mut pending: Option<Chunk<'static>> = None;
    // Why reading stopped before the end of the file, if it did.
    let mut broken: Option<std::io::Error> = None;
    // Bytes decoded so far: a file that breaks before its first byte is unreadable (a
    // compressed file with a corrupt header), not cut short.
    let mut decoded: u64 = 0;
    while !eof {
        // Appended to the buffer's spare capacity: a plain file's bytes are read straight
        // into it, with no zero-filling first (the decoders of compressed files fill it
        // through their own buffers).
        let read_clock = std::time::Instant::now();
        let before = buf.len();
        let got = match (&mut input).take(CHUNK_BYTES as u64).read_to_end(&mut buf) {
            Ok(got) => got,
            Err(e) => {
                // What was read before the error is in `buf`: its whole lines are kept.
                broken = Some(e);
                buf.len() - before
            }
        };
        eof = got < CHUNK_BYTES || broken.is_some();
        crate::timing::add("read", read_clock.elapsed());
        if decoded == 0 && got == 0 {
            if let Some(e) = broken.take() {
                READ_BUFFER.set(buf);
                return Err(read_err(path)(e));
            }
        }
        decoded += got as u64;
        let mut consumed = 0;
        if let Some((first_line, mut head, mut len)) = overlong.take() {
            if let Some(p) = pending.take() {
                sink(p)?;
            }
            match memchr::memchr(b'\n', &buf) {
                Some(nl) => {
                    len += nl;
                    consumed = nl + 1;
                    head.truncate(4096);
                    finish_overlong(first_line, &head, len, max_line_bytes, sink)?;
                }
                None if !eof => {
                    len += buf.len();
                    buf.clear();
                    overlong = Some((first_line, head, len));
                    continue;
                }
                None => {
                    len += buf.len();
                    consumed = buf.len();
                    finish_overlong(first_line, &head, len, max_line_bytes, sink)?;
                }
            }
        }
        let body = &buf[consumed..];
        let complete = if eof && broken.is_none() {
            body.len()
        } else {
            match memchr::memrchr(b'\n', body) {
                Some(i) => i + 1,
                None => 0,
            }
        };
        let mut lines: Vec<(u64, &[u8])> = Vec::with_capacity(complete / 400 + 16);
        let split_clock = std::time::Instant::now();
        split_lines(&body[..complete], &mut line_no, &mut lines);
        crate::timing::add("read", split_clock.elapsed());
        let t0 = std::time::Instant::now();
        let previous = pending.take();
        let (parsed, recorded) = rayon::join(
            || {
                super::parse_parallel(
                    &lines,
                    |(no, raw)| (*no, *raw),
                    |(_, raw), out| super::parse_json_line(raw, format, n, max_line_bytes, out),
                    source,
                )
                .map(Chunk::into_owned)
            },
            || previous.map_or(Ok(()), &mut *sink),
        );
        recorded?;
        pending = Some(parsed?);
        crate::timing::add("parse+sink", t0.elapsed());
        let rest = body.len() - complete;
        if !eof && rest > max_line_bytes.max(CHUNK_BYTES) {
            line_no += 1;
            overlong = Some((line_no, body[complete..complete + 4096].to_vec(), rest));
            buf.clear();
        } else {
            let tail_start = consumed + complete;
            buf.drain(..tail_start);
        }
    }
    if let Some(p) = pending.take() {
        let _clock = crate::timing::Stage::start("record_last");
        sink(p)?;
    }
    if let Some(e) = broken {
        // The line cut short (what of it was read stays in the buffer) and everything
        // after it: one record.
        truncated(line_no + 1, &buf[..buf.len().min(4096)], &e, sink)?;
    }
    if buf.capacity() <= READ_BUFFER_BYTES {
        READ_BUFFER.set(buf);
    }
    Ok(())
}

/// Append the lines of `text` (whole lines; the last may lack its newline) to `lines`,
/// numbered on from `line_no`, leaving out blank ones (a blank line is not a record) and
/// a line's `\r` before its newline. Newlines are found by `memchr`, not byte by byte: this
/// runs on the reading thread while the parse workers wait.
fn split_lines<'a>(text: &'a [u8], line_no: &mut u64, lines: &mut Vec<(u64, &'a [u8])>) {
    let mut push = |raw: &'a [u8]| {
        *line_no += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if !raw.iter().all(u8::is_ascii_whitespace) {
            lines.push((*line_no, raw));
        }
    };
    let mut start = 0;
    for newline in memchr::memchr_iter(b'\n', text) {
        push(&text[start..newline]);
        start = newline + 1;
    }
    if start < text.len() {
        push(&text[start..]);
    }
}

/// The one record that stands for the rest of a file that could not be read.
fn truncated(line_no: u64, tail: &[u8], e: &std::io::Error, sink: &mut Sink<'_>) -> Result<()> {
    let mut out = LineOutcome::default();
    out.reject_line(Rejection::new(
        Reason::TruncatedInput,
        format!(
            "reading broke at line {line_no}: {e}; the lines before it were ingested, this \
             line and the rest of the file could not be read (a file cut short?)"
        ),
    ));
    sink(single(line_no, tail, out))
}

fn finish_overlong(
    line_no: u64,
    head: &[u8],
    len: usize,
    max_line_bytes: usize,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let mut out = LineOutcome::default();
    out.reject_line(Rejection::new(
        Reason::LineTooLong,
        format!("line is {len} bytes, over the limit of {max_line_bytes}"),
    ));
    sink(single(line_no, head, out))
}

const CSV_BATCH_ROWS: usize = 32 * 1024;

fn read_csv(
    path: &Path,
    n: &Normalizer<'_>,
    max_line_bytes: usize,
    source: &SourceFile,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(open_decoded(path)?);
    let header = reader
        .headers()
        .map_err(|e| Error::Data {
            path: path.into(),
            line: 1,
            message: format!("cannot read the CSV header: {e}"),
        })?
        .clone();
    let missing: Vec<&str> = eventlog::REQUIRED_CSV_COLUMNS
        .iter()
        .copied()
        .filter(|f| !header.iter().any(|h| h.trim() == *f))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Data {
            path: path.into(),
            line: 1,
            message: format!(
                "the CSV header lacks the required column{} {}; the header is: {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                header.iter().collect::<Vec<_>>().join(",")
            ),
        });
    }
    let columns = eventlog::csv_columns(&header);
    let mut done = false;
    // Where the next record starts (after the header: line 2).
    let mut next_line = reader.position().line();
    let mut broken: Option<(u64, std::io::Error)> = None;
    while !done {
        // Each row with its raw text (for the quarantine, should it be rejected).
        let mut batch: Vec<(u64, Vec<u8>, csv::ByteRecord)> = Vec::with_capacity(CSV_BATCH_ROWS);
        while batch.len() < CSV_BATCH_ROWS {
            let mut rec = csv::ByteRecord::new();
            match reader.read_byte_record(&mut rec) {
                Ok(true) => {
                    let line = rec.position().map_or(0, |p| p.line());
                    next_line = reader.position().line();
                    batch.push((line, Vec::new(), rec));
                }
                Ok(false) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    if let csv::ErrorKind::Io(io) = e.kind() {
                        // The rest of the file could not be read (a `.gz` cut short).
                        let io = std::io::Error::new(io.kind(), io.to_string());
                        broken = Some((next_line, io));
                        done = true;
                        break;
                    }
                    let line = e.position().map_or(0, |p| p.line());
                    let mut out = LineOutcome::default();
                    out.reject_line(Rejection::new(Reason::MalformedJson, format!("CSV: {e}")));
                    sink(single(line, b"", out))?;
                }
            }
        }
        let parse_row = |(_, _, rec): &(u64, Vec<u8>, csv::ByteRecord), out: &mut LineOutcome| {
            let size: usize = rec.iter().map(<[u8]>::len).sum();
            if size > max_line_bytes {
                out.reject_line(Rejection::new(
                    Reason::LineTooLong,
                    format!("row is {size} bytes, over the limit of {max_line_bytes}"),
                ));
                return;
            }
            match csv::StringRecord::from_byte_record(rec.clone()) {
                Err(_) => out.reject_line(Rejection::new(
                    Reason::InvalidUtf8,
                    "row is not valid UTF-8",
                )),
                Ok(row) => {
                    let r = eventlog::EventLogRecord::from_csv(&columns, &row);
                    match eventlog::normalise(&r, n) {
                        Ok(e) => out.accept(e),
                        Err(why) => out.reject_line(why),
                    }
                }
            }
        };
        // Rows are re-serialised for the quarantine only when rejected: parse first, then
        // fill in the raw text of the rejected ones.
        let chunk = super::parse_parallel(
            &batch,
            |(line, raw, _)| (*line, raw.as_slice()),
            parse_row,
            source,
        )?;
        let rejected: Vec<usize> = chunk
            .lines
            .iter()
            .enumerate()
            .filter(|(_, (_, _, o))| !o.rejections.is_empty())
            .map(|(i, _)| i)
            .collect();
        if rejected.is_empty() {
            sink(chunk)?;
            continue;
        }
        let Chunk { lines, rows } = chunk;
        let outcomes: Vec<(u64, LineOutcome)> = lines.into_iter().map(|(l, _, o)| (l, o)).collect();
        for &i in &rejected {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b' '))
                .from_writer(Vec::new());
            let _ = w.write_byte_record(&batch[i].2);
            batch[i].1 = w.into_inner().unwrap_or_default();
        }
        sink(Chunk {
            lines: outcomes
                .into_iter()
                .zip(&batch)
                .map(|((l, o), (_, raw, _))| (l, std::borrow::Cow::Borrowed(raw.as_slice()), o))
                .collect(),
            rows,
        })?;
    }
    if let Some((line, e)) = broken {
        truncated(line, b"", &e, sink)?;
    }
    Ok(())
}
