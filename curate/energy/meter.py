"""The energy meter: CodeCarbon's tracker behind one context manager, every figure method-tagged.

``measured`` means a hardware energy counter (RAPL, NVML, powermetrics) gave the figure;
``estimated`` means CodeCarbon's model did (CPU load x CPU power, RAM size x watts).
A reading is ``measured`` only when every component in it was measured.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from curate.energy.config import EnergyConfig
from curate.errors import CurateError, require

MEASURED, ESTIMATED = "measured", "estimated"
_COUNTER_MODES = {"intel_rapl": "RAPL", "windows_emi": "Windows EMI (RAPL)", "intel_power_gadget": "Intel Power Gadget"}


def cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (user + system)."""
    return float(sum(os.times()[:4]))


@dataclass(frozen=True)
class EnergyReading:
    """Energy, emissions and time of one metered span (or the mean of ``repetitions`` spans).

    ``kwh`` is the sum of ``cpu_kwh``, ``ram_kwh`` and ``gpu_kwh``; ``method`` is ``measured``
    or ``estimated``; ``sources`` says, per component, what CodeCarbon used.
    """

    kwh: float
    cpu_kwh: float
    ram_kwh: float
    gpu_kwh: float
    gco2eq: float
    wall_seconds: float
    cpu_seconds: float
    method: str
    sources: dict[str, str] = field(default_factory=dict)
    repetitions: int = 1

    def __add__(self, other: EnergyReading) -> EnergyReading:
        """Two spans together: figures add up; ``measured`` only if both were."""
        method = MEASURED if self.method == other.method == MEASURED else ESTIMATED
        sums = {name: getattr(self, name) + getattr(other, name)
                for name in ("kwh", "cpu_kwh", "ram_kwh", "gpu_kwh", "gco2eq", "wall_seconds", "cpu_seconds")}
        return EnergyReading(**sums, method=method, sources={**other.sources, **self.sources},
                             repetitions=self.repetitions + other.repetitions)

    def per(self, repetitions: int) -> EnergyReading:
        """This span divided into ``repetitions`` equal parts (the figure per repetition)."""
        scale = 1.0 / repetitions
        return replace(self, kwh=self.kwh * scale, cpu_kwh=self.cpu_kwh * scale, ram_kwh=self.ram_kwh * scale,
                       gpu_kwh=self.gpu_kwh * scale, gco2eq=self.gco2eq * scale,
                       wall_seconds=self.wall_seconds * scale, cpu_seconds=self.cpu_seconds * scale,
                       repetitions=repetitions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (kWh, gCO2eq, seconds, method, sources, repetitions)."""
        return asdict(self)

    @classmethod
    def zero(cls) -> EnergyReading:
        """No span at all (the neutral element of ``+``)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, MEASURED, {}, 0)


def _source(hardware: Any, config: EnergyConfig) -> tuple[str, str, str]:
    """(component, method, description) of one CodeCarbon hardware object."""
    kind = type(hardware).__name__
    if kind == "CPU":
        mode = getattr(hardware, "_mode", "unknown")
        if mode in _COUNTER_MODES:
            return "cpu", MEASURED, _COUNTER_MODES[mode]
        origin = "set by energy.cpu_watts" if config.cpu_watts else "CodeCarbon's TDP table"
        if getattr(hardware, "_is_generic_tdp", False):
            origin = "generic constant: CPU model unknown, set energy.cpu_watts"
        return "cpu", ESTIMATED, f"{mode} model x {getattr(hardware, '_tdp', '?')} W ({origin})"
    if kind == "GPU":
        return "gpu", MEASURED, "NVML/AMDSMI energy counters"
    if kind == "RAM":
        origin = "set by energy.ram_watts" if config.ram_watts else "CodeCarbon's RAM model"
        return "ram", ESTIMATED, f"RAM power x time ({origin})"
    if kind in {"AppleSiliconChip", "Raspberry"}:
        part = str(getattr(hardware, "chip_part", "CPU")).lower()
        return part, MEASURED, f"{kind} power counters"
    return kind.lower(), ESTIMATED, repr(hardware)


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
        self._cpu = cpu_seconds()
        return self

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        self.tracker_.stop()
        cpu = cpu_seconds() - self._cpu
        if exc_type is not None:
            return  # the block failed: no reading, and its error goes on unmasked
        data = getattr(self.tracker_, "final_emissions_data", None)
        if data is None:
            raise CurateError("the energy meter (CodeCarbon) did not return a reading",
                              hint="check that codecarbon and psutil are installed (pip install 'curate[energy]')")
        sources = [_source(h, self.config) for h in getattr(self.tracker_, "_hardware", [])]
        methods = {part: method for part, method, _ in sources}
        figures = {"cpu_kwh": data.cpu_energy, "ram_kwh": data.ram_energy, "gpu_kwh": data.gpu_energy}
        if not all(math.isfinite(v) and v >= 0 for v in figures.values()) or not methods:
            raise CurateError(f"the energy meter returned unusable figures {figures}",
                              hint="rerun with --debug; CodeCarbon may not support this machine")
        method = MEASURED if all(m == MEASURED for m in methods.values()) else ESTIMATED
        self.reading_ = EnergyReading(
            kwh=sum(figures.values()), **figures, gco2eq=float(data.emissions) * 1000.0,
            wall_seconds=float(data.duration), cpu_seconds=cpu, method=method,
            sources={part: f"{method_}: {text}" for part, method_, text in sources},
        )
