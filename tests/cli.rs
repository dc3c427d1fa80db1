//! The binary as a user meets it: help with examples, the data dictionary, exit codes.

use std::process::Command;

use crate::common::*;

fn msgmeter() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_msgmeter"));
    c.env_remove("MSGMETER_LAKE")
        .env("MSGMETER_PSEUDONYM_KEY", TEST_KEY)
        .env("MSGMETER_QUIET", "true");
    c
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["demo", "generate", "ingest", "query", "schema"] {
        let out = msgmeter().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Example"), "{cmd} --help shows an example");
    }
}

#[test]
fn schema_prints_every_column_of_the_events_table() {
    let out = msgmeter().args(["schema", "events"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // events.md §3's contract columns.
    for c in [
        "event_key",
        "event_type",
        "ts",
        "business_id",
        "phone_number_id",
        "customer_key",
        "customer_cc",
        "market",
        "message_id",
        "message_type",
        "template_category",
        "sender",
        "agent_id",
        "referral",
        "status",
        "reported_pricing_model",
        "reported_billable",
        "reported_category",
        "reported_pricing_type",
        "conversation_id",
        "conversation_origin",
        "conversation_expires",
        "error_code",
        "case_id",
        "case_kind",
        "case_category",
        "case_status",
        "rating",
        "customer_country",
        "source_file",
        "source_sha256",
        "source_line",
    ] {
        assert!(text.contains(&format!("| {c} |")), "schema lists {c}");
    }
}

#[test]
fn usage_errors_exit_2_and_failed_jobs_exit_1_after_writing_what_they_could() {
    let out = msgmeter()
        .args(["ingest", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = msgmeter().args(["schema", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = msgmeter()
        .args(["ingest", "--lake"])
        .arg(&lake)
        .args(["--now", "2025-10-10T00:00:00Z"])
        .arg(fixture("bad_events.ndjson"))
        .output()
        .unwrap();
    // 9 of 29 records quarantined > 1 %: exit 1, but the 20 good events are in the lake.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("read 29 = accepted 20 + duplicates 0 + quarantined 9 + skipped 0"),
        "{stdout}"
    );
    let n = query(&lake, "SELECT count(*) AS n FROM events");
    assert_eq!(string(&n, "n", 0).as_deref(), Some("20"));

    // The threshold from the environment lets the same file through.
    let lake2 = dir.path().join("lake2");
    let out = msgmeter()
        .env("MSGMETER_MAX_QUARANTINE_PCT", "50")
        .args(["ingest", "--lake"])
        .arg(&lake2)
        .args(["--now", "2025-10-10T00:00:00Z"])
        .arg(fixture("bad_events.ndjson"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn settings_precedence_is_flag_then_environment_then_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("msgmeter.toml");
    std::fs::write(
        &config,
        "max_quarantine_pct = 50.0\nlake = \"from-config\"\n",
    )
    .unwrap();
    let run = |env_pct: Option<&str>, flag_pct: Option<&str>, lake: Option<&str>| {
        let mut c = msgmeter();
        c.current_dir(dir.path()).arg("--config").arg(&config);
        if let Some(l) = lake {
            c.env("MSGMETER_LAKE", dir.path().join(l));
        }
        if let Some(p) = env_pct {
            c.env("MSGMETER_MAX_QUARANTINE_PCT", p);
        }
        c.args(["ingest", "--now", "2025-10-10T00:00:00Z"]);
        if let Some(p) = flag_pct {
            c.args(["--max-quarantine-pct", p]);
        }
        c.arg(fixture("bad_events.ndjson"))
            .output()
            .unwrap()
            .status
            .code()
    };
    // 9/29 = 31 %: the config's 50 % lets it pass, the environment's 1 % does not, and the
    // flag's 60 % beats the environment.
    assert_eq!(run(None, None, None), Some(0));
    // The lake came from the config file, relative to it.
    assert!(dir.path().join("from-config/events").is_dir());
    assert_eq!(run(Some("1"), None, Some("l2")), Some(1));
    assert_eq!(run(Some("1"), Some("60"), Some("l3")), Some(0));
    // The environment's lake beat the config file's.
    assert!(dir.path().join("l2/events").is_dir() && dir.path().join("l3/events").is_dir());
}

#[test]
fn query_writes_csv_json_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_paths(
        &lake,
        &[fixture("events_sample.csv")],
        "2025-10-10T00:00:00Z",
    );
    let sql =
        "SELECT event_type, count(*) AS n FROM events GROUP BY event_type ORDER BY event_type";
    let out = msgmeter()
        .args(["query", "--format", "csv", "--lake"])
        .arg(&lake)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "event_type,n\ncase_opened,2\ncase_rating,1\ncase_status,2\nmessage_in,4\nmessage_out,3\nstatus,3\n"
    );
    let out = msgmeter()
        .args(["query", "--format", "json", "--lake"])
        .arg(&lake)
        .arg(sql)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[3]["event_type"], "message_in");
    assert_eq!(json[3]["n"], 4);
    let pq = dir.path().join("r.parquet");
    let out = msgmeter()
        .args(["query", "--format", "parquet", "--out"])
        .arg(&pq)
        .arg("--lake")
        .arg(&lake)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(&std::fs::read(&pq).unwrap()[..4], b"PAR1");
    // `_restricted` is never a table.
    let out = msgmeter()
        .args(["query", "--lake"])
        .arg(&lake)
        .arg("SELECT * FROM quarantine")
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn demo_runs_the_main_job_and_its_books_balance() {
    let dir = tempfile::tempdir().unwrap();
    let out = msgmeter()
        .args(["demo", "--out"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[balances]"), "{text}");
    assert!(text.contains("Events by type"));
}

/// `log_format` in the config file is honoured (a flag still wins): an error on stderr is one
/// JSON object with its level and message.
#[test]
fn the_config_files_log_format_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("msgmeter.toml");
    std::fs::write(&config, "log_format = \"json\"\n").unwrap();
    let missing = dir.path().join("no-lake");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_msgmeter"))
            .arg("--config")
            .arg(&config)
            .args(extra)
            .args(["build", "--lake"])
            .arg(&missing)
            .output()
            .unwrap();
        String::from_utf8(out.stderr).unwrap()
    };
    let json = run(&[]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(v["level"], "ERROR");
    assert!(v["fields"]["message"]
        .as_str()
        .unwrap()
        .contains("no such lake"));
    let text = run(&["--log-format", "text"]);
    assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
    assert!(text.contains("ERROR") && text.contains("no such lake"));
}
