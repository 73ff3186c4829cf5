"""The CPU's power, from the best source available, with the range an estimate carries.

Order: hardware counters (RAPL through powercap) → the user's ``energy.cpu_watts`` → a per-CPU
figure from curate's table of server CPUs for the detected model (or its family, when a VM
hides the model number) → a stated default (the median of that table). An estimate is a
figure in watts per busy logical CPU, ``w``; CPU energy is ``w`` x CPU-seconds (CodeCarbon's
process load model). Its range:

- high: the TDP bound: a busy logical CPU draws at most its physical core's share of the
  package's TDP (``TDP / cores``: its SMT sibling idle);
- point: ``TDP / threads``: the package's TDP shared by all its hardware threads, as a
  cloud vCPU is billed;
- low: the load-model bound: CodeCarbon's load model puts 10% of TDP at idle, power the
  package draws whether or not this process runs, so a busy thread causes at least
  ``0.9 x TDP / threads``.

A family or default figure takes the lowest low, the median point and the highest high of
the rows it stands for. The table (``curate/energy/data/cpu_power.csv``) has each model's
cores and threads from its vendor's specification and its TDP as in CodeCarbon's own TDP
table (a test keeps the two in step).
"""

from __future__ import annotations

import csv
import functools
import os
import platform
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from curate.energy.counters import POWERCAP, NvmlCounters, RaplCounters

TABLE = Path(__file__).with_name("data") / "cpu_power.csv"
IDLE_SHARE = 0.1
"""CodeCarbon's load model: a CPU draws at least 10% of its TDP whatever its load."""
RAM_WATTS_PER_GB = 3.0 / 8.0
"""3 W per 8 GB of DDR3/DDR4, the rule CodeCarbon cites (Crucial): the low bound of RAM power, by memory used."""

Source = Literal["counters", "user", "table", "default"]
_NOISE = re.compile(r"\((?:R|TM|tm|r)\)|\bCPU\b|\bProcessor\b|\d+-Core|@.*$")


@dataclass(frozen=True)
class CpuRow:
    """One row of curate's CPU table."""

    model: str
    cores: int
    threads: int
    tdp_watts: float

    @property
    def per_thread(self) -> float:
        return self.tdp_watts / self.threads

    @property
    def per_core(self) -> float:
        return self.tdp_watts / self.cores


class CpuPower(BaseModel):
    """The CPU power a run's energy figures rest on: where it came from and, when estimated, its range.

    ``watts_per_cpu`` (and its ``low``/``high`` bounds) is per busy logical CPU; ``None`` when
    counters measure the energy.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    method: Literal["measured", "estimated"]
    cpu_model: str
    cpus: int = Field(description="Logical CPUs this process can use (CodeCarbon's count).")
    watts_per_cpu: float | None = None
    low_watts_per_cpu: float | None = None
    high_watts_per_cpu: float | None = None
    matched: str | None = Field(None, description="The table row or family the figure comes from.")
    rows: int | None = Field(None, description="Table rows a family or default figure stands for.")
    counters: list[str] = Field(default_factory=list, description="The counter domains read (source `counters`).")
    origin: str
    fallbacks: list[str] = Field(default_factory=list, description="Why each better source was not used.")

    def describe(self) -> str:
        """One line: ``table: 2.4 W per CPU (1.2-19 W), AMD EPYC family median over 39 models``."""
        if self.watts_per_cpu is None:
            return f"{self.source}: {self.origin}"
        return (f"{self.source}: {self.watts_per_cpu:.3g} W per CPU ({self.low_watts_per_cpu:.3g}-"
                f"{self.high_watts_per_cpu:.3g} W), {self.origin}")


class GpuPower(BaseModel):
    """Whether GPU energy is counted, by which counters, or why not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["measured"] | None
    devices: list[str] = Field(default_factory=list)
    note: str


@functools.cache
def load_table(path: Path = TABLE) -> tuple[CpuRow, ...]:
    """curate's CPU table: model, cores, threads, TDP."""
    with open(path, encoding="utf-8", newline="") as handle:
        return tuple(CpuRow(r["model"], int(r["cores"]), int(r["threads"]), float(r["tdp_watts"]))
                     for r in csv.DictReader(handle))


def detect_cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere what ``platform`` says)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def logical_cpus() -> int:
    """Logical CPUs as CodeCarbon counts them (its process load model divides by this)."""
    try:
        from codecarbon.core.util import count_cpus

        return int(count_cpus())
    except ImportError:
        return os.cpu_count() or 1


def _clean(name: str) -> str:
    return " ".join(_NOISE.sub(" ", name).split())


def match(cpu_model: str, table: tuple[CpuRow, ...]) -> tuple[str, list[CpuRow]]:
    """``("exact", [row])``, ``("family", rows)`` or ``("none", [])`` for a detected model name.

    A row matches exactly when every word of it is in the name; a family matches when the name,
    cleaned of ``(R)``, ``CPU``, core counts and clock, *is* the rows' common prefix (``AMD EPYC``
    with its model number hidden by a VM).
    """
    name = _clean(cpu_model)
    words = set(name.split())
    exact = [row for row in table if set(row.model.split()) <= words]
    if exact:
        return "exact", [max(exact, key=lambda row: len(row.model))]
    family = [row for row in table if row.model.startswith(name + " ")] if name else []
    return ("family", family) if family else ("none", [])


def _figure(rows: list[CpuRow]) -> tuple[float, float, float]:
    low = min((1 - IDLE_SHARE) * row.per_thread for row in rows)
    point = statistics.median(row.per_thread for row in rows)
    high = max(row.per_core for row in rows)
    return low, point, high


def resolve_cpu_power(cpu_watts: float | None = None, powercap: Path | str | None = None,
                      cpu_model: str | None = None, cpus: int | None = None,
                      table: tuple[CpuRow, ...] | None = None) -> CpuPower:
    """The CPU's power from the best source available (see the module docstring for the order).

    Parameters
    ----------
    cpu_watts : float, optional
        ``energy.cpu_watts``: the power of the logical CPUs this process can use, at full load.
    powercap : path, optional
        The powercap folder to look for RAPL counters in (default ``/sys/class/powercap``).
    cpu_model, cpus, table : optional
        The detected model name, the logical CPU count and the table (defaults: this machine's, curate's).
    """
    cpu_model = cpu_model if cpu_model is not None else detect_cpu_model()
    cpus = cpus or logical_cpus()
    table = table if table is not None else load_table()
    domains, why = RaplCounters(powercap or POWERCAP).probe()
    common = {"cpu_model": cpu_model, "cpus": cpus}
    if domains:
        return CpuPower(source="counters", method="measured", counters=[d.name for d in domains],
                        origin=f"RAPL package counters ({', '.join(d.name for d in domains)}): the whole package, "
                               "every process on it", **common)
    fallbacks = [f"counters: {why}"]
    if cpu_watts is not None:
        point = cpu_watts / cpus
        return CpuPower(source="user", method="estimated", watts_per_cpu=point, low_watts_per_cpu=(1 - IDLE_SHARE) * point,
                        high_watts_per_cpu=point, fallbacks=fallbacks,
                        origin=f"energy.cpu_watts = {cpu_watts:g} W over {cpus} logical CPUs", **common)
    fallbacks.append("user figure: energy.cpu_watts not set")
    kind, rows = match(cpu_model, table)
    low, point, high = _figure(rows or list(table))
    if kind == "exact":
        row = rows[0]
        origin = (f"curate's CPU table: {row.model}, {row.tdp_watts:g} W TDP over {row.cores} cores / "
                  f"{row.threads} threads")
        return CpuPower(source="table", method="estimated", watts_per_cpu=point, low_watts_per_cpu=low,
                        high_watts_per_cpu=high, matched=row.model, rows=1, origin=origin, fallbacks=fallbacks, **common)
    if kind == "family":
        family = _clean(cpu_model)
        origin = (f"curate's CPU table: the model number is hidden ('{cpu_model}'), so the median of the "
                  f"{len(rows)} {family} models, bounded by the family's extremes")
        return CpuPower(source="table", method="estimated", watts_per_cpu=point, low_watts_per_cpu=low,
                        high_watts_per_cpu=high, matched=family, rows=len(rows), origin=origin, fallbacks=fallbacks,
                        **common)
    fallbacks.append(f"table: no row or family matches '{cpu_model}'")
    origin = (f"default: the median of all {len(table)} server CPUs in curate's table, bounded by their extremes; "
              "set energy.cpu_watts for a better figure")
    return CpuPower(source="default", method="estimated", watts_per_cpu=point, low_watts_per_cpu=low,
                    high_watts_per_cpu=high, rows=len(table), origin=origin, fallbacks=fallbacks, **common)


def resolve_gpu_power(nvml: object | None = None) -> GpuPower:
    """NVML energy counters when a GPU answers; otherwise why GPU energy is not counted."""
    domains, why = NvmlCounters(nvml).probe()
    if domains:
        return GpuPower(method="measured", devices=[d.name for d in domains],
                        note="NVML total-energy counters (whole GPU, every process on it)")
    return GpuPower(method=None, note=f"no GPU energy counted: {why}")
