"""The carbon budget: adds up what a run spends, warns near the limit, says when it is past it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from curate.energy.config import BudgetConfig
from curate.energy.meter import EnergyReading


@dataclass(frozen=True)
class BudgetStatus:
    """Where a run stands: ``ok``, ``warn`` (first time past ``warn_at``) or ``exceeded``, and why."""

    state: str
    message: str = ""


class Budget:
    """Tracks a run's spending against a :class:`BudgetConfig` (no config: never exceeded)."""

    def __init__(self, config: BudgetConfig | None) -> None:
        self.config = config
        self.used_ = EnergyReading.zero()
        self.warned_ = False
        self.exceeded_: str | None = None

    def _usage(self) -> list[tuple[str, float, float]]:
        cfg = self.config
        pairs = [("kWh", self.used_.kwh, cfg.kwh), ("gCO2eq", self.used_.gco2eq, cfg.gco2eq)] if cfg else []
        return [(unit, used, limit) for unit, used, limit in pairs if limit is not None]

    def spend(self, reading: EnergyReading, what: str) -> BudgetStatus:
        """Add ``reading`` (spent by ``what``) and say whether the run may go on."""
        self.used_ = self.used_ + reading
        usage = self._usage()
        over = [(unit, used, limit) for unit, used, limit in usage if used > limit]
        if over:
            unit, used, limit = over[0]
            self.exceeded_ = (f"carbon budget exceeded after {what}: used {used:.3g} {unit} "
                              f"of {limit:.3g} {unit} ({self.used_.method})")
            return BudgetStatus("exceeded", self.exceeded_)
        near = [(unit, used, limit) for unit, used, limit in usage if used >= self.config.warn_at * limit]
        if near and not self.warned_:
            self.warned_ = True
            unit, used, limit = near[0]
            return BudgetStatus("warn", f"carbon budget {100 * used / limit:.0f}% used after {what} "
                                        f"({used:.3g} of {limit:.3g} {unit})")
        return BudgetStatus("ok")

    def charge(self, reading: EnergyReading, what: str, notify: Callable[[str], None]) -> str | None:
        """:meth:`spend`, passing warnings to ``notify``; the reason to stop when past the budget, else ``None``."""
        status = self.spend(reading, what)
        if status.state != "ok":
            notify(status.message)
        return status.message if status.state == "exceeded" else None
