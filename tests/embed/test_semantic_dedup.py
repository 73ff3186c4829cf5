"""semantic_dedup and prototype_prune: paraphrases found, blockwise = brute force, determinism, edge sizes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curate.embed.kmeans import assign_clusters, choose_k, fit_kmeans
from curate.embed.semdedup import duplicate_parents, keepers, nearest_earlier
from curate.stages.base import RunContext
from curate.stages.prototype_prune import PrototypePrune
from curate.stages.semantic_dedup import SemanticDedup

PARAPHRASES = [
    ("The company reported a sharp rise in quarterly profits.", "Quarterly profits at the company rose sharply, it reported."),
    ("Heavy rain caused flooding across the northern region on Monday.", "On Monday, flooding hit the northern region after heavy rain."),
    ("The striker scored twice as the home team won the cup final.", "The home team won the cup final after the striker scored two goals."),
    ("Scientists discovered a new species of frog in the rainforest.", "A new frog species was discovered in the rainforest by scientists."),
    ("The central bank raised interest rates to fight inflation.", "To fight inflation, the central bank raised its interest rates."),
    ("I loved this movie, the acting was brilliant!", "Brilliant acting, I really loved this movie!"),
    ("My flight was delayed for three hours and nobody told us why.", "Nobody told us why our flight was delayed three hours."),
]
UNRELATED = [
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Astronomers observed a distant galaxy merging with its neighbour.",
    "The new smartphone has a larger battery and a faster chip.",
    "Voters head to the polls next week in a closely watched election.",
    "Please remember to water the plants while I am away.",
    "The museum opens a new exhibition of medieval manuscripts.",
    "Traffic on the motorway was light this morning.",
    "He practises the violin for an hour every evening.",
]


def _text_frame() -> pl.DataFrame:
    texts = [t for pair in PARAPHRASES for t in pair] + UNRELATED
    return pl.DataFrame({"id": [f"t{i:02d}" for i in range(len(texts))], "text": texts})


def _vector_frame(n: int = 200, dups: int = 40, d: int = 16, seed: int = 1) -> pl.DataFrame:
    """Random unit vectors plus ``dups`` noisy copies of earlier rows (cosine about 0.99)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n - dups, d))
    copies = base[rng.choice(n - dups, dups, replace=False)] + 0.01 * rng.normal(size=(dups, d))
    vectors = np.vstack([base, copies]).astype(np.float32)
    return pl.DataFrame({"id": [f"v{i:03d}" for i in range(n)], "text": [f"row {i}" for i in range(n)],
                         "length": rng.integers(0, 100, n), "vec": vectors.tolist()})


def _stage(**config):
    return SemanticDedup(SemanticDedup.Config(**{"embed": {"embedder": "column", "column": "vec"}, **config}))


def _ctx(tmp_path, seed: int = 0) -> RunContext:
    return RunContext(seed=seed, cache_dir=tmp_path / "cache", artifacts_dir=tmp_path / "artifacts")


def _brute_nearest(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sim = vectors @ vectors.T
    sim[np.triu_indices(len(vectors))] = -np.inf
    return sim.argmax(axis=1), sim.max(axis=1)


@pytest.mark.parametrize("embedder", [pytest.param("static", marks=pytest.mark.slow), "sentence-transformers"])
def test_written_paraphrases_are_found_and_unrelated_texts_are_not(request, tmp_path, embedder):
    """These paraphrases sit at cosine 0.86-0.99 with both back-ends, unrelated texts below 0.45."""
    cache = request.getfixturevalue("static_cache") if embedder == "static" else tmp_path
    df = _text_frame()
    stage = SemanticDedup(SemanticDedup.Config(embed={"embedder": embedder}, eps=0.15))
    result = stage.apply(df, RunContext(cache_dir=cache))
    partner = {f"t{2 * i:02d}": f"t{2 * i + 1:02d}" for i in range(len(PARAPHRASES))}
    partner |= {b: a for a, b in partner.items()}
    removed = result.removed
    assert removed.height == len(PARAPHRASES)
    assert set(removed["reason"]) == {"semantic_duplicate"}
    for row in removed.iter_rows(named=True):
        assert row["duplicate_of"] == partner[row["id"]]
        assert row["score"] >= 0.85
    assert set(result.kept["text"]) >= set(UNRELATED)


def test_blockwise_nearest_matches_brute_force_for_a_cluster_larger_than_the_block():
    vectors = np.asarray(_vector_frame(300, 60)["vec"].to_list(), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    neighbour, similarity = nearest_earlier(vectors, block_size=32)
    expected_neighbour, expected_similarity = _brute_nearest(vectors)
    assert neighbour[0] == -1 and similarity[0] == -np.inf
    np.testing.assert_array_equal(neighbour[1:], expected_neighbour[1:])
    np.testing.assert_allclose(similarity[1:], expected_similarity[1:], rtol=1e-5)


def test_stage_with_one_big_cluster_is_block_size_invariant(tmp_path):
    df = _vector_frame()
    small = _stage(n_clusters=1, block_size=16).apply(df, _ctx(tmp_path))
    large = _stage(n_clusters=1, block_size=4096).apply(df, _ctx(tmp_path))
    assert small.stats["largest_cluster"] == 200
    assert small.removed.equals(large.removed)
    assert small.removed.height == 40


def test_keepers_follow_chains_to_a_kept_row():
    parent = np.array([-1, 0, 1, -1, 3, 2])
    np.testing.assert_array_equal(keepers(parent), [0, 0, 0, 3, 3, 0])


def test_within_cluster_threshold_is_inclusive():
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    neighbour, similarity = nearest_earlier(vectors)
    np.testing.assert_array_equal(duplicate_parents(neighbour, similarity, eps=0.2), [-1, 0, -1])  # 0.8 >= 1 - 0.2
    np.testing.assert_array_equal(neighbour, [-1, 0, 1])
    np.testing.assert_allclose(similarity[1:], [0.8, 0.6], rtol=1e-6)
    np.testing.assert_array_equal(duplicate_parents(neighbour, similarity, eps=0.1), [-1, -1, -1])


def test_planted_duplicates_found_with_ledger_fields(tmp_path):
    df = _vector_frame()
    result = _stage(n_clusters=4, eps=0.01).apply(df, _ctx(tmp_path))
    removed = result.removed
    assert removed.height == 40
    kept_ids = set(result.kept["id"])
    assert set(removed["duplicate_of"]) <= kept_ids
    assert removed["cluster_id"].null_count() == 0 and removed["score"].min() >= 0.99
    assert set(kept_ids) | set(removed["id"]) == set(df["id"]) and not kept_ids & set(removed["id"])
    audit = pl.read_parquet(tmp_path / "artifacts" / "semantic_neighbours.parquet")
    assert audit.height == 200 and (audit["nearest_similarity"] >= 0.99).sum() == 40


def test_semdedup_rule_keeps_the_row_least_similar_to_its_centroid(tmp_path):
    df = pl.DataFrame({"id": ["central", "edge", "c", "far"], "text": ["a", "b", "c", "far"],
                       "vec": [[0.995, 0.0998, 0.0], [1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]]})
    result = _stage(n_clusters=1, eps=0.02).apply(df, _ctx(tmp_path))
    # the centroid leans towards c, so "edge" is the less central of the near-identical pair
    assert result.removed.select("id", "duplicate_of").rows() == [("central", "edge")]
    first = _stage(n_clusters=1, eps=0.02, keep="first").apply(df, _ctx(tmp_path))
    assert first.removed.select("id", "duplicate_of").rows() == [("edge", "central")]


def test_keep_max_column_picks_the_kept_row(tmp_path):
    df = pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"], "score": [1, 5],
                       "vec": [[1.0, 0.0], [1.0, 0.001]]})
    result = _stage(keep="max", keep_column="score").apply(df, _ctx(tmp_path))
    assert result.removed.select("id", "duplicate_of").rows() == [("a", "b")]
    with pytest.raises(ValueError, match="keep_column"):
        SemanticDedup.Config(keep="max")


def test_same_seed_same_result_and_input_untouched(tmp_path):
    df = _vector_frame(400, 80, seed=3)
    before = df.clone()
    runs = [_stage(n_clusters=6, eps=0.05).apply(df, _ctx(tmp_path, seed=7)) for _ in range(2)]
    assert runs[0].removed.equals(runs[1].removed) and runs[0].kept.equals(runs[1].kept)
    assert df.equals(before)
    vectors = np.asarray(df["vec"].to_list(), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    a, b = fit_kmeans(vectors, 6, seed=7), fit_kmeans(vectors, 6, seed=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(assign_clusters(vectors, a)[0], assign_clusters(vectors, b)[0])


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_one_row_inputs(tmp_path, n):
    df = _vector_frame(2, 0).head(n)
    for stage in (_stage(), PrototypePrune(PrototypePrune.Config(embed={"embedder": "column", "column": "vec"}))):
        result = stage.apply(df, _ctx(tmp_path))
        assert result.kept.height == n and result.removed.height == 0


def test_two_rows_more_clusters_than_rows(tmp_path):
    df = pl.DataFrame({"id": ["a", "b"], "text": ["x", "x"], "vec": [[1.0, 0.0], [1.0, 0.0]]})
    result = _stage(n_clusters=50).apply(df, _ctx(tmp_path))
    assert result.kept.height + result.removed.height == 2


def test_choose_k():
    assert [choose_k(n, 1000) for n in (0, 1, 999, 1001, 100_000)] == [0, 1, 1, 2, 100]


@pytest.mark.parametrize("keep", ["hardest", "easiest"])
def test_prototype_prune_keeps_the_requested_fraction(tmp_path, keep):
    df = _vector_frame(100, 0)
    stage = PrototypePrune(PrototypePrune.Config(embed={"embedder": "column", "column": "vec"}, keep_fraction=0.7,
                                                 keep=keep, n_clusters=3))
    result = stage.apply(df, _ctx(tmp_path))
    assert result.kept.height == 70 and result.removed.height == 30
    assert set(result.removed["reason"]) == {"prototypical"}
    vectors = np.asarray(df["vec"].to_list(), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cluster, similarity = assign_clusters(vectors, fit_kmeans(vectors, 3, seed=0))
    distance = pl.Series(1.0 - similarity.astype(np.float64))
    np.testing.assert_allclose(np.sort(result.removed["score"].to_numpy()),
                               np.sort(distance.filter(df["id"].is_in(result.removed["id"].implode())).to_numpy()))
    kept_distance = distance.filter(df["id"].is_in(result.kept["id"].implode()))
    removed_distance = result.removed["score"]
    if keep == "hardest":
        assert kept_distance.min() >= removed_distance.max() - 1e-6
    else:
        assert kept_distance.max() <= removed_distance.min() + 1e-6


def test_rerun_reuses_cached_kmeans_and_neighbours_with_identical_results(tmp_path, monkeypatch):
    import curate.stages.semantic_dedup as module

    df = _vector_frame(300, 60, seed=5)
    fits = []
    original = module.fit_kmeans
    monkeypatch.setattr(module, "fit_kmeans", lambda *a, **k: fits.append(1) or original(*a, **k))
    first = _stage(n_clusters=5, eps=0.01).apply(df, _ctx(tmp_path))
    again = _stage(n_clusters=5, eps=0.01).apply(df, _ctx(tmp_path))
    assert len(fits) == 1 and again.stats["kmeans_cached"] and again.stats["within_cluster_cached"]
    assert not first.stats["kmeans_cached"] and not first.stats["within_cluster_cached"]
    assert again.removed.equals(first.removed) and again.kept.equals(first.kept)
    # another eps reuses both artefacts and matches a run without any cache
    wider = _stage(n_clusters=5, eps=0.3).apply(df, _ctx(tmp_path))
    fresh = _stage(n_clusters=5, eps=0.3).apply(df, _ctx(tmp_path / "fresh"))
    assert wider.stats["within_cluster_cached"] and wider.removed.equals(fresh.removed)
    assert wider.removed.height > first.removed.height
    # another seed or changed vectors miss the cache
    _stage(n_clusters=5, eps=0.01).apply(df, _ctx(tmp_path, seed=1))
    assert len(fits) == 3
    changed = df.with_columns(vec=pl.Series([[v + 0.01 for v in row] for row in df["vec"].to_list()]))
    assert not _stage(n_clusters=5, eps=0.01).apply(changed, _ctx(tmp_path)).stats["kmeans_cached"]


def test_corrupt_stage_artefact_is_recomputed(tmp_path):
    df = _vector_frame(200, 40, seed=2)
    first = _stage(n_clusters=4, eps=0.01).apply(df, _ctx(tmp_path))
    artefacts = sorted((tmp_path / "cache" / "semantic").glob("*.arrays"))
    assert len(artefacts) == 2
    for path in artefacts:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # inside a member: its digest no longer matches
        path.write_bytes(bytes(data))
    again = _stage(n_clusters=4, eps=0.01).apply(df, _ctx(tmp_path))
    assert not again.stats["kmeans_cached"] and not again.stats["within_cluster_cached"]
    assert again.removed.equals(first.removed)
