"""Hardware energy counters: RAPL through Linux powercap (CPU packages) and NVML (NVIDIA GPUs).

Each reader says whether its counters can be read here and, if so, reads cumulative joules;
:func:`joules_between` turns two reads into the energy of the span between them (a counter
that wrapped around is corrected with its range). Nothing here estimates: a reader that
cannot read says why and the meter falls back on a power model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POWERCAP = Path("/sys/class/powercap")
_PACKAGE_DIR = re.compile(r"^intel-rapl:\d+$")  # AMD's packages appear under the same name since Linux 5.8


@dataclass(frozen=True)
class Domain:
    """One counter: its name (``package-0``, ``gpu-0 NVIDIA H100``), where it is read and its wrap range."""

    name: str
    path: str
    max_joules: float | None


class RaplCounters:
    """The package-level RAPL counters under a powercap tree (``/sys/class/powercap`` by default).

    Package domains (``intel-rapl:N`` named ``package-N``) count the energy of the whole CPU
    package, every process on it included. ``energy_uj`` is in microjoules and wraps at
    ``max_energy_range_uj``.

    Parameters
    ----------
    root : Path
        The powercap folder (a copy of its layout in tests).
    """

    def __init__(self, root: Path | str = POWERCAP) -> None:
        self.root = Path(root)

    def probe(self) -> tuple[list[Domain], str]:
        """The readable package domains, and why there are none when the list is empty."""
        if not self.root.is_dir():
            return [], f"no powercap folder at {self.root} (no RAPL driver, or a VM/container that hides it)"
        found, unreadable = [], []
        for entry in sorted(self.root.iterdir()):
            if not _PACKAGE_DIR.match(entry.name):
                continue
            name = _read_text(entry / "name")
            if name is None or not name.startswith("package"):
                continue
            energy = entry / "energy_uj"
            if _read_int(energy) is None:
                unreadable.append(str(energy))
                continue
            wrap = _read_int(entry / "max_energy_range_uj")
            found.append(Domain(name=name, path=str(energy), max_joules=wrap / 1e6 if wrap else None))
        if found:
            return found, ""
        if unreadable:
            return [], (f"RAPL counters exist but cannot be read ({unreadable[0]}): "
                        "grant read access (chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj)")
        return [], f"no RAPL package domain under {self.root}"

    def read(self, domains: list[Domain]) -> dict[str, float]:
        """Cumulative joules of each domain now."""
        out = {}
        for domain in domains:
            value = _read_int(Path(domain.path))
            if value is None:
                raise OSError(f"RAPL counter {domain.path} became unreadable")
            out[domain.name] = value / 1e6
        return out


class NvmlCounters:
    """NVIDIA GPUs' cumulative energy counters through NVML (``nvidia-ml-py``; Volta and newer).

    Parameters
    ----------
    nvml : module, optional
        The ``pynvml`` module, or an object with the same functions (a simulated NVML in tests);
        default: import ``pynvml`` (absent: no GPU counters).
    """

    def __init__(self, nvml: Any = None) -> None:
        self.nvml = nvml

    def _module(self) -> Any:
        if self.nvml is None:
            try:
                import pynvml
            except ImportError:
                return None
            self.nvml = pynvml
        return self.nvml

    def probe(self) -> tuple[list[Domain], str]:
        """The GPUs whose energy counter answers, and why there are none when the list is empty."""
        nvml = self._module()
        if nvml is None:
            return [], "nvidia-ml-py is not installed"
        try:
            nvml.nvmlInit()
            count = nvml.nvmlDeviceGetCount()
        except Exception as exc:  # noqa: BLE001 - NVMLError and its driver-specific subclasses
            return [], f"NVML did not start: {exc}"
        if count == 0:
            return [], "NVML sees no GPU"
        found, refused = [], []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name = nvml.nvmlDeviceGetName(handle)
                nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            except Exception as exc:  # noqa: BLE001 - e.g. NVMLError_NotSupported before Volta
                refused.append(f"GPU {index}: {exc}")
                continue
            name = name.decode() if isinstance(name, bytes) else str(name)
            found.append(Domain(name=f"gpu-{index} {name}", path=str(index), max_joules=None))
        if found:
            return found, ""
        return [], "no GPU energy counter answers (" + "; ".join(refused) + ")"

    def read(self, domains: list[Domain]) -> dict[str, float]:
        """Cumulative joules of each GPU now (NVML counts millijoules since the driver loaded)."""
        nvml = self._module()
        return {d.name: nvml.nvmlDeviceGetTotalEnergyConsumption(nvml.nvmlDeviceGetHandleByIndex(int(d.path))) / 1e3
                for d in domains}


def joules_between(domains: list[Domain], start: dict[str, float], end: dict[str, float]) -> float:
    """Joules counted from ``start`` to ``end`` over all domains; a counter that wrapped adds its range."""
    total = 0.0
    for domain in domains:
        delta = end[domain.name] - start[domain.name]
        if delta < 0 and domain.max_joules:
            delta += domain.max_joules
        total += max(delta, 0.0)
    return total


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
