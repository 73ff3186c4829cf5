"""The CLI: one clear line and exit 2 on errors, tracebacks only with --debug."""

from __future__ import annotations

import json

import polars as pl
import yaml
from typer.testing import CliRunner

from curate.cli import app

runner = CliRunner()


def _pipeline(tmp_path, **overrides):
    data = tmp_path / "d.jsonl"
    pl.DataFrame({"text": ["a", "A", "b"], "id": ["x", "y", "z"]}).write_ndjson(data)
    config = {"name": "cli", "input": {"path": str(data), "id": "id"}, "stages": [{"type": "exact_dedup"}],
              "output": {"dir": str(tmp_path / "runs")}, **overrides}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_prints_funnel_and_writes_run_dir(tmp_path):
    result = runner.invoke(app, ["run", str(_pipeline(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "curate funnel: cli" in result.output and "kept 2 of 3 rows" in result.output
    assert (tmp_path / "runs" / "cli" / "curated.parquet").exists()
    explained = runner.invoke(app, ["explain", str(tmp_path / "runs" / "cli"), "y"])
    assert explained.exit_code == 0
    assert json.loads(explained.output)["duplicate_of"] == "x"


def test_validate_reports_paths_and_exits_2(tmp_path):
    path = _pipeline(tmp_path, stages=[{"type": "exact_dedupp"}, {"type": "exact_dedup", "hash_bits": 7}])
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "stages[0].type: unknown stage type 'exact_dedupp'; did you mean 'exact_dedup'?" in result.output
    assert "stages[1].hash_bits" in result.output
    assert "Traceback" not in result.output
    assert runner.invoke(app, ["validate", str(_pipeline(tmp_path))]).exit_code == 0


def test_input_error_is_one_line_without_traceback_unless_debug(tmp_path):
    path = _pipeline(tmp_path, input={"path": str(tmp_path / "missing.jsonl")})
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "hint:" in result.output and "Traceback" not in result.output
    debug = runner.invoke(app, ["--debug", "run", str(path)])
    assert debug.exit_code != 0 and debug.exception is not None


def test_stages_lists_parameters():
    result = runner.invoke(app, ["stages"])
    assert result.exit_code == 0
    assert "exact_dedup" in result.output and "keep_column" in result.output
