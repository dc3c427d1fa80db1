#!/usr/bin/env bash
# Ingest throughput: `msgmeter ingest` on generated traffic, set against two yardsticks on
# the same webhook files — a DuckDB query doing the same normalisation
# (scripts/duckdb_ingest.py) and the bare serde_json parse of the bytes
# (examples/parse_ceiling.rs), the most any Rust ingest could hope for on this machine.
#
# Usage: scripts/bench_ingest.sh [SIZES...]        (default: 1000000 2000000 10000000)
#
# SIZES are target events per run, spread over 20 days. Everything goes to bench-out/ at
# the repository root (gitignored): generated data (kept and reused between runs), fresh
# lakes, logs, a Python venv for DuckDB, and the result table bench-out/ingest.md.
#
# Environment:
#   CARGO_TARGET_DIR        where cargo builds (default /root/.cache/msgmeter/target)
#   MSGMETER_PSEUDONYM_KEY  pseudonym key for both msgmeter and DuckDB (default: a bench key)
#   BENCH_DUCKDB_10M=1      also run DuckDB and the parse ceiling above 2,000,000 events
#                           (DuckDB runs out of memory at 10M, hence off by default)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/bench-out
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/msgmeter/target}
TARGET=$CARGO_TARGET_DIR
MSGMETER=$TARGET/release/msgmeter
CEILING=$TARGET/release/examples/parse_ceiling
VENV=$OUT/venv
DAYS=20
DUCKDB_MAX_EVENTS=2000000
# A fixed clock, so that nothing generated counts as future_timestamp whenever this runs.
NOW=2026-01-01T00:00:00Z
# msgmeter warns without a key; both sides must use the same one for comparable pseudonyms.
export MSGMETER_PSEUDONYM_KEY=${MSGMETER_PSEUDONYM_KEY:-msgmeter-bench-key-not-a-secret-0123456789}

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
fi
SIZES=("$@")
if [[ ${#SIZES[@]} -eq 0 ]]; then
    SIZES=(1000000 2000000 10000000)
fi
for size in "${SIZES[@]}"; do
    if ! [[ $size =~ ^[0-9]+$ ]] || ((size < DAYS)); then
        echo "bench_ingest: size '$size' is not a whole number of events >= $DAYS" >&2
        exit 2
    fi
done

# Every command that does work is echoed first (to stderr, quoted so it can be pasted).
show() {
    printf '+' >&2
    printf ' %q' "$@" >&2
    printf '\n' >&2
}
run() {
    show "$@"
    "$@"
}

# A ratio a/b formatted with FORMAT, or a dash when either side is missing.
ratio() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN {
        if (a == "" || b == "" || a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "—"
        else printf f "\n", a / b
    }'
}

# Wall seconds and peak RSS (MiB) from a `/usr/bin/time -v` report.
wall_seconds() {
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.34" — fold h:m:s into seconds.
    awk '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$1"
}
peak_rss_mib() {
    awk '/Maximum resident set size/ { printf "%.0f\n", $NF / 1024 }' "$1"
}

# timed NAME CMD...: run CMD under /usr/bin/time -v with its output in logs/NAME.{out,time};
# show the last lines; return CMD's exit status (the caller decides whether it is fatal).
timed() {
    local name=$1
    shift
    local rc=0
    show /usr/bin/time -v -o "$OUT/logs/$name.time" "$@"
    /usr/bin/time -v -o "$OUT/logs/$name.time" "$@" >"$OUT/logs/$name.out" 2>&1 || rc=$?
    tail -n 3 "$OUT/logs/$name.out" | sed 's/^/    /' >&2
    return "$rc"
}

ensure_time() {
    [[ -x /usr/bin/time ]] && return
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    run "${sudo[@]}" apt-get install -y time || {
        run "${sudo[@]}" apt-get update
        run "${sudo[@]}" apt-get install -y time
    }
}

# DuckDB lives in its own venv under bench-out/, never in the system Python.
ensure_duckdb() {
    if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
        return
    fi
    run python3 -m venv "$VENV"
    run "$VENV/bin/pip" install --quiet duckdb
}

# Generate FORMAT data of SIZE events into DIR once; the marker file is written only after
# `generate` succeeds, so an interrupted run is regenerated rather than half-measured.
ensure_data() {
    local format=$1 size=$2 dir=$3
    local marker=$dir.complete
    if [[ -f $marker ]]; then
        echo "reusing $dir ($(cat "$marker"))" >&2
        return
    fi
    rm -rf "$dir"
    run "$MSGMETER" generate --out "$dir" --format "$format" --businesses 50 --customers 200000 \
        --start 2025-10-01 --days "$DAYS" --events-per-day $((size / DAYS)) --seed 1 \
        --files-per-day 4 | tee "$marker.tmp" >&2
    mv "$marker.tmp" "$marker"
}

# The commit measured, marked +dirty when the working tree differs from it.
source_version() {
    local commit
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) || {
        echo "unknown commit"
        return
    }
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || commit+="+dirty"
    echo "$commit"
}

mkdir -p "$OUT/data" "$OUT/lakes" "$OUT/duckdb" "$OUT/logs"
ensure_time
# Builds only what changed; the bench always measures the current source.
run cargo build --manifest-path "$ROOT/Cargo.toml" --release --bin msgmeter --example parse_ceiling

# Results, keyed "format/size".
declare -A READ M_S M_EPS M_MBS M_RSS D_S D_EPS D_RSS C_EPS
NOTES=()
DUCKDB_VERSION=""

for format in whatsapp events; do
    for size in "${SIZES[@]}"; do
        key=$format/$size
        dir=$OUT/data/$format-$size
        echo "== $format, $size events" >&2
        ensure_data "$format" "$size" "$dir"
        mapfile -t names < <(cd "$dir" && find . -maxdepth 1 -name "$format-*.ndjson" -printf '%f\n' | LC_ALL=C sort)
        bytes=$(cd "$dir" && stat -c %s "${names[@]}" | awk '{ s += $1 } END { print s + 0 }')

        lake=$OUT/lakes/$format-$size
        rm -rf "$lake"
        # Exit 1 means "ingested, but not everything was clean" (e.g. quarantine above the
        # limit): still a valid timing as long as the totals were printed.
        rc=0
        # msgmeter reads a folder's files in lexicographic order: the same files as "${names[@]}".
        timed "msgmeter-$format-$size" "$MSGMETER" ingest --lake "$lake" --now "$NOW" \
            --format auto "$dir" || rc=$?
        # The total line: "total<TAB>read R = accepted A + duplicates D + ...".
        read_records=$(sed -n 's/^total\tread \([0-9]*\) =.*/\1/p' "$OUT/logs/msgmeter-$format-$size.out")
        if [[ -z $read_records ]]; then
            echo "bench_ingest: msgmeter ingest failed (exit $rc); see $OUT/logs/msgmeter-$format-$size.out" >&2
            exit 1
        fi
        ((rc == 0)) || NOTES+=("msgmeter ingest exited $rc on $format/$size (totals were printed; see logs/)")
        seconds=$(wall_seconds "$OUT/logs/msgmeter-$format-$size.time")
        READ[$key]=$read_records
        M_S[$key]=$seconds
        M_EPS[$key]=$(ratio "$read_records" "$seconds")
        M_MBS[$key]=$(ratio "$(awk -v b="$bytes" 'BEGIN { printf "%.6f", b / 1e6 }')" "$seconds" %.1f)
        M_RSS[$key]=$(peak_rss_mib "$OUT/logs/msgmeter-$format-$size.time")

        # The yardsticks are webhook-only; above the limit DuckDB exhausts memory.
        [[ $format == whatsapp ]] || continue
        if ((size > DUCKDB_MAX_EVENTS)) && [[ ${BENCH_DUCKDB_10M:-0} != 1 ]]; then
            D_S[$key]="skipped"
            NOTES+=("DuckDB and the parse ceiling were skipped for $size events: DuckDB runs out of memory at 10M; set BENCH_DUCKDB_10M=1 to run them anyway.")
            continue
        fi

        ensure_duckdb
        DUCKDB_VERSION=$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')
        duck_out=$OUT/duckdb/$format-$size
        rm -rf "$duck_out"
        if timed "duckdb-$format-$size" "$VENV/bin/python" "$ROOT/scripts/duckdb_ingest.py" \
            --markets "$ROOT/data/markets.csv" --out "$duck_out" "$dir/$format-*.ndjson"; then
            seconds=$(wall_seconds "$OUT/logs/duckdb-$format-$size.time")
            D_S[$key]=$seconds
            D_EPS[$key]=$(ratio "$read_records" "$seconds")
            D_RSS[$key]=$(peak_rss_mib "$OUT/logs/duckdb-$format-$size.time")
        else
            # Most likely the OOM this bench skips by default: record it, keep going.
            D_S[$key]="failed"
            NOTES+=("DuckDB failed on $size events; see bench-out/logs/duckdb-$format-$size.out")
        fi

        # Relative names keep the echoed command readable; it is the same list of files.
        (cd "$dir" && run "$CEILING" "${names[@]}") | tee "$OUT/logs/ceiling-$format-$size.out" >&2
        C_EPS[$key]=$(sed -n 's/.*items_per_second=\([0-9.]*\).*/\1/p' "$OUT/logs/ceiling-$format-$size.out")
    done
done

# The report: a Markdown table plus what a reader needs to trust or reproduce it.
{
    echo "# Ingest benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM," \
        "msgmeter $(source_version)," \
        "DuckDB ${DUCKDB_VERSION:-not run} (2 threads)."
    echo
    echo "events = records msgmeter read (the \"read\" of its total line; the generator's target" \
        "was the size asked for). MB = 10^6 bytes of input. DuckDB events/s uses the same record count." \
        "Ratios are events/s over events/s (above 1: msgmeter faster)."
    echo
    echo "| format | events | msgmeter s | events/s | MB/s | peak RSS MiB | duckdb s | duckdb events/s | duckdb peak RSS MiB | parse-ceiling events/s | ratio msgmeter/duckdb | ratio msgmeter/ceiling |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for format in whatsapp events; do
        for size in "${SIZES[@]}"; do
            k=$format/$size
            echo "| $format | ${READ[$k]} | ${M_S[$k]} | ${M_EPS[$k]} | ${M_MBS[$k]} | ${M_RSS[$k]}" \
                "| ${D_S[$k]:-—} | ${D_EPS[$k]:-—} | ${D_RSS[$k]:-—} | ${C_EPS[$k]:-—}" \
                "| $(ratio "${M_EPS[$k]}" "${D_EPS[$k]:-}" %.2f) | $(ratio "${M_EPS[$k]}" "${C_EPS[$k]:-}" %.2f) |"
        done
    done
    if ((${#NOTES[@]} > 0)); then
        echo
        printf -- '- %s\n' "${NOTES[@]}"
    fi
} >"$OUT/ingest.md"

echo >&2
cat "$OUT/ingest.md"
