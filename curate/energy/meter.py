"""The energy meter: CodeCarbon's tracker behind one context manager, every figure method-tagged.

``measured`` means a hardware energy counter (RAPL, NVML, powermetrics) gave the figure;
``estimated`` means CodeCarbon's model did (CPU load x CPU power, RAM size x watts).
A reading is ``measured`` only when every component in it was measured.
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from curate.energy.config import EnergyConfig
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

    def describe(self) -> str:
        """One line: ``estimated: CPU load x power, 95 W (CodeCarbon's TDP table)``."""
        figure = f", {self.figure:.4g} {self.unit}" if self.figure is not None else ""
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

    def __add__(self, other: EnergyReading) -> EnergyReading:
        """Two spans together: figures add up; ``measured`` only if both were."""
        method = MEASURED if self.method == other.method == MEASURED else ESTIMATED
        sums = {name: getattr(self, name) + getattr(other, name) for name in _FIGURES}
        return EnergyReading(**sums, method=method, sources={**other.sources, **self.sources},
                             repetitions=self.repetitions + other.repetitions)

    def per(self, repetitions: int) -> EnergyReading:
        """This span divided into ``repetitions`` equal parts (the figure per repetition)."""
        scale = 1.0 / repetitions
        return self.model_copy(update={**{name: getattr(self, name) * scale for name in _FIGURES},
                                       "repetitions": repetitions})

    @classmethod
    def zero(cls) -> EnergyReading:
        """No span at all (the neutral element of ``+``)."""
        return cls(**dict.fromkeys(_FIGURES, 0.0), method=MEASURED, sources={}, repetitions=0)


_FIGURES = ("kwh", "cpu_kwh", "ram_kwh", "gpu_kwh", "gco2eq", "wall_seconds", "cpu_seconds")


def _source(hardware: Any, config: EnergyConfig, data: Any) -> tuple[str, EnergySource]:
    """(component, source) of one CodeCarbon hardware object."""
    kind = type(hardware).__name__
    if kind == "CPU":
        mode = getattr(hardware, "_mode", "unknown")
        if mode in _COUNTER_MODES:
            return "cpu", EnergySource(method=MEASURED, how=f"{_COUNTER_MODES[mode]} energy counters")
        origin = "set by energy.cpu_watts" if config.cpu_watts else "CodeCarbon's TDP table"
        if getattr(hardware, "_is_generic_tdp", False):
            origin = "generic constant: CPU model unknown, set energy.cpu_watts"
        tdp = getattr(hardware, "_tdp", None)
        return "cpu", EnergySource(method=ESTIMATED, how=f"{mode} model x the CPU's power",
                                   figure=float(tdp) if isinstance(tdp, (int, float)) else None, unit="W",
                                   origin=origin)
    if kind == "GPU":
        return "gpu", EnergySource(method=MEASURED, how="NVML/AMDSMI energy counters")
    if kind == "RAM":
        origin = "set by energy.ram_watts" if config.ram_watts else "CodeCarbon's RAM model (about 3 W per 8 GB DIMM)"
        watts = getattr(data, "ram_power", None)
        return "ram", EnergySource(method=ESTIMATED, how="RAM power x time",
                                   figure=float(watts) if isinstance(watts, (int, float)) else None, unit="W",
                                   origin=origin)
    if kind in {"AppleSiliconChip", "Raspberry"}:
        part = str(getattr(hardware, "chip_part", "CPU")).lower()
        return part, EnergySource(method=MEASURED, how=f"{kind} power counters")
    return kind.lower(), EnergySource(method=ESTIMATED, how=repr(hardware))


def _grid(config: EnergyConfig, data: Any) -> EnergySource:
    """Where the gCO2eq per kWh behind the emissions came from."""
    kwh = float(getattr(data, "energy_consumed", 0.0) or 0.0)
    figure = round(1000.0 * float(data.emissions) / kwh, 3) if kwh > 0 else None  # kg / kWh -> g / kWh
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


def _tracker(config: EnergyConfig) -> Any:
    import logging

    codecarbon = require("codecarbon", "energy", "codecarbon")
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    options: dict[str, Any] = {"project_name": "curate", "measure_power_secs": config.measure_power_secs,
                               "tracking_mode": config.tracking_mode, "output_methods": [], "log_level": "error",
                               "allow_multiple_runs": True}
    if config.cpu_watts is not None:
        options["force_cpu_power"] = config.cpu_watts
    if config.ram_watts is not None:
        options["force_ram_power"] = config.ram_watts
    if config.grid_intensity is not None:
        options["force_carbon_intensity_g_co2e_kwh"] = config.grid_intensity
    if not config.offline:
        return codecarbon.EmissionsTracker(**options)
    if config.country_iso_code is not None:
        options["country_iso_code"] = config.country_iso_code
    return codecarbon.OfflineEmissionsTracker(**options)


class Meter:
    """Meters the energy of a ``with`` block through CodeCarbon.

    Parameters
    ----------
    config : EnergyConfig, optional
        Grid intensity, CPU power, sampling period; defaults to offline, process-level.

    Examples
    --------
    >>> with Meter() as meter:          # doctest: +SKIP
    ...     model.fit(X, y)
    >>> meter.reading_.kwh, meter.reading_.method   # doctest: +SKIP
    """

    def __init__(self, config: EnergyConfig | None = None) -> None:
        self.config = config or EnergyConfig()
        self.reading_: EnergyReading | None = None

    def __enter__(self) -> Meter:
        self.tracker_ = _tracker(self.config)
        self.tracker_.start()
        self.cpu_start_ = cpu_seconds()
        return self

    @property
    def kind(self) -> str:
        """``measured`` when every component of this machine is read from a hardware counter, else
        ``estimated`` (the method a reading of this meter will have)."""
        sources = [_source(h, self.config, None)[1] for h in getattr(self.tracker_, "_hardware", [])]
        return MEASURED if sources and all(s.method == MEASURED for s in sources) else ESTIMATED

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
        self.tracker_.stop()
        cpu = cpu_seconds() - self.cpu_start_
        if exc_type is not None:
            return  # the block failed: no reading, and its error goes on unmasked
        data = getattr(self.tracker_, "final_emissions_data", None)
        if data is None:
            raise CurateError("the energy meter (CodeCarbon) did not return a reading",
                              hint="check that codecarbon and psutil are installed (pip install 'curate[energy]')")
        sources = dict(_source(h, self.config, data) for h in getattr(self.tracker_, "_hardware", []))
        methods = {part: source.method for part, source in sources.items()}
        figures = {"cpu_kwh": data.cpu_energy, "ram_kwh": data.ram_energy, "gpu_kwh": data.gpu_energy}
        if not all(math.isfinite(v) and v >= 0 for v in figures.values()) or not methods:
            raise CurateError(f"the energy meter returned unusable figures {figures}",
                              hint="rerun with --debug; CodeCarbon may not support this machine")
        method = MEASURED if all(m == MEASURED for m in methods.values()) else ESTIMATED
        self.reading_ = EnergyReading(
            kwh=sum(figures.values()), **figures, gco2eq=float(data.emissions) * 1000.0,
            wall_seconds=float(data.duration), cpu_seconds=cpu, method=method,
            sources={**sources, "grid": _grid(self.config, data)},
        )
