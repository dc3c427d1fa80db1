#!/usr/bin/env python3
"""Floors: what two unavoidable parts of a benchmarked job cost on this machine when done
by someone else's code, with nothing of msgmeter involved. They bound what any
implementation of the same job can reach, which is what the benchmarks' targets are
judged against in the closing notes.

- `--tables LAKE TABLE...`: write every date file of each table again with polars' own
  Parquet writer (Python polars, not msgmeter's), with the lake's options: zstd level 1,
  statistics, row groups of 128 Ki rows, one output file per date file, as the jobs do.
  Reading happens first and is not timed.
  `ingest` has to write `events`; `build` has to write `reply_waits`, `cases` and
  `business_daily`. The files are written as polars writes them, without the fsyncs and
  renames msgmeter's atomic writes add: the floor is, if anything, low.
- `--hash DIR`: the SHA-256 of every file directly in DIR (hashlib, OpenSSL; the benches'
  data folders are flat), on THREADS threads,
  as `ingest` must to know which files it has already ingested. The files are read once
  first, so the page cache holds them as it does for the jobs.

Each measurement runs ROUNDS times; every round is printed as `wall s / CPU s` (CPU: user
and system time of this process over the round).

Usage:
  python floors.py [--rounds 3] [--threads 2] --tables LAKE events
  python floors.py --tables LAKE reply_waits cases business_daily
  python floors.py --hash bench-out/data/whatsapp-1000000

Needs polars for --tables (scripts/bench_lib.sh's venv: `bench-out/venv/bin/pip install
polars`); POLARS_MAX_THREADS is set to THREADS before polars is imported.
"""

import argparse
import glob
import hashlib
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def rounds_of(n, job):
    out = []
    for _ in range(n):
        wall, cpu = time.perf_counter(), cpu_seconds()
        job()
        out.append((time.perf_counter() - wall, cpu_seconds() - cpu))
    return " ".join(f"{w:.2f} s / {c:.2f} s" for w, c in out)


def table_floor(lake, table, rounds, scratch):
    import polars as pl

    files = sorted(glob.glob(os.path.join(lake, table, "**", "*.parquet"), recursive=True))
    if not files:
        sys.exit(f"floors: {lake} has no {table} files")
    frames = [pl.read_parquet(f) for f in files]
    rows = sum(f.height for f in frames)

    def write():
        for i, df in enumerate(frames):
            df.write_parquet(
                os.path.join(scratch, f"{table}-{i}.parquet"),
                compression="zstd",
                compression_level=1,
                statistics=True,
                row_group_size=128 * 1024,
            )

    print(f"write {table}: {rows} rows in {len(files)} files: {rounds_of(rounds, write)}")


def hash_floor(folder, rounds, threads):
    files = sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if os.path.isfile(os.path.join(folder, f))
    )

    def sha256(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()

    for path in files:  # into the page cache
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    size = sum(os.path.getsize(f) for f in files)

    def run():
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(sha256, files))

    print(f"sha256 {folder}: {len(files)} files, {size / 1e6:.1f} MB, {threads} threads: "
          f"{rounds_of(rounds, run)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tables", nargs="+", metavar=("LAKE", "TABLE"))
    p.add_argument("--hash", metavar="DIR")
    a = p.parse_args()
    if not a.tables and not a.hash:
        p.error("give --tables LAKE TABLE... and/or --hash DIR")
    os.environ["POLARS_MAX_THREADS"] = str(a.threads)
    if a.tables:
        if len(a.tables) < 2:
            p.error("--tables needs a lake and at least one table")
        with tempfile.TemporaryDirectory() as scratch:
            for table in a.tables[1:]:
                table_floor(a.tables[0], table, a.rounds, scratch)
    if a.hash:
        hash_floor(a.hash, a.rounds, a.threads)


if __name__ == "__main__":
    main()
