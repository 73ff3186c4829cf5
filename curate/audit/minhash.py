"""Threshold sweep over a run's cached MinHash signatures (no re-hashing)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from curate.errors import InputError, require

DEFAULT_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def _artifact(run_dir: Path, stage: str | None) -> Path:
    """The signatures folder a ``minhash_dedup`` stage of the run declared with its threshold."""
    from curate.record import RunDir, read_record
    from curate.stages.minhash_dedup import ARTIFACT

    rd = RunDir(run_dir)
    found = [(rd.artifacts(row.index, row.stage) / cut.artifact, row.stage)
             for row in read_record(run_dir).stages if stage is None or row.stage == stage
             for cut in row.thresholds if cut.artifact == ARTIFACT]
    found = [item for item in found if item[0].is_dir()]
    if not found:
        raise InputError(f"no MinHash signatures under {run_dir / 'artifacts'}" + (f" for stage '{stage}'" if stage else ""),
                         hint="run a pipeline with a minhash_dedup stage (keep_signatures: true) into this run directory")
    if len(found) > 1:
        names = ", ".join(label for _, label in found)
        raise InputError(f"several minhash_dedup stages in {run_dir}: {names}", hint="pass stage= one of their names")
    return found[0][0]


def _layout_edges(artifact: Path, signatures, bands: int, rows: int) -> pl.DataFrame:
    """Candidate edges of one band layout with their estimated Jaccard, computed once and cached."""
    from curate.io.writers import write_parquet
    from curate.minhash.banding import candidate_edges
    from curate.minhash.clusters import pair_similarity

    path = artifact.parent / "sweep-edges" / f"b{bands}-r{rows}.parquet"
    if path.exists():
        return pl.read_parquet(path)
    edges = candidate_edges(signatures, bands, rows)
    edges = edges.with_columns(similarity=pair_similarity(signatures, edges["left"].to_numpy(), edges["right"].to_numpy()))
    write_parquet(edges, path)
    return edges


def minhash_sweep(run_dir: str | Path, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                  stage: str | None = None) -> pl.DataFrame:
    """What a ``minhash_dedup`` stage would remove at each threshold, from its cached signatures.

    Bands and rows are re-chosen per threshold by the same optimiser (and weights) as the
    stage; verification follows the stage's ``verify``. No text is read or hashed again, and
    the candidate edges of each band layout (with their estimated Jaccard) are cached beside
    the signatures, so a later sweep only filters edges and joins components.

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
    from curate.minhash.clusters import Clustering, connected_components
    from curate.minhash.index import load_index

    artifact = _artifact(Path(run_dir), stage)
    _, signatures, spec, params = load_index(artifact)
    weights = tuple(params.get("weights", (0.5, 0.5)))
    records = []
    for threshold in thresholds:
        bands, rows = optimal_bands(float(threshold), spec.num_perm, weights)
        edges = _layout_edges(artifact, signatures, bands, rows)
        if params.get("verify", True):
            edges = edges.filter(pl.col("similarity") >= float(threshold))
        labels = connected_components(len(signatures), edges["left"].to_numpy(), edges["right"].to_numpy())
        clustering = Clustering(candidates=edges.height, edges=edges, labels=labels)
        records.append({"threshold": float(threshold), "bands": bands, "rows": rows, "pairs": edges.height,
                        "clusters": clustering.clusters, "rows_removed": clustering.rows_removed})
    schema = {"threshold": pl.Float64, "bands": pl.Int64, "rows": pl.Int64, "pairs": pl.Int64,
              "clusters": pl.Int64, "rows_removed": pl.Int64}
    return pl.DataFrame(records, schema=schema)
