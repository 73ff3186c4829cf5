"""Learning curves of every query strategy vs random, 5 seeds, on NoisyAG-News (oracle: the
original labels `gt`) and on the demo tweets (oracle: sentiment).

    PYTHONPATH=. python benchmarks/bench_active.py [--data ../shared/data] [--features lsa|minilm|tfidf] [--seeds 5]

Features: lsa (default; TF-IDF + truncated SVD to 128 dims, fast on CPU), minilm
(all-MiniLM-L6-v2 sentence embeddings) or tfidf; dense features are cached in benchmarks/.data/.
Prints, per data set, the labels each strategy needs to reach 98% of the full-data accuracy,
its gain over random there against the seed-to-seed std, and the mean curves; writes the
curves to benchmarks/.data/curves_<name>_<features>.parquet and an SVG plot beside them.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import polars as pl

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CACHE = Path(__file__).resolve().parent / ".data"


def load(name: str, data_dir: Path, rows: int, embed: str) -> pl.DataFrame:
    """The data set as text, label and, unless ``embed`` is tfidf, an embedding column (cached)."""
    from curate.embed import EmbedderConfig, embed_frame

    cached = CACHE / f"{name}_{rows}_{embed}.parquet"
    if cached.exists():
        return pl.read_parquet(cached)
    if name == "ag_news":
        frame = pl.read_csv(data_dir / "noisy_ag_news" / "samples10000valMed.csv").select("text", label="gt")
    else:
        from curate.builtin import resolve_builtin

        path, _, _ = resolve_builtin("tweets")
        frame = pl.read_csv(path, encoding="latin-1").select("text", label="sentiment")
        frame = frame.filter(pl.col("text").is_not_null()).unique("text", keep="first", maintain_order=True)
    frame = frame.sample(min(rows, frame.height), seed=0, shuffle=True)
    if embed == "tfidf":
        return frame
    vectors = embed_frame(frame, EmbedderConfig()) if embed == "minilm" else lsa(frame)
    frame = frame.with_columns(embedding=pl.Series(vectors))
    CACHE.mkdir(exist_ok=True)
    frame.write_parquet(cached)
    return frame


def lsa(frame: pl.DataFrame, dims: int = 128) -> np.ndarray:
    """TF-IDF reduced to ``dims`` dimensions by truncated SVD (fast dense features, no torch)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(frame["text"].to_list())
    return TruncatedSVD(dims, random_state=0).fit_transform(tfidf).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--datasets", default="ag_news,tweets")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--features", choices=["minilm", "lsa", "tfidf"], default="lsa")
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument("--summary-only", action="store_true", help="Summarise the cached curves of an earlier run.")
    args = parser.parse_args()
    from curate.active import STRATEGIES, curve_svg, simulate
    from curate.active.features import FeatureConfig
    from curate.embed import EmbedderConfig

    features = (FeatureConfig(source="tfidf", max_features=20_000, ngrams=1) if args.features == "tfidf" else
                FeatureConfig(source="embeddings", embed=EmbedderConfig(embedder="column", column="embedding")))
    for name in args.datasets.split(","):
        started = time.perf_counter()
        if args.summary_only:
            report(name, args, pl.read_parquet(CACHE / f"curves_{name}_{args.features}.parquet"), None)
            continue
        frame = load(name, args.data, args.rows, embed=args.features)
        print(f"{name}: {frame.height} rows loaded in {time.perf_counter() - started:.0f} s", flush=True)
        if args.embed_only:
            continue
        started = time.perf_counter()
        curves = simulate(frame, oracle="label", strategies=STRATEGIES, seeds=args.seeds, features=features,
                          seed_size=20, batch_size=args.batch, budget=args.budget, committee_size=3)
        CACHE.mkdir(exist_ok=True)
        curves.write_parquet(CACHE / f"curves_{name}_{args.features}.parquet")
        (CACHE / f"curves_{name}_{args.features}.svg").write_text(
            curve_svg(curves, f"{name} ({args.features}): accuracy vs labels, {args.seeds} seeds"))
        report(name, args, curves, time.perf_counter() - started)


def report(name: str, args: argparse.Namespace, curves: pl.DataFrame, seconds: float | None) -> None:
    """Print the summary table and a few points of the mean curves."""
    from curate.active import summarize

    summary = summarize(curves)
    pool = int(summary["pool"][0])
    took = "" if seconds is None else f", simulated in {seconds:.0f} s"
    print(f"\n## {name} ({args.features} + logistic regression): pool {pool} rows, "
          f"full-data accuracy {summary['full_accuracy'][0]:.4f}{took}")
    print("| strategy | labels to 98% of full | % of pool | gain over random there (seed std) | final acc (mean ± std) "
          "| label counts where gain > seed std |")
    print("|---|---|---|---|---|---|")
    for row in summary.iter_rows(named=True):
        to_target = "not reached" if row["labels_to_target"] is None else f"{row['labels_to_target']}"
        pct = "" if row["labels_to_target_pct"] is None else f"{row['labels_to_target_pct']}%"
        gain = ("" if row["gain_at_target"] is None else
                f"{row['gain_at_target']:+.4f} ({row['spread_at_target']:.4f})")
        spread = "" if row["wins_beyond_spread"] is None else f"{row['wins_beyond_spread']:.0%}"
        print(f"| {row['strategy']} | {to_target} | {pct} | {gain} | {row['final_accuracy']:.4f} ± {row['final_std']:.4f} "
              f"| {spread} |")
    table = (curves.filter(pl.col("strategy") != "full").group_by("strategy", "labels")
             .agg(pl.col("accuracy").mean().round(4)).sort("labels")
             .pivot(on="strategy", index="labels", values="accuracy"))
    marks = np.unique(np.linspace(0, table.height - 1, 7).astype(int))
    columns = ["labels", "random", *sorted(c for c in table.columns if c not in ("labels", "random"))]
    print("\nmean accuracy (all seeds) by labels:\n\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in table[marks].select(columns).iter_rows():
        print("| " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
