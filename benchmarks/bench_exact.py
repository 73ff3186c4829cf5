"""Exact dedup throughput: curate's stage vs pandas drop_duplicates vs a plain-Python loop.

Run: ``python benchmarks/bench_exact.py [--docs 100000] [--threads 1]``. All three normalise
the same way (NFKC, lowercase, collapse whitespace) and must find the same duplicates.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--docs", type=int, default=100_000)
parser.add_argument("--threads", type=int, default=1, help="polars threads (1 = per-core figures)")
parser.add_argument("--repeat", type=int, default=3)
args = parser.parse_args()
os.environ["POLARS_MAX_THREADS"] = str(args.threads)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import hashlib  # noqa: E402
import re  # noqa: E402
import unicodedata  # noqa: E402

import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
from corpus import dedup_corpus  # noqa: E402

from curate.stages.base import RunContext  # noqa: E402
from curate.stages.exact_dedup import ExactDedup, ExactDedupConfig  # noqa: E402

SPACES = re.compile(r"\s+")


def python_loop(texts: list[str]) -> set[int]:
    """normalise + hashlib + set, one document at a time."""
    seen, removed = set(), set()
    for i, text in enumerate(texts):
        key = hashlib.blake2b(SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip().encode(), digest_size=8).digest()
        if key in seen:
            removed.add(i)
        else:
            seen.add(key)
    return removed


def pandas_drop_duplicates(texts: list[str]) -> set[int]:
    """pandas string methods for normalisation, then drop_duplicates."""
    s = pd.Series(texts).str.normalize("NFKC").str.lower().str.replace(r"\s+", " ", regex=True).str.strip()
    kept = s.drop_duplicates(keep="first").index
    return set(range(len(texts))) - set(kept)


def curate_stage(df: pl.DataFrame) -> set[int]:
    """The exact_dedup stage (64-bit xxh3), end to end, ledger included."""
    result = ExactDedup(ExactDedupConfig()).apply(df, RunContext())
    return set(int(i[1:]) for i in result.removed["id"])


def best_time(fn, data, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(data)
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    df = dedup_corpus(args.docs)
    texts = df["text"].to_list()
    megabytes = df["text"].str.len_bytes().sum() / 1e6
    print(f"corpus: {len(texts):,} docs, {megabytes:.1f} MB, polars threads={args.threads}, best of {args.repeat}")
    rows = []
    for name, fn, data in [("python loop (hashlib+set)", python_loop, texts),
                           ("pandas drop_duplicates", pandas_drop_duplicates, texts),
                           ("curate exact_dedup", curate_stage, df)]:
        seconds, removed = best_time(fn, data, args.repeat if name != "python loop (hashlib+set)" else 1)
        rows.append((name, seconds, removed))
    reference = rows[0][2]
    base = {name: seconds for name, seconds, _ in rows}
    print(f"{'method':28} {'seconds':>8} {'docs/s':>10} {'MB/s':>8} {'vs python':>9} {'vs pandas':>9} {'same result':>11}")
    for name, seconds, removed in rows:
        print(f"{name:28} {seconds:8.3f} {len(texts) / seconds:10,.0f} {megabytes / seconds:8.1f} "
              f"{base['python loop (hashlib+set)'] / seconds:9.1f} {base['pandas drop_duplicates'] / seconds:9.1f} "
              f"{str(removed == reference):>11}")
    print(f"duplicates found: {len(reference):,}")


if __name__ == "__main__":
    main()
