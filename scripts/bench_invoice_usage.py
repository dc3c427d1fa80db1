"""A month of usage for N synthetic businesses, written as msgmeter's lake tables
(`usage_daily` date partitions, `billing_sources` for 2025-10) by DuckDB, for
scripts/bench_invoice.sh.

Usage: bench_invoice_usage.py LAKE N

Business i has the id `msgmeter generate` gives it (102000000000000 + i * 7919 + 1) and is
active on a Zipf-like share of October's 31 days (the first businesses every day, the long
tail on one or two). On an active day it has, in up to 4 markets x 3 categories, charged
PMP units (regular, billable) and free service units, both of the derived source. The
columns, types and order are those of `msgmeter schema usage_daily`.
"""

import os
import sys

import duckdb


def main() -> None:
    lake, n = sys.argv[1], int(sys.argv[2])
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(
        f"""
        CREATE TABLE usage AS
        WITH b AS (
            SELECT i, CAST(102000000000000 + i * 7919 + 1 AS VARCHAR) AS business_id,
                   greatest(1, CAST(31 * pow(1 + i, -0.35) AS INTEGER)) AS days
            FROM range({n}) t(i)
        ),
        d AS (SELECT DATE '2025-10-01' + CAST(k AS INTEGER) AS day, k FROM range(31) t(k)),
        m AS (SELECT * FROM (VALUES ('Brazil', 0), ('India', 1), ('Mexico', 2), ('Germany', 3)) t(market, mi)),
        c AS (SELECT * FROM (VALUES ('marketing', 0), ('utility', 1), ('authentication', 2)) t(category, ci))
        SELECT d.day AS billing_date, '2025-10' AS billing_month, b.business_id, m.market,
               c.category, 'PMP' AS pricing_model, 'regular' AS pricing_type,
               'derived' AS source, true AS billable,
               CAST(1 + hash(b.i, d.k, m.mi, c.ci) % 40 AS BIGINT) AS units
        FROM b JOIN d ON (hash(b.i, d.k) % 31) < b.days
        JOIN m ON m.mi <= b.i % 4
        JOIN c ON c.ci <= (b.i + d.k) % 3
        UNION ALL
        SELECT d.day, '2025-10', b.business_id, 'Brazil', 'service', 'PMP',
               'free_customer_service', 'derived', false,
               CAST(1 + hash(b.i, d.k) % 20 AS BIGINT)
        FROM b JOIN d ON (hash(b.i, d.k) % 31) < b.days
        """
    )
    for (day,) in con.execute("SELECT DISTINCT billing_date FROM usage ORDER BY 1").fetchall():
        folder = os.path.join(lake, "usage_daily", f"date={day}")
        os.makedirs(folder, exist_ok=True)
        con.execute(
            f"""COPY (SELECT * FROM usage WHERE billing_date = DATE '{day}'
                      ORDER BY business_id, market, category, pricing_type)
                TO '{folder}/part-0.parquet' (FORMAT PARQUET, COMPRESSION ZSTD)"""
        )
    folder = os.path.join(lake, "billing_sources", "month=2025-10")
    os.makedirs(folder, exist_ok=True)
    con.execute(
        f"""COPY (SELECT DISTINCT business_id, billing_month, source, 'auto' AS choice,
                         false AS pricing_objects_seen FROM usage ORDER BY business_id)
            TO '{folder}/part-0.parquet' (FORMAT PARQUET, COMPRESSION ZSTD)"""
    )
    rows = con.execute("SELECT count(*) FROM usage").fetchone()[0]
    print(f"{lake}: {rows} usage_daily rows for {n} businesses")


if __name__ == "__main__":
    main()
