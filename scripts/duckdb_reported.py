#!/usr/bin/env python3
"""Reported usage (billing.md §5, src/metering/reported.rs) as one DuckDB query over a
lake's `events` Parquet: a yardstick for the `reported_usage` step of `msgmeter build` in
scripts/bench_build.sh, not a second implementation to maintain.

The definition, as msgmeter applies it:
- status rows whose reported_pricing_model is PMP or CBP;
- a PMP unit is a distinct (business_id, message_id) among PMP statuses, a CBP unit a
  distinct (business_id, conversation_id) among CBP statuses with a conversation id;
- delivered_at = the earliest `ts` of the unit's delivered / read / played statuses; a unit
  with none is not delivered and is dropped;
- market, category, billable and pricing type are those of the unit's first status by
  (ts, event_key) that carries a value, then msgmeter's defaults for what stays missing:
  market 'Unknown', category 'unknown', billable = (pricing type is 'regular'), pricing
  type 'regular' when billable, else 'free_entry_point' for referral_conversion, else
  'free_customer_service';
- units are counted per (UTC date of delivered_at, business, market, category, model,
  pricing type, billable).

Left out: msgmeter keeps only units delivered inside the dates it builds; a whole-lake
build (no --from/--to) covers every date with events, so that filter removes nothing here.

Usage: python duckdb_reported.py [--memory-limit 4GB] [--threads 2] LAKE
Prints the result's row count, units and billable units, then a last line
`duckdb_reported_seconds=<float>`: the wall time of the query (execute and fetch) alone.
"""

import argparse
import sys
import time
from pathlib import Path

import duckdb

QUERY = """
WITH statuses AS (
    SELECT business_id,
           reported_pricing_model AS model,
           CASE reported_pricing_model
               WHEN 'PMP' THEN message_id
               WHEN 'CBP' THEN conversation_id
           END AS unit_id,
           ts, event_key, status, market,
           reported_category, reported_billable, reported_pricing_type
    FROM read_parquet({files}, hive_partitioning = true)
    WHERE event_type = 'status'
      AND reported_pricing_model IN ('PMP', 'CBP')
),
-- "First" is first by (ts, event_key) among the statuses that carry the value. (An ordered
-- first() measured a little faster than arg_min(x, (ts, event_key)) and is as exact.)
units AS (
    SELECT business_id, model,
           min(ts) FILTER (WHERE status IN ('delivered', 'read', 'played')) AS delivered_at,
           first(market ORDER BY ts, event_key) FILTER (WHERE market IS NOT NULL) AS market,
           first(reported_category ORDER BY ts, event_key)
               FILTER (WHERE reported_category IS NOT NULL) AS category,
           first(reported_billable ORDER BY ts, event_key)
               FILTER (WHERE reported_billable IS NOT NULL) AS billable,
           first(reported_pricing_type ORDER BY ts, event_key)
               FILTER (WHERE reported_pricing_type IS NOT NULL) AS pricing_type
    FROM statuses
    WHERE unit_id IS NOT NULL
    GROUP BY business_id, model, unit_id
    HAVING min(ts) FILTER (WHERE status IN ('delivered', 'read', 'played')) IS NOT NULL
),
-- msgmeter's defaults (reported.rs), in its order: category, then billable, then type.
defaulted AS (
    SELECT business_id, model, delivered_at,
           coalesce(market, 'Unknown') AS market,
           coalesce(category, 'unknown') AS category,
           coalesce(billable, pricing_type IS NOT DISTINCT FROM 'regular') AS billable,
           pricing_type
    FROM units
)
SELECT CAST(delivered_at AS DATE) AS date,
       business_id, market, category, model,
       coalesce(pricing_type,
                CASE WHEN billable THEN 'regular'
                     WHEN category = 'referral_conversion' THEN 'free_entry_point'
                     ELSE 'free_customer_service' END) AS pricing_type,
       billable,
       count(*) AS units
FROM defaulted
GROUP BY ALL
ORDER BY ALL
"""


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lake", type=Path, help="the lake msgmeter ingested into")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 4GB (default: DuckDB's)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default: 2)")
    args = parser.parse_args()

    events = args.lake / "events"
    if not events.is_dir() or not any(events.glob("*/*.parquet")):
        sys.exit(f"duckdb_reported: {events} holds no */*.parquet; ingest into {args.lake} first")
    if args.threads < 1:
        sys.exit("duckdb_reported: --threads must be at least 1")

    con = duckdb.connect()
    try:
        # Two threads: the benchmark machine has two cores and msgmeter uses all of them.
        con.execute(f"SET threads = {args.threads}")
        if args.memory_limit:
            con.execute(f"SET memory_limit = {sql_str(args.memory_limit)}")
        # TIMESTAMPTZ -> DATE follows this zone: usage is dated by the UTC day.
        con.execute("SET TimeZone = 'UTC'")
        query = QUERY.format(files=sql_str(str(events / "*" / "*.parquet")))
        start = time.perf_counter()
        rows = con.execute(query).fetchall()
        seconds = time.perf_counter() - start
    except duckdb.Error as e:
        sys.exit(f"duckdb_reported: {e}")

    # Columns: date, business_id, market, category, model, pricing_type, billable, units.
    units = sum(r[7] for r in rows)
    billable = sum(r[7] for r in rows if r[6])
    by_model = {}
    for r in rows:
        by_model[r[4]] = by_model.get(r[4], 0) + r[7]
    models = ", ".join(f"{m} {n}" for m, n in sorted(by_model.items())) or "none"
    print(f"duckdb_reported rows={len(rows)} units={units} billable_units={billable} ({models})")
    print(f"duckdb_reported_seconds={seconds:.3f}")


if __name__ == "__main__":
    main()
