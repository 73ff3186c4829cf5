"""The active_select stage and the simulated loop: selection, ledger, stopping criteria, pipeline."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from active_helpers import TFIDF, synthetic_texts

import curate
from curate.active import StopConfig, curve_svg, run_loop, simulate, summarize
from curate.active.features import build_features
from curate.active.loop import auto_seed_size, seed_rows
from curate.active.strategies import default_estimator
from curate.errors import InputError
from curate.stages.active_select import ActiveSelect, ActiveSelectConfig
from curate.stages.base import RunContext


def _stage(**params) -> ActiveSelect:
    return ActiveSelect(ActiveSelectConfig(features=TFIDF, **params))


def test_selects_budget_and_ledgers_the_rest():
    frame = synthetic_texts(200)
    result = _stage(budget=0.3, seed_size=10, batch_size=20).apply(frame, RunContext(seed=3))
    assert result.kept.height == 60
    assert sorted(result.kept["id"].to_list() + result.removed["id"].to_list()) == sorted(frame["id"].to_list())
    assert set(result.removed["reason"]) == {"not_selected"}
    assert set(result.removed["stage"]) == {"active_select"}
    detail = json.loads(result.removed["detail"][0])
    assert detail == {"round": 3, "stop": "label_budget"} and result.stats["rounds"] == 3
    assert result.kept["active_round"].value_counts().sort("active_round")["count"].to_list() == [10, 20, 20, 10]
    assert [p["labels"] for p in result.stats["curve"]] == [10, 30, 50, 60]
    assert result.kept.drop("active_round").columns == frame.columns
    again = _stage(budget=0.3, seed_size=10, batch_size=20).apply(frame, RunContext(seed=3))
    assert again.kept.equals(result.kept) and again.removed.equals(result.removed)
    json.dumps(result.stats)  # report.json can carry it


def test_count_budget_and_its_errors():
    frame = synthetic_texts(50)
    assert _stage(budget=25, seed_size=5, batch_size=10).apply(frame, RunContext()).kept.height == 25
    with pytest.raises(InputError, match="label budget 51 is larger than the pool \\(50 rows\\)"):
        _stage(budget=51).apply(frame, RunContext())
    with pytest.raises(curate.errors.StageError, match="oracle column 'gold' not found"):
        _stage(oracle="gold").apply(frame, RunContext())


def test_tiny_inputs():
    for n in (0, 1, 2):
        result = _stage().apply(synthetic_texts(max(n, 1)).head(n), RunContext())
        assert result.kept.height + result.removed.height == n


def test_stable_predictions_stop_early():
    frame = synthetic_texts(400)
    result = _stage(budget=1.0, seed_size=30, batch_size=20,
                    stop=StopConfig(stable_share=0.05, stable_rounds=2)).apply(frame, RunContext())
    assert result.stats["stop"] == "stable_predictions"
    assert result.kept.height < 400
    changed = [p["changed"] for p in result.stats["curve"][-2:]]
    assert all(c < 0.05 for c in changed)


class CountingEnergy:
    """A meter stand-in: each reading adds a fixed amount (a real callable, not a mock of curate)."""

    kind = "measured"

    def __init__(self) -> None:
        self.kwh = 0.0

    def __call__(self) -> float:
        self.kwh += 0.001
        return self.kwh


def test_energy_budget_stops():
    frame = synthetic_texts(200)
    X, _ = build_features(frame, TFIDF)
    y = frame["label"].to_numpy()
    result = run_loop(X, y, "margin", estimator=default_estimator(), seed=0, seed_size=10, batch_size=10, budget=200,
                      stop=StopConfig(max_kwh=0.0035), energy=CountingEnergy())
    assert result.stop == "energy_budget" and result.energy_kind == "measured"
    assert len(result.order) == 10 + 10 * result.rounds < 200


def test_default_energy_is_an_estimate():
    frame = synthetic_texts(60)
    X, _ = build_features(frame, TFIDF)
    result = run_loop(X, frame["label"].to_numpy(), "random", estimator=default_estimator(), seed=0, seed_size=10,
                      batch_size=10, budget=30)
    assert result.energy_kind == "estimated" and result.kwh >= 0


def test_simulate_curves_summary_and_plot():
    frame = synthetic_texts(300)
    curves = simulate(frame, strategies=["margin", "random"], seeds=2, features=TFIDF, seed_size=10, batch_size=30,
                      budget=0.5)
    assert curves.columns == ["strategy", "seed", "round", "labels", "accuracy"]
    assert set(curves["strategy"]) == {"margin", "random", "full"}
    runs = curves.filter(pl.col("strategy") != "full")
    assert runs.group_by("strategy", "seed").len()["len"].to_list() == [5] * 4
    assert runs["accuracy"].is_between(0, 1).all()
    summary = summarize(curves)
    assert set(summary["strategy"]) == {"margin", "random"} and summary["full_accuracy"][0] > 0.6
    svg = curve_svg(curves)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "margin" in svg
    with pytest.raises(InputError, match="oracle column 'gt' not found"):
        simulate(frame, oracle="gt", features=TFIDF)


def test_pipeline_carries_curve_into_report(tmp_path):
    frame = synthetic_texts(120)
    config = {"name": "al", "seed": 1, "input": {"text": "text", "label": "label", "id": "id"},
              "stages": [{"type": "exact_dedup"},
                         {"type": "active_select", "budget": 40, "seed_size": 10, "batch_size": 15,
                          "features": {"source": "tfidf"}}],
              "output": {"dir": str(tmp_path)}}
    result = curate.run(config, data=frame)
    assert result.curated.height == 40
    stats = result.report.funnel[-1].stats
    assert stats["strategy"] == "balanced_margin" and [p["labels"] for p in stats["curve"]] == [10, 25, 40]
    assert (result.removed.filter(pl.col("stage") == "active_select")["reason"] == "not_selected").all()


@pytest.mark.slow
def test_defaults_on_contract_frames():
    """Default config (MiniLM embeddings) on 0, 1 and 60 rows with int labels and confidence."""
    stage = ActiveSelect(ActiveSelect.Config())
    for n in (0, 1, 60):
        frame = synthetic_texts(max(n, 1)).head(n)
        first = stage.apply(frame, RunContext(seed=0))
        second = stage.apply(frame, RunContext(seed=0))
        assert first.kept.equals(second.kept)
        assert first.kept.height + first.removed.height == n
        assert first.kept.height == (0 if n == 0 else max(1, int(np.ceil(0.5 * n))))


@pytest.mark.slow
def test_noisy_ag_news_curve(shared_data):
    frame = pl.read_csv(shared_data / "noisy_ag_news" / "samples10000valMed.csv").head(800)
    curves = simulate(frame, oracle="gt", strategies=["margin", "random"], seeds=2, features=TFIDF,
                      seed_size=20, batch_size=100, budget=0.5)
    summary = summarize(curves)
    assert summary["full_accuracy"][0] > 0.7  # 4 classes: chance is 0.25
    for strategy in ("margin", "random"):
        runs = curves.filter(pl.col("strategy") == strategy).sort("seed", "labels")
        assert runs["labels"].max() == 320  # half of the 640-row pool
        first, last = runs.group_by("seed").agg(pl.col("accuracy").first(), pl.col("accuracy").last().alias("last")).row(0)[1:]
        assert last > max(first, 0.5)


def test_energy_stop_reads_the_stages_meter_inside_a_pipeline(tmp_path):
    """stop.max_kwh ends the loop on the stage's own CodeCarbon meter (the run context's ``meter``), not on
    the CPU-time fallback: with a fallback power of 1e-9 W the fallback could never reach the budget."""
    frame = synthetic_texts(600)
    config = {"name": "energy-stop", "output": {"dir": str(tmp_path)}, "seed": 1,
              "energy": {"cpu_watts": 100.0, "measure_power_secs": 60},
              "stages": [{"type": "active_select", "budget": 1.0, "seed_size": 10, "batch_size": 10,
                          "features": {"source": "tfidf"}, "stop": {"max_kwh": 1e-7, "watts": 1e-9}}]}
    result = curate.run(config, data=frame)
    stats = result.report.funnel[1].stats
    assert stats["stop"] == "energy_budget"
    assert stats["rounds"] < 59  # the label budget (all 600 rows) takes 59 rounds
    assert result.curated.height == stats["selected"] < frame.height
    stage_energy = result.report.funnel[1].energy
    assert stats["energy_kind"] == stage_energy.method == "estimated"  # no RAPL counters on these machines
    assert 1e-7 <= stats["energy_kwh"] <= stage_energy.kwh  # the loop's energy is part of the stage's reading


def test_seed_set_holds_every_class():
    y = np.array([0] * 190 + [1] * 8 + [2] * 2)
    for seed in range(20):
        rows = seed_rows(y, 5, np.random.default_rng(seed))
        assert len(rows) == 5 == len(set(rows.tolist())) and set(y[rows].tolist()) == {0, 1, 2}
    assert len(set(y[seed_rows(y, 2, np.random.default_rng(0))].tolist())) == 2  # as many classes as fit


def test_auto_batches_grow_with_the_labelled_rows():
    frame = synthetic_texts(900, classes=3)
    X, _ = build_features(frame, TFIDF)
    y = frame["label"].to_numpy()
    result = run_loop(X, y, "margin", estimator=default_estimator(), seed=0, seed_size="auto", batch_size="auto",
                      budget=450)
    sizes = np.bincount(result.round_of).tolist()
    expected, labelled = [auto_seed_size(900, 3)], auto_seed_size(900, 3)
    assert expected == [30]  # 10 per class: more than 0.5% of 900 rows
    while labelled < 450:
        expected.append(min(math.ceil(0.25 * labelled), 450 - labelled))
        labelled += expected[-1]
    assert sizes == expected
    assert [p["labels"] for p in result.curve] == np.cumsum(expected).tolist()
    assert max(sizes[1:]) <= 0.2 * 450  # no query of an early model picks most of the budget


@pytest.mark.parametrize("strategy", ["margin", "balanced_margin", "cluster_margin"])
def test_auto_batches_pick_the_same_rows_whatever_the_budget(strategy):
    """A run to 60% of the pool begins with exactly the rows a run to 25% selects."""
    frame = synthetic_texts(400, classes=3)
    X, _ = build_features(frame, TFIDF)
    y = frame["label"].to_numpy()

    def order(budget):
        return run_loop(X, y, strategy, estimator=default_estimator(), seed=4, seed_size="auto",
                        batch_size="auto", budget=budget).order

    small, large = order(100), order(240)
    assert small.tolist() == large[:100].tolist()


def test_explicit_sizes_and_bad_sizes():
    frame = synthetic_texts(120)
    X, _ = build_features(frame, TFIDF)
    y = frame["label"].to_numpy()
    result = run_loop(X, y, "balanced_margin", estimator=default_estimator(), seed=0, seed_size=12, batch_size=25,
                      budget=90, random_share=0.2)
    assert np.bincount(result.round_of).tolist() == [12, 25, 25, 25, 3]
    with pytest.raises(InputError, match="batch_size 'lots' is not a number"):
        run_loop(X, y, "margin", estimator=default_estimator(), seed=0, seed_size=5, batch_size="lots", budget=20)
    with pytest.raises(InputError, match="batch_growth 0 is not positive"):
        run_loop(X, y, "margin", estimator=default_estimator(), seed=0, seed_size=5, batch_size="auto", budget=20,
                 batch_growth=0)


@pytest.mark.parametrize("strategy", ["balanced_margin", "cluster_margin"])
def test_stage_runs_the_new_strategies_with_default_sizes(strategy):
    frame = synthetic_texts(300)
    stage = _stage(strategy=strategy, budget=0.4, random_share=0.1)
    result = stage.apply(frame, RunContext(seed=2))
    assert result.kept.height == 120 and result.kept.height + result.removed.height == 300
    assert result.stats["strategy"] == strategy
    assert result.kept.filter(pl.col("active_round") == 0).height == auto_seed_size(300, 3)
    assert stage.apply(frame, RunContext(seed=2)).kept.equals(result.kept)


def test_pipeline_accepts_auto_sizes_and_rejects_bad_ones(tmp_path):
    frame = synthetic_texts(150)
    stage = {"type": "active_select", "budget": 0.5, "seed_size": "auto", "batch_size": "auto",
             "strategy": "balanced_margin", "features": {"source": "tfidf"}}
    config = {"name": "auto", "input": {"text": "text", "label": "label", "id": "id"}, "stages": [stage],
              "output": {"dir": str(tmp_path)}}
    assert curate.run(config, data=frame).curated.height == 75
    with pytest.raises(curate.errors.ConfigError, match="batch_size"):
        curate.run({**config, "stages": [{**stage, "batch_size": "many"}]}, data=frame)
    with pytest.raises(curate.errors.ConfigError, match="random_share"):
        curate.run({**config, "stages": [{**stage, "random_share": 2}]}, data=frame)
