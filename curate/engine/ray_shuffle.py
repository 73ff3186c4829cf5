"""Ray Data adapters of the ``shuffle`` stages, keyed by stage name.

Each adapter does the stage's row-local work in ``map_batches`` and its grouping as a Ray Data
group-by, calling the stage module's own public functions, and returns exactly what the stage's
``apply`` returns on the whole frame. Groups are keyed by a bucket of the stage's hash (a few per
block), and each bucket is grouped by the full hash with polars inside the task: the same
grouping, without a Python call per group.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from curate.engine.ray import POS, Cluster, collect, with_positions
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageResult

BUCKETS_PER_PARTITION = 8

Adapter = Callable[[Stage, pl.DataFrame, RunContext, Cluster], StageResult]


def _arrow(df: pl.DataFrame):
    return df.to_arrow(compat_level=pl.CompatLevel.oldest())


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
    return _arrow(df.select(ID, POS, *policy).with_columns(hashes, bucket))


def exact_group(batch, cfg):
    """The duplicates of one bucket: rows that are not their hash group's keeper (``exact_dedup.mark_keepers``)."""
    from curate.stages.exact_dedup import mark_keepers

    work = pl.from_arrow(batch).sort(POS).rename({POS: "_pos"})
    marked = mark_keepers(work, cfg)
    return _arrow(marked.filter(pl.col("_keeper") != pl.col(ID)).select(ID, "_pos", "_keeper", "_keeper_pos"))


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
}


# --- connected components over a large candidate-edge list -----------------------------


def spanning_forest(batch):
    """Replace one block's edges by a forest with the same connectivity: (node, smallest node of its component)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = pl.from_arrow(batch)
    nodes, index = np.unique(np.concatenate([edges["src"].to_numpy(), edges["dst"].to_numpy()]), return_inverse=True)
    src, dst = index[: edges.height], index[edges.height:]
    graph = coo_matrix((np.ones(edges.height, dtype=np.int8), (src, dst)), shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=False)
    roots = np.full(labels.max() + 1 if len(labels) else 0, len(nodes), dtype=np.int64)
    np.minimum.at(roots, labels, np.arange(len(nodes)))
    root = roots[labels]
    keep = root != np.arange(len(nodes))
    return _arrow(pl.DataFrame({"src": nodes[keep], "dst": nodes[root[keep]]}))


def reduce_edges(edges: pl.DataFrame, cluster: Cluster, limit: int) -> pl.DataFrame:
    """Shrink an edge list (``src``, ``dst`` integer node ids) to at most ``limit`` edges, when it is larger,
    without changing its connected components.

    Each round replaces every block's edges by a spanning forest of that block in ``map_batches``
    (at most one edge per node of the block), then halves the number of blocks, so components that
    span blocks meet in a later round; it stops when the edges fit on the driver or one block is left.
    """
    if edges.height <= limit:
        return edges
    ds = cluster.dataset(edges.select(pl.col("src").cast(pl.Int64), pl.col("dst").cast(pl.Int64)))
    blocks = ds.num_blocks()
    while True:
        ds = ds.map_batches(spanning_forest, batch_size=None, **cluster.map_options()).materialize()
        if ds.count() <= limit or blocks == 1:
            return collect(ds)
        blocks = max(1, blocks // 2)
        ds = ds.repartition(blocks)
