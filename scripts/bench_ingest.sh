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
#   BENCH_ROUNDS            rounds per format and size (default 3): msgmeter, DuckDB and
#                           the parse ceiling in turn, so each ratio compares runs minutes
#                           apart at most (this VM's speed drifts by up to 1.6x); the table
#                           shows the round of median ratio to DuckDB (of median msgmeter
#                           time where DuckDB did not run), the notes every round
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
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
fi
SIZES=("$@")
if [[ ${#SIZES[@]} -eq 0 ]]; then
    SIZES=(1000000 2000000 10000000)
fi
ROUNDS=${BENCH_ROUNDS:-3}
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "bench_ingest: BENCH_ROUNDS '$ROUNDS' is not a whole number >= 1" >&2
    exit 2
fi
for size in "${SIZES[@]}"; do
    if ! [[ $size =~ ^[0-9]+$ ]] || ((size < DAYS)); then
        echo "bench_ingest: size '$size' is not a whole number of events >= $DAYS" >&2
        exit 2
    fi
done

# The helpers every bench shares (show, run, timed, ensure_data, …).
# shellcheck source=scripts/bench_lib.sh
source "$ROOT/scripts/bench_lib.sh"

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
        round_lines=""
        for round in $(seq 1 "$ROUNDS"); do
            rkey=$key/$round
            log=$format-$size-r$round
            rm -rf "$lake"
            # Exit 1 means "ingested, but not everything was clean" (e.g. quarantine above
            # the limit): still a valid timing as long as the totals were printed.
            rc=0
            # msgmeter reads a folder's files in lexicographic order: the same files as "${names[@]}".
            timed "msgmeter-$log" "$MSGMETER" ingest --lake "$lake" --now "$NOW" \
                --format auto "$dir" || rc=$?
            # The total line: "total<TAB>read R = accepted A + duplicates D + ...".
            read_records=$(sed -n 's/^total\tread \([0-9]*\) =.*/\1/p' "$OUT/logs/msgmeter-$log.out")
            if [[ -z $read_records ]]; then
                echo "bench_ingest: msgmeter ingest failed (exit $rc); see $OUT/logs/msgmeter-$log.out" >&2
                exit 1
            fi
            ((rc == 0)) || NOTES+=("msgmeter ingest exited $rc on $format/$size round $round (totals were printed; see logs/)")
            seconds=$(wall_seconds "$OUT/logs/msgmeter-$log.time")
            READ[$key]=$read_records
            M_S[$rkey]=$seconds
            M_EPS[$rkey]=$(ratio "$read_records" "$seconds")
            M_MBS[$rkey]=$(ratio "$(awk -v b="$bytes" 'BEGIN { printf "%.6f", b / 1e6 }')" "$seconds" %.1f)
            M_RSS[$rkey]=$(peak_rss_mib "$OUT/logs/msgmeter-$log.time")
            round_lines+="round $round: msgmeter ${M_S[$rkey]} s (${M_RSS[$rkey]} MiB)"

            # The yardsticks are webhook-only; above the limit DuckDB exhausts memory.
            if [[ $format == whatsapp ]] && { ((size <= DUCKDB_MAX_EVENTS)) || [[ ${BENCH_DUCKDB_10M:-0} == 1 ]]; }; then
                ensure_duckdb
                DUCKDB_VERSION=$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')
                duck_out=$OUT/duckdb/$format-$size
                rm -rf "$duck_out"
                if timed "duckdb-$log" "$VENV/bin/python" "$ROOT/scripts/duckdb_ingest.py" \
                    --markets "$ROOT/data/markets.csv" --out "$duck_out" "$dir/$format-*.ndjson"; then
                    seconds=$(wall_seconds "$OUT/logs/duckdb-$log.time")
                    D_S[$rkey]=$seconds
                    D_EPS[$rkey]=$(ratio "$read_records" "$seconds")
                    D_RSS[$rkey]=$(peak_rss_mib "$OUT/logs/duckdb-$log.time")
                else
                    # Most likely the OOM this bench skips by default: record it, keep going.
                    D_S[$rkey]="failed"
                    NOTES+=("DuckDB failed on $size events; see bench-out/logs/duckdb-$log.out")
                fi
                # Relative names keep the echoed command readable; it is the same list of files.
                (cd "$dir" && run "$CEILING" "${names[@]}") | tee "$OUT/logs/ceiling-$log.out" >&2
                C_EPS[$rkey]=$(sed -n 's/.*items_per_second=\([0-9.]*\).*/\1/p' "$OUT/logs/ceiling-$log.out")
                round_lines+=", DuckDB ${D_S[$rkey]} s, ratio $(ratio "${M_EPS[$rkey]}" "${D_EPS[$rkey]:-}" %.2f), ceiling ${C_EPS[$rkey]} events/s, ratio $(ratio "${M_EPS[$rkey]}" "${C_EPS[$rkey]:-}" %.2f)"
            fi
            round_lines+="; "
        done
        if [[ $format == whatsapp ]] && ((size > DUCKDB_MAX_EVENTS)) && [[ ${BENCH_DUCKDB_10M:-0} != 1 ]]; then
            D_S[$key]="skipped"
            NOTES+=("DuckDB and the parse ceiling were skipped for $size events: DuckDB runs out of memory at 10M; set BENCH_DUCKDB_10M=1 to run them anyway.")
        fi
        # The round that stands for the size: median ratio to DuckDB where it ran, else
        # median msgmeter time.
        median=$(for round in $(seq 1 "$ROUNDS"); do
            r=$(ratio "${M_EPS[$key/$round]}" "${D_EPS[$key/$round]:-}" %.4f)
            [[ $r == — ]] && r=${M_S[$key/$round]}
            echo "$r $round"
        done | sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) { print $2 }')
        for field in M_S M_EPS M_MBS M_RSS D_S D_EPS D_RSS C_EPS; do
            declare -n column=$field
            [[ -z ${column[$key/$median]:-} ]] || column[$key]=${column[$key/$median]}
            unset -n column
        done
        ((ROUNDS == 1)) || NOTES+=("$format, $size events, every round: ${round_lines%; } (the table shows round $median)")
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
