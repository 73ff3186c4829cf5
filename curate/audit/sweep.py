"""Threshold sweeps from a run's cached outputs: "rows removed vs threshold", nothing recomputed.

A quality-score sweep reads the scoring stage's checkpoint (its kept rows carry the score
column) and its ledger rows for that rule (the value that broke it), so the rows the rule
decided have a value and the count the rule removes at any threshold follows. A similarity
sweep (semantic or near-duplicate stages) reads a per-row similarity artefact when the stage
cached one (semantic_dedup's ``semantic_neighbours.parquet``: every row's cosine to its nearest
higher-priority row, so any eps is exact; the run's own threshold, also under ``eps: auto``, is
the ``threshold`` in the stage's stats), and falls back to the ledger's scores, which only
tell the counts at thresholds at or above the run's own. MinHash stages: see
:func:`curate.audit.minhash_sweep`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from curate.engine.rundir import RunDir
from curate.errors import InputError
from curate.quality.rules import BY_NAME
from curate.report.adapt import score_threshold
from curate.report.views import score_values, stage_list
from curate.schema import ID

SIMILARITY_FILES = ("semantic_neighbours.parquet", "similarity.parquet", "similarities.parquet",
                    "max_similarity.parquet")
SIMILARITY_COLUMNS = ("nearest_similarity", "max_similarity", "similarity", "cosine", "score")
_RUN_THRESHOLD_KEYS = ("threshold", "similarity_threshold", "jaccard_threshold")


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


def _rule_bound(stage_config: dict | None, column: str) -> tuple[float, str] | None:
    """A ``heuristic_filter`` stage's bound on ``column`` (its preset's or overridden) and the removed side;
    the lower bound when the rule has both."""
    if not stage_config or stage_config.get("type") != "heuristic_filter":
        return None
    from curate.stages.heuristic_filter import HeuristicFilterConfig

    config = HeuristicFilterConfig.model_validate(stage_config)
    for name, (low, high) in config.bounds().items():
        if BY_NAME[name].column == column:
            return (float(low), "below") if low is not None else (float(high), "above") if high is not None else None
    return None


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
        Which side of the threshold is removed; by default from the stage config, else "below".

    Returns
    -------
    (polars.DataFrame, dict)
        ``threshold, removed, removed_pct`` and ``{"stage", "column", "side", "run_threshold", "rows"}``.
    """
    rd = RunDir(Path(run_dir))
    stage, values = score_values(rd, pl.read_parquet(rd.removed), column)
    if values.height == 0:
        raise InputError(f"no score column '{column}' in run {run_dir}",
                         hint="score columns are the q_* columns of a quality stage's checkpoint")
    configs = {label: config for _, label, config in stage_list(rd)}
    run = score_threshold(configs.get(stage), column) or _rule_bound(configs.get(stage), column)
    side = side or (run[1] if run else "below")
    array = values["value"].drop_nulls().to_numpy()
    grid = _grid(array, thresholds, points)
    removed = count_removed(array, grid, side)
    table = pl.DataFrame({"threshold": grid, "removed": removed.astype(np.int64),
                          "removed_pct": np.round(100 * removed / max(len(array), 1), 3)})
    return table, {"stage": stage, "column": column, "side": side, "run_threshold": run[0] if run else None,
                   "rows": len(array)}


def _stage_index(rd: RunDir, stage: str) -> tuple[int, dict]:
    for index, label, config in stage_list(rd):
        if label == stage:
            return index, config
    raise InputError(f"stage '{stage}' is not in run {rd.root}",
                     hint="stages are: " + ", ".join(label for _, label, _ in stage_list(rd)))


def _stage_stats(rd: RunDir, stage: str) -> dict:
    """The stage's stats as report.json records them (empty when the run has no report)."""
    if not rd.report.exists():
        return {}
    funnel = json.loads(rd.report.read_text()).get("funnel", [])
    return next((row.get("stats") or {} for row in funnel if row.get("stage") == stage), {})


def similarity_values(rd: RunDir, stage: str) -> tuple[np.ndarray, str]:
    """Per-row similarities of a dedup stage: its cached artefact when present, else its ledger scores."""
    index, _ = _stage_index(rd, stage)
    folder = rd.artifacts(index, stage)
    for name in SIMILARITY_FILES:
        path = folder / name
        if path.exists():
            schema = pl.read_parquet_schema(path)
            column = next((c for c in SIMILARITY_COLUMNS if c in schema), None)
            if column is not None:
                return pl.read_parquet(path, columns=[column])[column].drop_nulls().to_numpy(), "artifact"
    ledger = pl.scan_parquet(rd.removed).filter(pl.col("stage") == stage).select(ID, "score").collect()
    return ledger["score"].drop_nulls().to_numpy(), "ledger"


def similarity_sweep(run_dir: str | Path, stage: str, thresholds: list[float] | np.ndarray | None = None,
                     points: int = 50) -> tuple[pl.DataFrame, dict]:
    """Rows a similarity-based dedup stage would remove at each similarity threshold.

    A row goes when its similarity to a higher-priority neighbour is at or above the threshold.
    With the stage's per-row similarity artefact (semantic_dedup's
    ``artifacts/NN-label/semantic_neighbours.parquet``, or a ``similarity.parquet``) every
    threshold is answered; from the ledger alone only thresholds at or above the run's (the
    others get a null ``removed``). For SemDeDup, ``eps = 1 - threshold``.

    Returns
    -------
    (polars.DataFrame, dict)
        ``threshold, eps, removed`` and ``{"stage", "source", "run_threshold", "rows"}``.
    """
    rd = RunDir(Path(run_dir))
    _, config = _stage_index(rd, stage)
    values, source = similarity_values(rd, stage)
    run = next((float(config[k]) for k in _RUN_THRESHOLD_KEYS if isinstance(config.get(k), (int, float))), None)
    if run is None:  # the threshold the stage applied (SemDeDup's eps: auto is only known from its stats)
        run = _stage_stats(rd, stage).get("threshold")
    if run is None and isinstance(config.get("eps"), (int, float)):
        run = 1.0 - float(config["eps"])
    grid = _grid(values, thresholds, points)
    # compare in the values' precision, as the stage does (SemDeDup: float32 cosine >= float32(1 - eps))
    cut = grid.astype(values.dtype) if values.dtype.kind == "f" else grid
    removed = (len(values) - np.searchsorted(np.sort(values), cut, side="left")).astype(np.int64)
    floor = run if run is not None else (values.min() if len(values) else np.inf)
    known = np.ones(len(grid), dtype=bool) if source == "artifact" else grid >= floor - 1e-12
    table = pl.DataFrame({"threshold": grid, "eps": 1.0 - grid,
                          "removed": pl.Series(removed).set(pl.Series(~known), None)})
    return table, {"stage": stage, "source": source, "run_threshold": run, "rows": len(values)}
