"""report.json: the funnel, per-stage stats, and removals by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from curate.config import PipelineConfig
    from curate.engine.local import StageRecord
    from curate.io.readers import ReadResult


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _energy_total(records: list[StageRecord]) -> dict[str, Any] | None:
    """The curation's energy: every metered stage's figures added up (method ``measured`` only if all were)."""
    from curate.energy import EnergyReading

    readings = [EnergyReading(**r.stats["energy"]) for r in records if "energy" in r.stats]
    return sum(readings, EnergyReading.zero()).to_dict() if readings else None


def build_report(config: PipelineConfig, read: ReadResult, frame: pl.DataFrame, curated: pl.DataFrame,
                 removed: pl.DataFrame, records: list[StageRecord], seconds: float, proxy: dict | None = None,
                 budget: dict | None = None, stopped: str | None = None, test_rows: int = 0) -> dict[str, Any]:
    """The run's numbers; every figure the HTML report shows comes from here.

    ``proxy`` is the proxy-training section, ``budget`` the carbon budget's use, and
    ``stopped`` why the run stopped early (the budget), if it did; ``test_rows`` the rows
    split off the input as the proxy's test set (kept + removed + test == input).
    """
    total = frame.height
    pool = total - test_rows  # percentages are of the rows curation could keep
    empty = int((removed["reason"] == "empty_text").sum())
    funnel = [{"stage": "input", "type": "input", "rows_in": total, "rows_out": pool - empty,
               "removed": empty, "test_rows": test_rows, "kept_pct": _pct(pool - empty, pool)}]
    for record in records:
        stats = record.stats
        funnel.append({
            "stage": record.label, "type": record.type,
            "rows_in": stats["rows_in"], "rows_out": stats["rows_out"], "removed": stats["removed"],
            "kept_pct": _pct(stats["rows_out"], pool),
            "seconds": stats["seconds"], "cpu_seconds": stats["cpu_seconds"], "resumed": stats["resumed"],
            **({"energy": stats["energy"]} if "energy" in stats else {}),
            "stats": {k: v for k, v in stats.items()
                      if k not in {"rows_in", "rows_out", "removed", "seconds", "cpu_seconds", "resumed", "energy"}},
        })
    reasons = removed.group_by("stage", "reason", maintain_order=True).len().rows(named=True)
    return {
        "name": config.name,
        "input": {"source": read.source, "rows": total, "quarantined": len(read.bad_rows), "empty_text": empty,
                  **({"lines": read.lines.to_dict()} if read.lines is not None else {})},
        "funnel": funnel,
        "removed_by_reason": [{"stage": r["stage"], "reason": r["reason"], "rows": r["len"]} for r in reasons],
        "totals": {"rows_in": total, "rows_kept": curated.height, "rows_removed": removed.height, "rows_test": test_rows,
                   "kept_pct": _pct(curated.height, pool), "seconds": round(seconds, 3),
                   "curation_energy": _energy_total(records)},
        **({"proxy": proxy} if proxy is not None else {}),
        **({"budget": budget} if budget is not None else {}),
        "stopped": stopped,
        "warnings": [f"stage '{r.label}': {w}" for r in records for w in r.stats.get("warnings", [])],
    }
