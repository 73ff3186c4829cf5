"""Query strategies: which pool rows to label next.

Uncertainty, margin and entropy are modAL's sampling functions; the committee strategies
use modAL's ``vote_entropy`` and ``KL_max_disagreement``. modAL is only handed plain,
already fitted scikit-learn estimators (and, for committees, a small adapter with the
committee interface those two functions read): its ``ActiveLearner.teach`` calls
``check_X_y(force_all_finite=...)``, which scikit-learn >= 1.8 removed, so curate fits
the models itself and never uses modAL's learner classes. tests/active/test_modal_compat.py
pins the modAL functions used here against the installed scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.errors import ConfigError, InputError, require
from curate.registry import suggest

STRATEGIES = ("uncertainty", "margin", "entropy", "vote_entropy", "kl_max_disagreement", "diversity", "coreset", "random")


@dataclass
class QueryState:
    """What a strategy sees.

    Parameters
    ----------
    X : ndarray or CSR matrix
        Features of every row (labelled and not).
    labelled : ndarray of int
        Positions of the labelled rows.
    y : ndarray of int
        Their class indices.
    pool : ndarray of int
        Positions a strategy may pick from.
    model : estimator or None
        A classifier fitted on ``X[labelled], y``; ``None`` while fewer than two classes are labelled.
    estimator : estimator
        The unfitted template (committees clone it).
    seed : int
        Seed of every random choice in this query.
    committee_size : int
        Members of a query-by-committee committee.
    clusters : ndarray of int, optional
        A cluster id per row, for the diversity strategy.
    """

    X: Any
    labelled: np.ndarray
    y: np.ndarray
    pool: np.ndarray
    model: Any
    estimator: Any
    seed: int = 0
    committee_size: int = 5
    clusters: np.ndarray | None = None


def default_estimator() -> Any:
    """Logistic regression, the default model on embeddings."""
    linear = require("sklearn.linear_model", "active", "scikit-learn")
    return linear.LogisticRegression(max_iter=1000)


def check_estimator(estimator: Any) -> Any:
    """``estimator`` if it is a scikit-learn classifier with ``predict_proba``, else a ConfigError."""
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict_proba") and hasattr(estimator, "get_params")):
        raise ConfigError(f"{type(estimator).__name__} is not a scikit-learn classifier with predict_proba",
                          hint="pass e.g. sklearn.linear_model.LogisticRegression() (for SVC set probability=True)")
    return estimator


def fit_model(estimator: Any, X: Any, y: np.ndarray) -> Any:
    """A clone of ``estimator`` fitted on ``X, y``, or ``None`` when ``y`` has fewer than two classes."""
    if len(np.unique(y)) < 2:
        return None
    base = require("sklearn.base", "active", "scikit-learn")
    return base.clone(estimator).fit(X, y)


def check_strategy(name: str) -> str:
    """``name`` if it is a known strategy, else a ConfigError with a suggestion."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown query strategy '{name}'", hint=suggest(name, list(STRATEGIES)))
    return name


def select(strategy: str, state: QueryState, n: int) -> np.ndarray:
    """Pick ``n`` distinct positions from ``state.pool`` with ``strategy``.

    Every strategy falls back to random picks while no model can be fitted (cold start).

    Raises
    ------
    InputError
        When the pool is empty or ``n`` is not between 1 and the pool size.
    """
    check_strategy(strategy)
    pool_size = len(state.pool)
    if pool_size == 0:
        raise InputError("the pool is empty: every row is labelled or claimed", hint="export the labels, or add rows")
    if not 1 <= n <= pool_size:
        raise InputError(f"cannot query {n} rows from a pool of {pool_size}", hint=f"ask for 1 to {pool_size} rows")
    if strategy == "random" or (state.model is None and strategy != "coreset"):
        return _random(state, n)
    return np.asarray(_STRATEGIES[strategy](state, n), dtype=np.int64)


def _random(state: QueryState, n: int) -> np.ndarray:
    rng = np.random.default_rng(state.seed)
    return np.sort(rng.choice(state.pool, size=n, replace=False)).astype(np.int64)


def _modal(function_name: str) -> Callable[[QueryState, int], np.ndarray]:
    def pick(state: QueryState, n: int) -> np.ndarray:
        uncertainty = require("modAL.uncertainty", "active", "modAL-python")
        index, _ = getattr(uncertainty, function_name)(state.model, state.X[state.pool], n_instances=n)
        return state.pool[np.asarray(index)]

    return pick


class FittedCommittee:
    """The committee interface modAL's disagreement measures read, over fitted scikit-learn models.

    Parameters
    ----------
    members : list of fitted classifiers
        Each trained on a bootstrap sample of the labelled rows.
    classes : ndarray
        All class indices seen in the labelled rows.
    """

    def __init__(self, members: list[Any], classes: np.ndarray) -> None:
        self.members = members
        self.classes_ = classes

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self):
        return iter(self.members)

    def vote(self, X: Any) -> np.ndarray:
        """Each member's predicted class, shape (rows, members)."""
        return np.column_stack([member.predict(X) for member in self.members])

    def vote_proba(self, X: Any) -> np.ndarray:
        """Each member's class probabilities, aligned to ``classes_``: shape (rows, members, classes)."""
        out = np.zeros((X.shape[0], len(self.members), len(self.classes_)))
        for index, member in enumerate(self.members):
            columns = np.searchsorted(self.classes_, member.classes_)
            out[:, index, columns] = member.predict_proba(X)
        return out


def build_committee(state: QueryState) -> FittedCommittee:
    """Bagged committee: each member fits a class-stratified bootstrap of the labelled rows."""
    rng = np.random.default_rng(state.seed)
    classes = np.unique(state.y)
    members = []
    for _ in range(state.committee_size):
        sample = np.concatenate([rng.choice(np.flatnonzero(state.y == c), size=int((state.y == c).sum()), replace=True)
                                 for c in classes])
        members.append(fit_model(state.estimator, state.X[state.labelled[sample]], state.y[sample]))
    return FittedCommittee(members, classes)


def _committee(function_name: str) -> Callable[[QueryState, int], np.ndarray]:
    def pick(state: QueryState, n: int) -> np.ndarray:
        disagreement = require("modAL.disagreement", "active", "modAL-python")
        selection = require("modAL.utils.selection", "active", "modAL-python")
        scores = getattr(disagreement, function_name)(build_committee(state), state.X[state.pool])
        index, _ = selection.multi_argmax(scores, n_instances=n)
        return state.pool[np.asarray(index)]

    return pick


def cluster_rows(X: Any, n_clusters: int, seed: int) -> np.ndarray:
    """A k-means cluster id per row (the diversity strategy spreads a batch over them)."""
    if X.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    cluster = require("sklearn.cluster", "active", "scikit-learn")
    k = max(1, min(n_clusters, X.shape[0]))
    model = cluster.MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048)
    return model.fit_predict(X).astype(np.int64)


def _diversity(state: QueryState, n: int) -> np.ndarray:
    """Most uncertain (smallest margin) row of each cluster first, then the second of each, ..."""
    uncertainty = require("modAL.uncertainty", "active", "modAL-python")
    score = -uncertainty.classifier_margin(state.model, state.X[state.pool])
    clusters = (state.clusters if state.clusters is not None else np.zeros(state.X.shape[0], np.int64))[state.pool]
    order = np.lexsort((-score, clusters))
    sorted_clusters = clusters[order]
    starts = np.flatnonzero(np.r_[True, sorted_clusters[1:] != sorted_clusters[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    pick = np.lexsort((-score[order], rank))[:n]
    return state.pool[order[pick]]


def _sq_norms(X: Any) -> np.ndarray:
    sparse = require("scipy.sparse", "active", "scipy")
    squared = X.multiply(X).sum(axis=1) if sparse.issparse(X) else (X * X).sum(axis=1)
    return np.asarray(squared, dtype=np.float64).ravel()


def _dot(A: Any, B: Any) -> np.ndarray:
    product = A @ B.T
    return np.asarray(product.toarray() if hasattr(product, "toarray") else product, dtype=np.float64)


def _coreset(state: QueryState, n: int) -> np.ndarray:
    """k-center greedy: repeatedly take the pool row farthest from everything labelled or taken."""
    Xp = state.X[state.pool]
    pool_sq = _sq_norms(Xp)
    min_dist = np.full(len(state.pool), np.inf)
    for start in range(0, len(state.labelled), 1024):
        Xl = state.X[state.labelled[start:start + 1024]]
        dist = pool_sq[:, None] + _sq_norms(Xl)[None, :] - 2 * _dot(Xp, Xl)
        min_dist = np.minimum(min_dist, dist.min(axis=1))
    picks: list[int] = []
    if len(state.labelled) == 0:
        picks.append(int(np.random.default_rng(state.seed).integers(len(state.pool))))
        min_dist = pool_sq + pool_sq[picks[0]] - 2 * _dot(Xp, Xp[picks[0]]).ravel()
        min_dist[picks] = -np.inf
    while len(picks) < n:
        best = int(np.argmax(min_dist))
        picks.append(best)
        min_dist = np.minimum(min_dist, pool_sq + pool_sq[best] - 2 * _dot(Xp, Xp[best]).ravel())
        min_dist[picks] = -np.inf
    return state.pool[np.asarray(picks)]


_STRATEGIES: dict[str, Callable[[QueryState, int], np.ndarray]] = {
    "uncertainty": _modal("uncertainty_sampling"),
    "margin": _modal("margin_sampling"),
    "entropy": _modal("entropy_sampling"),
    "vote_entropy": _committee("vote_entropy"),
    "kl_max_disagreement": _committee("KL_max_disagreement"),
    "diversity": _diversity,
    "coreset": _coreset,
}
