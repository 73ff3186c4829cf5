"""Build the run record from what the engine saw: the funnel, totals and removals by reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from curate.energy import EnergyConfig, EnergyReading
from curate.record.models import (
    AutoBudget,
    BudgetUse,
    FunnelRow,
    GuardRecord,
    InputSummary,
    LineAccount,
    PowerRecord,
    ProxyOutcome,
    ReasonCount,
    RunRecord,
    Splits,
    StageVerdict,
    Totals,
    Views,
)
from curate.stages.base import Threshold

if TYPE_CHECKING:
    from curate.config import PipelineConfig
    from curate.energy import Budget
    from curate.io.readers import ReadResult

_COLUMNS = {"rows_in", "rows_out", "removed", "seconds", "cpu_seconds", "resumed", "energy", "guard", "auto_budget"}
"""Stats keys the engine and the record's typed fields own; the rest are the stage's own numbers."""


@dataclass
class StageRecord:
    """One stage's outcome as the engine saw it, with what the stage declares for audits."""

    index: int
    label: str
    type: str
    stats: dict[str, Any]
    removed: pl.DataFrame
    thresholds: list[Threshold] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)

    @property
    def energy(self) -> EnergyReading | None:
        """The stage's metered energy (its checkpoint's when resumed), or ``None`` when not metered."""
        return EnergyReading.model_validate(self.stats["energy"]) if self.stats.get("energy") else None

    @property
    def verdict(self) -> StageVerdict | None:
        """The guard's judgement of the stage, when the guard judged it."""
        return StageVerdict.model_validate(self.stats["guard"]) if self.stats.get("guard") else None


def _plain(value: Any) -> Any:
    """A JSON value of ``value``: numpy scalars and arrays become numbers and lists, anything else unknown a string
    (as the stage's checkpoint stores it)."""
    def default(item: Any) -> Any:
        return item.tolist() if hasattr(item, "tolist") else str(item)

    return json.loads(json.dumps(value, default=default))


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def curation_energy(records: list[StageRecord], guard_energy: EnergyReading | None) -> EnergyReading | None:
    """The curation's energy: every metered stage's (checkpointed ones included) plus the guard's
    (method ``measured`` only if all were); ``None`` when nothing was metered."""
    readings = [r.energy for r in records if r.energy is not None]
    readings += [guard_energy] if guard_energy is not None else []
    return sum(readings, EnergyReading.zero()) if readings else None


def budget_use(budget: Budget) -> BudgetUse:
    """The carbon budget, what was used, and whether and why the run stopped."""
    config = budget.config
    return BudgetUse(kwh=config.kwh if config else None, gco2eq=config.gco2eq if config else None,
                     used_kwh=budget.used_.kwh, used_gco2eq=budget.used_.gco2eq, method=budget.used_.method,
                     exceeded=budget.exceeded_)


def power_record(energy: EnergyConfig) -> PowerRecord:
    """The power figures the run's energy rests on, resolved as every meter of the run resolved them."""
    from curate.energy.power import resolve_cpu_power, resolve_gpu_power
    from curate.energy.regions import known_regions

    ram = (f"set by energy.ram_watts: {energy.ram_watts:g} W" if energy.ram_watts is not None else
           "CodeCarbon's RAM model (5 W per DIMM it assumes the process's memory needs, at least 10 W); "
           "low bound: 3 W per 8 GB of the memory the process uses")
    if energy.grid_intensity is not None:
        grid = f"set by energy.grid_intensity: {energy.grid_intensity:g} gCO2eq/kWh"
    else:
        found = known_regions().get(energy.country_iso_code or "world", known_regions()["world"])
        grid = f"{found.name}: {found.gco2eq_per_kwh:g} gCO2eq/kWh ({found.source}, data year {found.year})"
    return PowerRecord(cpu=resolve_cpu_power(energy.cpu_watts, energy.powercap), gpu=resolve_gpu_power(), ram=ram,
                       grid=grid)


def _stage_row(record: StageRecord, pool: int) -> FunnelRow:
    stats = record.stats
    verdict = record.verdict
    restored = verdict is not None and verdict.restored
    rows_out = stats["rows_in"] if restored else stats["rows_out"]
    return FunnelRow(
        stage=record.label, type=record.type, index=record.index,
        rows_in=stats["rows_in"], rows_out=rows_out, removed=0 if restored else stats["removed"],
        restored_by_guard=stats["removed"] if restored else None, kept_pct=_pct(rows_out, pool),
        seconds=stats["seconds"], cpu_seconds=stats["cpu_seconds"], resumed=stats["resumed"],
        energy=record.energy, guard=verdict,
        auto_budget=AutoBudget.model_validate(stats["auto_budget"]) if stats.get("auto_budget") else None,
        thresholds=record.thresholds, artifacts=record.artifacts,
        stats=_plain({k: v for k, v in stats.items() if k not in _COLUMNS}),
    )


def build_record(config: PipelineConfig, read: ReadResult, frame: pl.DataFrame, curated: pl.DataFrame,
                 removed: pl.DataFrame, records: list[StageRecord], seconds: float, *, views: Views | None = None,
                 proxy: ProxyOutcome | None = None, budget: BudgetUse | None = None, stopped: str | None = None,
                 test_rows: int = 0, validation_rows: int = 0, splits: Splits | None = None,
                 guard: GuardRecord | None = None) -> RunRecord:
    """The run's record; every figure the page, the CLI and the audits show comes from here.

    ``test_rows`` are the rows split off the input as the proxy's test set and ``validation_rows``
    the guard's validation split (kept + removed + test + validation == input); percentages are
    of the pool, the rows curation could keep.
    """
    total = frame.height
    pool = total - test_rows - validation_rows
    empty = int((removed["reason"] == "empty_text").sum())
    funnel = [FunnelRow(stage="input", type="input", index=0, rows_in=total, rows_out=pool - empty, removed=empty,
                        test_rows=test_rows, validation_rows=validation_rows, kept_pct=_pct(pool - empty, pool))]
    funnel += [_stage_row(record, pool) for record in records]
    reasons = removed.group_by("stage", "reason", maintain_order=True).len().rows(named=True)
    return RunRecord(
        name=config.name,
        input=InputSummary(source=read.source, text=read.text, rows=total, quarantined=len(read.bad_rows), empty_text=empty,
                           lines=LineAccount.model_validate(read.lines.to_dict()) if read.lines is not None else None),
        funnel=funnel,
        removed_by_reason=[ReasonCount(stage=r["stage"], reason=r["reason"], rows=r["len"]) for r in reasons],
        totals=Totals(rows_in=total, rows_kept=curated.height, rows_removed=removed.height, rows_test=test_rows,
                      rows_validation=validation_rows, kept_pct=_pct(curated.height, pool), seconds=round(seconds, 3),
                      curation_energy=curation_energy(records, guard.energy if guard is not None else None)),
        splits=splits, guard=guard, proxy=proxy, budget=budget, stopped=stopped, views=views or Views(),
        power=power_record(config.metered) if config.metered is not None else None,
        warnings=[f"stage '{r.label}': {w}" for r in records for w in r.stats.get("warnings", [])],
    )
