"""Where the report finds energy, proxy and score figures: the one place that knows their key names.

Stages and the proxy run write their numbers into report.json under names they choose; these
adapters locate them and hand the page a fixed shape. They never change a value, only find it,
so every number the page shows is a number in report.json.
"""

from __future__ import annotations

import re
from typing import Any

SCORE_PREFIXES = ("q_",)
ARMS = ("full", "curated", "random")
HEADLINE_KEYS = ("energy_saved_pct", "macro_f1_delta", "beats_random", "break_even_runs")
_KWH_KEYS = ("kwh", "energy_kwh")
_CO2_KEYS = ("gco2eq", "gco2", "co2_g", "emissions_g")
_METHOD_KEYS = ("method", "energy_method")

Path = tuple[str | int, ...]
Found = tuple[Path | None, Any]
"""A value and the key path where it sits in report.json (``None``, ``None`` when absent)."""


def _first(mapping: dict[str, Any], keys: tuple[str, ...], base: Path) -> Found:
    key = next((k for k in keys if mapping.get(k) is not None), None)
    return (base + (key,), mapping[key]) if key else (None, None)


def stage_energy(row: dict[str, Any], base: Path = ()) -> dict[str, Found] | None:
    """A funnel row's energy as ``{"kwh", "gco2eq", "method"}`` found values, or ``None``.

    Looks in ``row["stats"]["energy"]`` (a dict), then in the flat stats, then in the row itself;
    ``base`` is the row's own path in report.json.
    """
    stats = row.get("stats") or {}
    for source, path in ((stats.get("energy"), base + ("stats", "energy")), (stats, base + ("stats",)), (row, base)):
        if isinstance(source, dict) and _first(source, _KWH_KEYS, path)[0] is not None:
            return {"kwh": _first(source, _KWH_KEYS, path), "gco2eq": _first(source, _CO2_KEYS, path),
                    "method": _first(source, _METHOD_KEYS, path)}
    return None


def _mean_std(arm: dict[str, Any], key: str, base: Path) -> tuple[Found, Found]:
    value = arm.get(key)
    if isinstance(value, dict):
        return _first(value, ("mean",), base + (key,)), _first(value, ("std",), base + (key,))
    if isinstance(value, (list, tuple)) and value:
        return ((base + (key, 0), value[0]),
                (base + (key, 1), value[1]) if len(value) > 1 else (None, None))
    return (base + (key,), value) if value is not None else (None, None), (None, None)


def proxy_section(report: dict[str, Any]) -> dict[str, Any] | None:
    """The proxy-training comparison in a fixed shape, or ``None`` when the run had none.

    Returns ``{"arms": [{"name", "accuracy", "accuracy_std", "macro_f1", "macro_f1_std", "kwh",
    "gco2eq", "seconds", "method", "repetitions"}], "headline": {...}}`` whose values are
    ``Found`` pairs. ``report["proxy"]["arms"]`` may be a dict keyed by arm name or a list of
    dicts with ``name``/``arm``; headline keys may sit in ``proxy`` or at the top level.
    """
    proxy = report.get("proxy")
    if not isinstance(proxy, dict):
        return None
    if "arms" in proxy:
        raw, base = proxy["arms"], ("proxy", "arms")
    else:
        raw, base = {k: proxy[k] for k in ARMS if isinstance(proxy.get(k), dict)}, ("proxy",)
    items = (((k, k), a) for k, a in raw.items()) if isinstance(raw, dict) else \
        (((a.get("name") or a.get("arm"), i), a) for i, a in enumerate(raw))
    arms = []
    for (name, key), arm in items:
        path = base + (key,)
        accuracy, accuracy_std = _mean_std(arm, "accuracy", path)
        f1, f1_std = _mean_std(arm, "macro_f1", path)
        energy, energy_path = (arm["energy"], path + ("energy",)) if isinstance(arm.get("energy"), dict) else (arm, path)
        repetitions = _first(arm, ("repetitions",), path)
        arms.append({"name": name, "accuracy": accuracy, "accuracy_std": accuracy_std, "macro_f1": f1,
                     "macro_f1_std": f1_std, "kwh": _first(energy, _KWH_KEYS, energy_path),
                     "gco2eq": _first(energy, _CO2_KEYS, energy_path), "seconds": _first(arm, ("seconds",), path),
                     "method": _first(energy, _METHOD_KEYS, energy_path),
                     "repetitions": repetitions if repetitions[0] else _first(proxy, ("repetitions",), ("proxy",))})
    headline = {}
    for key in HEADLINE_KEYS:
        found = _first(proxy, (key,), ("proxy",))
        headline[key] = found if found[0] else _first(report, (key,), ())
    return {"arms": arms, "headline": {k: v for k, v in headline.items() if v[0]}} if arms else None


def is_score_column(name: str) -> bool:
    """Whether a column holds a per-row quality score (``q_<rule>``)."""
    return name.startswith(SCORE_PREFIXES)


def rule_of(column: str) -> str:
    """The ledger reason that goes with a score column (``q_len`` -> ``len``)."""
    for prefix in SCORE_PREFIXES:
        if column.startswith(prefix):
            return column[len(prefix):]
    return column


def score_threshold(stage_config: dict[str, Any] | None, column: str) -> tuple[float, str] | None:
    """The threshold a stage config sets for a score column, with the side that is removed.

    Returns ``(value, "below")`` when rows under the value are removed (``min_*``, ``threshold``),
    ``(value, "above")`` for ``max_*`` keys, or ``None`` when the config names no threshold.
    """
    if not stage_config:
        return None
    rule = rule_of(column)
    candidates = [stage_config]
    for key in ("rules", "thresholds", rule):
        value = stage_config.get(key)
        if isinstance(value, dict):
            candidates.append(value.get(rule) if isinstance(value.get(rule), dict) else value)
    for config in candidates:
        for key, value in config.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if re.fullmatch(rf"(max_{rule}|{rule}_max|max)", key):
                return float(value), "above"
            if re.fullmatch(rf"(min_{rule}|{rule}_min|min|{rule}|threshold|{rule}_threshold)", key):
                return float(value), "below"
    return None
