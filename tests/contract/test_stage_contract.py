"""The contract every registered stage must keep (run on each one with its default config)."""

from __future__ import annotations

import polars as pl
import pytest

from curate.engine.invariants import check_partition
from curate.registry import get_stage, stage_names
from curate.schema import LEDGER_SCHEMA
from curate.stages.base import RunContext, StageResult

WORDS = ("energy data model curate train corpus token label noise cluster signal market sport "
         "science world business game team price vote rain city music film").split()


def contract_frame(n: int) -> pl.DataFrame:
    """``n`` rows of short English-like texts with some exact and near duplicates."""
    texts = []
    for i in range(n):
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(6 + i % 9)]
        text = "The " + " ".join(words) + " is here today, and it is fine."
        texts.append(texts[i - 5] if i % 10 == 9 and i >= 5 else text)
    return pl.DataFrame({
        "id": [f"row-{i}" for i in range(n)],
        "text": texts,
        "label": [i % 3 for i in range(n)],
        "confidence": [0.3 + 0.7 * ((i * 37) % 100) / 100 for i in range(n)],
    }, schema={"id": pl.String, "text": pl.String, "label": pl.Int64, "confidence": pl.Float64})


@pytest.fixture(params=stage_names())
def stage_class(request):
    return get_stage(request.param)


def _apply(stage_class, df: pl.DataFrame, tmp_path, seed: int = 0) -> StageResult:
    stage = stage_class(stage_class.Config())
    ctx = RunContext(seed=seed, artifacts_dir=tmp_path / "artifacts")
    return stage.apply(df, ctx)


@pytest.mark.parametrize("n", [0, 1, 60])
def test_partition_reasons_and_no_mutation(stage_class, n, tmp_path):
    df = contract_frame(n)
    before = df.clone()
    result = _apply(stage_class, df, tmp_path)
    assert df.equals(before), "the stage mutated its input"
    check_partition(df["id"], result.kept, result.removed, stage_class.name)
    assert set(LEDGER_SCHEMA) <= set(result.removed.columns)
    assert result.removed["reason"].null_count() == 0, "every removed row needs a reason"
    assert result.removed["stage"].null_count() == 0
    assert set(df.columns) <= set(result.kept.columns), "kept rows must carry every input column"


def test_deterministic_for_a_seed(stage_class, tmp_path):
    df = contract_frame(60)
    first = _apply(stage_class, df, tmp_path / "a", seed=7)
    second = _apply(stage_class, df, tmp_path / "b", seed=7)
    assert first.kept.equals(second.kept)
    assert first.removed.equals(second.removed)


def test_config_is_strict(stage_class):
    with pytest.raises(ValueError):
        stage_class.Config(no_such_parameter=1)
