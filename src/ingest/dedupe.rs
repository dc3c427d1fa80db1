//! Phase 2 of ingest: publish the spilled events date by date, dropping duplicates by the
//! order-free rule of the spec (README "Determinism", events.md §3):
//!
//! Records with one dedupe key are taken in order of (`ts`, content hash, origin): the
//! first is kept; every later one less than 24 h after the kept one is its duplicate
//! (*conflicting* when its content differs); the first one 24 h or more after it is kept
//! and becomes the new reference. Which content is kept never depends on the order of files
//! and lines; a version arriving in a later run that sorts first (earlier `ts`, or the same
//! `ts` and a smaller content hash) replaces the one kept so far, and is counted `replaced`
//! for its file. Among identical versions (same `ts`, same content) the origin decides, so
//! an identical copy never displaces the kept version: the row already in the lake stays,
//! and within one run the one read first (the run's file order, then the line).
//!
//! Dates are published in ascending order, and since two records of one key less than
//! 24 h apart lie on the same or adjacent UTC days, only the previous day's kept keys are
//! carried from one date to the next. That bounds memory to a couple of days of keys.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::frame::{conform, Spill};
use super::normalize::{Customer, CustomerIdKind, IdentityPair};
use super::{IdentityMap, SourceFile};
use crate::error::{PolarsContext, Result};
use crate::lake::{self, Lake};
use crate::schema::{EVENTS, IDENTITIES};

use crate::time::DAY_MICROS;

/// What publishing did with one input file's rows.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileCounts {
    /// Its rows dropped as duplicates of a version kept (in the lake or from this run).
    pub duplicates: u64,
    pub conflicting: u64,
    /// Rows already in the lake that one of its rows displaced.
    pub replaced: u64,
}

#[derive(Debug, Default)]
pub struct Published {
    pub dates_written: Vec<NaiveDate>,
    /// Files of the lake the commit removes: parts of a republished date beyond those it
    /// now has (paths inside the lake).
    pub removed: Vec<String>,
    /// Dates published in buckets, with how many (module `split`).
    pub split: BTreeMap<NaiveDate, usize>,
    /// Per source of the run, by its index.
    pub by_source: Vec<FileCounts>,
}

/// Where a row comes from, in the order that breaks ties between identical versions: the
/// lake's rows first, then the run's sources in reading order.
type Origin = u32;
const IN_LAKE: Origin = 0;
fn origin_of_source(index: u32) -> Origin {
    index + 1
}

pub struct Identities {
    pub map: IdentityMap,
    pub changed: bool,
}

/// Kept records of the previous day: key (as its 128-bit XXH3 hash, so the carry holds no
/// strings) → (ts, content hash, origin).
type Carry = HashMap<u128, (i64, u64, Origin), foldhash::fast::FixedState>;

fn key_hash(key: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key.as_bytes())
}

/// Carry a kept record: the latest kept one per key is the next day's reference.
fn remember(carry: &mut Carry, key: &str, ts: i64, hash: u64, origin: Origin) {
    let slot = carry.entry(key_hash(key)).or_insert((ts, hash, origin));
    if ts > slot.0 {
        *slot = (ts, hash, origin);
    }
}

/// Merge the run's user-id ↔ number pairs into the `identities` table. When one user id
/// was seen with several numbers, the earliest pairing wins (then the smaller key).
/// Reads the lake; writes into `stage` (the run's staging folder, `lake::publication`).
pub fn publish_identities(lake: &Lake, stage: &Lake, pairs: &[IdentityPair]) -> Result<Identities> {
    let path = lake.unpartitioned_file(&IDENTITIES);
    let mut rows: BTreeMap<(String, String), (i64, Customer)> = BTreeMap::new();
    let mut existing = BTreeMap::new();
    if path.exists() {
        let df = lake::read_parquet(&path, None)?;
        let s = |name: &str| -> Result<StringChunked> {
            Ok(df
                .column(name)
                .ctx("identities")?
                .str()
                .ctx("identities")?
                .clone())
        };
        let (biz, user, key, cc, country, market) = (
            s("business_id")?,
            s("user_key")?,
            s("customer_key")?,
            s("customer_cc")?,
            s("customer_country")?,
            s("market")?,
        );
        let first_seen = df
            .column("first_seen")
            .ctx("identities")?
            .cast(&DataType::Int64)
            .ctx("identities")?;
        let first_seen = first_seen.i64().ctx("identities")?;
        for i in 0..df.height() {
            let k = (
                biz.get(i).unwrap_or_default().to_string(),
                user.get(i).unwrap_or_default().to_string(),
            );
            let c = Customer {
                key: key.get(i).unwrap_or_default().to_string(),
                kind: CustomerIdKind::Phone,
                calling_code: cc.get(i).map(str::to_string),
                country: country.get(i).map(str::to_string),
                market: market.get(i).unwrap_or_default().to_string(),
            };
            existing.insert(
                k.clone(),
                (first_seen.get(i).unwrap_or_default(), c.clone()),
            );
            rows.insert(k, (first_seen.get(i).unwrap_or_default(), c));
        }
    }
    for p in pairs {
        let k = (p.business_id.clone(), p.user_key.clone());
        match rows.get(&k) {
            Some((ts, c)) if (*ts, &c.key) <= (p.ts, &p.customer.key) => {}
            _ => {
                rows.insert(k, (p.ts, p.customer.clone()));
            }
        }
    }
    let changed = rows != existing;
    if changed {
        let mut df = DataFrame::new(
            rows.len(),
            vec![
                Column::new(
                    "business_id".into(),
                    rows.keys().map(|k| k.0.as_str()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "user_key".into(),
                    rows.keys().map(|k| k.1.as_str()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "customer_key".into(),
                    rows.values().map(|v| v.1.key.as_str()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "customer_cc".into(),
                    rows.values()
                        .map(|v| v.1.calling_code.as_deref())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "customer_country".into(),
                    rows.values()
                        .map(|v| v.1.country.as_deref())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "market".into(),
                    rows.values()
                        .map(|v| Some(v.1.market.as_str()))
                        .collect::<Vec<_>>(),
                ),
                Int64Chunked::from_iter_values("first_seen".into(), rows.values().map(|v| v.0))
                    .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                    .into_column(),
            ],
        )
        .ctx("building identities")?;
        lake::write_table_file(&stage.unpartitioned_file(&IDENTITIES), &mut df)?;
    }
    Ok(Identities {
        map: rows.into_iter().map(|(k, (_, c))| (k, c)).collect(),
        changed,
    })
}

/// Customers known only by a business-scoped user id take the number's identity when the
/// lake has learnt the pair.
fn resolve_user_ids(df: DataFrame, identities: &IdentityMap) -> Result<DataFrame> {
    if identities.is_empty() {
        return Ok(df);
    }
    let kind = df
        .column("customer_id_kind")
        .ctx("events")?
        .str()
        .ctx("events")?
        .clone();
    if !kind.iter().any(|k| k == Some("user_id")) {
        return Ok(df);
    }
    let biz = df
        .column("business_id")
        .ctx("events")?
        .str()
        .ctx("events")?
        .clone();
    let key = df
        .column("customer_key")
        .ctx("events")?
        .str()
        .ctx("events")?
        .clone();
    let cc = df
        .column("customer_cc")
        .ctx("events")?
        .str()
        .ctx("events")?
        .clone();
    let country = df
        .column("customer_country")
        .ctx("events")?
        .str()
        .ctx("events")?
        .clone();
    let market = df
        .column("market")
        .ctx("events")?
        .str()
        .ctx("events")?
        .clone();
    let n = df.height();
    let (mut k2, mut kind2, mut cc2, mut country2, mut market2) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for i in 0..n {
        let found = match (kind.get(i), biz.get(i), key.get(i)) {
            (Some("user_id"), Some(b), Some(k)) => identities.get(&(b.to_string(), k.to_string())),
            _ => None,
        };
        match found {
            Some(c) => {
                k2.push(Some(c.key.clone()));
                kind2.push(Some("phone".to_string()));
                cc2.push(c.calling_code.clone());
                country2.push(c.country.clone());
                market2.push(Some(c.market.clone()));
            }
            None => {
                k2.push(key.get(i).map(str::to_string));
                kind2.push(kind.get(i).map(str::to_string));
                cc2.push(cc.get(i).map(str::to_string));
                country2.push(country.get(i).map(str::to_string));
                market2.push(market.get(i).map(str::to_string));
            }
        }
    }
    let mut df = df;
    for (name, values) in [
        ("customer_key", k2),
        ("customer_id_kind", kind2),
        ("customer_cc", cc2),
        ("customer_country", country2),
        ("market", market2),
    ] {
        df.with_column(Column::new(name.into(), values))
            .ctx("resolving user ids")?;
    }
    Ok(df)
}

/// The kept keys of a published date that `wanted` holds (the keys of the rows about to
/// be judged), read part by part from `published` (this run's stage when it wrote the date,
/// else the lake), only the parts' row groups of `businesses` when given. A row of this
/// run's files carries its file's origin, a row already in the lake `IN_LAKE`.
fn carry_from_published(
    published: &Lake,
    date: NaiveDate,
    wanted: &KeySet,
    businesses: Option<&crate::lake::buckets::BusinessRange>,
    origin_of: &HashMap<&str, Origin>,
) -> Result<Carry> {
    let mut carry = Carry::default();
    let columns = ["event_key", "ts", "content_hash", "source_sha256"];
    for part in published.date_parts(&EVENTS, date)? {
        let df = match businesses {
            None => lake::read_parquet(&part, Some(columns.map(String::from).to_vec()))?,
            Some(range) => published
                .scan_parts(std::slice::from_ref(&part), &part.display().to_string())?
                .filter(range.predicate())
                .select(columns.map(col))
                .collect()
                .ctx(format!("reading {}", part.display()))?,
        };
        let keys = df.column("event_key").ctx("events")?.str().ctx("events")?;
        let ts = df
            .column("ts")
            .ctx("events")?
            .cast(&DataType::Int64)
            .ctx("events")?;
        let ts = ts.i64().ctx("events")?;
        let hash = df
            .column("content_hash")
            .ctx("events")?
            .u64()
            .ctx("events")?;
        let sha = df
            .column("source_sha256")
            .ctx("events")?
            .str()
            .ctx("events")?;
        for i in 0..df.height() {
            let (Some(k), Some(t), Some(h)) = (keys.get(i), ts.get(i), hash.get(i)) else {
                continue;
            };
            if !wanted.contains(&key_hash(k)) {
                continue;
            }
            let origin = sha
                .get(i)
                .and_then(|s| origin_of.get(s))
                .copied()
                .unwrap_or(IN_LAKE);
            remember(&mut carry, k, t, h, origin);
        }
    }
    Ok(carry)
}

/// Hashes of dedupe keys.
type KeySet = std::collections::HashSet<u128, foldhash::fast::FixedState>;

/// The dedupe keys of a frame's rows.
fn keys_of(df: &DataFrame) -> Result<KeySet> {
    let keys = df.column("event_key").ctx("events")?.str().ctx("events")?;
    Ok(keys.iter().flatten().map(key_hash).collect())
}

/// The kept keys the rows being judged are compared with: those of the date before, and
/// (in a date split into buckets) those of the bucket before. A key in both takes the
/// later kept version, as one carry would.
#[derive(Default)]
struct Carried<'a> {
    carries: Vec<&'a Carry>,
}

impl Carried<'_> {
    fn get(&self, key: u128) -> Option<(i64, u64, Origin)> {
        self.carries
            .iter()
            .filter_map(|c| c.get(&key).copied())
            .max_by_key(|v| v.0)
    }

    fn is_empty(&self) -> bool {
        self.carries.iter().all(|c| c.is_empty())
    }
}

/// A date's rows after dedupe: which to keep and which are conflicting duplicates.
struct Verdict {
    /// Kept rows in the table's total order (business, ts, key, content hash).
    kept_in_order: Vec<IdxSize>,
    /// The kept keys, as the next date's carry.
    carry: Carry,
    conflicting: Vec<bool>,
    /// Per source of the run: its rows dropped as duplicates, and lake rows it displaced.
    by_source: HashMap<Origin, FileCounts>,
    /// Rows already in the lake that a better version displaced.
    replaced_in_lake: u64,
    /// Anything to write: a new row kept or an old one dropped.
    changed: bool,
}

/// The dedupe rule on one date's rows (see the module comment). Only keys seen more than
/// once, or carried from the day before, need ordering; the rest are kept as they are.
/// `origin_of` gives each source file's origin by its SHA-256 (the run's files are distinct).
///
/// One piece on purpose: it is the hot path of publishing (every row of every date), and
/// its steps share borrowed column slices (`key_of`, `ts_of`, `hash_of`, …) that would
/// have to be passed to every part if it were split.
fn judge(
    carry_of: Option<&str>,
    all: &DataFrame,
    carried: &Carried<'_>,
    origin_of: &HashMap<&str, Origin>,
) -> Result<Verdict> {
    // Read each column once, in order, instead of indexing into it row by row.
    let text = |name: &str| -> Result<Vec<&str>> {
        Ok(all
            .column(name)
            .ctx("events")?
            .str()
            .ctx("events")?
            .iter()
            .map(Option::unwrap_or_default)
            .collect())
    };
    let key_of = text("event_key")?;
    let business = text("business_id")?;
    let shas = text("source_sha256")?;
    let ts_col = all
        .column("ts")
        .ctx("events")?
        .cast(&DataType::Int64)
        .ctx("events")?;
    let ts_of: Vec<i64> = ts_col
        .i64()
        .ctx("events")?
        .iter()
        .map(Option::unwrap_or_default)
        .collect();
    let hash_of: Vec<u64> = all
        .column("content_hash")
        .ctx("events")?
        .u64()
        .ctx("events")?
        .iter()
        .map(Option::unwrap_or_default)
        .collect();
    let is_new: Vec<bool> = all
        .column("__new")
        .ctx("events")?
        .bool()
        .ctx("events")?
        .iter()
        .map(Option::unwrap_or_default)
        .collect();
    let lines: Vec<i64> = all
        .column("source_line")
        .ctx("events")?
        .i64()
        .ctx("events")?
        .iter()
        .map(Option::unwrap_or_default)
        .collect();
    let n = all.height();
    let origins: Vec<Origin> = (0..n)
        .map(|i| match is_new[i] {
            true => origin_of.get(shas[i]).copied().unwrap_or(Origin::MAX),
            false => IN_LAKE,
        })
        .collect();

    // Most keys occur once: remember the first row of each, and collect rows only for keys
    // seen again or carried from the day before.
    let mut first: HashMap<&str, u32, foldhash::fast::FixedState> =
        HashMap::with_capacity_and_hasher(n, foldhash::fast::FixedState::default());
    let mut groups: HashMap<&str, Vec<u32>, foldhash::fast::FixedState> = HashMap::default();
    for (i, &key) in key_of.iter().enumerate() {
        match first.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i as u32);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                groups
                    .entry(key)
                    .or_insert_with(|| vec![*o.get()])
                    .push(i as u32);
            }
        }
    }
    if !carried.is_empty() {
        for (key, &i) in &first {
            if !groups.contains_key(key) && carried.get(key_hash(key)).is_some() {
                groups.insert(key, vec![i]);
            }
        }
    }
    drop(first);
    let mut keep = vec![true; n];
    let mut v = Verdict {
        kept_in_order: Vec::new(),
        carry: Carry::default(),
        conflicting: vec![false; n],
        by_source: HashMap::new(),
        replaced_in_lake: 0,
        changed: false,
    };
    let at = |i: u32| {
        let i = i as usize;
        (ts_of[i], hash_of[i], origins[i], lines[i])
    };
    for (key, mut rows) in groups {
        let mut reference = carried.get(key_hash(key));
        rows.sort_unstable_by_key(|&i| at(i));
        for i in rows {
            let (t, h, origin, _) = at(i);
            match reference {
                Some((rt, rh, by)) if t - rt < DAY_MICROS => {
                    let i = i as usize;
                    keep[i] = false;
                    v.conflicting[i] = rh != h;
                    if is_new[i] {
                        let c = v.by_source.entry(origin).or_default();
                        c.duplicates += 1;
                        c.conflicting += u64::from(rh != h);
                    } else {
                        // A lake row is only ever displaced by a version of this run: the
                        // lake's own kept rows of one key are 24 h or more apart.
                        v.replaced_in_lake += 1;
                        v.by_source.entry(by).or_default().replaced += 1;
                    }
                }
                _ => reference = Some((t, h, origin)),
            }
        }
    }
    // A partition is rewritten only when its rows change: a new row kept or a lake row
    // displaced (a run of identical copies rewrites nothing).
    v.changed = v.replaced_in_lake > 0 || (0..n).any(|i| is_new[i] && keep[i]);
    // One gather in the final order instead of a filter and then a sort. The order is
    // (business, ts, key, content hash): businesses are few, so rows are sorted by the
    // business's rank and ts as one integer, and only rows equal in both by key and hash.
    let mut businesses: Vec<&str> = business
        .iter()
        .copied()
        .collect::<std::collections::HashSet<&str, foldhash::fast::FixedState>>()
        .into_iter()
        .collect();
    businesses.sort_unstable();
    let rank: HashMap<&str, u64, foldhash::fast::FixedState> = businesses
        .iter()
        .enumerate()
        .map(|(r, b)| (*b, r as u64))
        .collect();
    // ts as an order-preserving unsigned number: its sign bit flipped.
    let sort_key = |i: usize| -> u128 {
        (u128::from(rank[business[i]]) << 64) | u128::from((ts_of[i] as u64) ^ (1 << 63))
    };
    let mut keyed: Vec<(u128, IdxSize)> = (0..n)
        .filter(|&i| keep[i])
        .map(|i| (sort_key(i), i as IdxSize))
        .collect();
    keyed.sort_unstable_by_key(|&(k, _)| k);
    for run in keyed.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            run.sort_unstable_by(|(_, a), (_, b)| {
                let (a, b) = (*a as usize, *b as usize);
                (key_of[a], hash_of[a]).cmp(&(key_of[b], hash_of[b]))
            });
        }
    }
    let order: Vec<IdxSize> = keyed.into_iter().map(|(_, i)| i).collect();
    v.carry = Carry::with_capacity_and_hasher(order.len(), Default::default());
    for &i in &order {
        let i = i as usize;
        if carry_of.is_none_or(|b| business[i] == b) {
            remember(&mut v.carry, key_of[i], ts_of[i], hash_of[i], origins[i]);
        }
    }
    v.kept_in_order = order;
    Ok(v)
}

/// A date is read while the previous one is written only if the two hold at most this
/// many rows together (about 300 MB of Arrow frames).
const OVERLAPPED_ROWS: usize = 1_000_000;

/// Publishing keeps the memory it frees (for the next date) only while the largest date it
/// publishes has at most this many rows, new and already in the lake (about 190 MB as a
/// frame). Measured on webhook traffic over 20 days:
/// - 2M events (they spill; largest date 158,642 rows), in turn with memory given back:
///   publishing's system time 2.6–2.8 s → 1.1–1.4 s, publishing 4.6–5.1 s → 3.4–4.6 s,
///   the same peak RSS (726–756 MiB against 728–770).
/// - 10M events (largest date 789,358 rows): even a 250 ms purge delay instead of 10 ms
///   raised the peak from 967 to 1,002 MiB (2 s: 1,128 MiB, over the 1 GiB target).
/// - 100k late events into that 10M lake (they fit in memory, but every date republished
///   holds about 500k rows): keeping memory, as every run that fitted its budget used to,
///   peaked at 1,331 MiB in 21.0 s; giving it back, 939 MiB in 28.4 s.
const KEEP_FREED_MAX_DATE_ROWS: usize = 250_000;

/// Publishing a date's rows costs about this much memory a row (its frame holds about 750
/// bytes, judging and gathering add to it while the previous piece is written), so a date
/// of more rows than the budget over this is split into buckets (module `split`).
const PUBLISH_BYTES_PER_ROW: usize = 512;

/// The most rows (new and already in the lake) published as one piece under a budget:
/// never fewer than [`crate::lake::buckets::MIN_BUCKET_ROWS`] (a budget of 0, which spills
/// every row, does not publish row by row).
pub fn bucket_rows(budget_bytes: usize) -> usize {
    (budget_bytes / PUBLISH_BYTES_PER_ROW).max(crate::lake::buckets::MIN_BUCKET_ROWS)
}

/// One piece of a date to publish: the whole date, or one bucket of it. Its rows are
/// read only when its turn comes.
struct Piece {
    new_rows: Rows,
    /// Its rows already in the lake.
    old_rows: Rows,
    /// The businesses it holds, when it is a bucket (to read the date before for them only).
    businesses: Option<crate::lake::buckets::BusinessRange>,
    /// In a split date, the business the next bucket starts with: the only one whose kept
    /// keys the next bucket can need (a business spans buckets when it is larger than one).
    continues: Option<String>,
    /// A bucket's rows, new and in the lake, as its plan counted them.
    planned_rows: Option<usize>,
}

/// A piece's new or old rows.
enum Rows {
    Ready(Option<DataFrame>),
    /// New rows of a bucket, in a scratch file.
    Scratch(super::frame::BucketRows),
    /// Rows of the lake's partition, filtered to a bucket.
    Lake(Box<LazyFrame>),
}

impl Rows {
    fn load(self, sources: &[SourceFile]) -> Result<Option<DataFrame>> {
        match self {
            Rows::Ready(df) => Ok(df),
            Rows::Scratch(file) => file.take(sources),
            Rows::Lake(lf) => Some(conform((*lf).collect().ctx("reading events")?)).transpose(),
        }
    }
}

/// Reads the lake; writes into `stage` (the run's staging folder, `lake::publication`).
/// A date of more than `max_rows` rows is published in buckets (module `split`).
///
/// The date loop is one piece on purpose: it runs inside the background writer's scope and
/// owns what passes from piece to piece and date to date (the write in flight, the carried
/// keys, a date's staged parts); each piece's work is `judge_piece`.
pub fn publish_events(
    lake: &Lake,
    stage: &Lake,
    mut spill: Spill,
    sources: &[SourceFile],
    identities: &super::dedupe::Identities,
    max_rows: usize,
) -> Result<Published> {
    let existing: BTreeSet<NaiveDate> = lake.partition_dates(&EVENTS)?.into_iter().collect();
    let touched = spill.dates();
    let mut dates = touched.clone();
    // A new version on day d can displace a record of day d+1: republish d+1 too.
    for d in &touched {
        if let Some(next) = d.succ_opt() {
            if existing.contains(&next) {
                dates.insert(next);
            }
        }
    }
    // Publishing reuses the memory each date frees rather than fault in fresh pages when no
    // piece it publishes is large (its new rows and those already in the lake): what the
    // allocator keeps is then a few small pieces' frames. Else it gives memory back, to stay
    // within its budget, whether or not the run's new rows fitted in memory.
    let mut rows_of_date = BTreeMap::new();
    for &date in &dates {
        let in_lake = if existing.contains(&date) {
            lake.partition_rows(&EVENTS, date)?
        } else {
            0
        };
        rows_of_date.insert(date, (spill.rows_of(date), in_lake));
    }
    let largest = rows_of_date.values().map(|(n, o)| n + o).max().unwrap_or(0);
    let _kept = (largest.min(max_rows) <= KEEP_FREED_MAX_DATE_ROWS)
        .then(crate::memory::keep_freed_memory_while_alive);
    let origin_of: HashMap<&str, Origin> = sources
        .iter()
        .map(|s| (s.sha256.as_str(), origin_of_source(s.index)))
        .collect();
    let mut published = Published {
        by_source: vec![FileCounts::default(); sources.len()],
        ..Published::default()
    };
    let context = PieceContext {
        sources,
        identities,
        origin_of,
        conflicts_dir: stage.restricted_dir()?.join("conflicts"),
    };

    // Writing a partition (sorting, compressing) overlaps deduping the next piece: one
    // background writer takes each finished frame as it is handed over. To bound memory to
    // about two pieces, the next piece is read and judged while the previous one is
    // written, but its kept rows are gathered only once that write is done.
    let mut parts_written: Vec<(NaiveDate, usize)> = Vec::new();
    published.dates_written = lake::writer::in_background(1, 0, "publish.write", |writes| {
        let mut sent = Vec::new();
        let mut carry: Option<(NaiveDate, Carry)> = None;
        // Is a piece being written? Waiting for it ends that.
        let mut writing = false;
        let mut writing_rows = 0;
        let await_write = |writing: &mut bool| {
            if std::mem::take(writing) {
                let t = std::time::Instant::now();
                writes.wait_all();
                crate::timing::add("publish.wait", t.elapsed());
            }
        };
        for date in dates {
            if crate::interrupt::requested() {
                return Err(crate::Error::Interrupted);
            }
            let previous = date
                .pred_opt()
                .expect("dates are far from the calendar's start");
            // The date before's kept keys: in memory when it was just published whole, else
            // read for the keys at hand (from this run's stage if it wrote that date).
            let in_memory = match carry.take() {
                Some((d, c)) if d == previous => Some(c),
                _ => None,
            };
            let published_before = if sent.contains(&previous) {
                stage
            } else {
                lake
            };
            let (new_count, old_count) = rows_of_date[&date];
            let pieces = if new_count + old_count <= max_rows {
                whole_date(lake, &mut spill, sources, date, existing.contains(&date))?
            } else {
                let t = std::time::Instant::now();
                let pieces = split_date(lake, &mut spill, date, max_rows)?;
                crate::timing::add("publish.split", t.elapsed());
                pieces
            };
            let split = pieces.len() > 1;
            if split {
                published.split.insert(date, pieces.len());
            }
            let mut date_changed = false;
            // The kept keys of the business that runs on from bucket to bucket, over every
            // bucket of it so far, and that business.
            let mut previous_piece: Option<Carry> = None;
            let mut running: Option<String> = None;
            let mut staged = Vec::new();
            // The date before, read from the stage, must be whole there: its last part may
            // still be being written.
            if in_memory.is_none() && sent.contains(&previous) {
                await_write(&mut writing);
            }
            for piece in pieces {
                let continues = piece.continues.clone();
                // Two large pieces are not held at once: the previous one's write is
                // awaited first (a few dates a month, for the price of one overlap each).
                if writing && piece.row_count() + writing_rows > OVERLAPPED_ROWS {
                    await_write(&mut writing);
                }
                let before = Before {
                    date: previous,
                    in_memory: in_memory.as_ref(),
                    published: published_before,
                    previous_piece: previous_piece.as_ref(),
                };
                let Some(judged) = judge_piece(
                    piece,
                    &before,
                    &context,
                    &mut published.by_source,
                    &mut || await_write(&mut writing),
                )?
                else {
                    continue;
                };
                let Judged {
                    kept,
                    verdict,
                    has_new_rows,
                } = judged;
                // New rows that were all duplicates rewrite nothing, unless identities
                // learnt in this run may have resolved the date's customers. A split date
                // is written whole (its parts are numbered in order), and taken back if
                // nothing of it changed.
                let changed = verdict.changed || (identities.changed && has_new_rows);
                date_changed |= changed;
                if changed || split {
                    let kept = kept.drop("__new").ctx("events")?;
                    writing_rows = kept.height();
                    // Parts are numbered in order from 0.
                    let part = staged.len();
                    let path = lake::part_file(&stage.date_partition_dir(&EVENTS, date), part);
                    writes.send(path.clone(), kept)?;
                    staged.push(path);
                    writing = true;
                }
                match split {
                    true => {
                        previous_piece = match previous_piece.take() {
                            Some(mut run) if running == continues => {
                                for (key, kept) in verdict.carry {
                                    let slot = run.entry(key).or_insert(kept);
                                    if kept.0 > slot.0 {
                                        *slot = kept;
                                    }
                                }
                                Some(run)
                            }
                            _ => Some(verdict.carry),
                        };
                        running = continues;
                    }
                    false => carry = Some((date, verdict.carry)),
                }
            }
            if date_changed {
                sent.push(date);
                parts_written.push((date, staged.len()));
            } else if !staged.is_empty() {
                await_write(&mut writing);
                for path in staged {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        Ok(sent)
    })?;
    // Parts of a republished date beyond those written now (it was split finer before) go
    // with the commit.
    for (date, parts) in parts_written {
        let dir = lake.date_partition_dir(&EVENTS, date);
        published.removed.extend(lake.parts_beyond(&dir, parts)?);
    }
    Ok(published)
}

/// What every piece of a run is judged with.
struct PieceContext<'a> {
    sources: &'a [SourceFile],
    identities: &'a Identities,
    /// Each source file's origin, by its SHA-256.
    origin_of: HashMap<&'a str, Origin>,
    conflicts_dir: std::path::PathBuf,
}

/// Where a piece's rows find the kept keys before them.
struct Before<'a> {
    /// The date before.
    date: NaiveDate,
    /// Its kept keys, when it was just published whole.
    in_memory: Option<&'a Carry>,
    /// Else where it is published: this run's stage if it wrote the date, else the lake.
    published: &'a Lake,
    /// The kept keys of the bucket before, in a date split into buckets.
    previous_piece: Option<&'a Carry>,
}

/// A piece after the dedupe rule: its kept rows in order, the verdict, and whether it had
/// new rows.
struct Judged {
    kept: DataFrame,
    verdict: Verdict,
    has_new_rows: bool,
}

impl Piece {
    /// The rows it brings into memory that decide whether the write in flight is awaited
    /// first: a bucket's, new and in the lake, as planned; a whole date's new rows (as
    /// publishing has always counted them).
    fn row_count(&self) -> usize {
        self.planned_rows.unwrap_or(match &self.new_rows {
            Rows::Ready(df) => df.as_ref().map_or(0, DataFrame::height),
            Rows::Scratch(file) => file.rows(),
            Rows::Lake(_) => 0,
        })
    }
}

/// Read a piece's rows, judge them against the keys kept before them, count what the
/// files' rows became into `by_source`, write its conflicts, and gather its kept rows once
/// `await_write` says the previous piece is written (so two pieces' rows are not gathered
/// at once). `None` when the piece has no rows.
fn judge_piece(
    piece: Piece,
    before: &Before<'_>,
    context: &PieceContext<'_>,
    by_source: &mut [FileCounts],
    await_write: &mut dyn FnMut(),
) -> Result<Option<Judged>> {
    let t = std::time::Instant::now();
    let Piece {
        new_rows,
        old_rows,
        businesses,
        continues,
        ..
    } = piece;
    let sources = context.sources;
    let (old_rows, new_rows) = (old_rows.load(sources)?, new_rows.load(sources)?);
    let Some((all, has_new_rows)) = stack(old_rows, new_rows, context.identities)? else {
        return Ok(None);
    };
    let read_before;
    let mut carried = Carried::default();
    match before.in_memory {
        Some(c) => carried.carries.push(c),
        None => {
            read_before = carry_from_published(
                before.published,
                before.date,
                &keys_of(&all)?,
                businesses.as_ref(),
                &context.origin_of,
            )?;
            carried.carries.push(&read_before);
        }
    }
    if let Some(c) = before.previous_piece {
        carried.carries.push(c);
    }
    crate::timing::add("publish.read", t.elapsed());

    let date = before
        .date
        .succ_opt()
        .expect("dates are far from the calendar's end");
    tracing::debug!(%date, rows = all.height(), bytes = all.estimated_size(), rss_mb = crate::timing::rss_mib(), "publishing");
    let t = std::time::Instant::now();
    let mut verdict = judge(continues.as_deref(), &all, &carried, &context.origin_of)?;
    drop(carried);
    for (origin, counts) in &verdict.by_source {
        let Some(e) = origin
            .checked_sub(1)
            .and_then(|i| by_source.get_mut(i as usize))
        else {
            continue;
        };
        e.duplicates += counts.duplicates;
        e.conflicting += counts.conflicting;
        e.replaced += counts.replaced;
    }
    let conflict_mask = BooleanChunked::from_slice("conflict".into(), &verdict.conflicting);
    let conflicts = all.filter(&conflict_mask).ctx("selecting conflicts")?;
    await_write();
    let kept = gather_column_by_column(all, std::mem::take(&mut verdict.kept_in_order))?;
    tracing::debug!(%date, rss_mb = crate::timing::rss_mib(), kept_bytes = kept.estimated_size(), "kept");
    crate::timing::add("publish.dedupe", t.elapsed());
    if conflicts.height() > 0 {
        write_conflicts(&context.conflicts_dir, date, conflicts)?;
    }
    Ok(Some(Judged {
        kept,
        verdict,
        has_new_rows,
    }))
}

/// A date published as one piece: its new rows and every row of it in the lake.
fn whole_date(
    lake: &Lake,
    spill: &mut Spill,
    sources: &[SourceFile],
    date: NaiveDate,
    in_lake: bool,
) -> Result<Vec<Piece>> {
    let t = std::time::Instant::now();
    let new_rows = spill.take_date(date, sources)?;
    let old_rows = match in_lake {
        true => lake
            .read_date(&EVENTS, date, None)?
            .map(conform)
            .transpose()?,
        false => None,
    };
    crate::timing::add("publish.read", t.elapsed());
    Ok(vec![Piece {
        new_rows: Rows::Ready(new_rows),
        old_rows: Rows::Ready(old_rows),
        businesses: None,
        continues: None,
        planned_rows: None,
    }])
}

/// A date too large for one piece, in buckets (module `split`): planned from its rows per
/// business and minute (new and in the lake), its new rows moved to one scratch file per
/// bucket. Each piece's rows are read when its turn comes.
fn split_date(
    lake: &Lake,
    spill: &mut Spill,
    date: NaiveDate,
    max_rows: usize,
) -> Result<Vec<Piece>> {
    let day_start = crate::time::start_of(date);
    let mut cells = super::split::Cells::new();
    spill.cells_of(date, day_start, &mut cells)?;
    let parts = lake.date_parts(&EVENTS, date)?;
    for part in &parts {
        let counts = lake
            .scan_parts(std::slice::from_ref(part), &part.display().to_string())?
            .select([
                col("business_id"),
                ((col("ts").cast(DataType::Int64) - lit(day_start)).floor_div(lit(60_000_000i64)))
                    .alias("minute"),
            ])
            .group_by([col("business_id"), col("minute")])
            .agg([len().cast(DataType::UInt64).alias("rows")])
            .collect()
            .ctx(format!("counting the rows of {}", part.display()))?;
        let b = counts
            .column("business_id")
            .ctx("events")?
            .str()
            .ctx("events")?;
        let m = counts.column("minute").ctx("events")?.i64().ctx("events")?;
        let n = counts.column("rows").ctx("events")?.u64().ctx("events")?;
        for i in 0..counts.height() {
            let (Some(b), Some(m), Some(n)) = (b.get(i), m.get(i), n.get(i)) else {
                continue;
            };
            let m = m.clamp(0, 24 * 60 - 1) as u16;
            *cells
                .entry(b.to_string())
                .or_default()
                .entry(m)
                .or_default() += n;
        }
    }
    let buckets = super::split::DayBuckets::plan(&cells, max_rows as u64, day_start);
    let mut planned = vec![0usize; buckets.len()];
    for (business, minutes) in &cells {
        for (&minute, &n) in minutes {
            planned[buckets.of(business, minute)] += n as usize;
        }
    }
    drop(cells);
    tracing::info!(%date, buckets = buckets.len(), max_rows, "date split by business");
    let files = spill.split_date(date, day_start, buckets.len(), &|b, m| buckets.of(b, m))?;
    let mut pieces = Vec::with_capacity(files.len());
    for (k, file) in files.into_iter().enumerate() {
        let old_rows = match parts.is_empty() {
            true => Rows::Ready(None),
            false => Rows::Lake(Box::new(
                lake.scan_parts(&parts, &format!("events of {date}"))?
                    .filter(buckets.predicate(k)),
            )),
        };
        pieces.push(Piece {
            new_rows: Rows::Scratch(file),
            old_rows,
            businesses: Some(buckets.businesses(k)),
            continues: Some(buckets.next_start(k).unwrap_or_default()),
            planned_rows: Some(planned[k]),
        });
    }
    Ok(pieces)
}

/// A date's rows already in the lake and its new rows, stacked and marked by origin, user
/// ids resolved, as one contiguous frame (the dedupe reads every column and gathers rows,
/// which is faster on one chunk); and whether it holds new rows. `None` when it has none.
fn stack(
    old_rows: Option<DataFrame>,
    new_rows: Option<DataFrame>,
    identities: &Identities,
) -> Result<Option<(DataFrame, bool)>> {
    let old_height = old_rows.as_ref().map_or(0, DataFrame::height);
    let mut all = match (old_rows, new_rows) {
        (Some(mut o), Some(n)) => {
            o.vstack_mut_owned(n).ctx("stacking events")?;
            o
        }
        (Some(o), None) => o,
        (None, Some(n)) => n,
        (None, None) => return Ok(None),
    };
    let origin_new: Vec<bool> = (0..all.height()).map(|i| i >= old_height).collect();
    let has_new_rows = all.height() > old_height;
    all.with_column(Column::new("__new".into(), origin_new))
        .ctx("marking origin")?;
    all = resolve_user_ids(all, &identities.map)?;
    all.rechunk_mut();
    Ok(Some((all, has_new_rows)))
}

/// The rows `order` of `all`, one column at a time, each source column freed as soon as
/// it is gathered: a date's rows and its kept rows are never both whole in memory.
fn gather_column_by_column(all: DataFrame, order: Vec<IdxSize>) -> Result<DataFrame> {
    let order = IdxCa::from_vec("order".into(), order);
    let columns = all
        .into_columns()
        .into_iter()
        .map(|c| c.take(&order))
        .collect::<PolarsResult<Vec<_>>>()
        .ctx("dropping duplicates")?;
    DataFrame::new(order.len(), columns).ctx("dropping duplicates")
}

/// Conflicting duplicates (same key, different content) are kept for inspection under
/// `_restricted/conflicts/date=…/`, in a file named by its content so re-runs rewrite it.
fn write_conflicts(dir: &std::path::Path, date: NaiveDate, conflicts: DataFrame) -> Result<()> {
    let mut conflicts = conflicts
        .drop("__new")
        .ctx("conflicts")?
        .sort(
            [
                "event_key",
                "ts",
                "content_hash",
                "source_sha256",
                "source_line",
            ],
            SortMultipleOptions::default(),
        )
        .ctx("sorting conflicts")?;
    let mut h = Sha256::new();
    let keys = conflicts
        .column("event_key")
        .ctx("conflicts")?
        .str()
        .ctx("conflicts")?
        .clone();
    let shas = conflicts
        .column("source_sha256")
        .ctx("conflicts")?
        .str()
        .ctx("conflicts")?
        .clone();
    let lines = conflicts
        .column("source_line")
        .ctx("conflicts")?
        .i64()
        .ctx("conflicts")?
        .clone();
    for i in 0..conflicts.height() {
        h.update(keys.get(i).unwrap_or_default());
        h.update(shas.get(i).unwrap_or_default());
        h.update(lines.get(i).unwrap_or_default().to_le_bytes());
    }
    let name = format!("conflicts-{}.parquet", &hex::encode(h.finalize())[..16]);
    let path = dir
        .join(format!("date={}", date.format("%Y-%m-%d")))
        .join(name);
    lake::write_table_file(&path, &mut conflicts)
}
