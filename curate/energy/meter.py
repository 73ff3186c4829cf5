"""The energy meter: CodeCarbon's tracker behind one context manager, every figure method-tagged.

``measured`` means a hardware energy counter (RAPL, NVML, powermetrics) gave the figure;
``estimated`` means a model did (CPU-seconds x the CPU's power, RAM size x watts).
A reading is ``measured`` only when every component in it was measured.

The CPU's power comes from :func:`curate.energy.power.resolve_cpu_power` (counters → the
user's figure → curate's CPU table → a stated default), not from CodeCarbon's own guess; when
RAPL or NVML counters can be read, their joules replace CodeCarbon's CPU and GPU figures.
Without counters, in ``process`` mode, CPU energy is the span's CPU-seconds x the power per
busy logical CPU (the load model CodeCarbon samples, computed exactly); in ``machine`` mode it
is CodeCarbon's sampled machine load x that power. RAM energy is CodeCarbon's RAM model. An
estimated reading carries ``kwh_low`` / ``kwh_high``: the same span under the low and the high
bound of every estimated power figure.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from curate.energy.config import EnergyConfig
from curate.energy.counters import POWERCAP, Domain, NvmlCounters, RaplCounters, joules_between
from curate.energy.power import RAM_WATTS_PER_GB, CpuPower, resolve_cpu_power
from curate.errors import CurateError, require

MEASURED, ESTIMATED = "measured", "estimated"
_COUNTER_MODES = {"intel_rapl": "RAPL", "windows_emi": "Windows EMI (RAPL)", "intel_power_gadget": "Intel Power Gadget"}


def cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (user + system)."""
    return float(sum(os.times()[:4]))


class EnergySource(BaseModel):
    """How one part of a reading was obtained: a hardware counter, or a model and its figure.

    ``figure`` is the number the model used (the CPU's or RAM's power in watts, the grid's
    gCO2eq per kWh) and ``origin`` where that number came from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["measured", "estimated"]
    how: str
    figure: float | None = None
    unit: str | None = None
    origin: str = ""
    low: float | None = Field(None, description="Low bound of an estimated figure (same unit).")
    high: float | None = Field(None, description="High bound of an estimated figure (same unit).")
    basis: Literal["counters", "user", "table", "default"] | None = Field(
        None, description="For the CPU: which source in the order counters → user figure → table → default gave the figure.")

    def describe(self) -> str:
        """One line: ``estimated: CPU-seconds x power, 4.8 W (2.3-39 W) (curate's CPU table ...)``."""
        figure = f", {self.figure:.4g} {self.unit}" if self.figure is not None else ""
        if self.figure is not None and self.low is not None and self.high is not None:
            figure += f" ({self.low:.3g}-{self.high:.3g} {self.unit})"
        origin = f" ({self.origin})" if self.origin else ""
        return f"{self.method}: {self.how}{figure}{origin}"


class EnergyReading(BaseModel):
    """Energy, emissions and time of one metered span (or the mean of ``repetitions`` spans).

    ``kwh`` is the sum of ``cpu_kwh``, ``ram_kwh`` and ``gpu_kwh``; ``method`` is ``measured``
    or ``estimated``; ``sources`` says, per component (``cpu``, ``ram``, ``gpu``) and for the
    ``grid`` intensity behind ``gco2eq``, how CodeCarbon got the figure.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kwh: float
    cpu_kwh: float
    ram_kwh: float
    gpu_kwh: float
    gco2eq: float
    wall_seconds: float
    cpu_seconds: float
    method: Literal["measured", "estimated"]
    sources: dict[str, EnergySource] = Field(default_factory=dict)
    repetitions: int = 1
    kwh_low: float | None = Field(None, description="kWh with every estimated power figure at its low bound (absent: no range, as `kwh`).")
    kwh_high: float | None = Field(None, description="kWh with every estimated power figure at its high bound.")

    @property
    def kwh_range(self) -> tuple[float, float]:
        """(low, high) kWh; a reading without a range (measured) gives ``(kwh, kwh)``."""
        return (self.kwh if self.kwh_low is None else self.kwh_low, self.kwh if self.kwh_high is None else self.kwh_high)

    def __add__(self, other: EnergyReading) -> EnergyReading:
        """Two spans together: figures add up; ``measured`` only if both were."""
        method = MEASURED if self.method == other.method == MEASURED else ESTIMATED
        sums = {name: getattr(self, name) + getattr(other, name) for name in _FIGURES}
        ranged = self.kwh_low is not None or other.kwh_low is not None
        low, high = (a + b for a, b in zip(self.kwh_range, other.kwh_range, strict=True))
        return EnergyReading(**sums, method=method, sources={**other.sources, **self.sources},
                             repetitions=self.repetitions + other.repetitions,
                             kwh_low=low if ranged else None, kwh_high=high if ranged else None)

    def per(self, repetitions: int) -> EnergyReading:
        """This span divided into ``repetitions`` equal parts (the figure per repetition)."""
        scale = 1.0 / repetitions
        ranged = {name: getattr(self, name) * scale for name in ("kwh_low", "kwh_high") if getattr(self, name) is not None}
        return self.model_copy(update={**{name: getattr(self, name) * scale for name in _FIGURES}, **ranged,
                                       "repetitions": repetitions})

    @classmethod
    def zero(cls) -> EnergyReading:
        """No span at all (the neutral element of ``+``)."""
        return cls(**dict.fromkeys(_FIGURES, 0.0), method=MEASURED, sources={}, repetitions=0)


_FIGURES = ("kwh", "cpu_kwh", "ram_kwh", "gpu_kwh", "gco2eq", "wall_seconds", "cpu_seconds")


def _cpu_source(power: CpuPower) -> EnergySource:
    """The CPU part of a reading, from the resolved power (the whole of the CPUs this process can use)."""
    if power.method == MEASURED:
        return EnergySource(method=MEASURED, how="RAPL energy counters", origin=power.origin, basis="counters")
    return EnergySource(method=ESTIMATED, how="CPU-seconds x the CPU's power (CodeCarbon's process load model)",
                        figure=power.watts_per_cpu * power.cpus, low=power.low_watts_per_cpu * power.cpus,
                        high=power.high_watts_per_cpu * power.cpus, unit="W",
                        origin=f"{power.origin}; {power.cpus} logical CPUs", basis=power.source)


def _source(hardware: Any, config: EnergyConfig, data: Any) -> tuple[str, EnergySource] | None:
    """(component, source) of one CodeCarbon hardware object other than the CPU (``None`` for the CPU)."""
    kind = type(hardware).__name__
    if kind == "CPU":
        return None
    if kind == "GPU":
        return "gpu", EnergySource(method=MEASURED, how="NVML energy counters (CodeCarbon)")
    if kind == "RAM":
        origin = "set by energy.ram_watts" if config.ram_watts else "CodeCarbon's RAM model (about 5 W per DIMM it assumes)"
        watts = getattr(data, "ram_power", None)
        return "ram", EnergySource(method=ESTIMATED, how="RAM power x time",
                                   figure=float(watts) if isinstance(watts, (int, float)) else None, unit="W",
                                   origin=origin)
    if kind in {"AppleSiliconChip", "Raspberry"}:
        part = str(getattr(hardware, "chip_part", "CPU")).lower()
        return part, EnergySource(method=MEASURED, how=f"{kind} power counters")
    return kind.lower(), EnergySource(method=ESTIMATED, how=repr(hardware))


def _grid(config: EnergyConfig, data: Any, intensity: float) -> EnergySource:
    """Where the gCO2eq per kWh behind the emissions came from."""
    figure = round(intensity, 3)
    iso, name = getattr(data, "country_iso_code", None), getattr(data, "country_name", None)
    if config.grid_intensity is not None:
        origin = "set by energy.grid_intensity"
    elif iso:
        how = "energy.country_iso_code" if config.country_iso_code else "the location CodeCarbon looked up"
        origin = f"CodeCarbon's grid mix of {name or iso} ({iso}), from {how}"
    else:
        origin = "CodeCarbon's world average: no location offline; set energy.country_iso_code or energy.grid_intensity"
    return EnergySource(method=ESTIMATED, how="energy x grid carbon intensity", figure=figure, unit="gCO2eq/kWh",
                        origin=origin)


def _tracker(config: EnergyConfig, power: CpuPower) -> Any:
    import logging

    codecarbon = require("codecarbon", "energy", "codecarbon")
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    options: dict[str, Any] = {"project_name": "curate", "measure_power_secs": config.measure_power_secs,
                               "tracking_mode": config.tracking_mode, "output_methods": [], "log_level": "error",
                               "allow_multiple_runs": True,
                               # our figure, never CodeCarbon's guess; with counters, RAPL's joules replace it
                               "force_cpu_power": (power.watts_per_cpu or 1.0) * power.cpus}
    if config.ram_watts is not None:
        options["force_ram_power"] = config.ram_watts
    if config.grid_intensity is not None:
        options["force_carbon_intensity_g_co2e_kwh"] = config.grid_intensity
    if not config.offline:
        return codecarbon.EmissionsTracker(**options)
    if config.country_iso_code is not None:
        options["country_iso_code"] = config.country_iso_code
    return codecarbon.OfflineEmissionsTracker(**options)


def _rss_gb() -> float:
    """Resident memory of this process and its children, in GB (psutil, a CodeCarbon dependency)."""
    import psutil

    process = psutil.Process()
    rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))
    return rss / 1e9


class _Counters:
    """The RAPL and NVML counters a meter reads around its span (each absent when it cannot be read)."""

    def __init__(self, powercap: Any, nvml: Any, use_cpu: bool) -> None:
        self.rapl, self.nvml = RaplCounters(powercap), NvmlCounters(nvml)
        self.cpu: list[Domain] = self.rapl.probe()[0] if use_cpu else []
        self.gpu: list[Domain] = self.nvml.probe()[0]

    def read(self) -> tuple[dict[str, float], dict[str, float]]:
        return (self.rapl.read(self.cpu) if self.cpu else {}), (self.nvml.read(self.gpu) if self.gpu else {})

    def kwh_since(self, start: tuple[dict, dict]) -> tuple[float | None, float | None]:
        """(CPU kWh, GPU kWh) counted since ``start``; ``None`` for a part without counters."""
        end = self.read()
        cpu = joules_between(self.cpu, start[0], end[0]) / 3.6e6 if self.cpu else None
        gpu = joules_between(self.gpu, start[1], end[1]) / 3.6e6 if self.gpu else None
        return cpu, gpu


class Meter:
    """Meters the energy of a ``with`` block through CodeCarbon (and hardware counters when readable).

    Parameters
    ----------
    config : EnergyConfig, optional
        Grid intensity, CPU power, sampling period; defaults to offline, process-level.
    nvml : module, optional
        The NVML binding to read GPU counters with (default ``pynvml``; a simulated one in tests).

    Examples
    --------
    >>> with Meter() as meter:          # doctest: +SKIP
    ...     model.fit(X, y)
    >>> meter.reading_.kwh, meter.reading_.method   # doctest: +SKIP
    """

    def __init__(self, config: EnergyConfig | None = None, nvml: Any = None) -> None:
        self.config = config or EnergyConfig()
        self.nvml = nvml
        self.reading_: EnergyReading | None = None

    def __enter__(self) -> Meter:
        self.power_ = resolve_cpu_power(self.config.cpu_watts, self.config.powercap or POWERCAP)
        self.counters_ = _Counters(self.config.powercap or POWERCAP, self.nvml, self.power_.method == MEASURED)
        self.tracker_ = _tracker(self.config, self.power_)
        self.tracker_.start()
        self._start = self.counters_.read()
        self.cpu_start_ = cpu_seconds()
        self._lap = (time.perf_counter(), self.cpu_start_, self._start)
        return self

    def lap(self) -> EnergyReading:
        """The energy since the last lap (or the start), from the counters or the same power model as the span.

        Used to meter the epochs of one fit inside its span (Carbontracker-style prediction).
        """
        now, cpu, counts = time.perf_counter(), cpu_seconds(), self.counters_.read()
        wall, busy = now - self._lap[0], cpu - self._lap[1]
        counted_cpu, counted_gpu = self.counters_.kwh_since(self._lap[2])
        self._lap = (now, cpu, counts)
        power = self.power_
        ram_watts = next((float(h.total_power().W) for h in getattr(self.tracker_, "_hardware", [])
                          if type(h).__name__ == "RAM"), 0.0)
        ram = ram_watts * wall / 3.6e6
        if counted_cpu is not None:
            cpu_kwh = cpu_low = cpu_high = counted_cpu
        else:
            cpu_kwh, cpu_low, cpu_high = (w * busy / 3.6e6 for w in (power.watts_per_cpu, power.low_watts_per_cpu,
                                                                   power.high_watts_per_cpu))
        ram_low = ram if self.config.ram_watts else min(ram, RAM_WATTS_PER_GB * _rss_gb() * wall / 3.6e6)
        gpu = counted_gpu or 0.0
        kwh = cpu_kwh + ram + gpu
        return EnergyReading(kwh=kwh, cpu_kwh=cpu_kwh, ram_kwh=ram, gpu_kwh=gpu, gco2eq=kwh * self._intensity(),
                             wall_seconds=wall, cpu_seconds=busy, method=ESTIMATED,  # RAM is always a model
                             kwh_low=cpu_low + ram_low + gpu, kwh_high=cpu_high + ram + gpu)

    def _intensity(self) -> float:
        """gCO2eq per kWh of the grid CodeCarbon uses for this meter."""
        if self.config.grid_intensity is not None:
            return self.config.grid_intensity
        from curate.energy.regions import grid_intensity

        return grid_intensity(self.config.country_iso_code)

    @property
    def kind(self) -> str:
        """``measured`` when every component of this machine is read from a hardware counter, else
        ``estimated`` (the method a reading of this meter will have)."""
        others = [found[1] for h in getattr(self.tracker_, "_hardware", [])
                  if (found := _source(h, self.config, None)) is not None]  # the CPU's is the resolved power's
        measured = self.power_.method == MEASURED and all(s.method == MEASURED for s in others)
        return MEASURED if measured else ESTIMATED

    def kwh_so_far(self) -> float:
        """kWh used since the ``with`` block began, sampled now: what a budget checked inside the block
        (the active-learning energy stop) reads. Only inside the block."""
        if getattr(self, "tracker_", None) is None:
            raise CurateError("the energy meter is read outside its `with` block", hint="read it inside the block")
        self.tracker_.flush()  # samples power and energy up to now (nothing is written: no output methods)
        total = getattr(self.tracker_, "_total_energy", None)  # CodeCarbon's running total; it has no public reader
        if total is None:
            raise CurateError("this CodeCarbon version gives no running energy total",
                              hint="install the CodeCarbon version in constraints.txt")
        return float(total.kWh)

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        counted_cpu, counted_gpu = self.counters_.kwh_since(self._start)
        self.tracker_.stop()
        cpu = cpu_seconds() - self.cpu_start_
        if exc_type is not None:
            return  # the block failed: no reading, and its error goes on unmasked
        data = getattr(self.tracker_, "final_emissions_data", None)
        if data is None:
            raise CurateError("the energy meter (CodeCarbon) did not return a reading",
                              hint="check that codecarbon and psutil are installed (pip install 'curate[energy]')")
        sources = dict(found for h in getattr(self.tracker_, "_hardware", [])
                       if (found := _source(h, self.config, data)) is not None)
        sources["cpu"] = _cpu_source(self.power_)
        figures = {"cpu_kwh": float(data.cpu_energy), "ram_kwh": float(data.ram_energy), "gpu_kwh": float(data.gpu_energy)}
        if not all(math.isfinite(v) and v >= 0 for v in figures.values()):
            raise CurateError(f"the energy meter returned unusable figures {figures}",
                              hint="rerun with --debug; CodeCarbon may not support this machine")
        if counted_cpu is not None:
            figures["cpu_kwh"] = counted_cpu
        elif self.config.tracking_mode == "process" and self.power_.watts_per_cpu is not None:
            # the process load model, exact: CPU-seconds x W per busy CPU (CodeCarbon samples the load every
            # measure_power_secs, which misses or doubles part of a short span)
            figures["cpu_kwh"] = cpu * self.power_.watts_per_cpu / 3.6e6
        if counted_gpu is not None:
            figures["gpu_kwh"] = counted_gpu
            sources["gpu"] = EnergySource(method=MEASURED, how="NVML energy counters",
                                          origin=", ".join(d.name for d in self.counters_.gpu))
        kwh = sum(figures.values())
        code_kwh = float(data.energy_consumed or 0.0)
        intensity = 1000.0 * float(data.emissions) / code_kwh if code_kwh > 0 else self._intensity()
        low, high = self._range(figures, sources, float(data.duration))
        method = MEASURED if all(s.method == MEASURED for s in sources.values()) else ESTIMATED
        self.reading_ = EnergyReading(
            kwh=kwh, **figures, gco2eq=kwh * intensity, wall_seconds=float(data.duration), cpu_seconds=cpu,
            method=method, sources={**sources, "grid": _grid(self.config, data, intensity)},
            kwh_low=None if method == MEASURED else low, kwh_high=None if method == MEASURED else high)

    def _range(self, figures: dict[str, float], sources: dict[str, EnergySource], wall: float) -> tuple[float, float]:
        """(low, high) kWh of the span: each estimated part scaled to its power's bounds."""
        cpu, ram, gpu = figures["cpu_kwh"], figures["ram_kwh"], figures["gpu_kwh"]
        source = sources["cpu"]
        cpu_low, cpu_high = (cpu, cpu) if source.method == MEASURED or not source.figure else (
            cpu * source.low / source.figure, cpu * source.high / source.figure)
        ram_low = ram
        if self.config.ram_watts is None and "ram" in sources:
            ram_low = min(ram, RAM_WATTS_PER_GB * _rss_gb() * wall / 3.6e6)
            sources["ram"] = sources["ram"].model_copy(update={
                "low": RAM_WATTS_PER_GB * _rss_gb(), "high": sources["ram"].figure,
                "origin": sources["ram"].origin + "; low bound 3 W per 8 GB of the memory this process uses"})
        return cpu_low + ram_low + gpu, cpu_high + ram + gpu
