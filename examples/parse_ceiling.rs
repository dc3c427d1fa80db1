//! Parse ceiling for webhook ingestion: how fast can this machine merely *parse* NDJSON
//! webhook bodies (events.md §1) into typed structs, with nothing else to do — no
//! normalisation, pseudonyms, dedupe or Parquet? `scripts/bench_ingest.sh` divides
//! `msgmeter ingest`'s throughput by this number to show how much of the budget the rest of
//! the pipeline costs.
//!
//! Deliberately standalone (serde, serde_json and rayon only; nothing from the msgmeter
//! library) so it measures serde_json on this input, not our code.
//!
//! Usage: `cargo run --release --example parse_ceiling -- FILE...`
//! Prints: `parse_ceiling items=N seconds=S items_per_second=X bytes_per_second=Y threads=T`
//! (plus `lines=` and `unparseable_lines=`, which scripts can ignore).

use std::time::Instant;

use rayon::prelude::*;

/// The webhook shape, as far as msgmeter reads it. Strings are borrowed from the input
/// buffer (`Text`), so a well-formed line costs no allocation beyond its `Vec`s; fields
/// msgmeter ignores are not declared, and serde skips them without building anything.
mod webhook {
    // The fields exist so that serde does the work of extracting them; the ceiling never
    // looks at most of them, and that is the point.
    #![allow(dead_code)]

    use std::borrow::Cow;

    use serde::Deserialize;

    /// A JSON string borrowed from the line when it has no escapes, owned when it does.
    /// A newtype because serde only borrows a `Cow<str>` that is a field's whole type, not
    /// one inside an `Option`.
    #[derive(Deserialize)]
    pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

    #[derive(Deserialize)]
    pub struct Body<'a> {
        #[serde(borrow, default)]
        pub object: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub entry: Vec<Entry<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Entry<'a> {
        #[serde(borrow, default)]
        pub id: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub changes: Vec<Change<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Change<'a> {
        #[serde(borrow, default)]
        pub field: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub value: Option<Value<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Value<'a> {
        #[serde(borrow, default)]
        pub metadata: Option<Metadata<'a>>,
        #[serde(borrow, default)]
        pub contacts: Vec<Contact<'a>>,
        #[serde(borrow, default)]
        pub messages: Vec<Message<'a>>,
        #[serde(borrow, default)]
        pub statuses: Vec<Status<'a>>,
        /// Messages the business sent from its phone app (`smb_message_echoes` changes).
        #[serde(borrow, default)]
        pub message_echoes: Vec<Message<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Metadata<'a> {
        #[serde(borrow, default)]
        pub phone_number_id: Option<Text<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Contact<'a> {
        #[serde(borrow, default)]
        pub wa_id: Option<Text<'a>>,
    }

    /// `timestamp` is typed as a string: the wire format (and the generator) write epoch
    /// seconds as strings. A numeric timestamp makes the line unparseable here, where
    /// msgmeter would accept it; untagged string-or-number enums would slow every line.
    #[derive(Deserialize)]
    pub struct Message<'a> {
        #[serde(borrow, default)]
        pub from: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub id: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub timestamp: Option<Text<'a>>,
        #[serde(borrow, default, rename = "type")]
        pub message_type: Option<Text<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Status<'a> {
        #[serde(borrow, default)]
        pub id: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub status: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub timestamp: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub recipient_id: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub conversation: Option<Conversation<'a>>,
        #[serde(borrow, default)]
        pub pricing: Option<Pricing<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Conversation<'a> {
        #[serde(borrow, default)]
        pub id: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub expiration_timestamp: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub origin: Option<Origin<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Origin<'a> {
        #[serde(borrow, default, rename = "type")]
        pub origin_type: Option<Text<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Pricing<'a> {
        #[serde(default)]
        pub billable: Option<bool>,
        #[serde(borrow, default)]
        pub pricing_model: Option<Text<'a>>,
        #[serde(borrow, default)]
        pub category: Option<Text<'a>>,
        #[serde(borrow, default, rename = "type")]
        pub pricing_type: Option<Text<'a>>,
        /// Some senders spell `type` this way (events.md §1).
        #[serde(borrow, default, rename = "pricing_type")]
        pub pricing_type_alt: Option<Text<'a>>,
    }
}

/// What the workers add up. Kept as plain counters so that the reduction is trivially
/// associative and the order rayon combines them in does not matter.
#[derive(Default, Clone, Copy)]
struct Tally {
    lines: u64,
    items: u64,
    unparseable: u64,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            lines: self.lines + other.lines,
            items: self.items + other.items,
            unparseable: self.unparseable + other.unparseable,
        }
    }
}

/// Items counted the way msgmeter counts webhook records (events.md §4): every
/// `messages[]` and `statuses[]` element of a messaging change, and one per change of any
/// other `field` (msgmeter counts those as skipped records).
fn parse_line(line: &[u8]) -> Tally {
    // Blank lines (including the empty piece after the final newline) are not records.
    if line.iter().all(u8::is_ascii_whitespace) {
        return Tally::default();
    }
    let mut tally = Tally {
        lines: 1,
        ..Tally::default()
    };
    // UTF-8 validation is part of what ingest must do before `from_str`, so it is timed too.
    let parsed = std::str::from_utf8(line)
        .ok()
        .and_then(|text| serde_json::from_str::<webhook::Body<'_>>(text).ok());
    let Some(body) = parsed else {
        tally.unparseable = 1;
        return tally;
    };
    for change in body.entry.iter().flat_map(|e| &e.changes) {
        let field = change.field.as_ref().map(|f| f.0.as_ref());
        tally.items += match (field, &change.value) {
            (Some("messages" | "smb_message_echoes"), Some(v)) => {
                (v.messages.len() + v.statuses.len() + v.message_echoes.len()) as u64
            }
            _ => 1,
        };
    }
    // Keep the optimiser from discarding the parsed body (and so the parse) unread.
    std::hint::black_box(&body);
    tally
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: parse_ceiling FILE...  (NDJSON webhook bodies, one per line)");
        std::process::exit(2);
    }
    // Read everything first: the ceiling is the parse alone, so disk and page-cache speed
    // must not enter the timing. Bytes, not `String`s, because generated files contain a few
    // deliberately invalid UTF-8 lines and one of them must not reject a whole file.
    let buffers: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| {
            std::fs::read(p).unwrap_or_else(|e| {
                eprintln!("parse_ceiling: cannot read {p}: {e}");
                std::process::exit(1);
            })
        })
        .collect();
    let bytes: u64 = buffers.iter().map(|b| b.len() as u64).sum();

    let started = Instant::now();
    // Lines are split in parallel within each file as well as across files, so one big file
    // still keeps every core busy.
    let tally = buffers
        .par_iter()
        .flat_map(|buffer| buffer.par_split(|&b| b == b'\n'))
        .map(parse_line)
        .reduce(Tally::default, Tally::add);
    let seconds = started.elapsed().as_secs_f64();

    println!(
        "parse_ceiling items={} seconds={:.3} items_per_second={:.0} bytes_per_second={:.0} threads={} lines={} unparseable_lines={}",
        tally.items,
        seconds,
        tally.items as f64 / seconds,
        bytes as f64 / seconds,
        rayon::current_num_threads(),
        tally.lines,
        tally.unparseable
    );
}
