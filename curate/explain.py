"""Why was a row removed? Looks it up in a run directory's ledger, its record and its input checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import InputError
from curate.record import RunDir, read_record
from curate.record.models import FunnelRow
from curate.schema import ID


def _stage(row: FunnelRow, reason: str | None) -> dict[str, Any]:
    """The stage as the record has it: type, position, the cut behind ``reason``, what the guard said."""
    cuts = [t for t in row.thresholds if t.reason == reason] or row.thresholds
    return {"stage": row.stage, "type": row.type, "index": row.index,
            "thresholds": [t.model_dump() for t in cuts],
            "guard": row.guard.model_dump(exclude={"energy"}) if row.guard is not None else None}


def explain_row(run_dir: str | Path, row_id: str) -> dict[str, Any]:
    """The ledger entry of ``row_id`` with its row (for shards: its ``shard`` and ``line``), the column
    or template its text was made from, the stage that removed it (type, threshold, the guard's
    verdict), and the row it duplicated (if any); for a kept row, whether the guard restored it."""
    rd = RunDir(Path(run_dir))
    if not rd.removed.exists():
        raise InputError(f"{run_dir} is not a finished run directory (no removed.parquet)",
                         hint="pass the folder `curate run` printed")
    record = read_record(rd.root)
    rows = pl.read_parquet(rd.input)

    def row(value: str) -> dict[str, Any] | None:
        found = rows.filter(pl.col(ID) == value)
        return found.row(0, named=True) if found.height else None

    entry = pl.read_parquet(rd.removed).filter(pl.col(ID) == row_id)
    if entry.height == 0:
        if pl.read_parquet(rd.curated, columns=[ID]).filter(pl.col(ID) == row_id).height:
            info: dict[str, Any] = {"id": row_id, "status": "kept", "text_from": record.input.text, "row": row(row_id)}
            restored = pl.read_parquet(rd.restored).filter(pl.col(ID) == row_id) if rd.restored.exists() else None
            if restored is not None and restored.height:
                info["restored_by_guard"] = {k: v for k, v in restored.row(0, named=True).items() if k != ID}
            return info
        raise InputError(f"id '{row_id}' is not in run {run_dir}", hint="ids are in curated.parquet and removed.parquet")
    ledger = entry.row(0, named=True)
    info = {"id": row_id, "status": "removed", **{k: v for k, v in ledger.items() if k != ID},
            "text_from": record.input.text, "row": row(row_id)}
    stage = record.stage(ledger["stage"])
    if stage is not None:
        info["removed_by"] = _stage(stage, ledger["reason"])
    if ledger.get("duplicate_of"):
        info["duplicate_of_row"] = row(ledger["duplicate_of"])
    return info
