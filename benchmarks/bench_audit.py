"""Threshold sweeps from a run's cache vs rerunning the stage, on the 38,158 demo tweets.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python benchmarks/bench_audit.py [--points 20] [--repeats 2] [--long-docs 20000]

One run of exact_dedup, minhash_dedup (the demo's settings), heuristic_filter (preset
short_text) and semantic_dedup (static embedder, eps 0.07), then for each stage:

- sweep from cache: ``curate.audit.minhash_sweep`` (the stage's cached signatures; the first
  sweep bands each threshold's layout once and caches its edges, later ones filter and join),
  ``curate.audit.score_sweep`` (a q_* column of the heuristic_filter checkpoint and its ledger
  rows) and ``curate.audit.similarity_sweep`` (semantic_dedup's ``semantic_neighbours.parquet``),
  at one threshold and over a curve;
- rerun: the stage's ``apply`` at another threshold on the stage's own input (its predecessor's
  checkpoint): MinHash recomputes signatures, heuristic_filter recomputes every score, SemDeDup
  redoes k-means and the within-cluster similarities. SemDeDup's embeddings come from the
  on-disk embedding cache the run filled (it hits; the in-process memo is cleared first), and
  again with ``embed: {cache: false}`` so the texts are embedded afresh.

A second MinHash row (``--long-docs``, default 20,000; 0 skips it) runs minhash_dedup alone on
synthetic 200-600-word documents, where computing signatures dominates the stage, unlike tweets.

"rerun x N" is N times the median single rerun. Checks: each sweep's rows removed at the
run's own threshold equals what the stage removed, and (MinHash, SemDeDup) at the rerun's
threshold equals what the rerun removed. Times are medians on a shared machine: compare ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

import curate
from curate import audit
from curate.embed import clear_memory
from curate.quality.rules import BY_NAME
from curate.record import RunDir
from curate.stages.base import RunContext
from curate.stages.heuristic_filter import HeuristicFilter
from curate.stages.minhash_dedup import MinHashDedup
from curate.stages.semantic_dedup import SemanticDedup

MINHASH = {"type": "minhash_dedup", "unit": "word", "ngram": 3, "threshold": 0.8, "keep": "first"}
HEURISTIC = {"type": "heuristic_filter", "preset": "short_text"}
SEMANTIC = {"type": "semantic_dedup", "embed": {"embedder": "static"}, "eps": 0.07}


def timed(fn: Callable[[], object], repeats: int, before: Callable[[], None] | None = None) -> tuple[float, object]:
    """Median seconds of ``repeats`` calls of ``fn`` (``before`` runs untimed ahead of each), and its last result."""
    times, out = [], None
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def stage_input(run_dir: Path, index: int, label: str) -> pl.DataFrame:
    """The rows stage ``index`` saw: its predecessor's (``label``) checkpoint."""
    return pl.read_parquet(RunDir(run_dir).stage_base(index - 1, label).with_suffix(".parquet"))


def long_documents(n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` documents of 200-600 Zipf-distributed words, a tenth of them copies of others with 1-30% of words replaced."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(20_000)])
    docs = [vocab[np.minimum(rng.zipf(1.3, k), len(vocab)) - 1] for k in rng.integers(200, 600, n)]
    for i in rng.choice(n, n // 10, replace=False):
        copy = docs[rng.integers(0, n)].copy()
        spots = rng.random(len(copy)) < rng.uniform(0.01, 0.3)
        copy[spots] = vocab[rng.integers(0, len(vocab), spots.sum())]
        docs[i] = copy
    return pl.DataFrame({"id": [f"d{i}" for i in range(n)], "text": [" ".join(d) for d in docs]})


def minhash_row(name: str, run_dir: Path, data: pl.DataFrame, config: dict, grid: np.ndarray,
                repeats: int) -> tuple:
    """Time minhash_sweep (1 threshold, the curve) against rerunning the stage at 0.7; check both counts.

    The first sweep bands each layout once and caches its edges; it is timed and printed apart.
    """
    cold, _ = timed(lambda: audit.minhash_sweep(run_dir, grid), 1)
    print(f"{name}: first sweep over the curve, which builds the per-layout edge cache: {cold:.3f} s")
    one, at_run = timed(lambda: audit.minhash_sweep(run_dir, [config["threshold"]]), 3)
    curve, _ = timed(lambda: audit.minhash_sweep(run_dir, grid), 3)
    rerun, result = timed(lambda: MinHashDedup(MinHashDedup.Config(**{**config, "threshold": 0.7})).apply(
        data, RunContext(seed=0)), repeats)
    checks = [at_run["rows_removed"][0] == ledger_count(run_dir, "minhash_dedup"),
              audit.minhash_sweep(run_dir, [0.7])["rows_removed"][0] == result.removed.height]
    return name, data.height, one, rerun, curve, all(checks)


def ledger_count(run_dir: Path, stage: str, reason: str | None = None) -> int:
    ledger = pl.read_parquet(run_dir / "removed.parquet").filter(pl.col("stage") == stage)
    return ledger.filter(pl.col("reason") == reason).height if reason else ledger.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20, help="thresholds on each sweep curve")
    parser.add_argument("--repeats", type=int, default=2, help="timed reruns of each stage (sweeps get 3)")
    parser.add_argument("--long-docs", type=int, default=20_000,
                        help="also sweep MinHash on this many synthetic long documents (0: skip)")
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="bench-audit-")
    config = {"name": "bench_audit", "seed": 0, "input": {"dataset": "tweets", "text": "text", "label": "sentiment"},
              "stages": [{"type": "exact_dedup", "normalize": {"nfkc": True, "lowercase": True,
                                                                "collapse_whitespace": True}},
                         MINHASH, HEURISTIC, SEMANTIC], "output": {"dir": out}}
    start = time.perf_counter()
    run_dir = curate.run(config).run_dir
    print(f"pipeline run: {time.perf_counter() - start:.1f} s ({run_dir})")
    ctx = RunContext(seed=0)
    rows: list[tuple] = []

    # MinHash: Jaccard threshold 0.5..0.95 from the cached signatures
    grid = np.linspace(0.5, 0.95, args.points)
    rows.append(minhash_row("MinHash Jaccard threshold (minhash_sweep)", run_dir, stage_input(run_dir, 2, "exact_dedup"),
                            MINHASH, grid, args.repeats))
    if args.long_docs:
        long_config = {"type": "minhash_dedup", "threshold": 0.8}
        long_run = curate.run({"name": "bench_audit_long", "seed": 0, "input": {"text": "text", "id": "id"},
                               "stages": [long_config], "output": {"dir": out}}, data=long_documents(args.long_docs))
        rows.append(minhash_row("MinHash, synthetic 200-600-word documents (5-grams)", long_run.run_dir,
                                stage_input(long_run.run_dir, 1, "input"), long_config, grid, args.repeats))

    # heuristic_filter: the short_text rule that removed the most rows, swept around its bound
    data = stage_input(run_dir, 3, "minhash_dedup")
    bounds = HeuristicFilter.Config(**HEURISTIC).bounds()
    removed_by = pl.read_parquet(run_dir / "removed.parquet").filter(pl.col("stage") == "heuristic_filter")[
        "reason"].value_counts(sort=True)
    rule = next(r for r in removed_by["reason"] if BY_NAME[r].column)
    column, (low, high) = BY_NAME[rule].column, bounds[rule]
    bound, key = (low, "min") if low is not None else (high, "max")
    grid = np.linspace(0.5 * bound, 1.5 * bound, args.points) if bound else np.linspace(0, 1, args.points)
    one, (at_run, info) = timed(lambda: audit.score_sweep(run_dir, column, [bound]), 3)
    curve, _ = timed(lambda: audit.score_sweep(run_dir, column, grid), 3)
    moved = {"rules": {rule: {key: float(grid[len(grid) // 3])}}}
    rerun, _ = timed(lambda: HeuristicFilter(HeuristicFilter.Config(**HEURISTIC, **moved)).apply(data, ctx),
                     args.repeats)
    check = info["run_threshold"] == bound and at_run["removed"][0] == ledger_count(run_dir, "heuristic_filter", rule)
    rows.append((f"heuristic_filter {column} ({key} {bound:g}; score_sweep)", data.height, one, rerun, curve, check))

    # semantic_dedup: eps 0.01..0.20 from semantic_neighbours.parquet
    data = stage_input(run_dir, 4, "heuristic_filter")
    eps = np.linspace(0.01, 0.2, args.points)
    one, (at_run, _) = timed(lambda: audit.similarity_sweep(run_dir, "semantic_dedup", [1 - SEMANTIC["eps"]]), 3)
    curve, _ = timed(lambda: audit.similarity_sweep(run_dir, "semantic_dedup", 1 - eps), 3)
    at_rerun = audit.similarity_sweep(run_dir, "semantic_dedup", [1 - 0.1])[0]["removed"][0]
    for name, embed in (("embeddings from the disk cache", {"embedder": "static"}),
                        ("embedded afresh, cache: false", {"embedder": "static", "cache": False})):
        stage = SemanticDedup(SemanticDedup.Config(**{**SEMANTIC, "eps": 0.1, "embed": embed}))
        rerun, result = timed(lambda: stage.apply(data, ctx), args.repeats, before=clear_memory)  # noqa: B023
        check = at_run["removed"][0] == ledger_count(run_dir, "semantic_dedup") and at_rerun == result.removed.height
        rows.append((f"SemDeDup eps (similarity_sweep); rerun: {name}", data.height, one, rerun, curve, check))

    n = args.points
    print(f"\nthreshold sweeps on the demo tweets, {n} thresholds per curve\n")
    print(f"| sweep | rows in | cache, 1 threshold (s) | rerun, 1 threshold (s) | speed-up | "
          f"cache, {n}-point curve (s) | rerun x {n} (s) | speed-up | matches the stage |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, rows_in, one, rerun, curve, check in rows:
        print(f"| {name} | {rows_in:,} | {one:.4f} | {rerun:.3f} | {rerun / one:,.0f}x | {curve:.4f} | "
              f"{rerun * n:.2f} | {rerun * n / curve:,.0f}x | {'yes' if check else 'NO'} |")


if __name__ == "__main__":
    main()
