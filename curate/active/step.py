"""One active-learning step, shared by the simulated loop (:mod:`curate.active.loop`) and the
labelling session (:mod:`curate.active.session`): fit the model on the rows labelled so far,
predict every row, then query the next batch with the strategy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from curate.active.strategies import QueryState, check_strategy, fit_model, select, strategy_clusters


@dataclass(frozen=True)
class Fitted:
    """The model of one round and its predictions.

    Attributes
    ----------
    model : estimator or None
        Fitted on the labelled rows; ``None`` while they hold fewer than two classes.
    predictions : ndarray of int or None
        The predicted class index of every row of the pool's features; ``None`` without a model.
    """

    model: Any
    predictions: np.ndarray | None


class ActiveStep:
    """Fits and queries the way every active-learning round does, loop or labelling session.

    Parameters
    ----------
    X : ndarray or CSR matrix
        Features of every row of the pool.
    strategy : str
        One of :data:`curate.active.strategies.STRATEGIES`.
    estimator : scikit-learn classifier
        The unfitted model; each round fits a clone.
    seed : int
        The run's seed: the clusters take it, and round ``r`` queries with ``seed * 1_000_003 + r``.
    batch_size : int or "auto"
        Rows per query; the diversity strategy's k-means has one cluster per batch row when it is a
        number (the square root of the pool size for ``auto``).
    n_clusters : int, optional
        Clusters for diversity and cluster_margin, overriding that default.
    committee_size : int
        Members of a query-by-committee committee.
    random_share : float
        Share of every batch picked uniformly at random.
    """

    def __init__(self, X: Any, strategy: str, estimator: Any, seed: int, batch_size: int | Literal["auto"] = "auto",
                 n_clusters: int | None = None, committee_size: int = 5, random_share: float = 0.0) -> None:
        self.X = X
        self.strategy = check_strategy(strategy)
        self.estimator = estimator
        self.seed = seed
        self.batch_size = batch_size
        self.n_clusters = n_clusters
        self.committee_size = committee_size
        self.random_share = random_share
        self.clusters_: np.ndarray | None = None

    def clusters(self) -> np.ndarray | None:
        """The clusters the strategy reads (computed once), or ``None`` when it reads none."""
        if self.clusters_ is None:
            k = self.n_clusters
            if k is None and self.strategy == "diversity" and self.batch_size != "auto":
                k = int(self.batch_size)
            self.clusters_ = strategy_clusters(self.strategy, self.X, self.seed, k)
        return self.clusters_

    def fit(self, labelled: np.ndarray, y: np.ndarray) -> Fitted:
        """A model fitted on the rows ``labelled`` (positions) with classes ``y``, and its predictions."""
        model = fit_model(self.estimator, self.X[labelled], y)
        return Fitted(model, np.asarray(model.predict(self.X)) if model is not None else None)

    def query(self, fitted: Fitted, labelled: np.ndarray, y: np.ndarray, pool: np.ndarray, n: int,
              round_no: int) -> np.ndarray:
        """Up to ``n`` positions of ``pool`` to label next, best first, from the model of this round."""
        state = QueryState(self.X, labelled, y, pool, fitted.model, self.estimator,
                           seed=self.seed * 1_000_003 + round_no, committee_size=self.committee_size,
                           clusters=self.clusters(), random_share=self.random_share)
        return select(self.strategy, state, min(n, len(pool)))
