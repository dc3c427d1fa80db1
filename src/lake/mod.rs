//! The lake on disk: where each table lives, how files are written (beside their
//! destination, then renamed, so a crash never leaves half a file), the lock that keeps two
//! runs apart, and the Parquet conventions every table shares (spec README "The lake").

pub mod billed;
pub mod buckets;
pub mod columns;
pub mod manifest;
pub mod publication;
pub mod run;
pub mod writer;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::{read_err, write_err, Error, PolarsContext, Result};
use crate::schema::{Table, SCHEMA_VERSION, SCHEMA_VERSION_KEY};

/// Rows per Parquet row group: large enough for good compression and few footers, small
/// enough that a reader filtering on `business_id` or `ts` statistics skips most of a file.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

#[derive(Debug, Clone)]
pub struct Lake {
    pub root: PathBuf,
    /// A bucket's view (issue 18): its reads see only its businesses, and the date and
    /// month partitions it names are its own part file.
    scope: Option<std::sync::Arc<buckets::Scope>>,
    /// A run's staging folder (`lake::publication`) when this view writes there: the date
    /// and month partitions it names are staged, and a partition it has staged is read
    /// from the stage, every other from the lake.
    staged: Option<PathBuf>,
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Lake {
            root: root.into(),
            scope: None,
            staged: None,
        }
    }

    /// This lake as a run that publishes through `stage` sees it: partitions it writes go
    /// to the stage, and it reads back what it staged (the build, issue 15).
    pub fn staged_in(&self, stage: &Lake) -> Lake {
        Lake {
            staged: Some(stage.root.clone()),
            ..self.clone()
        }
    }

    /// This lake as bucket `part` of a run split by business sees it: reads filtered to
    /// `businesses`, partitions written as `part-<part>.parquet`.
    pub fn scoped(&self, businesses: buckets::BusinessRange, part: usize) -> Lake {
        Lake {
            scope: Some(std::sync::Arc::new(buckets::Scope { businesses, part })),
            ..self.clone()
        }
    }

    /// The part file this lake view writes: 0 unless it is a bucket's view.
    fn part(&self) -> usize {
        self.scope.as_ref().map_or(0, |s| s.part)
    }

    pub fn table_dir(&self, table: &Table) -> PathBuf {
        self.root.join(table.name)
    }

    /// `LAKE/<table>/date=YYYY-MM-DD/`: a date partition's folder.
    pub fn date_partition_dir(&self, table: &Table, date: NaiveDate) -> PathBuf {
        self.table_dir(table)
            .join(format!("date={}", date.format("%Y-%m-%d")))
    }

    /// `LAKE/<table>/date=YYYY-MM-DD/part-0.parquet`: the file this view writes for a date
    /// (`part-K` for bucket K of a split run). A partition is one file unless a run split
    /// its date by business (issue 18): then `part-0`, `part-1`, … hold ascending business
    /// ranges, and read in that order they are the partition in its total order.
    pub fn date_partition_file(&self, table: &Table, date: NaiveDate) -> PathBuf {
        let dir = self.date_partition_dir(table, date);
        part_file(&self.writes_to(&dir), self.part())
    }

    /// Where this view writes a folder of the lake: in the stage when it has one.
    fn writes_to(&self, dir: &Path) -> PathBuf {
        match (&self.staged, dir.strip_prefix(&self.root)) {
            (Some(stage), Ok(inside)) => stage.join(inside),
            _ => dir.to_path_buf(),
        }
    }

    /// Where this view reads a partition folder: the stage's, if it staged the partition.
    fn reads_from(&self, dir: &Path) -> PathBuf {
        let staged = self.writes_to(dir);
        match staged.is_dir() {
            true => staged,
            false => dir.to_path_buf(),
        }
    }

    /// `LAKE/<table>/month=YYYY-MM/part-0.parquet`: billing-month partitions (parts as
    /// for dates).
    pub fn month_partition_file(&self, table: &Table, month: &str) -> PathBuf {
        let dir = self.month_partition_dir(table, month);
        part_file(&self.writes_to(&dir), self.part())
    }

    pub fn month_partition_dir(&self, table: &Table, month: &str) -> PathBuf {
        self.table_dir(table).join(format!("month={month}"))
    }

    /// The part files of a date partition, in part order (none if it has no partition).
    pub fn date_parts(&self, table: &Table, date: NaiveDate) -> Result<Vec<PathBuf>> {
        parts_in(&self.reads_from(&self.date_partition_dir(table, date)))
    }

    /// A date partition's rows (`columns`, or all), as this view sees them: `None` when
    /// the date has no partition.
    pub fn read_date(
        &self,
        table: &Table,
        date: NaiveDate,
        columns: Option<&[&str]>,
    ) -> Result<Option<DataFrame>> {
        let parts = self.date_parts(table, date)?;
        self.read_parts(&parts, columns)
    }

    /// A month partition's rows, as [`Lake::read_date`].
    pub fn read_month(
        &self,
        table: &Table,
        month: &str,
        columns: Option<&[&str]>,
    ) -> Result<Option<DataFrame>> {
        let parts = parts_in(&self.reads_from(&self.month_partition_dir(table, month)))?;
        self.read_parts(&parts, columns)
    }

    /// Part files read in order; filtered to the view's businesses when it is a bucket's.
    fn read_parts(&self, parts: &[PathBuf], columns: Option<&[&str]>) -> Result<Option<DataFrame>> {
        let owned = |c: &[&str]| c.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        match (parts, &self.scope) {
            ([], _) => Ok(None),
            // One file seen whole: read as it always was.
            ([one], None) => read_parquet(one, columns.map(owned)).map(Some),
            _ => {
                let what = parts[0].parent().unwrap_or(&parts[0]).display().to_string();
                let mut lf = self.scan_parts(parts, &what)?;
                if let Some(c) = columns {
                    lf = lf.select(c.iter().map(|c| col(*c)).collect::<Vec<_>>());
                }
                lf.collect().ctx(format!("reading {what}")).map(Some)
            }
        }
    }

    /// Part files scanned lazily in order, filtered to the view's businesses.
    pub(crate) fn scan_parts(&self, parts: &[PathBuf], what: &str) -> Result<LazyFrame> {
        let paths: Vec<PlRefPath> = parts
            .iter()
            .map(|p| PlRefPath::new(p.to_string_lossy().as_ref()))
            .collect();
        let lf = LazyFrame::scan_parquet_files(paths.into(), ScanArgsParquet::default())
            .ctx(format!("scanning {what}"))?;
        Ok(match &self.scope {
            Some(scope) => lf.filter(scope.businesses.predicate()),
            None => lf,
        })
    }

    pub fn unpartitioned_file(&self, table: &Table) -> PathBuf {
        self.table_dir(table).join("part-0.parquet")
    }

    /// Dates that have a partition of `table`, ascending (staged ones included).
    pub fn partition_dates(&self, table: &Table) -> Result<Vec<NaiveDate>> {
        let mut dates = partitions_in(&self.table_dir(table), "date=", |d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
        })?;
        if self.staged.is_some() {
            let staged = self.writes_to(&self.table_dir(table));
            dates.extend(partitions_in(&staged, "date=", |d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
            })?);
        }
        dates.sort();
        dates.dedup();
        Ok(dates)
    }

    /// Billing months that have a partition of a `month=` table, ascending (staged ones
    /// included).
    pub fn partition_months(&self, table: &Table) -> Result<Vec<crate::time::BillingMonth>> {
        let parse = |m: &str| m.parse::<crate::time::BillingMonth>().ok();
        let mut months = partitions_in(&self.table_dir(table), "month=", parse)?;
        if self.staged.is_some() {
            months.extend(partitions_in(
                &self.writes_to(&self.table_dir(table)),
                "month=",
                parse,
            )?);
        }
        months.sort();
        months.dedup();
        Ok(months)
    }

    /// Rows in `table`'s partition of `date` (from its parts' footers), 0 if it has none.
    pub fn partition_rows(&self, table: &Table, date: NaiveDate) -> Result<usize> {
        let mut rows = 0;
        for path in self.date_parts(table, date)? {
            let file = File::open(&path).map_err(read_err(&path))?;
            rows += ParquetReader::new(file)
                .num_rows()
                .ctx(format!("reading the footer of {}", path.display()))?;
        }
        Ok(rows)
    }

    pub fn restricted_dir(&self) -> Result<PathBuf> {
        let dir = self.root.join("_restricted");
        create_private_dir(&dir)?;
        Ok(dir)
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("_runs")
    }

    pub fn scratch_dir(&self) -> PathBuf {
        self.root.join("_tmp")
    }

    /// Take the lake's lock for the life of the returned guard. The lock is an OS file lock,
    /// so the kernel releases it when its holder dies: a stale lock is taken over simply by
    /// the next run.
    pub fn lock(&self, command: &str) -> Result<LakeLock> {
        fs::create_dir_all(&self.root).map_err(write_err(&self.root))?;
        let path = self.root.join("_lock");
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(write_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                return Err(Error::Locked {
                    lake: self.root.clone(),
                    holder: if holder.trim().is_empty() {
                        "unknown holder".into()
                    } else {
                        holder.trim().to_string()
                    },
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(write_err(&path)(e)),
        }
        file.set_len(0).map_err(write_err(&path))?;
        writeln!(
            file,
            "pid {} running `msgmeter {command}`",
            std::process::id()
        )
        .map_err(write_err(&path))?;
        Ok(LakeLock { _file: file })
    }
}

/// Held while a run writes to the lake; dropping it releases the lock.
pub struct LakeLock {
    _file: File,
}

/// The longest file name (in bytes) `file_name_for` returns: well under the 255 of common
/// file systems, with room for an extension.
const MAX_ENCODED_NAME_BYTES: usize = 200;

/// Everything but ASCII letters, digits, `-` and `_` is percent-encoded, `.` included: an
/// encoded name never holds a separator, never is `.` or `..`, never starts with a dot.
const NAME_UNSAFE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// A file (or folder) name for something named by a business id or another data string,
/// safe on every file system whatever the string holds: percent-encoded (`ACME, INC.` →
/// `ACME%2C%20INC%2E`), and when that is longer than 200 bytes, cut at a whole escape and
/// ended by 16 hex digits of the string's SHA-256, so distinct ids keep distinct names.
/// Ingest already rejects business ids that could name a path step (metrics.md); this is
/// the second line of defence for whatever is written under a business's name.
pub fn file_name_for(id: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(id, NAME_UNSAFE).to_string();
    if !encoded.is_empty() && encoded.len() <= MAX_ENCODED_NAME_BYTES {
        return encoded;
    }
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(id.as_bytes()));
    let bytes = encoded.as_bytes();
    let mut cut = (MAX_ENCODED_NAME_BYTES - 17).min(bytes.len());
    // Never split an escape: its `%` is at most two bytes back.
    while (cut >= 1 && bytes[cut - 1] == b'%') || (cut >= 2 && bytes[cut - 2] == b'%') {
        cut -= 1;
    }
    format!("{}-{}", &encoded[..cut], &digest[..16])
}

pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(write_err(dir))?;
    }
    Ok(())
}

/// The temporary name a file is written under before it is renamed into place. Starts with
/// a dot so no table glob (`*.parquet`) ever sees it.
fn temp_path_for(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write a file atomically: into a temporary file beside `dest`, flushed to disk, then
/// renamed over `dest`.
pub fn write_atomically(
    dest: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    let tmp = temp_path_for(dest);
    let file = File::create(&tmp).map_err(write_err(&tmp))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let result = write(&mut w).and_then(|()| {
        let file = w
            .into_inner()
            .map_err(|e| write_err(&tmp)(e.into_error()))?;
        file.sync_all().map_err(write_err(&tmp))
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, dest).map_err(write_err(dest))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

pub fn write_bytes_atomically(dest: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(dest, |w| w.write_all(bytes).map_err(write_err(dest)))
}

/// Write a table file: zstd, column statistics (min, max, null count), fixed row groups and the schema
/// version in the footer. The frame must already be in the table's total row order.
pub fn write_table_file(dest: &Path, df: &mut DataFrame) -> Result<()> {
    write_atomically(dest, |w| {
        ParquetWriter::new(w)
            // zstd level 1: against the default 3, on the build of 10M events, writing
            // took about a quarter less time for files 5 % larger.
            .with_compression(ParquetCompression::Zstd(Some(
                polars::polars_utils::compression::ZstdLevel::try_new(1)
                    .expect("1 is a zstd level"),
            )))
            .with_statistics(StatisticsOptions::default())
            .with_row_group_size(Some(ROW_GROUP_ROWS))
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
                SCHEMA_VERSION_KEY.to_string(),
                SCHEMA_VERSION.to_string(),
            )])))
            .finish(df)
            .ctx(format!("writing {}", dest.display()))?;
        Ok(())
    })
}

/// The partitions of a table folder (`<prefix><key>` folders holding a `part-0`), by key.
fn partitions_in<K>(dir: &Path, prefix: &str, key: impl Fn(&str) -> Option<K>) -> Result<Vec<K>> {
    let mut keys = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(e) => return Err(read_err(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(read_err(dir))?;
        let name = entry.file_name();
        let Some(k) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(&key)
        else {
            continue;
        };
        if part_file(&entry.path(), 0).exists() {
            keys.push(k);
        }
    }
    Ok(keys)
}

/// A partition's part file: `part-0.parquet`, then `part-00001.parquet`, … — names that
/// sort in part order as text too (for readers that list a folder and read in name order).
pub fn part_file(dir: &Path, part: usize) -> PathBuf {
    match part {
        0 => dir.join("part-0.parquet"),
        k => dir.join(format!("part-{k:05}.parquet")),
    }
}

impl Lake {
    /// The part files of the lake's partition folder `dir` beyond its first `keep`, as paths
    /// inside the lake (`/` separated): what a run that now writes `keep` parts there
    /// removes with its commit.
    pub fn parts_beyond(&self, dir: &Path, keep: usize) -> Result<Vec<String>> {
        Ok(parts_in(dir)?
            .into_iter()
            .skip(keep)
            .filter_map(|p| {
                p.strip_prefix(&self.root)
                    .ok()
                    .map(|inside| inside.to_string_lossy().to_string())
            })
            .collect())
    }
}

/// The `part-K.parquet` files of a partition folder, by K (none if there is no folder).
pub fn parts_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(dir)(e)),
    };
    let mut parts: Vec<(usize, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_err(dir))?;
        let name = entry.file_name();
        let part = name
            .to_str()
            .and_then(|n| n.strip_prefix("part-"))
            .and_then(|n| n.strip_suffix(".parquet"))
            .and_then(|k| k.parse::<usize>().ok());
        if let Some(k) = part {
            parts.push((k, entry.path()));
        }
    }
    parts.sort();
    Ok(parts.into_iter().map(|(_, p)| p).collect())
}

pub fn read_parquet(path: &Path, columns: Option<Vec<String>>) -> Result<DataFrame> {
    let file = File::open(path).map_err(read_err(path))?;
    ParquetReader::new(file)
        .with_columns(columns)
        .finish()
        .ctx(format!("reading {}", path.display()))
}

/// Remove what an interrupted run left behind: temporary files beside destinations and the
/// scratch folder. Called under the lock, so nothing else is writing.
pub fn remove_leftovers(lake: &Lake) -> Result<()> {
    let scratch = lake.scratch_dir();
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(write_err(&scratch))?;
    }
    fn walk(dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                walk(&path);
            } else if name.starts_with('.') && name.contains(".tmp-") {
                let _ = fs::remove_file(&path);
            }
        }
    }
    walk(&lake.root);
    Ok(())
}
