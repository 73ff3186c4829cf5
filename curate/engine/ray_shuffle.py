"""Ray Data adapters of the stages that group rows (exact, MinHash and semantic dedup), keyed by stage name.

Each adapter does the stage's row-local work in ``map_batches`` and its grouping as a Ray Data
group-by, calling the stage module's own public functions, and returns exactly what the stage's
``apply`` returns on the whole frame. Exact dedup groups by a bucket of the hash (a few per block),
and each bucket is grouped by the full hash with polars inside the task: the same grouping,
without a Python call per group.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from curate.engine.ray import POS, Cluster, collect, to_arrow, with_positions
from curate.engine.ray_minhash import minhash_dedup
from curate.engine.ray_semantic import semantic_dedup
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageResult

BUCKETS_PER_PARTITION = 8

Adapter = Callable[[Stage, pl.DataFrame, RunContext, Cluster], StageResult]


# --- exact dedup -----------------------------------------------------------------------


def exact_keys_batch(batch, cfg, buckets: int):
    """Hash each row's normalised text (``exact_dedup.text_hashes``) and give it a bucket of its hash."""
    from curate.stages.exact_dedup import text_hashes

    df = pl.from_arrow(batch)
    hashes = text_hashes(df[TEXT], cfg)
    if hashes.dtype == pl.UInt128:  # Arrow has no 128-bit integers: ship the decimal text
        hashes = hashes.cast(pl.String)
        low = hashes.str.tail(12).cast(pl.Int64)
    else:
        low = hashes
    bucket = (low % buckets).cast(pl.Int64).rename("_bucket")
    policy = [TEXT] if cfg.keep == "longest" else [cfg.keep_column] if cfg.keep == "max" else []
    return to_arrow(df.select(ID, POS, *policy).with_columns(hashes, bucket))


def exact_group(batch, cfg):
    """The duplicates of one bucket: rows that are not their hash group's keeper (``exact_dedup.mark_keepers``)."""
    from curate.stages.exact_dedup import mark_keepers

    work = pl.from_arrow(batch).sort(POS).rename({POS: "_pos"})
    marked = mark_keepers(work, cfg)
    return to_arrow(marked.filter(pl.col("_keeper") != pl.col(ID)).select(ID, "_pos", "_keeper", "_keeper_pos"))


def exact_dedup(stage: Stage, df: pl.DataFrame, ctx: RunContext, cluster: Cluster) -> StageResult:
    """Exact dedup as hash in ``map_batches``, then a group-by on the hash; keepers as the stage picks them."""
    cfg = stage.config
    if cfg.keep_column is not None and cfg.keep_column not in df.columns:
        return stage.apply(df, ctx)  # raises the stage's own error
    partitions = cluster.blocks(df.height)
    options = cluster.map_options()
    policy = [cfg.keep_column] if cfg.keep_column else []
    keys = cluster.dataset(with_positions(df.select(ID, TEXT, *policy))).map_batches(
        exact_keys_batch, fn_kwargs={"cfg": cfg, "buckets": partitions * BUCKETS_PER_PARTITION}, batch_size=None, **options)
    grouped = keys.groupby("_bucket", num_partitions=partitions).map_groups(exact_group, fn_kwargs={"cfg": cfg}, **options)
    dups = collect(grouped)
    dups = dups.sort("_pos") if dups.height else pl.DataFrame(schema={ID: pl.String, "_pos": pl.Int64, "_keeper": pl.String, "_keeper_pos": pl.Int64})
    ctx.progress(df.height, df.height)
    removed = make_ledger(dups[ID], stage.label, "exact_duplicate", 1.0, duplicate_of=dups["_keeper"], cluster_id=dups["_keeper_pos"])
    return StageResult(
        kept=df.filter(~pl.col(ID).is_in(dups[ID].implode())),
        removed=removed,
        stats={"duplicate_groups": dups["_keeper"].n_unique(), "bytes": int(df[TEXT].str.len_bytes().sum() or 0)},
    )


ADAPTERS: dict[str, Adapter] = {
    "exact_dedup": exact_dedup,
    "minhash_dedup": minhash_dedup,
    "semantic_dedup": semantic_dedup,
}

