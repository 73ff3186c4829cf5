"""When to stop labelling: a label budget, an energy budget, or predictions that stopped changing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

EnergyUsed = Callable[[], float]
"""Cumulative kWh used so far; an object may also carry ``kind`` (``measured`` or ``estimated``)."""


class LiveMeter(Protocol):
    """An energy meter that can be read while it runs (:class:`curate.energy.Meter` is one)."""

    @property
    def kind(self) -> str:
        """``measured`` or ``estimated``."""

    def kwh_so_far(self) -> float:
        """kWh used since the meter started."""


class MeterEnergy:
    """The :data:`EnergyUsed` of a running meter: the active-learning loop's energy stop reads the
    stage's own meter through it.

    Parameters
    ----------
    meter : LiveMeter
        A meter inside its ``with`` block (the run context's ``meter``).
    """

    def __init__(self, meter: LiveMeter) -> None:
        self.meter = meter
        self.kind = meter.kind

    def __call__(self) -> float:
        """kWh the meter has counted so far."""
        return self.meter.kwh_so_far()


class StopConfig(BaseModel):
    """Stopping criteria; the first one met ends the loop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_labels: int | None = Field(None, gt=0, description="Label budget: stop once this many rows are labelled.")
    max_kwh: float | None = Field(None, gt=0, description="Energy budget in kWh for model fits and queries.")
    stable_share: float | None = Field(None, gt=0, lt=1, description="Stop when the share of pool predictions that changed between rounds stays below this bound ...")
    stable_rounds: int = Field(3, gt=0, description="... for this many consecutive rounds.")
    watts: float = Field(15.0, gt=0, description="Power figure for the estimated energy (CPU seconds x watts) when no meter is given.")


class ProcessTimeEnergy:
    """Estimated energy: this process's CPU seconds since creation times a fixed power figure.

    Parameters
    ----------
    watts : float
        Assumed average power while the CPU is busy.
    """

    kind = "estimated"

    def __init__(self, watts: float) -> None:
        self.watts = watts
        self.start_ = time.process_time()

    def __call__(self) -> float:
        """kWh used since creation."""
        return (time.process_time() - self.start_) * self.watts / 3.6e6


def energy_kind(energy: EnergyUsed) -> str:
    """How an energy figure was obtained: the meter's ``kind``, else ``estimated``."""
    return getattr(energy, "kind", "estimated")


def stop_reason(config: StopConfig, n_labels: int, kwh: float, changed: Sequence[float]) -> str | None:
    """The first stopping criterion met, or ``None``.

    Parameters
    ----------
    config : StopConfig
        The criteria.
    n_labels : int
        Rows labelled so far.
    kwh : float
        Energy used so far.
    changed : sequence of float
        Per round, the share of pool predictions that changed since the round before.
    """
    if config.max_labels is not None and n_labels >= config.max_labels:
        return "label_budget"
    if config.max_kwh is not None and kwh >= config.max_kwh:
        return "energy_budget"
    if config.stable_share is not None and len(changed) >= config.stable_rounds:
        if all(share < config.stable_share for share in changed[-config.stable_rounds:]):
            return "stable_predictions"
    return None


def stop_progress(stop: StopConfig, labels: int, kwh: float, changed: Sequence[float]) -> list[dict[str, Any]]:
    """How close each stopping criterion is: name, share of the way (``None`` when not set), detail, met."""
    rows = []
    if stop.max_labels is None:
        rows.append({"name": "label budget", "share": None, "detail": "", "met": False})
    else:
        rows.append({"name": "label budget", "share": labels / stop.max_labels,
                     "detail": f"{labels:,} of {stop.max_labels:,} labels", "met": labels >= stop.max_labels})
    if stop.max_kwh is None:
        rows.append({"name": "energy budget", "share": None, "detail": "", "met": False})
    else:
        rows.append({"name": "energy budget", "share": kwh / stop.max_kwh,
                     "detail": f"{kwh * 1000:.3g} of {stop.max_kwh * 1000:.3g} Wh", "met": kwh >= stop.max_kwh})
    if stop.stable_share is None:
        rows.append({"name": "stable predictions", "share": None, "detail": "", "met": False})
    else:
        streak = 0
        for share in reversed(changed):
            if share >= stop.stable_share:
                break
            streak += 1
        last = f"; last round {changed[-1]:.1%}" if changed else ""
        rows.append({"name": "stable predictions", "share": min(streak, stop.stable_rounds) / stop.stable_rounds,
                     "detail": f"under {stop.stable_share:.1%} changed for {min(streak, stop.stable_rounds)} of "
                               f"{stop.stable_rounds} rounds{last}",
                     "met": streak >= stop.stable_rounds})
    return rows
