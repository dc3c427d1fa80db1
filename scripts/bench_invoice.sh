#!/usr/bin/env bash
# Invoicing throughput: `msgmeter invoice` for one billing month of N businesses: the
# tables, one JSON per invoice and the ERP CSV (`--documents none`), drafted and then
# finalized; and a draft with every document (HTML, PDF/A-3) on a copy of the lake.
#
# Usage: scripts/bench_invoice.sh [BUSINESSES...]        (default: 10000 100000)
#
# The lake is made for the benchmark: the accounts of N synthetic businesses
# (`msgmeter generate --accounts-out`, every currency and fee the generator gives them) and
# a month of `usage_daily` / `billing_sources` written by DuckDB (scripts/bench_invoice_usage.py):
# each business has charged and free PMP units on a Zipf-like share of October's days, in
# up to 4 markets × 3 categories. Building that usage from raw events for 100,000
# businesses would measure ingest and build, not invoicing.
#
# Everything goes to bench-out/invoice/ (gitignored); the result table is
# bench-out/invoice.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/bench-out
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/msgmeter/target}
MSGMETER=$CARGO_TARGET_DIR/release/msgmeter
VENV=$OUT/venv
DAYS=31
# shellcheck source=scripts/bench_lib.sh
source "$ROOT/scripts/bench_lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(10000 100000)

ensure_time
ensure_duckdb
run cargo build --release --manifest-path "$ROOT/Cargo.toml"
mkdir -p "$OUT/logs" "$OUT/invoice"
RESULT=$OUT/invoice.md
{
    echo "| businesses | usage rows | invoices | draft s | draft peak MiB | finalize s | finalize peak MiB | draft, every document s | peak MiB |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$RESULT"
for n in "${SIZES[@]}"; do
    dir=$OUT/invoice/$n
    rm -rf "$dir"
    mkdir -p "$dir"
    run "$MSGMETER" --quiet generate --out "$dir/tiny" --businesses "$n" --customers 10 \
        --days 1 --events-per-day 10 --accounts-out "$dir/accounts.csv" >/dev/null
    run "$VENV/bin/python" "$ROOT/scripts/bench_invoice_usage.py" "$dir/lake" "$n"
    rows=$("$VENV/bin/python" -c "import duckdb,sys; print(duckdb.sql(\"select count(*) from read_parquet('$dir/lake/usage_daily/*/*.parquet')\").fetchall()[0][0])")
    cp -r "$dir/lake" "$dir/lake-documents"
    # Issue #16's measure: the tables, the JSON and the ERP CSV.
    timed "invoice-draft-$n" "$MSGMETER" --accounts "$dir/accounts.csv" invoice --lake "$dir/lake" \
        --month 2025-10 --date 2025-10-31 --documents none || exit 1
    timed "invoice-final-$n" "$MSGMETER" --accounts "$dir/accounts.csv" invoice --lake "$dir/lake" \
        --month 2025-10 --date 2025-11-04 --finalize --documents none || exit 1
    # Every document (HTML, PDF/A-3 of each draft) on a copy of the same lake.
    timed "invoice-documents-$n" "$MSGMETER" --accounts "$dir/accounts.csv" invoice --lake "$dir/lake-documents" \
        --month 2025-10 --date 2025-10-31 || exit 1
    invoices=$(find "$dir/lake/invoices/month=2025-10" -name '*.json' | wc -l)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$rows" "$invoices" \
        "$(wall_seconds "$OUT/logs/invoice-draft-$n.time")" "$(peak_rss_mib "$OUT/logs/invoice-draft-$n.time")" \
        "$(wall_seconds "$OUT/logs/invoice-final-$n.time")" "$(peak_rss_mib "$OUT/logs/invoice-final-$n.time")" \
        "$(wall_seconds "$OUT/logs/invoice-documents-$n.time")" "$(peak_rss_mib "$OUT/logs/invoice-documents-$n.time")" >>"$RESULT"
done
cat "$RESULT"
