//! The DuckDB route (`msgmeter query --duckdb-views`): the views open the lake in DuckDB,
//! typed, and the README's questions give there what msgmeter's own `query` gives (a
//! second, independent engine).
//!
//! Needs Python with `duckdb`: `.ci/run` makes a venv and names its python in
//! `MSGMETER_DUCKDB_PYTHON`, where the test is required to run. Without that variable the
//! test uses `python3` if it can import duckdb, and otherwise says it was skipped.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn python_with_duckdb() -> Option<String> {
    if let Ok(p) = std::env::var("MSGMETER_DUCKDB_PYTHON") {
        return Some(p);
    }
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| "python3".to_string())
}

/// Run `sql` in DuckDB after the views; the rows as CSV lines (header first).
fn duckdb(python: &str, views: &str, sql: &str) -> Vec<String> {
    let script = r#"
import csv, sys, duckdb
con = duckdb.connect()
con.execute(open(sys.argv[1]).read())
cur = con.execute(sys.argv[2])
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow([d[0] for d in cur.description])
for row in cur.fetchall():
    w.writerow(row)
"#;
    stdout_of(Command::new(python).args(["-c", script, views, sql]), 0)
        .lines()
        .map(str::to_string)
        .collect()
}

fn msgmeter_csv(lake: &Path, sql: &str) -> Vec<String> {
    stdout_of(
        Command::new(env!("CARGO_BIN_EXE_msgmeter"))
            .args(["query", "--format", "csv", "--lake"])
            .arg(lake)
            .arg(sql),
        0,
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn duckdb_views_open_the_lake_typed_and_agree_with_query() {
    let Some(python) = python_with_duckdb() else {
        eprintln!("skipped: no Python with duckdb (set MSGMETER_DUCKDB_PYTHON; .ci/run does)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_sample(&lake);
    let built = Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .env("MSGMETER_PSEUDONYM_KEY", TEST_KEY)
        .args([
            "--quiet",
            "build",
            "--now",
            "2025-10-09T00:00:00Z",
            "--lake",
        ])
        .arg(&lake)
        .status()
        .unwrap();
    assert!(built.success());
    let views = Command::new(env!("CARGO_BIN_EXE_msgmeter"))
        .args(["query", "--duckdb-views", "--lake"])
        .arg(&lake)
        .output()
        .unwrap();
    assert!(views.status.success());
    let views_file = dir.path().join("views.sql");
    std::fs::write(&views_file, &views.stdout).unwrap();
    let views_file = views_file.to_str().unwrap();

    // Every table the lake holds is a view; none of _restricted.
    let tables = duckdb(
        &python,
        views_file,
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1",
    );
    for t in [
        "business_daily",
        "cases",
        "events",
        "identities",
        "messages",
        "reply_waits",
        "usage_daily",
    ] {
        assert!(tables.contains(&t.to_string()), "{t} in {tables:?}");
    }
    // Typed: the partition column is a DATE, times are UTC timestamps.
    assert_eq!(
        duckdb(
            &python,
            views_file,
            "SELECT typeof(date) AS d, typeof(ts) AS t FROM events LIMIT 1"
        ),
        vec!["d,t", "DATE,TIMESTAMP WITH TIME ZONE"]
    );
    // The README's questions: the same answer from both engines.
    for sql in [
        "SELECT market, count(*) AS n FROM events WHERE event_type = 'message_in' GROUP BY market ORDER BY n DESC, market",
        "SELECT business_id, category, sum(units) AS units FROM usage_daily WHERE billable AND source = 'derived' GROUP BY 1, 2 ORDER BY 1, 2",
        "SELECT count(*) AS n FROM events WHERE date = DATE '2025-10-02'",
        "SELECT business_id, count(*) AS waits FROM reply_waits GROUP BY 1 ORDER BY 1",
    ] {
        assert_eq!(duckdb(&python, views_file, sql), msgmeter_csv(&lake, sql), "{sql}");
    }
    // What polars SQL lacks, DuckDB has.
    let months = duckdb(
        &python,
        views_file,
        "SELECT DISTINCT CAST(date_trunc('month', date) AS DATE) AS m FROM events",
    );
    assert_eq!(months, vec!["m", "2025-10-01"]);
}
