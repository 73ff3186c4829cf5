"""Proxy training: determinism, label errors, the MLP's early stopping, the budget, the outcome."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curate.config import ProxyTrainConfig
from curate.embed import EmbedderConfig
from curate.energy import Budget, BudgetConfig, EnergyConfig, EnergyReading
from curate.errors import InputError
from curate.proxy import MLPClassifier, run_proxy, summarise, train_arms

from .conftest import make_frame

pytest.importorskip("sklearn")
pytest.importorskip("codecarbon")

ENERGY = EnergyConfig(measure_power_secs=0.1)
FAST = {"seeds": 2, "min_fit_seconds": 0.0, "bootstrap": 200}


def _split(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    pool, test = frame.head(240), frame.tail(60)
    return pool, pool.head(120), test


@pytest.mark.parametrize("model", ["tfidf", "logreg", "mlp"])
def test_the_same_seed_gives_identical_accuracy(labelled, model):
    config = ProxyTrainConfig(model=model, embed=EmbedderConfig(embedder="column", column="vec"), max_epochs=20, **FAST)
    pool, curated, test = _split(labelled)
    first = train_arms(config, ENERGY, pool, curated, test, seed=7)
    second = train_arms(config, ENERGY, pool, curated, test, seed=7)
    assert [(f.arm, f.seed, f.accuracy, f.macro_f1) for f in first.fits] == \
           [(f.arm, f.seed, f.accuracy, f.macro_f1) for f in second.fits]
    assert all(np.array_equal(a.predictions, b.predictions) for a, b in zip(first.fits, second.fits, strict=True))
    assert [f.arm for f in first.fits] == ["full", "curated", "random", "curated", "random", "full"]
    assert all(f.accuracy > 0.6 for f in first.fits)  # the classes are learnable
    randoms = [f for f in first.fits if f.arm == "random"]
    assert all(f.rows == 120 for f in randoms)


def test_a_test_label_missing_from_training_is_a_clear_error(labelled):
    pool, curated, test = _split(labelled)
    test = test.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("weather"))
                             .otherwise(pl.col("label")).alias("label"))
    with pytest.raises(InputError, match=r"test set has label\(s\) \['weather'\] that no training row has") as info:
        train_arms(ProxyTrainConfig(model="tfidf", **FAST), ENERGY, pool, curated, test, seed=0)
    assert "hint" in str(info.value)


def test_contaminated_and_unlabelled_rows_are_left_out_and_counted(labelled):
    pool, curated, test = _split(labelled)
    pool = pool.with_columns(pl.when(pl.col("id") == "r0").then(None).otherwise(pl.col("label")).alias("label"))
    test = test.with_columns(pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("exact_duplicate"))
                             .otherwise(None).alias("contamination"))
    run = train_arms(ProxyTrainConfig(model="tfidf", **FAST), ENERGY, pool, curated, test, seed=0)
    assert run.test_rows == 55 and run.contaminated == {"exact_duplicate": 5} and run.unlabelled == 1
    assert {f.rows for f in run.fits if f.arm == "full"} == {239}


def test_mlp_stops_early_and_keeps_its_best_epoch():
    frame = make_frame(400, seed=1)
    X = frame["vec"].to_numpy()
    y = np.random.default_rng(0).permutation(frame["label"].to_numpy())  # nothing to learn: overfits at once
    model = MLPClassifier(hidden=64, max_epochs=300, patience=2, seed=0).fit(X, y)
    assert model.epochs_ < 300
    assert model.best_epoch_ == model.epochs_ - 2
    learnable = MLPClassifier(hidden=32, max_epochs=30, patience=2, seed=0).fit(X, frame["label"].to_numpy())
    assert (learnable.predict(X) == frame["label"].to_numpy()).mean() > 0.8


def test_the_budget_stops_proxy_training_after_the_fit_that_crossed_it(labelled):
    pool, curated, test = _split(labelled)
    budget = Budget(BudgetConfig(kwh=1e-12))
    config = ProxyTrainConfig(model="tfidf", **FAST)
    run = train_arms(config, ENERGY, pool, curated, test, seed=0, budget=budget)
    assert len(run.fits) == 1 and run.stopped.startswith("carbon budget exceeded after proxy training (full, seed 0)")
    out = summarise(run, config, 0, None)
    assert out.stopped == run.stopped and out.energy_saved_pct is None and out.curated is None
    assert [name for name, _ in out.arms()] == ["full"]
    assert out.full.accuracy.per_seed == [pytest.approx(run.fits[0].accuracy, abs=1e-6)]


def _reading(kwh: float, gco2eq: float) -> EnergyReading:
    return EnergyReading(kwh=kwh, cpu_kwh=kwh, ram_kwh=0.0, gpu_kwh=0.0, gco2eq=gco2eq, wall_seconds=1.0, cpu_seconds=1.0,
                         method="estimated")


def test_outcome_has_every_arm_and_the_headline(labelled):
    pool, curated, test = _split(labelled)
    config = ProxyTrainConfig(model="tfidf", target={"kwh": 1000.0}, **{**FAST, "min_fit_seconds": 0.2})
    curation = _reading(1e-6, 1e-3)
    out = run_proxy(config, ENERGY, pool, curated, test, seed=0, curation=curation)
    for arm, rows in (("full", 240), ("curated", 120), ("random", 120)):
        entry = getattr(out, arm)
        assert entry.rows == rows and len(entry.macro_f1.per_seed) == 2
        energy = entry.energy
        assert energy.kwh_per_fit > 0 and energy.method in {"measured", "estimated"}
        assert energy.kwh_per_fit_std >= 0 and {"cpu", "ram", "grid"} <= set(energy.sources)
        assert all(1 <= r <= config.max_repetitions for r in energy.repetitions)
        # a fit is repeated until min_fit_seconds are metered, or max_repetitions (fast fits on a quiet machine)
        assert energy.wall_seconds_per_fit * max(energy.repetitions) >= 0.2 * 0.9 or \
            max(energy.repetitions) == config.max_repetitions
    saved = out.full.energy.kwh_per_fit - out.curated.energy.kwh_per_fit
    assert out.energy_saved_pct == pytest.approx(100 * saved / out.full.energy.kwh_per_fit, abs=0.01)
    assert out.macro_f1_delta == pytest.approx(out.curated.macro_f1.mean - out.full.macro_f1.mean, abs=1e-5)
    low, high = out.macro_f1_delta_ci
    assert low <= high
    assert out.beats_random == (out.curated.macro_f1.mean > out.random.macro_f1.mean)
    if saved > 0:
        assert out.break_even_runs == pytest.approx(1e-6 / saved, rel=1e-3)
    else:
        assert out.break_even_runs is None
    assert out.curation_energy == curation
    forecast = out.forecast
    assert forecast.samples_ratio == 0.5 and forecast.kwh_saved == 500.0
    assert forecast.break_even_runs == pytest.approx(1e-6 / 500.0)
    assert "samples x epochs" in forecast.assumption


def test_the_embedding_step_counts_against_the_budget(labelled):
    pool, curated, test = _split(labelled)
    config = ProxyTrainConfig(model="logreg", embed=EmbedderConfig(embedder="column", column="vec"), **FAST)
    run = train_arms(config, ENERGY, pool, curated, test, seed=0, budget=Budget(BudgetConfig(kwh=1e-12)))
    assert run.fits == [] and run.stopped.startswith("carbon budget exceeded after proxy embeddings")
    assert run.features.kwh > 0 and run.features.method in {"measured", "estimated"}


def test_forecast_from_flops():
    from curate.config import ProxyTargetConfig
    from curate.proxy.outcome import _forecast

    curation = _reading(2.0, 1.0)
    only_flops = _forecast(ProxyTargetConfig(flops=1e18), 0.25, 400.0, curation)
    assert only_flops.flops_saved == 0.75e18 and only_flops.kwh_saved is None
    with_rate = _forecast(ProxyTargetConfig(flops=1e18, flops_per_kwh=1e16), 0.25, 400.0, curation)
    assert with_rate.kwh_saved == pytest.approx(75.0) and with_rate.gco2eq_saved == pytest.approx(30_000.0)
    assert with_rate.break_even_runs == pytest.approx(2.0 / 75.0)
