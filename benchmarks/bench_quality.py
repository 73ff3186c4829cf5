"""heuristic_filter vs datatrove's GopherQualityFilter + GopherRepetitionFilter + C4QualityFilter.

One command: ``python benchmarks/bench_quality.py`` (add ``--docs`` / ``--reference-docs``).

- builds a seeded web-like corpus (benchmarks/web_corpus.py, from ../shared/data/noisy_ag_news);
- runs curate's heuristic_filter (web preset: the rules datatrove's three filters implement)
  on all documents;
- runs datatrove 0.10.1's three filters, chained as in a datatrove pipeline, in its own venv
  (benchmarks/.venv-datatrove, made on first use: datatrove needs xxhash<4 and spaCy) on the
  first ``--reference-docs`` documents of the same corpus file (datatrove runs at a few dozen
  documents per second here, so the full corpus would take hours);
- compares keep/drop per document id on the documents both ran, and prints throughput
  (documents/s and MB/s, wall and per CPU-second) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from web_corpus import build  # noqa: E402

from curate.stages.base import RunContext  # noqa: E402
from curate.stages.heuristic_filter import HeuristicFilter, HeuristicFilterConfig  # noqa: E402

VENV = HERE / ".venv-datatrove"
DATA = HERE / ".data"
SHARED = HERE.parent.parent / "shared" / "data"


def ensure_venv() -> Path:
    """benchmarks/.venv-datatrove with datatrove 0.10.1, xxhash<4, spaCy and regex."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "datatrove==0.10.1", "xxhash<4", "spacy", "regex"],
                       check=True)
    return python


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_curate(df: pl.DataFrame) -> tuple[pl.DataFrame, float, float]:
    stage = HeuristicFilter(HeuristicFilterConfig(preset="web"))
    stage.apply(df.head(50), RunContext())  # load the compiled n-gram kernel
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = stage.apply(df, RunContext())
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    decisions = df.select("id").join(result.removed.select("id", "reason"), on="id", how="left", maintain_order="left")
    return decisions, wall, cpu


def run_datatrove(python: Path, corpus: Path, out: Path) -> tuple[pl.DataFrame, float, float]:
    subprocess.run([str(python), str(HERE / "_datatrove_filters.py"), str(corpus), str(out)], check=True,
                   env={**os.environ, "PYTHONHASHSEED": "0"})
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = out.read_text().splitlines()
    seconds = json.loads(lines[-1])["seconds"]
    rows = [json.loads(line) for line in lines[:-1]]
    return pl.DataFrame(rows, schema={"id": pl.String, "reason": pl.String}), seconds, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--reference-docs", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (default ../shared/data)")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    corpus = DATA / f"web_{args.docs}_{args.seed}.parquet"
    if not corpus.exists():
        build(args.shared, args.docs, args.seed).write_parquet(corpus)
    df = pl.read_parquet(corpus)
    sample = df.head(args.reference_docs)
    sample_path = DATA / f"web_{args.docs}_{args.seed}_head{len(sample)}.jsonl"
    sample.write_ndjson(sample_path)
    mb_all, mb_sample = df["text"].str.len_bytes().sum() / 1e6, sample["text"].str.len_bytes().sum() / 1e6

    theirs, wall_dt, cpu_dt = run_datatrove(ensure_venv(), sample_path, DATA / "datatrove_decisions.jsonl")
    print(f"datatrove: {len(sample)} docs in {wall_dt:.1f} s", flush=True)
    ours, wall_s, cpu_s = run_curate(sample)
    ours_all, wall_all, cpu_all = run_curate(df)

    both = ours.join(theirs.rename({"reason": "datatrove"}), on="id")
    agree = (both["reason"].is_null() == both["datatrove"].is_null())
    rows = [
        ("curate heuristic_filter", len(df), mb_all, wall_all, cpu_all),
        ("curate heuristic_filter", len(sample), mb_sample, wall_s, cpu_s),
        ("datatrove Gopher+Gopher-rep+C4", len(sample), mb_sample, wall_dt, cpu_dt),
    ]
    print(f"{'implementation':32} {'docs':>7} {'MB':>7} {'wall s':>8} {'docs/s':>8} {'MB/s':>7} {'cpu s':>8} {'docs/cpu-s':>10}")
    for name, n, mb, wall, cpu in rows:
        print(f"{name:32} {n:7d} {mb:7.1f} {wall:8.2f} {n / wall:8.0f} {mb / wall:7.2f} {cpu:8.2f} {n / cpu:10.0f}")
    print(f"\nspeed-up on the same {len(sample)} documents: {wall_dt / wall_s:.1f}x wall, {cpu_dt / cpu_s:.1f}x CPU-seconds")
    print(f"speed-up, curate on {len(df)} docs vs datatrove's rate: {(len(df) / wall_all) / (len(sample) / wall_dt):.1f}x wall")
    print(f"same keep/drop decision: {agree.mean():.4f} of {len(both)} documents "
          f"(kept by both {int((both['reason'].is_null() & both['datatrove'].is_null()).sum())}, "
          f"dropped by both {int((both['reason'].is_not_null() & both['datatrove'].is_not_null()).sum())})")
    disagree = both.filter(~agree).group_by("reason", "datatrove").len().sort("len", descending=True)
    if disagree.height:
        print("disagreements (curate reason, datatrove reason, count):")
        for reason, dt, count in disagree.iter_rows():
            print(f"  {reason}  {dt}  {count}")


if __name__ == "__main__":
    main()
