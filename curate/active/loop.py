"""The simulated active-learning loop: an oracle answers every query, rounds until a stop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.active.stopping import EnergyUsed, ProcessTimeEnergy, StopConfig, energy_kind, stop_reason
from curate.active.strategies import QueryState, check_strategy, cluster_rows, fit_model, select
from curate.errors import InputError


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


def run_loop(X: Any, y: np.ndarray, strategy: str, *, estimator: Any, seed: int, seed_size: int, batch_size: int,
             budget: int, stop: StopConfig | None = None, X_test: Any = None, y_test: np.ndarray | None = None,
             energy: EnergyUsed | None = None, n_clusters: int | None = None, committee_size: int = 5,
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
    seed_size, batch_size : int
        Rows in the random seed set, and rows per query.
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
        Clusters for the diversity strategy (default: ``batch_size``).
    on_round : callable, optional
        Called with the positions labelled so far, in query order, after the seed set and
        after every query; returning True ends the loop (stop reason ``auto_budget``).
    """
    check_strategy(strategy)
    n = X.shape[0]
    if n == 0:
        raise InputError("the pool is empty", hint="give the loop at least one row")
    if budget > n:
        raise InputError(f"label budget {budget} is larger than the pool ({n} rows)",
                         hint=f"set a budget of at most {n} rows, or a fraction such as 0.3")
    if budget < 1 or seed_size < 1 or batch_size < 1:
        raise InputError("budget, seed_size and batch_size must be at least 1", hint="raise them")
    stop = stop or StopConfig()
    energy = energy or ProcessTimeEnergy(stop.watts)
    start_kwh = energy()
    rng = np.random.default_rng(seed)
    selected = np.zeros(n, dtype=bool)
    round_of = np.full(n, -1, dtype=np.int64)
    order = [rng.choice(n, size=min(seed_size, budget), replace=False)]
    selected[order[0]] = True
    round_of[order[0]] = 0
    clusters = cluster_rows(X, n_clusters or batch_size, seed) if strategy == "diversity" else None
    previous, changed, curve = None, [], []
    rounds, reason = 0, "label_budget"
    if on_round is not None and on_round(order[0]):
        reason = "auto_budget"
    while reason != "auto_budget":
        labelled = np.concatenate(order)
        model = fit_model(estimator, X[labelled], y[labelled])
        majority = int(np.bincount(y[labelled]).argmax())
        predicted = model.predict(X) if model is not None else np.full(n, majority)
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
        state = QueryState(X, labelled, y[labelled], np.flatnonzero(~selected), model, estimator,
                           seed=seed * 1_000_003 + rounds, committee_size=committee_size, clusters=clusters)
        picks = select(strategy, state, min(batch_size, budget - int(selected.sum())))
        selected[picks] = True
        round_of[picks] = rounds
        order.append(picks)
        if on_round is not None and on_round(np.concatenate(order)):
            reason = "auto_budget"
    positions = np.concatenate(order)
    return LoopResult(positions, round_of[positions], curve, reason, rounds, energy() - start_kwh, energy_kind(energy))
