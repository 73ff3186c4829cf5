"""proxy_train in a pipeline: the test split, the no-loss invariant, the budget, the report, the CLI."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

import curate
from curate.cli import app

from .conftest import make_frame

pytest.importorskip("sklearn")
pytest.importorskip("codecarbon")


def _frame() -> pl.DataFrame:
    frame = make_frame(400, seed=2).drop("vec")
    dups = frame.head(40).with_columns(pl.format("d{}", pl.col("id")).alias("id"))
    return pl.concat([frame, dups])


def _config(tmp_path, **extra) -> dict:
    return {"name": "p", "input": {"label": "label", "id": "id"},
            "stages": [{"type": "exact_dedup", "name": "dedup_a"}, {"type": "exact_dedup", "name": "dedup_b"}],
            "energy": {"measure_power_secs": 0.1},
            "proxy_train": {"model": "tfidf", "seeds": 2, "min_fit_seconds": 0.0, "bootstrap": 200},
            "output": {"dir": str(tmp_path)}, **extra}


def _ids(df: pl.DataFrame) -> list[str]:
    return df["id"].to_list()


def test_split_before_curation_and_nothing_lost(tmp_path):
    frame = _frame()
    result = curate.run(_config(tmp_path), data=frame)
    test = pl.read_parquet(result.run_dir / "test.parquet")
    validation = pl.read_parquet(result.run_dir / "validation.parquet")
    assert test.height == pytest.approx(0.2 * frame.height, abs=3)
    assert validation.height == pytest.approx(0.15 * (frame.height - test.height), abs=3)
    assert sorted(_ids(result.curated) + _ids(result.removed) + _ids(test) + _ids(validation)) == sorted(_ids(frame))
    assert set(_ids(test)).isdisjoint(_ids(result.curated)) and set(_ids(validation)).isdisjoint(_ids(result.curated))
    assert set(_ids(validation)).isdisjoint(_ids(test))
    report = result.report
    assert report.totals.rows_test == test.height
    assert report.totals.rows_validation == validation.height
    assert report.splits.pool.rows == frame.height - test.height - validation.height
    # a test row whose text is in the training pool is decontaminated, and counted
    planted = int(test["contamination"].is_not_null().sum())
    assert planted > 0
    assert report.proxy.test.decontaminated == planted
    assert report.proxy.test.rows_used == test.height - planted
    for row in report.stages:
        assert row.energy.kwh > 0 and row.energy.method in {"measured", "estimated"}
    assert report.totals.curation_energy.kwh > 0
    proxy = report.proxy
    assert proxy.full.rows == frame.height - test.height - validation.height
    assert proxy.curated.rows == result.curated.height == proxy.random.rows
    for key in ("energy_saved_pct", "macro_f1_delta", "beats_random"):
        assert getattr(proxy, key) is not None
    # curation energy: every stage's plus the guard's judging, the same figure in the totals and the proof
    assert proxy.curation_energy == report.totals.curation_energy
    parts = [row.energy.kwh for row in report.stages] + [report.guard.energy.kwh]
    assert report.totals.curation_energy.kwh == pytest.approx(sum(parts))


def test_the_budget_stops_the_run_cleanly_and_loses_nothing(tmp_path):
    frame = _frame()
    config = _config(tmp_path, budget={"kwh": 1e-12})
    result = curate.run(config, data=frame)
    report = result.report
    assert report.stopped.startswith("carbon budget exceeded after stage 'dedup_a'")
    assert [row.stage for row in report.funnel] == ["input", "dedup_a"]
    assert report.proxy is None and report.budget.exceeded == report.stopped
    curated = pl.read_parquet(result.run_dir / "curated.parquet")
    removed = pl.read_parquet(result.run_dir / "removed.parquet")
    test = pl.read_parquet(result.run_dir / "test.parquet")
    validation = pl.read_parquet(result.run_dir / "validation.parquet")
    assert curated.height > 0 and removed.height > 0
    assert sorted(_ids(curated) + _ids(removed) + _ids(test) + _ids(validation)) == sorted(_ids(frame))
    assert (result.run_dir / "stages" / "01-dedup_a.done").exists()
    assert not (result.run_dir / "stages" / "02-dedup_b.done").exists()
    # raising the budget resumes from the completed stage and finishes the run
    done = curate.run(_config(tmp_path, budget={"kwh": 1.0}), data=frame)
    assert done.report.stopped is None and done.report.funnel[1].resumed is True
    assert done.report.proxy is not None


def test_cli_reads_a_separate_test_file_and_prints_the_proxy_summary_last(tmp_path):
    train, test = make_frame(300, seed=3).drop("vec"), make_frame(90, seed=4, prefix="t").drop("vec")
    train.write_csv(tmp_path / "train.csv")
    test.write_csv(tmp_path / "test.csv")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"""
name: cli
input: {{path: {tmp_path / 'train.csv'}, label: label, id: id}}
stages: [{{type: exact_dedup}}]
proxy_train:
  model: tfidf
  seeds: 1
  min_fit_seconds: 0
  bootstrap: 100
  test: {{input: {{path: {tmp_path / 'test.csv'}, label: label, id: id}}}}
output: {{dir: {tmp_path / 'runs'}}}
""")
    result = CliRunner().invoke(app, ["run", str(pipeline)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert result.output.index("proxy training") > result.output.index("curate funnel")
    assert result.output.index("break-even") > result.output.index("proxy training")
    assert result.output.index("hours and money saved") > result.output.index("break-even")
    assert result.output.rstrip().endswith("this run's grid")  # the what-if table of grids comes last
    saved = pl.read_parquet(tmp_path / "runs" / "cli" / "test.parquet")
    assert saved.height == 90 and saved["id"].to_list()[0] == "t0"


def test_cli_names_a_test_label_missing_from_training(tmp_path):
    train, test = make_frame(100, seed=3).drop("vec"), make_frame(30, seed=4, prefix="t").drop("vec")
    train.write_csv(tmp_path / "train.csv")
    test.with_columns(pl.lit("weather").alias("label")).write_csv(tmp_path / "test.csv")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"""
name: cli
input: {{path: {tmp_path / 'train.csv'}, label: label}}
proxy_train: {{model: tfidf, seeds: 1, test: {{input: {{path: {tmp_path / 'test.csv'}, label: label}}}}}}
output: {{dir: {tmp_path / 'runs'}}}
""")
    result = CliRunner().invoke(app, ["run", str(pipeline)])
    assert result.exit_code == 2
    assert "['weather'] that no training row has" in result.output
    assert not (tmp_path / "runs" / "cli" / "curated.parquet").exists()  # checked before curation starts
