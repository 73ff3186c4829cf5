"""Query strategies: valid, distinct pool indices; each does what its name says."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from active_helpers import TFIDF, synthetic_texts

from curate.active.features import build_features
from curate.active.strategies import (
    STRATEGIES,
    FittedCommittee,
    QueryState,
    build_committee,
    cluster_rows,
    default_estimator,
    fit_model,
    select,
)
from curate.errors import ConfigError, InputError


def _build(labelled: int, seed: int = 0) -> QueryState:
    frame = synthetic_texts(150)
    X, _ = build_features(frame, TFIDF)
    y = frame["label"].to_numpy()
    rng = np.random.default_rng(seed)
    order = rng.permutation(frame.height)
    lab, pool = order[:labelled], np.sort(order[labelled + 10:])  # 10 rows neither labelled nor in the pool
    estimator = default_estimator()
    return QueryState(X, lab, y[lab], pool, fit_model(estimator, X[lab], y[lab]), estimator, seed=seed,
                      clusters=cluster_rows(X, 8, seed))


@pytest.fixture(scope="module")
def built() -> QueryState:
    return _build(30)


@pytest.fixture
def state(built) -> QueryState:
    """A fresh copy of the module's query state (tests may change the pool)."""
    return replace(built)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n", [1, 7, 25])
def test_strategy_returns_valid_distinct_pool_indices(strategy, n, state):
    picks = select(strategy, state, n)
    assert picks.dtype == np.int64
    assert len(picks) == n
    assert len(set(picks.tolist())) == n
    assert set(picks.tolist()) <= set(state.pool.tolist())
    assert np.array_equal(picks, select(strategy, state, n))  # deterministic for a seed


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_whole_pool_can_be_queried(strategy, state):
    picks = select(strategy, state, len(state.pool))
    assert sorted(picks.tolist()) == sorted(state.pool.tolist())


def test_margin_picks_the_smallest_margins(state):
    proba = np.sort(state.model.predict_proba(state.X[state.pool]), axis=1)
    margins = proba[:, -1] - proba[:, -2]
    expected = set(state.pool[np.argsort(margins)[:10]].tolist())
    assert set(select("margin", state, 10).tolist()) == expected


def test_informed_strategies_differ_from_random(state):
    random = set(select("random", state, 20).tolist())
    for strategy in STRATEGIES:
        if strategy != "random":
            assert set(select(strategy, state, 20).tolist()) != random, strategy


def test_coreset_first_pick_is_farthest_from_labelled(state):
    dense = state.X.toarray()
    dist = ((dense[state.pool][:, None, :] - dense[state.labelled][None, :, :]) ** 2).sum(-1).min(axis=1)
    assert select("coreset", state, 1)[0] == state.pool[np.argmax(dist)]


def test_diversity_spreads_a_batch_over_clusters(state):
    clusters_in_pool = np.unique(state.clusters[state.pool])
    picks = select("diversity", state, len(clusters_in_pool))
    assert sorted(state.clusters[picks].tolist()) == sorted(clusters_in_pool.tolist())


def test_committee_members_are_aligned_and_differ(state):
    committee = build_committee(state)
    assert isinstance(committee, FittedCommittee) and len(committee) == 5
    proba = committee.vote_proba(state.X[state.pool])
    assert proba.shape == (len(state.pool), 5, 3)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)
    assert not np.allclose(proba[:, 0], proba[:, 1])


def test_cold_start_falls_back_to_random():
    state = _build(labelled=1)
    assert state.model is None
    for strategy in ("margin", "vote_entropy", "diversity"):
        assert np.array_equal(select(strategy, state, 5), select("random", state, 5))


def test_bad_queries_get_clear_errors(state):
    with pytest.raises(InputError, match="cannot query 1000 rows from a pool of"):
        select("margin", state, 1000)
    with pytest.raises(InputError, match="cannot query 0 rows"):
        select("margin", state, 0)
    state.pool = np.zeros(0, dtype=np.int64)
    with pytest.raises(InputError, match="pool is empty"):
        select("margin", state, 1)
    with pytest.raises(ConfigError, match="did you mean 'margin'"):
        select("margin_sampling", state, 1)
