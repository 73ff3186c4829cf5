"""The run record: one typed report.json, its JSON Schema, read back by every reader; no reader imports an engine."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.docs import SCHEMA_PATH, render_schema
from curate.record import SCHEMA_VERSION, RunRecord, read_record

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "curate"


@pytest.fixture(scope="module")
def guarded_run(tmp_path_factory):
    """A real run with a removing stage, the guard, a budget and proxy training."""
    pytest.importorskip("sklearn")
    pytest.importorskip("codecarbon")
    words = "match goal team score league coach software chip phone internet market stock bank price".split()
    rng = __import__("numpy").random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    texts = [" ".join(rng.choice(words[5 * k:5 * k + 5], 6)) + f" {i}" for i, k in enumerate(labels)]
    frame = pl.DataFrame({"id": [f"r{i}" for i in range(400)], "text": texts, "label": labels})
    frame = pl.concat([frame, frame.head(40).with_columns(pl.format("d{}", pl.col("id")).alias("id"))])
    out = tmp_path_factory.mktemp("runs")
    config = {"name": "rec", "input": {"label": "label", "id": "id"},
              "stages": [{"type": "exact_dedup"}, {"type": "heuristic_filter", "preset": "short_text"}],
              "energy": {"measure_power_secs": 0.1}, "budget": {"kwh": 1.0},
              "proxy_train": {"model": "tfidf", "seeds": 2, "min_fit_seconds": 0.0, "bootstrap": 100},
              "output": {"dir": str(out)}}
    return curate.run(config, data=frame)


def test_the_json_schema_is_up_to_date():
    assert SCHEMA_PATH.exists(), "run `python -m curate.docs`"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), \
        "docs/report.schema.json is stale: run `python -m curate.docs`"


def test_report_json_is_the_record_the_run_returned_and_matches_the_schema(guarded_run):
    jsonschema = pytest.importorskip("jsonschema")
    raw = json.loads((guarded_run.run_dir / "report.json").read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(raw, json.loads(SCHEMA_PATH.read_text()))
    record = read_record(guarded_run.run_dir)
    assert isinstance(guarded_run.report, RunRecord) and record == guarded_run.report
    # every section a run with the guard, a budget and proxy training produces is there, typed
    assert record.guard is not None and record.proxy is not None and record.budget is not None
    assert record.splits.pool.rows == record.proxy.full.rows
    assert record.budget.used_kwh > 0 and record.budget.exceeded is None
    assert [row.type for row in record.stages] == ["exact_dedup", "heuristic_filter"]
    assert record.stage("exact_dedup").guard == record.guard.stages[0]
    cut = next(t for t in record.stage("heuristic_filter").thresholds if t.column == "q_words")
    assert (cut.value, cut.removes, cut.reason) == (3.0, "below", "gopher_word_count")
    assert record.stage("heuristic_filter").artifacts == ["artifacts/02-heuristic_filter/heuristic_scores.parquet"]


def test_a_record_that_breaks_the_schema_is_refused_by_the_schema_too(guarded_run):
    jsonschema = pytest.importorskip("jsonschema")
    raw = json.loads((guarded_run.run_dir / "report.json").read_text())
    raw["funnel"][1]["energy"]["kwh_per_fit"] = raw["funnel"][1]["energy"].pop("kwh")  # the key adapt.py guessed at
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, json.loads(SCHEMA_PATH.read_text()))


def test_explain_reads_the_stage_from_the_record(guarded_run):
    from curate.explain import explain_row

    ledger = guarded_run.removed
    row = ledger.filter(pl.col("stage") == "heuristic_filter").row(0, named=True)
    info = explain_row(guarded_run.run_dir, row["id"])
    assert info["removed_by"]["type"] == "heuristic_filter"
    assert info["removed_by"]["thresholds"] and all(t["reason"] == row["reason"] for t in info["removed_by"]["thresholds"])
    dup = ledger.filter(pl.col("stage") == "exact_dedup").row(0, named=True)
    assert explain_row(guarded_run.run_dir, dup["id"])["removed_by"]["guard"]["stage"] == "exact_dedup"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_record_and_audit_never_import_an_engine():
    readers = [*(PACKAGE / "record").rglob("*.py"), *(PACKAGE / "audit").rglob("*.py"), PACKAGE / "explain.py"]
    arrows = {f"{p.relative_to(ROOT)} -> {name}" for p in readers for name in _imports(p)
              if name == "curate.engine" or name.startswith("curate.engine.")}
    assert not arrows
    # nor through what they import (beyond what `import curate` loads: the API's RunObserver hook)
    code = ("import sys, curate; before = set(sys.modules); "
            "import curate.record, curate.audit, curate.audit.html, curate.audit.run, curate.explain; "
            "print(sorted(m for m in set(sys.modules) - before if m.startswith('curate.engine')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert loaded.strip() == "[]"


def test_only_the_record_reads_report_json():
    """No module looks figures up in report.json as a raw dict: it is parsed in one place, into the models."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if '.get("kwh' in text or "curate.report.adapt" in _imports(path):
            offenders.append(f"{path.relative_to(ROOT)}: guesses energy keys")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in {"json.loads", "json.load"}:
                argument = ast.unparse(node.args[0]) if node.args else ""
                if "report" in argument and path != PACKAGE / "record" / "io.py":
                    offenders.append(f"{path.relative_to(ROOT)}: {ast.unparse(node)}")
    assert not offenders
    assert not (PACKAGE / "report").exists()
