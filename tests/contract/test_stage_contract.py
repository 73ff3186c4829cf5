"""The contract every stage must keep, checked on every registered stage (and on the keyed stage the
test suite defines, tests/contract/keyed_example.py), with its default config and its own examples.

What an engine relies on: the partition of the input into kept and ledger rows, a reason for every
removal, determinism for a seed, the same result on the whole frame and on the frame split into
blocks through the stage's phases (what the Ray engine does), JSON-ready stats, and no I/O or
printing outside what the run context gives.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from curate.engine.invariants import check_partition
from curate.registry import get_stage, stage_names
from curate.schema import LEDGER_SCHEMA
from curate.stages.base import KeyedStage, RunContext, StageResult, map_in_blocks, run_in_blocks
from tests.contract.keyed_example import CapPerKey

WORDS = ("energy data model curate train corpus token label noise cluster signal market sport "
         "science world business game team price vote rain city music film").split()

STAGES = {**{name: get_stage(name) for name in stage_names()}, CapPerKey.name: CapPerKey}
CONFIGS = [(name, {}) for name in STAGES] + [
    (name, example) for name, stage in STAGES.items() for example in stage.examples]
SPLITTABLE = [(name, params) for name, params in CONFIGS if STAGES[name].kind != "global"]


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


def _id(value) -> str:
    name, params = value if isinstance(value, tuple) else (value, {})
    return name + ("" if not params else "-" + json.dumps(params, sort_keys=True).replace(" ", ""))


@pytest.fixture(params=list(STAGES), ids=list(STAGES))
def stage_class(request):
    return STAGES[request.param]


def _make(name: str, params: dict):
    cls = STAGES[name]
    return cls(cls.Config(**params))


@pytest.fixture(params=CONFIGS, ids=[_id(c) for c in CONFIGS])
def stage(request):
    return _make(*request.param)


@pytest.fixture(params=SPLITTABLE, ids=[_id(c) for c in SPLITTABLE])
def splittable(request):
    """The ``map`` and keyed stages (a global one runs on the whole frame on every engine)."""
    return _make(*request.param)


def _ctx(tmp_path, seed: int = 0) -> RunContext:
    return RunContext(seed=seed, artifacts_dir=tmp_path / "artifacts")


def _apply(stage, df: pl.DataFrame, tmp_path, seed: int = 0) -> StageResult:
    return stage.apply(df, _ctx(tmp_path, seed))


def _comparable(stats: dict) -> dict:
    """Stats without wall times and cache hits (they differ between two runs of the same thing)."""
    return {k: v for k, v in stats.items() if not k.endswith(("_seconds", "_cached"))}


@pytest.mark.parametrize("n", [0, 1, 60])
def test_partition_reasons_and_no_mutation(stage_class, n, tmp_path):
    df = contract_frame(n)
    before = df.clone()
    result = _apply(stage_class(stage_class.Config()), df, tmp_path)
    assert df.equals(before), "the stage mutated its input"
    check_partition(df["id"], result.kept, result.removed, stage_class.name)
    assert set(LEDGER_SCHEMA) <= set(result.removed.columns)
    assert result.removed["reason"].null_count() == 0, "every removed row needs a reason"
    assert result.removed["stage"].null_count() == 0
    assert set(df.columns) <= set(result.kept.columns), "kept rows must carry every input column"


def test_every_config_keeps_the_contract(stage, tmp_path, capsys, monkeypatch):
    """Default and example configs: partition, ledger labelled with the stage's label, JSON stats, only
    declared artefacts in the run context's folder, nothing written elsewhere, nothing printed."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    df = contract_frame(60)
    named = type(stage)(stage.config.model_copy(update={"name": "my label"}))
    result = _apply(named, df, tmp_path)
    check_partition(df["id"], result.kept, result.removed, stage.name)
    assert set(result.removed["stage"]) <= {"my label"}, "ledger.stage must be the stage's label"
    assert result.removed["reason"].null_count() == 0
    assert set(df.columns) <= set(result.kept.columns)
    assert not [c for c in result.kept.columns if c.startswith("__curate_")], "working columns leaked into kept"
    json.dumps(result.stats, allow_nan=False)  # the report writes them as they are
    written = {p.name for p in (tmp_path / "artifacts").iterdir()} if (tmp_path / "artifacts").exists() else set()
    assert written <= set(stage.artifacts), f"undeclared artefacts {written - set(stage.artifacts)}"
    assert not list(workdir.iterdir()), "the stage wrote files outside the run context's folders"
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", "a stage must not print"


def test_blocks_give_the_whole_frames_result(splittable, tmp_path):
    """What the Ray engine relies on: a ``map`` stage on blocks, or a keyed stage's phases on blocks with
    the keys split over partitions and everything shuffled, give the result on the whole frame."""
    stage = splittable
    df = contract_frame(60)
    whole = stage.apply(df, _ctx(tmp_path / "whole"))
    if stage.kind == "map":
        split = map_in_blocks(stage, df, _ctx(tmp_path / "blocks"), blocks=4)
    else:
        assert isinstance(stage, KeyedStage)
        split = run_in_blocks(stage, df, _ctx(tmp_path / "blocks"), blocks=4, partitions=3, shuffle_seed=11)
    assert split.kept.equals(whole.kept)
    assert split.removed.equals(whole.removed)
    assert _comparable(split.stats) == _comparable(whole.stats)
    for name in stage.artifacts:
        path = tmp_path / "whole" / "artifacts" / name
        if path.is_file():
            assert pl.read_parquet(tmp_path / "blocks" / "artifacts" / name).equals(pl.read_parquet(path)), name


def test_deterministic_for_a_seed(stage_class, tmp_path):
    df = contract_frame(60)
    stage = stage_class(stage_class.Config())
    first = _apply(stage, df, tmp_path / "a", seed=7)
    second = _apply(stage, df, tmp_path / "b", seed=7)
    assert first.kept.equals(second.kept)
    assert first.removed.equals(second.removed)


def test_every_stage_shows_examples(stage_class):
    assert stage_class.examples, f"{stage_class.__name__} has no examples: add non-default configs worth testing"
    for example in stage_class.examples:
        assert example != {} and "type" not in example
        stage_class.Config(**example)


def test_config_is_strict(stage_class):
    with pytest.raises(ValueError):
        stage_class.Config(no_such_parameter=1)


def test_the_adding_a_stage_page_shows_a_stage_that_works(tmp_path):
    """docs/adding_a_stage.md's file, run as written, registers a stage that decides as the suite's own."""
    import importlib.util
    import re
    import sys
    from pathlib import Path

    from curate.registry import unregister

    page = (Path(__file__).resolve().parents[2] / "docs" / "adding_a_stage.md").read_text(encoding="utf-8")
    source = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    (tmp_path / "cap_per_key.py").write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("cap_per_key_from_the_docs", tmp_path / "cap_per_key.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        documented = get_stage("cap_per_key")
        assert documented is module.CapPerKey and documented.kind == "shuffle"
        df = contract_frame(60)
        for params in ({}, *CapPerKey.examples):
            ours = CapPerKey(CapPerKey.Config(**params)).apply(df, _ctx(tmp_path / "ours"))
            theirs = documented(documented.Config(**params)).apply(df, _ctx(tmp_path / "docs"))
            assert theirs.kept.equals(ours.kept) and theirs.stats == ours.stats
            assert theirs.removed.drop("stage").equals(ours.removed.drop("stage"))
    finally:
        unregister("cap_per_key")
        sys.modules.pop(spec.name, None)
