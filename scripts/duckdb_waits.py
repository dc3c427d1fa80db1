#!/usr/bin/env python3
"""Reply waits (metrics.md "Reply waits", src/analytics/waits.rs) and their p50/p90 per
business as one DuckDB query with window functions over a lake's `events` Parquet: a
yardstick for the analytics stages of `msgmeter build` in scripts/bench_analytics.sh, not
a second implementation to maintain.

The definition, as msgmeter applies it, per (business_id, customer_key) in time order, a
customer's message before the business's within the same instant:
- inbound: message_in rows that are not reactions (reactions neither start nor join a wait);
- replies: message_out rows that are not templates, sent by an agent or a bot (a missing
  sender counts as agent, as for webhook-only input; `system` sends are not answers);
- a wait starts at an inbound message when no wait is open, i.e. the latest inbound-or-reply
  row before it is a reply, or there is none; later inbound messages join the open wait;
- it stops at the next reply: wait_seconds = reply ts - start ts, for answered waits;
- per business: waits, answered, and p50/p90 of wait_seconds over the answered ones.

Left out: rows without a customer_key (no timeline to place them in), business-hours
durations, is_first, the human-reply clock and periods (everything is counted over the whole
lake). Percentiles are DuckDB's quantile_disc, the smallest value whose cumulative share
reaches q: metrics.md's nearest rank, position ⌈q·n⌉ (checked against DuckDB 2.0.1 for n up
to 1001 at q = 0.5 and 0.9).

Usage: python duckdb_waits.py [--memory-limit 4GB] [--threads 2] LAKE
Prints the result's row count (businesses), waits and answered waits, then a last line
`duckdb_waits_seconds=<float>`: the wall time of the query (execute and fetch) alone.
"""

import argparse
import sys
import time
from pathlib import Path

import duckdb

QUERY = """
WITH relevant AS (
    SELECT business_id, customer_key, ts,
           event_type = 'message_out' AS is_reply
    FROM read_parquet({files}, hive_partitioning = true)
    WHERE customer_key IS NOT NULL
      AND ((event_type = 'message_in' AND message_type IS DISTINCT FROM 'reaction')
           OR (event_type = 'message_out' AND message_type IS DISTINCT FROM 'template'
               AND coalesce(sender, 'agent') IN ('agent', 'bot')))
),
-- Ordered by (ts, is_reply): false sorts first, so inbound precedes outbound in a second
-- and a reply stamped the same instant answers the message (0 s).
tagged AS (
    SELECT business_id, ts, is_reply,
           lag(is_reply) OVER (PARTITION BY business_id, customer_key
                               ORDER BY ts, is_reply) AS previous_is_reply,
           min(CASE WHEN is_reply THEN ts END)
               OVER (PARTITION BY business_id, customer_key
                     ORDER BY ts, is_reply
                     ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS replied_at
    FROM relevant
),
-- An inbound message starts a wait when nothing is owed: the row before it is a reply, or
-- there is none. The next reply after it is the wait's reply.
waits AS (
    SELECT business_id, replied_at,
           epoch(replied_at) - epoch(ts) AS wait_seconds
    FROM tagged
    WHERE NOT is_reply AND coalesce(previous_is_reply, true)
)
SELECT business_id,
       count(*) AS waits,
       count(replied_at) AS answered,
       quantile_disc(wait_seconds, 0.5) FILTER (WHERE replied_at IS NOT NULL) AS p50_seconds,
       quantile_disc(wait_seconds, 0.9) FILTER (WHERE replied_at IS NOT NULL) AS p90_seconds
FROM waits
GROUP BY business_id
ORDER BY business_id
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
        sys.exit(f"duckdb_waits: {events} holds no */*.parquet; ingest into {args.lake} first")
    if args.threads < 1:
        sys.exit("duckdb_waits: --threads must be at least 1")

    con = duckdb.connect()
    try:
        # Two threads: the benchmark machine has two cores and msgmeter uses all of them.
        con.execute(f"SET threads = {args.threads}")
        if args.memory_limit:
            con.execute(f"SET memory_limit = {sql_str(args.memory_limit)}")
        # Durations do not depend on the zone; UTC keeps any date logic the same as msgmeter's.
        con.execute("SET TimeZone = 'UTC'")
        query = QUERY.format(files=sql_str(str(events / "*" / "*.parquet")))
        start = time.perf_counter()
        rows = con.execute(query).fetchall()
        seconds = time.perf_counter() - start
    except duckdb.Error as e:
        sys.exit(f"duckdb_waits: {e}")

    # Columns: business_id, waits, answered, p50_seconds, p90_seconds.
    waits = sum(r[1] for r in rows)
    answered = sum(r[2] for r in rows)
    print(f"duckdb_waits rows={len(rows)} waits={waits} answered={answered} unanswered={waits - answered}")
    print(f"duckdb_waits_seconds={seconds:.3f}")


if __name__ == "__main__":
    main()
