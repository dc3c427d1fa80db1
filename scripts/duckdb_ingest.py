#!/usr/bin/env python3
"""The webhook half of `msgmeter ingest`, written as one DuckDB query: a yardstick for
scripts/bench_ingest.sh, not a second implementation to maintain.

It reads NDJSON webhook bodies (spec/events.md §1), makes one row per `messages[]` /
`statuses[]` item with the same normalisation msgmeter applies, pseudonymises the customer
with HMAC-SHA-256 under MSGMETER_PSEUDONYM_KEY, finds the market by longest prefix in
markets.csv, drops duplicates and writes Parquet partitioned by UTC date.

Where it is knowingly simpler than msgmeter (so the comparison flatters DuckDB a little):
- unreadable lines are dropped by `ignore_errors`, not quarantined, and a bad item is not
  isolated from its body; only `status` values are checked against the vocabulary;
- duplicates are collapsed over the whole input (earliest `ts` wins) instead of within
  24 h, with no state carried across runs and no conflict report;
- business-app echoes, the `identities` table, source sha256 / line and the run manifest are
  left out.

Usage: python duckdb_ingest.py --markets data/markets.csv --out OUTDIR FILES...
(FILES may be DuckDB globs such as 'dir/whatsapp-*.ndjson'.)
Prints: `duckdb_ingest rows=N` (rows written after dedupe).
"""

import argparse
import csv
import hashlib
import os
import sys
from pathlib import Path

import duckdb

# What msgmeter uses when no key is configured (src/ingest/normalize.rs); it warns, so do we.
DEMO_PSEUDONYM_KEY = "msgmeter-demo-key-not-secret"

# SHA-256's block size: RFC 2104 pads (or first hashes) the key to this length.
SHA256_BLOCK = 64

# Declaring the schema instead of letting DuckDB sample it: keys absent from the sample
# (pricing_type, user ids, recipient_type) would otherwise vanish from the struct, and
# inference would cost a pass of its own. Numbers (error codes, epochs written as numbers)
# are read into VARCHAR columns as their text.
WEBHOOK_COLUMNS = {
    "entry": """STRUCT(
        id VARCHAR,
        changes STRUCT(
            field VARCHAR,
            value STRUCT(
                metadata STRUCT(phone_number_id VARCHAR),
                contacts STRUCT(wa_id VARCHAR, user_id VARCHAR)[],
                messages STRUCT(
                    "from" VARCHAR, from_user_id VARCHAR, id VARCHAR, "timestamp" VARCHAR,
                    "type" VARCHAR, referral JSON
                )[],
                statuses STRUCT(
                    id VARCHAR, status VARCHAR, "timestamp" VARCHAR, recipient_id VARCHAR,
                    recipient_user_id VARCHAR, recipient_type VARCHAR,
                    conversation STRUCT(
                        id VARCHAR, expiration_timestamp VARCHAR, origin STRUCT("type" VARCHAR)
                    ),
                    pricing STRUCT(
                        billable BOOLEAN, pricing_model VARCHAR, category VARCHAR,
                        "type" VARCHAR, pricing_type VARCHAR
                    ),
                    errors STRUCT(code VARCHAR)[]
                )[]
            )
        )[]
    )[]""",
}

# The query, in the order msgmeter does the work. The `{...}` holes are SQL fragments and
# literals filled in by main().
QUERY = """
WITH bodies AS (
    SELECT entry, filename
    FROM read_json({files}, format = 'newline_delimited', records = true,
                   maximum_object_size = 16777216, ignore_errors = true,
                   filename = true, columns = {columns})
),
entries AS (
    SELECT filename, unnest(entry) AS e FROM bodies
),
changes AS (
    SELECT filename, e.id AS business_id, unnest(e.changes) AS c FROM entries
),
-- Only `messages` changes carry messaging; other fields are msgmeter's *skipped* records.
-- The change's first contact with a number (or user id) stands in for an item without one.
messaging AS (
    SELECT filename, business_id, c.value AS v,
           c.value.metadata.phone_number_id AS phone_number_id,
           list_filter(c.value.contacts, lambda k: k.wa_id IS NOT NULL)[1].wa_id AS contact_number,
           list_filter(c.value.contacts, lambda k: k.user_id IS NOT NULL)[1].user_id AS contact_user
    FROM changes
    WHERE c.field = 'messages'
),
messages AS (
    SELECT filename, business_id, phone_number_id, contact_number, contact_user,
           unnest(v.messages) AS m
    FROM messaging
),
statuses AS (
    SELECT filename, business_id, phone_number_id, contact_number, contact_user,
           unnest(v.statuses) AS s
    FROM messaging
),
items AS (
    SELECT 'message_in' AS event_type,
           business_id || '|in|' || m.id AS event_key,
           to_timestamp(TRY_CAST(m."timestamp" AS BIGINT)) AS ts,
           business_id, phone_number_id,
           coalesce(m."from", contact_number) AS number,
           coalesce(m.from_user_id, contact_user) AS user_id,
           m.id AS message_id,
           lower(trim(m."type")) AS message_type,
           m.referral IS NOT NULL AS referral,
           NULL::VARCHAR AS status,
           NULL::VARCHAR AS reported_pricing_model,
           NULL::BOOLEAN AS reported_billable,
           NULL::VARCHAR AS reported_category,
           NULL::VARCHAR AS reported_pricing_type,
           NULL::VARCHAR AS conversation_id,
           NULL::VARCHAR AS conversation_origin,
           NULL::TIMESTAMPTZ AS conversation_expires,
           NULL::VARCHAR AS error_code,
           filename
    FROM messages
    -- "The customer changed number" and similar notices: nobody wrote them.
    WHERE lower(trim(m."type")) IS DISTINCT FROM 'system'
    UNION ALL
    SELECT 'status',
           business_id || '|status|' || s.id || '|' || s.status,
           to_timestamp(TRY_CAST(s."timestamp" AS BIGINT)),
           business_id, phone_number_id,
           coalesce(s.recipient_id, contact_number),
           coalesce(s.recipient_user_id, contact_user),
           s.id,
           NULL, NULL,
           s.status,
           s.pricing.pricing_model,
           -- A missing `billable` means billable exactly when the type is `regular`.
           coalesce(s.pricing.billable,
                    {pricing_type} = 'regular'),
           {category},
           {pricing_type},
           s.conversation.id,
           {origin},
           to_timestamp(TRY_CAST(s.conversation.expiration_timestamp AS BIGINT)),
           list_filter(s.errors, lambda x: x.code IS NOT NULL)[1].code,
           filename
    FROM statuses
    WHERE s.recipient_type IS DISTINCT FROM 'group'
      AND s.status IN ('sent', 'delivered', 'read', 'played', 'failed')
),
-- Items without an id or a readable time are what msgmeter quarantines.
valid AS (
    SELECT *, ltrim(trim(number), '+') AS digits
    FROM items
    WHERE message_id IS NOT NULL AND ts IS NOT NULL AND business_id IS NOT NULL
      AND (number IS NOT NULL OR user_id IS NOT NULL OR event_type = 'status')
),
-- Retries repeat the original's timestamp: keep the earliest version of each key.
deduped AS (
    SELECT * FROM valid
    QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY ts) = 1
),
-- The market depends only on the number and the day, so look each pair up once rather
-- than once per event: the prefix join is a nested loop, the equality join back is a hash.
number_days AS (
    SELECT DISTINCT digits, CAST(ts AS DATE) AS day FROM deduped WHERE digits IS NOT NULL
),
market_of AS (
    SELECT n.digits, n.day, m.calling_code, m.country, m.market
    FROM number_days n
    JOIN markets m ON starts_with(n.digits, m.prefix) AND m.valid_from <= n.day
    -- Longest prefix wins (1787 Puerto Rico over 1); among its rows, the newest in force.
    QUALIFY row_number() OVER (
        PARTITION BY n.digits, n.day ORDER BY length(m.prefix) DESC, m.valid_from DESC) = 1
)
SELECT d.event_key,
       d.event_type,
       CAST(d.ts AS TIMESTAMP) AS ts,
       d.business_id,
       d.phone_number_id,
       -- A number is keyed by its digits, anything else as it is (events.md §3).
       CASE WHEN d.digits IS NOT NULL THEN {hmac_digits} ELSE {hmac_user} END AS customer_key,
       mk.calling_code AS customer_cc,
       coalesce(mk.market, 'Unknown') AS market,
       mk.country AS customer_country,
       d.message_id,
       d.message_type,
       d.referral,
       d.status,
       d.reported_pricing_model,
       d.reported_billable,
       d.reported_category,
       d.reported_pricing_type,
       d.conversation_id,
       d.conversation_origin,
       CAST(d.conversation_expires AS TIMESTAMP) AS conversation_expires,
       d.error_code,
       parse_filename(d.filename) AS source_file,
       CAST(d.ts AS DATE) AS date
FROM deduped d
LEFT JOIN market_of mk ON mk.digits = d.digits AND mk.day = CAST(d.ts AS DATE)
ORDER BY d.business_id, d.ts
"""


def normalised(sql_text: str) -> str:
    """msgmeter's `normalise_category`: trimmed, lower case, '-' as '_'."""
    return f"replace(lower(trim({sql_text})), '-', '_')"


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(texts: list[str]) -> str:
    return "[" + ", ".join(sql_str(t) for t in texts) + "]"


def sql_struct(fields: dict[str, str]) -> str:
    """A struct literal of strings, such as read_json's `columns`."""
    return "{" + ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in fields.items()) + "}"


def hmac_sql(key: bytes, message_sql: str) -> str:
    """HMAC-SHA-256 per RFC 2104, as SQL over blobs: sha256(K^opad || sha256(K^ipad || m)).

    DuckDB has no hmac(), and no XOR on blobs, but the key is a constant: the two padded
    keys are computed here and inlined as hex. Per row that leaves two sha256() calls over
    blob concatenations. sha256() returns hex, so the inner digest goes back through
    unhex() to be hashed as raw bytes. The result is the first 128 bits, as msgmeter keeps.
    """
    if len(key) > SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(SHA256_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in key).hex()
    opad = bytes(b ^ 0x5C for b in key).hex()
    inner = f"unhex(sha256(unhex('{ipad}') || encode({message_sql})))"
    return f"left(sha256(unhex('{opad}') || {inner}), 32)"


def load_markets(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """markets.csv opens with '#' comment lines (some with commas), so it is read here
    rather than by read_csv's sniffer, and loaded as a small table."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if line.strip() and not line.startswith("#")))
    expected = ["prefix", "calling_code", "country", "market", "valid_from"]
    if not rows or list(rows[0].keys()) != expected:
        sys.exit(f"{path}: expected a header {','.join(expected)} and at least one row")
    con.execute(
        "CREATE TEMP TABLE markets (prefix VARCHAR, calling_code VARCHAR, country VARCHAR, "
        "market VARCHAR, valid_from DATE)"
    )
    con.executemany(
        "INSERT INTO markets VALUES (?, ?, ?, ?, ?)",
        [[r[k].strip() for k in expected] for r in rows],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", required=True, type=Path, help="data/markets.csv")
    parser.add_argument("--out", required=True, type=Path, help="output folder (new or empty)")
    parser.add_argument("files", nargs="+", help="NDJSON webhook files (globs allowed)")
    args = parser.parse_args()

    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out} is not empty: give a new folder so old partitions cannot mix in")
    key = os.environ.get("MSGMETER_PSEUDONYM_KEY")
    if not key:
        print("warning: MSGMETER_PSEUDONYM_KEY not set; using the public demo key", file=sys.stderr)
        key = DEMO_PSEUDONYM_KEY

    con = duckdb.connect()
    # Two threads: the benchmark machine has two cores and msgmeter uses all of them.
    con.execute("PRAGMA threads=2")
    # Casts between TIMESTAMPTZ, TIMESTAMP and DATE follow this zone; partitions are UTC days.
    con.execute("SET TimeZone = 'UTC'")
    load_markets(con, args.markets)

    pricing_type = normalised('coalesce(s.pricing."type", s.pricing.pricing_type)')
    query = QUERY.format(
        files=sql_list(args.files),
        columns=sql_struct(WEBHOOK_COLUMNS),
        pricing_type=pricing_type,
        category=normalised("s.pricing.category"),
        origin=normalised('s.conversation.origin."type"'),
        hmac_digits=hmac_sql(key.encode(), "d.digits"),
        hmac_user=hmac_sql(key.encode(), "trim(d.user_id)"),
    )
    # COPY takes no prepared parameters, hence the quoted literals above.
    (rows,) = con.execute(
        f"COPY ({query}) TO {sql_str(str(args.out))} "
        "(FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)"
    ).fetchone()
    print(f"duckdb_ingest rows={rows}")


if __name__ == "__main__":
    main()
