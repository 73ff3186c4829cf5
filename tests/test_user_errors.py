"""Every user error the hostile-user probes found: exit code 2, one line naming the problem and the fix."""

from __future__ import annotations

import errno
import json
import pathlib
from unittest import mock

import polars as pl
import yaml
from typer.testing import CliRunner

from curate.cli import app

runner = CliRunner()


def _pipeline(tmp_path, input_cfg: dict | None = None, **overrides):
    data = tmp_path / "d.jsonl"
    pl.DataFrame({"text": ["one text", "two texts", "one text"]}).write_ndjson(data)
    config = {"name": "p", "input": input_cfg or {"path": str(data)}, "stages": [{"type": "exact_dedup"}],
              "output": {"dir": str(tmp_path / "runs")}, **overrides}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert len(text.splitlines()) == 1 and text.startswith("error:"), text
    assert "internal error" not in text and "Traceback" not in text
    for needle in needles:
        assert needle in text, text
    assert "(hint:" in text
    return text


def test_output_dir_is_a_file(tmp_path):
    (tmp_path / "runs").write_text("a file")
    _one_line_error(runner.invoke(app, ["run", str(_pipeline(tmp_path))]), "is a file, not a folder")


def test_output_dir_is_someone_elses_folder(tmp_path):
    (tmp_path / "runs" / "p").mkdir(parents=True)
    (tmp_path / "runs" / "p" / "notes.txt").write_text("mine")
    _one_line_error(runner.invoke(app, ["run", str(_pipeline(tmp_path))]), "is not a curate run directory")


def test_output_disk_full(tmp_path):
    with mock.patch("curate.io.writers.os.fsync", side_effect=OSError(errno.ENOSPC, "No space left on device")):
        _one_line_error(runner.invoke(app, ["run", str(_pipeline(tmp_path))]), "no space left on the device")


def test_unreadable_input(tmp_path):
    path = _pipeline(tmp_path)
    refusal = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "d.jsonl"))
    with mock.patch("pathlib.Path.read_bytes", side_effect=refusal):  # root can read anything: simulate the refusal
        _one_line_error(runner.invoke(app, ["run", str(path)]), "cannot be read: permission denied")


def test_unreadable_and_truncated_parquet_input(tmp_path):
    """A Parquet file is read where it lies (mapped, not copied into memory): the same errors as other files."""
    data = tmp_path / "d.parquet"
    pl.DataFrame({"text": ["one text", "two texts"] * 50}).write_parquet(data)
    path = _pipeline(tmp_path, {"path": str(data)})
    real_open = pathlib.Path.open

    def refuse(self, *args, **kwargs):
        if self == data:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    with mock.patch("pathlib.Path.open", refuse):  # root can read anything: simulate the refusal
        _one_line_error(runner.invoke(app, ["run", str(path)]), "cannot be read: permission denied")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    _one_line_error(runner.invoke(app, ["run", str(path)]), "not a readable Parquet file")


def test_folder_without_data_files_and_format_jsonl(tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "notes.md").write_text("not data\n")
    result = runner.invoke(app, ["run", str(_pipeline(tmp_path, {"path": str(folder), "format": "jsonl"}))])
    _one_line_error(result, "is a folder with no jsonl files")


def test_list_typed_text_column(tmp_path):
    data = tmp_path / "lists.jsonl"
    data.write_text('{"text": ["a", "b"]}\n')
    _one_line_error(runner.invoke(app, ["run", str(_pipeline(tmp_path, {"path": str(data)}))]), "holds lists")


def test_deeply_nested_filter_expression(tmp_path):
    path = _pipeline(tmp_path, stages=[{"type": "filter", "expr": "not " * 5000 + "text.len() > 1"}])
    for command in ("validate", "run"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 2 and "too large or too deeply nested" in result.output, result.output
        assert "RecursionError" not in result.output and "internal error" not in result.output


def test_validate_reports_a_missing_input_path(tmp_path):
    path = _pipeline(tmp_path, {"path": str(tmp_path / "nowhere.csv")})
    _one_line_error(runner.invoke(app, ["validate", str(path)]), "nowhere.csv does not exist")
    test_missing = _pipeline(tmp_path, proxy_train={"test": {"input": {"path": str(tmp_path / "test.csv")}}})
    _one_line_error(runner.invoke(app, ["validate", str(test_missing)]), "test.csv does not exist")


def test_validate_rejects_min_above_max(tmp_path):
    path = _pipeline(tmp_path, stages=[{"type": "heuristic_filter", "rules": {"gopher_word_count": {"min": 100, "max": 10}}}])
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "min 100 above max 10" in result.output


def test_run_directory_names_cannot_escape(tmp_path):
    for name in ("..", "../../elsewhere", "/tmp/x"):
        result = runner.invoke(app, ["validate", str(_pipeline(tmp_path, output={"dir": "runs", "name": name}))])
        assert result.exit_code == 2 and "output.name:" in result.output, result.output


def test_quarantine_summary_is_in_the_report(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text('text\nfine\n"never closed\nalso fine\n')
    result = runner.invoke(app, ["run", str(_pipeline(tmp_path, {"path": str(data), "on_bad_rows": "quarantine"}))])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "runs" / "p" / "report.json").read_text())
    assert report["input"]["quarantined"] == 1 and report["input"]["lines"]["rows"] == 2
