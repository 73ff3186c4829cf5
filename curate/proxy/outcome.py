"""The proxy outcome: per-arm metrics and energy, the saving (with its range), the accuracy change,
break-even, epochs, the forecast, hours and money, and the same kWh on other grids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.energy import ESTIMATED, MEASURED, EnergyConfig, EnergyReading
from curate.proxy.economics import region_table, savings
from curate.proxy.forecast import ASSUMPTION, forecast
from curate.proxy.metrics import paired_delta
from curate.proxy.train import ARMS, FitResult, ProxyRun
from curate.record.models import Arm, ArmEnergy, EpochPrediction, Epochs, Forecast, ProxyOutcome, ProxyTest, Spread

if TYPE_CHECKING:
    from curate.config import ProxyTargetConfig, ProxyTrainConfig

__all__ = ["ASSUMPTION", "arm_summary", "summarise"]


def _spread(values: list[float]) -> Spread:
    array = np.asarray(values, dtype=np.float64)
    return Spread(mean=round(float(array.mean()), 6), std=round(float(array.std(ddof=1)) if len(array) > 1 else 0.0, 6),
                  per_seed=[round(float(v), 6) for v in array])


def _epochs(fits: list[FitResult]) -> Epochs | None:
    """Epochs run and to convergence over seeds, energy per epoch, and each seed's prediction from its first epochs."""
    details = [f.detail for f in fits]
    if not all(d.get("epochs") for d in details):
        return None
    kwh = [k for d in details for k in d["epoch_kwh"]]
    seconds = [t for d in details for t in d["epoch_seconds"]]
    predictions = [EpochPrediction(seed=f.seed, from_epochs=f.detail["from_epochs"], epochs=f.detail["epochs"],
                                   predicted_kwh=f.detail["predicted_kwh"], actual_kwh=f.detail["actual_kwh"],
                                   error_pct=f.detail["error_pct"]) for f in fits if "predicted_kwh" in f.detail]
    return Epochs(run=_spread([d["epochs"] for d in details]), to_convergence=_spread([d["best_epoch"] for d in details]),
                  kwh_per_epoch=float(np.mean(kwh)) if kwh else 0.0,
                  seconds_per_epoch=float(np.mean(seconds)) if seconds else 0.0, predictions=predictions)


def arm_summary(fits: list[FitResult]) -> Arm:
    readings = [f.energy for f in fits]
    kwh = [r.kwh for r in readings]
    energy = {f"{name}_per_fit": float(np.mean([getattr(r, name) for r in readings]))
              for name in ("cpu_kwh", "ram_kwh", "gpu_kwh", "gco2eq", "wall_seconds", "cpu_seconds")}
    low, high = (float(np.mean(ends)) for ends in zip(*(r.kwh_range for r in readings), strict=True))
    ranged = any(r.kwh_low is not None for r in readings)
    training = [{k: v for k, v in f.detail.items() if k in ("epochs", "best_epoch")} for f in fits]
    return Arm(
        rows=fits[0].rows,
        seeds=[f.seed for f in fits],
        accuracy=_spread([f.accuracy for f in fits]),
        macro_f1=_spread([f.macro_f1 for f in fits]),
        energy=ArmEnergy(
            kwh_per_fit=float(np.mean(kwh)), kwh_per_fit_std=float(np.std(kwh, ddof=1)) if len(kwh) > 1 else 0.0,
            **energy, method=MEASURED if all(r.method == MEASURED for r in readings) else ESTIMATED,
            sources=readings[0].sources, repetitions=[r.repetitions for r in readings],
            kwh_per_fit_low=low if ranged else None, kwh_per_fit_high=high if ranged else None),
        training=training if fits[0].detail else None,
        epochs=_epochs(fits),
    )


def _forecast(target: ProxyTargetConfig, ratio: float, intensity: float, curation: EnergyReading | None,
              tokens: tuple[float, float] | None = None, epochs_ratio: float | None = None) -> Forecast:
    return forecast(target, ratio, intensity, curation, tokens, epochs_ratio)


def _saved_range(full: Arm, curated: Arm) -> tuple[list[float], list[float]] | None:
    """(kWh saved per fit, % saved) at the low and at the high power bound, each as [min, max]; both arms
    ran on the same machine, so both ends take the same bound."""
    a, b = full.energy, curated.energy
    if a.kwh_per_fit_low is None or b.kwh_per_fit_low is None:
        return None
    ends = [(a.kwh_per_fit_low, b.kwh_per_fit_low), (a.kwh_per_fit, b.kwh_per_fit), (a.kwh_per_fit_high, b.kwh_per_fit_high)]
    saved = [f - c for f, c in ends]
    pct = [100 * (f - c) / f for f, c in ends if f > 0]
    return [min(saved), max(saved)], [round(min(pct), 2), round(max(pct), 2)]


def _epochs_ratio(full: Arm, curated: Arm) -> float | None:
    if full.epochs is None or curated.epochs is None or full.epochs.to_convergence.mean <= 0:
        return None
    return curated.epochs.to_convergence.mean / full.epochs.to_convergence.mean


def summarise(run: ProxyRun, config: ProxyTrainConfig, seed: int, curation: EnergyReading | None,
              energy: EnergyConfig | None = None, tokens: tuple[float, float] | None = None) -> ProxyOutcome:
    """The record's proxy outcome (headline figures are ``None`` when an arm has no fit).

    ``energy`` gives the prices and the grids of the what-if table; ``tokens`` the tokens of the
    full and the curated training set, for a forecast by parameters.
    """
    energy = energy or EnergyConfig()
    by_arm = {arm: [f for f in run.fits if f.arm == arm] for arm in ARMS}
    out: dict[str, Any] = {
        "model": config.model, "seeds": config.seeds, "min_fit_seconds": config.min_fit_seconds,
        "test": ProxyTest(rows_used=run.test_rows, decontaminated=sum(run.contaminated.values()),
                          removed_by_reason=dict(sorted(run.contaminated.items()))),
        "unlabelled_training_rows": run.unlabelled,
        "features_energy": run.features,
        "curation_energy": curation,
        "stopped": run.stopped,
        **{arm: arm_summary(fits) for arm, fits in by_arm.items() if fits},
    }
    seeds = min(len(fits) for fits in by_arm.values())
    if seeds:
        full, curated, random = (out[arm] for arm in ARMS)
        preds = {arm: np.stack([f.predictions for f in by_arm[arm][:seeds]]) for arm in ARMS}
        vs_full = paired_delta(run.y_test, preds["full"], preds["curated"], seed, config.bootstrap, config.confidence)
        vs_random = paired_delta(run.y_test, preds["random"], preds["curated"], seed, config.bootstrap, config.confidence)
        full_kwh, curated_kwh = full.energy.kwh_per_fit, curated.energy.kwh_per_fit
        saved = full_kwh - curated_kwh
        f1_vs_random = curated.macro_f1.mean - random.macro_f1.mean
        out |= {
            "energy_saved_pct": round(100 * saved / full_kwh, 2) if full_kwh > 0 else None,
            "cpu_seconds_saved_pct": round(100 * (1 - curated.energy.cpu_seconds_per_fit
                                                  / max(full.energy.cpu_seconds_per_fit, 1e-12)), 2),
            "macro_f1_delta": round(curated.macro_f1.mean - full.macro_f1.mean, 6),
            "macro_f1_delta_ci": vs_full["macro_f1"],
            "accuracy_delta": round(curated.accuracy.mean - full.accuracy.mean, 6),
            "accuracy_delta_ci": vs_full["accuracy"],
            "beats_random": bool(f1_vs_random > 0),
            "curated_minus_random_macro_f1": round(f1_vs_random, 6),
            "curated_minus_random_ci": vs_random["macro_f1"],
            "break_even_runs": round(curation.kwh / saved, 3) if curation is not None and saved > 0 else None,
            "energy_method": MEASURED if all(out[a].energy.method == MEASURED for a in ARMS) else ESTIMATED,
            "confidence": config.confidence,
        }
        ranges = _saved_range(full, curated)
        out |= {"kwh_saved_per_fit": saved, "kwh_saved_per_fit_range": ranges[0] if ranges else None,
                "energy_saved_pct_range": ranges[1] if ranges else None}
        if config.target is not None:
            intensity = full.energy.gco2eq_per_fit / full_kwh if full_kwh > 0 else 0.0
            out["forecast"] = _forecast(config.target, curated.rows / full.rows, intensity, curation, tokens,
                                        _epochs_ratio(full, curated))
        out["savings"] = savings(full, curated, out["kwh_saved_per_fit_range"], out.get("forecast"), energy)
        out["regions"] = region_table(full, saved, out.get("forecast"), energy)
    return ProxyOutcome(**out)
