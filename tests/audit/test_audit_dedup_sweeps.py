"""RunAudit.sweep on dedup stages: MinHash from cached signatures, SemDeDup from cached neighbours,
each equal to rerunning the stage at that threshold."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import curate
from curate import audit
from curate.stages.base import RunContext
from curate.stages.minhash_dedup import MinHashDedup
from curate.stages.semantic_dedup import SemanticDedup

MINHASH = {"type": "minhash_dedup", "ngram": 2, "threshold": 0.7}
SEMANTIC = {"type": "semantic_dedup", "embed": {"embedder": "column", "column": "vec"}, "n_clusters": 3}


def dedup_corpus(seed: int = 0) -> pl.DataFrame:
    """60 random 12-word texts plus copies with 1-6 words replaced; vectors with copies at spread cosines."""
    rng = np.random.default_rng(seed)
    words = [list(rng.choice([f"w{i}" for i in range(400)], 12)) for _ in range(60)]
    for k in range(30):
        copy = list(words[k])
        for j in rng.choice(12, 1 + k % 6, replace=False):
            copy[j] = f"x{k}_{j}"
        words.append(copy)
    base = rng.normal(size=(60, 16))
    noise = rng.normal(size=(30, 16)) * np.linspace(0.02, 0.6, 30)[:, None]
    vectors = np.vstack([base, base[:30] + noise])
    return pl.DataFrame({"id": [f"r{i:03d}" for i in range(90)], "text": [" ".join(w) for w in words],
                         "vec": vectors.tolist()})


@pytest.fixture(scope="module")
def dedup_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    config = {"name": "dedup", "seed": 0, "input": {"text": "text", "id": "id"}, "stages": [MINHASH, SEMANTIC],
              "output": {"dir": str(out), "checkpoints": "full"}}  # the reruns below start from a checkpoint
    return curate.run(config, data=dedup_corpus()).run_dir


def _removed_by_rerun(stage, run_dir, index: int) -> int:
    before = sorted((run_dir / "stages").glob(f"{index - 1:02d}-*.parquet"))[0]
    return stage.apply(pl.read_parquet(before), RunContext(seed=0)).removed.height


def test_minhash_stage_sweeps_its_cached_signatures(dedup_run):
    run = audit.load(dedup_run)
    assert "minhash_dedup" in run.sweep_targets()
    thresholds = [0.5, 0.7, 0.9]
    table = run.sweep("minhash_dedup", thresholds=thresholds).data
    assert table["threshold"].to_list() == thresholds
    assert table["removed"].to_list() == audit.minhash_sweep(dedup_run, thresholds)["rows_removed"].to_list()
    rerun = [_removed_by_rerun(MinHashDedup(MinHashDedup.Config(**{**MINHASH, "threshold": t})), dedup_run, 1)
             for t in thresholds]
    assert table["removed"].to_list() == rerun
    assert rerun[1] == run.ledger.filter(pl.col("stage") == "minhash_dedup").height > 0
    assert rerun[0] > rerun[2]


def test_semantic_stage_sweeps_any_eps_from_its_cached_neighbours(dedup_run):
    run = audit.load(dedup_run)
    assert "semantic_dedup" in run.sweep_targets()
    eps = np.array([0.001, 0.01, 0.07, 0.2, 0.4])
    view = run.sweep("semantic_dedup", thresholds=1 - eps)
    table = view.data
    _, info = audit.similarity_sweep(dedup_run, "semantic_dedup", thresholds=1 - eps)
    stats = run.report.funnel[2].stats
    assert stats["eps_mode"] == "auto" and info["source"] == "artifact"
    assert info["run_threshold"] == stats["threshold"] == pytest.approx(1 - stats["eps"])  # eps: auto, as applied
    rerun = [_removed_by_rerun(SemanticDedup(SemanticDedup.Config(**{**SEMANTIC, "eps": e})), dedup_run, 2) for e in eps]
    assert table["removed"].to_list() == rerun
    assert rerun[0] < rerun[-1]
    at_run, _ = audit.similarity_sweep(dedup_run, "semantic_dedup", thresholds=[stats["threshold"]])
    assert at_run["removed"].item() == run.ledger.filter(pl.col("stage") == "semantic_dedup").height > 0
    assert at_run["removed"].item() == _removed_by_rerun(SemanticDedup(SemanticDedup.Config(**SEMANTIC)), dedup_run, 2)
    assert "<polyline" in view._repr_html_()


def test_clusters_follow_chains_of_removed_rows_to_the_row_kept(tmp_path):
    """SemDeDup names removed neighbours as ``duplicate_of``: each chain is walked to the row that stayed."""
    from curate.audit.views import with_kept_row

    rng = np.random.default_rng(1)
    base = rng.normal(size=(15, 16))
    vectors = np.vstack([base + rng.normal(size=(15, 16)) * 0.03 for _ in range(6)])  # groups of six near copies
    data = pl.DataFrame({"id": [f"r{i:03d}" for i in range(90)], "text": [f"row {i}" for i in range(90)],
                         "vec": vectors.tolist()})
    config = {"name": "chains", "input": {"text": "text", "id": "id"}, "stages": [{**SEMANTIC, "eps": 0.05}],
              "output": {"dir": str(tmp_path)}}
    ledger = pl.read_parquet(curate.run(config, data=data).run_dir / "removed.parquet")
    ledger = ledger.filter(pl.col("duplicate_of").is_not_null())
    chained = ledger.join(ledger.select("stage", pl.col("id").alias("duplicate_of")), on=["stage", "duplicate_of"])
    assert chained.height > 0, "the corpus must make chains for this test to mean anything"
    walked = with_kept_row(ledger)
    removed_by = dict(zip(ledger["id"], ledger["duplicate_of"], strict=True))
    ends = {}
    for row in removed_by:
        end = removed_by[row]
        while end in removed_by:
            end = removed_by[end]
        ends[row] = end
    assert dict(zip(walked["id"], walked["kept"], strict=True)) == ends
    assert walked["id"].to_list() == ledger["id"].to_list()
