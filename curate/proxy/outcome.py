"""The proxy outcome: per-arm metrics and energy, the saving, the accuracy change, break-even, forecast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.energy import ESTIMATED, MEASURED, EnergyReading
from curate.proxy.metrics import paired_delta
from curate.proxy.train import ARMS, FitResult, ProxyRun
from curate.record.models import Arm, ArmEnergy, Forecast, ProxyOutcome, ProxyTest, Spread

if TYPE_CHECKING:
    from curate.config import ProxyTargetConfig, ProxyTrainConfig

ASSUMPTION = "energy proportional to samples x epochs (same epochs on the full and the curated set)"


def _spread(values: list[float]) -> Spread:
    array = np.asarray(values, dtype=np.float64)
    return Spread(mean=round(float(array.mean()), 6), std=round(float(array.std(ddof=1)) if len(array) > 1 else 0.0, 6),
                  per_seed=[round(float(v), 6) for v in array])


def _arm(fits: list[FitResult]) -> Arm:
    readings = [f.energy for f in fits]
    kwh = [r.kwh for r in readings]
    energy = {f"{name}_per_fit": float(np.mean([getattr(r, name) for r in readings]))
              for name in ("cpu_kwh", "ram_kwh", "gpu_kwh", "gco2eq", "wall_seconds", "cpu_seconds")}
    return Arm(
        rows=fits[0].rows,
        seeds=[f.seed for f in fits],
        accuracy=_spread([f.accuracy for f in fits]),
        macro_f1=_spread([f.macro_f1 for f in fits]),
        energy=ArmEnergy(
            kwh_per_fit=float(np.mean(kwh)), kwh_per_fit_std=float(np.std(kwh, ddof=1)) if len(kwh) > 1 else 0.0,
            **energy, method=MEASURED if all(r.method == MEASURED for r in readings) else ESTIMATED,
            sources=readings[0].sources, repetitions=[r.repetitions for r in readings]),
        training=[f.detail for f in fits] if fits[0].detail else None,
    )


def _forecast(target: ProxyTargetConfig, ratio: float, intensity: float, curation: EnergyReading | None) -> Forecast:
    full_kwh = target.kwh if target.kwh is not None else (
        target.flops / target.flops_per_kwh if target.flops_per_kwh else None)
    out: dict[str, Any] = {"assumption": ASSUMPTION, "samples_ratio": round(ratio, 6)}
    if target.flops is not None:
        out |= {"full_flops": target.flops, "curated_flops": target.flops * ratio, "flops_saved": target.flops * (1 - ratio)}
    if full_kwh is not None:
        saved = full_kwh * (1 - ratio)
        out |= {"full_kwh": full_kwh, "curated_kwh": full_kwh * ratio, "kwh_saved": saved,
                "gco2eq_saved": saved * intensity,
                "break_even_runs": (curation.kwh / saved) if curation is not None and saved > 0 else None}
    return Forecast(**out)


def summarise(run: ProxyRun, config: ProxyTrainConfig, seed: int, curation: EnergyReading | None) -> ProxyOutcome:
    """The record's proxy outcome (headline figures are ``None`` when an arm has no fit)."""
    by_arm = {arm: [f for f in run.fits if f.arm == arm] for arm in ARMS}
    out: dict[str, Any] = {
        "model": config.model, "seeds": config.seeds, "min_fit_seconds": config.min_fit_seconds,
        "test": ProxyTest(rows_used=run.test_rows, decontaminated=sum(run.contaminated.values()),
                          removed_by_reason=dict(sorted(run.contaminated.items()))),
        "unlabelled_training_rows": run.unlabelled,
        "features_energy": run.features,
        "curation_energy": curation,
        "stopped": run.stopped,
        **{arm: _arm(fits) for arm, fits in by_arm.items() if fits},
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
        if config.target is not None:
            intensity = full.energy.gco2eq_per_fit / full_kwh if full_kwh > 0 else 0.0
            out["forecast"] = _forecast(config.target, curated.rows / full.rows, intensity, curation)
    return ProxyOutcome(**out)
