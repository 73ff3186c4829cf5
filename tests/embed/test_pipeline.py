"""semantic_dedup through the engine, and the demo's one-line back-end switch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import yaml

import curate
from curate.config import validate_config

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "demo.yaml"


def test_demo_uses_static_and_switches_to_minilm_with_one_line():
    """The demo's semantic_dedup embeds with the static back-end (its default, or said so); one line switches it."""
    raw = yaml.safe_load(DEMO.read_text())
    position = next(i for i, s in enumerate(raw["stages"]) if s["type"] == "semantic_dedup")
    assert validate_config(raw).stages[position].embed.embedder == "static"
    raw["stages"][position]["embed"] = {**raw["stages"][position].get("embed", {}), "embedder": "sentence-transformers"}
    assert validate_config(raw).stages[position].embed.embedder == "sentence-transformers"


def test_run_ledger_names_semantic_duplicates(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    base = rng.normal(size=(30, 8))
    vectors = np.vstack([base, base[:5] + 0.001]).astype(np.float32)
    data = pl.DataFrame({"id": [f"r{i}" for i in range(35)], "text": [f"text {i}" for i in range(35)],
                         "vec": vectors.tolist()})
    config = {"name": "sem", "seed": 3, "output": {"dir": str(tmp_path / "runs")}, "input": {"id": "id"},
              "stages": [{"type": "semantic_dedup", "embed": {"embedder": "column", "column": "vec"}, "eps": 0.01}]}
    result = curate.run(config, data=data)
    removed = result.removed
    partner = {f"r{i}": f"r{30 + i}" for i in range(5)} | {f"r{30 + i}": f"r{i}" for i in range(5)}
    assert removed.height == 5
    assert all(partner[a] == b for a, b in removed.select("id", "duplicate_of").rows())
    assert set(removed["reason"]) == {"semantic_duplicate"} and removed["cluster_id"].null_count() == 0
    assert result.curated.height == 30
