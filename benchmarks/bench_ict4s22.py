"""ICT4S 2022, "Data-Centric Green AI": their random-subset table against curate's curated sets.

Verdecchia, Cruz, Sallou, Lin, Wickenhagen, Bouza, van Deursen (ICT4S 2022) trained six
scikit-learn models on TF-IDF of the SMS Spam Collection with random subsets of 10-100% of the
rows under CodeCarbon. Their per-run data is ``../shared/data/ict4s22/experiment_data.csv``.
This benchmark rebuilds their setting from their published code (github.com/GreenAIproject/
ICT4S22, ``src/``):

- the SMS file read as they read it (pandas' default quoting: 5,572 rows),
- ``train_test_split(test_size=0.3, stratify=label, random_state=101)``: 3,900 training rows,
  1,672 test rows,
- their features: a bag of words after removing punctuation, Snowball stemming and NLTK's English
  stop words, TF-IDF (``TfidfTransformer()``), plus the raw message length as one more column;
  they fitted it on all 5,572 rows, here it is fitted on the 3,900 training rows only,
- their six model constructors, F1 of the spam class.

Then each model is trained, under ``curate.energy.Meter``, on sets of 10%, 20%, ..., 100% of the
3,900 training rows:

- ``random``: stratified random subsets (several seeds), the paper's reduction in this protocol,
- ``curated``: what curate keeps from the training split at that size, through ``curate.run``:
  ``exact_dedup`` then ``active_select`` with ``budget`` = the row count and every other setting
  at the stage's defaults (read from ``ActiveSelectConfig`` at run time),

and scored on the whole test split (their test set shrank with the fraction; this one does not).
The test split never enters curation. Their medians come from their CSV; fractions are read from
``no_datapoints`` (their code kept ``1 - p`` of the rows for a nominal ``p``, so their
experiment labelled "10%" trained on 90% of the rows).

Run from the repository root (``../shared/data`` beside it); 40-50 minutes on the shared 2 cores::

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_ict4s22.py --check --markdown --plot docs/ict4s22.svg

``--load`` re-renders the table and the plot from the saved per-fit results without training.
``--dev`` runs the same protocol inside the training split only (a stratified validation split
carved from it plays the test split), to choose a curate setting without reading the test split.
"""

from __future__ import annotations

import argparse
import json
import shutil
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PUBLISHED = SHARED / "ict4s22" / "experiment_data.csv"
SMS = SHARED / "sms_spam" / "SMSSpamCollection.tsv"
RESULTS = ROOT / "benchmarks" / ".data" / "ict4s22.json"
TRAIN_ROWS = 3900
FRACTIONS = tuple(round(0.1 * step, 1) for step in range(1, 11))
MODELS = ("SVM", "DecisionTree", "KNN", "RandomForest", "AdaBoost", "Bagging")
THEIR_NAMES = {"SVM": "SVM", "Decision Tree": "DecisionTree", "KNN": "KNN", "Random Forest": "RandomForest",
               "AdaBoost": "AdaBoost", "Bagging Classifier": "Bagging"}
# NLTK's English stop-word list (nltk_data corpora/stopwords/english, 179 words, as of their 2021 runs):
# their code called stopwords.words('english'); the list is inlined here so no corpus download is needed.
NLTK_ENGLISH_STOPWORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his
himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had having do does did doing a an the and but
if or because as until while of at by for with about against between into through during before after above below
to from up down in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
weren weren't won won't wouldn wouldn't""".split())


# --- their published runs ---------------------------------------------------------------

def published(path: Path = PUBLISHED) -> pl.DataFrame:
    """Their RQ 2.1 runs (random row subsets): model, fraction of the 3,900 training rows, F1, joules."""
    runs = pl.read_csv(path).filter(pl.col("RQ") == 2.1)
    return runs.select(
        pl.col("algorithm").replace_strict(THEIR_NAMES).alias("model"),
        (pl.col("no_datapoints") / TRAIN_ROWS).round(1).alias("fraction"),
        pl.col("no_datapoints").alias("rows"),
        pl.col("iteration"),
        pl.col("f1"),
        pl.col("train_energy(J)").alias("train_joules"),
    )


def published_summary(runs: pl.DataFrame) -> pl.DataFrame:
    """Per model and fraction: F1 median and quartiles, median training energy, and against 100%
    the energy saved (``1 - median / median at 100%``) and the F1 change (difference of medians)."""
    summary = runs.group_by("model", "fraction").agg(
        pl.len().alias("runs"),
        pl.col("rows").first(),
        pl.col("f1").median().alias("f1_median"),
        pl.col("f1").quantile(0.25, "linear").alias("f1_q25"),
        pl.col("f1").quantile(0.75, "linear").alias("f1_q75"),
        pl.col("train_joules").median().alias("joules_median"),
    )
    full = summary.filter(pl.col("fraction") == 1.0).select(
        "model", pl.col("f1_median").alias("f1_full"), pl.col("joules_median").alias("joules_full"))
    return (summary.join(full, on="model")
            .with_columns(energy_saved=1 - pl.col("joules_median") / pl.col("joules_full"),
                          f1_change=pl.col("f1_median") - pl.col("f1_full"))
            .drop("f1_full", "joules_full")
            .sort("model", "fraction"))


# --- their setting ----------------------------------------------------------------------

def load_messages(path: Path = SMS) -> pd.DataFrame:
    """The SMS collection read as their ``_load_data`` did: ``label``, ``message``; 5,572 rows.

    pandas' default quoting joins a few lines that open a quote without closing it on the same
    line, so it finds 5,572 messages where the file has 5,574 lines; their 3,900-row training
    split depends on that count and order.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (the shared data sets sit beside the repository)")
    return pd.read_csv(path, sep="\t", names=["label", "message"])


def their_split(messages: pd.DataFrame, seed: int = 101) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Their train/test split as polars frames with ``id``, ``text``, ``label``."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(messages, test_size=0.3, stratify=messages["label"], random_state=seed)

    def frame(part: pd.DataFrame) -> pl.DataFrame:
        return pl.DataFrame({"id": [f"sms-{i}" for i in part.index], "text": part["message"].tolist(),
                             "label": part["label"].tolist()})

    return frame(train), frame(test)


_STEMMER: Any = None


def text_process(message: str) -> list[str]:
    """Their analyser: drop punctuation, Snowball-stem each word, drop NLTK English stop words."""
    global _STEMMER
    if _STEMMER is None:
        from nltk.stem import SnowballStemmer

        _STEMMER = SnowballStemmer("english")
    kept = "".join(c for c in message if c not in string.punctuation)
    stems = (_STEMMER.stem(word) for word in kept.split())
    return [stem for stem in stems if stem.lower() not in NLTK_ENGLISH_STOPWORDS]


def message_length(messages: Any) -> np.ndarray:
    """Their extra feature: the raw length of each message, one column, unscaled."""
    return np.array([len(message) for message in messages]).reshape(-1, 1)


def their_features() -> Any:
    """Their preprocessor: TF-IDF of ``text_process`` tokens, and the message length beside it."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import FunctionTransformer

    return make_union(make_pipeline(CountVectorizer(analyzer=text_process), TfidfTransformer()),
                      FunctionTransformer(message_length, validate=False))


def their_models() -> dict[str, Callable[[], Any]]:
    """Their six constructors (scikit-learn defaults except where they named a setting)."""
    from sklearn.ensemble import AdaBoostClassifier, BaggingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    return {"SVM": lambda: SVC(class_weight="balanced"), "DecisionTree": DecisionTreeClassifier,
            "KNN": KNeighborsClassifier, "RandomForest": lambda: RandomForestClassifier(class_weight="balanced"),
            "AdaBoost": AdaBoostClassifier, "Bagging": BaggingClassifier}


def seeded(make: Callable[[], Any], seed: int) -> Callable[[], Any]:
    """``make`` with ``random_state=seed`` where the model has one (their runs left it unset)."""
    def build() -> Any:
        model = make()
        return model.set_params(random_state=seed) if "random_state" in model.get_params() else model
    return build


def spam_f1(model: Any, X: Any, y: np.ndarray) -> float:
    """F1 of the spam class, as they scored it."""
    from sklearn.metrics import f1_score

    return float(f1_score(y, model.predict(X), pos_label="spam"))


# --- the sets ---------------------------------------------------------------------------

def size_at(fraction: float, rows: int = TRAIN_ROWS) -> int:
    """Training rows at a fraction of the full training split."""
    return int(round(fraction * rows))


def random_subset(labels: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Positions of a stratified random subset of ``rows`` rows (all rows when ``rows`` covers them)."""
    from sklearn.model_selection import train_test_split

    if rows >= len(labels):
        return np.arange(len(labels))
    picked, _ = train_test_split(np.arange(len(labels)), train_size=rows, stratify=labels, random_state=seed)
    return np.sort(picked)


def curate_config(name: str, budget: int | None, seed: int, out: Path, stage: dict[str, Any]) -> dict[str, Any]:
    """The pipeline: exact dedup, then active selection at ``budget`` rows with the stage's other
    settings; without a budget, exact dedup alone (``budget: 1.0`` would keep the same rows)."""
    stages: list[dict[str, Any]] = [{"type": "exact_dedup"}]
    if budget is not None:
        stages.append({"type": "active_select", **stage, "budget": budget})
    return {"name": name, "input": {"label": "label", "id": "id"}, "seed": seed, "energy": {}, "stages": stages,
            "output": {"dir": str(out)}}


def curated_subset(train: pl.DataFrame, rows: int, seed: int, out: Path, stage: dict[str, Any],
                   deduplicated: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Positions of the rows ``curate.run`` keeps from ``train`` at ``rows`` rows, and its report.

    ``budget`` is the row count; once the count reaches what exact dedup leaves, exact dedup alone.
    """
    import curate

    budget = None if deduplicated is None or rows >= deduplicated else rows
    name = f"ict4s22-{rows}-s{seed}"
    shutil.rmtree(out / name, ignore_errors=True)  # no checkpoints from an earlier invocation
    result = curate.run(curate_config(name, budget, seed, out, stage), data=train)
    kept = set(result.curated["id"].to_list())
    positions = np.flatnonzero(np.array([row_id in kept for row_id in train["id"].to_list()]))
    return positions, result.report


# --- metered training -------------------------------------------------------------------

def metered_fit(make: Callable[[], Any], X: Any, y: np.ndarray, min_seconds: float,
                max_repetitions: int) -> tuple[Any, dict[str, Any]]:
    """Fit under ``curate.energy.Meter``, repeating until the span lasts ``min_seconds``.

    Returns the last model and the figures per fit (kWh, CPU and wall seconds, repetitions, method).
    """
    from curate.energy import EnergyConfig, Meter

    with Meter(EnergyConfig()) as meter:
        start, repetitions = time.perf_counter(), 0
        while True:
            model = make().fit(X, y)
            repetitions += 1
            if repetitions >= max_repetitions or time.perf_counter() - start >= min_seconds:
                break
    reading = meter.reading_.per(repetitions)
    return model, {"kwh": reading.kwh, "cpu_kwh": reading.cpu_kwh, "ram_kwh": reading.ram_kwh,
                   "cpu_seconds": reading.cpu_seconds, "wall_seconds": reading.wall_seconds,
                   "repetitions": repetitions, "method": reading.method}


def train_all(arm: str, fraction: float, seed: int, positions: np.ndarray, X_train: Any, y_train: np.ndarray,
              X_test: Any, y_test: np.ndarray, models: dict[str, Callable[[], Any]], min_seconds: float,
              max_repetitions: int, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every model trained on ``positions`` of the training split and scored on the test split."""
    rows = []
    X, y = X_train[positions], y_train[positions]
    for name, make in models.items():
        model, energy = metered_fit(seeded(make, seed), X, y, min_seconds, max_repetitions)
        rows.append({"arm": arm, "fraction": fraction, "seed": seed, "model": name, "rows": int(len(positions)),
                     "spam_rows": int((y == "spam").sum()), "f1": spam_f1(model, X_test, y_test), **energy,
                     **(extra or {})})
        print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in rows[-1].items()}), flush=True)
    return rows


def warm_up(X: Any, y: np.ndarray, models: dict[str, Callable[[], Any]]) -> None:
    """One discarded metered fit per model on a small sample, so first-call costs (imports,
    CodeCarbon's tables) stay out of every figure."""
    sample = np.concatenate([np.flatnonzero(y == label)[:50] for label in np.unique(y)])
    for make in models.values():
        metered_fit(make, X[sample], y[sample], 0.0, 1)


def run(train: pl.DataFrame, test: pl.DataFrame, fractions: tuple[float, ...], random_seeds: int,
        curated_seeds: int, stage: dict[str, Any], out: Path, min_seconds: float,
        max_repetitions: int) -> list[dict[str, Any]]:
    """Both arms at every fraction: one row per (arm, fraction, seed, model).

    Each fraction's block also fits every model once on the whole training split (arm ``full``),
    so that its savings are ratios to a reference metered minutes apart, not at the start of a
    run on a shared machine whose load drifts (at 100% the random arm is that reference).
    """
    features = their_features()
    X_train = features.fit_transform(train["text"].to_list()).tocsr()
    X_test = features.transform(test["text"].to_list()).tocsr()
    y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    models = their_models()
    warm_up(X_train, y_train, models)
    full_rows = train.height
    results: list[dict[str, Any]] = []
    deduplicated = None
    for fraction in sorted(fractions, reverse=True):  # 100% first: it gives exact dedup's row count
        rows = size_at(fraction, full_rows)
        if rows < full_rows:
            results += train_all("full", fraction, 0, np.arange(full_rows), X_train, y_train, X_test, y_test, models,
                                 min_seconds, max_repetitions)
        for seed in range(random_seeds):
            positions = random_subset(y_train, rows, seed)
            results += train_all("random", fraction, seed, positions, X_train, y_train, X_test, y_test, models,
                                 min_seconds, max_repetitions)
        for seed in range(curated_seeds):
            started = time.perf_counter()
            positions, report = curated_subset(train, rows, seed, out, stage, deduplicated)
            if fraction == 1.0:
                deduplicated = len(positions)
            curation = report["totals"].get("curation_energy") or {}
            results += train_all("curated", fraction, seed, positions, X_train, y_train, X_test, y_test, models,
                                 min_seconds, max_repetitions,
                                 {"curation_kwh": curation.get("kwh"), "curation_seconds": time.perf_counter() - started})
    return results


# --- the comparison ---------------------------------------------------------------------

def compare(results: pl.DataFrame, theirs: pl.DataFrame) -> pl.DataFrame:
    """Per model and fraction: their medians, this run's random and curated medians, energy saved.

    Energy saved is against the whole training split metered in the same fraction's block (arm
    ``full``; at 100% the random arm), per model: ``1 - median kWh per fit / kWh per fit on all rows``;
    likewise CPU-seconds.
    """
    arms = results.group_by("arm", "model", "fraction").agg(
        pl.col("rows").median(), pl.col("spam_rows").median(), pl.col("f1").median().alias("f1"),
        pl.col("f1").min().alias("f1_min"), pl.col("f1").max().alias("f1_max"),
        pl.col("kwh").median().alias("kwh"), pl.col("cpu_seconds").median().alias("cpu"), pl.len().alias("seeds"))
    reference = (pl.col("arm") == "full") | ((pl.col("arm") == "random") & (pl.col("fraction") == 1.0))
    full = arms.filter(reference).select("model", "fraction", pl.col("kwh").alias("kwh_full"),
                                         pl.col("cpu").alias("cpu_full"))
    at_100 = full.filter(pl.col("fraction") == 1.0).drop("fraction").rename({"kwh_full": "kwh_100", "cpu_full": "cpu_100"})
    arms = (arms.filter(pl.col("arm") != "full").join(full, on=["model", "fraction"], how="left")
            .join(at_100, on="model")  # a fraction without its own reference (``--min-seconds 0`` dev runs): 100%'s
            .with_columns(saved=1 - pl.col("kwh") / pl.coalesce("kwh_full", "kwh_100"),
                          cpu_saved=1 - pl.col("cpu") / pl.coalesce("cpu_full", "cpu_100")))

    def arm(name: str, prefix: str) -> pl.DataFrame:
        return arms.filter(pl.col("arm") == name).select(
            "model", "fraction", *[pl.col(c).alias(f"{prefix}_{c}") for c in
                                   ("rows", "spam_rows", "f1", "f1_min", "f1_max", "kwh", "saved", "cpu_saved", "seeds")])

    table = (theirs.select("model", "fraction", pl.col("f1_median").alias("their_f1"), pl.col("f1_q25").alias("their_q25"),
                           pl.col("f1_q75").alias("their_q75"), pl.col("energy_saved").alias("their_saved"))
             .join(arm("random", "random"), on=["model", "fraction"])
             .join(arm("curated", "curated"), on=["model", "fraction"])
             .join(arm("random", "full").filter(pl.col("fraction") == 1.0).select("model", "full_f1"), on="model")
             .with_columns(beats_theirs=pl.col("curated_f1") >= pl.col("their_f1"),
                           beats_random=pl.col("curated_f1") >= pl.col("random_f1")))
    return table.sort(pl.col("model").replace_strict({m: i for i, m in enumerate(MODELS)}), "fraction")


def verdict(table: pl.DataFrame, from_fraction: float = 0.3) -> dict[str, Any]:
    """The target: curated F1 at or above their median at every fraction >= 30%, for >= 5 of 6 models."""
    scope = table.filter(pl.col("fraction") >= from_fraction)
    per_model = {m: {"met": bool(g["beats_theirs"].all()),
                     "missed_at": g.filter(~pl.col("beats_theirs"))["fraction"].to_list()}
                 for (m,), g in scope.group_by("model", maintain_order=True)}
    for (model,), group in scope.group_by("model", maintain_order=True):
        per_model[model]["curated_at_or_above_random_here"] = f"{int(group['beats_random'].sum())} of {group.height}"
    met = sum(v["met"] for v in per_model.values())
    return {"models_meeting": met, "models": len(per_model), "target_met": met >= 5, "per_model": per_model}


def reference_spread(results: pl.DataFrame) -> pl.DataFrame:
    """How much the same fit (each model on the whole training split) varied across the run: the
    coefficient of variation of its estimated kWh and of its CPU-seconds (the meter's noise floor)."""
    full = results.filter((pl.col("arm") == "full") | ((pl.col("arm") == "random") & (pl.col("fraction") == 1.0)))
    return full.group_by("model", maintain_order=True).agg(
        pl.len().alias("fits"), (pl.col("kwh").std() / pl.col("kwh").mean()).round(2).alias("kwh_cv"),
        (pl.col("cpu_seconds").std() / pl.col("cpu_seconds").mean()).round(2).alias("cpu_seconds_cv"))


def why_missed(row: dict[str, Any]) -> str:
    """Why curated F1 is below their median at one point, in order of precedence."""
    if row["their_f1"] > row["full_f1"]:
        return "theirs > all 3,900 rows here"
    if row["curated_f1"] < row["random_f1"]:
        return "curated < random here"
    return "random here < theirs too"


def markdown(table: pl.DataFrame, method: str) -> str:
    """The comparison as one Markdown table (F1 of the spam class; energy saved against 100%)."""
    head = ("| model | rows (curated) | their F1 median [IQR] | their energy saved | random F1 (this run) | "
            f"random energy saved ({method}) [CPU-s] | curated F1 | curated energy saved ({method}) [CPU-s] | "
            "curated ≥ theirs |")
    lines = [head, "|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for r in table.iter_rows(named=True):
        mark = "yes" if r["beats_theirs"] else f"**no**: {why_missed(r)}"
        lines.append(
            f"| {r['model']} {int(r['fraction'] * 100)}% | {int(r['curated_rows']):,} ({int(r['curated_spam_rows'])} spam) | "
            f"{r['their_f1']:.3f} [{r['their_q25']:.3f}, {r['their_q75']:.3f}] | {100 * r['their_saved']:.0f}% | "
            f"{r['random_f1']:.3f} | {100 * r['random_saved']:.0f}% [{100 * r['random_cpu_saved']:.0f}%] | "
            f"{r['curated_f1']:.3f} | {100 * r['curated_saved']:.0f}% [{100 * r['curated_cpu_saved']:.0f}%] | {mark} |")
    return "\n".join(lines)


def dev_markdown(table: pl.DataFrame) -> str:
    """``--dev``: curated minus random F1 on the validation split, per model and fraction."""
    fractions = sorted(set(table["fraction"].to_list()))
    lines = ["| model | " + " | ".join(f"{int(100 * f)}%" for f in fractions) + " |",
             "|---|" + "---:|" * len(fractions)]
    for model in MODELS:
        rows = {r["fraction"]: r for r in table.filter(pl.col("model") == model).iter_rows(named=True)}
        lines.append(f"| {model} | " + " | ".join(f"{rows[f]['curated_f1'] - rows[f]['random_f1']:+.3f}"
                                                   for f in fractions) + " |")
    return "\n".join(lines)


def plot(table: pl.DataFrame, path: Path) -> None:
    """Per model: F1 against fraction (their median with its interquartile band, this run's random
    median and the curated median, with the curated seeds' range) above the saving of each: their
    training energy; here the fit's CPU-seconds, which drive the CPU part of CodeCarbon's estimate
    (its RAM part is RAM power x wall time, which on a shared machine mostly measures waiting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    fig, axes = plt.subplots(2, len(MODELS), figsize=(3.1 * len(MODELS), 6.2), sharex=True)
    for column, model in enumerate(MODELS):
        rows = table.filter(pl.col("model") == model).sort("fraction")
        x = rows["fraction"].to_numpy() * 100
        top, bottom = axes[0, column], axes[1, column]
        top.fill_between(x, rows["their_q25"], rows["their_q75"], color="tab:gray", alpha=0.3,
                         label="ICT4S'22 random, IQR")
        top.plot(x, rows["their_f1"], color="tab:gray", marker="o", ms=3, label="ICT4S'22 random, median")
        top.plot(x, rows["random_f1"], color="tab:blue", ls="--", marker="x", ms=3, label="random (this run), median")
        top.fill_between(x, rows["curated_f1_min"], rows["curated_f1_max"], color="tab:green", alpha=0.2)
        top.plot(x, rows["curated_f1"], color="tab:green", marker="s", ms=3, label="curate (dedup + active_select)")
        top.set_title(model)
        top.axvline(30, color="black", lw=0.5, ls=":")
        bottom.plot(x, 100 * rows["their_saved"], color="tab:gray", marker="o", ms=3)
        bottom.plot(x, 100 * rows["random_cpu_saved"], color="tab:blue", ls="--", marker="x", ms=3)
        bottom.plot(x, 100 * rows["curated_cpu_saved"], color="tab:green", marker="s", ms=3)
        bottom.axhline(0, color="black", lw=0.5)
        bottom.set_xlabel("% of the 3,900 training rows")
    axes[0, 0].set_ylabel("F1 (spam), test split")
    axes[1, 0].set_ylabel("saved vs 100%, %: ICT4S'22 energy,\nthis run CPU-seconds of the fit")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def reproduction_check(messages: pd.DataFrame, theirs: pl.DataFrame) -> list[dict[str, Any]]:
    """Each model at 100% with the features fitted on all rows as they did, and on the training
    split only as here, against their median F1 at 100%."""
    from sklearn.model_selection import train_test_split

    labels = messages["label"].to_numpy()
    everything = their_features().fit_transform(messages["message"]).tocsr()
    X_all_train, X_all_test, y_train, y_test = train_test_split(everything, labels, test_size=0.3, stratify=labels,
                                                                random_state=101)
    train, test = their_split(messages)
    features = their_features()
    X_train, X_test = features.fit_transform(train["text"].to_list()), features.transform(test["text"].to_list())
    medians = dict(theirs.filter(pl.col("fraction") == 1.0).select("model", "f1_median").iter_rows())
    rows = []
    for name, make in their_models().items():
        rows.append({"model": name, "their_f1": medians[name],
                     "fit_on_all_rows": spam_f1(seeded(make, 0)().fit(X_all_train, y_train), X_all_test, y_test),
                     "fit_on_train_only": spam_f1(seeded(make, 0)().fit(X_train, y_train), X_test, y_test),
                     "features": everything.shape[1]})
    return rows


def replay_their_protocol(messages: pd.DataFrame, theirs: pl.DataFrame, model: str = "SVM",
                          seeds: int = 1) -> list[dict[str, Any]]:
    """Their whole protocol for one model: features fitted on every row, the row reduction applied
    to the whole collection (``random_state=42``) and only then the 70/30 split, so the test set
    shrinks with the fraction. Returns, per fraction, the median F1 over ``seeds`` model seeds and
    their median (for the deterministic SVM both are one value: their 30 runs agree)."""
    from sklearn.model_selection import train_test_split

    X = their_features().fit_transform(messages["message"]).tocsr()
    y = messages["label"].to_numpy()
    medians = {r["fraction"]: r["f1_median"] for r in theirs.filter(pl.col("model") == model).iter_rows(named=True)}
    rows = []
    for fraction in FRACTIONS:
        dropped = int(round(100 - 100 * fraction))  # their nominal percentage p kept 1 - p/100 of the rows
        X_kept, y_kept = X, y
        if dropped:
            X_kept, _, y_kept, _ = train_test_split(X, y, stratify=y, test_size=dropped / 100, random_state=42)
        X_train, X_test, y_train, y_test = train_test_split(X_kept, y_kept, test_size=0.3, stratify=y_kept,
                                                            random_state=101)
        scores = [spam_f1(seeded(their_models()[model], seed)().fit(X_train, y_train), X_test, y_test)
                  for seed in range(seeds)]
        rows.append({"model": model, "fraction": fraction, "train_rows": len(y_train), "test_rows": len(y_test),
                     "replayed_f1": float(np.median(scores)), "their_f1": medians[fraction]})
    return rows


def dev_split(train: pl.DataFrame, share: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A stratified validation split carved from the training split: (pool, validation)."""
    from sklearn.model_selection import train_test_split

    pool, validation = train_test_split(np.arange(train.height), test_size=share, stratify=train["label"].to_numpy(),
                                        random_state=seed)
    return train[np.sort(pool)], train[np.sort(validation)]


def main() -> None:
    from curate.stages.active_select import ActiveSelectConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--random-seeds", type=int, default=5)
    parser.add_argument("--curated-seeds", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=1.0, help="repeat each fit until the metered span lasts this long")
    parser.add_argument("--max-repetitions", type=int, default=200)
    parser.add_argument("--stage", type=json.loads, default={},
                        help='active_select settings other than budget, as JSON (default: the stage\'s defaults), e.g. \'{"strategy": "random"}\'')
    parser.add_argument("--dev", type=float, default=None, metavar="SHARE",
                        help="validation only: carve this stratified share of the training split as the evaluation set")
    parser.add_argument("--results", type=Path, default=RESULTS, help="per-fit results (JSON) written here")
    parser.add_argument("--load", action="store_true", help="render from --results without training")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--plot", type=Path, default=None, help="write the per-model plot (SVG or PNG) here")
    parser.add_argument("--check", action="store_true",
                        help="first print each model at 100%% against their F1, and their whole protocol replayed for the SVM")
    args = parser.parse_args()

    theirs = published_summary(published())
    stage = {k: v for k, v in ActiveSelectConfig(type="active_select", **args.stage).model_dump().items()
             if k not in {"type", "name", "budget"}}
    messages = load_messages()
    if args.check:
        for row in reproduction_check(messages, theirs) + replay_their_protocol(messages, theirs):
            print(json.dumps(row), flush=True)
    if args.load:
        saved = json.loads(args.results.read_text())
        results, stage, args.dev = saved["results"], saved["active_select"], saved["dev"]
    else:
        train, test = their_split(messages)
        if args.dev is not None:
            train, test = dev_split(train, args.dev, seed=0)
        with tempfile.TemporaryDirectory(prefix="ict4s22-") as out:
            results = run(train, test, tuple(args.fractions), args.random_seeds, args.curated_seeds,
                          args.stage, Path(out), args.min_seconds, args.max_repetitions)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps({"active_select": stage, "dev": args.dev, "results": results}))
    frame = pl.DataFrame(results)
    table = compare(frame, theirs)
    methods = set(frame["method"].to_list())
    print(f"active_select settings (budget aside): {json.dumps(stage)}")
    if args.dev is not None:
        print("curated - random F1 of the spam class on the validation split (no test row read):")
        print(dev_markdown(table))
        return
    print(markdown(table, "/".join(sorted(methods))) if args.markdown else table)
    print(json.dumps(verdict(table), indent=1))
    print("the same full-set fit across the run (noise floor of the savings):")
    print(reference_spread(frame))
    if args.plot is not None:
        plot(table, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    sys.exit(main())
