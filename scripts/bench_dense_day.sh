#!/usr/bin/env bash
# A dense day (issue #18): the same number of webhook events generated into ONE UTC day and
# spread over 5 days, each ingested into a fresh lake and built; time and peak RSS per
# command. Memory should follow the budget, not the number of events per day.
#
# Usage: scripts/bench_dense_day.sh [EVENTS [LAYOUTS]]   (default: 10000000 "1 5")
#   LAYOUTS: the numbers of days to spread the events over, e.g. "1" for the dense day only
#   BUSINESSES (environment, default 50): businesses generated; traffic per business is
#   Zipf-like, so the largest has about 15 % of it with 50, 8 % with 500
#
# Everything goes to bench-out/dense/ (gitignored): generated data (kept and reused), fresh
# lakes, logs, and the result table bench-out/dense.md.
#
# Environment:
#   CARGO_TARGET_DIR        where cargo builds (default /root/.cache/msgmeter/target)
#   MSGMETER_PSEUDONYM_KEY  pseudonym key for the ingest (default: the bench key)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/bench-out
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/msgmeter/target}
MSGMETER=$CARGO_TARGET_DIR/release/msgmeter
VENV=$OUT/venv
DAYS=1
NOW=2026-01-01T00:00:00Z
export MSGMETER_PSEUDONYM_KEY=${MSGMETER_PSEUDONYM_KEY:-msgmeter-bench-key-not-a-secret-0123456789}
# shellcheck source=scripts/bench_lib.sh
source "$ROOT/scripts/bench_lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi
EVENTS=${1:-10000000}
BUSINESSES=${BUSINESSES:-50}
LAYOUTS=${2:-1 5}

ensure_time
run cargo build --release --manifest-path "$ROOT/Cargo.toml"
mkdir -p "$OUT/logs" "$OUT/dense"
RESULT=$OUT/dense.md
{
    echo "| layout | events | ingest s | ingest peak MiB | build s | build peak MiB |"
    echo "|---|---:|---:|---:|---:|---:|"
} >"$RESULT"
for days in $LAYOUTS; do
    tag=$EVENTS-${days}d$([[ $BUSINESSES == 50 ]] || echo "-${BUSINESSES}b")
    data=$OUT/dense/data-$tag
    if [[ ! -f $data.complete ]]; then
        rm -rf "$data"
        run "$MSGMETER" generate --out "$data" --format whatsapp --businesses "$BUSINESSES" \
            --customers 200000 --start 2025-10-01 --days "$days" \
            --events-per-day $((EVENTS / days)) --seed 1 --files-per-day 8 | tee "$data.complete.tmp" >&2
        mv "$data.complete.tmp" "$data.complete"
    fi
    lake=$OUT/dense/lake-$tag
    rm -rf "$lake"
    rc=0
    timed "dense-ingest-$tag" "$MSGMETER" ingest --lake "$lake" --now "$NOW" "$data" || rc=$?
    ((rc <= 1)) || exit "$rc"
    timed "dense-build-$tag" "$MSGMETER" build --lake "$lake" --now "$NOW" || exit 1
    printf '| %s | %s | %s | %s | %s | %s |\n' "$EVENTS events over $days day(s), $BUSINESSES businesses" "$EVENTS" \
        "$(wall_seconds "$OUT/logs/dense-ingest-$tag.time")" \
        "$(peak_rss_mib "$OUT/logs/dense-ingest-$tag.time")" \
        "$(wall_seconds "$OUT/logs/dense-build-$tag.time")" \
        "$(peak_rss_mib "$OUT/logs/dense-build-$tag.time")" >>"$RESULT"
done
cat "$RESULT"
