//! A dense day (issue 18): a date with more events than the memory budget holds is ingested
//! and built in buckets of businesses, each written as one part file of the partition. The
//! tables must hold the same rows in the same order as when every date is one piece; that
//! is checked here by reading each partition's parts in part order, independently of
//! msgmeter's own readers, and comparing with a lake built under the default budget.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use msgmeter::generate::{generate, GenerateOptions, TrafficFormat};
use msgmeter::metering::SourceChoice;
use msgmeter::pipeline::build;
use polars::prelude::*;

use crate::common::*;
use crate::metering_common::*;

const TABLES: [&str; 9] = [
    "events",
    "messages",
    "conversations",
    "usage_daily",
    "reconciliation",
    "reply_waits",
    "cases",
    "business_daily",
    "billing_sources",
];

/// The budget that splits the generated dates: 1 MiB plans buckets of the fewest rows a
/// bucket is planned for (4,096 events) for ingest and for build, against about 20,000
/// events a day of three businesses, the largest with about half (so it spans three
/// ingest buckets).
const SMALL_BUDGET: usize = 1 << 20;

/// Each partition of `table` (folder name → its parts' rows stacked in part order, and how
/// many parts it has), read with polars directly from the files.
fn partitions(lake: &Path, table: &str) -> Vec<(String, DataFrame, usize)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lake.join(table))
        .expect("the table exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut parts: Vec<(usize, PathBuf)> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let k = name
                    .strip_prefix("part-")?
                    .strip_suffix(".parquet")?
                    .parse()
                    .ok()?;
                Some((k, e.path()))
            })
            .collect();
        parts.sort();
        // Parts are numbered from 0 without a gap.
        assert_eq!(
            parts.iter().map(|p| p.0).collect::<Vec<_>>(),
            (0..parts.len()).collect::<Vec<_>>(),
            "{}",
            dir.display()
        );
        let mut stacked: Option<DataFrame> = None;
        for (_, path) in &parts {
            let df = ParquetReader::new(std::fs::File::open(path).unwrap())
                .finish()
                .unwrap();
            match &mut stacked {
                None => stacked = Some(df),
                Some(s) => {
                    s.vstack_mut(&df).unwrap();
                }
            }
        }
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        out.push((name, stacked.unwrap(), parts.len()));
    }
    out
}

fn generated(dir: &Path, name: &str, start: &str, days: u32, per_day: u64, seed: u64) -> PathBuf {
    let out = dir.join(name);
    generate(&GenerateOptions {
        out: out.clone(),
        format: TrafficFormat::Whatsapp,
        businesses: 3,
        customers: 3000,
        start: NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap(),
        days,
        events_per_day: per_day,
        seed,
        files_per_day: 2,
    })
    .unwrap();
    out
}

/// Ingest both batches (the second overlaps the first's dates: old rows, late duplicates)
/// and build, all under `budget`; the ingest runs' totals.
fn lake_under(lake: &Path, batches: &[PathBuf], budget: usize) -> Vec<String> {
    let mut totals = Vec::new();
    for batch in batches {
        let mut opts = options(lake, "2025-07-10T00:00:00Z");
        opts.memory_budget_bytes = budget;
        let outcome = msgmeter::ingest::ingest(&opts, std::slice::from_ref(batch)).unwrap();
        assert!(outcome.succeeded());
        totals.push(format!("{:?}", outcome.manifest.totals));
    }
    let mut opts = build_options(
        lake,
        &msgmeter::accounts::Accounts::embedded(),
        None,
        None,
        SourceChoice::Auto,
    );
    opts.memory_budget_bytes = budget;
    build(&opts).unwrap();
    totals
}

#[test]
fn a_day_split_into_buckets_has_the_rows_of_one_piece_in_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    let batches = [
        generated(dir.path(), "first", "2025-06-28", 3, 20_000, 1),
        // Other traffic over two of the same dates, and the first batch's files again
        // under other names: every record of them a duplicate.
        generated(dir.path(), "late", "2025-06-29", 2, 1500, 2),
    ];
    // One key of the largest business twice on one day, at 00:10 and 20:00: under 24 h
    // apart, so the second is a duplicate, though the two fall in buckets with others
    // between them (the 30th is cut into 9 buckets, about half of them this business's).
    write_lines(
        &dir.path().join("late"),
        "same-key.ndjson",
        &[
            event_line("same-key", "102000000000001", "2025-06-30T00:10:00Z"),
            event_line("same-key", "102000000000001", "2025-06-30T20:00:00Z"),
        ],
    );
    let copies = dir.path().join("late").join("copies");
    std::fs::create_dir_all(&copies).unwrap();
    for f in std::fs::read_dir(&batches[0]).unwrap().flatten() {
        let name = format!("copy-{}", f.file_name().to_string_lossy());
        std::fs::write(copies.join(name), std::fs::read(f.path()).unwrap()).unwrap();
    }

    let (whole, split) = (dir.path().join("whole"), dir.path().join("split"));
    let whole_totals = lake_under(&whole, &batches, 512 << 20);
    let split_totals = lake_under(&split, &batches, SMALL_BUDGET);
    // Every record counted alike: accepted, duplicates, replaced.
    assert_eq!(whole_totals, split_totals);

    for table in TABLES {
        let (w, s) = (partitions(&whole, table), partitions(&split, table));
        assert_eq!(
            w.iter().map(|p| &p.0).collect::<Vec<_>>(),
            s.iter().map(|p| &p.0).collect::<Vec<_>>(),
            "{table}: the same partitions"
        );
        for ((name, wdf, wparts), (_, sdf, _)) in w.iter().zip(&s) {
            assert_eq!(
                *wparts, 1,
                "{table}/{name} is one file under the default budget"
            );
            assert!(
                wdf.equals_missing(sdf),
                "{table}/{name}: the same rows in the same order"
            );
        }
        // The split really happened: the dense dates have several parts.
        let most = s.iter().map(|p| p.2).max().unwrap();
        assert!(most >= 3, "{table}: {most} parts at most");
    }
    let events = partitions(&split, "events");
    assert!(events.iter().map(|p| p.1.height()).sum::<usize>() > 60_000);
    // The largest business spans at least three parts of a date.
    let spans = events
        .iter()
        .map(|(_, df, _)| {
            df.column("business_id")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .filter(|b| *b == Some("102000000000001"))
                .count()
        })
        .max()
        .unwrap();
    assert!(
        spans > 2 * 4096,
        "{spans} rows of the largest business on its busiest date"
    );
    // Part files sort in part order by name too.
    for entry in std::fs::read_dir(split.join("events")).unwrap().flatten() {
        let mut names: Vec<String> = std::fs::read_dir(entry.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        let numbers: Vec<usize> = names
            .iter()
            .map(|n| {
                n.trim_start_matches("part-")
                    .trim_end_matches(".parquet")
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(numbers, (0..numbers.len()).collect::<Vec<_>>());
    }

    // Built again under the default budget, the split lake's derived tables are one file a
    // partition again, byte for byte those of the whole lake (the extra parts are gone).
    build_all(&split);
    let (w, s) = (lake_files(&whole), lake_files(&split));
    for table in &TABLES[1..] {
        let of = |files: &std::collections::BTreeMap<String, Vec<u8>>| {
            files
                .iter()
                .filter(|(p, _)| p.starts_with(&format!("{table}/")))
                .map(|(p, b)| (p.clone(), b.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(of(&w), of(&s), "{table} rebuilt whole");
    }
}

mod planning {
    use std::collections::BTreeMap;

    use msgmeter::ingest::split::{Cells, DayBuckets};
    use msgmeter::lake::buckets::{plan, BusinessRange};
    use polars::prelude::*;

    fn businesses(rows: &[(&str, &[(u32, u64)])]) -> BTreeMap<String, BTreeMap<u32, u64>> {
        rows.iter()
            .map(|(b, r)| (b.to_string(), r.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn build_buckets_keep_every_date_within_the_limit() {
        // b1+b2 on day 1 = 6 ≤ 6; adding b3 makes day 2 = 4+3 = 7 > 6: a new range.
        let b = businesses(&[
            ("b1", &[(1, 2), (2, 4)]),
            ("b2", &[(1, 4)]),
            ("b3", &[(2, 3)]),
            ("b4", &[(1, 9)]),
            ("b5", &[(2, 1)]),
        ]);
        let ranges = plan(&b, 6);
        let pairs: Vec<(&str, Option<&str>)> = ranges
            .iter()
            .map(|r| (r.from.as_str(), r.until.as_deref()))
            .collect();
        // b4 alone is over the limit on day 1: a range of its own, which b5 (day 2 only)
        // then joins. The first range starts at "", the last has no end.
        assert_eq!(pairs, [("", Some("b3")), ("b3", Some("b4")), ("b4", None)]);
        assert!(ranges[0].contains("a") && ranges[0].contains("b2") && !ranges[0].contains("b3"));
        assert!(ranges[2].contains("zz"));
    }

    #[test]
    fn everything_within_the_limit_is_one_build_bucket() {
        let b = businesses(&[("a", &[(1, 1)]), ("z", &[(1, 1)])]);
        assert_eq!(
            plan(&b, 2),
            [BusinessRange {
                from: String::new(),
                until: None
            }]
        );
        assert!(plan(&BTreeMap::<String, BTreeMap<u32, u64>>::new(), 2).is_empty());
    }

    fn cells(rows: &[(&str, u16, u64)]) -> Cells {
        let mut c = Cells::new();
        for (b, m, n) in rows {
            *c.entry(b.to_string()).or_default().entry(*m).or_default() += n;
        }
        c
    }

    /// In order, at most 4 rows a bucket: a@0 (2) a@5 (2) | a@9 (3) b@1 (1) | c@0 (2).
    fn example() -> DayBuckets {
        let c = cells(&[
            ("a", 0, 2),
            ("a", 5, 2),
            ("a", 9, 3),
            ("b", 1, 1),
            ("c", 0, 2),
        ]);
        DayBuckets::plan(&c, 4, 0)
    }

    #[test]
    fn ingest_buckets_follow_business_then_minute() {
        let d = example();
        assert_eq!(d.len(), 3);
        assert_eq!(d.of("a", 0), 0);
        assert_eq!(d.of("a", 8), 0);
        assert_eq!(d.of("a", 9), 1);
        assert_eq!(d.of("a", 1439), 1);
        assert_eq!(d.of("b", 0), 1);
        assert_eq!(d.of("b", 1), 1);
        assert_eq!(d.of("c", 0), 2);
        assert_eq!(d.of("z", 0), 2);
        // A name sorting before the first start still falls in the first bucket.
        assert_eq!(d.of("", 0), 0);
        // Bucket 1 holds rows of a and b: the day before is read for both, and for c, where
        // the next bucket starts (it may start inside a business), but for nothing after.
        let r = d.businesses(1);
        assert!(r.contains("a") && r.contains("b") && r.contains("c") && !r.contains("c0"));
        assert!(d.businesses(2).contains("c") && d.businesses(2).contains("zz"));
    }

    #[test]
    fn the_predicate_selects_exactly_a_buckets_rows() {
        let d = example();
        let rows = [
            ("a", 0),
            ("a", 5),
            ("a", 9),
            ("a", 10),
            ("b", 0),
            ("b", 1),
            ("c", 0),
        ];
        // Bucket of each row, by hand from the cut above.
        let by_hand = [0, 0, 1, 1, 1, 1, 2];
        let df = df!(
            "business_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "ts" => rows.iter().map(|r| r.1 * 60_000_000).collect::<Vec<i64>>(),
        )
        .unwrap();
        for k in 0..d.len() {
            let got = df.clone().lazy().filter(d.predicate(k)).collect().unwrap();
            let got: Vec<(String, i64)> = (0..got.height())
                .map(|i| {
                    let b = got.column("business_id").unwrap().str().unwrap();
                    let t = got.column("ts").unwrap().i64().unwrap();
                    (
                        b.get(i).unwrap().to_string(),
                        t.get(i).unwrap() / 60_000_000,
                    )
                })
                .collect();
            let want: Vec<(String, i64)> = rows
                .iter()
                .zip(by_hand)
                .filter(|(_, b)| *b == k)
                .map(|((b, m), _)| (b.to_string(), *m))
                .collect();
            assert_eq!(got, want, "bucket {k}");
        }
    }
}
