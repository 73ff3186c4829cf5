"""How numbers are written, on the page and in the terminal alike, so the two agree to the digit."""

from __future__ import annotations

import math
from html import escape
from typing import Any

SCALE = {"Wh": 1e3, "mWh": 1e6, "pt": 100.0, "PFLOP": 1e-15}
"""Record energy is in kWh and score changes are fractions; a figure shown in one of these units is
the record's value times the scale."""


def wh(kwh: float) -> str:
    """Energy in watt-hours, four significant digits: ``0.2413 Wh`` (curation and stage energy)."""
    return f"{kwh * SCALE['Wh']:.4g} Wh"


def mwh(kwh: float) -> str:
    """Energy in milliwatt-hours, three significant digits: ``12.3 mWh`` (energy per proxy fit)."""
    return f"{kwh * SCALE['mWh']:.3g} mWh"


def points(fraction: float) -> str:
    """A change of a score in points, signed, two decimals: ``+0.10 pt`` (as ``curate run`` prints it)."""
    return f"{fraction * SCALE['pt']:+.2f} pt"


def number(value: Any) -> str:
    """A plain number: thousands separators for large ones, three significant digits for small ones."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0 or abs(value) >= 100:
            return f"{value:,.1f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
    return escape(str(value))


def show(value: Any, unit: str = "") -> str:
    """``value`` as the page and the terminal write it in ``unit`` (``Wh``, ``mWh``, ``pt``, ``PFLOP``, ``%`` or none)."""
    if unit == "Wh":
        return wh(value)
    if unit == "mWh":
        return mwh(value)
    if unit == "pt":
        return points(value)
    if unit == "PFLOP":
        return f"{value * SCALE['PFLOP']:.4g} PFLOP"
    return number(value) + unit
