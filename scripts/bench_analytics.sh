#!/usr/bin/env bash
# Analytics throughput: `msgmeter build` over a lake ingested from generated event-log
# traffic (which, unlike webhooks, carries cases), with its analytics stages set against a
# DuckDB query computing reply waits and their p50/p90 from the same `events` Parquet
# (scripts/duckdb_waits.py).
#
# Usage: scripts/bench_analytics.sh [SIZES...]        (default: 10000000)
#
# SIZES are target events per run, spread over 20 days. Everything goes to bench-out/ at
# the repository root (gitignored): generated data (bench-out/data/events-SIZE, shared with
# bench_ingest.sh, kept and reused), fresh lakes, logs, a Python venv for DuckDB, and the
# result table bench-out/analytics.md.
#
# Environment:
#   CARGO_TARGET_DIR            where cargo builds (default /root/.cache/msgmeter/target)
#   MSGMETER_PSEUDONYM_KEY      pseudonym key for the ingest (default: the bench key)
#   BENCH_DUCKDB_MEMORY_LIMIT   DuckDB memory_limit, e.g. 8GB (default: DuckDB's own)
#   BENCH_ROUNDS                build + DuckDB query rounds on the one ingested lake
#                               (default 3); the table shows the round of median msgmeter
#                               analytics time, the notes every round (this VM's speed
#                               varies by up to 1.6x between minutes)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/bench-out
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/msgmeter/target}
TARGET=$CARGO_TARGET_DIR
MSGMETER=$TARGET/release/msgmeter
VENV=$OUT/venv
DAYS=20
DUCKDB_THREADS=2
# A fixed clock, so that nothing generated counts as future_timestamp whenever this runs;
# it also names the run manifests.
NOW=2026-01-01T00:00:00Z
# The same key as bench_ingest.sh, so that a lake ingested by either is the same lake.
export MSGMETER_PSEUDONYM_KEY=${MSGMETER_PSEUDONYM_KEY:-msgmeter-bench-key-not-a-secret-0123456789}
# The build's analytics stages (stage_seconds keys), summed as "msgmeter analytics s".
# analytics_feed is the time metering spends handing each date it loads to the analytics.
ANALYTICS_STAGES=analytics_feed,analytics_load,reply_waits,cases,business_daily

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
fi
SIZES=("$@")
if [[ ${#SIZES[@]} -eq 0 ]]; then
    SIZES=(10000000)
fi
for size in "${SIZES[@]}"; do
    if ! [[ $size =~ ^[0-9]+$ ]] || ((size < DAYS)); then
        echo "bench_analytics: size '$size' is not a whole number of events >= $DAYS" >&2
        exit 2
    fi
done

# The helpers every bench shares (show, run, timed, ensure_data, …).
# shellcheck source=scripts/bench_lib.sh
source "$ROOT/scripts/bench_lib.sh"

# manifest_field FILE WHAT [KEYS]: read a run manifest with python3's json. WHAT is
# `accepted` (totals.accepted), `stages` (the whole stage_seconds object on one line,
# 3 decimals) or `sum` (the stage_seconds of the comma-separated KEYS added up, 3 decimals,
# then a tab and the comma-separated KEYS the manifest lacks, counted as 0; empty if none).
manifest_field() {
    python3 -c '
import json, sys
path, what = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"bench_analytics: cannot read the run manifest {path}: {e}")
stages = m.get("stage_seconds") or {}
if what == "accepted":
    value = (m.get("totals") or {}).get("accepted")
    if value is None:
        sys.exit(f"bench_analytics: {path} has no totals.accepted")
    print(value)
elif what == "stages":
    print(json.dumps({k: round(v, 3) for k, v in stages.items()}, separators=(", ", ": ")))
elif what == "sum":
    keys = [k for k in sys.argv[3].split(",") if k]
    missing = [k for k in keys if k not in stages]
    total = sum(stages.get(k, 0) for k in keys)
    print(f"{total:.3f}\t" + ",".join(missing))
else:
    sys.exit(f"bench_analytics: unknown manifest field {what}")
' "$@"
}


if [[ ! -f $ROOT/scripts/duckdb_waits.py ]]; then
    echo "bench_analytics: $ROOT/scripts/duckdb_waits.py is missing" >&2
    exit 1
fi
command -v python3 >/dev/null || {
    echo "bench_analytics: python3 is needed (manifests, DuckDB venv)" >&2
    exit 1
}
mkdir -p "$OUT/data" "$OUT/lakes" "$OUT/logs"
ensure_time
# Builds only what changed; the bench always measures the current source.
run cargo build --manifest-path "$ROOT/Cargo.toml" --release --bin msgmeter
ensure_duckdb
DUCKDB_VERSION=$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')
DUCK_ARGS=(--threads "$DUCKDB_THREADS")
if [[ -n ${BENCH_DUCKDB_MEMORY_LIMIT:-} ]]; then
    DUCK_ARGS+=(--memory-limit "$BENCH_DUCKDB_MEMORY_LIMIT")
fi

# Results, keyed by size.
declare -A EVENTS B_S B_RSS A_S STAGES D_S D_RSS ROUND_LINES
ROUNDS=${BENCH_ROUNDS:-3}
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "bench_analytics: BENCH_ROUNDS '$ROUNDS' is not a whole number >= 1" >&2
    exit 2
fi
NOTES=()

for size in "${SIZES[@]}"; do
    echo "== analytics, $size events" >&2
    # The event-log format: webhooks carry no cases, and the build's cases stage needs them.
    dir=$OUT/data/events-$size
    ensure_data events "$size" "$dir"

    # A fresh lake of its own (bench_ingest.sh's lakes/events-SIZE is left alone).
    lake=$OUT/lakes/analytics-events-$size
    rm -rf "$lake"
    # Exit 1 means "ingested, but not everything was clean": still a lake to build from,
    # as long as the totals were printed.
    rc=0
    timed "analytics-ingest-$size" "$MSGMETER" ingest --lake "$lake" --now "$NOW" \
        --format auto "$dir" || rc=$?
    if ! grep -q $'^total\tread ' "$OUT/logs/analytics-ingest-$size.out"; then
        echo "bench_analytics: msgmeter ingest failed (exit $rc); see $OUT/logs/analytics-ingest-$size.out" >&2
        exit 1
    fi
    ((rc == 0)) || NOTES+=("msgmeter ingest exited $rc on $size events (totals were printed; see logs/analytics-ingest-$size.out)")
    ingest_manifest=$(find_manifest "$lake" ingest "$OUT/logs/analytics-ingest-$size.out")
    EVENTS[$size]=$(manifest_field "$ingest_manifest" accepted)

    for round in $(seq 1 "$ROUNDS"); do
        rc=0
        timed "analytics-build-$size-r$round" "$MSGMETER" build --lake "$lake" --now "$NOW" || rc=$?
        if ((rc != 0)); then
            echo "bench_analytics: msgmeter build failed (exit $rc); see $OUT/logs/analytics-build-$size-r$round.out" >&2
            exit 1
        fi
        build_manifest=$(find_manifest "$lake" build "$OUT/logs/analytics-build-$size-r$round.out")
        B_S[$size-$round]=$(wall_seconds "$OUT/logs/analytics-build-$size-r$round.time")
        B_RSS[$size-$round]=$(peak_rss_mib "$OUT/logs/analytics-build-$size-r$round.time")
        STAGES[$size-$round]=$(manifest_field "$build_manifest" stages)
        IFS=$'\t' read -r "A_S[$size-$round]" missing < <(manifest_field "$build_manifest" sum "$ANALYTICS_STAGES")
        if [[ -n $missing ]]; then
            echo "bench_analytics: warning: $build_manifest has no stage_seconds ${missing//,/, }; counted as 0" >&2
            NOTES+=("the build manifest on $size events has no stage_seconds ${missing//,/, }: counted as 0 in msgmeter analytics s")
        fi

        # The yardstick, on the same events Parquet the build just read (so equally cached).
        if timed "duckdb-waits-$size-r$round" "$VENV/bin/python" "$ROOT/scripts/duckdb_waits.py" \
            "${DUCK_ARGS[@]}" "$lake"; then
            D_S[$size-$round]=$(sed -n 's/^duckdb_waits_seconds=\([0-9.]*\)$/\1/p' "$OUT/logs/duckdb-waits-$size-r$round.out" | tail -n 1)
            D_RSS[$size-$round]=$(peak_rss_mib "$OUT/logs/duckdb-waits-$size-r$round.time")
            if [[ -z ${D_S[$size-$round]} ]]; then
                D_S[$size-$round]="failed"
                NOTES+=("DuckDB printed no duckdb_waits_seconds on $size events; see bench-out/logs/duckdb-waits-$size-r$round.out")
            fi
            # "duckdb_waits rows=R waits=W answered=A unanswered=U", for the reader to set
            # against the build's reply_waits table.
            d_counts=$(sed -n 's/^duckdb_waits \(.*\)$/\1/p' "$OUT/logs/duckdb-waits-$size-r$round.out" | tail -n 1)
            [[ -z $d_counts || $round != 1 ]] || NOTES+=("DuckDB on $size events: $d_counts (rows = businesses)")
        else
            # Most likely memory: record it, keep going.
            D_S[$size-$round]="failed"
            D_RSS[$size-$round]=$(peak_rss_mib "$OUT/logs/duckdb-waits-$size-r$round.time" 2>/dev/null || true)
            NOTES+=("DuckDB failed on $size events; see bench-out/logs/duckdb-waits-$size-r$round.out (BENCH_DUCKDB_MEMORY_LIMIT lets it spill)")
        fi
        ROUND_LINES[$size]+="round $round: msgmeter analytics ${A_S[$size-$round]} s, DuckDB ${D_S[$size-$round]} s, ratio $(ratio "${A_S[$size-$round]}" "${D_S[$size-$round]}" %.2f), build ${B_S[$size-$round]} s; "
    done
    # The round of median msgmeter analytics time stands for the size.
    median=$(for round in $(seq 1 "$ROUNDS"); do echo "${A_S[$size-$round]} $round"; done |
        sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) { print $2 }')
    for field in B_S B_RSS STAGES A_S D_S D_RSS; do
        declare -n table=$field
        table[$size]=${table[$size-$median]:-}
        unset -n table
    done
    NOTES+=("$size events, every round: ${ROUND_LINES[$size]%; } (the table shows round $median)")
done

# The report: a Markdown table plus what a reader needs to trust or reproduce it.
{
    echo "# Analytics benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM," \
        "msgmeter $(source_version)," \
        "DuckDB $DUCKDB_VERSION ($DUCKDB_THREADS threads${BENCH_DUCKDB_MEMORY_LIMIT:+, memory_limit $BENCH_DUCKDB_MEMORY_LIMIT})."
    echo
    echo "Event-log traffic over $DAYS days (bench-out/data/events-SIZE, with cases), ingested into a fresh lake," \
        "then \`msgmeter build --lake LAKE --now $NOW\` (every date) timed whole." \
        "events = rows accepted into \`events\` (the ingest manifest's totals.accepted)." \
        "msgmeter analytics s = the build run manifest's stage_seconds ${ANALYTICS_STAGES//,/ + }" \
        "(reply waits, cases and business_daily together: more work than the DuckDB side)." \
        "DuckDB reply waits is the wall time of scripts/duckdb_waits.py's query alone" \
        "(execute and fetch, on the same \`events\` Parquet: waits, answered, p50 and p90 per business)," \
        "its peak RSS that of the whole Python process." \
        "Ratio below 1: msgmeter's analytics stages are faster. stage_seconds in seconds."
    echo
    echo "| events | msgmeter build s | build peak RSS MiB | msgmeter analytics s | DuckDB reply waits + p50/p90 s | ratio (msgmeter analytics / DuckDB) | DuckDB peak RSS MiB | stage_seconds |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---|"
    for size in "${SIZES[@]}"; do
        echo "| ${EVENTS[$size]} | ${B_S[$size]} | ${B_RSS[$size]} | ${A_S[$size]}" \
            "| ${D_S[$size]:-—} | $(ratio "${A_S[$size]}" "${D_S[$size]:-}" %.2f) | ${D_RSS[$size]:-—}" \
            "| \`${STAGES[$size]}\` |"
    done
    if ((${#NOTES[@]} > 0)); then
        echo
        printf -- '- %s\n' "${NOTES[@]}"
    fi
} >"$OUT/analytics.md"

echo >&2
cat "$OUT/analytics.md"
