//! What a person meets at the command line, as snapshots (`insta`): every command's `--help`
//! and the stdout of `ingest`, `build`, `query`, `schema` and `demo` on the committed
//! sample (`data/sample/`). Volatile parts (run ids, temporary paths, timings) are filtered.
//! A safety net for moving code: a change here is a change users see. Review one with
//! `cargo insta review`, or accept with `INSTA_UPDATE=always cargo test --release snapshots`.

use std::path::Path;
use std::process::Command;

use crate::common::{stdout_of, TEST_KEY};

fn msgmeter() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msgmeter"));
    for (k, _) in std::env::vars() {
        if k.starts_with("MSGMETER_") {
            c.env_remove(k);
        }
    }
    c.env("MSGMETER_PSEUDONYM_KEY", TEST_KEY)
        .env("NO_COLOR", "1");
    c
}

fn filters(tmp: &Path) -> Vec<(String, String)> {
    vec![
        (regex_escape(&tmp.display().to_string()), "[tmp]".into()),
        (regex_escape(env!("CARGO_MANIFEST_DIR")), "[repo]".into()),
        (
            r"\d{8}T\d{6}(\.\d{3})?Z-(ingest|build)-[0-9a-f]{8}(-\d+)?".into(),
            "[run-id]".into(),
        ),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

macro_rules! snapshot {
    ($tmp:expr, $name:expr, $value:expr) => {{
        let f = filters($tmp);
        let mut settings = insta::Settings::clone_current();
        for (re, with) in &f {
            settings.add_filter(re, with.as_str());
        }
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!($name, $value));
    }};
}

#[test]
fn every_help_text() {
    let tmp = std::env::temp_dir();
    for command in [
        "", "generate", "ingest", "build", "invoice", "explain", "query", "schema", "demo",
    ] {
        let mut c = msgmeter();
        if !command.is_empty() {
            c.arg(command);
        }
        let text = stdout_of(c.arg("--help"), 0);
        let name = if command.is_empty() {
            "help".to_string()
        } else {
            format!("help_{command}")
        };
        snapshot!(&tmp, name.as_str(), text);
    }
}

#[test]
fn ingest_build_query_and_schema_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let ingest = stdout_of(
        msgmeter()
            .args(["ingest", "--now", "2025-10-09T00:00:00Z", "--lake"])
            .arg(&lake)
            .arg(sample.join("whatsapp"))
            .arg(sample.join("events"))
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        0,
    );
    snapshot!(dir.path(), "ingest_sample", ingest);
    let build = stdout_of(
        msgmeter()
            .args(["build", "--now", "2025-10-09T00:00:00Z", "--lake"])
            .arg(&lake),
        0,
    );
    snapshot!(dir.path(), "build_sample", build);
    for (name, format, sql) in [
        (
            "query_table",
            "table",
            "SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1",
        ),
        (
            "query_csv",
            "csv",
            "SELECT business_id, market, category, sum(units) AS units FROM usage_daily WHERE billable AND source = 'derived' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT 12",
        ),
        (
            "query_json",
            "json",
            "SELECT business_id, count(*) AS waits FROM reply_waits GROUP BY 1 ORDER BY 1",
        ),
    ] {
        let text = stdout_of(
            msgmeter()
                .args(["query", "--format", format, "--lake"])
                .arg(&lake)
                .arg(sql),
            0,
        );
        snapshot!(dir.path(), name, text);
    }
    let schema = stdout_of(msgmeter().arg("schema"), 0);
    snapshot!(dir.path(), "schema", schema);
    let schema_events = stdout_of(msgmeter().args(["schema", "events"]), 0);
    snapshot!(dir.path(), "schema_events", schema_events);
}

#[test]
fn demo_output() {
    let dir = tempfile::tempdir().unwrap();
    let text = stdout_of(
        msgmeter()
            .args(["demo", "--out"])
            .arg(dir.path().join("demo")),
        0,
    );
    snapshot!(dir.path(), "demo", text);
}
