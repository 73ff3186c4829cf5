"""The simulated active-learning loop: an oracle answers every query, rounds until a stop.

Sampling bias comes from large queries of a cold model: when one query of the first model
picks most of the budget, the set keeps what that model found ambiguous. The ``auto``
settings prevent it: the seed set covers every class and each batch is a fixed share
(``batch_growth``, 25%) of the rows labelled so far, so no query adds more than a quarter
to what the model was trained on, and the order in which rows are picked does not depend
on the budget (a run to 80% of the pool and a run to 10% pick the same first 10%).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from curate.active.step import ActiveStep
from curate.active.stopping import EnergyUsed, ProcessTimeEnergy, StopConfig, energy_kind, stop_reason
from curate.errors import InputError

AUTO = "auto"
BATCH_GROWTH = 0.25
"""``batch_size: auto``: each round labels this share of the rows labelled so far."""
SEED_PER_CLASS = 10
SEED_SHARE = 0.005
"""``seed_size: auto``: ``SEED_PER_CLASS`` rows per class or ``SEED_SHARE`` of the pool, the larger."""


@dataclass
class LoopResult:
    """What one simulated run did.

    ``order`` lists the selected positions in the order they were labelled and ``round_of``
    the round that selected each (0 is the seed set). ``curve`` has one entry per round:
    labels, accuracy and the share of pool predictions that changed since the round before.
    """

    order: np.ndarray
    round_of: np.ndarray
    curve: list[dict[str, Any]] = field(default_factory=list)
    stop: str = "label_budget"
    rounds: int = 0
    kwh: float = 0.0
    energy_kind: str = "estimated"


def _accuracy(model: Any, X: Any, y: np.ndarray, fallback: int) -> float | None:
    if X is None or X.shape[0] == 0:
        return None
    predicted = model.predict(X) if model is not None else np.full(X.shape[0], fallback)
    return float((predicted == y).mean())


def auto_seed_size(n_rows: int, n_classes: int) -> int:
    """The seed set of ``seed_size: auto``: 10 rows per class or 0.5% of the pool, whichever is larger."""
    return max(SEED_PER_CLASS * n_classes, math.ceil(SEED_SHARE * n_rows))


def next_batch(batch_size: int | Literal["auto"], labelled: int, growth: float = BATCH_GROWTH) -> int:
    """Rows to query next: ``batch_size``, or for ``auto`` ``growth`` x the rows labelled so far (at least 1)."""
    return max(1, math.ceil(growth * labelled)) if batch_size == AUTO else int(batch_size)


def seed_rows(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random seed set of ``size`` rows holding one row of every class (of as many classes as fit).

    The rows are the first ``size`` of a random permutation, except that each class's first
    row in the permutation is taken before any class's second.
    """
    order = rng.permutation(len(y))
    _, first = np.unique(y[order], return_index=True)
    cover = order[np.sort(first)][:size]
    rest = order[~np.isin(order, cover)][:size - len(cover)]
    return np.concatenate([cover, rest])


def _check_size(name: str, value: int | str) -> None:
    if isinstance(value, str):
        if value != AUTO:
            raise InputError(f"{name} '{value}' is not a number", hint=f"give a count such as 50, or '{AUTO}'")
    elif value < 1:
        raise InputError("budget, seed_size and batch_size must be at least 1", hint="raise them")


def run_loop(X: Any, y: np.ndarray, strategy: str, *, estimator: Any, seed: int,
             seed_size: int | Literal["auto"], batch_size: int | Literal["auto"], budget: int,
             stop: StopConfig | None = None, X_test: Any = None, y_test: np.ndarray | None = None,
             energy: EnergyUsed | None = None, n_clusters: int | None = None, committee_size: int = 5,
             random_share: float = 0.0, batch_growth: float = BATCH_GROWTH,
             on_round: Callable[[np.ndarray], bool] | None = None) -> LoopResult:
    """Simulate labelling ``budget`` rows of ``X`` with ``strategy``, the oracle ``y`` answering.

    Parameters
    ----------
    X, y : features and oracle class indices of the pool.
    strategy : str
        One of :data:`curate.active.strategies.STRATEGIES`.
    estimator : scikit-learn classifier with ``predict_proba``.
    seed : int
        Seeds the random seed set and every strategy's random choice.
    seed_size : int or "auto"
        Rows in the random seed set (which holds a row of every class when it has room);
        ``auto``: :func:`auto_seed_size`.
    batch_size : int or "auto"
        Rows per query; ``auto``: ``batch_growth`` x the rows labelled so far.
    budget : int
        Most rows to label (seed set included).
    stop : StopConfig, optional
        Further criteria (energy, stable predictions).
    X_test, y_test : optional
        Held-out rows for the accuracy curve; without them accuracy is measured on the
        rows not selected so far.
    energy : callable, optional
        Cumulative kWh; by default CPU seconds x ``stop.watts`` (``estimated``).
    n_clusters : int, optional
        Clusters for the diversity strategy (default: ``batch_size``, or the square root of
        the pool size when it is ``auto``) and for cluster_margin (default: that square root).
    committee_size : int
        Members of a query-by-committee committee.
    random_share : float
        Share of every batch picked uniformly at random (0 to 1).
    batch_growth : float
        Growth per round of ``batch_size: auto``.
    on_round : callable, optional
        Called with the positions labelled so far, in query order, after the seed set and
        after every query; returning True ends the loop (stop reason ``auto_budget``).
    """
    step = ActiveStep(X, strategy, estimator, seed, batch_size, n_clusters, committee_size, random_share)
    n = X.shape[0]
    if n == 0:
        raise InputError("the pool is empty", hint="give the loop at least one row")
    if budget > n:
        raise InputError(f"label budget {budget} is larger than the pool ({n} rows)",
                         hint=f"set a budget of at most {n} rows, or a fraction such as 0.3")
    for name, value in (("budget", budget), ("seed_size", seed_size), ("batch_size", batch_size)):
        _check_size(name, value)
    if not batch_growth > 0:
        raise InputError(f"batch_growth {batch_growth} is not positive", hint="give a share such as 0.25")
    stop = stop or StopConfig()
    energy = energy or ProcessTimeEnergy(stop.watts)
    start_kwh = energy()
    rng = np.random.default_rng(seed)
    selected = np.zeros(n, dtype=bool)
    round_of = np.full(n, -1, dtype=np.int64)
    if seed_size == AUTO:
        seed_size = auto_seed_size(n, len(np.unique(y)))
    order = [seed_rows(y, min(seed_size, budget), rng)]
    selected[order[0]] = True
    round_of[order[0]] = 0
    previous, changed, curve = None, [], []
    rounds, reason = 0, "label_budget"
    if on_round is not None and on_round(order[0]):
        reason = "auto_budget"
    while reason != "auto_budget":
        labelled = np.concatenate(order)
        fitted = step.fit(labelled, y[labelled])
        model = fitted.model
        majority = int(np.bincount(y[labelled]).argmax())
        predicted = fitted.predictions if model is not None else np.full(n, majority)
        share = float((predicted != previous).mean()) if previous is not None else None
        previous = predicted
        if share is not None:
            changed.append(share)
        if X_test is not None:
            accuracy = _accuracy(model, X_test, y_test, majority)
        else:
            rest = ~selected
            accuracy = float((predicted[rest] == y[rest]).mean()) if rest.any() else None
        curve.append({"round": rounds, "labels": int(selected.sum()), "accuracy": accuracy, "changed": share})
        if selected.sum() >= budget:
            break
        found = stop_reason(stop, int(selected.sum()), energy() - start_kwh, changed)
        if found is not None:
            reason = found
            break
        rounds += 1
        # the whole batch is queried, then cut to the budget: its first rows are what the strategy
        # ranks first, so a smaller budget selects a prefix of a larger one's rows
        batch = next_batch(batch_size, len(labelled), batch_growth)
        picks = step.query(fitted, labelled, y[labelled], np.flatnonzero(~selected), batch,
                           rounds)[:budget - int(selected.sum())]
        selected[picks] = True
        round_of[picks] = rounds
        order.append(picks)
        if on_round is not None and on_round(np.concatenate(order)):
            reason = "auto_budget"
    positions = np.concatenate(order)
    return LoopResult(positions, round_of[positions], curve, reason, rounds, energy() - start_kwh, energy_kind(energy))
