"""Threshold sweeps from a run's cached outputs: "rows removed vs threshold", nothing recomputed.

A quality-score sweep reads the scoring stage's checkpoint (its kept rows carry the score
column) and its ledger rows under the thresholds it declared on that column (the value that
broke them), so the rows the rule decided have a value and the count the rule removes at any
threshold follows. A similarity sweep (semantic or near-duplicate stages) reads the per-row
similarity artefact the stage declared with its threshold (semantic_dedup's
``semantic_neighbours.parquet``: every row's cosine to its nearest higher-priority row, so any
eps is exact), and falls back to the ledger's scores, which only tell the counts at thresholds
at or above the run's own. MinHash stages: see :func:`curate.audit.minhash_sweep`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from curate.audit.views import declared, score_values
from curate.errors import InputError
from curate.record import RunDir, RunRecord, read_record
from curate.record.models import FunnelRow
from curate.schema import ID
from curate.stages.base import Threshold


def _grid(values: np.ndarray, thresholds: list[float] | np.ndarray | None, points: int) -> np.ndarray:
    if thresholds is not None:
        return np.asarray(thresholds, dtype=np.float64)
    if len(values) == 0:
        return np.zeros(0)
    return np.unique(np.quantile(values, np.linspace(0, 1, points), method="nearest"))


def count_removed(values: np.ndarray, thresholds: np.ndarray, side: str) -> np.ndarray:
    """How many ``values`` fail each threshold: under it (``side="below"``) or over it (``"above"``)."""
    ordered = np.sort(values)
    if side == "below":
        return np.searchsorted(ordered, thresholds, side="left")
    return len(ordered) - np.searchsorted(ordered, thresholds, side="right")


def score_sweep(run_dir: str | Path, column: str, thresholds: list[float] | np.ndarray | None = None,
                side: str | None = None, points: int = 50) -> tuple[pl.DataFrame, dict]:
    """Rows a quality stage would remove at each threshold of one score column.

    Parameters
    ----------
    run_dir : str or Path
        A finished run directory.
    column : str
        A score column (``q_<rule>``).
    thresholds : sequence of float, optional
        Where to evaluate; by default ``points`` quantiles of the values.
    side : {"below", "above"}, optional
        Which side of the threshold is removed; by default the side of the first threshold the
        scoring stage declared on the column, else "below".

    Returns
    -------
    (polars.DataFrame, dict)
        ``threshold, removed, removed_pct`` and ``{"stage", "column", "side", "run_threshold", "rows"}``.
    """
    rd, record = RunDir(Path(run_dir)), read_record(run_dir)
    stage, values = score_values(rd, record, pl.read_parquet(rd.removed), column)
    if values.height == 0:
        raise InputError(f"no score column '{column}' in run {run_dir}",
                         hint="score columns are the q_* columns of a quality stage's checkpoint")
    cuts = [t for t in declared(record, column, stage) if side is None or t.removes == side]
    run = cuts[0] if cuts else None
    side = side or (run.removes if run else "below")
    array = values["value"].drop_nulls().to_numpy()
    grid = _grid(array, thresholds, points)
    removed = count_removed(array, grid, side)
    table = pl.DataFrame({"threshold": grid, "removed": removed.astype(np.int64),
                          "removed_pct": np.round(100 * removed / max(len(array), 1), 3)})
    return table, {"stage": stage, "column": column, "side": side, "run_threshold": run.value if run else None,
                   "rows": len(array)}


def stage_row(record: RunRecord, stage: str, where: Path) -> FunnelRow:
    """The funnel row of the stage named ``stage``, or an InputError listing the stages."""
    row = record.stage(stage)
    if row is None:
        raise InputError(f"stage '{stage}' is not in run {where}",
                         hint="stages are: " + ", ".join(r.stage for r in record.stages))
    return row


def similarity_threshold(row: FunnelRow) -> Threshold | None:
    """The similarity cut a dedup stage declared (rows at or above it are duplicates)."""
    return next((t for t in row.thresholds if t.removes == "at_or_above"), None)


def similarity_values(rd: RunDir, row: FunnelRow) -> tuple[np.ndarray, str]:
    """Per-row similarities of a dedup stage: the artefact it declared with its threshold when that
    file holds the column, else its ledger scores."""
    cut = similarity_threshold(row)
    if cut is not None and cut.artifact is not None:
        path = rd.artifacts(row.index, row.stage) / cut.artifact
        if path.is_file() and cut.column in pl.read_parquet_schema(path):
            return pl.read_parquet(path, columns=[cut.column])[cut.column].drop_nulls().to_numpy(), "artifact"
    ledger = pl.scan_parquet(rd.removed).filter(pl.col("stage") == row.stage).select(ID, "score").collect()
    return ledger["score"].drop_nulls().to_numpy(), "ledger"


def similarity_sweep(run_dir: str | Path, stage: str, thresholds: list[float] | np.ndarray | None = None,
                     points: int = 50) -> tuple[pl.DataFrame, dict]:
    """Rows a similarity-based dedup stage would remove at each similarity threshold.

    A row goes when its similarity to a higher-priority neighbour is at or above the threshold.
    With the per-row similarity artefact the stage declared (semantic_dedup's
    ``artifacts/NN-label/semantic_neighbours.parquet``) every threshold is answered; from the
    ledger alone only thresholds at or above the run's (the others get a null ``removed``).
    For SemDeDup, ``eps = 1 - threshold``.

    Returns
    -------
    (polars.DataFrame, dict)
        ``threshold, eps, removed`` and ``{"stage", "source", "run_threshold", "rows"}``.
    """
    rd = RunDir(Path(run_dir))
    row = stage_row(read_record(run_dir), stage, rd.root)
    values, source = similarity_values(rd, row)
    cut = similarity_threshold(row)
    run = cut.value if cut is not None else None
    grid = _grid(values, thresholds, points)
    # compare in the values' precision, as the stage does (SemDeDup: float32 cosine >= float32(1 - eps))
    cut = grid.astype(values.dtype) if values.dtype.kind == "f" else grid
    removed = (len(values) - np.searchsorted(np.sort(values), cut, side="left")).astype(np.int64)
    floor = run if run is not None else (values.min() if len(values) else np.inf)
    known = np.ones(len(grid), dtype=bool) if source == "artifact" else grid >= floor - 1e-12
    table = pl.DataFrame({"threshold": grid, "eps": 1.0 - grid,
                          "removed": pl.Series(removed).set(pl.Series(~known), None)})
    return table, {"stage": stage, "source": source, "run_threshold": run, "rows": len(values)}
