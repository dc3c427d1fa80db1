//! Ingest you can trust (spec README "Nothing lost", "Bad input", "Traceable"; metrics.md
//! "Business ids"): the business-id rule, one bad file never stops the others, and a ledger
//! that balances across runs, repeated files and crashes:
//! Σ accepted − Σ replaced over all manifests = rows of `events`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use msgmeter::lake::file_name_for;
use msgmeter::lake::manifest::{FileStatus, RunManifest};
use serde_json::Value;

use crate::common::*;

const NOW: &str = "2025-10-09T00:00:00Z";

/// The quarantine records of the run, in file order: (line, reason, message).
fn quarantined(lake: &Path) -> Vec<(u64, String, String)> {
    let dir = lake.join("_restricted/quarantine");
    let mut out = Vec::new();
    let mut files = Vec::new();
    for day in std::fs::read_dir(&dir).unwrap().flatten() {
        for f in std::fs::read_dir(day.path()).unwrap().flatten() {
            files.push(f.path());
        }
    }
    files.sort();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            out.push((
                v["line"].as_u64().unwrap(),
                v["reason"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// Every manifest in `_runs/`.
fn manifests(lake: &Path) -> Vec<RunManifest> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(lake.join("_runs")).unwrap().flatten() {
        if e.path().extension().and_then(|x| x.to_str()) == Some("json") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            out.push(serde_json::from_str(&text).unwrap());
        }
    }
    out
}

fn events_rows(lake: &Path) -> u64 {
    if !lake.join("events").exists() {
        return 0;
    }
    let df = query(lake, "SELECT count(*) AS n FROM events");
    df.column("n")
        .unwrap()
        .cast(&polars::prelude::DataType::UInt64)
        .unwrap()
        .u64()
        .unwrap()
        .get(0)
        .unwrap()
}

/// The ledger, over the lake's whole history: Σ accepted − Σ replaced = rows of `events`,
/// and every file of every manifest balances.
fn assert_ledger_balances(lake: &Path) {
    let all = manifests(lake);
    let (mut accepted, mut replaced) = (0u64, 0u64);
    for m in &all {
        for f in &m.files {
            assert!(
                f.balances(),
                "{} in {} does not balance: {f:?}",
                f.path,
                m.run_id
            );
            accepted += f.accepted;
            replaced += f.replaced;
        }
        assert_eq!(
            m.totals.replaced_in_lake,
            m.files.iter().map(|f| f.replaced).sum::<u64>()
        );
    }
    assert_eq!(
        accepted - replaced,
        events_rows(lake),
        "Σ accepted {accepted} − Σ replaced {replaced} over {} manifests ≠ rows of events",
        all.len()
    );
}

// ---- 1. Business ids ----------------------------------------------------------------

#[test]
fn business_ids_follow_the_spec_rule_and_say_which_rule_broke() {
    let dir = tempfile::tempdir().unwrap();
    let letters_128 = "é".repeat(64); // 2 bytes each
    let letters_129 = format!("a{letters_128}");
    assert_eq!((letters_128.len(), letters_129.len()), (128, 129));
    let long_ascii = "b".repeat(200);
    // (business id, what happens to it): None = kept, Some(message) = quarantined.
    let cases: Vec<(String, Option<&str>)> = vec![
        ("ACME HOLDINGS, INC.".into(), None),
        ("Café Ñandú, S.A. de C.V.".into(), None),
        (letters_128.clone(), None),
        (
            letters_129.clone(),
            Some("business_id is 129 bytes, over 128"),
        ),
        (
            long_ascii.clone(),
            Some("business_id is 200 bytes, over 128"),
        ),
        ("shop/in".into(), Some("business_id holds '/'")),
        ("110/evil".into(), Some("business_id holds '/'")),
        ("..".into(), Some("business_id is '..', a path step")),
        (".".into(), Some("business_id is '.', a path step")),
        ("../../etc/passwd".into(), Some("business_id holds '/'")),
        ("C:\\evil".into(), Some("business_id holds '\\'")),
        (
            "nul\u{0}here".into(),
            Some("business_id holds a control character (U+0000)"),
        ),
        (
            "tab\there".into(),
            Some("business_id holds a control character (U+0009)"),
        ),
        ("".into(), Some("business_id is empty")),
    ];
    let lines: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (b, _))| event_line(&format!("e{i}"), b, "2025-10-01T10:00:00Z"))
        .collect();
    // Inside a folder one level below the temp dir, so an escape would be visible.
    let input = write_lines(&dir.path().join("in"), "ids.ndjson", &lines);
    let lake = dir.path().join("deep/lake");
    let mut opts = options(&lake, NOW);
    opts.max_quarantine_pct = 100.0;
    let out = msgmeter::ingest::ingest(&opts, &[input]).unwrap();
    let f = report(&out, "ids.ndjson");
    let bad = cases.iter().filter(|c| c.1.is_some()).count() as u64;
    assert_eq!(
        (f.read, f.accepted),
        (cases.len() as u64, cases.len() as u64 - bad)
    );
    assert_eq!(f.quarantined.get("bad_identifier"), Some(&bad));

    let expected: Vec<(u64, String, String)> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, (_, m))| m.map(|m| (i as u64 + 1, "bad_identifier".into(), m.into())))
        .collect();
    assert_eq!(quarantined(&lake), expected);

    let kept = strings(
        &query(
            &lake,
            "SELECT DISTINCT business_id FROM events ORDER BY business_id",
        ),
        "business_id",
    );
    let mut want: Vec<Option<String>> = cases
        .iter()
        .filter(|c| c.1.is_none())
        .map(|c| Some(c.0.clone()))
        .collect();
    want.sort();
    assert_eq!(kept, want);

    // Nothing was written outside the lake: the temp dir holds the input and the lake only.
    let mut outside = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                walk(&e.path(), out);
            } else {
                out.push(e.path());
            }
        }
    }
    walk(dir.path(), &mut outside);
    for p in outside {
        assert!(
            p.starts_with(&lake) || p.starts_with(dir.path().join("in")),
            "{} is outside the lake",
            p.display()
        );
    }
}

#[test]
fn a_webhook_business_id_is_checked_by_the_same_rule() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        message_body(
            "ACME HOLDINGS, INC.",
            "wamid.a",
            "1759312800",
            "5511987654321",
            "",
        ),
        message_body("shop/in", "wamid.b", "1759312800", "5511987654321", ""),
    ];
    let input = write_lines(dir.path(), "hooks.ndjson", &lines);
    let lake = dir.path().join("lake");
    let mut opts = options(&lake, NOW);
    opts.max_quarantine_pct = 100.0;
    let out = msgmeter::ingest::ingest(&opts, &[input]).unwrap();
    assert_eq!(report(&out, "hooks.ndjson").accepted, 1);
    assert_eq!(
        quarantined(&lake),
        vec![(
            2,
            "bad_identifier".into(),
            "business_id (entry.id) holds '/'".into()
        )]
    );
}

#[test]
fn other_ids_may_hold_spaces_and_slashes_but_not_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        event_line("CASE 0042/b", "B1", "2025-10-01T10:00:00Z"),
        event_line("bad\u{7}id", "B1", "2025-10-01T10:00:00Z"),
        event_line(&"x".repeat(257), "B1", "2025-10-01T10:00:00Z"),
    ];
    let input = write_lines(dir.path(), "ids.ndjson", &lines);
    let lake = dir.path().join("lake");
    let mut opts = options(&lake, NOW);
    opts.max_quarantine_pct = 100.0;
    let out = msgmeter::ingest::ingest(&opts, &[input]).unwrap();
    assert_eq!(report(&out, "ids.ndjson").accepted, 1);
    event(&lake, "B1|CASE 0042/b");
    assert_eq!(
        quarantined(&lake),
        vec![
            (
                2,
                "bad_identifier".into(),
                "event_id holds a control character (U+0007)".into()
            ),
            (
                3,
                "bad_identifier".into(),
                "event_id is 257 bytes, over 256".into()
            ),
        ]
    );
}

/// Whatever is written under a business's name goes through `file_name_for`: one plain
/// file name, whatever the id (encodings worked out by hand from RFC 3986 percent-encoding
/// of the UTF-8 bytes, `.` included).
#[test]
fn a_file_name_for_a_business_never_leaves_its_folder() {
    assert_eq!(
        file_name_for("ACME HOLDINGS, INC."),
        "ACME%20HOLDINGS%2C%20INC%2E"
    );
    assert_eq!(file_name_for("Café"), "Caf%C3%A9");
    assert_eq!(
        file_name_for("../../etc/passwd"),
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"
    );
    assert_eq!(file_name_for(".."), "%2E%2E");
    assert_eq!(file_name_for("a\\b"), "a%5Cb");
    assert_eq!(file_name_for("bus-1_x"), "bus-1_x");
    // 128 bytes of é encode to 384 bytes: cut at 183 (30 whole "%C3%A9" and a "%C3"), then
    // "-" and 16 hex digits of the id's SHA-256.
    let long = "é".repeat(64);
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(long.as_bytes()))
    };
    assert_eq!(
        file_name_for(&long),
        format!("{}%C3-{}", "%C3%A9".repeat(30), &digest[..16])
    );
    for id in [
        "shop/in",
        "110/evil",
        "..",
        ".",
        "../../etc/passwd",
        "a\\b",
        "x\u{0}y",
        "",
        &long,
    ] {
        let name = file_name_for(id);
        let joined = Path::new("/lake/invoices").join(&name);
        assert_eq!(joined.parent(), Some(Path::new("/lake/invoices")), "{id:?}");
        assert!(
            !name.starts_with('.') && !name.is_empty() && name.len() <= 200,
            "{id:?} → {name}"
        );
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%-_".contains(&b)));
    }
}

// ---- 2. One bad file never stops the others -----------------------------------------

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// 3,000 event-log lines whose event ids number them (`t1` … `t3000`).
fn numbered_lines() -> String {
    let mut text = String::new();
    for i in 1..=3000 {
        text.push_str(&event_line(&format!("t{i}"), "B9", "2025-10-02T10:00:00Z"));
        text.push('\n');
    }
    text
}

/// A file cut short keeps its whole lines: those read are exactly the first K of the file,
/// and one `truncated_input` record at line K + 1 stands for the rest.
fn assert_cut_short(lake: &Path, file: &str, out: &msgmeter::ingest::IngestOutcome) {
    let f = report(out, file);
    assert_eq!(f.status, Some(FileStatus::Ingested));
    assert_eq!(f.quarantined.get("truncated_input"), Some(&1), "{f:?}");
    let k = f.accepted;
    assert!(k > 0 && k < 3000, "{k} of 3000 lines read");
    assert_eq!(f.read, k + 1);
    let ids = strings(
        &query(
            lake,
            "SELECT event_key FROM events WHERE business_id = 'B9'",
        ),
        "event_key",
    );
    let mut want: Vec<Option<String>> = (1..=k).map(|i| Some(format!("B9|t{i}"))).collect();
    let mut got = ids;
    want.sort();
    got.sort();
    assert_eq!(got, want, "the lines read are the first {k}");
    let q = quarantined(lake);
    let t: Vec<_> = q.iter().filter(|r| r.1 == "truncated_input").collect();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].0, k + 1, "the record names the line reading broke at");
}

#[test]
fn one_bad_file_never_stops_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    std::fs::create_dir_all(&landing).unwrap();
    let good: Vec<String> = (0..3)
        .map(|i| event_line(&format!("g{i}"), "B1", "2025-10-01T10:00:00Z"))
        .collect();
    write_lines(&landing, "a-good.ndjson", &good);
    std::fs::write(
        landing.join("b-good.csv"),
        "event_id,ts,type,business_id,customer,message_id,message_type\n\
         c1,2025-10-01T11:00:00Z,message_in,B2,+5511987654321,m-c1,text\n",
    )
    .unwrap();
    let whole = gzip(numbered_lines().as_bytes());
    std::fs::write(landing.join("c-cut.ndjson.gz"), &whole[..whole.len() / 2]).unwrap();
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(landing.join("d-binary.ndjson"), binary).unwrap();
    std::fs::write(
        landing.join("e-wrong-header.csv"),
        "id,when,type,customer\nx,2025-10-01T11:00:00Z,message_in,+5511987654321\n",
    )
    .unwrap();
    std::fs::write(landing.join("f-notes.txt"), "not a log\n").unwrap();
    std::fs::write(landing.join("g-empty.ndjson"), "").unwrap();

    let lake = dir.path().join("lake");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_msgmeter"));
    c.env("MSGMETER_PSEUDONYM_KEY", TEST_KEY)
        .args([
            "--quiet",
            "ingest",
            "--max-quarantine-pct",
            "100",
            "--now",
            NOW,
            "--lake",
        ])
        .arg(&lake)
        .arg(&landing);
    let done = c.output().unwrap();
    assert_eq!(
        done.status.code(),
        Some(1),
        "a failed file makes the run exit 1"
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    for name in ["d-binary.ndjson", "e-wrong-header.csv"] {
        assert!(stderr.contains(name), "stderr names {name}: {stderr}");
    }

    let m = manifests(&lake);
    assert_eq!(m.len(), 1);
    let m = &m[0];
    let by_name: BTreeMap<String, &msgmeter::lake::manifest::FileReport> = m
        .files
        .iter()
        .map(|f| {
            (
                Path::new(&f.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string(),
                f,
            )
        })
        .collect();
    let status = |n: &str| by_name[n].status.clone().unwrap();
    assert_eq!(status("a-good.ndjson"), FileStatus::Ingested);
    assert_eq!(by_name["a-good.ndjson"].accepted, 3);
    assert_eq!(status("b-good.csv"), FileStatus::Ingested);
    assert_eq!(by_name["b-good.csv"].accepted, 1);
    assert_eq!(status("d-binary.ndjson"), FileStatus::Failed);
    assert!(by_name["d-binary.ndjson"]
        .reason
        .as_deref()
        .unwrap()
        .contains("cannot tell the format"));
    assert_eq!(status("e-wrong-header.csv"), FileStatus::Failed);
    assert!(
        by_name["e-wrong-header.csv"]
            .reason
            .as_deref()
            .unwrap()
            .contains("lacks the required columns event_id, ts, business_id"),
        "{:?}",
        by_name["e-wrong-header.csv"].reason
    );
    assert_eq!(status("f-notes.txt"), FileStatus::SkippedFile);
    assert!(by_name["f-notes.txt"]
        .reason
        .as_deref()
        .unwrap()
        .contains(".txt"));
    assert_eq!(status("g-empty.ndjson"), FileStatus::Empty);
    assert_eq!(m.outcome, "failed");
    assert_eq!(m.totals.failed_files, 2);
    assert_eq!(m.problems.len(), 2, "{:?}", m.problems);

    // The cut-short gzip, checked through the library on its own lake.
    let lake2 = dir.path().join("lake2");
    let mut opts = options(&lake2, NOW);
    opts.max_quarantine_pct = 100.0;
    let out = msgmeter::ingest::ingest(&opts, &[landing.join("c-cut.ndjson.gz")]).unwrap();
    assert_cut_short(&lake2, "c-cut.ndjson.gz", &out);
    assert_ledger_balances(&lake);
}

#[test]
fn a_zstd_file_cut_short_keeps_its_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let whole = zstd::encode_all(numbered_lines().as_bytes(), 3).unwrap();
    let path = dir.path().join("cut.ndjson.zst");
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let lake = dir.path().join("lake");
    let mut opts = options(&lake, NOW);
    opts.max_quarantine_pct = 100.0;
    let out = msgmeter::ingest::ingest(&opts, &[path]).unwrap();
    assert_cut_short(&lake, "cut.ndjson.zst", &out);
}

#[test]
fn a_csv_cut_short_keeps_its_whole_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("event_id,ts,type,business_id,customer,message_id,message_type\n");
    for i in 1..=3000 {
        text.push_str(&format!(
            "t{i},2025-10-02T10:00:00Z,message_in,B9,+5511987654321,m-t{i},text\n"
        ));
    }
    let whole = gzip(text.as_bytes());
    let path = dir.path().join("cut.csv.gz");
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let lake = dir.path().join("lake");
    let mut opts = options(&lake, NOW);
    opts.max_quarantine_pct = 100.0;
    let out = msgmeter::ingest::ingest(&opts, &[path]).unwrap();
    let f = report(&out, "cut.csv.gz");
    assert_eq!(f.quarantined.get("truncated_input"), Some(&1), "{f:?}");
    let k = f.accepted;
    assert!(k > 0 && k < 3000);
    // Data rows start at line 2: the break is on line k + 2.
    let q = quarantined(&lake);
    assert_eq!(
        q.iter()
            .filter(|r| r.1 == "truncated_input")
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        vec![k + 2]
    );
    assert_eq!(events_rows(&lake), k);
}

// ---- 3. A ledger that balances --------------------------------------------------------

#[test]
fn two_runs_within_one_second_keep_two_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_lines(
        dir.path(),
        "a.ndjson",
        &[event_line("e1", "B1", "2025-10-01T10:00:00Z")],
    );
    let lake = dir.path().join("lake");
    let first = ingest_paths(&lake, std::slice::from_ref(&a), NOW);
    let second = ingest_paths(&lake, std::slice::from_ref(&a), NOW);
    assert_ne!(first.manifest.run_id, second.manifest.run_id);
    let all = manifests(&lake);
    assert_eq!(all.len(), 2);
    let kept = all
        .iter()
        .find(|m| m.run_id == first.manifest.run_id)
        .unwrap();
    assert_eq!(kept.files[0].status, Some(FileStatus::Ingested));
    assert_eq!((kept.files[0].read, kept.files[0].accepted), (1, 1));
    assert_eq!(kept.totals.accepted, 1);
    assert_ledger_balances(&lake);
}

#[test]
fn the_same_file_twice_in_one_run_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..5)
        .map(|i| event_line(&format!("e{i}"), "B1", "2025-10-01T10:00:00Z"))
        .collect();
    let a = write_lines(dir.path(), "a.ndjson", &lines);
    let b = write_lines(dir.path(), "b.ndjson", &lines);
    let lake = dir.path().join("lake");
    let out = ingest_paths(&lake, &[a, b], NOW);
    let (fa, fb) = (report(&out, "a.ndjson"), report(&out, "b.ndjson"));
    assert_eq!((fa.read, fa.accepted, fa.duplicates), (5, 5, 0));
    assert_eq!(fb.status, Some(FileStatus::AlreadyIngested));
    assert_eq!((fb.read, fb.accepted, fb.duplicates), (0, 0, 0));
    assert_eq!(out.manifest.totals.accepted, 5);
    assert_eq!(events_rows(&lake), 5);
    assert_ledger_balances(&lake);
}

#[test]
fn an_identical_copy_never_displaces_the_kept_version() {
    let dir = tempfile::tempdir().unwrap();
    let line = event_line("e1", "B1", "2025-10-01T10:00:00Z");
    // Within one run: the file read first (command-line order) keeps it, whatever the hashes.
    let z = write_lines(
        &dir.path().join("one"),
        "z.ndjson",
        std::slice::from_ref(&line),
    );
    let a = write_lines(
        &dir.path().join("one"),
        "a.ndjson",
        &[line.clone(), event_line("e2", "B1", "2025-10-01T12:00:00Z")],
    );
    let lake = dir.path().join("lake");
    let out = ingest_paths(&lake, &[z.clone(), a.clone()], NOW);
    assert_eq!(report(&out, "z.ndjson").accepted, 1);
    assert_eq!(report(&out, "a.ndjson").duplicates, 1);
    assert_eq!(
        string(&event(&lake, "B1|e1"), "source_file", 0).as_deref(),
        Some("z.ndjson")
    );

    // A later run: the version already kept stays, nothing is counted replaced, and the
    // partition is not rewritten.
    let partition = lake.join("events/date=2025-10-01/part-0.parquet");
    let before = std::fs::read(&partition).unwrap();
    let again = write_lines(
        &dir.path().join("two"),
        "again.ndjson",
        &[line.clone(), line],
    );
    let out = ingest_paths(&lake, &[again], NOW);
    let f = report(&out, "again.ndjson");
    assert_eq!((f.read, f.accepted, f.duplicates, f.replaced), (2, 0, 2, 0));
    assert_eq!(
        std::fs::read(&partition).unwrap(),
        before,
        "rewritten for nothing"
    );
    assert!(out.manifest.partitions_written["events"].is_empty());
    assert_ledger_balances(&lake);
}

#[test]
fn a_better_version_from_a_later_run_is_counted_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let first = write_lines(
        dir.path(),
        "first.ndjson",
        &[event_line("e1", "B1", "2025-10-01T10:00:00Z")],
    );
    ingest_paths(&lake, &[first], NOW);
    // The same key an hour earlier (a retry stamped earlier): it sorts first and replaces.
    let earlier = write_lines(
        dir.path(),
        "earlier.ndjson",
        &[event_line("e1", "B1", "2025-10-01T09:00:00Z")],
    );
    let out = ingest_paths(&lake, &[earlier], NOW);
    let f = report(&out, "earlier.ndjson");
    assert_eq!((f.read, f.accepted, f.duplicates, f.replaced), (1, 1, 0, 1));
    assert_eq!(out.manifest.totals.replaced_in_lake, 1);
    assert_eq!(events_rows(&lake), 1);
    assert_eq!(
        string(&event(&lake, "B1|e1"), "source_file", 0).as_deref(),
        Some("earlier.ndjson")
    );
    assert_ledger_balances(&lake);
}

/// The crash-recovery journal: a run killed after its commit record is finished by the
/// next run; one killed before it is recorded as interrupted and leaves the tables alone.
#[test]
fn a_run_that_never_committed_is_recorded_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let lake_path = dir.path().join("lake");
    let lake = msgmeter::lake::Lake::new(&lake_path);
    let intent = RunManifest {
        command: "ingest".into(),
        outcome: "interrupted".into(),
        ..RunManifest::default()
    };
    let p = msgmeter::lake::publication::Publication::begin(&lake, "ingest", "abcdef0123", intent)
        .unwrap();
    let id = p.run_id().to_string();
    std::fs::write(p.stage().root.join("half-written"), b"x").unwrap();
    drop(p); // the process "dies" here
    let said = msgmeter::lake::publication::recover(&lake).unwrap();
    assert_eq!(said.len(), 1, "{said:?}");
    let m = manifests(&lake_path);
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m[0].run_id.as_str(), m[0].outcome.as_str()),
        (id.as_str(), "interrupted")
    );
    assert!(msgmeter::lake::publication::recover(&lake)
        .unwrap()
        .is_empty());
}

// ---- Properties: any sequence of runs, and runs killed mid-way ------------------------

mod ledger_properties {
    use super::*;
    use proptest::prelude::*;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    /// Lines of a small generated day (both formats), plus re-sent copies with earlier or
    /// equal timestamps: retries, later versions, identical copies.
    fn corpus() -> &'static Vec<String> {
        static LINES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        LINES.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut lines = Vec::new();
            for (format, seed) in [
                (msgmeter::generate::TrafficFormat::Whatsapp, 11),
                (msgmeter::generate::TrafficFormat::Events, 12),
            ] {
                let out = dir.path().join(format!("{format:?}"));
                let summary = msgmeter::generate::generate(&msgmeter::generate::GenerateOptions {
                    out,
                    format,
                    businesses: 2,
                    customers: 100,
                    start: chrono::NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
                    days: 2,
                    events_per_day: 300,
                    seed,
                    files_per_day: 1,
                })
                .unwrap();
                for f in summary.files {
                    // The generator writes a few corrupt lines (invalid UTF-8 among them):
                    // read lossily, they stay corrupt records.
                    let bytes = std::fs::read(f).unwrap();
                    let text = String::from_utf8_lossy(&bytes);
                    lines.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string));
                }
            }
            for (id, ts) in [
                ("r1", "2025-10-01T10:00:00Z"),
                ("r1", "2025-10-01T09:00:00Z"),
                ("r2", "2025-10-01T23:30:00Z"),
                ("r2", "2025-10-01T23:30:00Z"),
                ("r3", "2025-10-02T00:10:00Z"),
                ("r3", "2025-10-01T23:50:00Z"),
            ] {
                lines.push(event_line(id, "BR", ts));
            }
            lines
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// Shuffled, split into files, some lines duplicated, files re-sent in later runs
        /// (under their own name or another): after every run the ledger balances, and the
        /// end state equals one clean run over everything.
        #[test]
        fn any_sequence_of_runs_keeps_the_ledger_balanced(seed in any::<u64>(), runs in 1usize..5) {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let dir = tempfile::tempdir().unwrap();
            let mut lines = corpus().clone();
            lines.shuffle(&mut rng);
            // Duplicate some lines (webhook retries) within the input.
            let extra: Vec<String> = (0..20).map(|_| lines[rng.gen_range(0..lines.len())].clone()).collect();
            lines.extend(extra);
            lines.shuffle(&mut rng);
            let lake = dir.path().join("lake");
            let mut all_files = Vec::new();
            let per_run = lines.len().div_ceil(runs);
            for (r, part) in lines.chunks(per_run).enumerate() {
                let (hooks, logs): (Vec<String>, Vec<String>) =
                    part.iter().cloned().partition(|l| l.contains("\"entry\""));
                let mut files = Vec::new();
                for (name, group) in [("hooks", hooks), ("log", logs)] {
                    if !group.is_empty() {
                        files.push(write_lines(&dir.path().join(format!("run{r}")), &format!("{name}.ndjson"), &group));
                    }
                }
                // Re-send an earlier run's file, renamed, now and then.
                if r > 0 && rng.gen_bool(0.5) {
                    let old: &PathBuf = &all_files[rng.gen_range(0..all_files.len())];
                    let copy = dir.path().join(format!("run{r}/resent.ndjson"));
                    std::fs::copy(old, &copy).unwrap();
                    files.push(copy);
                }
                all_files.extend(files.iter().cloned());
                let mut opts = options(&lake, NOW);
                opts.max_quarantine_pct = 100.0;
                msgmeter::ingest::ingest(&opts, &files).unwrap();
                assert_ledger_balances(&lake);
            }
            // The same lines in one clean run give the same table content.
            let clean = dir.path().join("clean");
            let mut opts = options(&clean, NOW);
            opts.max_quarantine_pct = 100.0;
            msgmeter::ingest::ingest(&opts, &all_files).unwrap();
            prop_assert!(events_content(&lake).equals_missing(&events_content(&clean)));
        }
    }

    /// A landing folder, the files of a clean run's lake, and how long that run took (kills
    /// are timed as fractions of it, so they land mid-run on any machine).
    type Landing = (
        tempfile::TempDir,
        PathBuf,
        std::collections::BTreeMap<String, Vec<u8>>,
        std::time::Duration,
    );

    fn landing() -> &'static Landing {
        static LANDING: std::sync::OnceLock<Landing> = std::sync::OnceLock::new();
        LANDING.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let landing = dir.path().join("landing");
            msgmeter::generate::generate(&msgmeter::generate::GenerateOptions {
                out: landing.clone(),
                format: msgmeter::generate::TrafficFormat::Whatsapp,
                businesses: 4,
                customers: 2000,
                start: chrono::NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
                days: 3,
                events_per_day: 25_000,
                seed: 21,
                files_per_day: 2,
            })
            .unwrap();
            let clean = dir.path().join("clean");
            let t = std::time::Instant::now();
            assert!(cli_ingest(&clean, &landing).status().unwrap().success());
            let took = t.elapsed();
            let files = lake_files(&clean);
            (dir, landing, files, took)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        /// SIGKILL at a random moment, then a rerun: the ledger balances and the tables equal
        /// a clean run's, byte for byte.
        #[test]
        fn a_run_killed_at_a_random_moment_and_rerun_keeps_the_ledger(at in 0.0f64..1.1) {
            let (_keep, landing, expected, took) = landing();
            let after_ms = (took.as_secs_f64() * 1000.0 * at) as u64;
            let dir = tempfile::tempdir().unwrap();
            let lake = dir.path().join("lake");
            let mut child = cli_ingest(&lake, landing).spawn().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(after_ms));
            let _ = child.kill();
            let _ = child.wait();
            assert!(cli_ingest(&lake, landing).status().unwrap().success());
            assert_ledger_balances(&lake);
            let got = lake_files(&lake);
            prop_assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
            for (k, v) in expected {
                prop_assert!(&got[k] == v, "{} differs after a kill at {} ms", k, after_ms);
            }
        }
    }

    /// Ctrl-C (SIGINT) while the run reads: one line says what happened and what the next run
    /// does; the run is recorded as interrupted; the rerun completes the ledger.
    #[test]
    fn ctrl_c_stops_before_publishing_and_says_so() {
        let (_keep, landing, expected, took) = landing();
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let mut interrupted = 0;
        for at in [0.3, 0.5, 0.7] {
            let after_ms = (took.as_secs_f64() * 1000.0 * at) as u64;
            let _ = std::fs::remove_dir_all(&lake);
            let child = cli_ingest(&lake, landing)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(after_ms));
            send_sigint(child.id());
            let done = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&done.stderr);
            if done.status.code() == Some(1) {
                interrupted += 1;
                let said: Vec<&str> = stderr
                    .lines()
                    .filter(|l| l.contains("interrupted"))
                    .collect();
                assert_eq!(said.len(), 1, "{stderr}");
                assert!(
                    said[0].contains("nothing was published") && said[0].contains("next ingest")
                );
                let m = manifests(&lake);
                assert_eq!(m.len(), 1);
                assert_eq!(m[0].outcome, "interrupted");
                assert!(m[0]
                    .files
                    .iter()
                    .all(|f| f.status == Some(FileStatus::Interrupted)));
            }
            assert!(cli_ingest(&lake, landing).status().unwrap().success());
            assert_ledger_balances(&lake);
            assert_eq!(&lake_files(&lake), expected);
        }
        assert!(interrupted >= 1, "no SIGINT landed mid-run");
    }

    fn send_sigint(pid: u32) {
        let ok = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

/// A compressed file that breaks before its first byte (a corrupt header) is unreadable:
/// `failed`, not ingested with a `truncated_input` record, so that a fixed upload is read.
#[test]
fn a_compressed_file_with_a_corrupt_header_fails_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vec![0x1f, 0x8b];
    bytes.extend((0..500u32).map(|i| (i * 31 % 251) as u8));
    let path = dir.path().join("corrupt.ndjson.gz");
    std::fs::write(&path, bytes).unwrap();
    let good = write_lines(
        dir.path(),
        "good.ndjson",
        &[event_line("e1", "B1", "2025-10-01T10:00:00Z")],
    );
    let lake = dir.path().join("lake");
    let out = ingest_paths(&lake, &[path, good], NOW);
    let f = report(&out, "corrupt.ndjson.gz");
    assert_eq!(f.status, Some(FileStatus::Failed), "{f:?}");
    assert!(
        f.reason.as_deref().unwrap().starts_with("cannot read it"),
        "{f:?}"
    );
    assert_eq!((f.read, f.accepted), (0, 0));
    assert_eq!(report(&out, "good.ndjson").accepted, 1);
    assert!(!out.succeeded());
    assert_ledger_balances(&lake);
}
