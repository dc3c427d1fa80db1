#!/usr/bin/env bash
# Metering throughput: `msgmeter build` over a lake ingested from generated webhook traffic,
# with its reported-usage step set against a DuckDB query computing the same reported usage
# from the same `events` Parquet (scripts/duckdb_reported.py).
#
# Usage: scripts/bench_build.sh [SIZES...]        (default: 1000000 10000000)
#
# SIZES are target events per run, spread over 20 days. Everything goes to bench-out/ at
# the repository root (gitignored): generated data (shared with bench_ingest.sh, kept and
# reused), fresh lakes, logs, a Python venv for DuckDB, and the result table
# bench-out/build.md.
#
# Environment:
#   CARGO_TARGET_DIR            where cargo builds (default /root/.cache/msgmeter/target)
#   MSGMETER_PSEUDONYM_KEY      pseudonym key for the ingest (default: the bench key)
#   BENCH_DUCKDB_MEMORY_LIMIT   DuckDB memory_limit, e.g. 8GB (default: DuckDB's own)
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

usage() {
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
fi
SIZES=("$@")
if [[ ${#SIZES[@]} -eq 0 ]]; then
    SIZES=(1000000 10000000)
fi
for size in "${SIZES[@]}"; do
    if ! [[ $size =~ ^[0-9]+$ ]] || ((size < DAYS)); then
        echo "bench_build: size '$size' is not a whole number of events >= $DAYS" >&2
        exit 2
    fi
done

# The helpers every bench shares (show, run, timed, ensure_data, …).
# shellcheck source=scripts/bench_lib.sh
source "$ROOT/scripts/bench_lib.sh"

# manifest_field FILE WHAT: read a run manifest with python3's json. WHAT is `accepted`
# (totals.accepted), `reported_usage` (stage_seconds.reported_usage, 3 decimals) or
# `stages` (the whole stage_seconds object on one line, 3 decimals).
manifest_field() {
    python3 -c '
import json, sys
path, what = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"bench_build: cannot read the run manifest {path}: {e}")
stages = m.get("stage_seconds") or {}
if what == "accepted":
    value = (m.get("totals") or {}).get("accepted")
    if value is None:
        sys.exit(f"bench_build: {path} has no totals.accepted")
    print(value)
elif what == "reported_usage":
    if "reported_usage" not in stages:
        sys.exit(f"bench_build: {path} has no stage_seconds.reported_usage")
    seconds = stages["reported_usage"]
    print(f"{seconds:.3f}")
elif what == "stages":
    print(json.dumps({k: round(v, 3) for k, v in stages.items()}, separators=(", ", ": ")))
else:
    sys.exit(f"bench_build: unknown manifest field {what}")
' "$1" "$2"
}


if [[ ! -f $ROOT/scripts/duckdb_reported.py ]]; then
    echo "bench_build: $ROOT/scripts/duckdb_reported.py is missing" >&2
    exit 1
fi
command -v python3 >/dev/null || {
    echo "bench_build: python3 is needed (manifests, DuckDB venv)" >&2
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
declare -A EVENTS B_S B_RSS B_EPS R_S STAGES D_S D_RSS
NOTES=()

for size in "${SIZES[@]}"; do
    echo "== build, $size events" >&2
    dir=$OUT/data/whatsapp-$size
    ensure_data whatsapp "$size" "$dir"

    # A fresh lake of its own (bench_ingest.sh's lakes/whatsapp-SIZE is left alone).
    lake=$OUT/lakes/build-whatsapp-$size
    rm -rf "$lake"
    # Exit 1 means "ingested, but not everything was clean": still a lake to build from,
    # as long as the totals were printed.
    rc=0
    timed "build-ingest-$size" "$MSGMETER" ingest --lake "$lake" --now "$NOW" \
        --format auto "$dir" || rc=$?
    if ! grep -q $'^total\tread ' "$OUT/logs/build-ingest-$size.out"; then
        echo "bench_build: msgmeter ingest failed (exit $rc); see $OUT/logs/build-ingest-$size.out" >&2
        exit 1
    fi
    ((rc == 0)) || NOTES+=("msgmeter ingest exited $rc on $size events (totals were printed; see logs/build-ingest-$size.out)")
    ingest_manifest=$(find_manifest "$lake" ingest "$OUT/logs/build-ingest-$size.out")
    EVENTS[$size]=$(manifest_field "$ingest_manifest" accepted)

    rc=0
    timed "build-$size" "$MSGMETER" build --lake "$lake" --now "$NOW" || rc=$?
    if ((rc != 0)); then
        echo "bench_build: msgmeter build failed (exit $rc); see $OUT/logs/build-$size.out" >&2
        exit 1
    fi
    build_manifest=$(find_manifest "$lake" build "$OUT/logs/build-$size.out")
    B_S[$size]=$(wall_seconds "$OUT/logs/build-$size.time")
    B_RSS[$size]=$(peak_rss_mib "$OUT/logs/build-$size.time")
    B_EPS[$size]=$(ratio "${EVENTS[$size]}" "${B_S[$size]}")
    R_S[$size]=$(manifest_field "$build_manifest" reported_usage)
    STAGES[$size]=$(manifest_field "$build_manifest" stages)
    # "billable units: derived D, reported R; run ID"
    m_billable=$(sed -n 's/^billable units: derived [0-9-]*, reported \([0-9-]*\);.*/\1/p' "$OUT/logs/build-$size.out" | tail -n 1)

    # The yardstick, on the same events Parquet the build just read (so equally cached).
    if timed "duckdb-reported-$size" "$VENV/bin/python" "$ROOT/scripts/duckdb_reported.py" \
        "${DUCK_ARGS[@]}" "$lake"; then
        D_S[$size]=$(sed -n 's/^duckdb_reported_seconds=\([0-9.]*\)$/\1/p' "$OUT/logs/duckdb-reported-$size.out" | tail -n 1)
        D_RSS[$size]=$(peak_rss_mib "$OUT/logs/duckdb-reported-$size.time")
        if [[ -z ${D_S[$size]} ]]; then
            D_S[$size]="failed"
            NOTES+=("DuckDB printed no duckdb_reported_seconds on $size events; see bench-out/logs/duckdb-reported-$size.out")
        fi
        # Both sides should count the same reported billable units.
        d_billable=$(sed -n 's/^duckdb_reported .*billable_units=\([0-9]*\).*/\1/p' "$OUT/logs/duckdb-reported-$size.out" | tail -n 1)
        if [[ -n $m_billable && -n $d_billable && $m_billable != "$d_billable" ]]; then
            NOTES+=("reported billable units DIFFER on $size events: msgmeter $m_billable, DuckDB $d_billable (the query and msgmeter's definition have drifted apart)")
        elif [[ -n $m_billable && -n $d_billable ]]; then
            NOTES+=("reported billable units agree on $size events: $m_billable")
        fi
    else
        # Most likely memory: record it, keep going.
        D_S[$size]="failed"
        D_RSS[$size]=$(peak_rss_mib "$OUT/logs/duckdb-reported-$size.time" 2>/dev/null || true)
        NOTES+=("DuckDB failed on $size events; see bench-out/logs/duckdb-reported-$size.out (BENCH_DUCKDB_MEMORY_LIMIT lets it spill)")
    fi
done

# The report: a Markdown table plus what a reader needs to trust or reproduce it.
{
    echo "# Build (metering) benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM," \
        "msgmeter $(source_version)," \
        "DuckDB $DUCKDB_VERSION ($DUCKDB_THREADS threads${BENCH_DUCKDB_MEMORY_LIMIT:+, memory_limit $BENCH_DUCKDB_MEMORY_LIMIT})."
    echo
    echo "Webhook traffic over $DAYS days (bench-out/data/whatsapp-SIZE), ingested into a fresh lake," \
        "then \`msgmeter build --lake LAKE --now $NOW\` (every date) timed whole." \
        "events = rows accepted into \`events\` (the ingest manifest's totals.accepted);" \
        "events/s = events / build wall seconds." \
        "The reported-usage step is stage_seconds.reported_usage of the build's run manifest;" \
        "DuckDB reported usage is the wall time of scripts/duckdb_reported.py's query alone" \
        "(execute and fetch, on the same \`events\` Parquet), its peak RSS that of the whole Python process." \
        "Ratio below 1: msgmeter's step is faster. stage_seconds in seconds."
    echo
    echo "| events | msgmeter build s | build peak RSS MiB | events/s | msgmeter reported-usage step s | DuckDB reported usage s | ratio (msgmeter step / DuckDB) | DuckDB peak RSS MiB | stage_seconds |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for size in "${SIZES[@]}"; do
        echo "| ${EVENTS[$size]} | ${B_S[$size]} | ${B_RSS[$size]} | ${B_EPS[$size]} | ${R_S[$size]}" \
            "| ${D_S[$size]:-—} | $(ratio "${R_S[$size]}" "${D_S[$size]:-}" %.2f) | ${D_RSS[$size]:-—}" \
            "| \`${STAGES[$size]}\` |"
    done
    if ((${#NOTES[@]} > 0)); then
        echo
        printf -- '- %s\n' "${NOTES[@]}"
    fi
} >"$OUT/build.md"

echo >&2
cat "$OUT/build.md"
