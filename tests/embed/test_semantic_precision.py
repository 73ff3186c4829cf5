"""semantic_dedup removes duplicates, not neighbours: distinct long documents on one topic survive,
edited copies go, eps: auto adapts to text length, the ledger names the neighbour at the threshold."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import curate
from benchmarks import labelled_corpora
from benchmarks.planted import EDITS, distinct_texts
from curate import audit
from curate.embed import embed_frame
from curate.embed.chunks import chunk_texts, document_vectors
from curate.embed.semdedup import auto_eps, threshold_of
from curate.stages.base import RunContext
from curate.stages.semantic_dedup import SemanticDedup

BEFORE = {"eps": 0.07, "chunk_words": None}  # the stage as it was: one fixed eps, the model truncates long texts


def _load(loader, *args, **kwargs) -> pl.DataFrame:
    try:
        return loader(*args, **kwargs)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def _with_copies(originals: list[tuple[str, str]], copies: int, seed: int) -> pl.DataFrame:
    """``originals`` (id, text) plus an edited copy (``c<id>``) of the first ``copies`` of them, each edit in turn;
    ``source`` names the original a row was made from."""
    rng = np.random.default_rng(seed)
    edits = list(EDITS.values())
    rows = [(i, t, i) for i, t in originals]
    rows += [(f"c{i}", edits[k % len(edits)](t, rng), i) for k, (i, t) in enumerate(originals[:copies])]
    return pl.DataFrame(rows, schema=["id", "text", "source"], orient="row")


def _removal_pairs(df: pl.DataFrame, removed: pl.DataFrame) -> pl.DataFrame:
    """Each removed row with the row it duplicated and whether both come from the same original."""
    source = df.select("id", "source")
    return (removed.select("id", "duplicate_of", "score").join(source, on="id")
            .join(source.rename({"id": "duplicate_of", "source": "other"}), on="duplicate_of")
            .with_columns(planted=pl.col("source") == pl.col("other")))


def one_topic() -> pl.DataFrame:
    """300 business digests (AG News articles of one class joined, no article in two digests), 300 SMS
    texts of 8+ words, and an edited copy of 24 of each (light edit, word swaps, reordered sentences,
    a sentence dropped)."""
    digests = _load(labelled_corpora.ag_digests, seed=2).filter(pl.col("label") == "business")["text"].head(300)
    sms = distinct_texts(_load(labelled_corpora.sms_spam)).filter(pl.col("text").str.split(" ").list.len() >= 8)
    long = _with_copies([(f"d{i}", t) for i, t in enumerate(digests)], 24, seed=0)
    short = _with_copies([(f"s{i}", t) for i, t in enumerate(sms["text"].head(300))], 24, seed=1)
    return pl.concat([long, short])


@pytest.mark.slow
def test_distinct_long_documents_on_one_topic_stay_and_their_copies_go(static_cache, shared_data):
    corpus = one_topic()
    result = SemanticDedup(SemanticDedup.Config()).apply(corpus, RunContext(cache_dir=static_cache))
    pairs = _removal_pairs(corpus, result.removed)
    digests = pairs.filter(pl.col("source").str.starts_with("d"))
    assert digests["planted"].all(), digests.filter(~pl.col("planted"))  # no digest goes as another digest's duplicate
    assert digests.height == 24  # every edited copy of a digest (or its original) goes
    assert result.stats["chunked_rows"] >= 300 and result.stats["eps_mode"] == "auto"
    planted_sms = pairs.filter(pl.col("source").str.starts_with("s") & pl.col("planted"))
    assert planted_sms["source"].n_unique() >= 20  # short texts: most edited copies found too
    # each score is the cosine of the two rows' (chunk-pooled) vectors, at or above the threshold
    stage = SemanticDedup(SemanticDedup.Config())
    vectors, _ = stage.vectors(corpus, lambda frame: embed_frame(frame, stage.config.embed, cache_dir=static_cache),
                               static_cache)
    row = {i: k for k, i in enumerate(corpus["id"])}
    ledger = result.removed
    cosine = [float(vectors[row[a]] @ vectors[row[b]]) for a, b in zip(ledger["id"], ledger["duplicate_of"], strict=True)]
    np.testing.assert_allclose(ledger["score"].to_numpy(), cosine, atol=1e-5)
    assert (ledger["score"] >= ledger["detail"].str.extract(r"cosine >= ([0-9.]+)").cast(pl.Float64) - 1e-4).all()

    # the corpus does tell: with one fixed eps and truncated long texts, distinct digests go
    before = SemanticDedup(SemanticDedup.Config(**BEFORE)).apply(corpus, RunContext(cache_dir=static_cache))
    wrong = _removal_pairs(corpus, before.removed).filter(pl.col("source").str.starts_with("d") & ~pl.col("planted"))
    assert wrong.height >= 3


@pytest.mark.slow
def test_long_documents_sharing_an_opening_past_the_model_limit_are_not_duplicates(static_cache, shared_data):
    """Pairs of ~2,000-word documents that share their first 450+ words (more than the model reads) and
    differ after: embedded whole, both look identical; embedded in chunks, they are told apart."""
    digests = _load(labelled_corpora.ag_digests, seed=3).filter(pl.col("label") == "world")["text"].to_list()
    openings = [t for t in digests if len(t.split()) >= 450]
    rest = [t for t in digests if len(t.split()) < 450]
    texts = []
    for i in range(30):
        texts += [openings[i] + "\n\n" + "\n\n".join(rest[10 * i:10 * i + 5]),
                  openings[i] + "\n\n" + "\n\n".join(rest[10 * i + 5:10 * i + 10])]
    df = pl.DataFrame({"id": [f"r{i}" for i in range(60 + 180)], "text": texts + rest[300:480]})
    chunked = SemanticDedup(SemanticDedup.Config()).apply(df, RunContext(cache_dir=static_cache))
    whole = SemanticDedup(SemanticDedup.Config(chunk_words=None)).apply(df, RunContext(cache_dir=static_cache))
    assert chunked.removed.height == 0
    assert whole.removed.height == 30 and whole.removed["score"].min() > 0.9999


@pytest.mark.slow
def test_auto_eps_still_removes_the_copies_of_a_heavily_duplicated_corpus(static_cache, shared_data):
    """A third of the rows are edited copies: the median distance the auto eps rests on stays that of
    the distinct texts, so the copies are found as with the former fixed eps."""
    sms = distinct_texts(_load(labelled_corpora.sms_spam)).filter(pl.col("text").str.split(" ").list.len() >= 8)
    originals = [(f"s{i}", t) for i, t in enumerate(sms["text"].head(600))]
    df = _with_copies(originals, 300, seed=4)
    auto = SemanticDedup(SemanticDedup.Config()).apply(df, RunContext(cache_dir=static_cache))
    fixed = SemanticDedup(SemanticDedup.Config(eps=0.07)).apply(df, RunContext(cache_dir=static_cache))
    found = {name: _removal_pairs(df, r.removed).filter("planted")["source"].n_unique()
             for name, r in (("auto", auto), ("fixed", fixed))}
    assert found["auto"] >= 0.85 * 300 and found["auto"] >= found["fixed"] - 20
    assert 0.02 < auto.stats["eps"] <= 0.1


def test_auto_eps_follows_the_nearest_neighbour_distances_of_texts_of_similar_length():
    rng = np.random.default_rng(0)
    n = 600
    words = np.r_[rng.integers(5, 30, 300), rng.integers(300, 600, 300)]  # short, then long texts
    distance = np.r_[rng.uniform(0.2, 0.4, 300), rng.uniform(0.05, 0.1, 300)]  # long texts crowd together
    similarity = (1 - distance).astype(np.float32)
    similarity[[0, 450]] = -np.inf  # rows without a neighbour
    eps, by_length = auto_eps(similarity, words, ratio=0.2, eps_max=0.07)
    assert np.median(eps[:300]) == pytest.approx(0.2 * 0.3, abs=0.004)  # 0.2 x the short texts' median distance
    assert np.median(eps[300:]) == pytest.approx(0.2 * 0.075, abs=0.002)
    assert eps[:300].min() > 0.035 and eps[300:].max() < 0.035  # only the window at the boundary mixes both
    assert all(np.unique(eps[words == w]).size == 1 for w in np.unique(words))  # one eps per length
    assert [b["words"] for b in by_length][-2:] == ["256-511", "512-1023"]
    capped, _ = auto_eps(similarity, words, ratio=0.5, eps_max=0.07)
    assert (capped[:300] == 0.07).all() and np.median(capped[300:]) == pytest.approx(0.5 * 0.075, abs=0.004)
    none, _ = auto_eps(np.full(n, -np.inf, dtype=np.float32), words, ratio=0.2, eps_max=0.07)
    assert (none == 0.07).all()


def test_chunks_cover_every_word_once_and_short_texts_keep_their_own_vector():
    texts = pl.Series(["one two three", "w " * 250, "日本語の文章です" * 40, None, ""])
    chunks = chunk_texts(texts, chunk_words=100, max_chunks=64)
    assert chunks.filter(pl.col("row") == 0)["text"].to_list() == ["one two three"]
    long = chunks.filter(pl.col("row") == 1)
    assert long.height == 3 and long["words"].to_list() == [84, 83, 83]  # 250 words in 3 near-equal chunks
    assert "".join(long["text"]) == "w " * 250
    cjk = chunks.filter(pl.col("row") == 2)  # no spaces: one word per character
    assert "".join(cjk["text"]) == texts[2] and cjk["words"].sum() == 320 and cjk.height == 4
    assert chunk_texts(texts, chunk_words=10, max_chunks=5).filter(pl.col("row") == 1).height == 5

    seen = []

    def embed(frame: pl.DataFrame) -> np.ndarray:
        seen.append(frame["text"].to_list())
        return np.eye(len(frame), 8, dtype=np.float32)[:, ::-1].copy() + 0.1

    vectors, stats = document_vectors(texts, embed, 100, 64)
    assert stats == {"chunked_rows": 2, "chunks": 7}
    plain = embed(chunks.select("text"))
    first = chunks["row"].to_numpy()
    np.testing.assert_array_equal(vectors[0], plain[np.flatnonzero(first == 0)[0]])  # bit for bit
    np.testing.assert_allclose(np.linalg.norm(vectors[1:3], axis=1), 1.0, rtol=1e-6)


def _chain_frame() -> pl.DataFrame:
    """a, b, c along an arc (cos(a, b) = cos(b, c) = 0.97, cos(a, c) = 0.88) and 30 random rows far from
    them and from each other."""
    angle = np.arccos(0.97)
    vectors = np.zeros((33, 16))
    vectors[:3, 0], vectors[:3, 1] = np.cos(np.arange(3) * angle), np.sin(np.arange(3) * angle)
    vectors[3:, 2:] = np.random.default_rng(0).normal(size=(30, 14))
    return pl.DataFrame({"id": ["a", "b", "c"] + [f"u{i}" for i in range(30)], "text": ["x y"] * 33,
                         "vec": vectors.tolist()})


def test_ledger_names_the_neighbour_that_caused_the_removal(tmp_path):
    df = _chain_frame()
    stage = SemanticDedup(SemanticDedup.Config(embed={"embedder": "column", "column": "vec"}, eps=0.05,
                                               n_clusters=1, keep="first"))
    result = stage.apply(df, RunContext(cache_dir=tmp_path))
    ledger = {r["id"]: r for r in result.removed.iter_rows(named=True)}
    assert ledger["b"]["duplicate_of"] == "a" and ledger["c"]["duplicate_of"] == "b"  # c is 0.88 from a, 0.97 from b
    assert ledger["c"]["score"] == pytest.approx(0.97, abs=1e-5)
    assert ledger["c"]["detail"].endswith("kept row a") and "eps 0.05, fixed" in ledger["c"]["detail"]
    assert result.stats["duplicate_groups"] == 1


@pytest.mark.parametrize("eps", ["auto", 0.02, 0.3])
def test_every_ledger_score_is_the_cosine_to_duplicate_of_and_meets_its_threshold(tmp_path, eps):
    rng = np.random.default_rng(3)
    base = rng.normal(size=(300, 16))
    copies = base[rng.choice(300, 100)] + rng.normal(size=(100, 16)) * np.linspace(0.01, 0.5, 100)[:, None]
    chained = copies[:20] + rng.normal(size=(20, 16)) * 0.05  # copies of copies
    vectors = np.vstack([base, copies, chained])
    df = pl.DataFrame({"id": [f"v{i}" for i in range(len(vectors))],
                       "text": [" ".join(["w"] * int(k)) for k in rng.integers(1, 400, len(vectors))],
                       "vec": vectors.tolist()})
    stage = SemanticDedup(SemanticDedup.Config(embed={"embedder": "column", "column": "vec"}, eps=eps, n_clusters=3))
    result = stage.apply(df, RunContext(cache_dir=tmp_path / "cache", artifacts_dir=tmp_path / "art"))
    ledger = result.removed
    assert ledger.height > 20
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    row = {i: k for k, i in enumerate(df["id"])}
    cosine = [float(unit[row[a]] @ unit[row[b]]) for a, b in zip(ledger["id"], ledger["duplicate_of"], strict=True)]
    np.testing.assert_allclose(ledger["score"].to_numpy(), cosine, atol=1e-5)
    applied = pl.read_parquet(tmp_path / "art" / "semantic_neighbours.parquet").select("id", "eps")
    checked = ledger.join(applied, on="id")
    assert checked.height == ledger.height
    assert (checked["score"].to_numpy().astype(np.float32) >= threshold_of(checked["eps"].to_numpy())).all()
    if eps != "auto":
        assert (ledger["score"] >= result.stats["threshold"]).all() and (checked["eps"] == eps).all()


def test_report_and_audit_clusters_follow_the_chain_to_the_kept_row(tmp_path):
    config = {"name": "chain", "seed": 0, "input": {"text": "text", "id": "id"}, "output": {"dir": str(tmp_path)},
              "stages": [{"type": "semantic_dedup", "embed": {"embedder": "column", "column": "vec"}, "eps": 0.05,
                          "n_clusters": 1, "keep": "first"}]}
    run = curate.run(config, data=_chain_frame())
    clusters = audit.load(run.run_dir).clusters().data
    assert clusters.height == 1 and clusters["kept_id"].item() == "a" and clusters["size"].item() == 3
    views = run.report.views.clusters
    assert views[0].kept.id == "a"
    assert {r.id: r.duplicate_of for r in views[0].removed} == {"b": "a", "c": "b"}
    assert "to b" in (run.run_dir / "report.html").read_text()


def test_a_tiny_corpus_gets_eps_max_not_a_threshold_set_by_its_own_copies(tmp_path):
    """Two near-copies among five rows: their own distance would be the 'typical' one, so eps: auto
    falls back to eps_max and removes the copy."""
    vectors = np.eye(5, 8)
    vectors[1] = vectors[0] + 0.1 * np.eye(1, 8, 7)[0]  # cosine 0.995 to row 0
    df = pl.DataFrame({"id": list("abcde"), "text": ["a b c"] * 5, "vec": vectors.tolist()})
    result = SemanticDedup(SemanticDedup.Config(embed={"embedder": "column", "column": "vec"})).apply(
        df, RunContext(cache_dir=tmp_path))
    assert result.removed["id"].to_list() in (["a"], ["b"])
    assert result.stats["eps"] == 0.1 and "fewer than 20" in result.stats["eps_reason"]


def test_pooled_vectors_of_long_texts_are_cached_for_a_rerun(static_cache, tmp_path, monkeypatch):
    import shutil

    import curate.stages.semantic_dedup as module

    cache = tmp_path / "cache"
    shutil.copytree(static_cache / "models", cache / "models")  # the distilled model, not its vectors
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(500)]
    df = pl.DataFrame({"id": [f"r{i}" for i in range(40)],
                       "text": [" ".join(rng.choice(vocab, 300)) for _ in range(39)] + ["short text"]})
    calls = []
    original = module.document_vectors
    monkeypatch.setattr(module, "document_vectors", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = SemanticDedup(SemanticDedup.Config()).apply(df, RunContext(cache_dir=cache))
    again = SemanticDedup(SemanticDedup.Config()).apply(df, RunContext(cache_dir=cache))
    assert len(calls) == 1 and first.stats["chunked_rows"] == again.stats["chunked_rows"] == 39
    assert again.stats["kmeans_cached"] and again.removed.equals(first.removed) and again.kept.equals(first.kept)
    assert len(list((cache / "semantic").glob("documents-*.arrays"))) == 1
    SemanticDedup(SemanticDedup.Config(chunk_words=64)).apply(df, RunContext(cache_dir=cache))
    assert len(calls) == 2  # other chunk settings, other vectors
