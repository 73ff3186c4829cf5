"""The audit views of a run, computed from its run directory: removed samples, clusters, score histograms.

Each function returns plain JSON-ready data; report.json stores it under ``views`` and the HTML
page and the Jupyter audit objects draw it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.engine.rundir import RunDir
from curate.quality.rules import BY_NAME
from curate.report.adapt import is_score_column, rule_of, score_threshold
from curate.schema import ID, TEXT

TEXT_CHARS = 280


def _texts(rd: RunDir, ids: pl.Series) -> pl.DataFrame:
    """``id`` and ``text`` (cut to TEXT_CHARS) of the given ids, from the input checkpoint."""
    wanted = ids.drop_nulls().unique().implode()
    return (pl.scan_parquet(rd.input).select(ID, TEXT).filter(pl.col(ID).is_in(wanted))
            .with_columns(pl.col(TEXT).str.slice(0, TEXT_CHARS)).collect())


def _round(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def removed_samples(rd: RunDir, ledger: pl.DataFrame, per_reason: int = 5,
                    reason: str | None = None, stage: str | None = None) -> list[dict[str, Any]]:
    """Up to ``per_reason`` removed rows (ledger order) for each (stage, reason), with their text."""
    if reason is not None:
        ledger = ledger.filter(pl.col("reason") == reason)
    if stage is not None:
        ledger = ledger.filter(pl.col("stage") == stage)
    heads = ledger.with_columns(_n=pl.int_range(pl.len()).over("stage", "reason")).filter(pl.col("_n") < per_reason)
    heads = heads.join(_texts(rd, heads[ID]), on=ID, how="left")
    counts = ledger.group_by("stage", "reason", maintain_order=True).len()
    out = []
    for group in counts.iter_rows(named=True):
        rows = heads.filter((pl.col("stage") == group["stage"]) & (pl.col("reason") == group["reason"]))
        examples = [{k: _round(r[k]) for k in (ID, TEXT, "score", "duplicate_of", "detail")}
                    for r in rows.iter_rows(named=True)]
        out.append({"stage": group["stage"], "reason": group["reason"], "rows": group["len"], "examples": examples})
    return out


def with_kept_row(dups: pl.DataFrame) -> pl.DataFrame:
    """Ledger rows with a ``kept`` column: the row their chain of ``duplicate_of`` ends at.

    A stage may name as ``duplicate_of`` a row it removed too (SemDeDup names the neighbour that
    caused the removal); following the chain within the stage reaches the row that stayed.
    """
    links = dups.select("stage", pl.col(ID).alias("kept"), pl.col("duplicate_of").alias("_next"))
    out = dups.with_columns(kept=pl.col("duplicate_of"))
    for _ in range(dups.height):
        step = out.join(links, on=["stage", "kept"], how="left")
        if step["_next"].null_count() == step.height:
            break
        out = step.with_columns(kept=pl.coalesce("_next", "kept")).drop("_next")
    return out


def duplicate_clusters(rd: RunDir, ledger: pl.DataFrame, top: int = 10, shown: int = 5,
                       stage: str | None = None) -> list[dict[str, Any]]:
    """The ``top`` largest duplicate clusters per stage: the kept row beside the rows removed as its copies.

    A cluster is the set of ledger rows of one stage whose ``duplicate_of`` chain ends at the same
    kept row, plus that row; each removed row shows the row it matched (``duplicate_of``) and the
    ledger's score (its similarity to that row). Only ``shown`` removed rows carry their text.
    """
    dups = ledger.filter(pl.col("duplicate_of").is_not_null())
    if stage is not None:
        dups = dups.filter(pl.col("stage") == stage)
    if dups.height == 0:
        return []
    dups = with_kept_row(dups)
    groups = (dups.group_by("stage", "kept", maintain_order=True)
              .agg(size=pl.len() + 1, cluster_id=pl.col("cluster_id").first(),
                   max_similarity=pl.col("score").max(), min_similarity=pl.col("score").min())
              .sort(["stage", "size", "kept"], descending=[False, True, False])
              .with_columns(_rank=pl.int_range(pl.len()).over("stage")).filter(pl.col("_rank") < top))
    members = (dups.join(groups.select("stage", "kept"), on=["stage", "kept"])
               .sort("score", ID, descending=[True, False], nulls_last=True)
               .with_columns(_n=pl.int_range(pl.len()).over("stage", "kept")).filter(pl.col("_n") < shown))
    texts = _texts(rd, pl.concat([members[ID], groups["kept"]]))
    text_of = dict(zip(texts[ID].to_list(), texts[TEXT].to_list(), strict=True))
    out = []
    for group in groups.iter_rows(named=True):
        rows = members.filter((pl.col("stage") == group["stage"]) & (pl.col("kept") == group["kept"]))
        out.append({
            "stage": group["stage"], "cluster_id": group["cluster_id"], "size": group["size"],
            "max_similarity": _round(group["max_similarity"]), "min_similarity": _round(group["min_similarity"]),
            "kept": {ID: group["kept"], TEXT: text_of.get(group["kept"])},
            "removed": [{ID: r[ID], TEXT: text_of.get(r[ID]), "similarity": _round(r["score"]),
                         "duplicate_of": r["duplicate_of"]} for r in rows.iter_rows(named=True)],
        })
    return out


def stage_list(rd: RunDir) -> list[tuple[int, str, dict[str, Any]]]:
    """``(index, label, config)`` of every stage in manifest.json, in pipeline order."""
    if not rd.manifest.exists():
        return []
    stages = json.loads(rd.manifest.read_text()).get("config", {}).get("stages", [])
    return [(i, c.get("name") or c.get("type"), c) for i, c in enumerate(stages, start=1)]


def _checkpoints(rd: RunDir) -> list[tuple[str, Path]]:
    """(label, path) of every stage checkpoint that exists, in pipeline order."""
    paths = [(label, rd.stage_base(i, label).with_suffix(".parquet")) for i, label, _ in stage_list(rd)]
    return [(label, path) for label, path in paths if path.exists()]


def score_columns(rd: RunDir) -> list[str]:
    """Numeric ``q_*`` score columns found in the stage checkpoints or curated.parquet."""
    found: list[str] = []
    paths = [p for _, p in _checkpoints(rd)] + ([rd.curated] if rd.curated.exists() else [])
    for path in paths:
        for name, dtype in pl.read_parquet_schema(path).items():
            if is_score_column(name) and dtype.is_numeric() and name not in found:
                found.append(name)
    return found


def score_values(rd: RunDir, ledger: pl.DataFrame, column: str) -> tuple[str | None, pl.DataFrame]:
    """Every value of a score column across the rows the scoring stage saw.

    Returns the scoring stage's label and a frame ``id, value, removed``: the stage's kept rows
    (its checkpoint) with their column value, plus the rows it removed for the column's rule
    (the ledger's score, the value that broke the rule).
    """
    for label, path in _checkpoints(rd):
        if column in pl.read_parquet_schema(path):
            kept = pl.read_parquet(path, columns=[ID, column]).select(ID, value=pl.col(column).cast(pl.Float64))
            of_stage = ledger.filter(pl.col("stage") == label)
            reasons = of_stage["reason"].unique().to_list()
            rule = rule_of(column)
            match = [r for r in reasons if r in (rule, column) or getattr(BY_NAME.get(r), "column", None) == column] \
                or (reasons if len(reasons) == 1 else [])
            gone = of_stage.filter(pl.col("reason").is_in(match)).select(ID, value=pl.col("score"))
            return label, pl.concat([kept.with_columns(removed=pl.lit(False)), gone.with_columns(removed=pl.lit(True))])
    if rd.curated.exists() and column in pl.read_parquet_schema(rd.curated):
        kept = pl.read_parquet(rd.curated, columns=[ID, column])
        return None, kept.select(ID, value=pl.col(column).cast(pl.Float64), removed=pl.lit(False))
    return None, pl.DataFrame(schema={ID: pl.String, "value": pl.Float64, "removed": pl.Boolean})


def histogram(values: pl.DataFrame, bins: int = 30) -> dict[str, Any]:
    """Counts of kept and removed values in ``bins`` equal-width bins over their range."""
    data = values.filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
    if data.height == 0:
        return {"edges": [], "kept": [], "removed": [], "rows": 0}
    array = data["value"].to_numpy()
    low, high = float(array.min()), float(array.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    removed = data["removed"].to_numpy()
    kept_counts = np.histogram(array[~removed], edges)[0]
    removed_counts = np.histogram(array[removed], edges)[0]
    return {"edges": [round(float(e), 6) for e in edges], "kept": kept_counts.tolist(),
            "removed": removed_counts.tolist(), "rows": int(data.height)}


def score_histogram(rd: RunDir, ledger: pl.DataFrame, column: str, bins: int = 30,
                    threshold: float | None = None, side: str = "below") -> dict[str, Any]:
    """A score column's histogram (kept vs removed) with the stage's threshold, when known."""
    label, values = score_values(rd, ledger, column)
    configs = {label: config for _, label, config in stage_list(rd)}
    found = score_threshold(configs.get(label), column) if threshold is None else (threshold, side)
    return {"column": column, "stage": label, **histogram(values, bins),
            "threshold": found[0] if found else None, "side": found[1] if found else None}


def build_views(run_dir: str | Path) -> dict[str, Any]:
    """All the audit views report.json stores under ``views``."""
    rd = RunDir(Path(run_dir))
    ledger = pl.read_parquet(rd.removed)
    return {
        "samples": removed_samples(rd, ledger),
        "clusters": duplicate_clusters(rd, ledger),
        "scores": [score_histogram(rd, ledger, column) for column in score_columns(rd)],
    }
