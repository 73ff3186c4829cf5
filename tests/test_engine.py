"""The local engine: run directory, invariant, resume, invalidation, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.engine.local import LocalEngine
from curate.errors import StageError
from curate.record import read_record
from curate.record.manifest import Manifest
from curate.registry import _STAGES
from curate.schema import make_ledger
from curate.stages.base import Stage, StageConfig, StageResult

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path, stages, name="t"):
    return {"name": name, "stages": stages, "output": {"dir": str(tmp_path / "runs")}}


def _frame(n=200):
    return pl.DataFrame({"text": [f"document number {i % 150}" for i in range(n)], "n": list(range(n))})


def test_run_directory_layout_and_report(tmp_path):
    result = curate.run(_config(tmp_path, [{"type": "exact_dedup"}, {"type": "exact_dedup", "name": "again"}]), data=_frame())
    root = result.run_dir
    for name in ["curated.parquet", "removed.parquet", "manifest.json", "report.json", "stages/00-input.parquet",
                 "stages/01-exact_dedup.parquet", "stages/01-exact_dedup.done", "stages/02-again.done"]:
        assert (root / name).exists(), name
    report = read_record(root)
    assert report == result.report and report.schema_version == 2
    assert [f.stage for f in report.funnel] == ["input", "exact_dedup", "again"]
    assert report.funnel[1].rows_in == 200 and report.funnel[1].rows_out == 150
    assert report.funnel[1].cpu_seconds >= 0 and report.funnel[1].seconds >= 0
    manifest = Manifest.model_validate_json((root / "manifest.json").read_text())
    assert manifest.config_hash and manifest.input.content_hash and manifest.versions["polars"]
    ledger = pl.read_parquet(root / "removed.parquet")
    assert ledger.height == 50 and set(ledger["reason"]) == {"exact_duplicate"}
    assert pl.read_parquet(root / "curated.parquet")["n"].to_list() == list(range(150))


def test_rerun_resumes_and_config_change_invalidates(tmp_path):
    stages = [{"type": "exact_dedup"}, {"type": "exact_dedup", "name": "second", "keep": "longest"}]
    first = curate.run(_config(tmp_path, stages), data=_frame())
    assert [f.resumed for f in first.report.stages] == [False, False]
    again = curate.run(_config(tmp_path, stages), data=_frame())
    assert [f.resumed for f in again.report.stages] == [True, True]
    assert again.curated.equals(first.curated) and again.removed.equals(first.removed)
    stages[1]["hash_bits"] = 128
    changed = curate.run(_config(tmp_path, stages), data=_frame())
    assert [f.resumed for f in changed.report.stages] == [True, False]
    stages[0]["normalize"] = {"lowercase": False}
    changed = curate.run(_config(tmp_path, stages), data=_frame())
    assert [f.resumed for f in changed.report.stages] == [False, False]
    other_input = curate.run(_config(tmp_path, stages), data=_frame(201))
    assert [f.resumed for f in other_input.report.stages] == [False, False]


def test_removed_stage_checkpoints_are_pruned(tmp_path):
    curate.run(_config(tmp_path, [{"type": "exact_dedup"}, {"type": "exact_dedup", "name": "b"}]), data=_frame())
    result = curate.run(_config(tmp_path, [{"type": "exact_dedup"}]), data=_frame())
    assert sorted(p.name for p in (result.run_dir / "stages").iterdir()) == [
        "00-input.parquet", "01-exact_dedup.done", "01-exact_dedup.parquet", "01-exact_dedup.removed.parquet"]


class LosingConfig(StageConfig):
    type: str = "losing"


class LosingStage(Stage):
    """Breaks the contract: drops a row without a ledger entry."""

    name = "losing"
    Config = LosingConfig

    def apply(self, df, ctx):
        return StageResult(kept=df.slice(1), removed=make_ledger([], self.name, "x"))


def test_a_stage_that_loses_a_row_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setitem(_STAGES, "losing", LosingStage)
    config = curate.PipelineConfig(stages=[LosingConfig()], output={"dir": str(tmp_path)})
    with pytest.raises(StageError, match=r"stage 'losing' broke the no-loss invariant: 199 kept \+ 0 removed != 200 in"):
        LocalEngine(config).run(_frame())


SLOW_STAGE_SCRIPT = textwrap.dedent('''
    import os, sys, time
    from typing import Literal
    import curate
    from curate.registry import register
    from curate.stages.base import Stage, StageConfig

    class NapConfig(StageConfig):
        type: Literal["nap"] = "nap"

    @register("nap")
    class Nap(Stage):
        Config = NapConfig

        def apply(self, df, ctx):
            if os.environ.get("CURATE_TEST_HANG"):
                open(os.environ["CURATE_TEST_HANG"], "w").close()
                time.sleep(600)
            return curate.registry.get_stage("exact_dedup")(curate.registry.get_stage("exact_dedup").Config()).apply(df, ctx)

    out = sys.argv[1]
    curate.run({"name": "k", "input": {"path": sys.argv[2]},
                "stages": [{"type": "exact_dedup", "normalize": {"lowercase": False}},
                           {"type": "heuristic_filter", "preset": "short_text"},  # adds q_* columns
                           {"type": "filter", "expr": "text.len() > 0"},  # keeps its input as it is
                           {"type": "nap"},
                           {"type": "exact_dedup", "name": "last", "normalize": {"strip_punctuation": True}}],
                "output": {"dir": out, "checkpoints": sys.argv[3], "hold_text": sys.argv[4]}})
''')


@pytest.mark.slow
@pytest.mark.parametrize(("checkpoints", "hold_text"), [("full", "memory"), ("ids", "memory"), ("ids", "disk")])
def test_sigkill_mid_stage_then_rerun_is_byte_identical(tmp_path, checkpoints, hold_text):
    data = tmp_path / "d.jsonl"
    pl.DataFrame({"text": [f"Doc {i % 300}{'!' * (i % 3)}" for i in range(3000)]}).write_ndjson(data)
    script = tmp_path / "run.py"
    script.write_text(SLOW_STAGE_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(script), str(tmp_path / "clean"), str(data), "full", hold_text], check=True, env=env)
    marker = tmp_path / "hanging"
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "killed"), str(data), checkpoints, hold_text],
                            env={**env, "CURATE_TEST_HANG": str(marker)})
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the stage never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = tmp_path / "killed" / "k"
    stages = killed / "stages"
    assert (stages / "03-filter.done").exists() and not (stages / "04-nap.done").exists()
    assert not (killed / "curated.parquet").exists()
    assert not (stages / "03-filter.parquet").exists()  # it kept its input unchanged: no rows written
    written = pl.read_parquet(stages / "02-heuristic_filter.parquet")
    added = [c for c in written.columns if c.startswith("q_")]
    assert added  # the stage's own columns are in its checkpoint either way
    if checkpoints == "ids":  # only the ids (in order) and what the stage added
        assert written.columns == ["id", *added]
    else:
        assert "text" in written.columns
    subprocess.run([sys.executable, str(script), str(tmp_path / "killed"), str(data), checkpoints, hold_text], check=True, env=env)
    report = read_record(killed)
    assert [f.resumed for f in report.stages] == [True, True, True, False, False]
    for name in ["curated.parquet", "removed.parquet"]:
        assert (killed / name).read_bytes() == (tmp_path / "clean" / "k" / name).read_bytes(), name


def test_explain(tmp_path):
    df = pl.DataFrame({"id": ["a", "b", "c"], "text": ["Same text", "same  TEXT", "other"]})
    result = curate.run({**_config(tmp_path, [{"type": "exact_dedup"}]), "input": {"id": "id"}}, data=df.with_columns())
    from curate.explain import explain_row

    info = explain_row(result.run_dir, "b")
    assert info["status"] == "removed" and info["reason"] == "exact_duplicate" and info["duplicate_of"] == "a"
    assert info["row"]["text"] == "same  TEXT" and info["duplicate_of_row"]["text"] == "Same text"
    assert explain_row(result.run_dir, "c")["status"] == "kept"
    with pytest.raises(curate.InputError, match="id 'zzz' is not in run"):
        explain_row(result.run_dir, "zzz")


def test_numpy_stats_resume_as_the_numbers_they_were(tmp_path):
    """A stage's numpy-typed stats (e.g. an np.int64 count) read back from its checkpoint as numbers."""
    import numpy as np

    from curate.io.writers import write_json

    write_json({"count": np.int64(3), "share": np.float32(0.5), "rows": np.arange(2)}, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == {"count": 3, "share": 0.5, "rows": [0, 1]}


@pytest.mark.parametrize("change", [{}, {"limit": 50}, {"text": "other"}])
def test_a_parquet_file_curate_changes_on_reading_has_the_changed_rows_as_input_checkpoint(tmp_path, change):
    """Made ids (no input.id), a limit, a renamed text column: the checkpoint holds the rows the stages saw."""
    frame = pl.DataFrame({"other": [f"text {i % 40}" for i in range(60)], "n": list(range(60))})
    if "text" not in change:
        frame = frame.rename({"other": "text"})
    path = tmp_path / "in.parquet"
    frame.write_parquet(path)
    result = curate.run({**_config(tmp_path, [{"type": "exact_dedup"}]), "input": {"path": str(path), **change}})
    written = pl.read_parquet(result.run_dir / "stages" / "00-input.parquet")
    assert written.columns == ["id", "text", "n"] and written.height == change.get("limit", 60)
    assert written["text"].to_list() == frame[:written.height, 0].to_list()
    assert set(written["id"]) == set(result.curated["id"]) | set(result.removed["id"])


def test_the_input_hash_is_xxh3_of_the_frames_ipc_bytes():
    """The checkpoint key's input hash, streamed into the hasher, is what it was when the IPC bytes were buffered
    (checkpoints of earlier runs of up to HASH_ROWS rows stay valid); larger frames are hashed a slice at a
    time, the same however they are chunked."""
    import io

    import xxhash

    from curate.engine.steps.read import HASH_ROWS, frame_hash

    frame = pl.DataFrame({"id": ["a", "b", None], "text": ["x" * 70_000, "é", ""], "v": [[1.0, 2.0], None, [3.0]]})
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="uncompressed")
    assert frame_hash(frame) == xxhash.xxh3_128_hexdigest(buffer.getvalue())
    assert frame_hash(frame) != frame_hash(frame.with_columns(pl.col("text").str.replace("é", "e")))

    large = pl.DataFrame({"id": [str(i) for i in range(2 * HASH_ROWS + 5)], "text": [f"text {i}" for i in range(2 * HASH_ROWS + 5)]})
    chunked = pl.concat([large.slice(0, 7), large.slice(7, HASH_ROWS), large.slice(HASH_ROWS + 7)], rechunk=False)
    assert chunked.n_chunks() == 3 and frame_hash(chunked) == frame_hash(large)
    slices = io.BytesIO()
    for start in range(0, large.height, HASH_ROWS):
        large.slice(start, HASH_ROWS).rechunk().write_ipc(slices, compression="uncompressed")
    assert frame_hash(large) == xxhash.xxh3_128_hexdigest(slices.getvalue())
    assert frame_hash(large) != frame_hash(large.with_columns(pl.col("text").str.replace("^text 32770$", "edited")))
