"""The audit views of a run, computed from its run directory: removed samples, clusters, score histograms.

Each function returns record models; the run record stores them under ``views`` and the HTML
page and the Jupyter audit objects draw them. Which stage scored a column, and where it cut,
comes from the record (each stage declares its thresholds), never from guessing config keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.record import RunDir, RunRecord
from curate.record.models import Cluster, ClusterRow, Example, FunnelRow, Histogram, SampleGroup, Views
from curate.schema import ID, TEXT
from curate.stages.base import Threshold

TEXT_CHARS = 280
SCORE_PREFIX = "q_"
"""Quality stages name their per-row score columns ``q_<rule>``."""


def _texts(rd: RunDir, ids: pl.Series) -> pl.DataFrame:
    """``id`` and ``text`` (cut to TEXT_CHARS) of the given ids, from the input checkpoint."""
    wanted = ids.drop_nulls().unique().implode()
    return (pl.scan_parquet(rd.input).select(ID, TEXT).filter(pl.col(ID).is_in(wanted))
            .with_columns(pl.col(TEXT).str.slice(0, TEXT_CHARS)).collect(engine="streaming"))  # a row group at a time


def _round(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, float) else value


def removed_samples(rd: RunDir, ledger: pl.DataFrame, per_reason: int = 5,
                    reason: str | None = None, stage: str | None = None) -> list[SampleGroup]:
    """Up to ``per_reason`` removed rows (ledger order) for each (stage, reason), with their text."""
    if reason is not None:
        ledger = ledger.filter(pl.col("reason") == reason)
    if stage is not None:
        ledger = ledger.filter(pl.col("stage") == stage)
    counts = ledger.group_by("stage", "reason", maintain_order=True).len()
    heads = [ledger.lazy().filter((pl.col("stage") == group["stage"]) & (pl.col("reason") == group["reason"]))
             .head(per_reason).collect() for group in counts.iter_rows(named=True)]
    texts = _texts(rd, pl.concat([h[ID] for h in heads])) if heads else None
    out = []
    for group, rows in zip(counts.iter_rows(named=True), heads, strict=True):
        rows = rows.join(texts, on=ID, how="left", maintain_order="left")
        examples = [Example(**{k: _round(r[k]) for k in (ID, TEXT, "score", "duplicate_of", "detail")})
                    for r in rows.iter_rows(named=True)]
        out.append(SampleGroup(stage=group["stage"], reason=group["reason"], rows=group["len"], examples=examples))
    return out


def with_kept_row(dups: pl.DataFrame) -> pl.DataFrame:
    """Ledger rows with a ``kept`` column: the row their chain of ``duplicate_of`` ends at.

    A stage may name as ``duplicate_of`` a row it removed too (SemDeDup names the neighbour that
    caused the removal); following the chain within the stage reaches the row that stayed. Each row's
    next link (a ledger row of the same stage; a row is removed once, so ids are unique) is found by
    binary search over the sorted ids, then the chains are followed on row positions (a cycle, which
    no stage makes, is followed for at most as many steps as there are rows).
    """
    ids, stages, targets = dups[ID], dups["stage"], dups["duplicate_of"]
    order = ids.arg_sort()
    found = ids.gather(order).search_sorted(targets).clip(0, max(dups.height - 1, 0))
    position = order.gather(found)
    same = (ids.gather(position) == targets) & (stages.gather(position) == stages)
    following = np.where(same.fill_null(False).to_numpy(), position.cast(pl.Int64).to_numpy(), -1)
    end = np.arange(dups.height)
    for _ in range(dups.height):
        step = following[end]
        moving = step >= 0
        if not moving.any():
            break
        end[moving] = step[moving]
    return dups.with_columns(kept=dups["duplicate_of"].gather(end))


def duplicate_clusters(rd: RunDir, ledger: pl.DataFrame, top: int = 10, shown: int = 5,
                       stage: str | None = None) -> list[Cluster]:
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
        out.append(Cluster(
            stage=group["stage"], cluster_id=group["cluster_id"], size=group["size"],
            max_similarity=_round(group["max_similarity"]), min_similarity=_round(group["min_similarity"]),
            kept=ClusterRow(id=group["kept"], text=text_of.get(group["kept"])),
            removed=[ClusterRow(id=r[ID], text=text_of.get(r[ID]), similarity=_round(r["score"]),
                                duplicate_of=r["duplicate_of"]) for r in rows.iter_rows(named=True)],
        ))
    return out


def checkpoint(rd: RunDir, row: FunnelRow) -> Path:
    """The kept-rows checkpoint of a stage's funnel row."""
    return rd.stage_file(row.index, row.stage)


def _checkpoints(rd: RunDir, record: RunRecord) -> list[tuple[FunnelRow, Path]]:
    """(funnel row, path) of every stage checkpoint that exists, in pipeline order."""
    return [(row, checkpoint(rd, row)) for row in record.stages if checkpoint(rd, row).exists()]


def declared(record: RunRecord, column: str, stage: str | None = None) -> list[Threshold]:
    """The thresholds stages declared on ``column`` (of the stage named ``stage`` only, when given)."""
    return [t for row in record.stages if stage is None or row.stage == stage for t in row.thresholds
            if t.column == column]


def score_columns(rd: RunDir, record: RunRecord) -> list[str]:
    """Numeric per-row score columns in the stage checkpoints or curated.parquet: the quality
    scores (``q_*``) and every column a stage declared a threshold on."""
    wanted = {t.column for row in record.stages for t in row.thresholds}
    found: list[str] = []
    paths = [p for _, p in _checkpoints(rd, record)] + ([rd.curated] if rd.curated.exists() else [])
    for path in paths:
        for name, dtype in pl.read_parquet_schema(path).items():
            if (name.startswith(SCORE_PREFIX) or name in wanted) and dtype.is_numeric() and name not in found:
                found.append(name)
    return found


def score_values(rd: RunDir, record: RunRecord, ledger: pl.DataFrame, column: str) -> tuple[str | None, pl.DataFrame]:
    """Every value of a score column across the rows the scoring stage saw.

    Returns the scoring stage's label and a frame ``id, value, removed``: the stage's kept rows
    (its checkpoint) with their column value, plus the rows it removed under a threshold it
    declared on the column (the ledger's score: the value that broke it).
    """
    for row, path in _checkpoints(rd, record):
        if column in pl.read_parquet_schema(path):
            kept = pl.read_parquet(path, columns=[ID, column]).select(ID, value=pl.col(column).cast(pl.Float64))
            reasons = [t.reason for t in row.thresholds if t.column == column]
            gone = ledger.filter((pl.col("stage") == row.stage) & pl.col("reason").is_in(reasons))
            gone = gone.select(ID, value=pl.col("score"))
            return row.stage, pl.concat([kept.with_columns(removed=pl.lit(False)), gone.with_columns(removed=pl.lit(True))])
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


def score_histogram(rd: RunDir, record: RunRecord, ledger: pl.DataFrame, column: str, bins: int = 30,
                    thresholds: list[Threshold] | None = None) -> Histogram:
    """A score column's histogram (kept vs removed) with the scoring stage's declared thresholds
    (or ``thresholds``, to draw others)."""
    label, values = score_values(rd, record, ledger, column)
    cuts = declared(record, column, label) if thresholds is None else thresholds
    return Histogram(column=column, stage=label, **histogram(values, bins), thresholds=cuts)


def build_views(rd: RunDir, record: RunRecord, ledger: pl.DataFrame | None = None) -> Views:
    """All the audit views the record stores under ``views`` (``record`` gives the stages and their
    thresholds; ``ledger`` is removed.parquet's rows, read from it when not given)."""
    ledger = pl.read_parquet(rd.removed) if ledger is None else ledger
    return Views(samples=removed_samples(rd, ledger), clusters=duplicate_clusters(rd, ledger),
                 scores=[score_histogram(rd, record, ledger, column) for column in score_columns(rd, record)])
