"""The Ray engine gives the local engine's results: same curated rows, same ledger, same run directory."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pytest

import curate
from curate.config import validate_config
from curate.errors import ConfigError, MissingDependency, StageError
from curate.registry import register, unregister
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import Stage, StageConfig, StageResult

pytestmark = pytest.mark.ray


def corpus(n: int = 600, seed: int = 0) -> pl.DataFrame:
    """Texts with exact duplicates up to case, spacing and full-width letters, a few empty ones, and metadata."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(300)])
    base = [" ".join(rng.choice(words, rng.integers(2, 12))) for _ in range(n * 3 // 4)]
    sources = rng.integers(0, len(base), n - len(base))
    variants = [[t.upper(), t.replace(" ", "   "), t.replace("w", "ｗ")][k % 3] for k, t in enumerate(np.array(base)[sources])]
    texts = np.array(base + variants, dtype=object)[rng.permutation(n)].tolist()
    for i in range(0, n, 97):
        texts[i] = "   "
    quality = [None if i % 13 == 0 else float(v) for i, v in enumerate(rng.integers(0, 5, n))]
    return pl.DataFrame({"text": texts, "label": rng.integers(0, 3, n), "quality": quality})


def near_duplicates(n: int = 400, seed: int = 0) -> pl.DataFrame:
    """Texts of 30-60 words, a third of them copies of another with one or two words changed, and a
    ``vec`` column of vectors where those copies lie close to their source (for embedder: column)."""
    rng = np.random.default_rng(seed)
    words = np.array([f"t{i}" for i in range(3000)])
    n_base = n * 2 // 3
    docs = [list(rng.choice(words, rng.integers(30, 60))) for _ in range(n_base)]
    vectors = rng.normal(size=(n_base, 16)).astype(np.float32)
    sources = rng.integers(0, n_base, n - n_base)
    for src in sources:
        copy = list(docs[src])
        for _ in range(1 + int(src % 2)):
            copy[rng.integers(0, len(copy))] = str(rng.choice(words))
        docs.append(copy)
    vectors = np.vstack([vectors, vectors[sources] + rng.normal(scale=0.05, size=(len(sources), 16)).astype(np.float32)])
    order = rng.permutation(n)
    return pl.DataFrame({"text": [" ".join(docs[i]) for i in order], "label": rng.integers(0, 3, n),
                         "vec": vectors[order].tolist()})


def run_both(tmp_path: Path, stages: list[dict], data: pl.DataFrame, ray_stages: list[dict] | None = None,
             ray: dict | None = None):
    """The same pipeline on the local engine and on Ray (``ray_stages`` may add fault injection)."""
    base = {"seed": 7, "output": {"dir": str(tmp_path / "runs")}}
    local = curate.run({**base, "name": "local", "stages": stages}, data=data)
    ray = curate.run({**base, "name": "ray", "engine": "ray", "stages": ray_stages or stages, "ray": ray or {}}, data=data)
    return local, ray


def assert_identical(local, ray) -> None:
    """Curated rows, ledger and their files are identical; kept + removed == input (no loss)."""
    assert ray.curated.equals(local.curated)
    assert ray.removed.equals(local.removed)
    assert ray.removed.height > 0
    for name in ("curated.parquet", "removed.parquet"):
        assert (ray.run_dir / name).read_bytes() == (local.run_dir / name).read_bytes(), name
    inputs = pl.read_parquet(ray.run_dir / "stages" / "00-input.parquet")[ID]
    out = pl.concat([ray.curated[ID], ray.removed[ID]])
    assert out.len() == inputs.len() and set(out) == set(inputs)
    funnel = [(f.stage, f.rows_in, f.rows_out) for f in ray.report.funnel]
    assert funnel == [(f.stage, f.rows_in, f.rows_out) for f in local.report.funnel]
    manifest = json.loads((ray.run_dir / "manifest.json").read_text())
    assert manifest["config"]["engine"] == "ray"


@pytest.mark.parametrize("params", [{}, {"keep": "longest", "hash_bits": 128}, {"keep": "max", "keep_column": "quality"},
                                    {"normalize": {"lowercase": False}}])
def test_exact_dedup_identical_to_local(ray_local, tmp_path, params):
    local, ray = run_both(tmp_path, [{"type": "exact_dedup", **params}], corpus())
    assert_identical(local, ray)
    assert set(ray.removed["reason"]) == {"empty_text", "exact_duplicate"}
    assert ray.report.funnel[1].stats == local.report.funnel[1].stats


@pytest.mark.slow
def test_hash_shuffle_gives_the_same_result(ray_local, tmp_path):
    local, ray = run_both(tmp_path, [{"type": "exact_dedup"}], corpus(), ray={"shuffle": "hash", "blocks_per_cpu": 1})
    assert_identical(local, ray)


@pytest.mark.parametrize("settings", [{}, {"blocks_per_cpu": 5}], ids=["2-blocks-per-cpu", "5-blocks-per-cpu"])
def test_minhash_dedup_identical_to_local(ray_local, tmp_path, settings):
    local, ray = run_both(tmp_path, [{"type": "minhash_dedup"}], near_duplicates(), ray=settings)
    assert_identical(local, ray)
    assert "near_duplicate" in set(ray.removed["reason"])
    stats = ray.report.funnel[1].stats
    assert stats == local.report.funnel[1].stats and stats["verified_pairs"] > 5


def test_semantic_dedup_identical_to_local(ray_local, tmp_path):
    stages = [{"type": "semantic_dedup", "embed": {"embedder": "column", "column": "vec"}, "n_clusters": 5}]
    local, ray = run_both(tmp_path, stages, near_duplicates())
    assert_identical(local, ray)
    assert "semantic_duplicate" in set(ray.removed["reason"])
    neighbours = Path("artifacts") / "01-semantic_dedup" / "semantic_neighbours.parquet"
    assert pl.read_parquet(ray.run_dir / neighbours).equals(pl.read_parquet(local.run_dir / neighbours))


def test_actor_pool_embeddings_equal_local_ones(ray_local, tmp_path):
    """The default static embedder, run on the actor pool block by block, gives the local vectors."""
    from curate.config import RayConfig
    from curate.embed import EmbedderConfig, default_cache_dir, embed_frame
    from curate.engine.ray import Cluster
    from curate.engine.ray_embed import pool_embeddings

    config = EmbedderConfig(cache=False)
    data = corpus(300)
    pooled = pool_embeddings(data, config, default_cache_dir(), Cluster(RayConfig(embed_actors=2)))
    assert np.array_equal(pooled, embed_frame(data, config, cache_dir=default_cache_dir()))


def news_corpus(shared_data: Path, n: int = 300) -> pl.DataFrame:
    """Documents of three real AG News texts, with planted exact copies (spacing), near copies (a word
    changed) and a few French rows."""
    news = pl.read_csv(shared_data / "noisy_ag_news" / "samplesTest.csv")["text"].head(3 * n).to_list()
    texts = [" ".join(news[i:i + 3]) for i in range(0, 3 * n, 3)]
    rng = np.random.default_rng(3)
    for i in rng.choice(n, n // 10, replace=False):
        texts.append(texts[i].replace(" ", "  "))
    for i in rng.choice(n, n // 10, replace=False):
        words = texts[i].split()
        words[len(words) // 2] = "meanwhile"
        texts.append(" ".join(words))
    texts += ["Le gouvernement a annoncé mardi une nouvelle réforme des retraites, contestée par les syndicats."] * 3
    return pl.DataFrame({"text": [texts[i] for i in rng.permutation(len(texts))]})


def test_global_stages_run_on_the_driver_with_pool_embeddings(ray_local, tmp_path, shared_data):
    """label_noise, prototype_prune and active_select (global) give the local engine's result on Ray."""
    data = news_corpus(shared_data).with_columns(label=pl.int_range(pl.len()) % 3)
    stages = [{"type": "exact_dedup"}, {"type": "label_noise", "folds": 3}, {"type": "prototype_prune", "n_clusters": 4},
              {"type": "active_select", "budget": 0.5, "seed_size": 20, "batch_size": 40}]
    local, ray = run_both(tmp_path, stages, data)
    assert_identical(local, ray)
    assert {"label_noise", "prototype_prune", "active_select"} <= set(ray.removed["stage"])


def test_embedding_pool_takes_a_gpu_per_actor_when_asked():
    from curate.engine.ray_embed import pool_size

    cluster = {"CPU": 16.0, "GPU": 4.0}
    assert pool_size("cuda", None, cluster) == (4, 1)
    assert pool_size("cuda:0", 2, cluster) == (2, 1)
    assert pool_size("auto", None, cluster) == (4, 1)
    assert pool_size("auto", None, {"CPU": 2.0}) == (2, None)
    assert pool_size("cpu", None, cluster) == (16, None)
    with pytest.raises(StageError, match="no GPU"):
        pool_size("cuda", None, {"CPU": 2.0})


def test_whole_dedup_and_quality_pipeline_identical_to_local(ray_local, tmp_path, shared_data):
    stages = [{"type": "heuristic_filter", "preset": "short_text"}, {"type": "language_filter"},
              {"type": "filter", "expr": "text.len() > 40"},
              {"type": "exact_dedup"}, {"type": "minhash_dedup"}, {"type": "semantic_dedup"}]
    local, ray = run_both(tmp_path, stages, news_corpus(shared_data))
    assert_identical(local, ray)
    removed_by = set(zip(ray.removed["stage"], ray.removed["reason"], strict=True))
    assert {"language_filter", "exact_dedup", "minhash_dedup"} <= {stage for stage, _ in removed_by}
    for index in (1, 2, 3):
        assert ray.report.funnel[index].stats == local.report.funnel[index].stats


# --- a row-local stage defined here, to check the generic map path and fault injection -------


class WordCountConfig(StageConfig):
    """Drop texts with fewer than ``min_words`` words; ``crash_marker`` kills the worker once."""

    type: Literal["test_ray_word_count"] = "test_ray_word_count"
    min_words: int = 5
    crash_marker: str | None = None


class WordCount(Stage):
    """A row-local filter that adds a ``words`` column (a map stage, as quality filters are)."""

    kind = "map"
    Config = WordCountConfig

    def apply(self, df: pl.DataFrame, ctx) -> StageResult:
        marker = self.config.crash_marker
        if marker is not None and not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)  # the worker process dies mid-stage; Ray must rerun the task
        words = df[TEXT].str.count_matches(r"\S+").cast(pl.Int64)
        short = words < self.config.min_words
        if (path := ctx.artifact_path("words.parquet")) is not None:
            df.select(ID).with_columns(words=words).write_parquet(path)
        return StageResult(
            kept=df.filter(~short).with_columns(words=words.filter(~short)),
            removed=make_ledger(df.filter(short)[ID], self.label, "too_few_words", score=words.filter(short)),
            stats={"short": int(short.sum()), "min_words": self.config.min_words,
                   "by_words": {str(k): v for k, v in words.value_counts().iter_rows()}},
        )


@pytest.fixture
def word_count(ray_local):
    """Register the test stage for one test (workers get this module by value)."""
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    register("test_ray_word_count")(WordCount)
    yield
    unregister("test_ray_word_count")


def test_map_stage_identical_to_local(word_count, tmp_path):
    stages = [{"type": "test_ray_word_count"}, {"type": "exact_dedup"}]
    local, ray = run_both(tmp_path, stages, corpus(800))
    assert_identical(local, ray)
    assert "words" in ray.curated.columns
    assert ray.report.funnel[1].stats == local.report.funnel[1].stats
    artifact = Path("artifacts") / "01-test_ray_word_count" / "words.parquet"
    assert pl.read_parquet(ray.run_dir / artifact).equals(pl.read_parquet(local.run_dir / artifact))


# --- a keyed stage defined in the test suite only runs on Ray with no change to curate/engine/ --


@pytest.fixture
def cap_per_key(ray_local):
    """Register tests/contract/keyed_example.py's stage for one test (workers import it from the checkout)."""
    from tests.contract.keyed_example import NAME, CapPerKey

    register(NAME)(CapPerKey)
    yield NAME
    unregister(NAME)


@pytest.mark.parametrize("params", [{}, {"column": "text", "cap": 1}])
def test_new_keyed_stage_runs_on_both_engines_identically(cap_per_key, tmp_path, params):
    stages = [{"type": cap_per_key, **params}, {"type": "exact_dedup"}]
    local, ray = run_both(tmp_path, stages, corpus(800))
    assert_identical(local, ray)
    assert "over_cap" in set(ray.removed["reason"])
    assert ray.report.funnel[1].stats == local.report.funnel[1].stats


def test_worker_killed_in_map_stage_is_retried(word_count, tmp_path):
    marker = tmp_path / "crashed"
    stages = [{"type": "test_ray_word_count"}, {"type": "exact_dedup"}]
    faulty = [{"type": "test_ray_word_count", "crash_marker": str(marker)}, {"type": "exact_dedup"}]
    local, ray = run_both(tmp_path, stages, corpus(800), ray_stages=faulty)
    assert marker.exists(), "the fault was not injected"
    assert_identical(local, ray)


def _crash_once(marker: str, fn):
    def crash_once(batch, **kwargs):
        if not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)
        return fn(batch, **kwargs)

    return crash_once


def test_worker_killed_in_group_by_is_retried(ray_local, tmp_path, monkeypatch):
    import curate.engine.ray_stages as stages

    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "crashed"
    monkeypatch.setattr(stages, "group_block", _crash_once(str(marker), stages.group_block))
    local, ray = run_both(tmp_path, [{"type": "exact_dedup"}], corpus())
    assert marker.exists(), "the fault was not injected"
    assert_identical(local, ray)


# --- the run directory is shared with the local engine ----------------------------------


def test_test_split_energy_and_proxy_training_are_the_local_engines(ray_local, tmp_path):
    """Test split before the first stage, metered stages and proxy training: shared with the local engine."""
    config = {"seed": 1, "stages": [{"type": "exact_dedup"}], "output": {"dir": str(tmp_path)},
              "proxy_train": {"model": "tfidf", "seeds": 1, "min_fit_seconds": 0, "bootstrap": 100}}
    local = curate.run({**config, "name": "local"}, data=corpus())
    ray = curate.run({**config, "name": "ray", "engine": "ray"}, data=corpus())
    assert ray.curated.equals(local.curated) and ray.removed.equals(local.removed)
    assert (ray.run_dir / "test.parquet").read_bytes() == (local.run_dir / "test.parquet").read_bytes()
    assert ray.report.funnel[1].energy and local.report.funnel[1].energy
    assert ray.report.proxy.macro_f1_delta == local.report.proxy.macro_f1_delta


def test_checkpoints_are_the_local_engines(ray_local, tmp_path):
    """A Ray run's checkpoints resume a local run of the same pipeline, and vice versa."""
    config = {"name": "both", "stages": [{"type": "exact_dedup"}], "output": {"dir": str(tmp_path)}}
    ray = curate.run({**config, "engine": "ray"}, data=corpus())
    local = curate.run(config, data=corpus())
    assert [f.resumed for f in local.report.stages] == [True]
    assert local.curated.equals(ray.curated) and local.removed.equals(ray.removed)


# --- sharded input and output -----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_reads_shard_folders_and_writes_shards(ray_local, tmp_path, fmt):
    data = corpus(500).with_columns(pl.format("doc-{}", pl.int_range(pl.len())).alias("doc"))
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, offset in enumerate(range(0, data.height, 120)):
        part = data.slice(offset, 120)
        path = shards / f"part-{i:03d}.{fmt}"
        part.write_parquet(path) if fmt == "parquet" else part.write_ndjson(path)
    stages = [{"type": "exact_dedup"}]
    out = tmp_path / "runs"
    local = curate.run({"name": "local", "stages": stages, "input": {"id": "doc"}, "output": {"dir": str(out)}}, data=data)
    ray = curate.run({"name": "ray", "engine": "ray", "stages": stages, "input": {"path": str(shards), "id": "doc"},
                      "ray": {"write_shards": fmt}, "output": {"dir": str(out)}})
    assert ray.curated.equals(local.curated.select(ray.curated.columns))
    assert ray.removed.equals(local.removed)
    written = sorted((ray.run_dir / "curated").iterdir())
    assert len(written) > 1
    back = pl.concat([pl.read_parquet(p) if fmt == "parquet" else pl.read_ndjson(p) for p in written], how="vertical_relaxed")
    assert sorted(back[ID].to_list()) == sorted(ray.curated[ID].to_list())


# --- configuration and the optional dependency ------------------------------------------


def test_ray_settings_are_validated():
    config = validate_config({"engine": "ray", "ray": {"address": "auto", "blocks_per_cpu": 4}})
    assert config.ray.address == "auto" and config.ray.shuffle == "sort"
    with pytest.raises(ConfigError) as error:
        validate_config({"engine": "ray", "ray": {"adress": "auto"}})
    assert "ray.adress" in str(error.value) and "address" in str(error.value)


def test_missing_ray_names_the_extra(tmp_path, monkeypatch):
    from curate.engine.ray import ray_module

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(MissingDependency) as error:
        ray_module()
    assert error.value.extra == "ray" and "curate[ray]" in str(error.value)


# --- where Ray comes from ---------------------------------------------------------------


def test_cli_starts_and_stops_a_local_ray_instance_when_no_address_is_given(tmp_path):
    """A fresh process with no RAY_ADDRESS: `curate run` starts a local Ray instance, runs, shuts it down."""
    import subprocess

    import yaml

    pytest.importorskip("ray")
    data = tmp_path / "d.jsonl"
    corpus(200).write_ndjson(data)
    config = {"name": "cli", "engine": "ray", "ray": {"num_cpus": 1}, "input": {"path": str(data)},
              "stages": [{"type": "exact_dedup"}], "output": {"dir": str(tmp_path / "runs")}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "curate", "run", str(tmp_path / "p.yaml")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    local = curate.run({**config, "engine": "local", "name": "local"})
    assert pl.read_parquet(tmp_path / "runs" / "cli" / "removed.parquet").equals(local.removed)


def test_object_store_and_shard_folder_inputs_are_recognised(tmp_path):
    from curate.config import InputConfig
    from curate.engine.ray import shard_source

    assert shard_source(InputConfig(path="s3://bucket/corpus/")) == ("s3://bucket/corpus", "parquet")
    assert shard_source(InputConfig(path="gs://bucket/part.jsonl")) == ("gs://bucket/part.jsonl", "jsonl")
    (tmp_path / "a.txt").write_text("a text file")
    assert shard_source(InputConfig(path=tmp_path)) is None  # a folder of .txt stays the local reader's
    pl.DataFrame({"text": ["x"]}).write_parquet(tmp_path / "b.parquet")
    assert shard_source(InputConfig(path=tmp_path)) == ([str(tmp_path / "b.parquet")], "parquet")
    assert shard_source(InputConfig(path=tmp_path / "b.parquet")) is None  # one file: the local reader
