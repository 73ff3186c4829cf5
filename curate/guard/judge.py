"""The validation judge: how well the proxy model trains on a subset of the pool, on the validation split.

Every data-driven decision of a run (an auto budget, the guard's verdicts) asks the judge;
the test split is never shown to it. A score is the validation macro-F1 of the proxy model
fitted on the rows given; scores are memoised per set of ids, so a subset judged by a stage
and again by the guard costs one fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl
import xxhash

from curate.energy import EnergyConfig, Meter
from curate.errors import InputError
from curate.proxy.metrics import paired_differences, scores
from curate.proxy.models import TEXT_MODELS, make_model
from curate.record.models import Fit
from curate.schema import ID, LABEL, TEXT

Embed = Callable[[pl.DataFrame, Any], np.ndarray]


@dataclass(frozen=True)
class Comparison:
    """Validation macro-F1 of one fit minus the mean of others: the estimate, its standard error
    (paired bootstrap over validation rows, plus the others' spread over seeds) and the
    one-sided lower confidence bound."""

    delta: float
    se: float
    lower: float


@dataclass(frozen=True)
class JudgeSettings:
    """What the judge trains and how it compares.

    ``model`` is a proxy model kind (``tfidf``, ``svm``, ``nb``, ``logreg`` or ``mlp``); ``embed`` the embedder
    config for the embedding models; ``tolerance`` the macro-F1 a reduction may lose.
    """

    model: str = "tfidf"
    embed: Any = None
    tolerance: float = 0.01
    random_seeds: int = 3
    confidence: float = 0.9
    resamples: int = 500
    max_iter: int = 1000
    hidden: int = 256
    max_epochs: int = 50
    patience: int = 3


def _digest(ids: pl.Series) -> str:
    """An order-free key of a set of ids."""
    return xxhash.xxh3_128_hexdigest("\x1f".join(ids.cast(pl.String).sort().to_list()).encode())


class ValidationJudge:
    """Scores training subsets of ``pool`` by the proxy model's macro-F1 on ``validation``.

    Parameters
    ----------
    pool : polars.DataFrame
        Every row a stage may see (``id``, ``text``, ``label``); subsets are judged by their ids.
    validation : polars.DataFrame
        The validation split (labelled rows; never part of ``pool``).
    settings : JudgeSettings
        Model, tolerance and random seeds.
    seed : int
        The run's seed (model seeds and random subsets derive from it).
    energy : EnergyConfig, optional
        Meter each fit (its kWh goes into the learning curves); ``None``: no meter.
    embed : callable, optional
        ``embed(frame, embed_config) -> vectors`` for the embedding models (the run's shared
        embeddings); default :func:`curate.embed.embed_frame`.
    """

    def __init__(self, pool: pl.DataFrame, validation: pl.DataFrame, settings: JudgeSettings, seed: int = 0,
                 energy: EnergyConfig | None = None, embed: Embed | None = None) -> None:
        self.settings = settings
        self.seed = seed
        self.energy = energy
        labelled = validation.filter(pl.col(LABEL).is_not_null())
        if labelled.height == 0:
            raise InputError("the validation split has no labelled rows", hint="set input.label, or turn the guard off")
        self._positions = pool.select(pl.col(ID).cast(pl.String), pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos"))
        self._labels = pool[LABEL]
        self._y_val = labelled[LABEL].cast(pool[LABEL].dtype, strict=False).to_numpy()
        self._features = self._build_features(pool, labelled, embed)
        self._memo: dict[str, Fit] = {}
        self.validation_rows = labelled.height
        self.reference_ = self.score(pool)

    def _build_features(self, pool: pl.DataFrame, validation: pl.DataFrame, embed: Embed | None) -> tuple[Any, Any]:
        if self.settings.model in TEXT_MODELS:
            as_texts = lambda frame: np.asarray(frame[TEXT].cast(pl.String).fill_null("").to_list(), dtype=object)  # noqa: E731
            return as_texts(pool), as_texts(validation)
        if embed is None:
            from curate.embed import embed_frame as embed
        from curate.embed import EmbedderConfig

        config = self.settings.embed or EmbedderConfig()
        return embed(pool, config), embed(validation, config)

    def positions(self, frame: pl.DataFrame) -> np.ndarray:
        """Pool positions of ``frame``'s labelled rows (every row must come from the pool)."""
        found = frame.select(pl.col(ID).cast(pl.String)).join(self._positions, on=ID, how="left")
        if found["_pos"].null_count():
            raise InputError(f"{found['_pos'].null_count()} rows to judge are not in the run's pool",
                             hint="judge only rows of the pool the judge was built with")
        positions = found["_pos"].to_numpy()
        return positions[self._labels.gather(positions).is_not_null().to_numpy()]

    def score(self, frame: pl.DataFrame) -> Fit:
        """The validation scores of the proxy model trained on ``frame``'s rows (memoised by their ids)."""
        return self._score_positions(self.positions(frame))

    def _score_positions(self, positions: np.ndarray) -> Fit:
        positions = np.sort(positions)  # one set, one model: row order must not change the fit
        key = _digest(self._positions[ID].gather(positions)) if len(positions) else "empty"
        if key in self._memo:
            return self._memo[key]
        y = self._labels.gather(positions).to_numpy()
        if np.unique(y).size < 2:
            constant = np.full(len(self._y_val), y[0] if len(y) else self._y_val[0])
            accuracy, macro_f1 = scores(self._y_val, constant)
            fit = Fit(rows=len(positions), macro_f1=round(macro_f1, 6), accuracy=round(accuracy, 6), seconds=0.0,
                      cpu_seconds=0.0, kwh=None).with_predictions(constant)
        else:
            fit = self._fit(positions, y)
        self._memo[key] = fit
        return fit

    def _fit(self, positions: np.ndarray, y: np.ndarray) -> Fit:
        s = self.settings
        X_pool, X_val = self._features
        model = make_model(s.model, self.seed, s.max_iter, s.hidden, s.max_epochs, s.patience)
        meter = Meter(self.energy) if self.energy is not None else None
        wall, cpu = time.perf_counter(), time.process_time()
        with meter or nullcontext():
            model.fit(X_pool[positions], y)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        predictions = model.predict(X_val)
        accuracy, macro_f1 = scores(self._y_val, predictions)
        kwh = meter.reading_.kwh if meter is not None else None
        return Fit(rows=len(positions), macro_f1=round(macro_f1, 6), accuracy=round(accuracy, 6), seconds=round(wall, 4),
                   cpu_seconds=round(cpu, 4), kwh=kwh).with_predictions(predictions)

    def random_fits(self, frame: pl.DataFrame, size: int) -> list[Fit]:
        """Fits on ``random_seeds`` seeded random subsets of ``frame`` with ``size`` rows."""
        positions = self.positions(frame)
        size = min(size, len(positions))
        fits = []
        for offset in range(self.settings.random_seeds):
            rng = np.random.default_rng([self.seed, 7_919, offset])
            fits.append(self._score_positions(rng.choice(positions, size=size, replace=False)))
        return fits

    def random_score(self, frame: pl.DataFrame, size: int) -> float:
        """Mean validation macro-F1 of ``random_seeds`` random subsets of ``frame`` with ``size`` rows."""
        return round(float(np.mean([fit.macro_f1 for fit in self.random_fits(frame, size)])), 6)

    def within_tolerance(self, fit: Fit) -> bool:
        """Whether ``fit`` loses at most ``tolerance`` macro-F1 against the whole pool (point estimate)."""
        return fit.macro_f1 >= self.reference_.macro_f1 - self.settings.tolerance - 1e-12

    def compare(self, fit: Fit, others: Sequence[Fit], looks: int = 1) -> Comparison:
        """``fit``'s validation macro-F1 minus the mean of ``others``', with its uncertainty.

        The standard error combines a paired bootstrap over validation rows with the spread
        of ``others`` over their seeds: random subsets differ from seed to seed, and ``fit``'s
        own selection is taken to vary as much (one draw against the mean of the others).
        ``lower`` is the one-sided bound at ``settings.confidence``, Bonferroni-corrected for
        ``looks`` comparisons of the same kind made so far (a search that asks again and again
        must not win by luck). Against one fixed model (the whole pool) there is no spread.
        """
        mean_others = float(np.mean([other.macro_f1 for other in others]))
        delta = fit.macro_f1 - mean_others
        _, resampled = paired_differences(self._y_val, np.stack([o.predictions for o in others]),
                                          fit.predictions[None, :], self.seed, self.settings.resamples)
        spread = (float(np.var([o.macro_f1 for o in others], ddof=1)) * (1 + 1 / len(others))
                  if len(others) > 1 else 0.0)
        se = float(np.sqrt(np.var(resampled, ddof=1) + spread))
        z = NormalDist().inv_cdf(1 - (1 - self.settings.confidence) / looks)
        return Comparison(round(delta, 6), round(se, 6), round(delta - z * se, 6))
