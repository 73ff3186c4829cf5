"""The content-addressed cache: identical vectors, no model call on a rerun, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from curate.embed import EmbedderConfig, clear_memory, embed_frame
from curate.embed.backends import SentenceTransformerEncoder
from curate.embed.cache import EmbeddingCache, text_keys
from curate.errors import OutputError
from curate.stages.base import RunContext

ST = EmbedderConfig(embedder="sentence-transformers")


@pytest.fixture
def calls(monkeypatch):
    """Count sentence-transformer encode calls and the texts each one receives."""
    seen: list[list[str]] = []
    original = SentenceTransformerEncoder.encode

    def counting(self, texts):
        seen.append(list(texts))
        return original(self, texts)

    monkeypatch.setattr(SentenceTransformerEncoder, "encode", counting)
    clear_memory()
    yield seen
    clear_memory()


def _frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts})


def test_rerun_reads_identical_vectors_without_calling_the_model(tmp_path, calls):
    df = _frame(["alpha beta", "gamma delta", "alpha beta", "epsilon"])
    first = embed_frame(df, ST, cache_dir=tmp_path)
    assert calls == [["alpha beta", "gamma delta", "epsilon"]]  # duplicates embedded once
    clear_memory()
    second = embed_frame(df, ST, cache_dir=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first[0], first[2])


def test_overlapping_data_embeds_only_what_is_new(tmp_path, calls):
    embed_frame(_frame(["one text", "two text"]), ST, cache_dir=tmp_path)
    later = embed_frame(_frame(["two text", "three text", "one text"]), ST, cache_dir=tmp_path)
    assert calls[-1] == ["three text"]
    clear_memory()
    fresh = embed_frame(_frame(["two text", "three text", "one text"]), ST, cache_dir=tmp_path / "other")
    np.testing.assert_allclose(later, fresh, atol=1e-6)


def test_cache_is_keyed_by_exact_text_and_model(tmp_path, calls):
    embed_frame(_frame(["Same words"]), ST, cache_dir=tmp_path)
    embed_frame(_frame(["same words"]), ST, cache_dir=tmp_path)
    assert len(calls) == 2
    folders = list((tmp_path / "embeddings").iterdir())
    assert len(folders) == 1 and len(EmbeddingCache(tmp_path, folders[0].name).shards()) == 2


def test_cache_off_always_calls_the_model(tmp_path, calls):
    config = EmbedderConfig(embedder="sentence-transformers", cache=False)
    embed_frame(_frame(["no cache"]), config, cache_dir=tmp_path)
    embed_frame(_frame(["no cache"]), config, cache_dir=tmp_path)
    assert len(calls) == 2
    assert not (tmp_path / "embeddings").exists()


def test_run_context_memoises_across_stages(tmp_path, calls, monkeypatch):
    reads = []
    original_get = EmbeddingCache.get
    monkeypatch.setattr(EmbeddingCache, "get", lambda self, keys: reads.append(1) or original_get(self, keys))
    df = _frame(["memo one", "memo two"])
    first = RunContext(cache_dir=tmp_path).embeddings(df, ST)
    second = RunContext(cache_dir=tmp_path).embeddings(df, ST)
    assert second is first and len(reads) == 1 and len(calls) == 1
    assert not first.flags.writeable
    other_ids = df.with_columns(pl.Series("id", ["x", "y"]))
    RunContext(cache_dir=tmp_path).embeddings(other_ids, ST)
    assert len(reads) == 2 and len(calls) == 1  # new ids: not memoised, but the disk cache has them


def test_cache_dir_env_var_overrides_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "envcache"))
    assert RunContext().cache_dir == tmp_path / "envcache"
    monkeypatch.delenv("CURATE_CACHE_DIR")
    assert RunContext().cache_dir == Path(".curate-cache")


def _keys(n: int, start: int = 0) -> np.ndarray:
    return text_keys(pl.Series([f"text {i}" for i in range(start, start + n)]))


def test_fault_before_commit_leaves_no_entry(tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path, "fp")
    keys = _keys(10)

    def crash(fd):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OutputError, match="simulated"):  # the write's OSError, as the one-line error users see
        cache.put(keys, np.ones((10, 4), dtype=np.float32))
    monkeypatch.undo()
    assert cache.shards() == []
    assert list(cache.folder.iterdir()) == []  # the temp file was removed too
    vectors, found = cache.get(keys)
    assert vectors is None and not found.any()


@pytest.mark.parametrize("damage", ["truncate", "flip", "header"])
def test_corrupt_shard_is_never_read_back(tmp_path, damage):
    cache = EmbeddingCache(tmp_path, "fp")
    keys = _keys(1000)
    path = cache.put(keys, np.random.default_rng(0).random((1000, 64), dtype=np.float32))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "header":
        data[40] ^= 0xFF  # inside the JSON header: its digest no longer matches
    else:
        data[len(data) // 2] ^= 0xFF  # inside the vectors member: its xxh3 digest no longer matches
    path.write_bytes(bytes(data))
    vectors, found = cache.get(keys)
    assert not found.any()
    assert not path.exists()


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    import polars as pl
    from curate.embed.cache import EmbeddingCache, text_keys
    cache = EmbeddingCache(sys.argv[1], "fp")
    for round_ in range(1000):
        keys = text_keys(pl.Series([f"t{round_}-{i}" for i in range(20000)]))
        vectors = np.repeat((keys[:, :1] % 1000).astype(np.float32), 128, axis=1)
        cache.put(keys, vectors)
        print(round_, flush=True)
""")


@pytest.mark.slow
def test_killed_writer_never_leaves_a_readable_partial_entry(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "0"  # one shard committed
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache = EmbeddingCache(tmp_path, "fp")
    shards = cache.shards()
    assert shards
    for round_ in range(len(shards) + 2):
        keys = text_keys(pl.Series([f"t{round_}-{i}" for i in range(20000)]))
        vectors, found = cache.get(keys)
        assert found.all() or not found.any()  # a shard is all there or not at all
        if found.all():
            expected = np.repeat((keys[:, :1] % 1000).astype(np.float32), 128, axis=1)
            np.testing.assert_array_equal(vectors, expected)
    assert len(cache.shards()) == len(shards)  # nothing complete was judged corrupt


def test_distinct_keys_handles_duplicates_and_64_bit_collisions():
    from curate.embed import distinct_keys

    keys = np.array([[5, 1], [7, 2], [5, 1], [5, 9], [7, 2]], dtype=np.uint64)  # [5, 9] shares the high half
    first, back = distinct_keys(keys)
    np.testing.assert_array_equal(first, [0, 1, 3])
    np.testing.assert_array_equal(keys[first][back], keys)
    first, back = distinct_keys(keys[[0, 1, 3]])  # all distinct, but two share a high half
    np.testing.assert_array_equal(first, [0, 1, 2])
    np.testing.assert_array_equal(back, [0, 1, 2])
    first, back = distinct_keys(keys[[0, 1]])
    np.testing.assert_array_equal(first, [0, 1])
    assert back is None
