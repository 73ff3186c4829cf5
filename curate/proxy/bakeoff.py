"""The architecture bake-off: several model families on the same arms, their energy-accuracy Pareto front,
and the cheapest model within a tolerance of the best (the smallest model that meets the target)."""

from __future__ import annotations

from curate.proxy.models import FAMILIES
from curate.record.models import Arm, Bakeoff, BakeoffModel, ParetoPoint


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (cost, score) pairs: whether each is on the front (no other point costs no more and scores no
    less, one of the two strictly)."""
    return [not any(c <= cost and s >= score and (c < cost or s > score) for c, s in points)
            for cost, score in points]


def cheapest_within(entries: list[tuple[str, float, float]], tolerance: float) -> tuple[str | None, str | None]:
    """(best model, cheapest model within ``tolerance`` of the best's score) of (model, cost, score) entries."""
    if not entries:
        return None, None
    best = max(entries, key=lambda e: (e[2], -e[1]))
    good = [e for e in entries if e[2] >= best[2] - tolerance]
    return best[0], min(good, key=lambda e: (e[1], -e[2]))[0]


def bake_off(arms: dict[str, dict[str, Arm]], tolerance: float) -> Bakeoff:
    """The bake-off record of ``arms`` (model -> arm name -> Arm), in the order given."""
    models = [BakeoffModel(model=m, family=FAMILIES.get(m, m), **by_arm) for m, by_arm in arms.items()]
    raw = [(m.model, data, arm.energy.kwh_per_fit, arm.macro_f1.mean)
           for m in models for data in ("full", "curated") if (arm := getattr(m, data)) is not None]
    front = pareto_front([(kwh, f1) for _, _, kwh, f1 in raw])
    points = [ParetoPoint(model=model, data=data, kwh_per_fit=kwh, macro_f1=f1, on_front=on)
              for (model, data, kwh, f1), on in zip(raw, front, strict=True)]
    chosen = {}
    for data in ("full", "curated"):
        entries = [(p.model, p.kwh_per_fit, p.macro_f1) for p in points if p.data == data]
        chosen[f"best_{data}"], chosen[f"cheapest_{data}"] = cheapest_within(entries, tolerance)
    reason = ""
    if chosen["cheapest_full"] and chosen["cheapest_curated"]:
        reason = (f"within {100 * tolerance:.2g} pt macro-F1 of the best, the cheapest model is {chosen['cheapest_full']} "
                  f"on the full data and {chosen['cheapest_curated']} on the curated data")
    return Bakeoff(tolerance=tolerance, models=models, points=points, reason=reason, **chosen)
