"""The run directory: only curate's own, names that stay inside output.dir, one run at a time, no mixed outputs."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.config import validate_config
from curate.errors import ConfigError, OutputError
from curate.record import read_record
from curate.record.rundir import checkpoint_base

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path, stages=None, name="proj", **output):
    return {"name": "t", "stages": stages or [{"type": "exact_dedup"}],
            "output": {"dir": str(tmp_path / "out"), "name": name, **output}}


def _data(n=50):
    return pl.DataFrame({"text": [f"text number {i % 40}" for i in range(n)]})


def test_a_folder_curate_did_not_make_is_left_alone(tmp_path):
    user = tmp_path / "out" / "proj"
    (user / "stages").mkdir(parents=True)
    (user / "stages" / "important.py").write_text("print('mine')\n")
    (user / "notes.txt").write_text("my notes\n")
    with pytest.raises(OutputError, match="is not a curate run directory"):
        curate.run(_config(tmp_path), data=_data())
    assert sorted(p.name for p in user.rglob("*")) == ["important.py", "notes.txt", "stages"]


def test_prune_deletes_only_names_curate_writes(tmp_path):
    two = [{"type": "exact_dedup"}, {"type": "filter", "expr": "text.len() > 3"}]
    result = curate.run(_config(tmp_path, two), data=_data())
    stages = result.run_dir / "stages"
    mine = [stages / "notes.txt", stages / "02-filter.py", stages / "02-filter.parquet.bak"]
    for path in mine:
        path.write_text("user file\n")
    stale_tmp = stages / ".01-exact_dedup.parquet.abc123.tmp"
    stale_tmp.write_text("left by a killed run")
    curate.run(_config(tmp_path, [{"type": "exact_dedup"}]), data=_data())  # stage 2 is gone: its checkpoint goes
    assert all(path.exists() for path in mine)
    assert not (stages / "02-filter.parquet").exists() and not (stages / "02-filter.done").exists()
    assert not stale_tmp.exists() and (stages / "01-exact_dedup.done").exists()


def test_checkpoint_names():
    assert checkpoint_base("03-my.stage.removed.parquet") == ("03-my.stage", False)
    assert checkpoint_base(".03-filter.done.x1y2z3.tmp") == ("03-filter", True)
    assert checkpoint_base("03-filter.py") == (None, False)
    assert checkpoint_base("notes.parquet") == (None, False)


def test_a_stage_label_with_a_dot_keeps_its_checkpoint(tmp_path):
    stages = [{"type": "exact_dedup", "name": "dedup.v2"}]
    curate.run(_config(tmp_path, stages), data=_data())
    result = curate.run(_config(tmp_path, stages), data=_data())
    assert result.report.funnel[1].resumed is True


@pytest.mark.parametrize("name", ["..", ".", "../../elsewhere", "/tmp/abs", "a/b", ""])
def test_output_name_cannot_leave_output_dir(tmp_path, name):
    with pytest.raises(ConfigError) as info:
        validate_config(_config(tmp_path, name=name))
    assert info.value.issues[0].startswith("output.name:")
    with pytest.raises(ConfigError) as info:
        validate_config({"name": name, "stages": []})  # the pipeline name names the run directory too
    assert info.value.issues[0].startswith("name:")


def test_output_dir_is_a_file(tmp_path):
    (tmp_path / "out").write_text("I am a file")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        curate.run(_config(tmp_path), data=_data())


def test_read_only_output_dir(tmp_path):
    from unittest import mock

    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        if os.geteuid() == 0:  # root writes anywhere: give it the refusal everyone else gets from the kernel
            refusal = PermissionError(errno.EACCES, "Permission denied")
            context = mock.patch("pathlib.Path.mkdir", side_effect=refusal)
        else:
            context = mock.patch.dict(os.environ)
        with context, pytest.raises(OutputError) as info:
            curate.run(_config(tmp_path), data=_data())
        assert "permission denied" in str(info.value) and "output.dir" in info.value.hint
    finally:
        out.chmod(0o700)


def test_disk_full_is_one_line_and_leaves_no_temp_file(tmp_path):
    from unittest import mock

    real_fsync = os.fsync

    def full(fd):
        if "curated.parquet" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    with mock.patch("curate.io.writers.os.fsync", full), pytest.raises(OutputError) as info:
        curate.run(_config(tmp_path), data=_data())
    assert "no space left on the device" in str(info.value) and "\n" not in str(info.value)
    run_dir = tmp_path / "out" / "proj"
    assert not list(run_dir.glob(".*.tmp")) and not (run_dir / "curated.parquet").exists()


def test_a_failed_rerun_leaves_no_outputs_of_the_previous_run(tmp_path):
    first = curate.run(_config(tmp_path), data=_data())
    assert (first.run_dir / "curated.parquet").exists() and (first.run_dir / "manifest.json").exists()
    broken = _config(tmp_path, [{"type": "exact_dedup"}, {"type": "filter", "expr": "missing_column > 1"}])
    with pytest.raises(curate.CurateError):
        curate.run(broken, data=_data())
    left = {p.name for p in first.run_dir.iterdir()}
    assert not left & {"curated.parquet", "removed.parquet", "manifest.json", "report.json", "report.html"}
    assert (first.run_dir / ".curate-run").exists()  # still curate's: the next run may use it


def _script(tmp_path, name: str, expr: str, rows: int) -> Path:
    data = tmp_path / f"{name}.jsonl"
    pl.DataFrame({"text": [f"row {i} " + "word " * (i % 7) for i in range(rows)]}).write_ndjson(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps({"name": "shared", "input": {"path": str(data)},
                                "stages": [{"type": "exact_dedup"}, {"type": "filter", "expr": expr}],
                                "output": {"dir": str(tmp_path / "runs")}}))
    return path


def _curate(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "curate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=kwargs.get("cwd"))


def test_a_second_run_on_a_locked_directory_says_who_holds_it(tmp_path):
    from curate.record.rundir import RunDir

    run_dir = RunDir(tmp_path / "runs" / "shared")
    with run_dir.claim():
        proc = _curate("run", str(_script(tmp_path, "a", "text.len() > 3", 100)))
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err
    assert f"is in use by another curate run (pid {os.getpid()}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_two_runs_at_once_one_wins_the_other_exits_2(tmp_path):
    outcomes = []
    for _ in range(3):
        first = _curate("run", str(_script(tmp_path, "a", "text.len() > 3", 200_000)))
        time.sleep(0.5)
        second = _curate("run", str(_script(tmp_path, "b", "text.len() > 5", 1000)))
        streams = [p.communicate(timeout=300) for p in (first, second)]
        results = [(p.returncode, err) for p, (_, err) in zip((first, second), streams, strict=True)]
        outcomes.append([code for code, _ in results])
        for code, err in results:
            assert code in (0, 2) and "Traceback" not in err and "internal error" not in err, err
            if code == 2:
                assert "is in use by another curate run (pid" in err
        assert 0 in outcomes[-1]
    assert any(codes.count(2) == 1 for codes in outcomes), outcomes
    # the winner's outputs are whole and its own
    report = read_record(tmp_path / "runs" / "shared")
    assert report.totals.rows_in in (200_000, 1000)


def test_input_that_cannot_be_read_leaves_the_last_run_untouched(tmp_path):
    first = curate.run(_config(tmp_path), data=_data())
    before = {p.name: p.read_bytes() for p in first.run_dir.iterdir() if p.is_file() and p.name != ".curate.lock"}
    typo = {**_config(tmp_path), "input": {"path": str(tmp_path / "no-such-file.csv")}}
    with pytest.raises(curate.InputError, match="does not exist"):
        curate.run(typo)
    after = {p.name: p.read_bytes() for p in first.run_dir.iterdir() if p.is_file() and p.name != ".curate.lock"}
    assert after == before
