"""Why was a row removed? Looks it up in a run directory's ledger and input checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from curate.engine.rundir import RunDir
from curate.errors import InputError
from curate.schema import ID


def explain_row(run_dir: str | Path, row_id: str) -> dict[str, Any]:
    """The ledger entry of ``row_id`` with its text, and the row it duplicated (if any)."""
    rd = RunDir(Path(run_dir))
    if not rd.removed.exists():
        raise InputError(f"{run_dir} is not a finished run directory (no removed.parquet)",
                         hint="pass the folder `curate run` printed")
    rows = pl.read_parquet(rd.input)

    def row(value: str) -> dict[str, Any] | None:
        found = rows.filter(pl.col(ID) == value)
        return found.row(0, named=True) if found.height else None

    entry = pl.read_parquet(rd.removed).filter(pl.col(ID) == row_id)
    if entry.height == 0:
        if pl.read_parquet(rd.curated, columns=[ID]).filter(pl.col(ID) == row_id).height:
            return {"id": row_id, "status": "kept", "row": row(row_id)}
        raise InputError(f"id '{row_id}' is not in run {run_dir}", hint="ids are in curated.parquet and removed.parquet")
    ledger = entry.row(0, named=True)
    info = {"id": row_id, "status": "removed", **{k: v for k, v in ledger.items() if k != ID}, "row": row(row_id)}
    if ledger.get("duplicate_of"):
        info["duplicate_of_row"] = row(ledger["duplicate_of"])
    return info
