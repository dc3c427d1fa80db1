//! The shape both input formats normalise into (events.md §3): one [`Event`] per accepted
//! record, plus the rules they share — timestamps, customer identity, pseudonyms, markets,
//! enumerations and the content hash that decides which duplicate is kept.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::pricing::markets::{MarketTable, UNKNOWN_MARKET};

/// Why a record was quarantined: the fixed vocabulary of events.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    MalformedJson,
    MissingField,
    BadTimestamp,
    BadEnum,
    BadIdentifier,
    LineTooLong,
    InvalidUtf8,
    FutureTimestamp,
    OutOfRange,
    NotAnObject,
    /// The rest of a file that could not be read (a compressed file cut short): one record
    /// at the line where reading broke.
    TruncatedInput,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::MalformedJson,
        Reason::MissingField,
        Reason::BadTimestamp,
        Reason::BadEnum,
        Reason::BadIdentifier,
        Reason::LineTooLong,
        Reason::InvalidUtf8,
        Reason::FutureTimestamp,
        Reason::OutOfRange,
        Reason::NotAnObject,
        Reason::TruncatedInput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MalformedJson => "malformed_json",
            Reason::MissingField => "missing_field",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::BadEnum => "bad_enum",
            Reason::BadIdentifier => "bad_identifier",
            Reason::LineTooLong => "line_too_long",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::FutureTimestamp => "future_timestamp",
            Reason::OutOfRange => "out_of_range",
            Reason::NotAnObject => "not_an_object",
            Reason::TruncatedInput => "truncated_input",
        }
    }
}

/// A record that cannot be accepted: the reason and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub message: String,
}

impl Rejection {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Rejection {
            reason,
            message: message.into(),
        }
    }
    pub fn missing(field: &str) -> Self {
        Self::new(
            Reason::MissingField,
            format!("required field `{field}` is missing"),
        )
    }
}

pub type Checked<T> = std::result::Result<T, Rejection>;

pub const EVENT_TYPES: [&str; 6] = [
    "message_in",
    "message_out",
    "status",
    "case_opened",
    "case_status",
    "case_rating",
];
pub const STATUSES: [&str; 5] = ["sent", "delivered", "read", "played", "failed"];
pub const SENDERS: [&str; 3] = ["agent", "bot", "system"];
pub const CASE_KINDS: [&str; 2] = ["complaint", "request"];
pub const CASE_STATUSES: [&str; 6] = [
    "open", "pending", "on_hold", "resolved", "reopened", "closed",
];
pub const PRICING_MODELS: [&str; 2] = ["CBP", "PMP"];

/// Pricing categories known to the rules; anything else is kept as its own value and
/// flagged in reports (events.md §1).
pub const KNOWN_CATEGORIES: [&str; 10] = [
    "marketing",
    "utility",
    "authentication",
    "authentication_international",
    "service",
    "referral_conversion",
    "marketing_lite",
    "business_initiated",
    "user_initiated",
    "customer_initiated",
];

/// One normalised event: a row of the `events` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    pub event_key: String,
    pub event_type: &'static str,
    /// Microseconds since the Unix epoch, UTC.
    pub ts: i64,
    pub business_id: String,
    pub phone_number_id: Option<String>,
    /// A phone customer is shared with the worker's cache and the customer's other events
    /// (no copy per event).
    pub customer: Option<Arc<Customer>>,
    pub message_id: Option<String>,
    pub message_type: Option<String>,
    pub template_category: Option<String>,
    pub sender: Option<&'static str>,
    pub agent_id: Option<String>,
    pub referral: Option<bool>,
    pub status: Option<&'static str>,
    pub reported_pricing_model: Option<&'static str>,
    pub reported_billable: Option<bool>,
    pub reported_category: Option<String>,
    pub reported_pricing_type: Option<String>,
    pub conversation_id: Option<String>,
    pub conversation_origin: Option<String>,
    pub conversation_expires: Option<i64>,
    pub error_code: Option<String>,
    pub case_id: Option<String>,
    pub case_kind: Option<&'static str>,
    pub case_category: Option<String>,
    pub case_status: Option<&'static str>,
    pub rating: Option<i8>,
    pub content_hash: u64,
    pub source_line: i64,
}

/// A pseudonymised customer: never the raw number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Customer {
    pub key: String,
    pub kind: CustomerIdKind,
    pub calling_code: Option<String>,
    pub country: Option<String>,
    pub market: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerIdKind {
    Phone,
    UserId,
    Opaque,
}

impl CustomerIdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerIdKind::Phone => "phone",
            CustomerIdKind::UserId => "user_id",
            CustomerIdKind::Opaque => "opaque",
        }
    }
}

/// A business-scoped user id seen together with a phone number (the `identities` table).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdentityPair {
    pub business_id: String,
    pub user_key: String,
    pub customer: Customer,
    pub ts: i64,
}

/// The keyed pseudonym: HMAC-SHA-256 of the identity under the lake's secret key, first
/// 128 bits as hex (the spec asks for at least 96). Keyed, so a dictionary of all phone
/// numbers cannot reverse it without the key.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl Pseudonymizer {
    pub fn new(key: &[u8]) -> Self {
        Pseudonymizer {
            mac: Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length"),
        }
    }

    pub fn key_of(&self, identity: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(identity.as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..16])
    }

    /// Fingerprint of the key for the run manifest: proves which key was used without
    /// revealing it.
    pub fn fingerprint(key: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(b"msgmeter pseudonym key fingerprint\0");
        h.update(key);
        hex::encode(&h.finalize()[..8])
    }
}

/// Everything normalisation needs besides the record itself.
pub struct Normalizer<'a> {
    pub markets: &'a MarketTable,
    pub pseudonyms: &'a Pseudonymizer,
    /// Events later than this (µs) are `future_timestamp`.
    pub latest_allowed_ts: i64,
    /// Tells this normaliser's cached customers from another's (another key or table).
    generation: u64,
}

/// Per worker thread: at most this many customers (about 30 MB).
const CUSTOMER_CACHE_ENTRIES: usize = 200_000;

type CustomerCache = (
    u64,
    std::collections::HashMap<String, (NaiveDate, Arc<Customer>), foldhash::fast::FixedState>,
);

thread_local! {
    static CUSTOMER_CACHE: std::cell::RefCell<CustomerCache> =
        std::cell::RefCell::new((0, std::collections::HashMap::default()));
}

/// Empty this thread's customer cache and give its memory back (after the parse phase).
pub fn forget_cached_customers() {
    CUSTOMER_CACHE.with(|cache| *cache.borrow_mut() = (0, std::collections::HashMap::default()));
}

thread_local! {
    /// The bytes [`Event::compute_content_hash`] hashes, one buffer per worker thread.
    static HASH_INPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl<'a> Normalizer<'a> {
    pub fn new(
        markets: &'a MarketTable,
        pseudonyms: &'a Pseudonymizer,
        latest_allowed_ts: i64,
    ) -> Self {
        Normalizer {
            markets,
            pseudonyms,
            latest_allowed_ts,
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Earliest instant accepted: anything before is a broken clock, not a message.
pub const EARLIEST_TS: i64 = 946_684_800_000_000; // 2000-01-01T00:00:00Z

impl Normalizer<'_> {
    /// A customer as written in an input: E.164 (with or without `+`, spaces, dashes,
    /// brackets) becomes digits and is keyed with its market; anything else is an opaque id
    /// keyed as it is.
    pub fn customer(&self, raw: &str, ts: i64) -> Checked<Arc<Customer>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Rejection::new(Reason::BadIdentifier, "customer is empty"));
        }
        if raw.len() > 128 || raw.chars().any(char::is_control) {
            return Err(Rejection::new(
                Reason::BadIdentifier,
                "customer is not a plausible id",
            ));
        }
        match phone_digits(raw) {
            Some(digits) => Ok(self.phone_customer(&digits, ts)),
            None => Ok(Arc::new(Customer {
                key: self.pseudonyms.key_of(raw),
                kind: CustomerIdKind::Opaque,
                calling_code: None,
                country: None,
                market: UNKNOWN_MARKET.to_string(),
            })),
        }
    }

    pub fn phone_customer(&self, digits: &str, ts: i64) -> Arc<Customer> {
        // Customers write many times: key each number once per thread (the HMAC is the
        // expensive part), and look its market up again only on another day.
        let day = utc_day(ts);
        CUSTOMER_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != self.generation || cache.1.len() >= CUSTOMER_CACHE_ENTRIES {
                cache.0 = self.generation;
                cache.1.clear();
            }
            if let Some((cached_day, c)) = cache.1.get(digits) {
                if *cached_day == day {
                    return Arc::clone(c);
                }
            }
            let c = Arc::new(self.phone_customer_uncached(digits, day));
            cache.1.insert(digits.to_string(), (day, Arc::clone(&c)));
            c
        })
    }

    fn phone_customer_uncached(&self, digits: &str, day: NaiveDate) -> Customer {
        let found = self.markets.lookup(digits, day);
        Customer {
            key: self.pseudonyms.key_of(digits),
            kind: CustomerIdKind::Phone,
            calling_code: found.map(|m| m.calling_code.clone()),
            country: found.map(|m| m.country.clone()),
            market: found.map_or(UNKNOWN_MARKET.to_string(), |m| m.market.clone()),
        }
    }

    pub fn user_id_customer(&self, user_id: &str) -> Arc<Customer> {
        Arc::new(Customer {
            key: self.pseudonyms.key_of(user_id),
            kind: CustomerIdKind::UserId,
            calling_code: None,
            country: None,
            market: UNKNOWN_MARKET.to_string(),
        })
    }

    /// Range checks every event must pass, whatever its format.
    pub fn check_time(&self, ts: i64, field: &str) -> Checked<i64> {
        if ts > self.latest_allowed_ts {
            return Err(Rejection::new(
                Reason::FutureTimestamp,
                format!("`{field}` {} is more than 24 h after --now", format_ts(ts)),
            ));
        }
        if ts < EARLIEST_TS {
            return Err(Rejection::new(
                Reason::OutOfRange,
                format!("`{field}` {} is before 2000", format_ts(ts)),
            ));
        }
        Ok(ts)
    }
}

/// Digits of a phone number written in E.164 style, or `None` when it is not one.
pub fn phone_digits(raw: &str) -> Option<String> {
    let body = raw.strip_prefix('+').unwrap_or(raw);
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return None,
        }
    }
    (7..=15).contains(&digits.len()).then_some(digits)
}

/// Parse a timestamp as the inputs write it: epoch seconds or milliseconds (numbers or
/// strings; ≥ 10^11 means milliseconds) or RFC 3339 *with* an offset. Returns µs UTC.
pub fn parse_timestamp(raw: &str, field: &str) -> Checked<i64> {
    let s = raw.trim();
    let bad = |why: &str| Rejection::new(Reason::BadTimestamp, format!("`{field}` {s:?} {why}"));
    if s.is_empty() {
        return Err(bad("is empty"));
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !s.contains("--")
    {
        if s.contains('-') && s.len() > 1 && !s.starts_with('-') {
            // a date like 2025-10-05 without time: not an instant
            return Err(bad("is a date without a time and offset"));
        }
        let value: f64 = s.parse().map_err(|_| bad("is not a number"))?;
        return epoch_to_micros(value).ok_or_else(|| bad("is not a valid epoch"));
    }
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => Ok(t.with_timezone(&Utc).timestamp_micros()),
        Err(_) => {
            if chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
                || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").is_ok()
            {
                Err(bad("has no UTC offset (write Z or +hh:mm)"))
            } else {
                Err(bad("is not RFC 3339 or epoch seconds/milliseconds"))
            }
        }
    }
}

/// Epoch seconds (< 10^11) or milliseconds (≥ 10^11) to microseconds.
pub fn epoch_to_micros(value: f64) -> Option<i64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let micros = if value >= 1e11 {
        value * 1e3
    } else {
        value * 1e6
    };
    (micros < 9.2e18).then(|| micros.round() as i64)
}

pub use crate::time::utc_day;

pub fn format_ts(ts_micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(ts_micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ts_micros.to_string())
}

/// Categories as the wire writes them, normalised: lower case, hyphens to underscores
/// (`authentication-international` → `authentication_international`).
pub fn normalise_category(raw: &str) -> String {
    raw.trim().to_ascii_lowercase().replace('-', "_")
}

/// Pick a value from a closed vocabulary, or reject the field as `bad_enum`.
pub fn one_of(raw: &str, allowed: &[&'static str], field: &str) -> Checked<&'static str> {
    allowed.iter().copied().find(|a| *a == raw).ok_or_else(|| {
        Rejection::new(
            Reason::BadEnum,
            format!("`{field}` {raw:?} is not one of {}", allowed.join(", ")),
        )
    })
}

/// The longest business id (metrics.md, "Business ids").
pub const MAX_BUSINESS_ID_BYTES: usize = 128;
/// The longest message, event, case, conversation or agent id.
pub const MAX_IDENTIFIER_BYTES: usize = 256;

/// A business id, by the rule of metrics.md ("Business ids", decided): rejected when empty,
/// longer than 128 bytes, holding `/`, `\`, a control character or NUL, or equal to `.` or
/// `..`. Spaces, commas and non-ASCII letters are valid (`ACME HOLDINGS, INC.`, `Café Ñandú,
/// S.A. de C.V.`). Invoices and reports write files per business, so an id that could name a
/// path step never gets past here (and what is written under a name is encoded besides:
/// `lake::file_name_for`). Surrounding whitespace is trimmed first.
pub fn business_id(raw: &str, field: &str) -> Checked<String> {
    let s = raw.trim();
    let broken = |rule: String| {
        Err(Rejection::new(
            Reason::BadIdentifier,
            format!("{field} {rule}"),
        ))
    };
    if s.is_empty() {
        return broken("is empty".into());
    }
    if s.len() > MAX_BUSINESS_ID_BYTES {
        return broken(format!(
            "is {} bytes, over {MAX_BUSINESS_ID_BYTES}",
            s.len()
        ));
    }
    if s == "." || s == ".." {
        return broken(format!("is '{s}', a path step"));
    }
    if let Some(c) = s.chars().find(|c| matches!(c, '/' | '\\')) {
        return broken(format!("holds '{c}'"));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return broken(format!("holds a control character (U+{:04X})", c as u32));
    }
    Ok(s.to_string())
}

/// Message, event, case, conversation and agent ids: rejected when empty, longer than 256
/// bytes or holding a control character (NUL included); spaces and any printable character
/// are valid, `/` included (Meta's message ids are base64 text). These ids never name a file,
/// so the business id's path rules do not apply to them. Surrounding whitespace is trimmed.
pub fn identifier(raw: &str, field: &str) -> Checked<String> {
    let s = raw.trim();
    let broken = |rule: String| {
        Err(Rejection::new(
            Reason::BadIdentifier,
            format!("{field} {rule}"),
        ))
    };
    if s.is_empty() {
        return broken("is empty".into());
    }
    if s.len() > MAX_IDENTIFIER_BYTES {
        return broken(format!("is {} bytes, over {MAX_IDENTIFIER_BYTES}", s.len()));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return broken(format!("holds a control character (U+{:04X})", c as u32));
    }
    Ok(s.to_string())
}

impl Event {
    /// Hash of the normalised content, source columns aside. A fixed, published algorithm
    /// (XXH3-64, seed 0) so it is stable across versions and machines: it decides which
    /// duplicate is kept, so it must never depend on the order or place records were read.
    ///
    /// The fields are laid out in one buffer and hashed at once (the same digest as
    /// feeding XXH3 field by field, for a tenth of the calls).
    pub fn compute_content_hash(&mut self) {
        HASH_INPUT.with_borrow_mut(|h| self.content_hash = self.content_digest(h));
    }

    fn content_digest(&self, h: &mut Vec<u8>) -> u64 {
        h.clear();
        // Numbers are hashed as their decimal text, written without allocating.
        let (mut ts, mut expires, mut rating) = (
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
        );
        let mut put = |s: Option<&str>| {
            match s {
                Some(v) => {
                    h.push(1u8);
                    h.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    h.extend_from_slice(v.as_bytes());
                }
                None => h.push(0u8),
            };
        };
        put(Some(&self.event_key));
        put(Some(self.event_type));
        put(Some(ts.format(self.ts)));
        put(Some(&self.business_id));
        put(self.phone_number_id.as_deref());
        put(self.customer.as_ref().map(|c| c.key.as_str()));
        put(self.message_id.as_deref());
        put(self.message_type.as_deref());
        put(self.template_category.as_deref());
        put(self.sender);
        put(self.agent_id.as_deref());
        put(self.referral.map(|b| if b { "1" } else { "0" }));
        put(self.status);
        put(self.reported_pricing_model);
        put(self.reported_billable.map(|b| if b { "1" } else { "0" }));
        put(self.reported_category.as_deref());
        put(self.reported_pricing_type.as_deref());
        put(self.conversation_id.as_deref());
        put(self.conversation_origin.as_deref());
        put(self.conversation_expires.map(|t| expires.format(t)));
        put(self.error_code.as_deref());
        put(self.case_id.as_deref());
        put(self.case_kind);
        put(self.case_category.as_deref());
        put(self.case_status);
        put(self.rating.map(|r| rating.format(r)));
        xxhash_rust::xxh3::xxh3_64(h)
    }
}
