"""The minhash_dedup stage: planted duplicates, edge cases, determinism, index, sweep."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

pytest.importorskip("numba")
pytest.importorskip("datasketch")

import curate  # noqa: E402
from curate.audit import minhash_sweep  # noqa: E402
from curate.errors import StageError  # noqa: E402
from curate.stages.base import RunContext  # noqa: E402
from curate.stages.minhash_dedup import MinHashDedup  # noqa: E402


def dedup(df: pl.DataFrame, ctx: RunContext | None = None, **params):
    stage = MinHashDedup(MinHashDedup.Config(**params))
    return stage.apply(df, ctx or RunContext(seed=0))


def assert_partition(df, result):
    ids = set(df["id"])
    kept, removed = set(result.kept["id"]), set(result.removed["id"])
    assert kept | removed == ids and not kept & removed
    assert result.kept.height + result.removed.height == df.height


def test_planted_duplicates_precision_and_recall(planted, exact_jaccard):
    df, truth = planted
    result = dedup(df)
    assert_partition(df, result)
    removed = result.removed
    assert (removed["reason"] == "near_duplicate").all()
    assert removed["duplicate_of"].is_in(result.kept["id"].implode()).all()
    texts = dict(zip(df["id"], df["text"], strict=True))
    # A removal is right when the row and the row it duplicates truly overlap: exact Jaccard
    # within 3 estimator standard errors of the threshold (sqrt(.8 * .2 / 128) = 0.035).
    exact = [exact_jaccard(texts[r], texts[k]) for r, k in removed.select("id", "duplicate_of").iter_rows()]
    precision = float(np.mean(np.array(exact) >= 0.7))
    pairs = truth.filter(pl.col("jaccard") >= 0.9)
    # A planted pair is found when both rows end with the same kept row.
    keeper = dict(zip(df["id"], df["id"], strict=True)) | dict(removed.select("id", "duplicate_of").iter_rows())
    found = [keeper[o] == keeper[c] for o, c in pairs.select("original", "copy").iter_rows()]
    recall = float(np.mean(found))
    assert len(pairs) >= 300 and removed.height >= 300
    assert precision >= 0.95, precision
    assert recall >= 0.95, recall
    low = truth.filter(pl.col("jaccard") < 0.65)["copy"]
    assert removed["id"].is_in(low.implode()).mean() < 0.01


def test_scores_are_estimated_jaccard_to_the_kept_row(planted, exact_jaccard):
    df, _ = planted
    removed = dedup(df).removed
    texts = dict(zip(df["id"], df["text"], strict=True))
    exact = np.array([exact_jaccard(texts[r], texts[k]) for r, k in removed.select("id", "duplicate_of").iter_rows()])
    assert removed["score"].is_between(0.0, 1.0).all()
    assert np.abs(removed["score"].to_numpy() - exact).mean() < 0.05


def test_documents_shorter_than_n_are_deduplicated_not_skipped():
    df = pl.DataFrame({"id": ["a", "b", "c", "d", "e"],
                       "text": ["great movie", "Great   MOVIE", "bad movie", "x", "great movie!"]})
    result = dedup(df)
    assert_partition(df, result)
    assert result.removed.select("id", "duplicate_of").rows() == [("b", "a")]
    assert result.removed["score"].to_list() == [1.0]


def test_char_shingles_find_near_duplicates():
    df = pl.DataFrame({"id": ["a", "b", "c"],
                       "text": ["the weather today is lovely and sunny in the park",
                                "the weather today is lovely and sunny in the park.",
                                "completely unrelated sentence about databases"]})
    result = dedup(df, unit="char", ngram=5, threshold=0.8)
    assert result.removed.select("id", "duplicate_of").rows() == [("b", "a")]


def test_empty_corpus():
    df = pl.DataFrame(schema={"id": pl.String, "text": pl.String})
    result = dedup(df)
    assert result.kept.height == 0 and result.removed.height == 0
    assert result.kept.schema == df.schema


def test_one_giant_cluster_of_ten_thousand_copies():
    text = "a single boilerplate paragraph repeated again and again across the whole crawl"
    df = pl.DataFrame({"id": [f"r{i}" for i in range(10_000)], "text": [text] * 10_000})
    result = dedup(df)
    assert_partition(df, result)
    assert result.kept["id"].to_list() == ["r0"]
    assert result.removed.height == 9_999
    assert (result.removed["duplicate_of"] == "r0").all()
    assert (result.removed["cluster_id"] == 0).all()
    assert (result.removed["score"] == 1.0).all()
    assert result.stats["verified_pairs"] == 9_999


def test_keep_longest_and_max_column():
    base = " ".join(f"word{i}" for i in range(60))
    df = pl.DataFrame({"id": ["a", "b", "c"], "text": [base, base + " extra", base + " tail"],
                       "quality": [0.1, 0.2, 0.9]})
    assert dedup(df, keep="longest").kept["id"].to_list() == ["b"]
    assert dedup(df, keep="max", keep_column="quality").kept["id"].to_list() == ["c"]
    assert set(dedup(df, keep="max", keep_column="quality").removed["duplicate_of"]) == {"c"}


def test_determinism_and_seed(planted):
    df, _ = planted
    first, second = dedup(df.head(1500)), dedup(df.head(1500))
    assert first.kept.equals(second.kept) and first.removed.equals(second.removed)
    other = dedup(df.head(1500), ctx=RunContext(seed=5))
    assert set(other.kept["id"]) != set() and other.removed.height > 0


def test_verification_removes_false_positives(planted):
    df, _ = planted
    loose = dedup(df, verify=False, bands=32, rows=2)
    strict = dedup(df, verify=True, bands=32, rows=2)
    assert loose.removed.height > strict.removed.height
    assert strict.removed["score"].min() >= 0.6


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="bands"):
        MinHashDedup.Config(bands=4)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHashDedup.Config(bands=20, rows=10)
    with pytest.raises(ValueError, match="keep_column"):
        MinHashDedup.Config(keep="max")


def test_index_save_then_dedup_a_new_batch_against_it(tmp_path, planted):
    datasketch = pytest.importorskip("datasketch")
    from curate.minhash.index import datasketch_lsh, load_index
    from curate.minhash.shingle import shingles
    from curate.normalize import NormalizeConfig, normalize

    df, _ = planted
    old, new = df.head(2000), df.slice(2000)
    first = dedup(old, index={"save": tmp_path / "idx"})
    ids, signatures, spec, params = load_index(tmp_path / "idx")
    assert ids.to_list() == first.kept["id"].to_list() and signatures.shape == (first.kept.height, 128)
    second = dedup(new, index={"against": tmp_path / "idx", "save": tmp_path / "idx2"})
    assert_partition(new, second)
    against_old = second.removed.filter(pl.col("duplicate_of").is_in(old["id"].implode()))
    assert against_old.height > 0
    alone = dedup(new)
    assert second.removed.height > alone.removed.height
    assert load_index(tmp_path / "idx2")[0].len() == second.kept.height + first.kept.height
    # The saved index is a datasketch index: a datasketch MinHash of an old text finds it.
    lsh = datasketch_lsh(tmp_path / "idx")
    query = datasketch.MinHash(num_perm=128, seed=0, hashfunc=datasketch_hashfunc(spec.hash))
    text = normalize(first.kept["text"].slice(7, 1), NormalizeConfig())[0]
    query.update_batch(shingles(text, 5))
    assert first.kept["id"][7] in lsh.query(query)
    with pytest.raises(StageError, match="num_perm"):
        dedup(new, num_perm=64, index={"against": tmp_path / "idx"})


def datasketch_hashfunc(name):
    import xxhash

    return xxhash.xxh32_intdigest if name == "xxh32" else None


def test_sweep_reuses_cached_signatures(tmp_path, planted, monkeypatch):
    df, _ = planted
    result = curate.run({"name": "mh", "output": {"dir": str(tmp_path)}, "stages": [{"type": "minhash_dedup"}]},
                        data=df.head(2000))
    stage_removed = result.removed.filter(pl.col("reason") == "near_duplicate").height

    def no_hashing(*args, **kwargs):
        raise AssertionError("the sweep must not re-hash")

    monkeypatch.setattr("curate.minhash.signature.minhash_signatures", no_hashing)
    sweep = minhash_sweep(result.run_dir, thresholds=[0.5, 0.8, 0.95])
    assert sweep.columns == ["threshold", "bands", "rows", "pairs", "clusters", "rows_removed"]
    assert sweep["threshold"].to_list() == [0.5, 0.8, 0.95]
    at_08 = sweep.filter(pl.col("threshold") == 0.8)
    assert at_08["rows_removed"].item() == stage_removed
    assert sweep["rows_removed"][0] >= sweep["rows_removed"][2]


@pytest.mark.parametrize("rows", [0, 1, 60])
def test_default_config_on_contract_frames(rows):
    rng = np.random.default_rng(rows)
    texts = [" ".join(f"t{k}" for k in rng.integers(0, 30, rng.integers(1, 12))) for _ in range(rows)]
    df = pl.DataFrame({"id": [f"r{i}" for i in range(rows)], "text": texts,
                       "label": rng.integers(0, 3, rows), "confidence": rng.random(rows)},
                      schema={"id": pl.String, "text": pl.String, "label": pl.Int64, "confidence": pl.Float64})
    snapshot = df.clone()
    stage = MinHashDedup(MinHashDedup.Config())
    first, second = stage.apply(df, RunContext(seed=3)), stage.apply(df, RunContext(seed=3))
    assert df.equals(snapshot)
    assert_partition(df, first)
    assert first.kept.columns == df.columns
    assert first.removed["reason"].is_not_null().all()
    assert first.kept.equals(second.kept) and first.removed.equals(second.removed)


def test_second_sweep_reads_cached_edges_and_agrees(tmp_path, planted, monkeypatch):
    df, _ = planted
    result = curate.run({"name": "mh", "output": {"dir": str(tmp_path)}, "stages": [{"type": "minhash_dedup"}]},
                        data=df.head(2000))
    first = minhash_sweep(result.run_dir, thresholds=[0.6, 0.8])
    assert len(list(result.run_dir.glob("artifacts/*/sweep-edges/*.parquet"))) == 2

    def no_banding(*args, **kwargs):
        raise AssertionError("a cached layout must not be banded again")

    monkeypatch.setattr("curate.minhash.banding.candidate_edges", no_banding)
    assert minhash_sweep(result.run_dir, thresholds=[0.6, 0.8]).equals(first)


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_near_duplicates_in_chinese_and_japanese_are_found_with_word_units(lang):
    from itertools import combinations

    from tests.multilingual import SENTENCES

    triples: list[tuple[int, ...]] = []  # documents of three sentences, no two sharing more than one
    for triple in combinations(range(10), 3):
        if all(len(set(triple) & set(t)) <= 1 for t in triples):
            triples.append(triple)
    docs = ["".join(SENTENCES[lang][i] for i in triple) for triple in triples]
    edited = [doc[:-3] + "の" + doc[-2:] for doc in docs]  # one character changed near the end
    n = len(docs)
    df = pl.DataFrame({"id": [f"d{i}" for i in range(n)] + [f"e{i}" for i in range(n)], "text": docs + edited})
    result = dedup(df)  # defaults: unit word, 5-grams, threshold 0.8
    assert_partition(df, result)
    pairs = dict(zip(result.removed["id"], result.removed["duplicate_of"], strict=True))
    assert n >= 10 and pairs == {f"e{i}": f"d{i}" for i in range(n)}


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_in_process_path_equals_the_phases(planted, tmp_path, keep):
    """``apply`` holds only band hashes and makes signatures again for the rows sharing a bucket; the
    phases (what the Ray engine runs) hold every signature. Over many batches, both give the same
    kept rows, ledger, stats and signature artefact."""
    from curate.minhash.index import load_index
    from curate.stages.base import run_in_blocks

    df, _ = planted
    stage = MinHashDedup(MinHashDedup.Config(keep=keep, batch_size=97))
    lean = stage.apply(df, RunContext(seed=3, artifacts_dir=tmp_path / "lean"))
    phases = run_in_blocks(stage, df, RunContext(seed=3, artifacts_dir=tmp_path / "phases"), blocks=3)
    assert lean.removed.height >= 300
    assert lean.kept.equals(phases.kept)
    assert lean.removed.equals(phases.removed)
    assert lean.stats == phases.stats
    lean_ids, lean_signatures, lean_spec, lean_params = load_index(tmp_path / "lean" / "minhash_signatures")
    ids, signatures, spec, params = load_index(tmp_path / "phases" / "minhash_signatures")
    assert lean_ids.equals(ids) and np.array_equal(lean_signatures, signatures)
    assert (lean_spec, lean_params) == (spec, params)
