"""Learning curves: accuracy vs labels for each strategy and seed, their summary and plot."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from curate.active.features import FeatureConfig, build_features
from curate.active.loop import run_loop
from curate.active.stopping import StopConfig
from curate.active.strategies import STRATEGIES, check_estimator, default_estimator, fit_model
from curate.errors import InputError
from curate.schema import LABEL


def encode_labels(values: pl.Series, classes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Class indices for ``values`` and the sorted class values (rows with unknown classes raise)."""
    if values.null_count():
        raise InputError(f"the label column '{values.name}' has {values.null_count()} empty values",
                         hint="fill them or drop those rows before active learning")
    raw = values.to_numpy()
    if classes is None:
        classes = np.unique(raw)
    index = np.searchsorted(classes, raw)
    index = np.clip(index, 0, len(classes) - 1)
    if not (classes[index] == raw).all():
        raise InputError(f"the label column '{values.name}' has classes the training rows lack",
                         hint="use the same label set in both")
    return index.astype(np.int64), classes


def resolve_budget(budget: int | float, pool: int) -> int:
    """Rows to label for a count (int >= 1) or a fraction of the pool (0 < float <= 1)."""
    if isinstance(budget, float) and 0 < budget <= 1:
        return max(1, min(pool, math.ceil(budget * pool)))
    count = int(budget)
    if count < 1:
        raise InputError(f"label budget {budget} is not positive", hint="give a count >= 1 or a fraction in (0, 1]")
    if count > pool:
        raise InputError(f"label budget {count} is larger than the pool ({pool} rows)",
                         hint=f"set a budget of at most {pool} rows, or a fraction such as 0.3")
    return count


def simulate(data: pl.DataFrame, *, oracle: str = LABEL, strategies: Sequence[str] = STRATEGIES,
             seeds: int | Sequence[int] = 5, test: pl.DataFrame | None = None, test_fraction: float = 0.2,
             features: FeatureConfig | None = None, estimator: Any = None, seed_size: int | str = 20,
             batch_size: int | str = 50, budget: int | float = 0.4, stop: StopConfig | None = None,
             committee_size: int = 5, random_share: float = 0.0) -> pl.DataFrame:
    """Learning curves: accuracy vs number of labels, per strategy and seed.

    Parameters
    ----------
    data : polars.DataFrame
        The pool: a ``text`` column and the ``oracle`` label column.
    oracle : str
        Column whose labels answer every query.
    strategies : sequence of str
        Strategies to compare (``random`` is the baseline).
    seeds : int or sequence of int
        Seeds (an int ``k`` means ``0..k-1``); each seed draws its own seed set.
    test : polars.DataFrame, optional
        Held-out rows (``text`` and ``oracle``); otherwise ``test_fraction`` of ``data`` is
        split off once (seed 0) and never queried.
    features : FeatureConfig, optional
        Features (default: embeddings).
    estimator : scikit-learn classifier, optional
        Default: logistic regression.
    seed_size, batch_size : int or "auto"
        Random seed set size and rows per query (see :func:`curate.active.loop.run_loop`).
    budget : int or float
        Labels per run: a count, or a fraction of the pool.
    stop : StopConfig, optional
        Further stopping criteria.
    committee_size : int
        Members of the query-by-committee committees.
    random_share : float
        Share of every batch picked at random.

    Returns
    -------
    polars.DataFrame
        Columns strategy, seed, round, labels, accuracy; plus one ``full`` row per seed
        with the accuracy of the model trained on every pool label.
    """
    features = features or FeatureConfig()
    estimator = check_estimator(estimator if estimator is not None else default_estimator())
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if oracle not in data.columns:
        raise InputError(f"oracle column '{oracle}' not found; columns are: {', '.join(data.columns)}",
                         hint="set oracle to the column that holds the labels")
    if test is None:
        order = np.random.default_rng(0).permutation(data.height)
        cut = int(round(test_fraction * data.height))
        test, data = data[order[:cut]], data[order[cut:]]
    y, classes = encode_labels(data[oracle])
    y_test, _ = encode_labels(test[oracle], classes)
    X, X_test = build_features(data, features, extra=test)
    count = resolve_budget(budget, data.height)
    full = fit_model(estimator, X, y)
    full_accuracy = float((full.predict(X_test) == y_test).mean()) if full is not None else None
    rows = []
    for strategy in strategies:
        for seed in seeds:
            result = run_loop(X, y, strategy, estimator=estimator, seed=seed, seed_size=seed_size,
                              batch_size=batch_size, budget=count, stop=stop, X_test=X_test, y_test=y_test,
                              committee_size=committee_size, random_share=random_share)
            rows += [{"strategy": strategy, "seed": seed, **point} for point in result.curve]
    rows += [{"strategy": "full", "seed": seed, "round": -1, "labels": data.height, "accuracy": full_accuracy,
              "changed": None} for seed in seeds]
    schema = {"strategy": pl.String, "seed": pl.Int64, "round": pl.Int64, "labels": pl.Int64,
              "accuracy": pl.Float64, "changed": pl.Float64}
    return pl.DataFrame(rows, schema=schema).drop("changed")


def summarize(curves: pl.DataFrame, target: float = 0.98) -> pl.DataFrame:
    """Per strategy: labels needed to reach ``target`` x full-data accuracy (mean curve), final
    mean and std accuracy, and the mean gain over random at equal label counts and how often it beats the seed spread.

    Returns
    -------
    polars.DataFrame
        strategy, labels_to_target, pool, labels_to_target_pct, final_accuracy, final_std,
        gain_at_target and spread_at_target (accuracy over random at ``labels_to_target``, and the
        larger seed-to-seed std of the two curves there), wins_beyond_spread (share of label
        counts after the seed set where the gain exceeds that spread).
    """
    full = curves.filter(pl.col("strategy") == "full")
    full_accuracy = full["accuracy"].mean()
    pool = int(full["labels"].max())
    mean = (curves.filter(pl.col("strategy") != "full")
            .group_by("strategy", "labels")
            .agg(pl.col("accuracy").mean().alias("mean"), pl.col("accuracy").std().fill_null(0).alias("std"))
            .sort("strategy", "labels"))
    random = mean.filter(pl.col("strategy") == "random").select("labels", random_mean="mean", random_std="std")
    rows = []
    for (strategy,), curve in mean.group_by("strategy", maintain_order=True):
        reached = curve.filter(pl.col("mean") >= target * full_accuracy)
        needed = int(reached["labels"].min()) if reached.height else None
        paired = curve.join(random, on="labels", how="inner").filter(pl.col("labels") > curve["labels"].min())
        gain = (paired["mean"] - paired["random_mean"]).to_numpy()
        spread = np.maximum(paired["std"].to_numpy(), paired["random_std"].to_numpy())
        at = paired.filter(pl.col("labels") == needed) if needed is not None else paired.clear()
        rows.append({
            "strategy": strategy, "labels_to_target": needed, "pool": pool,
            "labels_to_target_pct": round(100 * needed / pool, 1) if needed else None,
            "final_accuracy": float(curve["mean"][-1]), "final_std": float(curve["std"][-1]),
            "gain_at_target": float(at["mean"][0] - at["random_mean"][0]) if at.height else None,
            "spread_at_target": float(max(at["std"][0], at["random_std"][0])) if at.height else None,
            "wins_beyond_spread": float((gain > spread).mean()) if paired.height else None,
        })
    return pl.DataFrame(rows).with_columns(full_accuracy=pl.lit(full_accuracy)).sort("labels_to_target", nulls_last=True)


def curve_svg(curves: pl.DataFrame, title: str = "Learning curves") -> str:
    """The learning curves (mean and one std band per strategy, full-data line) as a self-contained SVG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.2))
    axes = figure.subplots()
    mean = (curves.filter(pl.col("strategy") != "full").group_by("strategy", "labels")
            .agg(pl.col("accuracy").mean().alias("mean"), pl.col("accuracy").std().fill_null(0).alias("std"))
            .sort("strategy", "labels"))
    for (strategy,), curve in mean.group_by("strategy", maintain_order=True):
        x, m, s = curve["labels"].to_numpy(), curve["mean"].to_numpy(), curve["std"].to_numpy()
        style = {"color": "black", "linestyle": "--"} if strategy == "random" else {}
        line, = axes.plot(x, m, label=strategy, linewidth=1.4, **style)
        axes.fill_between(x, m - s, m + s, alpha=0.15, color=line.get_color())
    full = curves.filter(pl.col("strategy") == "full")["accuracy"].drop_nulls()
    if len(full):
        axes.axhline(full.mean(), color="grey", linewidth=0.8, linestyle=":", label="all labels")
    axes.set_xlabel("labelled rows")
    axes.set_ylabel("accuracy")
    axes.set_title(title)
    axes.legend(fontsize=7, ncols=2)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()
