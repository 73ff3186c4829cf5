"""Which active-selection strategy and batch settings hold on every corpus: a matrix on validation splits.

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_selection.py [--corpora tweets,noisy_ag_news,sms_spam,ag_digests]
        [--variants margin,balanced_margin,...] [--features tfidf,static] [--seeds 3] [--mlp-seeds 2]
        [--selection-seeds 0,1] [--summary-only]
    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_selection.py --timing

For each corpus of ``benchmarks/labelled_corpora.py``:

1. A stratified 20% test split is set aside first (``curate.proxy.stratified_split``, seed 0,
   as a pipeline with seed 0 splits it) and never read: this script drops it unseen.
2. Exact duplicate texts are dropped from the rest (exact_dedup runs before active_select in
   every recipe), and a stratified 20% validation split is carved off (seed 1).
3. On the remaining pool, each selection variant (strategy x batch settings x the selector's
   features, TF-IDF or static embeddings, with logistic regression) simulates labelling up to
   80% of the pool with the corpus's label as the oracle (NoisyAG-News: the crowd label).
4. At fractions 0.1 ... 0.8 of the pool, two proxy families that differ from the selector
   (``make_model("tfidf")``: TF-IDF + logistic regression on the texts; ``make_model("mlp")``:
   an MLP on static embeddings) are trained on the selected prefix (the MLP with ``--mlp-seeds``
   seeds), on uniform random subsets of the same size (``--seeds`` seeds) and on the whole
   pool; the validation macro-F1 of each is recorded (NoisyAG-News also against the original
   labels ``gt``). Selection uses seed 0; the selector is curate's default model (logistic
   regression, saga, balanced class weights) unless a variant says ``class_weight=None``.

Rows go to ``benchmarks/.data/selection/<corpus>.parquet`` (one per fit); the summary printed
at the end (markdown) gives, per corpus, variant and proxy: the smallest fraction within 1 point
of the full pool, and the gap to random (points of macro-F1) at 0.1, 0.3 and 0.5 and at worst
over fractions 0.2-0.8.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

CACHE = Path(__file__).resolve().parent / ".data" / "selection"
FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
PROXIES = ("tfidf", "mlp")


@dataclass(frozen=True)
class Variant:
    """One selection setting: strategy, seed set, batches and random share."""

    name: str
    strategy: str
    seed_size: int | str = "auto"
    batch_size: int | str = "auto"
    growth: float = 0.25
    random_share: float = 0.0
    class_weight: str | None = None


VARIANTS = {v.name: v for v in (
    Variant("margin_200_500", "margin", 200, 500),  # the pipelines' settings before issue 12
    Variant("margin", "margin"),
    Variant("balanced_margin", "balanced_margin"),
    Variant("cluster_margin", "cluster_margin"),
    Variant("margin_random20", "margin", random_share=0.2),
    Variant("balanced_random20", "balanced_margin", random_share=0.2),
    Variant("balanced_growth10", "balanced_margin", growth=0.10),
    Variant("balanced_growth50", "balanced_margin", growth=0.50),
    Variant("margin_weighted", "margin", class_weight="balanced"),
    Variant("balanced_weighted", "balanced_margin", class_weight="balanced"),
    Variant("cluster_weighted", "cluster_margin", class_weight="balanced"),
    Variant("margin_weighted_random20", "margin", random_share=0.2, class_weight="balanced"),
    Variant("balanced_weighted_random20", "balanced_margin", random_share=0.2, class_weight="balanced"),
    Variant("balanced_weighted_growth10", "balanced_margin", growth=0.10, class_weight="balanced"),
    Variant("balanced_weighted_growth50", "balanced_margin", growth=0.50, class_weight="balanced"),
)}


def splits(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pool, validation) of a corpus; its test split is made and dropped unread."""
    from labelled_corpora import load

    from curate.proxy import stratified_split

    frame = load(name).filter(pl.col("text").is_not_null() & pl.col("label").is_not_null())
    rest, _test = stratified_split(frame, 0.2, seed=0)
    del _test  # never read: the lead reads test splits once, later
    rest = rest.unique("text", keep="first", maintain_order=True)
    pool, validation = stratified_split(rest, 0.2, seed=1)
    return pool, validation


def embeddings(frame: pl.DataFrame) -> np.ndarray:
    """Static (model2vec, distilled from all-MiniLM-L6-v2) embeddings, cached on disk."""
    from curate.embed import EmbedderConfig, embed_frame

    return embed_frame(frame, EmbedderConfig(embedder="static"))


def select_order(variant: Variant, X, y: np.ndarray, budget: int, seed: int) -> tuple[np.ndarray, float]:
    """Positions in the order the variant selects them (up to ``budget``) and the CPU seconds it took."""
    from curate.active.loop import run_loop
    from curate.active.strategies import default_estimator

    started = time.process_time()
    if variant.strategy == "random":
        order = np.random.default_rng(seed).permutation(len(y))[:budget]
    else:
        estimator = default_estimator().set_params(class_weight=variant.class_weight)
        result = run_loop(X, y, variant.strategy, estimator=estimator, seed=seed,
                          seed_size=variant.seed_size, batch_size=variant.batch_size, budget=budget,
                          random_share=variant.random_share, batch_growth=variant.growth)
        order = result.order
    return order, time.process_time() - started


def fit_score(proxy: str, seed: int, rows: np.ndarray, data: dict) -> dict[str, float]:
    """Validation macro-F1 (and accuracy) of one proxy trained on ``rows`` of the pool."""
    from curate.proxy.metrics import scores
    from curate.proxy.models import make_model

    model = make_model(proxy, seed)
    y = data["y"][rows]
    if proxy == "tfidf":
        model.fit(data["texts"][rows], y)
        predicted = model.predict(data["val_texts"])
    else:
        model.fit(data["E"][rows], y)
        predicted = model.predict(data["val_E"])
    out = {}
    for key, truth in data["val_truths"].items():
        accuracy, f1 = scores(truth, np.asarray(predicted))
        out[f"f1{key}"], out[f"acc{key}"] = f1, accuracy
    return out


def load_rows(path: Path) -> pl.DataFrame:
    """Cached rows of one corpus (rows from before selection seeds were recorded used seed 0)."""
    rows = pl.read_parquet(path)
    if "sel_seed" not in rows.columns:
        rows = rows.with_columns(sel_seed=pl.lit(0, pl.Int64))
    return rows.with_columns(pl.col("sel_seed").fill_null(0))


def run_corpus(name: str, variants: list[Variant], features: list[str], seeds: int, mlp_seeds: int,
               selection_seeds: list[int], log) -> pl.DataFrame:
    """Every fit of the matrix for one corpus (cached rows are reused per variant)."""
    from curate.active.curves import encode_labels
    from curate.active.features import FeatureConfig, build_features

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.parquet"
    done = load_rows(path) if path.exists() else None
    started = time.perf_counter()
    pool, validation = splits(name)
    y, classes = encode_labels(pool["label"])
    val_y, _ = encode_labels(validation["label"], classes)
    truths = {"": val_y}
    if "gt" in validation.columns:  # NoisyAG-News: the original labels (same class codes as the crowd's)
        truths["_gt"] = encode_labels(validation["gt"], classes)[0]
    E, val_E = embeddings(pool), embeddings(validation)
    data = {"y": y, "texts": np.asarray(pool["text"].to_list(), dtype=object),
            "val_texts": np.asarray(validation["text"].to_list(), dtype=object),
            "E": E, "val_E": val_E, "val_truths": truths}
    n = pool.height
    log(f"{name}: pool {n:,}, validation {validation.height:,}, classes {len(classes)} "
        f"({time.perf_counter() - started:.0f} s to load and embed)")
    sizes = [math.ceil(f * n) for f in FRACTIONS]
    rows: list[dict] = []

    def have(arm: str, sel_seed: int = 0) -> bool:
        return done is not None and done.filter((pl.col("arm") == arm) & (pl.col("sel_seed") == sel_seed)).height > 0

    def record(arm: str, fraction: float, size: int, seed: int, proxy: str, picked: np.ndarray, **extra) -> None:
        kept = np.bincount(y[picked], minlength=len(classes)) / np.bincount(y, minlength=len(classes))
        rows.append({"corpus": name, "arm": arm, "fraction": fraction, "size": size, "seed": seed, "proxy": proxy,
                     "min_class_kept": float(kept.min()), **fit_score(proxy, seed, picked, data), **extra})

    if not have("full"):
        for proxy in PROXIES:
            record("full", 1.0, n, 0, proxy, np.arange(n))
    if not have("random"):
        for seed in range(seeds):
            order = np.random.default_rng(1000 + seed).permutation(n)
            for fraction, size in zip(FRACTIONS, sizes, strict=True):
                for proxy in PROXIES:
                    record("random", fraction, size, seed, proxy, order[:size])
        log(f"  random subsets done ({time.perf_counter() - started:.0f} s)")
    for feature in features:
        X = (build_features(pool, FeatureConfig(source="tfidf"))[0] if feature == "tfidf" else E)
        for variant in variants:
            arm = f"{variant.name}/{feature}"
            for sel_seed in selection_seeds:
                if have(arm, sel_seed):
                    continue
                order, cpu = select_order(variant, X, y, sizes[-1], seed=sel_seed)
                for fraction, size in zip(FRACTIONS, sizes, strict=True):
                    record(arm, fraction, size, 0, "tfidf", order[:size], select_cpu_s=cpu, sel_seed=sel_seed)
                    for seed in range(mlp_seeds):  # the MLP varies with its seed on small sets; TF-IDF + saga hardly
                        record(arm, fraction, size, seed, "mlp", order[:size], select_cpu_s=cpu, sel_seed=sel_seed)
                log(f"  {arm} (selection seed {sel_seed}): selected in {cpu:.1f} CPU s "
                    f"({time.perf_counter() - started:.0f} s)")
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else None
    if done is not None and frame is not None:
        frame = pl.concat([done, frame], how="diagonal_relaxed")
    elif frame is None:
        frame = done
    frame.write_parquet(path)
    return frame


def summarise(results: pl.DataFrame, metric: str = "f1") -> pl.DataFrame:
    """Per corpus, arm and proxy: fraction to within 1 point of full, gaps to random (points)."""
    full = results.filter(pl.col("arm") == "full").select("corpus", "proxy", full=metric)
    random = (results.filter(pl.col("arm") == "random").group_by("corpus", "proxy", "fraction")
              .agg(pl.col(metric).mean().alias("random"), pl.col(metric).std().alias("random_std")))
    arms = (results.filter(pl.col("arm") != "full")
            .group_by("corpus", "arm", "proxy", "fraction")
            .agg(pl.col(metric).mean().alias("score"), pl.col("min_class_kept").mean())
            .join(random, on=["corpus", "proxy", "fraction"]).join(full, on=["corpus", "proxy"])
            .with_columns(gap=100 * (pl.col("score") - pl.col("random")), within=pl.col("score") >= pl.col("full") - 0.01)
            .sort("corpus", "arm", "proxy", "fraction"))

    def at(fraction: float, column: str) -> pl.Expr:
        return pl.col(column).filter(pl.col("fraction") == fraction).first()

    return (arms.group_by("corpus", "arm", "proxy", maintain_order=True)
            .agg(pl.col("full").first(), pl.col("fraction").filter(pl.col("within")).min().alias("to_1pt"),
                 at(0.1, "gap").alias("gap_10"), at(0.3, "gap").alias("gap_30"), at(0.5, "gap").alias("gap_50"),
                 pl.col("gap").filter(pl.col("fraction") >= 0.2).min().alias("worst_gap"),
                 at(0.5, "min_class_kept").alias("min_class_kept_50"), at(0.5, "random_std").alias("random_std_50")))


def print_summary(results: pl.DataFrame, metric: str = "f1") -> None:
    """The summary as markdown tables, one per corpus."""
    summary = summarise(results, metric)
    for (corpus,), part in summary.group_by("corpus", maintain_order=True):
        full = {p: part.filter(pl.col("proxy") == p)["full"][0] for p in PROXIES}
        std = {p: 100 * (part.filter((pl.col("proxy") == p) & (pl.col("arm") == "random"))["random_std_50"][0] or 0)
               for p in PROXIES}
        print(f"\n### {corpus} ({metric}): full pool macro-F1 tfidf {full['tfidf']:.4f}, mlp {full['mlp']:.4f}; "
              f"random seed std at 0.5: tfidf {std['tfidf']:.2f} pt, mlp {std['mlp']:.2f} pt\n")
        print("| variant / selector features | tfidf: to 1 pt | gap 0.1 | gap 0.3 | gap 0.5 | worst gap 0.2-0.8 "
              "| mlp: to 1 pt | gap 0.1 | gap 0.3 | gap 0.5 | worst gap 0.2-0.8 | smallest class kept at 0.5 |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        order = sorted(part["arm"].unique().to_list(), key=lambda a: (a != "random", a))
        for arm in order:
            cells = []
            for proxy in PROXIES:
                row = part.filter((pl.col("arm") == arm) & (pl.col("proxy") == proxy)).row(0, named=True)
                reach = "-" if row["to_1pt"] is None else f"{row['to_1pt']:.1f}"
                cells += [reach] + [f"{row[k]:+.2f}" for k in ("gap_10", "gap_30", "gap_50", "worst_gap")]
            kept = part.filter(pl.col("arm") == arm)["min_class_kept_50"][0]
            print(f"| {arm} | " + " | ".join(cells) + f" | {kept:.2f} |")


def timing(log) -> None:
    """CPU and wall seconds of selecting half of the demo tweets' pool: the defaults against the
    settings before issue 12 (lbfgs, unweighted, seed 200, batches of 2000) in the same run."""
    from labelled_corpora import tweets
    from sklearn.linear_model import LogisticRegression

    from curate.active.curves import encode_labels
    from curate.active.features import FeatureConfig, build_features
    from curate.active.loop import run_loop
    from curate.active.strategies import default_estimator
    from curate.proxy import stratified_split

    frame = tweets().filter(pl.col("text").is_not_null())
    pool, _test = stratified_split(frame, 0.2, seed=0)
    del _test
    y, _ = encode_labels(pool["label"])
    wall, cpu = time.perf_counter(), time.process_time()
    tfidf, _ = build_features(pool, FeatureConfig(source="tfidf", max_features=50_000, ngrams=2))
    log(f"tweets pool {pool.height:,} rows; TF-IDF (50k word 1-2-grams): {time.process_time() - cpu:.1f} CPU s, "
        f"{time.perf_counter() - wall:.1f} s")
    wall, cpu = time.perf_counter(), time.process_time()
    static = embeddings(pool)
    log(f"static embeddings (from the cache when a stage computed them): {time.process_time() - cpu:.1f} CPU s, "
        f"{time.perf_counter() - wall:.1f} s\n")
    lbfgs = LogisticRegression(max_iter=1000)
    runs = [("before: margin, lbfgs, seed 200, batch 2000", tfidf, "margin", lbfgs, 200, 2000, 0.0),
            ("margin, lbfgs, auto", tfidf, "margin", lbfgs, "auto", "auto", 0.0)]
    runs += [(f"{s}, saga, auto", tfidf, s, default_estimator(), "auto", "auto", 0.0)
             for s in ("margin", "balanced_margin", "cluster_margin")]
    runs += [("before: margin, lbfgs, seed 200, batch 2000", static, "margin", lbfgs, 200, 2000, 0.0),
             ("defaults: balanced_margin, saga, auto, random_share 0.2", static, "balanced_margin",
              default_estimator(), "auto", "auto", 0.2),
             ("cluster_margin, saga, auto", static, "cluster_margin", default_estimator(), "auto", "auto", 0.0)]
    log("| selection of 50% | features | rounds | CPU s | wall s |\n|---|---|---|---|---|")
    for label, X, strategy, estimator, seed_size, batch_size, share in runs:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_loop(X, y, strategy, estimator=estimator, seed=0, seed_size=seed_size, batch_size=batch_size,
                          budget=pool.height // 2, random_share=share)
        kind = "TF-IDF" if X is tfidf else "static embeddings"
        log(f"| {label} | {kind} | {result.rounds} | {time.process_time() - cpu:.1f} | {time.perf_counter() - wall:.1f} |")


def print_across(results: pl.DataFrame, metric: str = "f1") -> None:
    """One row per variant: its worst cell over every corpus and both proxies (points vs random)."""
    summary = summarise(results, metric).filter(pl.col("arm") != "random")
    corpora = summary["corpus"].n_unique()
    across = (summary.group_by("arm")
              .agg(pl.col("gap_30").min(), pl.col("gap_50").min(), pl.col("worst_gap").min(),
                   pl.col("gap_10").min(), pl.col("gap_50").mean().alias("mean_gap_50"),
                   pl.col("to_1pt").max().alias("to_1pt_max"), pl.col("to_1pt").null_count().alias("never"),
                   pl.len().alias("cells"))
              .sort("worst_gap", descending=True))
    print(f"\n### Across {corpora} corpora x 2 proxies ({metric}): each variant's worst cell, points of macro-F1 vs random\n")
    print("| variant / selector features | worst gap 0.3 | worst gap 0.5 | worst gap 0.2-0.8 | worst gap 0.1 "
          "| mean gap 0.5 | largest fraction to 1 pt of full | cells never within 1 pt |")
    print("|---|---|---|---|---|---|---|---|")
    for row in across.iter_rows(named=True):
        reach = "-" if row["to_1pt_max"] is None else f"{row['to_1pt_max']:.1f}"
        print(f"| {row['arm']} | {row['gap_30']:+.2f} | {row['gap_50']:+.2f} | {row['worst_gap']:+.2f} "
              f"| {row['gap_10']:+.2f} | {row['mean_gap_50']:+.2f} | {reach} | {row['never']} of {row['cells']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="tweets,noisy_ag_news,sms_spam,ag_digests")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names (default: all)")
    parser.add_argument("--features", default="tfidf,static")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the random subsets")
    parser.add_argument("--mlp-seeds", type=int, default=2, help="MLP seeds per selected prefix")
    parser.add_argument("--selection-seeds", default="0", help="comma-separated seeds of the selection runs")
    parser.add_argument("--summary-only", action="store_true", help="summarise the cached rows only")
    parser.add_argument("--timing", action="store_true", help="only time the selection of half of the demo tweets")
    args = parser.parse_args()
    if args.timing:
        timing(lambda m: print(m, flush=True))
        return
    names = args.variants.split(",")
    variants = [VARIANTS[v] for v in names]
    features = args.features.split(",")
    selection_seeds = [int(seed) for seed in args.selection_seeds.split(",")]
    frames = []
    for corpus in args.corpora.split(","):
        if args.summary_only:
            frames.append(load_rows(CACHE / f"{corpus}.parquet"))
        else:
            frames.append(run_corpus(corpus, variants, features, args.seeds, args.mlp_seeds, selection_seeds,
                                     lambda m: print(m, flush=True)))
    results = pl.concat(frames, how="diagonal_relaxed")
    arms = {"full", "random"} | {f"{v}/{f}" for v in names for f in features}
    results = results.filter(pl.col("arm").is_in(arms))
    print_summary(results)
    if results["corpus"].n_unique() > 1:
        print_across(results)
    if "f1_gt" in results.columns:
        print_summary(results.filter(pl.col("f1_gt").is_not_null()), "f1_gt")


if __name__ == "__main__":
    main()
