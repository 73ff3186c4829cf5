"""Query strategies: which pool rows to label next.

Uncertainty, margin and entropy are modAL's sampling functions; the committee strategies
use modAL's ``vote_entropy`` and ``KL_max_disagreement``. The batch strategies that resist
sampling bias score rows with modAL's ``classifier_margin`` too: ``balanced_margin`` spreads
a batch over the predicted classes, ``cluster_margin`` (Cluster-Margin, Citovsky et al. 2021)
over agglomerative clusters of the pool, and ``QueryState.random_share`` mixes uniform
picks into any strategy's batch. modAL is only handed plain,
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

STRATEGIES = ("uncertainty", "margin", "balanced_margin", "cluster_margin", "entropy", "vote_entropy",
              "kl_max_disagreement", "diversity", "coreset", "random")
CLUSTERED = ("diversity", "cluster_margin")
"""Strategies that read ``QueryState.clusters``."""


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
        A cluster id per row, for the diversity and cluster_margin strategies.
    random_share : float
        Share of each batch picked uniformly at random from the pool (the rest by the strategy).
    candidates : float
        Cluster-Margin considers the ``candidates x n`` smallest-margin rows for a batch of ``n``.
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
    random_share: float = 0.0
    candidates: float = 10.0


def default_estimator() -> Any:
    """Logistic regression fitted by saga with ``tol=1e-3``.

    saga is about 10x (embeddings) to 25x (TF-IDF) faster than lbfgs in the selection loop at
    the same accuracy (docs/BENCHMARKS.md); it needs scaled features, which curate's embeddings
    (L2-normalised) and TF-IDF rows are. The classes are not reweighted: balanced class
    weights made margin sampling over embeddings pick the wrong rows on two of four corpora.
    """
    linear = require("sklearn.linear_model", "active", "scikit-learn")
    return linear.LogisticRegression(solver="saga", tol=1e-3, max_iter=1000, random_state=0)


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
    With ``state.random_share`` > 0, that share of the batch (rounded) is drawn uniformly
    from the rows the strategy left, after the strategy's own picks.

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
    if not 0 <= state.random_share <= 1:
        raise ConfigError(f"random_share {state.random_share} is not a share", hint="give a number from 0 to 1")
    if strategy == "random" or (state.model is None and strategy != "coreset"):
        return _random(state.pool, n, state.seed)
    n_random = min(n, int(np.floor(state.random_share * n + 0.5)))
    picks = np.asarray(_STRATEGIES[strategy](state, n - n_random) if n > n_random else [], dtype=np.int64)
    if n_random:
        rest = state.pool[~np.isin(state.pool, picks)]
        picks = np.concatenate([picks, _random(rest, n_random, [state.seed, 1])])
    return picks


def _random(pool: np.ndarray, n: int, seed: Any) -> np.ndarray:
    """``n`` rows drawn uniformly, in the order drawn (any prefix is a uniform draw too)."""
    rng = np.random.default_rng(seed)
    return rng.choice(pool, size=n, replace=False).astype(np.int64)


def _modal(function_name: str, ascending: bool = False) -> Callable[[QueryState, int], np.ndarray]:
    """A modAL sampling function; its picks come most informative first (smallest score when
    ``ascending``, as for margins), so a batch's prefix is what a smaller batch would pick."""
    def pick(state: QueryState, n: int) -> np.ndarray:
        uncertainty = require("modAL.uncertainty", "active", "modAL-python")
        index, score = getattr(uncertainty, function_name)(state.model, state.X[state.pool], n_instances=n)
        score = np.asarray(score, dtype=np.float64)
        return state.pool[np.asarray(index)[np.argsort(score if ascending else -score, kind="stable")]]

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


HAC_ROWS = 2048
"""Rows average-linkage clustering works on directly; larger pools go through k-means micro-clusters."""


def hac_clusters(X: Any, n_clusters: int, seed: int, max_rows: int = HAC_ROWS) -> np.ndarray:
    """An average-linkage (cosine) agglomerative cluster id per row, as Cluster-Margin clusters its pool.

    Exact on up to ``max_rows`` rows. Beyond, agglomerative clustering of all rows needs
    quadratic memory, so the rows are first grouped into ``max_rows`` k-means micro-clusters
    (random initialisation: k-means++ over thousands of centres costs minutes) and the
    micro-cluster centres are clustered instead (each row takes its centre's cluster).
    Sparse features (TF-IDF) are reduced to 64 dimensions by truncated SVD first.

    Parameters
    ----------
    X : ndarray or CSR matrix
        Features, one row per pool row.
    n_clusters : int
        Clusters to cut the tree into (at most the number of rows).
    seed : int
        Seeds the SVD and k-means.
    max_rows : int
        Largest input clustered exactly.
    """
    n = X.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    cluster = require("sklearn.cluster", "active", "scikit-learn")
    preprocessing = require("sklearn.preprocessing", "active", "scikit-learn")
    sparse = require("scipy.sparse", "active", "scipy")
    dense = X
    if sparse.issparse(X):
        decomposition = require("sklearn.decomposition", "active", "scikit-learn")
        dims = min(64, X.shape[1] - 1, n - 1)
        dense = decomposition.TruncatedSVD(dims, random_state=seed).fit_transform(X) if dims >= 1 else X.toarray()
    dense = preprocessing.normalize(np.asarray(dense, dtype=np.float64))
    points, member = dense, np.arange(n)
    if n > max_rows:
        micro = cluster.MiniBatchKMeans(n_clusters=max_rows, init="random", random_state=seed, n_init=1, batch_size=4096)
        member = micro.fit_predict(dense)
        points = micro.cluster_centers_
    k = max(1, min(n_clusters, len(points)))
    if k == len(points):
        return member.astype(np.int64)
    tree = cluster.AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit(points)
    return tree.labels_[member].astype(np.int64)


def default_clusters(n: int) -> int:
    """Clusters for Cluster-Margin when none are given: the square root of the pool size, at least 2."""
    return max(2, int(round(np.sqrt(n))))


def strategy_clusters(strategy: str, X: Any, seed: int, n_clusters: int | None = None) -> np.ndarray | None:
    """The clusters ``strategy`` reads (computed once per pool), or ``None`` when it reads none.

    ``diversity`` uses k-means clusters, ``cluster_margin`` average-linkage ones; both default
    to :func:`default_clusters` of the number of rows.
    """
    if strategy not in CLUSTERED:
        return None
    k = n_clusters or default_clusters(X.shape[0])
    return cluster_rows(X, k, seed) if strategy == "diversity" else hac_clusters(X, k, seed)


def round_robin(groups: np.ndarray, margin: np.ndarray, turn: np.ndarray | None = None) -> np.ndarray:
    """Positions in round-robin order over ``groups``: every group's smallest margin, then every
    group's second smallest, and so on.

    Within one turn, groups go by ``turn`` (a key per position, smallest first) and then by
    margin; without ``turn``, by margin alone.
    """
    order = np.lexsort((margin, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keys = (margin[order], rank) if turn is None else (margin[order], turn[order], rank)
    return order[np.lexsort(keys)]


def _margins(state: QueryState) -> np.ndarray:
    uncertainty = require("modAL.uncertainty", "active", "modAL-python")
    return np.asarray(uncertainty.classifier_margin(state.model, state.X[state.pool]), dtype=np.float64)


def _diversity(state: QueryState, n: int) -> np.ndarray:
    """Most uncertain (smallest margin) row of each cluster first, then the second of each, ..."""
    clusters = (state.clusters if state.clusters is not None else np.zeros(state.X.shape[0], np.int64))[state.pool]
    return state.pool[round_robin(clusters, _margins(state))[:n]]


def _balanced_margin(state: QueryState, n: int) -> np.ndarray:
    """Class-balanced margin: the batch goes round-robin over the predicted classes, smallest margin first in each."""
    predicted = np.asarray(state.model.predict(state.X[state.pool]))
    _, classes = np.unique(predicted, return_inverse=True)
    return state.pool[round_robin(classes.ravel(), _margins(state))[:n]]


def _cluster_margin(state: QueryState, n: int) -> np.ndarray:
    """Cluster-Margin (Citovsky et al. 2021): among the ``candidates x n`` smallest margins,
    round-robin over their clusters, the cluster with fewest candidates first;
    inside a cluster, smallest margin first (the paper draws at random there)."""
    selection = require("modAL.utils.selection", "active", "modAL-python")
    k = int(min(len(state.pool), max(n, np.ceil(state.candidates * n))))
    index, margin = selection.multi_argmin(_margins(state), n_instances=k)  # what margin_sampling does
    index = np.asarray(index)
    clusters = (state.clusters if state.clusters is not None else np.zeros(state.X.shape[0], np.int64))[state.pool[index]]
    _, group, size = np.unique(clusters, return_inverse=True, return_counts=True)
    group = group.ravel()
    return state.pool[index[round_robin(group, margin, turn=size[group])[:n]]]


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
    "margin": _modal("margin_sampling", ascending=True),
    "balanced_margin": _balanced_margin,
    "cluster_margin": _cluster_margin,
    "entropy": _modal("entropy_sampling"),
    "vote_entropy": _committee("vote_entropy"),
    "kl_max_disagreement": _committee("KL_max_disagreement"),
    "diversity": _diversity,
    "coreset": _coreset,
}
