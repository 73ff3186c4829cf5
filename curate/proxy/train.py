"""Proxy training: the full, curated and random same-size sets, each over several seeds, under the meter."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from curate.energy import Budget, EnergyConfig, EnergyReading, Meter
from curate.errors import InputError
from curate.proxy.metrics import scores
from curate.proxy.models import TEXT_MODELS, make_model
from curate.schema import ID, LABEL, TEXT

if TYPE_CHECKING:
    from curate.config import ProxyTrainConfig

ARMS = ("full", "curated", "random")
CONTAMINATION = "contamination"


@dataclass
class FitResult:
    """One arm x seed: test scores, predictions and the energy of one fit."""

    arm: str
    seed: int
    rows: int
    accuracy: float
    macro_f1: float
    predictions: np.ndarray
    energy: EnergyReading
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProxyRun:
    """Everything proxy training produced, before it is summarised for the report."""

    fits: list[FitResult]
    y_test: np.ndarray
    test_rows: int
    contaminated: dict[str, int]
    unlabelled: int
    features: EnergyReading | None
    stopped: str | None = None


def check_labels(pool: pl.DataFrame, test: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The labelled training rows, the labelled test rows and the count of unlabelled training rows.

    Raises
    ------
    InputError
        When a set has no label column, the test set has a label no training row has, or
        training has fewer than two labels.
    """
    for name, frame in (("training", pool), ("test", test)):
        if LABEL not in frame.columns:
            raise InputError(f"proxy training needs labels, and the {name} set has no label column",
                             hint="set input.label (and proxy_train.test.input.label for a separate test file)")
    labelled = pool.filter(pl.col(LABEL).is_not_null())
    if test[LABEL].dtype != labelled[LABEL].dtype:
        test = test.with_columns(pl.col(LABEL).cast(labelled[LABEL].dtype, strict=False))
    test = test.filter(pl.col(LABEL).is_not_null())
    known = labelled[LABEL].unique()
    seen = test[LABEL].unique().sort()
    missing = seen.filter(~seen.is_in(known.implode()))
    if len(missing):
        raise InputError(f"the test set has label(s) {missing.to_list()} that no training row has "
                         f"(training labels: {known.sort().to_list()})",
                         hint="use a test set whose labels all occur in the input, or map the labels consistently")
    if known.len() < 2:
        raise InputError(f"proxy training needs at least two labels; the training set has {known.to_list()}",
                         hint="check input.label")
    return labelled, test, pool.height - labelled.height


def _epochs(model: Any) -> bool:
    """Whether ``model`` trains in epochs (and reports them to a callback)."""
    return hasattr(model, "max_epochs")


def _metered_fit(make: Callable[[], Any], X: Any, y: np.ndarray, config: ProxyTrainConfig,
                 energy: EnergyConfig) -> tuple[Any, EnergyReading, int, list[EnergyReading]]:
    """Fit repeatedly under one meter until the span lasts ``min_fit_seconds`` (a fit that lasts
    that long is metered once, as one span).

    Returns the last model, the reading of the whole span, the number of fits in it and, for a
    model that trains in epochs, the meter's lap of each epoch of the first fit.
    """
    laps: list[EnergyReading] = []
    with Meter(energy) as meter:
        start, repetitions = time.perf_counter(), 0
        while True:
            model = make()
            if repetitions == 0 and _epochs(model):
                model.fit(X, y, on_epoch=lambda epoch, loss: laps.append(meter.lap()))
            else:
                model.fit(X, y)
            repetitions += 1
            if repetitions >= config.max_repetitions or time.perf_counter() - start >= config.min_fit_seconds:
                break
    return model, meter.reading_, repetitions, laps


def _make(config: ProxyTrainConfig, seed: int, max_epochs: int | None = None) -> Any:
    """An unfitted model of ``config.model`` with the run's settings."""
    epochs, patience = ((config.transformer.max_epochs, config.transformer.patience) if config.model == "transformer"
                        else (config.max_epochs, config.patience))
    return make_model(config.model, seed, config.max_iter, config.hidden, max_epochs or epochs, patience,
                      options=config.options(config.model))


def _warm_up(config: ProxyTrainConfig, energy: EnergyConfig, X: Any, y: np.ndarray, seed: int) -> None:
    """A discarded metered fit on up to 100 rows per label, so that imports and the first-call
    costs of the model and of CodeCarbon (data tables it loads) stay out of every arm's figure."""
    sample = np.concatenate([np.flatnonzero(y == label)[:100] for label in np.unique(y)])
    with Meter(energy):
        _make(config, seed, max_epochs=1).fit(X[sample], y[sample])


def _detail(model: Any, laps: list[EnergyReading], total: EnergyReading, repetitions: int,
            from_epochs: int) -> dict[str, Any]:
    """Epochs run, the best (converged) epoch, each epoch's energy, and the Carbontracker-style
    prediction of the fit's energy from its first ``from_epochs`` epochs."""
    if not _epochs(model):
        return {}
    detail: dict[str, Any] = {"epochs": model.epochs_, "best_epoch": model.best_epoch_,
                              "epoch_kwh": [lap.kwh for lap in laps], "epoch_seconds": [lap.wall_seconds for lap in laps]}
    first = laps[:from_epochs]
    if first:
        actual = total.kwh / repetitions
        predicted = float(np.mean([lap.kwh for lap in first])) * model.epochs_
        detail |= {"from_epochs": len(first), "predicted_kwh": predicted, "actual_kwh": actual,
                   "error_pct": round(100 * (predicted / actual - 1), 2) if actual > 0 else None}
    return detail


def train_arms(config: ProxyTrainConfig, energy: EnergyConfig, pool: pl.DataFrame, curated: pl.DataFrame,
               test: pl.DataFrame, seed: int, budget: Budget | None = None,
               message: Callable[[str], None] = lambda text: None) -> ProxyRun:
    """Train the proxy on the full pool, the curated rows and a random same-size subset, per seed.

    ``pool`` is every training row (curated rows are a subset of it); ``test`` carries a
    ``contamination`` column (null for clean rows). The budget is checked after every fit;
    past it, training stops and the run keeps the fits done so far.
    """
    contaminated = {}
    if CONTAMINATION in test.columns:
        contaminated = dict(test[CONTAMINATION].drop_nulls().value_counts().iter_rows())
        test = test.filter(pl.col(CONTAMINATION).is_null())
    pool, test, unlabelled = check_labels(pool, test)
    if test.height == 0:
        raise InputError("the test set is empty after decontamination", hint="give a larger test set")
    curated_idx = pool.with_row_index("_pos").filter(pl.col(ID).is_in(curated[ID].implode()))["_pos"].to_numpy()
    y_pool, y_test = pool[LABEL].to_numpy(), test[LABEL].to_numpy()
    features = None
    if config.model in TEXT_MODELS:
        X = np.asarray(pl.concat([pool[TEXT], test[TEXT]]).fill_null("").to_list(), dtype=object)
    else:
        from curate.embed import embed_frame

        columns = [TEXT, *([config.embed.column] if config.embed.column else [])]
        with Meter(energy) as meter:
            X = embed_frame(pl.concat([pool.select(columns), test.select(columns)], how="vertical_relaxed"), config.embed)
        features = meter.reading_
    X_pool, X_test = X[: pool.height], X[pool.height:]
    _warm_up(config, energy, X_pool, y_pool, seed)
    fits: list[FitResult] = []
    budget = budget or Budget(None)
    stopped = budget.charge(features, "proxy embeddings", message) if features is not None else None
    for seed_i in range(seed, seed + config.seeds):
        if stopped:
            break
        rng = np.random.default_rng(seed_i)
        subsets = {"full": np.arange(pool.height), "curated": curated_idx,
                   "random": np.sort(rng.choice(pool.height, size=len(curated_idx), replace=False))}
        shift = (seed_i - seed) % len(ARMS)  # rotate the arm order per seed: load drifts over time on shared machines
        for arm in ARMS[shift:] + ARMS[:shift]:
            idx = subsets[arm]
            if np.unique(y_pool[idx]).size < 2:
                raise InputError(f"the {arm} training set has fewer than two labels ({len(idx)} rows)",
                                 hint="the curation removed whole classes; loosen the stages' thresholds")
            model, total, repetitions, laps = _metered_fit(partial(_make, config, seed_i), X_pool[idx], y_pool[idx],
                                                           config, energy)
            predictions = model.predict(X_test)
            accuracy, macro_f1 = scores(y_test, predictions)
            detail = _detail(model, laps, total, repetitions, config.predict_from_epochs)
            fits.append(FitResult(arm, seed_i, len(idx), accuracy, macro_f1, predictions,
                                  total.per(repetitions), detail))
            stopped = budget.charge(total, f"proxy training ({arm}, seed {seed_i})", message)
            if stopped:
                break
    return ProxyRun(fits, y_test, test.height, contaminated, unlabelled, features, stopped)
