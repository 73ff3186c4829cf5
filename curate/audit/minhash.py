"""Threshold sweep over a run's cached MinHash signatures (no re-hashing)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from curate.errors import InputError, require

DEFAULT_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def _artifact(run_dir: Path, stage: str | None) -> Path:
    from curate.stages.minhash_dedup import ARTIFACT

    found = sorted(p for p in (run_dir / "artifacts").glob(f"*/{ARTIFACT}") if p.is_dir())
    if stage is not None:
        found = [p for p in found if p.parent.name.split("-", 1)[-1] == stage]
    if not found:
        raise InputError(f"no MinHash signatures under {run_dir / 'artifacts'}" + (f" for stage '{stage}'" if stage else ""),
                         hint="run a pipeline with a minhash_dedup stage (keep_signatures: true) into this run directory")
    if len(found) > 1:
        names = ", ".join(p.parent.name for p in found)
        raise InputError(f"several minhash_dedup stages in {run_dir}: {names}", hint="pass stage= one of their names")
    return found[0]


def minhash_sweep(run_dir: str | Path, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                  stage: str | None = None) -> pl.DataFrame:
    """What a ``minhash_dedup`` stage would remove at each threshold, from its cached signatures.

    Bands and rows are re-chosen per threshold by the same optimiser (and weights) as the
    stage; verification follows the stage's ``verify``. Only the banding, verification and
    components are recomputed; no text is read or hashed again.

    Parameters
    ----------
    run_dir : str or Path
        A run directory written by ``curate run``.
    thresholds : sequence of float
        Jaccard thresholds to evaluate.
    stage : str, optional
        The stage's name, when the pipeline has several ``minhash_dedup`` stages.

    Returns
    -------
    polars.DataFrame
        One row per threshold: ``threshold``, ``bands``, ``rows``, ``pairs`` (verified
        candidate edges), ``clusters`` (components of two or more rows), ``rows_removed``.
    """
    require("numba", "minhash")
    from curate.minhash.banding import optimal_bands
    from curate.minhash.clusters import cluster_signatures
    from curate.minhash.index import load_index

    _, signatures, spec, params = load_index(_artifact(Path(run_dir), stage))
    weights = tuple(params.get("weights", (0.5, 0.5)))
    records = []
    for threshold in thresholds:
        bands, rows = optimal_bands(float(threshold), spec.num_perm, weights)
        clustering = cluster_signatures(signatures, bands, rows, float(threshold), params.get("verify", True))
        records.append({"threshold": float(threshold), "bands": bands, "rows": rows, "pairs": clustering.edges.height,
                        "clusters": clustering.clusters, "rows_removed": clustering.rows_removed})
    schema = {"threshold": pl.Float64, "bands": pl.Int64, "rows": pl.Int64, "pairs": pl.Int64,
              "clusters": pl.Int64, "rows_removed": pl.Int64}
    return pl.DataFrame(records, schema=schema)
