"""Query strategies: valid, distinct pool indices; each does what its name says."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from active_helpers import TFIDF, synthetic_texts

from curate.active.features import build_features
from curate.active.strategies import (
    STRATEGIES,
    FittedCommittee,
    QueryState,
    build_committee,
    cluster_rows,
    default_clusters,
    default_estimator,
    fit_model,
    hac_clusters,
    select,
    strategy_clusters,
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
                      clusters=cluster_rows(X, 8, seed))  # k-means; the cluster_margin tests read them too


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


def _margins_by_hand(state: QueryState) -> tuple[np.ndarray, np.ndarray]:
    """Each pool row's margin (top probability minus the second) and predicted class, from predict_proba."""
    proba = state.model.predict_proba(state.X[state.pool])
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2], proba.argmax(axis=1)


def _balanced_margin_by_hand(state: QueryState) -> list[int]:
    """Pool positions in class-balanced margin order, computed with plain Python loops."""
    margin, predicted = _margins_by_hand(state)
    queues = {c: sorted(np.flatnonzero(predicted == c).tolist(), key=lambda i: margin[i]) for c in set(predicted)}
    order = []
    for turn in range(max(len(q) for q in queues.values())):
        order += sorted((q[turn] for q in queues.values() if turn < len(q)), key=lambda i: margin[i])
    return order


def _cluster_margin_by_hand(state: QueryState, n: int) -> list[int]:
    """Pool positions Cluster-Margin picks for a batch of ``n``, computed with plain Python loops."""
    margin, _ = _margins_by_hand(state)
    candidates = sorted(range(len(state.pool)), key=lambda i: margin[i])[:int(np.ceil(state.candidates * n))]
    by_cluster: dict[int, list[int]] = {}
    for i in candidates:  # already smallest margin first
        by_cluster.setdefault(int(state.clusters[state.pool[i]]), []).append(i)
    order = []
    for turn in range(max(len(q) for q in by_cluster.values())):
        order += [i for _, _, i in sorted((len(q), margin[q[turn]], q[turn]) for q in by_cluster.values() if turn < len(q))]
    return order[:n]


def test_balanced_margin_goes_round_robin_over_predicted_classes(state):
    expected = _balanced_margin_by_hand(state)
    assert select("balanced_margin", state, 12).tolist() == state.pool[expected[:12]].tolist()
    assert select("balanced_margin", state, len(state.pool)).tolist() == state.pool[expected].tolist()
    _, predicted = _margins_by_hand(state)
    classes, counts = np.unique(predicted, return_counts=True)
    even = select("balanced_margin", state, counts.min() * len(classes))  # every predicted class gets one per turn
    assert np.bincount(predicted[np.searchsorted(state.pool, even)]).tolist() == [counts.min()] * len(classes)


def test_cluster_margin_round_robins_the_smallest_margins_smallest_cluster_first(state):
    for n in (1, 6, 20):
        assert select("cluster_margin", state, n).tolist() == state.pool[_cluster_margin_by_hand(state, n)].tolist()
    picks = select("cluster_margin", state, 6)
    candidates = {int(state.clusters[state.pool[i]]) for i in _cluster_margin_by_hand(state, 60)}
    assert len(set(state.clusters[picks].tolist())) == min(6, len(candidates))  # one per cluster while they last


def test_new_strategies_on_real_sms(shared_data):
    """The same hand computations on 400 real SMS (TF-IDF, 60 labelled) with average-linkage clusters."""
    from curate.active.features import FeatureConfig

    frame = pl.read_csv(shared_data / "sms_spam" / "SMSSpamCollection.tsv", separator="\t", has_header=False,
                        new_columns=["label", "text"], quote_char=None).head(400)
    X, _ = build_features(frame, FeatureConfig(source="tfidf"))
    y = (frame["label"] == "spam").to_numpy().astype(np.int64)
    labelled = np.concatenate([np.flatnonzero(y == 1)[:10], np.flatnonzero(y == 0)[:50]])
    pool = np.setdiff1d(np.arange(frame.height), labelled)
    estimator = default_estimator().set_params(class_weight="balanced")  # so that a few rows are predicted spam
    model = fit_model(estimator, X[labelled], y[labelled])
    real = QueryState(X, labelled, y[labelled], pool, model, estimator, clusters=hac_clusters(X, 20, seed=0))
    assert select("balanced_margin", real, 30).tolist() == real.pool[_balanced_margin_by_hand(real)[:30]].tolist()
    assert select("cluster_margin", real, 15).tolist() == real.pool[_cluster_margin_by_hand(real, 15)].tolist()
    predicted_spam = pool[model.predict(X[pool]) == 1]
    assert 0 < len(predicted_spam) < 10
    assert set(predicted_spam) <= set(select("balanced_margin", real, 2 * len(predicted_spam)).tolist())


def test_cluster_margin_with_every_row_a_candidate_spreads_over_all_clusters(state):
    state.candidates = 1e6
    in_pool = np.unique(state.clusters[state.pool])
    picks = select("cluster_margin", state, len(in_pool))
    assert sorted(state.clusters[picks].tolist()) == sorted(in_pool.tolist())


def test_hac_clusters_match_scipy_average_linkage(state):
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import adjusted_rand_score

    dense = state.X[:80].toarray()
    dense = dense / np.linalg.norm(dense, axis=1, keepdims=True)
    ours = hac_clusters(dense, 7, seed=0)
    tree = fcluster(linkage(dense, method="average", metric="cosine"), t=7, criterion="maxclust")
    assert len(np.unique(ours)) == 7
    assert adjusted_rand_score(ours, tree) == 1.0


def test_hac_clusters_of_a_large_pool_go_through_micro_clusters(state):
    clusters = hac_clusters(state.X, 5, seed=0, max_rows=40)  # sparse: reduced by SVD, then 40 micro-clusters
    assert clusters.shape == (state.X.shape[0],) and len(np.unique(clusters)) == 5
    assert np.array_equal(clusters, hac_clusters(state.X, 5, seed=0, max_rows=40))
    assert len(np.unique(hac_clusters(state.X, 500, seed=0, max_rows=40))) == 40  # at most one per micro-cluster


def test_strategy_clusters_only_for_the_clustered_strategies(state):
    assert strategy_clusters("margin", state.X, 0) is None
    assert len(np.unique(strategy_clusters("cluster_margin", state.X, 0))) == default_clusters(state.X.shape[0])
    assert len(np.unique(strategy_clusters("diversity", state.X, 0, n_clusters=4))) == 4


def test_random_share_mixes_uniform_picks_into_a_batch(state):
    informed = select("margin", state, 6)
    state.random_share = 0.4
    picks = select("margin", state, 10)
    assert picks[:6].tolist() == informed.tolist()  # the strategy's own picks come first
    extra = picks[6:]
    assert len(set(picks.tolist())) == 10 and set(extra.tolist()) <= set(state.pool.tolist())
    assert not set(extra.tolist()) & set(informed.tolist())
    assert np.array_equal(picks, select("margin", state, 10))  # seeded
    state.random_share = 1.0
    assert len(select("balanced_margin", state, 5)) == 5
    state.random_share = 1.5
    with pytest.raises(ConfigError, match="random_share 1.5 is not a share"):
        select("margin", state, 3)


def test_margin_picks_come_smallest_margin_first(state):
    margin, _ = _margins_by_hand(state)
    picks = select("margin", state, 15)
    assert np.all(np.diff(margin[np.searchsorted(state.pool, picks)]) >= 0)
    assert select("margin", state, 5).tolist() == picks[:5].tolist()  # a smaller batch is a prefix
