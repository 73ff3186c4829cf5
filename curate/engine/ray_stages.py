"""Stages on Ray Data by the kind they declare, run from their public phases (no stage is named here).

* ``map``: :meth:`Stage.apply` on each block in ``map_batches``; kept rows, ledger rows, stats and
  the block's Parquet artefacts come back in one table per block and are put back in input order,
  the stats combined with :meth:`Stage.combine_stats`.
* ``shuffle`` (:class:`~curate.stages.base.KeyedStage`): ``fit`` on the driver; ``prepare`` and
  ``keys`` in ``map_batches``; ``group`` in a Ray Data group-by on a bucket of the key (a few
  buckets per partition, so one call groups many keys with polars instead of one call per key);
  ``finish`` on the driver.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import polars as pl

from curate.engine.ray import Cluster, collect, to_arrow, with_positions
from curate.io.writers import write_parquet
from curate.schema import ID, LEDGER_SCHEMA, empty_ledger
from curate.stages.base import KEY, POSITION, KeyedStage, RunContext, Stage, StageResult

PART = "__curate_part"
STATS = "__curate_stats"
ARTIFACT = "__curate_artifact"
CONTENT = "__curate_content"
BUCKET = "__curate_bucket"
LEDGER_PREFIX = "__curate_ledger_"
BUCKETS_PER_PARTITION = 8


def block_context(seed: int, cache_dir: str, artifacts_dir: Path | None = None) -> RunContext:
    """The run context of a phase running on a Ray worker: the seed and the cache (and, for a map
    stage, a scratch folder for the block's artefacts)."""
    return RunContext(seed=seed, cache_dir=Path(cache_dir), artifacts_dir=artifacts_dir)


# --- map stages ------------------------------------------------------------------------


def map_block(batch, stage: Stage, seed: int, cache_dir: str, artifacts: bool):
    """Run a row-local stage on one block; return kept rows, ledger rows, stats and the block's
    Parquet artefacts (as bytes, so the driver can gather them from any node) in one table."""
    df = pl.from_arrow(batch)
    positions = df.select(ID, POSITION)
    first = df[POSITION].min()
    with tempfile.TemporaryDirectory() as folder:
        result = stage.apply(df.drop(POSITION), block_context(seed, cache_dir, Path(folder) if artifacts else None))
        files = sorted(p for p in Path(folder).glob("*.parquet") if p.is_file())
        written = pl.DataFrame({PART: "artifact", POSITION: first, ARTIFACT: [p.name for p in files],
                                CONTENT: [p.read_bytes() for p in files]},
                               schema_overrides={POSITION: pl.Int64, CONTENT: pl.Binary})
    kept = result.kept.join(positions, on=ID, how="left", maintain_order="left").with_columns(pl.lit("kept").alias(PART))
    removed = (result.removed.select(list(LEDGER_SCHEMA)).rename(lambda c: LEDGER_PREFIX + c)
               .join(positions, left_on=LEDGER_PREFIX + ID, right_on=ID, how="left", maintain_order="left")
               .with_columns(pl.lit("removed").alias(PART)))
    stats = pl.DataFrame({PART: ["stats"], STATS: [json.dumps(result.stats, default=str)]})
    return to_arrow(pl.concat([kept, removed, stats, written], how="diagonal_relaxed"))


def run_map_stage(stage: Stage, df: pl.DataFrame, ctx: RunContext, cluster: Cluster) -> StageResult:
    """A ``map`` stage as ``map_batches`` over blocks; outputs and Parquet artefacts concatenated in input order."""
    ds = cluster.dataset(with_positions(df)).map_batches(
        map_block, fn_kwargs={"stage": stage, "seed": ctx.seed, "cache_dir": str(ctx.cache_dir),
                              "artifacts": ctx.artifacts_dir is not None},
        batch_size=None, **cluster.map_options())
    out = collect(ds).sort(POSITION, maintain_order=True)
    parts = out[PART]
    kept_columns = [c for c in out.columns if not c.startswith("__curate_")]
    kept = out.filter(parts == "kept").select(kept_columns)
    removed = out.filter(parts == "removed").select(
        pl.col(LEDGER_PREFIX + c).cast(dtype).alias(c) for c, dtype in LEDGER_SCHEMA.items())
    stats = stage.combine_stats([json.loads(s) for s in out.filter(parts == "stats")[STATS]])
    written = out.filter(parts == "artifact")
    for name in written[ARTIFACT].unique(maintain_order=True):
        blocks = written.filter(pl.col(ARTIFACT) == name)[CONTENT]
        write_parquet(pl.concat([pl.read_parquet(io.BytesIO(b)) for b in blocks], how="vertical_relaxed"), ctx.artifact_path(name))
    ctx.progress(df.height, df.height)
    return StageResult(kept=kept, removed=removed if removed.height else empty_ledger(), stats=stats)


# --- keyed stages ----------------------------------------------------------------------


def prepare_block(batch, stage: KeyedStage, seed: int, cache_dir: str):
    """``stage.prepare`` on one block."""
    return to_arrow(stage.prepare(pl.from_arrow(batch), block_context(seed, cache_dir)))


def keys_block(batch, stage: KeyedStage, seed: int, cache_dir: str, buckets: int):
    """``stage.keys`` on one block, each keyed row given a bucket of its key."""
    keyed = stage.keys(pl.from_arrow(batch), block_context(seed, cache_dir))
    return to_arrow(keyed.with_columns((pl.col(KEY).hash(seed=0) % buckets).cast(pl.Int64).alias(BUCKET)))


def group_block(batch, stage: KeyedStage):
    """``stage.group`` on every keyed row of one bucket (whole keys)."""
    return to_arrow(stage.group(pl.from_arrow(batch).drop(BUCKET)))


def has_prepare(stage: KeyedStage) -> bool:
    """Whether the stage adds per-row columns in ``prepare`` (else the phase is skipped)."""
    return type(stage).prepare is not KeyedStage.prepare


def run_keyed_stage(stage: KeyedStage, df: pl.DataFrame, ctx: RunContext, cluster: Cluster) -> StageResult:
    """A keyed stage: ``fit`` here, ``prepare`` and ``keys`` in ``map_batches``, ``group`` in a group-by on
    a bucket of the key, ``finish`` here on the prepared rows (input order) and every decision."""
    frame = stage.fit(df, ctx)
    positioned = with_positions(frame)
    options = cluster.map_options()
    worker = {"stage": stage, "seed": ctx.seed, "cache_dir": str(ctx.cache_dir)}
    empty = stage.prepare(positioned.head(0), ctx.for_blocks())
    ds = cluster.dataset(positioned)
    if has_prepare(stage):
        ds = ds.map_batches(prepare_block, fn_kwargs=worker, batch_size=None, **options).materialize()
        added = [c for c in empty.columns if c not in positioned.columns]
        columns = collect(ds.select_columns([POSITION, *added])).sort(POSITION)
        frame = frame.hstack(columns.select(added))
    partitions = cluster.blocks(frame.height)
    keyed = ds.map_batches(keys_block, fn_kwargs={**worker, "buckets": partitions * BUCKETS_PER_PARTITION},
                           batch_size=None, **options).materialize()
    decisions = stage.group(stage.keys(empty, ctx.for_blocks()))  # the decisions' columns, when there are none
    if keyed.count():
        grouped = keyed.groupby(BUCKET, num_partitions=partitions).map_groups(group_block, fn_kwargs={"stage": stage},
                                                                             **options)
        decisions = pl.concat([decisions, collect(grouped)], how="diagonal_relaxed")
    return stage.finish(frame, decisions, ctx)
