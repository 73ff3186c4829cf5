"""MinHash dedup on Ray Data: signatures in ``map_batches``, banding as a group-by on (band, band
hash) emitting candidate edges, verification as a group-by on the edge, connected components on
the driver (after reducing a large edge list to spanning forests in Ray).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.engine.ray import POS, Cluster, collect, ray_module, to_arrow, with_positions
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageResult

SIGNATURE = "__curate_signature"
BUCKET = "__curate_bucket"
BUCKETS_PER_PARTITION = 8


def signature_batch(batch, spec, batch_size: int):
    """MinHash signatures of one block (``minhash.signature.minhash_signatures``), one array per row."""
    from curate.minhash.signature import minhash_signatures

    df = pl.from_arrow(batch)
    signatures = minhash_signatures(df[TEXT], spec, batch_size)
    return to_arrow(pl.DataFrame({POS: df[POS], SIGNATURE: signatures}))


def band_batch(batch, bands: int, rows: int, buckets: int):
    """One (doc, band, band_hash) row per document and band (``minhash.banding.band_hashes``), with a bucket."""
    from curate.minhash.banding import BAND, BAND_HASH, DOC, band_hashes

    df = pl.from_arrow(batch)
    signatures = np.ascontiguousarray(df[SIGNATURE].to_numpy(), dtype=np.uint32)
    hashes = band_hashes(signatures, bands, rows).ravel()
    return to_arrow(pl.DataFrame({
        DOC: np.repeat(df[POS].to_numpy(), bands),
        BAND: np.tile(np.arange(bands, dtype=np.int32), df.height),
        BAND_HASH: hashes,
        BUCKET: (hashes % np.uint64(buckets)).astype(np.int64),
    }))


def band_group(batch, buckets: int):
    """Candidate edges of one bucket of (band, band hash) keys (``minhash.banding.band_edges``), bucketed by edge."""
    from curate.minhash.banding import BAND, BAND_HASH, DOC, band_edges

    edges = band_edges(pl.from_arrow(batch).select(DOC, BAND, BAND_HASH))
    return to_arrow(edges.with_columns((pl.col("left") % buckets).alias(BUCKET)))


def verify_group(batch, signatures, threshold: float, verify: bool):
    """Distinct candidate edges of one bucket with their estimated Jaccard (``minhash.clusters.pair_similarity``);
    ``candidate`` marks every distinct edge, ``kept`` those that pass verification."""
    from curate.minhash.clusters import pair_similarity

    table = ray_module().get(signatures)
    edges = pl.from_arrow(batch).select("left", "right").unique()
    similarity = pair_similarity(table, edges["left"].to_numpy(), edges["right"].to_numpy())
    kept = similarity >= threshold if verify else np.ones(len(similarity), dtype=bool)
    return to_arrow(edges.with_columns(similarity=similarity, kept=kept))


def passed(batch):
    """The edges that passed verification."""
    return to_arrow(pl.from_arrow(batch).filter("kept"))


def spanning_forest(batch):
    """Replace one block's edges by a forest with the same connectivity: (node, smallest node of its component)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = pl.from_arrow(batch)
    nodes, index = np.unique(np.concatenate([edges["left"].to_numpy(), edges["right"].to_numpy()]), return_inverse=True)
    graph = coo_matrix((np.ones(edges.height, dtype=np.int8), (index[: edges.height], index[edges.height:])),
                       shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=False)
    roots = np.full(labels.max() + 1 if len(labels) else 0, len(nodes), dtype=np.int64)
    np.minimum.at(roots, labels, np.arange(len(nodes)))
    root = roots[labels]
    keep = root != np.arange(len(nodes))
    return to_arrow(pl.DataFrame({"left": nodes[keep], "right": nodes[root[keep]]}))


def reduce_edges(ds, cluster: Cluster, limit: int) -> pl.DataFrame:
    """The edges of ``ds`` (``left``, ``right`` integer node ids) on the driver, shrunk in Ray to at most
    ``limit`` edges first when there are more, without changing the connected components.

    Each round replaces every block's edges by a spanning forest of that block in ``map_batches``
    (at most one edge per node of the block), then halves the number of blocks, so components that
    span blocks meet in a later round; it stops when the edges fit on the driver or one block is left.
    """
    ds = ds.select_columns(["left", "right"]).materialize()
    blocks = ds.num_blocks()
    while ds.count() > limit and blocks > 1:
        blocks = max(1, blocks // 2)
        ds = ds.map_batches(spanning_forest, batch_size=None, **cluster.map_options()).repartition(blocks).materialize()
    if ds.count() > limit:
        ds = ds.map_batches(spanning_forest, batch_size=None, **cluster.map_options()).materialize()
    edges = collect(ds)
    return edges if edges.height else pl.DataFrame(schema={"left": pl.Int64, "right": pl.Int64})


def minhash_dedup(stage: Stage, df: pl.DataFrame, ctx: RunContext, cluster: Cluster) -> StageResult:
    """MinHash dedup with the work on Ray; the ledger, keepers and artefact are the stage's own."""
    cfg = stage.config
    if cfg.index.save is not None or cfg.index.against is not None:
        return stage.apply(df, ctx)  # reading / writing an index is driver-side file I/O
    from curate.errors import require

    require("numba", "minhash")
    from curate.minhash.banding import optimal_bands
    from curate.minhash.clusters import connected_components, pair_similarity
    from curate.minhash.index import save_index
    from curate.minhash.signature import SignatureSpec
    from curate.stages.minhash_dedup import ARTIFACT

    ray = ray_module()
    n = df.height
    spec = SignatureSpec(num_perm=cfg.num_perm, seed=ctx.seed if cfg.seed is None else cfg.seed,
                         ngram=cfg.ngram, unit=cfg.unit, hash=cfg.hash, normalize=cfg.normalize.model_dump())
    bands, rows = (cfg.bands, cfg.rows) if cfg.bands else optimal_bands(cfg.threshold, cfg.num_perm, cfg.weights)
    partitions = cluster.blocks(n)
    options = cluster.map_options()
    signed = cluster.dataset(with_positions(df.select(TEXT))).map_batches(
        signature_batch, fn_kwargs={"spec": spec, "batch_size": cfg.batch_size}, batch_size=None, **options).materialize()
    signatures = np.ascontiguousarray(collect(signed).sort(POS)[SIGNATURE].to_numpy(), dtype=np.uint32)
    ctx.progress(n, n)
    candidates = (signed.map_batches(band_batch, fn_kwargs={"bands": bands, "rows": rows,
                                                            "buckets": partitions * BUCKETS_PER_PARTITION},
                                     batch_size=None, **options)
                  .groupby(BUCKET, num_partitions=partitions)
                  .map_groups(band_group, fn_kwargs={"buckets": partitions * BUCKETS_PER_PARTITION}, **options)
                  .groupby(BUCKET, num_partitions=partitions)
                  .map_groups(verify_group, fn_kwargs={"signatures": ray.put(signatures), "threshold": cfg.threshold,
                                                       "verify": cfg.verify}, **options)
                  .materialize())
    verified = candidates.map_batches(passed, batch_size=None, **options).materialize()
    edges = reduce_edges(verified, cluster, cluster.settings.max_driver_edges)
    labels = connected_components(n, edges["left"].to_numpy(), edges["right"].to_numpy())
    params = {"threshold": cfg.threshold, "bands": bands, "rows": rows, "verify": cfg.verify, "weights": list(cfg.weights)}
    if cfg.keep_signatures and (artifact := ctx.artifact_path(ARTIFACT)) is not None:
        save_index(artifact, df[ID], signatures, spec, **params)
    keeper = stage._keepers(df, labels, n)
    is_dup = keeper != np.arange(n)
    dup_rows = np.flatnonzero(is_dup)
    dup_keepers = keeper[dup_rows]
    components, first_rows = np.unique(labels, return_index=True)
    cluster_start = np.zeros(int(labels.max(initial=-1)) + 1, dtype=np.int64)
    cluster_start[components] = first_rows
    removed = make_ledger(df[ID].gather(dup_rows), stage.label, "near_duplicate",
                          score=pl.Series(pair_similarity(signatures, dup_rows, dup_keepers)),
                          duplicate_of=df[ID].cast(pl.String).gather(dup_keepers),
                          cluster_id=pl.Series(cluster_start[labels[dup_rows]]))
    return StageResult(kept=df.filter(pl.Series(~is_dup)), removed=removed, stats={
        "bands": bands, "rows": rows, "candidate_pairs": candidates.count(), "verified_pairs": verified.count(),
        "clusters": int(len(np.unique(dup_keepers))), "bytes": int(df[TEXT].str.len_bytes().sum() or 0),
    })
